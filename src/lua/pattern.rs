//! Lua 5.1 / LuaJIT 2.1 patterns (reference manual §5.4.1) over bytes, with a work budget.
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

use smallvec::SmallVec;

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

#[derive(Debug, Clone, Copy)]
enum Slot {
    Open,
    Position,
    Closed(usize),
}

#[derive(Debug, Clone, Copy)]
struct CaptureSlot {
    start: usize,
    slot: Slot,
}

/// A compiled `[set]`: membership bitmap and the pattern offset just past its `]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Set {
    bits: [u64; 4],
    end: usize,
}

impl Set {
    fn contains(&self, c: u8) -> bool {
        self.bits[usize::from(c >> 6)] & (1 << (c & 63)) != 0
    }

    fn insert(&mut self, c: u8) {
        self.bits[usize::from(c >> 6)] |= 1 << (c & 63);
    }
}

/// A single-byte pattern item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Any,
    Set(Set),
    Byte(u8),
}

impl Item {
    fn matches(&self, c: u8) -> bool {
        match self {
            Item::Any => true,
            Item::Set(set) => set.contains(c),
            Item::Byte(b) => *b == c,
        }
    }
}

/// `%a` and friends in the C locale, as LuaJIT classifies them; an unknown letter or any other
/// byte after `%` stands for itself.
const fn class_matches(c: u8, class: u8) -> bool {
    let hit = match class.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'g' => c.is_ascii_graphic(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        // C isspace includes \v, which is_ascii_whitespace does not.
        b's' => matches!(c, b' ' | b'\t'..=b'\r'),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        b'z' => c == 0,
        _ => return class == c,
    };
    hit != class.is_ascii_uppercase()
}

/// Every class's membership bitmap, by the byte after `%`, built at compile time: a `[%w]`
/// set then costs four ORs instead of 256 classifications.
static CLASS_BITS: [[u64; 4]; 256] = {
    let mut table = [[0u64; 4]; 256];
    let mut class = 0;
    while class < 256 {
        let mut c = 0;
        while c < 256 {
            if class_matches(c as u8, class as u8) {
                table[class][c >> 6] |= 1 << (c & 63);
            }
            c += 1;
        }
        class += 1;
    }
    table
};

/// What matching the item at a pattern offset leads to (offsets are `(subject, pattern)`).
#[derive(Debug, Clone, Copy)]
enum Next {
    /// The match ends at this subject offset, or fails.
    Done(Option<usize>),
    /// Go on with the next item at these offsets.
    Continue(usize, usize),
    /// Open a capture here; the rest of the pattern starts at the offset.
    Open(Slot, usize),
    /// Close the innermost open capture here; the rest of the pattern starts at the offset.
    Close(usize),
    /// `x?`: whether `x` matched here, and the offset of the `?`.
    Optional(bool, usize),
    /// `x*` or `x+`: expand greedily from the subject offset; the quantifier's offset.
    Greedy(Item, usize, usize),
    /// `x-`: the quantifier's offset.
    Lazy(Item, usize),
}

/// Matches one pattern against one subject, sharing a step budget across calls (so one `gsub`
/// or one `gmatch` iteration is bounded as a whole).
#[derive(Debug)]
pub struct Matcher<'a> {
    subject: &'a [u8],
    pattern: &'a [u8],
    max_steps: u64,
    steps_left: u64,
    level: usize,
    captures: [CaptureSlot; MAX_CAPTURES],
    /// Sets compiled so far, by the offset of their `[`: the first four inline, so that
    /// matching a common pattern allocates nothing.
    sets: SmallVec<[(usize, Set); 4]>,
}

impl<'a> Matcher<'a> {
    /// `pattern` is taken literally: a leading `^` is an ordinary byte here (use
    /// [`split_anchor`]). Like LuaJIT, the pattern ends at its first NUL byte.
    pub fn new(subject: &'a [u8], pattern: &'a [u8], max_steps: u64) -> Self {
        let pattern = match pattern.iter().position(|&c| c == 0) {
            Some(nul) => &pattern[..nul],
            None => pattern,
        };
        Matcher {
            subject,
            pattern,
            max_steps,
            steps_left: max_steps,
            level: 0,
            captures: [CaptureSlot {
                start: 0,
                slot: Slot::Open,
            }; MAX_CAPTURES],
            sets: SmallVec::new(),
        }
    }

    /// Steps spent so far by this matcher.
    pub fn steps_used(&self) -> u64 {
        self.max_steps - self.steps_left
    }

    /// Tries the pattern at exactly `pos`; `None` if it does not match there or `pos` is past
    /// the end of the subject.
    pub fn match_at(&mut self, pos: usize) -> Result<Option<Match>, PatternError> {
        if pos > self.subject.len() {
            return Ok(None);
        }
        self.level = 0;
        let Some(end) = self.do_match(pos, 0, 1)? else {
            return Ok(None);
        };
        let captures = self.captures[..self.level]
            .iter()
            .map(|c| match c.slot {
                Slot::Open => Capture::Unfinished,
                Slot::Position => Capture::Position(c.start),
                Slot::Closed(len) => Capture::Range(c.start, c.start + len),
            })
            .collect();
        Ok(Some(Match {
            start: pos,
            end,
            captures,
        }))
    }

    /// Tries every start position from `from` to the end of the subject inclusive (only `from`
    /// if `anchored`) and returns the first match.
    pub fn search(&mut self, from: usize, anchored: bool) -> Result<Option<Match>, PatternError> {
        if from > self.subject.len() {
            return Ok(None);
        }
        let first = if anchored {
            None
        } else {
            self.first_byte_item()?
        };
        for pos in from..=self.subject.len() {
            // A start where the pattern's first item cannot match fails at once in C
            // too; it is skipped for a step, without entering the match routine.
            if let Some(item) = &first
                && !self.subject.get(pos).is_some_and(|&c| item.matches(c))
            {
                self.charge(1)?;
                continue;
            }
            if let Some(found) = self.match_at(pos)? {
                return Ok(Some(found));
            }
            if anchored {
                break;
            }
        }
        Ok(None)
    }

    /// The pattern's first item when every match must begin with one byte it matches:
    /// a single-byte item with no quantifier or `+`. A malformed first item raises its
    /// error here, as C's first attempt would, whatever the subject.
    fn first_byte_item(&mut self) -> Result<Option<Item>, PatternError> {
        match self.pattern.first() {
            None | Some(b'(' | b')') => return Ok(None),
            Some(&b'$') if self.pattern.len() == 1 => return Ok(None),
            Some(&ESC) if matches!(self.pat(1), b'b' | b'f' | b'0'..=b'9') => return Ok(None),
            Some(_) => {}
        }
        let (item, ep) = self.item(0)?;
        // `?`, `*` and `-` let a match begin without it.
        Ok((!matches!(self.pat(ep), b'?' | b'*' | b'-')).then_some(item))
    }

    fn charge(&mut self, steps: u64) -> Result<(), PatternError> {
        match self.steps_left.checked_sub(steps) {
            Some(left) => {
                self.steps_left = left;
                Ok(())
            }
            None => {
                self.steps_left = 0;
                Err(PatternError::TooComplex)
            }
        }
    }

    /// Pattern byte at `p`, or NUL past the end, mirroring C's terminated string.
    fn pat(&self, p: usize) -> u8 {
        self.pattern.get(p).copied().unwrap_or(0)
    }

    /// Matches the rest of the pattern from `p` against the subject from `s`, `depth` levels
    /// deep; returns where the match ends.
    fn do_match(
        &mut self,
        mut s: usize,
        mut p: usize,
        depth: u32,
    ) -> Result<Option<usize>, PatternError> {
        if depth > MAX_DEPTH {
            return Err(PatternError::TooComplex);
        }
        // Single items continue in this loop instead of recursing (the C code's `goto init`),
        // so recursion depth does not grow with the length of a plain sequence. The work that
        // needs no recursion lives in `next` to keep this recursive frame small.
        loop {
            match self.next(s, p)? {
                Next::Done(end) => return Ok(end),
                Next::Continue(s_next, p_next) => (s, p) = (s_next, p_next),
                Next::Open(slot, rest) => return self.start_capture(s, rest, slot, depth),
                Next::Close(rest) => return self.end_capture(s, rest, depth),
                Next::Optional(matched, ep) => {
                    if matched && let Some(end) = self.do_match(s + 1, ep + 1, depth + 1)? {
                        return Ok(Some(end));
                    }
                    p = ep + 1;
                }
                Next::Greedy(item, from, ep) => return self.max_expand(from, &item, ep, depth),
                Next::Lazy(item, ep) => return self.min_expand(s, &item, ep, depth),
            }
        }
    }

    /// Handles the pattern item at `p` as far as possible without recursing.
    fn next(&mut self, s: usize, p: usize) -> Result<Next, PatternError> {
        self.charge(1)?;
        let subject = self.subject;
        let Some(&c) = self.pattern.get(p) else {
            return Ok(Next::Done(Some(s)));
        };
        match c {
            b'(' if self.pat(p + 1) == b')' => return Ok(Next::Open(Slot::Position, p + 2)),
            b'(' => return Ok(Next::Open(Slot::Open, p + 1)),
            b')' => return Ok(Next::Close(p + 1)),
            b'$' if p + 1 == self.pattern.len() => {
                return Ok(Next::Done((s == subject.len()).then_some(s)));
            }
            ESC if self.pat(p + 1) == b'b' => {
                return Ok(match self.balance(s, p + 2)? {
                    Some(end) => Next::Continue(end, p + 4),
                    None => Next::Done(None),
                });
            }
            ESC if self.pat(p + 1) == b'f' => {
                let p = p + 2;
                if self.pat(p) != b'[' {
                    return Err(PatternError::FrontierWithoutSet);
                }
                let set = self.set(p)?;
                let previous = if s == 0 { 0 } else { subject[s - 1] };
                let current = subject.get(s).copied().unwrap_or(0);
                return Ok(if set.contains(previous) || !set.contains(current) {
                    Next::Done(None)
                } else {
                    Next::Continue(s, set.end)
                });
            }
            ESC if self.pat(p + 1).is_ascii_digit() => {
                return Ok(match self.back_reference(s, self.pat(p + 1))? {
                    Some(end) => Next::Continue(end, p + 2),
                    None => Next::Done(None),
                });
            }
            _ => {}
        }
        let (item, ep) = self.item(p)?;
        let matched = subject.get(s).is_some_and(|&c| item.matches(c));
        Ok(match self.pat(ep) {
            b'?' => Next::Optional(matched, ep),
            b'*' => Next::Greedy(item, s, ep),
            b'+' if matched => Next::Greedy(item, s + 1, ep),
            b'+' => Next::Done(None),
            b'-' => Next::Lazy(item, ep),
            _ if matched => Next::Continue(s + 1, ep),
            _ => Next::Done(None),
        })
    }

    /// The single-byte item at `p` and the offset just past it.
    fn item(&mut self, p: usize) -> Result<(Item, usize), PatternError> {
        match self.pat(p) {
            b'.' => Ok((Item::Any, p + 1)),
            // A class tests as a bitmap: one lookup per subject byte.
            ESC if p + 1 < self.pattern.len() => Ok((
                Item::Set(Set {
                    bits: CLASS_BITS[usize::from(self.pattern[p + 1])],
                    end: p + 2,
                }),
                p + 2,
            )),
            ESC => Err(PatternError::EndsWithEscape),
            b'[' => {
                let set = self.set(p)?;
                Ok((Item::Set(set), set.end))
            }
            c => Ok((Item::Byte(c), p + 1)),
        }
    }

    /// Compiles (once) the set whose `[` is at `p`.
    fn set(&mut self, p: usize) -> Result<Set, PatternError> {
        if let Some((_, set)) = self.sets.iter().find(|(at, _)| *at == p) {
            return Ok(*set);
        }
        let pat = self.pattern;
        // Find the closing `]` the way C's classend does: the first byte (after an optional
        // `^`) is always a member, so `[]]` and `[^]]` work, and `%x` escapes are skipped.
        let mut q = p + 1;
        if self.pat(q) == b'^' {
            q += 1;
        }
        loop {
            if q >= pat.len() {
                return Err(PatternError::MissingBracket);
            }
            let c = pat[q];
            q += 1;
            if c == ESC && q < pat.len() {
                q += 1;
            }
            if self.pat(q) == b']' {
                break;
            }
        }
        let close = q;
        self.charge((close - p) as u64)?;

        // Membership as C's matchbracketclass decides it. Its walk can disagree with the one
        // above (a range may swallow a `%`), and may then read the closing `]` as a class
        // byte; `close < pat.len()` keeps that in bounds.
        let mut set = Set {
            bits: [0; 4],
            end: close + 1,
        };
        let negate = pat[p + 1] == b'^';
        let mut i = if negate { p + 1 } else { p };
        loop {
            i += 1;
            if i >= close {
                break;
            }
            if pat[i] == ESC {
                i += 1;
                let class = &CLASS_BITS[usize::from(pat[i])];
                for (word, bits) in set.bits.iter_mut().zip(class) {
                    *word |= bits;
                }
            } else if pat[i + 1] == b'-' && i + 2 < close {
                for c in pat[i]..=pat[i + 2] {
                    set.insert(c);
                }
                i += 2;
            } else {
                set.insert(pat[i]);
            }
        }
        if negate {
            for word in &mut set.bits {
                *word = !*word;
            }
        }
        self.sets.push((p, set));
        Ok(set)
    }

    fn start_capture(
        &mut self,
        s: usize,
        p: usize,
        slot: Slot,
        depth: u32,
    ) -> Result<Option<usize>, PatternError> {
        if self.level >= MAX_CAPTURES {
            return Err(PatternError::TooManyCaptures);
        }
        self.captures[self.level] = CaptureSlot { start: s, slot };
        self.level += 1;
        let result = self.do_match(s, p, depth + 1)?;
        if result.is_none() {
            self.level -= 1;
        }
        Ok(result)
    }

    fn end_capture(
        &mut self,
        s: usize,
        p: usize,
        depth: u32,
    ) -> Result<Option<usize>, PatternError> {
        let open = (0..self.level)
            .rev()
            .find(|&l| matches!(self.captures[l].slot, Slot::Open))
            .ok_or(PatternError::InvalidPatternCapture)?;
        self.captures[open].slot = Slot::Closed(s - self.captures[open].start);
        let result = self.do_match(s, p, depth + 1)?;
        if result.is_none() {
            self.captures[open].slot = Slot::Open;
        }
        Ok(result)
    }

    /// `%1`-`%9` (`digit` is the ASCII digit; `%0` is an invalid index as in Lua 5.1).
    fn back_reference(&mut self, s: usize, digit: u8) -> Result<Option<usize>, PatternError> {
        let index = usize::from(digit.wrapping_sub(b'1'));
        let Some(capture) = self.captures[..self.level].get(index).copied() else {
            return Err(PatternError::InvalidCaptureIndex);
        };
        match capture.slot {
            Slot::Open => Err(PatternError::InvalidCaptureIndex),
            // C treats the position marker as a huge length, so this never matches.
            Slot::Position => Ok(None),
            Slot::Closed(len) => {
                if self.subject.len() - s < len {
                    return Ok(None);
                }
                self.charge(len as u64)?;
                let captured = &self.subject[capture.start..capture.start + len];
                Ok((captured == &self.subject[s..s + len]).then_some(s + len))
            }
        }
    }

    /// `%bxy` with `p` at `x`.
    fn balance(&mut self, s: usize, p: usize) -> Result<Option<usize>, PatternError> {
        if p + 1 >= self.pattern.len() {
            return Err(PatternError::Unbalanced);
        }
        let (open, close) = (self.pattern[p], self.pattern[p + 1]);
        if self.subject.get(s) != Some(&open) {
            return Ok(None);
        }
        let mut nesting = 1usize;
        let rest = &self.subject[s + 1..];
        for (i, &c) in rest.iter().enumerate() {
            // Close is tested first, so `%bxx` ends at the next `x`.
            if c == close {
                nesting -= 1;
                if nesting == 0 {
                    self.charge(i as u64 + 1)?;
                    return Ok(Some(s + i + 2));
                }
            } else if c == open {
                nesting += 1;
            }
        }
        self.charge(rest.len() as u64)?;
        Ok(None)
    }

    /// Greedy `*` (and `+` after its first byte): longest run first, then backtrack.
    fn max_expand(
        &mut self,
        s: usize,
        item: &Item,
        ep: usize,
        depth: u32,
    ) -> Result<Option<usize>, PatternError> {
        let mut len = self.run_length(s, item)?;
        loop {
            if let Some(end) = self.do_match(s + len, ep + 1, depth + 1)? {
                return Ok(Some(end));
            }
            if len == 0 {
                return Ok(None);
            }
            len -= 1;
        }
    }

    /// How many bytes from `s` on match `item` (kept out of `max_expand`'s recursive frame).
    fn run_length(&mut self, s: usize, item: &Item) -> Result<usize, PatternError> {
        let run = self.subject[s..]
            .iter()
            .take_while(|&&c| item.matches(c))
            .count();
        self.charge(run as u64)?;
        Ok(run)
    }

    /// Lazy `-`: shortest run first.
    fn min_expand(
        &mut self,
        mut s: usize,
        item: &Item,
        ep: usize,
        depth: u32,
    ) -> Result<Option<usize>, PatternError> {
        loop {
            if let Some(end) = self.do_match(s, ep + 1, depth + 1)? {
                return Ok(Some(end));
            }
            if self.subject.get(s).is_some_and(|&c| item.matches(c)) {
                s += 1;
            } else {
                return Ok(None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        let m =
            find(subject, pattern).unwrap_or_else(|e| panic!("{pattern:?} on {subject:?}: {e}"))?;
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
}
