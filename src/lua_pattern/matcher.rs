//! The backtracking matcher: the routines of LuaJIT's `lib_string.c` (`match`,
//! `max_expand`, `min_expand`, `matchbalance`, `classend`, `matchbracketclass`) over bytes,
//! each unit of work charged to the step budget.

use smallvec::SmallVec;

use super::{Capture, ESC, MAX_CAPTURES, MAX_DEPTH, Match, PatternError};

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
pub(super) struct Set {
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
pub(super) enum Item {
    Any,
    Set(Set),
    Byte(u8),
}

impl Item {
    pub(super) fn matches(&self, c: u8) -> bool {
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
    pub(super) fn item(&mut self, p: usize) -> Result<(Item, usize), PatternError> {
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
