//! Tokens as authentication reads them, from memory: a request pays no database round
//! trip for its token while nothing that could change a token has happened. Expiry is
//! judged on every request from the cached row, so it holds at once; a revocation holds
//! from the next request:
//!
//! - PostgreSQL: `revoke_token` sends a `NOTIFY` on [`TOKENS_CHANNEL`] in its own
//!   statement (from the server or the CLI, on any node), and every node forgets its
//!   cached tokens when it hears one. While a node is not listening (before its `LISTEN`
//!   is up, or while it reconnects) it caches nothing and reads every token.
//! - SQLite: before using the cache, a lookup reads the WAL index header from the
//!   database's `-shm` file (one `pread`, no database call). Its `iChange` counter moves
//!   with every committed transaction of any process (sqlite.org, "WAL-mode File
//!   Format", the WAL-index header), the CLI's revocations included; when the header
//!   moved, the cache is emptied and the token read again. A header that cannot be read
//!   counts as moved.
//!
//! A lookup that misses reads the row and caches it only if nothing emptied the cache
//! meanwhile (the generation it started from is still current), so a row read before a
//! revocation is never kept after it.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::domain::Timestamp;
use crate::domain::token::Token;

/// The PostgreSQL channel a revocation is announced on (payload unused).
pub const TOKENS_CHANNEL: &str = "konnektd_tokens";

/// Past this many cached tokens the cache starts over (a bound, not an eviction policy:
/// a deployment has a handful of tokens).
const MAX_ENTRIES: usize = 10_000;

/// The WAL index header: two copies of 48 bytes at the start of the `-shm` file.
const HEADER: usize = 48;

#[derive(Debug)]
pub(super) struct TokenCache {
    state: Mutex<State>,
    /// PostgreSQL: whether this node hears revocations now.
    hearing: AtomicBool,
    /// SQLite: the `-shm` file whose header says whether anything was committed.
    shm: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Token>,
    /// Moves whenever the cache is emptied.
    generation: u64,
    /// SQLite: the header seen when the cache was last emptied.
    header: Option<[u8; HEADER]>,
    shm_file: Option<std::fs::File>,
}

/// What a lookup found: the cached token, or the generation to cache a fresh read under.
pub(super) enum Cached {
    Hit(Token),
    Miss(Option<u64>),
}

impl TokenCache {
    /// `sqlite_file`: the database file on SQLite (`None` for PostgreSQL, or for an
    /// in-memory SQLite database, which then caches nothing).
    pub(super) fn new(sqlite_file: Option<PathBuf>) -> Self {
        TokenCache {
            state: Mutex::default(),
            hearing: AtomicBool::new(false),
            shm: sqlite_file.map(|db| {
                let mut name = db.into_os_string();
                name.push("-shm");
                PathBuf::from(name)
            }),
        }
    }

    /// The cached token for `digest`, or whether a fresh read may be cached (and under
    /// which generation).
    pub(super) fn lookup(&self, digest: &str, sqlite: bool) -> Cached {
        let mut state = self.state.lock().expect("token cache lock");
        if sqlite {
            let header = self.read_header(&mut state);
            if header.is_none() || header != state.header {
                state.forget();
                state.header = header;
            }
            if header.is_none() {
                return Cached::Miss(None);
            }
        } else if !self.hearing.load(Ordering::Acquire) {
            return Cached::Miss(None);
        }
        match state.entries.get(digest) {
            Some(token) => Cached::Hit(token.clone()),
            None => Cached::Miss(Some(state.generation)),
        }
    }

    /// Keeps a token read under `generation`, unless the cache was emptied since.
    pub(super) fn keep(&self, digest: &str, token: &Token, generation: u64) {
        let mut state = self.state.lock().expect("token cache lock");
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        state.entries.insert(digest.to_string(), token.clone());
    }

    /// Records a use, so the cached row does not ask for another touch at once.
    pub(super) fn used(&self, digest: &str, now: Timestamp) {
        let mut state = self.state.lock().expect("token cache lock");
        if let Some(token) = state.entries.get_mut(digest) {
            token.last_used_at = Some(now);
        }
    }

    /// Empties the cache (a token changed, here or on another node).
    pub(super) fn forget(&self) {
        self.state.lock().expect("token cache lock").forget();
    }

    /// PostgreSQL: whether revocations are heard from now on (`LISTEN` is up) or not.
    pub(super) fn set_hearing(&self, hearing: bool) {
        let mut state = self.state.lock().expect("token cache lock");
        state.forget();
        self.hearing.store(hearing, Ordering::Release);
    }

    /// The WAL index header, when both copies agree (they differ only mid-commit).
    fn read_header(&self, state: &mut State) -> Option<[u8; HEADER]> {
        let path = self.shm.as_ref()?;
        if state.shm_file.is_none() {
            state.shm_file = std::fs::File::open(path).ok();
        }
        let mut both = [0u8; 2 * HEADER];
        match state.shm_file.as_ref()?.read_exact_at(&mut both, 0) {
            Ok(()) => {}
            Err(e) => {
                if e.kind() != ErrorKind::UnexpectedEof {
                    state.shm_file = None;
                }
                return None;
            }
        }
        let (first, second) = both.split_at(HEADER);
        (first == second).then(|| first.try_into().expect("48 bytes"))
    }
}

impl State {
    fn forget(&mut self) {
        self.entries.clear();
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::token::TokenKind;

    fn token() -> Token {
        Token {
            id: uuid::Uuid::new_v4(),
            name: "t".into(),
            kind: TokenKind::PersonalAccess,
            created_at: Timestamp::from_millis(0),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            control_planes: None,
        }
    }

    #[test]
    fn postgres_caches_only_while_hearing_and_a_read_from_before_a_forget_is_not_kept() {
        let cache = TokenCache::new(None);
        assert!(matches!(cache.lookup("d", false), Cached::Miss(None)));
        cache.set_hearing(true);
        let Cached::Miss(Some(generation)) = cache.lookup("d", false) else {
            panic!("a miss to cache")
        };
        cache.forget();
        cache.keep("d", &token(), generation);
        let Cached::Miss(Some(generation)) = cache.lookup("d", false) else {
            panic!("the stale read was not kept")
        };
        cache.keep("d", &token(), generation);
        assert!(matches!(cache.lookup("d", false), Cached::Hit(_)));
        cache.set_hearing(false);
        assert!(matches!(cache.lookup("d", false), Cached::Miss(None)));
    }

    #[test]
    fn sqlite_without_a_readable_header_caches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(Some(dir.path().join("none.db")));
        assert!(matches!(cache.lookup("d", true), Cached::Miss(None)));
    }
}
