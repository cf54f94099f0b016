//! The budgeted string functions against LuaJIT's built-ins, their errors and their limits.

use super::*;

const BUDGET: u64 = 100_000;

/// A VM with the budgeted functions installed and the built-ins kept as `native`.
fn vm() -> Lua {
    let lua = Lua::new();
    lua.load("native = {} for k, v in pairs(string) do native[k] = v end")
        .exec()
        .unwrap();
    install(&lua, &lua.globals().get("string").unwrap(), BUDGET).unwrap();
    // Renders every result (or the error) of a call, to compare with expectations.
    lua.load(
        r#"
            function show(...)
              local out = {}
              for i = 1, select('#', ...) do
                local v = select(i, ...)
                out[i] = type(v) == "string" and ("%q"):format(v) or tostring(v)
              end
              return table.concat(out, ", ")
            end
            function try(f, ...) return show(pcall(f, ...)) end
            "#,
    )
    .exec()
    .unwrap();
    lua
}

fn eval(lua: &Lua, code: &str) -> String {
    lua.load(code)
        .set_name("=test")
        .eval::<String>()
        .unwrap_or_else(|e| panic!("{code}: {e}"))
}

#[test]
fn find() {
    let lua = vm();
    let cases = [
        (r#"try(string.find, "hello", "l")"#, r#"true, 3, 3"#),
        (r#"try(string.find, "hello", "l+")"#, r#"true, 3, 4"#),
        (
            r#"try(string.find, "hello", "(l)(l)")"#,
            r#"true, 3, 4, "l", "l""#,
        ),
        (
            r#"try(string.find, "hello", "()ll()")"#,
            r#"true, 3, 4, 3, 5"#,
        ),
        (r#"try(string.find, "hello", "x")"#, r#"true, nil"#),
        (r#"try(string.find, "hello", "l", 4)"#, r#"true, 4, 4"#),
        (r#"try(string.find, "hello", "l", -2)"#, r#"true, 4, 4"#),
        (r#"try(string.find, "hello", "h", -10)"#, r#"true, 1, 1"#),
        (r#"try(string.find, "hello", "h", 0)"#, r#"true, 1, 1"#),
        (r#"try(string.find, "hello", "", 6)"#, r#"true, 6, 5"#),
        (r#"try(string.find, "hello", "", 7)"#, r#"true, nil"#),
        (r#"try(string.find, "hello", "l", 3.9)"#, r#"true, 3, 3"#),
        (r#"try(string.find, "hello", "l", "4")"#, r#"true, 4, 4"#),
        (r#"try(string.find, "a.c", ".", 1, true)"#, r#"true, 2, 2"#),
        (r#"try(string.find, "a+b", "a+b")"#, r#"true, nil"#),
        (
            r#"try(string.find, "a+b", "a+b", 1, true)"#,
            r#"true, 1, 3"#,
        ),
        (r#"try(string.find, "a(b)", "(b)", 1, 0)"#, r#"true, 2, 4"#),
        (
            r#"try(string.find, "abc", "(b)", 1, false)"#,
            r#"true, 2, 2, "b""#,
        ),
        (r#"try(string.find, "abc", "b)")"#, r#"true, nil"#),
        (r#"try(string.find, "a(b)c", "b)")"#, r#"true, 3, 4"#),
        (r#"try(string.find, "aaa", "^a", 2)"#, r#"true, 2, 2"#),
        (r#"try(string.find, "baa", "^a")"#, r#"true, nil"#),
        (r#"try(string.find, 12345, 34)"#, r#"true, 3, 4"#),
        (r#"try(string.find, 1.5, "%.")"#, r#"true, 2, 2"#),
        (r#"try(string.find, "a\0b", "\0")"#, r#"true, 2, 2"#),
        (r#"try(string.find, "a\0b", "%z")"#, r#"true, 2, 2"#),
        (r#"show(("abc"):find("b"))"#, r#"2, 2"#),
        (r#"show(("a.b"):find(".", 1, true))"#, r#"2, 2"#),
    ];
    for (code, expected) in cases {
        assert_eq!(eval(&lua, &format!("return {code}")), expected, "{code}");
    }
}

#[test]
fn match_() {
    let lua = vm();
    let cases = [
        (
            r#"try(string.match, "key = value", "(%w+)%s*=%s*(%w+)")"#,
            r#"true, "key", "value""#,
        ),
        (
            r#"try(string.match, "hello world", "%w+")"#,
            r#"true, "hello""#,
        ),
        (
            r#"try(string.match, "hello world", "%w+", 6)"#,
            r#"true, "world""#,
        ),
        (
            r#"try(string.match, "hello world", "%w+", -3)"#,
            r#"true, "rld""#,
        ),
        (r#"try(string.match, "hello", "()ll()")"#, r#"true, 3, 5"#),
        (r#"try(string.match, "hello", "x")"#, r#"true, nil"#),
        (r#"try(string.match, "hello", "l", 10)"#, r#"true, nil"#),
        (r#"try(string.match, "a+b", "a+b")"#, r#"true, nil"#),
        (
            r#"try(string.match, "THE (quick) fox", "%b()")"#,
            r#"true, "(quick)""#,
        ),
        (
            r#"try(string.match, "THE (quick) fox", "%f[%a]%a+", 5)"#,
            r#"true, "quick""#,
        ),
        (r#"try(string.match, "abab", "(ab)%1")"#, r#"true, "ab""#),
        (
            r#"try(string.match, "2024-01-31", "^(%d+)-(%d+)-(%d+)$")"#,
            r#"true, "2024", "01", "31""#,
        ),
        (r#"try(string.match, 12345, "%d%d", 2)"#, r#"true, "23""#),
        (r#"show(("  trim  "):match("^%s*(.-)%s*$"))"#, r#""trim""#),
    ];
    for (code, expected) in cases {
        assert_eq!(eval(&lua, &format!("return {code}")), expected, "{code}");
    }
}

#[test]
fn gmatch() {
    let lua = vm();
    let collect = |code: &str| {
        eval(
            &lua,
            &format!(
                "local out = {{}} for a, b in {code} do out[#out + 1] = show(a, b) end \
                     return table.concat(out, ' | ')"
            ),
        )
    };
    // ping-auth's URL splitting.
    assert_eq!(
        collect(r#"string.gmatch("https://example.com/x", "([^//]+)")"#),
        r#""https:", nil | "example.com", nil | "x", nil"#
    );
    assert_eq!(
        collect(r#"("a=1, b=2"):gmatch("(%w+)=(%w+)")"#),
        r#""a", "1" | "b", "2""#
    );
    assert_eq!(
        collect(r#"("one two"):gmatch("%a+")"#),
        r#""one", nil | "two", nil"#
    );
    assert_eq!(
        collect(r#"("abc"):gmatch("")"#),
        r#""", nil | "", nil | "", nil | "", nil"#
    );
    assert_eq!(
        collect(r#"("abc"):gmatch("()")"#),
        "1, nil | 2, nil | 3, nil | 4, nil"
    );
    assert_eq!(
        collect(r#"("abc"):gmatch("b*")"#),
        r#""", nil | "b", nil | "", nil | "", nil"#
    );
    // '^' is not an anchor in gmatch: it matches itself.
    assert_eq!(
        collect(r#"("a^b ^c"):gmatch("^(.)")"#),
        r#""b", nil | "c", nil"#
    );
    assert_eq!(collect(r#"("abc"):gmatch("^a")"#), "");
    // An exhausted iterator stays exhausted.
    assert_eq!(
        eval(
            &lua,
            r#"local it = ("ab"):gmatch(".") return show(it(), it(), it(), it())"#
        ),
        r#""a", "b", nil"#
    );
    // Argument errors come from gmatch, pattern errors from the iterator.
    assert_eq!(
        eval(&lua, r#"return try(string.gmatch, "abc")"#),
        r#"false, "bad argument #2 to 'gmatch' (string expected, got no value)""#
    );
    assert_eq!(
        eval(
            &lua,
            r#"local it = string.gmatch("abc", "(") return try(it)"#
        ),
        r#"false, "unfinished capture""#
    );
}

#[test]
fn gsub() {
    let lua = vm();
    let cases = [
        // string replacements
        (
            r#"try(string.gsub, "hello world", "o", "0")"#,
            r#"true, "hell0 w0rld", 2"#,
        ),
        (
            r#"try(string.gsub, "hello world", "(o)", "[%1]", 1)"#,
            r#"true, "hell[o] world", 1"#,
        ),
        (
            r#"try(string.gsub, "hello", "l+", "<%0>")"#,
            r#"true, "he<ll>o", 1"#,
        ),
        (
            r#"try(string.gsub, "abc", "%w", "%0%0")"#,
            r#"true, "aabbcc", 3"#,
        ),
        (
            r#"try(string.gsub, "abc", "%w", "%1")"#,
            r#"true, "abc", 3"#,
        ),
        (
            r#"try(string.gsub, "abc", "(b)", "%%%1%%")"#,
            r#"true, "a%b%c", 1"#,
        ),
        (r#"try(string.gsub, "abc", "b", "%x")"#, r#"true, "axc", 1"#),
        (
            r#"try(string.gsub, "abc", "b", "x%")"#,
            r#"true, "ax\0c", 1"#,
        ),
        (
            r#"try(string.gsub, "abc", "()", "%1")"#,
            r#"true, "1a2b3c4", 4"#,
        ),
        (
            r#"try(string.gsub, "abc", "(", "x")"#,
            r#"true, "xaxbxcx", 4"#,
        ),
        (
            r#"try(string.gsub, "abc", "x*", 5)"#,
            r#"true, "5a5b5c5", 4"#,
        ),
        (r#"try(string.gsub, 12345, 3, 9)"#, r#"true, "12945", 1"#),
        // empty matches and anchors
        (
            r#"try(string.gsub, "abc", "", "-")"#,
            r#"true, "-a-b-c-", 4"#,
        ),
        (
            r#"try(string.gsub, "abc", "b*", "-")"#,
            r#"true, "-a--c-", 4"#,
        ),
        (r#"try(string.gsub, "abc", "^", "-")"#, r#"true, "-abc", 1"#),
        (r#"try(string.gsub, "aaa", "^a", "-")"#, r#"true, "-aa", 1"#),
        (r#"try(string.gsub, "abc", "$", "-")"#, r#"true, "abc-", 1"#),
        (r#"try(string.gsub, "", "", "x")"#, r#"true, "x", 1"#),
        // n
        (
            r#"try(string.gsub, "aaa", "a", "b", 2)"#,
            r#"true, "bba", 2"#,
        ),
        (
            r#"try(string.gsub, "aaa", "a", "b", 0)"#,
            r#"true, "aaa", 0"#,
        ),
        (
            r#"try(string.gsub, "aaa", "a", "b", -1)"#,
            r#"true, "aaa", 0"#,
        ),
        (
            r#"try(string.gsub, "aaa", "a", "b", 2.7)"#,
            r#"true, "bba", 2"#,
        ),
        (
            r#"try(string.gsub, "aaa", "a", "b", "1")"#,
            r#"true, "baa", 1"#,
        ),
        (
            r#"try(string.gsub, "aaa", "a", "b", nil)"#,
            r#"true, "bbb", 3"#,
        ),
        // tables: keyed by the first capture (or the whole match); false/nil keep it
        (
            r#"try(string.gsub, "abc", "%w", {a = 1, b = "B", c = false})"#,
            r#"true, "1Bc", 3"#,
        ),
        (
            r#"try(string.gsub, "$x $y", "%$(%w+)", {x = "X"})"#,
            r#"true, "X $y", 2"#,
        ),
        (
            r#"try(string.gsub, "abc", "()b", {[2] = "X"})"#,
            r#"true, "aXc", 1"#,
        ),
        (
            r#"try(string.gsub, "abc", "%w", {b = 1.5})"#,
            r#"true, "a1.5c", 3"#,
        ),
        (
            r#"try(string.gsub, "abc", "%w", setmetatable({}, {__index = function(_, k) return k:upper() end}))"#,
            r#"true, "ABC", 3"#,
        ),
        // functions: called with the captures; false/nil keep the match
        (
            r#"try(string.gsub, "abc", "(%w)(%w)", function(a, b) return b .. a end)"#,
            r#"true, "bac", 1"#,
        ),
        (
            r#"try(string.gsub, "abc", "%w", function(c) return c:byte() end)"#,
            r#"true, "979899", 3"#,
        ),
        (
            r#"try(string.gsub, "abc", "%w", function() end)"#,
            r#"true, "abc", 3"#,
        ),
        (
            r#"try(string.gsub, "abc", "%w", function() return false end)"#,
            r#"true, "abc", 3"#,
        ),
        (
            r#"try(string.gsub, "abc", "b()", function(p) return p * 10 end)"#,
            r#"true, "a30c", 1"#,
        ),
        (
            r#"try(string.gsub, "x=1 y=2", "(%w)=(%w)", function(k, v) return v .. "=" .. k end)"#,
            r#"true, "1=x 2=y", 2"#,
        ),
        (r#"show(("hello"):gsub("l", "L"))"#, r#""heLLo", 2"#),
        // errors
        (
            r#"try(string.gsub, "abc", "(b)", "%2")"#,
            r#"false, "invalid capture index""#,
        ),
        (
            r#"try(string.gsub, "abc", "b", function() return {} end)"#,
            r#"false, "invalid replacement value (a table)""#,
        ),
        (
            r#"try(string.gsub, "abc", "b", {b = true})"#,
            r#"false, "invalid replacement value (a boolean)""#,
        ),
        (
            r#"try(string.gsub, "abc", "(b", function() end)"#,
            r#"false, "unfinished capture""#,
        ),
        (
            r#"try(string.gsub, "abc", "(b", {})"#,
            r#"false, "unfinished capture""#,
        ),
        (
            r#"try(string.gsub, "abc", "b")"#,
            r#"false, "bad argument #3 to 'gsub' (string/function/table expected)""#,
        ),
        (
            r#"try(string.gsub, "abc", "b", true)"#,
            r#"false, "bad argument #3 to 'gsub' (string/function/table expected)""#,
        ),
        (
            r#"try(string.gsub, "abc", "b", "x", {})"#,
            r#"false, "bad argument #4 to 'gsub' (number expected, got table)""#,
        ),
        (
            r#"try(string.gsub, "abc", "b", "x", "y")"#,
            r#"false, "bad argument #4 to 'gsub' (number expected, got string)""#,
        ),
    ];
    for (code, expected) in cases {
        assert_eq!(eval(&lua, &format!("return {code}")), expected, "{code}");
    }
}

#[test]
fn gsub_large_output() {
    let lua = vm();
    // Larger than one output chunk.
    let code =
        r#"local s, n = string.gsub(("ab"):rep(20000), "a", ("x"):rep(3)) return #s .. " " .. n"#;
    assert_eq!(eval(&lua, code), "80000 20000");
    let code = r#"local s = string.gsub(("ab"):rep(20000), "b", "") return s == ("a"):rep(20000)"#;
    assert!(lua.load(code).eval::<bool>().unwrap());
}

#[test]
fn errors_are_plain_strings() {
    let lua = vm();
    let cases = [
        (
            r#"try(string.find, "abc", "[a")"#,
            r#"false, "malformed pattern (missing ']')""#,
        ),
        (
            r#"try(string.find, "abc", "%")"#,
            r#"false, "malformed pattern (ends with '%')""#,
        ),
        (
            r#"try(string.find, "abc", "%f")"#,
            r#"false, "missing '[' after '%f' in pattern""#,
        ),
        (
            r#"try(string.find, "abc", "%b")"#,
            r#"false, "unbalanced pattern""#,
        ),
        (
            r#"try(string.find, "abc", "%1")"#,
            r#"false, "invalid capture index""#,
        ),
        (
            r#"try(string.match, "abc", "a)")"#,
            r#"false, "invalid pattern capture""#,
        ),
        (
            r#"try(string.match, "abc", "(a")"#,
            r#"false, "unfinished capture""#,
        ),
        (
            r#"try(string.find, "abc", ("()"):rep(33))"#,
            r#"false, "too many captures""#,
        ),
        (
            r#"try(string.find, nil, "a")"#,
            r#"false, "bad argument #1 to 'find' (string expected, got nil)""#,
        ),
        (
            r#"try(string.match, "a", {})"#,
            r#"false, "bad argument #2 to 'match' (string expected, got table)""#,
        ),
        (
            r#"try(string.find, "a", "a", {})"#,
            r#"false, "bad argument #3 to 'find' (number expected, got table)""#,
        ),
        (
            r#"try(string.find, "a", "a", "x")"#,
            r#"false, "bad argument #3 to 'find' (number expected, got string)""#,
        ),
        (
            r#"try(string.find, "a")"#,
            r#"false, "bad argument #2 to 'find' (string expected, got no value)""#,
        ),
    ];
    for (code, expected) in cases {
        assert_eq!(eval(&lua, &format!("return {code}")), expected, "{code}");
    }
    // Positioned at the caller's line, like the built-ins.
    let code = "local ok, e = pcall(function()\n  local x = string.find('abc', '[')\n  return x\nend)\nreturn e";
    assert_eq!(
        eval(&lua, code),
        r#"test:2: malformed pattern (missing ']')"#
    );
    let code =
        "local ok, e = pcall(function()\n  for w in ('x'):gmatch('(') do end\nend)\nreturn e";
    assert_eq!(eval(&lua, code), r#"test:2: unfinished capture"#);
    let code = "local ok, e = pcall(function()\n\n  local it = string.gmatch('x')\nend)\nreturn e";
    assert_eq!(
        eval(&lua, code),
        r#"test:3: bad argument #2 to 'gmatch' (string expected, got no value)"#
    );
}

#[test]
fn callback_errors_propagate() {
    let lua = vm();
    let err = lua
        .load(r#"string.gsub("abc", "b", function() error("boom") end)"#)
        .exec()
        .unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
    let err = lua
        .load(
            r#"string.gsub("abc", "b", setmetatable({}, {__index = function() error("idx") end}))"#,
        )
        .exec()
        .unwrap_err();
    assert!(err.to_string().contains("idx"), "{err}");
}

#[test]
fn recursion_through_gsub_is_capped() {
    let lua = vm();
    let code = r#"
            local depth = 0
            local function f(c) depth = depth + 1 return (c:gsub(".", f)) end
            local ok, e = pcall(f, "a")
            local t = setmetatable({}, {__index = function(_, c) return (c:gsub(".", t)) end})
            local ok2, e2 = pcall(string.gsub, "a", ".", t)
            return show(ok, depth, ok2) .. " " .. tostring(e):match("C stack overflow")
        "#;
    // Run where a few hundred nested levels would overflow an unguarded stack.
    let out = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || eval(&lua, code))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(out, "false, 51, false C stack overflow");
    // The counter unwinds: ordinary nested use still works afterwards.
    let lua = vm();
    let code = r#"return (("ab"):gsub(".", function(c) return (c:gsub(".", "<%0>")) end))"#;
    assert_eq!(eval(&lua, code), "<a><b>");
}

#[test]
fn bombs_are_stopped() {
    let lua = vm();
    let bombs = [
        "string.find(string.rep('a', 32), string.rep('a*', 10) .. 'b')",
        "string.match(string.rep('a', 32), string.rep('a*', 10) .. 'b')",
        "for w in string.gmatch(string.rep('a', 32), string.rep('a*', 10) .. 'b') do end",
        "string.gsub(string.rep('a', 32), string.rep('a*', 10) .. 'b', '')",
        "string.gsub(string.rep('a', 32), string.rep('(.-)', 10) .. 'b', '')",
        "string.find(string.rep('(', 100000), '%b()')",
        "string.find(string.rep('a', 300), string.rep('a?', 300))",
        "string.find(string.rep('a', 50000), string.rep('a?', 50000))",
    ];
    for bomb in bombs {
        let code = format!("local ok, e = pcall(function() {bomb} end) return e");
        let error = eval(&lua, &code);
        assert_eq!(error, "test:1: pattern too complex", "{bomb}");
    }
}

/// Runs the budgeted functions and LuaJIT's own on generated inputs and compares every
/// result and error message.
#[test]
fn agrees_with_luajit() {
    let lua = vm();
    let mismatches: Vec<String> = lua
            .load(
                r#"
                local seed = 42
                local function rand(n)
                  seed = (seed * 16807) % 2147483647
                  return seed % n + 1
                end
                local tokens = {
                  "a", "b", "a", "b", ".", "%a", "%d", "%s", "%w", "%p", "%z", "%A", "%g", "%q",
                  "[ab]", "[^a]", "[%a%d]", "[a-c]", "[]a]", "[^]]", "[%a-]", "[a-]", "[", "]",
                  "*", "+", "-", "?", "*", "+", "-", "?", "(", ")", "()", "(", ")",
                  "%1", "%2", "%0", "^", "$", "%b()", "%bab", "%f[%w]", "%f[^a]", "%f", "%",
                  "%b", "\0", "%%", "%(", "%.", " ", "1", "x", "%baa", "%b)(", "%S", "%u", "[%s%]]",
                  "[\0-a]", "[^%z]", "A", "\v",
                }
                local chars = { "a", "b", "a", "b", "(", ")", " ", "1", "%", "\0", "x", "]", "\v", "A", "-", "^" }
                local function gen(list, max)
                  local out = {}
                  for i = 1, rand(max + 1) - 1 do out[i] = list[rand(#list)] end
                  return table.concat(out)
                end
                local function collect(f, s, p)
                  local ok, it = pcall(f, s, p)
                  if not ok then return show(false, it) end
                  local out = {}
                  while #out < 20 do
                    local r = { pcall(it) }
                    out[#out + 1] = show(unpack(r, 1, table.maxn(r)))
                    if r[1] == false or r[2] == nil then break end
                  end
                  return table.concat(out, " | ")
                end
                local function repl(...) return table.concat({ show(...) }, "") end
                local lookup = { a = "A", [1] = "one", ["("] = false, b = 7 }
                local mismatches, complex = {}, 0
                local function compare(what, mine, theirs)
                  if mine ~= theirs then
                    if mine:find("pattern too complex", 1, true) then
                      complex = complex + 1
                    else
                      mismatches[#mismatches + 1] = what .. "\n  mine:   " .. mine .. "\n  luajit: " .. theirs
                    end
                  end
                end
                for _ = 1, 4000 do
                  local s, p = gen(chars, 8), gen(tokens, 5)
                  local init = rand(13) - 6
                  local what = ("%q %q %d"):format(s, p, init)
                  for _, name in ipairs({ "find", "match" }) do
                    compare(name .. " " .. what, try(string[name], s, p), try(native[name], s, p))
                    compare(name .. " init " .. what, try(string[name], s, p, init), try(native[name], s, p, init))
                  end
                  compare("plain " .. what, try(string.find, s, p, init, true), try(native.find, s, p, init, true))
                  compare("gmatch " .. what, collect(string.gmatch, s, p), collect(native.gmatch, s, p))
                  for _, r in ipairs({ "<%0>", "%1", "[%2]", "%", "%%", repl, lookup }) do
                    compare("gsub " .. tostring(r) .. " " .. what,
                      try(string.gsub, s, p, r), try(native.gsub, s, p, r))
                  end
                  compare("gsub n " .. what, try(string.gsub, s, p, "-", init), try(native.gsub, s, p, "-", init))
                end
                assert(complex < 20, "too many budget failures: " .. complex)
                return mismatches
                "#,
            )
            .eval()
            .unwrap();
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
