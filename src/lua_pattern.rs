//! Lua 5.1 / LuaJIT 2.1 patterns (Lua 5.1 reference manual §5.4.1) over bytes, with a work budget.
//!
//! The C matcher can backtrack exponentially inside a single call, where no instruction hook
//! can interrupt it, so uploaded code could pin a CPU with one `string.find`. This matcher keeps
//! the C engine's observable behaviour (same results, same error messages, errors raised lazily
//! only when matching reaches the bad item, the pattern ending at its first NUL byte, recursion
//! capped at LuaJIT's `LJ_MAX_XLEVEL`) but charges every unit of work to a budget and fails
//! with [`PatternError::TooComplex`] once it runs out.
//!
//! What costs one step: entering the recursive match routine, advancing to
//! the next pattern item, and each subject byte examined by a scan (`*`/`+` expansion, `%b`,
//! back-reference comparison), plus the length of a `[set]` the first time it is compiled. The
//! scans are charged too because otherwise `%b()` over a long run of `(` is quadratic while
//! costing only one step per start position.
//!
//! The module is [`Matcher`] (the backtracking matcher, in `matcher`), the entry points
//! `string.find` and friends use, and [`Pattern`], a pattern prepared for the schema
//! validators. It binds nothing to Lua: `lua::strlib` exposes it to uploaded code and
//! `schema::validate` runs it for `match` validators.

mod matcher;
#[cfg(test)]
mod tests;

use matcher::Item;
pub use matcher::Matcher;

/// Lua's `LUA_MAXCAPTURES`.
pub const MAX_CAPTURES: usize = 32;

/// LuaJIT's `LJ_MAX_XLEVEL`: nesting depth of the match routine before `pattern too complex`.
/// Plain sequences of items do not nest; `?`, `*`, `+`, `-` and captures do.
pub const MAX_DEPTH: u32 = 200;

const ESC: u8 = b'%';

/// Bytes that make `string.find` use the pattern matcher instead of a plain search
/// (LuaJIT's `lj_str_haspattern`).
const SPECIALS: &[u8] = b"^$*+?.([%-";

/// Errors with the exact messages LuaJIT raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("malformed pattern (ends with '%')")]
    EndsWithEscape,
    #[error("malformed pattern (missing ']')")]
    MissingBracket,
    #[error("missing '[' after '%f' in pattern")]
    FrontierWithoutSet,
    /// `%b` not followed by two bytes. Lua 5.2+ words this "missing arguments to '%b'".
    #[error("unbalanced pattern")]
    Unbalanced,
    #[error("invalid capture index")]
    InvalidCaptureIndex,
    #[error("invalid pattern capture")]
    InvalidPatternCapture,
    #[error("unfinished capture")]
    UnfinishedCapture,
    #[error("too many captures")]
    TooManyCaptures,
    /// The step budget or the recursion limit ran out.
    #[error("pattern too complex")]
    TooComplex,
}

/// One capture of a successful match, in byte offsets into the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// `(...)`: the bytes `start..end`.
    Range(usize, usize),
    /// `()`: a 0-based offset; Lua reports it as `offset + 1`.
    Position(usize),
    /// A `(` still open when the pattern ended. Lua raises `unfinished capture` only when such
    /// a value is actually used (`gsub` with a string replacement may never use it).
    Unfinished,
}

/// A successful match of `subject[start..end]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    /// One entry per `(` the pattern opened, in order.
    pub captures: Vec<Capture>,
}

impl Match {
    /// Capture `index` (0-based) as Lua pushes it: when the pattern has no captures, index 0
    /// stands for the whole match.
    pub fn get(&self, index: usize) -> Result<Capture, PatternError> {
        match self.captures.get(index) {
            Some(Capture::Unfinished) => Err(PatternError::UnfinishedCapture),
            Some(capture) => Ok(*capture),
            None if index == 0 => Ok(Capture::Range(self.start, self.end)),
            None => Err(PatternError::InvalidCaptureIndex),
        }
    }

    /// Every capture value Lua would return; with no captures, the whole match if
    /// `whole_if_none` (`match`, `gmatch`, `gsub` callbacks) or nothing (`find`).
    pub fn values(&self, whole_if_none: bool) -> Result<Vec<Capture>, PatternError> {
        let count = match self.captures.len() {
            0 if whole_if_none => 1,
            n => n,
        };
        (0..count).map(|i| self.get(i)).collect()
    }
}

/// Whether `string.find` must treat `pattern` as a pattern rather than a plain string.
pub fn has_specials(pattern: &[u8]) -> bool {
    pattern.iter().any(|c| SPECIALS.contains(c))
}

/// Splits off a leading `^`, which anchors `find`, `match` and `gsub` (not `gmatch`).
pub fn split_anchor(pattern: &[u8]) -> (bool, &[u8]) {
    match pattern.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, pattern),
    }
}

/// First occurrence of `needle` in `haystack` at or after `from`. memchr's `memmem` runs
/// in linear time whatever the input, so plain `find` cannot be made quadratic either.
pub fn find_plain(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let hay = haystack.get(from..)?;
    memchr::memmem::find(hay, needle).map(|at| from + at)
}

/// `find`/`match` semantics: searches from `init` (a 0-based offset), honouring a leading `^`.
pub fn find_at(
    subject: &[u8],
    pattern: &[u8],
    init: usize,
    max_steps: u64,
) -> Result<Option<Match>, PatternError> {
    let (anchored, pattern) = split_anchor(pattern);
    Matcher::new(subject, pattern, max_steps).search(init, anchored)
}

/// A Lua pattern prepared once for many `value:match(pattern)` tests, as a schema's
/// `match` validators make. Most schema patterns are plain text or one item repeated
/// (`^[%w%-]+$`, `%s`, `^/api`): those are answered by one linear scan, the same answer
/// the matcher gives, without running it. Being linear, a scan needs no step budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    shape: Shape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// Anything else: the matcher runs.
    General,
    /// Plain bytes, between an optional leading `^` and an optional trailing `$`.
    Literal {
        text: Vec<u8>,
        start: bool,
        end: bool,
    },
    /// One single-byte item, alone or followed by `+` or `*`, between the same anchors.
    Run {
        item: Item,
        count: Count,
        start: bool,
        end: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    One,
    OneOrMore,
    Any,
}

impl Pattern {
    pub fn new(source: String) -> Self {
        let shape = Shape::of(source.as_bytes());
        Pattern { source, shape }
    }

    /// Whether `subject:match(pattern)` finds a match.
    pub fn is_match(&self, subject: &[u8], max_steps: u64) -> Result<bool, PatternError> {
        Ok(match &self.shape {
            Shape::General => find_at(subject, self.source.as_bytes(), 0, max_steps)?.is_some(),
            Shape::Literal { text, start, end } => match (start, end) {
                (true, true) => subject == text.as_slice(),
                (true, false) => subject.starts_with(text),
                (false, true) => subject.ends_with(text),
                (false, false) => find_plain(subject, text, 0).is_some(),
            },
            Shape::Run {
                item,
                count,
                start,
                end,
            } => {
                let matches = |c: &u8| item.matches(*c);
                match (count, start, end) {
                    (Count::One, true, true) => subject.len() == 1 && matches(&subject[0]),
                    (Count::OneOrMore, true, true) => {
                        !subject.is_empty() && subject.iter().all(matches)
                    }
                    (Count::Any, true, true) => subject.iter().all(matches),
                    // `x*` matches the empty string anywhere.
                    (Count::Any, _, _) => true,
                    (_, true, false) => subject.first().is_some_and(matches),
                    (_, false, true) => subject.last().is_some_and(matches),
                    (_, false, false) => subject.iter().any(matches),
                }
            }
        })
    }
}

impl Shape {
    fn of(source: &[u8]) -> Shape {
        // The matcher stops at a NUL; such patterns are left to it.
        if source.contains(&0) {
            return Shape::General;
        }
        let (start, rest) = split_anchor(source);
        // A final `$` anchors unless escaped (an escaped `%` before it is left to the
        // matcher too).
        let (end, body) = match rest.split_last() {
            Some((b'$', body)) if body.last() != Some(&ESC) => (true, body),
            _ => (false, rest),
        };
        // `)` is no special for `find`, but an unmatched one is an error to `match`.
        let plain = |c: &u8| !SPECIALS.contains(c) && *c != b')';
        if body.iter().all(plain) {
            return Shape::Literal {
                text: body.to_vec(),
                start,
                end,
            };
        }
        // One item: `.`, a class (not `%b`, `%f` or a back reference), a set, or a byte.
        let single = match body {
            [b'.' | b'[', ..] => true,
            [ESC, class, ..] => !matches!(class, b'b' | b'f' | b'0'..=b'9'),
            [c, ..] => plain(c),
            [] => false,
        };
        if !single {
            return Shape::General;
        }
        let Ok((item, next)) = Matcher::new(b"", body, u64::MAX).item(0) else {
            return Shape::General;
        };
        let count = match &body[next..] {
            [] => Count::One,
            [b'+'] => Count::OneOrMore,
            [b'*'] => Count::Any,
            _ => return Shape::General,
        };
        Shape::Run {
            item,
            count,
            start,
            end,
        }
    }
}
