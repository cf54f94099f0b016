//! API tokens: `kpat_` personal access tokens and `spat_` system-account tokens, each
//! the prefix and 49 characters of `[A-Za-z0-9]` (Konnect identity v3 examples). Only the
//! SHA-256 digest of a token is ever stored.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Timestamp;

/// Characters after the prefix.
pub const SECRET_LEN: usize = 49;
pub const NAME_MAX: usize = 128;
/// Konnect allows token lifetimes of 1 to 365 days (identity v3 `ttl_seconds`).
pub const TTL_DAYS_MAX: u32 = 365;
/// `last_used_at` is refreshed at most this often, so auth is not a write per request.
pub const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    PersonalAccess,
    SystemAccount,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::PersonalAccess => "kpat_",
            TokenKind::SystemAccount => "spat_",
        }
    }

    /// The word stored in the database and shown by `token list`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::PersonalAccess => "pat",
            TokenKind::SystemAccount => "spat",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pat" => Some(TokenKind::PersonalAccess),
            "spat" => Some(TokenKind::SystemAccount),
            _ => None,
        }
    }
}

/// A well-formed token in the clear. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// A new token drawn from the thread-local CSPRNG (ChaCha, seeded by the OS).
    pub fn generate(kind: TokenKind) -> Self {
        let body: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(SECRET_LEN)
            .map(char::from)
            .collect();
        TokenSecret(format!("{}{body}", kind.prefix()))
    }

    /// Accepts exactly a known prefix plus 49 ASCII alphanumerics.
    pub fn parse(raw: &str) -> Option<Self> {
        let kind = Self::kind_of(raw)?;
        let body = &raw[kind.prefix().len()..];
        (body.len() == SECRET_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| TokenSecret(raw.to_string()))
    }

    fn kind_of(raw: &str) -> Option<TokenKind> {
        [TokenKind::PersonalAccess, TokenKind::SystemAccount]
            .into_iter()
            .find(|k| raw.starts_with(k.prefix()))
    }

    pub fn kind(&self) -> TokenKind {
        Self::kind_of(&self.0).expect("a parsed token has a known prefix")
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest(hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    /// The token itself, for the one place that shows it to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSecret({}…)", self.kind().prefix())
    }
}

/// Lower-case hex SHA-256 of a token: the lookup key in storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenDigest(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Active,
    Revoked,
    Expired,
}

impl TokenState {
    /// Konnect's words (identity v3 `state`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "ACTIVE",
            TokenState::Revoked => "REVOKED",
            TokenState::Expired => "EXPIRED",
        }
    }
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: Uuid,
    pub name: String,
    pub kind: TokenKind,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// `None`: every control plane. `Some`: only these (system accounts only).
    pub control_planes: Option<Vec<Uuid>>,
}

impl Token {
    pub fn state(&self, now: Timestamp) -> TokenState {
        if self.revoked_at.is_some() {
            TokenState::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    /// Whether this use should refresh `last_used_at`.
    pub fn needs_touch(&self, now: Timestamp) -> bool {
        self.last_used_at
            .is_none_or(|at| now.saturating_duration_since(at) >= LAST_USED_RESOLUTION)
    }

    pub fn principal(&self) -> Principal {
        Principal {
            token_id: self.id,
            control_planes: self.control_planes.clone(),
        }
    }
}

/// What a token creation asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub kind: TokenKind,
    pub ttl_days: Option<u32>,
    pub control_planes: Option<Vec<Uuid>>,
}

impl NewToken {
    pub fn new(
        name: &str,
        kind: TokenKind,
        ttl_days: Option<u32>,
        control_planes: Vec<Uuid>,
    ) -> Result<Self, String> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return Err(format!("a token name has 1 to {NAME_MAX} characters"));
        }
        if let Some(days) = ttl_days
            && !(1..=TTL_DAYS_MAX).contains(&days)
        {
            return Err(format!("--ttl-days must be between 1 and {TTL_DAYS_MAX}"));
        }
        if !control_planes.is_empty() && kind != TokenKind::SystemAccount {
            return Err("only system-account tokens can be limited to control planes".into());
        }
        Ok(NewToken {
            name: name.to_string(),
            kind,
            ttl_days,
            control_planes: (!control_planes.is_empty()).then_some(control_planes),
        })
    }

    /// The stored row for this request, created at `now`.
    pub fn into_token(self, now: Timestamp) -> Token {
        Token {
            id: Uuid::new_v4(),
            name: self.name,
            kind: self.kind,
            created_at: now,
            expires_at: self
                .ttl_days
                .map(|d| now + Duration::from_secs(u64::from(d) * 86_400)),
            last_used_at: None,
            revoked_at: None,
            control_planes: self.control_planes,
        }
    }
}

/// Who is calling, once a token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: Uuid,
    pub control_planes: Option<Vec<Uuid>>,
}

impl Principal {
    pub fn may_access(&self, control_plane: Uuid) -> bool {
        self.control_planes
            .as_ref()
            .is_none_or(|ids| ids.contains(&control_plane))
    }

    /// Tokens limited to some control planes cannot create or list beyond them.
    pub fn is_limited(&self) -> bool {
        self.control_planes.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis)
    }

    #[test]
    fn generated_tokens_have_konnects_shape_and_differ() {
        let a = TokenSecret::generate(TokenKind::PersonalAccess);
        let b = TokenSecret::generate(TokenKind::PersonalAccess);
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 5 + SECRET_LEN);
        assert!(a.expose().starts_with("kpat_"));
        assert_eq!(TokenSecret::parse(a.expose()), Some(a.clone()));
        let s = TokenSecret::generate(TokenKind::SystemAccount);
        assert_eq!(s.kind(), TokenKind::SystemAccount);
        assert!(!format!("{a:?}").contains(&a.expose()[5..]));
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        let body = "a".repeat(SECRET_LEN);
        assert!(TokenSecret::parse(&format!("kpat_{body}")).is_some());
        for bad in [
            format!("kpat_{}", "a".repeat(SECRET_LEN - 1)),
            format!("kpat_{}", "a".repeat(SECRET_LEN + 1)),
            format!("kpat_{}!", "a".repeat(SECRET_LEN - 1)),
            format!("xpat_{body}"),
            format!("KPAT_{body}"),
            String::new(),
        ] {
            assert!(TokenSecret::parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_digest_is_sha256_hex() {
        let t = TokenSecret(format!("kpat_{}", "a".repeat(SECRET_LEN)));
        let d = t.digest();
        assert_eq!(d.0.len(), 64);
        assert_eq!(d, t.digest());
        assert!(!d.0.contains("kpat"));
    }

    #[test]
    fn state_follows_revocation_then_expiry() {
        let mut t = NewToken::new("ci", TokenKind::PersonalAccess, Some(1), vec![])
            .unwrap()
            .into_token(ms(0));
        assert_eq!(t.state(ms(1)), TokenState::Active);
        assert_eq!(t.state(ms(86_400_000)), TokenState::Expired);
        t.revoked_at = Some(ms(5));
        assert_eq!(t.state(ms(6)), TokenState::Revoked);
    }

    #[test]
    fn creation_rules() {
        assert!(NewToken::new(" ", TokenKind::PersonalAccess, None, vec![]).is_err());
        assert!(NewToken::new("a", TokenKind::PersonalAccess, Some(0), vec![]).is_err());
        assert!(NewToken::new("a", TokenKind::PersonalAccess, Some(366), vec![]).is_err());
        let cp = Uuid::new_v4();
        assert!(NewToken::new("a", TokenKind::PersonalAccess, None, vec![cp]).is_err());
        let t = NewToken::new("a", TokenKind::SystemAccount, None, vec![cp]).unwrap();
        let p = t.into_token(ms(0)).principal();
        assert!(p.may_access(cp) && !p.may_access(Uuid::new_v4()) && p.is_limited());
    }

    #[test]
    fn last_used_is_refreshed_at_most_once_a_minute() {
        let mut t = NewToken::new("a", TokenKind::PersonalAccess, None, vec![])
            .unwrap()
            .into_token(ms(0));
        assert!(t.needs_touch(ms(0)));
        t.last_used_at = Some(ms(1000));
        assert!(!t.needs_touch(ms(1000 + 60_000 - 1)));
        assert!(t.needs_touch(ms(1000) + LAST_USED_RESOLUTION));
    }
}
