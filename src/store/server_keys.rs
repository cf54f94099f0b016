//! Secrets shared by every node on one database (`server_keys`): the first node to ask
//! for a key creates it, and every node, then and later, reads the same one.

use rand::RngCore;

use super::{Store, StoreResult};
use crate::domain::Timestamp;

impl Store {
    /// The secret named `name`, 32 random bytes made on first use. Concurrent first uses
    /// on several nodes agree: the insert that loses the race does nothing, and both read
    /// the winner's row.
    pub async fn server_key(&self, name: &str) -> StoreResult<Vec<u8>> {
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        let mut connection = self.connection().await?;
        sqlx::query(
            "INSERT INTO server_keys (name, secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(hex::encode(fresh))
        .bind(Timestamp::now().millis())
        .execute(&mut *connection)
        .await?;
        let secret: String = sqlx::query_scalar("SELECT secret FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *connection)
            .await?;
        hex::decode(&secret).map_err(|_| super::StoreError::Corrupt(format!("server key {name:?}")))
    }
}
