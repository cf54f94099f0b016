//! Token rows. Lookups go by digest; the secret itself never reaches the database.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use super::token_cache::{Cached, TOKENS_CHANNEL};
use super::{
    Backend, Notification, Store, StoreError, StoreResult, from_json, notify_on, parse_uuid,
};
use crate::domain::Timestamp;
use crate::domain::token::{Token, TokenDigest, TokenKind};

const COLUMNS: &str =
    "id, name, kind, created_at, expires_at, last_used_at, revoked_at, control_planes";

fn token_from_row(row: &AnyRow) -> StoreResult<Token> {
    let kind: String = row.try_get("kind")?;
    let control_planes: Option<String> = row.try_get("control_planes")?;
    Ok(Token {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        name: row.try_get("name")?,
        kind: TokenKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: millis_or_null(row, "expires_at")?,
        last_used_at: millis_or_null(row, "last_used_at")?,
        revoked_at: millis_or_null(row, "revoked_at")?,
        control_planes: control_planes.as_deref().map(from_json).transpose()?,
    })
}

fn millis_or_null(row: &AnyRow, column: &str) -> StoreResult<Option<Timestamp>> {
    let millis: Option<i64> = row.try_get(column)?;
    Ok(millis.map(Timestamp::from_millis))
}

impl Store {
    /// Stores a new token; a clash on an active name is [`StoreError::Conflict`].
    pub async fn insert_token(&self, token: &Token, digest: &TokenDigest) -> StoreResult<()> {
        let control_planes = token
            .control_planes
            .as_ref()
            .map(|ids| serde_json::to_string(ids).expect("uuids serialise"));
        sqlx::query(
            "INSERT INTO tokens (id, name, kind, digest, created_at, expires_at, last_used_at, revoked_at, control_planes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(token.id.to_string())
        .bind(&token.name)
        .bind(token.kind.as_str())
        .bind(&digest.0)
        .bind(token.created_at.millis())
        .bind(token.expires_at.map(Timestamp::millis))
        .bind(token.last_used_at.map(Timestamp::millis))
        .bind(token.revoked_at.map(Timestamp::millis))
        .bind(control_planes)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(|e| StoreError::from_sqlx(e, "a token with this name"))?;
        Ok(())
    }

    /// The token with this digest, from memory while no token can have changed
    /// (`token_cache.rs` says how each backend knows).
    pub async fn token_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<Token>> {
        let generation = match self
            .tokens
            .lookup(&digest.0, self.backend == Backend::Sqlite)
        {
            Cached::Hit(token) => return Ok(Some(token)),
            Cached::Miss(generation) => generation,
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tokens WHERE digest = $1"
        )))
        .bind(&digest.0)
        .fetch_optional(&mut *self.connection().await?)
        .await?;
        let token = row.as_ref().map(token_from_row).transpose()?;
        if let (Some(token), Some(generation)) = (&token, generation) {
            self.tokens.keep(&digest.0, token, generation);
        }
        Ok(token)
    }

    /// Notes in the cached row that the token was used now (the touch itself is
    /// written in the background), so the next request does not touch it again.
    pub fn token_used(&self, digest: &TokenDigest, now: Timestamp) {
        self.tokens.used(&digest.0, now);
    }

    /// Forgets every cached token (a node heard of a revocation).
    pub(super) fn forget_tokens(&self) {
        self.tokens.forget();
    }

    /// Whether this node hears other processes' revocations (PostgreSQL's `LISTEN`).
    pub(super) fn hearing_token_changes(&self, hearing: bool) {
        self.tokens.set_hearing(hearing);
    }

    /// The token with this id, for a web UI session, which names its token by id.
    pub async fn token_by_id(&self, id: Uuid) -> StoreResult<Option<Token>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tokens WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&mut *self.connection().await?)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Every token, oldest first.
    pub async fn list_tokens(&self) -> StoreResult<Vec<Token>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM tokens ORDER BY created_at, id"
        )))
        .fetch_all(&mut *self.connection().await?)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    pub async fn count_tokens(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(&mut *self.connection().await?)
            .await?)
    }

    /// Revokes the active token of that name; `false` when there is none.
    /// Every node hears of it when it commits (`NOTIFY` in the same transaction on
    /// PostgreSQL; SQLite's commit moves the WAL index header every process reads).
    pub async fn revoke_token(&self, name: &str, now: Timestamp) -> StoreResult<bool> {
        let mut connection = self.connection().await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
                .bind(now.millis())
                .bind(name)
                .execute(&mut *tx)
                .await?;
        let revoked = done.rows_affected() > 0;
        if revoked {
            let notification = Notification {
                channel: TOKENS_CHANNEL,
                payload: String::new(),
            };
            notify_on(&mut *tx, self.backend, &notification).await?;
        }
        tx.commit().await?;
        self.tokens.forget();
        Ok(revoked)
    }

    pub async fn touch_token(&self, id: Uuid, now: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(id.to_string())
            .execute(&mut *self.connection().await?)
            .await?;
        Ok(())
    }
}
