//! Which sandbox limits one evaluation ran into, for `/metrics`. A limit is noted where
//! it fires (the time hook, the memory error, the pattern step budget), even when the
//! schema catches the error with `pcall`, so the count does not depend on how the schema
//! reacts. Notes go to the running thread: an evaluation runs wholly on one blocking
//! thread of [`super::runner::LuaRunner`], which takes them when the evaluation ends.

use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Time,
    Memory,
    PatternSteps,
}

impl Limit {
    pub const ALL: [Limit; 3] = [Limit::Time, Limit::Memory, Limit::PatternSteps];

    pub fn label(self) -> &'static str {
        match self {
            Limit::Time => "time",
            Limit::Memory => "memory",
            Limit::PatternSteps => "pattern_steps",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

thread_local! {
    static HIT: Cell<u8> = const { Cell::new(0) };
}

/// Notes that `limit` stopped something on this thread.
pub fn note(limit: Limit) {
    HIT.with(|hit| hit.set(hit.get() | limit.bit()));
}

/// The limits noted on this thread since the last call, each once.
pub fn take() -> Vec<Limit> {
    let hit = HIT.with(|hit| hit.replace(0));
    Limit::ALL
        .into_iter()
        .filter(|limit| hit & limit.bit() != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_is_taken_once() {
        take();
        note(Limit::Time);
        note(Limit::Time);
        note(Limit::PatternSteps);
        assert_eq!(take(), vec![Limit::Time, Limit::PatternSteps]);
        assert_eq!(take(), vec![]);
    }
}
