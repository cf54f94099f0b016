//! How a command other than `serve` finds the server's store: where `serve` would put
//! it, without creating anything. A store that is not there is refused with the path or
//! URL looked at, the flag and variable that set it, and what to do.

use std::path::Path;

use crate::store::existing::NotOpened;
use crate::store::{Store, default_database_url};

use crate::command_line::StoreArgs;

/// Opens the store `serve` made with these settings, or says why there is none.
pub async fn open(store: &StoreArgs) -> anyhow::Result<Store> {
    let url = match store.database_url() {
        Some(url) => url.to_string(),
        None => {
            let dir = shown(&store.data_dir);
            if !store.data_dir.is_dir() {
                anyhow::bail!(
                    "no konnektd data dir at {}: {}",
                    dir.display(),
                    data_dir_remedy(store)
                );
            }
            default_database_url(&dir)
        }
    };
    match Store::open_existing(&url).await {
        Ok(store) => Ok(store),
        Err(NotOpened::Missing(what)) => {
            let remedy = if store.database_url().is_some() {
                database_url_remedy()
            } else {
                data_dir_remedy(store)
            };
            anyhow::bail!("{what}: {remedy}")
        }
        Err(NotOpened::Failed(e)) => Err(e),
    }
}

/// The path as an operator can find it again: a relative one is relative to wherever
/// the command ran, which is the usual way to miss the server's data dir.
fn shown(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn data_dir_remedy(store: &StoreArgs) -> String {
    format!(
        "the data dir is set by --data-dir or KONNEKTD_DATA_DIR (default ./konnektd-data, \
         in the current directory), or a database by --database-url or DATABASE_URL. \
         Pass the ones `konnektd serve` runs with, or start `konnektd serve --data-dir {}` \
         first; this command never creates a store",
        store.data_dir.display()
    )
}

fn database_url_remedy() -> String {
    "the database is set by --database-url or DATABASE_URL. Pass the one `konnektd serve` \
     runs with, or start `konnektd serve` on this one first (it creates and migrates it); \
     this command never creates or migrates a database"
        .to_string()
}
