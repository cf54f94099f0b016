//! The matcher against LuaJIT's results and errors, its budget, and the prepared patterns.

use super::*;
use Capture::{Position as P, Range as R};

const BUDGET: u64 = 100_000;

fn find(subject: &str, pattern: &str) -> Result<Option<Match>, PatternError> {
    find_at(subject.as_bytes(), pattern.as_bytes(), 0, BUDGET)
}

/// `(start, end, captures)` of the first match.
fn span(subject: &str, pattern: &str) -> Option<(usize, usize, Vec<Capture>)> {
    find(subject, pattern)
        .unwrap_or_else(|e| panic!("{pattern:?} on {subject:?}: {e}"))
        .map(|m| (m.start, m.end, m.captures))
}

/// The strings `string.match` would return (captures, or the whole match).
fn strings(subject: &str, pattern: &str) -> Option<Vec<String>> {
    let m = find(subject, pattern).unwrap_or_else(|e| panic!("{pattern:?} on {subject:?}: {e}"))?;
    let values = m.values(true).unwrap();
    Some(
        values
            .into_iter()
            .map(|c| match c {
                R(a, b) => subject[a..b].to_string(),
                P(o) => format!("@{}", o + 1),
                Capture::Unfinished => unreachable!(),
            })
            .collect(),
    )
}

#[test]
fn match_table() {
    // (subject, pattern, what string.match returns: captures joined by '|', positions as @n)
    let cases: &[(&str, &str, Option<&str>)] = &[
        // plain bytes, '.', empty pattern
        ("hello", "ll", Some("ll")),
        ("hello", "x", None),
        ("hello", "", Some("")),
        ("", "", Some("")),
        ("", "a", None),
        ("abc", ".", Some("a")),
        ("abc", "..", Some("ab")),
        ("abc", "....", None),
        // classes and complements
        ("x = 42;", "%d+", Some("42")),
        ("42abc", "%a+", Some("abc")),
        ("abc DEF", "%u+", Some("DEF")),
        ("ABC def", "%l+", Some("def")),
        ("a \t\n\x0b\x0c\rb", "%s+", Some(" \t\n\x0b\x0c\r")),
        ("ab!@#cd", "%p+", Some("!@#")),
        ("a\x01\x1f\x7fb", "%c+", Some("\x01\x1f\x7f")),
        ("__ab12__", "%w+", Some("ab12")),
        ("zz0fA9zz", "%x+", Some("0fA9")),
        ("  ab  ", "%g+", Some("ab")),
        ("abc123", "%D+", Some("abc")),
        ("123abc", "%A+", Some("123")),
        ("ab  cd", "%S+", Some("ab")),
        ("ab, cd", "%W+", Some(", ")),
        ("a.b", "%.", Some(".")),
        ("a%b", "%%", Some("%")),
        ("a(b", "%(", Some("(")),
        // unknown class letters are literal, not complemented
        ("aqQb", "%q", Some("q")),
        ("aqQb", "%Q", Some("Q")),
        // sets
        ("hello", "[aeiou]+", Some("e")),
        ("hello", "[^aeiou]+", Some("h")),
        ("x-y", "[a-z]+", Some("x")),
        ("a]b", "[]]", Some("]")),
        ("]]ab", "[^]]+", Some("ab")),
        ("a-b", "[%a-]+", Some("a-b")),
        ("-a-b", "[a-]+", Some("-a-")),
        ("a-]b", "[%]-]+", Some("-]")),
        ("a%b", "[%%]", Some("%")),
        ("a^b", "[b^]+", Some("^b")),
        ("ab", "[^%a]", None),
        ("a1_b", "[%d_]+", Some("1_")),
        ("zyx", "[x-z]+", Some("zyx")),
        ("abc", "[c-a]", None),
        ("a-c", "[%a%-]+", Some("a-c")),
        // quantifiers
        ("aaab", "a*", Some("aaa")),
        ("baaa", "a*", Some("")),
        ("baaa", "a+", Some("aaa")),
        ("b", "a+", None),
        ("aaab", "a-b", Some("aaab")),
        ("aaab", "^(a-)", Some("")),
        ("color colour", "colou?r", Some("color")),
        ("colour", "colou?r", Some("colour")),
        ("<a><b>", "<(.-)>", Some("a")),
        ("<a><b>", "<(.*)>", Some("a><b")),
        ("[[x]]", "%[(.-)%]", Some("[x")),
        ("abc", ".-$", Some("abc")),
        ("abc", "a?b?c?d?", Some("abc")),
        // anchors: '^' only at the start, '$' only at the end
        ("abc", "^abc$", Some("abc")),
        ("xabc", "^abc", None),
        ("abcx", "abc$", None),
        ("a^b", "a^b", Some("a^b")),
        ("a$c", "$c", Some("$c")),
        ("a$c", "a$", None),
        ("", "^$", Some("")),
        ("abc", "$", Some("")),
        // captures and position captures
        ("x=1, y=2", "(%w+)=(%w+)", Some("x|1")),
        ("key = value", "(%w+)%s*=%s*(%w+)", Some("key|value")),
        ("abc", "()", Some("@1")),
        ("abc", "(b)()", Some("b|@3")),
        ("abc", "()(b)()", Some("@2|b|@3")),
        ("abc", "((a)(b))", Some("ab|a|b")),
        ("abc", "(a*(.))", Some("ab|b")),
        ("abc", "a()$", None),
        ("abc", "c()$", Some("@4")),
        // back-references
        ("abab", "(ab)%1", Some("ab")),
        ("abcab", "(ab)c%1", Some("ab")),
        ("abcac", "(ab)c%1", None),
        ("'hi' \"x\"", "([\"'])(.-)%1", Some("'|hi")),
        ("abab", "()ab%1", None),
        ("aa", "(a*)%1", Some("a")),
        // %b
        ("THE (quick) fox", "%b()", Some("(quick)")),
        ("f(a(b)c) d", "%b()", Some("(a(b)c)")),
        ("(((", "%b()", None),
        ("x[a]]", "%b[]", Some("[a]")),
        ("'a'b'", "%b''", Some("'a'")),
        ("(a)b", "%b()b", Some("(a)b")),
        ("(a)*", "%b()*", Some("(a)*")),
        ("(a)", "%b()*", None),
        // %f
        ("THE (quick) fox", "%f[%a]%a+", Some("THE")),
        ("hello world", "%f[%w]%w+$", Some("world")),
        ("abc", "%f[%l]", Some("")),
        ("THE quick", "%f[%l]%a+", Some("quick")),
        ("abc", "%f[%z]", Some("")),
        ("ab1", "%f[%d]", Some("")),
        ("aXb", "%f[^%l]", Some("")),
        // %z and NUL handling: the pattern ends at its first NUL
        ("a\0b", "%z", Some("\0")),
        ("a\0b", "[%z]", Some("\0")),
        ("a\0b", "%Z+", Some("a")),
        ("a\0b", "a\0.", Some("a")),
        ("a\0b", ".\0x", Some("a")),
        // errors are raised only when reached
        ("abc", "x[", None),
        ("abc", "x%", None),
        ("abc", "(x", None),
        ("abc", "x)", None),
        ("abc", "x%1", None),
        ("abc", "x%f", None),
        ("abc", "x%b", None),
    ];
    for &(subject, pattern, expected) in cases {
        let got = strings(subject, pattern).map(|v| v.join("|"));
        assert_eq!(got.as_deref(), expected, "{pattern:?} on {subject:?}");
    }
}

#[test]
fn spans_and_init() {
    assert_eq!(span("hello", "l+"), Some((2, 4, vec![])));
    assert_eq!(
        span("hello", "(h)(e)"),
        Some((0, 2, vec![R(0, 1), R(1, 2)]))
    );
    assert_eq!(span("abc", "()"), Some((0, 0, vec![P(0)])));
    let at = |s: &str, p: &str, init| {
        find_at(s.as_bytes(), p.as_bytes(), init, BUDGET)
            .unwrap()
            .map(|m| m.start)
    };
    assert_eq!(at("abcabc", "b", 2), Some(4));
    assert_eq!(at("abc", "", 3), Some(3));
    assert_eq!(at("abc", "", 4), None);
    assert_eq!(at("aaa", "^a", 1), Some(1));
    assert_eq!(at("baa", "^a", 0), None);
    // search tries the position just past the end too
    assert_eq!(at("abc", "$", 0), Some(3));
}

#[test]
fn unfinished_capture_is_lazy() {
    let m = find("abc", "(a").unwrap().unwrap();
    assert_eq!(m.captures, vec![Capture::Unfinished]);
    assert_eq!(m.get(0), Err(PatternError::UnfinishedCapture));
    assert_eq!(m.values(true), Err(PatternError::UnfinishedCapture));
    let m = find("abc", "b").unwrap().unwrap();
    assert_eq!(m.get(0), Ok(R(1, 2)));
    assert_eq!(m.get(1), Err(PatternError::InvalidCaptureIndex));
    assert_eq!(m.values(false), Ok(vec![]));
}

#[test]
fn errors() {
    use PatternError::*;
    let cases: &[(&str, &str, PatternError)] = &[
        ("abc", "%", EndsWithEscape),
        ("abc", "a%", EndsWithEscape),
        ("abc", "[a", MissingBracket),
        ("abc", "[]", MissingBracket),
        ("abc", "[^]", MissingBracket),
        ("abc", "[a-", MissingBracket),
        ("abc", "[%]", MissingBracket),
        ("abc", "[a%", MissingBracket),
        ("a\0]", "[\0]", MissingBracket),
        ("abc", "%f", FrontierWithoutSet),
        ("abc", "%fa", FrontierWithoutSet),
        ("abc", "%f[a", MissingBracket),
        ("abc", "%b", Unbalanced),
        ("abc", "%ba", Unbalanced),
        ("abc", "%1", InvalidCaptureIndex),
        ("abc", "%0", InvalidCaptureIndex),
        ("abc", "(a)%2", InvalidCaptureIndex),
        ("abc", "(a%1)", InvalidCaptureIndex),
        ("abc", "a)", InvalidPatternCapture),
        ("abc", "()a)", InvalidPatternCapture),
        ("abc", &"()".repeat(33), TooManyCaptures),
    ];
    for &(subject, pattern, expected) in cases {
        assert_eq!(
            find(subject, pattern),
            Err(expected),
            "{pattern:?} on {subject:?}"
        );
    }
    let m = find("abc", &"()".repeat(32)).unwrap().unwrap();
    assert_eq!(m.captures.len(), MAX_CAPTURES);

    let messages = [
        (EndsWithEscape, "malformed pattern (ends with '%')"),
        (MissingBracket, "malformed pattern (missing ']')"),
        (FrontierWithoutSet, "missing '[' after '%f' in pattern"),
        (Unbalanced, "unbalanced pattern"),
        (InvalidCaptureIndex, "invalid capture index"),
        (InvalidPatternCapture, "invalid pattern capture"),
        (UnfinishedCapture, "unfinished capture"),
        (TooManyCaptures, "too many captures"),
        (TooComplex, "pattern too complex"),
    ];
    for (error, message) in messages {
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn exponential_backtracking_runs_out_of_budget() {
    let subject = "a".repeat(32);
    let bombs = [
        "a*".repeat(10) + "b",
        "(a*)".repeat(10) + "b",
        "a-".repeat(10) + "b",
        "(.-)".repeat(10) + "x",
    ];
    for pattern in bombs {
        let mut m = Matcher::new(subject.as_bytes(), pattern.as_bytes(), BUDGET);
        assert_eq!(
            m.search(0, false),
            Err(PatternError::TooComplex),
            "{pattern}"
        );
        assert_eq!(m.steps_used(), BUDGET, "{pattern}");
    }
}

#[test]
fn quadratic_scans_are_charged() {
    // Each start position scans to the end: n²/2 bytes for n steps if scans were free.
    let opens = "(".repeat(100_000);
    assert_eq!(find(&opens, "%b()"), Err(PatternError::TooComplex));
    let long = "a".repeat(100_000);
    assert_eq!(
        find(&long, &("a".repeat(50_000) + "b")),
        Err(PatternError::TooComplex)
    );
    assert_eq!(find(&long, "(a*)%1%1b"), Err(PatternError::TooComplex));
}

#[test]
fn budget_is_enough_for_ordinary_work() {
    let text = "GET /some/path?query=1 HTTP/1.1 ".repeat(100);
    let mut m = Matcher::new(text.as_bytes(), b"HTTP/(%d)%.(%d)%s*$", BUDGET);
    assert!(m.search(0, false).unwrap().is_some());
    assert!(m.steps_used() < BUDGET / 4, "{}", m.steps_used());
}

#[test]
fn recursion_depth_is_capped() {
    // A plain sequence does not nest, however long.
    let pattern = "a".repeat(50_000);
    assert!(find(&pattern, &pattern).unwrap().is_some());
    // `?` nests once per byte it consumes; LuaJIT gives up past 200 levels too.
    let optional = "a?".repeat(50_000);
    assert_eq!(span("aaa", &optional), Some((0, 3, vec![])));
    assert_eq!(
        find(&"a".repeat(199), &"a?".repeat(199)).map(|m| m.is_some()),
        Ok(true)
    );
    assert_eq!(
        find(&"a".repeat(300), &"a?".repeat(300)),
        Err(PatternError::TooComplex)
    );
    assert_eq!(
        find_at(&[b'a'; 50_000], optional.as_bytes(), 0, u64::MAX),
        Err(PatternError::TooComplex)
    );
    // Run deep matches on a small stack to show the cap keeps stack use bounded.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let subject = "a".repeat(1000);
            for pattern in [
                "a?".repeat(1000),
                "(a)?".repeat(1000),
                "a*".repeat(1000),
                "(".repeat(31) + "a",
            ] {
                let _ = find_at(subject.as_bytes(), pattern.as_bytes(), 0, u64::MAX);
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn specials_and_anchor() {
    assert!(!has_specials(b"abc)]"));
    assert!(!has_specials(b"a\0b"));
    for c in SPECIALS {
        assert!(has_specials(&[b'x', *c]));
    }
    assert_eq!(split_anchor(b"^ab"), (true, &b"ab"[..]));
    assert_eq!(split_anchor(b"a^b"), (false, &b"a^b"[..]));
    assert_eq!(split_anchor(b""), (false, &b""[..]));
}

/// `search` skips starts where the first item cannot match: results and errors stay
/// C's, including a malformed first item on an empty subject and an error after it
/// that no start reaches.
#[test]
fn first_item_skips_keep_results_and_errors() {
    assert_eq!(span("no spaces", "%s"), Some((2, 3, vec![])));
    assert_eq!(span("xxaab", "a+b"), Some((2, 5, vec![])));
    assert_eq!(span("xyz", "a*"), Some((0, 0, vec![])));
    assert_eq!(span("xyz", "a?z"), Some((2, 3, vec![])));
    assert_eq!(span("xyz", "a-z"), Some((2, 3, vec![])));
    assert_eq!(span("ab$", "$"), Some((3, 3, vec![])));
    assert_eq!(span("a$b", "$b"), Some((1, 3, vec![])));
    assert_eq!(span("xx[y]", "[[]y"), Some((2, 4, vec![])));
    assert_eq!(find("", "[a"), Err(PatternError::MissingBracket));
    assert_eq!(find("", "%"), Err(PatternError::EndsWithEscape));
    assert_eq!(find("bbb", "a["), Ok(None));
    assert_eq!(find("bab", "a["), Err(PatternError::MissingBracket));
    assert_eq!(find_at(b"abc", b"%s", 5, BUDGET), Ok(None));
    // Each of many sets is compiled, and charged, once per matcher: what six sets
    // cost over six plain bytes is the same for one attempt as for three.
    let steps = |subject: &[u8], pattern: &str| {
        let mut matcher = Matcher::new(subject, pattern.as_bytes(), BUDGET);
        assert_eq!(matcher.search(0, false).map(|m| m.is_some()), Ok(false));
        matcher.steps_used()
    };
    let (sets, plain) = ("[a][b][c][d][e][f]x", "abcdefx");
    let (one, three) = (b"abcdefyyyyyyyyyyyy", b"abcdefabcdefabcdef");
    assert_eq!(
        steps(three, sets) - steps(three, plain),
        steps(one, sets) - steps(one, plain)
    );
    // A skipped start still costs a step.
    assert_eq!(
        find_at(&[b'x'; 64], b"%s", 0, 10),
        Err(PatternError::TooComplex)
    );
}

#[test]
fn plain_search() {
    assert_eq!(find_plain(b"hello", b"ll", 0), Some(2));
    assert_eq!(find_plain(b"hello", b"", 5), Some(5));
    assert_eq!(find_plain(b"hello", b"", 6), None);
    assert_eq!(find_plain(b"hello", b"lo", 4), None);
    assert_eq!(find_plain(b"a.c", b".", 0), Some(1));
    assert_eq!(find_plain(b"aaab", b"aab", 0), Some(1));
    // Compare against a naive search over a small alphabet, where borders are common.
    let mut seed = 12345u32;
    let mut next = || {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (seed >> 16) as usize
    };
    for _ in 0..2000 {
        let hay: Vec<u8> = (0..next() % 20).map(|_| b"ab"[next() % 2]).collect();
        let needle: Vec<u8> = (0..next() % 5).map(|_| b"ab"[next() % 2]).collect();
        let from = next() % (hay.len() + 2);
        let naive = (from..=hay.len()).find(|&i| hay[i..].starts_with(&needle));
        assert_eq!(
            find_plain(&hay, &needle, from),
            naive,
            "{hay:?} {needle:?} {from}"
        );
    }
    let long = vec![b'a'; 200_000];
    let mut needle = vec![b'a'; 100_000];
    needle.push(b'b');
    assert_eq!(find_plain(&long, &needle, 0), None);
}

fn shape(pattern: &str) -> Shape {
    Pattern::new(pattern.to_string()).shape
}

#[test]
fn common_schema_patterns_are_scans() {
    for pattern in [
        "^[%w%-_]+$",
        "%s",
        "^/api",
        "^%u+$",
        "[^%s]",
        "%d$",
        "^.*$",
        "x",
        "",
    ] {
        assert_ne!(shape(pattern), Shape::General, "{pattern}");
    }
    // Quantifiers that backtrack, captures, anchors inside, and whatever the matcher
    // must raise an error for stay with the matcher.
    for pattern in [
        "^https?://",
        "^a-",
        "a?",
        "(a)",
        "a)",
        "%b()",
        "%f[%w]",
        "%1",
        "[a",
        "%",
        "a%$",
        "^%d+%.%d+$",
        "a\0b",
        "$$",
    ] {
        assert_eq!(shape(pattern), Shape::General, "{pattern:?}");
    }
    assert_eq!(
        Pattern::new("a)".into()).is_match(b"a)", BUDGET),
        Err(PatternError::InvalidPatternCapture)
    );
    // A scan is linear, so it is not held to the budget the matcher runs out of.
    let long = [b'x'; 64];
    assert_eq!(find_at(&long, b"%s", 0, 10), Err(PatternError::TooComplex));
    assert_eq!(Pattern::new("%s".into()).is_match(&long, 10), Ok(false));
    assert_eq!(
        Pattern::new("^x%d".into()).is_match(&long, 1),
        Err(PatternError::TooComplex)
    );
}

proptest::proptest! {
    /// A scan answers as the matcher does, over every shape a scan takes and its
    /// neighbours that the matcher keeps.
    #[test]
    fn prepared_patterns_answer_as_the_matcher_does(
        start in proptest::bool::ANY,
        body in proptest::sample::select(vec![
            "", "a", "ab", "a-b", ".", "%a", "%d", "%s", "%w", "%-", "%%", "[ab]", "[^a]",
            "[%d-]", "[a-c]", "a)", "b",
        ]),
        quantifier in proptest::sample::select(vec!["", "+", "*", "-", "?"]),
        end in proptest::bool::ANY,
        subject in "[ab1 c%)-]{0,6}",
    ) {
        let pattern = format!(
            "{}{body}{quantifier}{}",
            if start { "^" } else { "" },
            if end { "$" } else { "" },
        );
        let expected = find(&subject, &pattern).map(|m| m.is_some());
        let prepared = Pattern::new(pattern.clone());
        proptest::prop_assert_eq!(
            prepared.is_match(subject.as_bytes(), BUDGET),
            expected,
            "{} on {:?} ({:?})", pattern, subject, prepared.shape
        );
    }
}
