//! Startup failures to reach the database, worded for the operator: the cause, and where
//! konnektd looked (a PostgreSQL URL without its password, a SQLite file's path).
//!
//! sqlx's pool retries a failing connect until its acquire timeout and then says only
//! "pool timed out while waiting for an open connection", logging each retry on the way.
//! So each backend first makes one plain connection, whose error is the real cause.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

/// `text` with any password replaced by `***`: the user info's (`user:pw@`) and a
/// `password=` query parameter's, which libpq-style URLs also accept. Text that does not
/// parse as a URL is not shown at all, as it could hold a password anywhere.
pub fn redact_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return "(a database URL that does not parse)".to_string();
    };
    if url.password().is_some() {
        // Only URLs that cannot have credentials refuse this, and those have none.
        let _ = url.set_password(Some("***"));
    }
    if url
        .query_pairs()
        .any(|(key, _)| key.eq_ignore_ascii_case("password"))
    {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if key.eq_ignore_ascii_case("password") {
                    "***".to_string()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// The file a `sqlite:` URL names; `None` for an in-memory database.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// One line for a SQLite database that would not open: its path and, when the file
/// system is the cause, the OS error of the file or of the directory SQLite writes its
/// journal beside it in; otherwise SQLite's own words.
pub fn sqlite_open_error(url: &str, error: &sqlx::Error) -> String {
    match sqlite_path(url) {
        Some(path) => match why_not_writable(&path) {
            Some(cause) => format!("cannot open SQLite database {}: {cause}", path.display()),
            None => format!("cannot open SQLite database {}: {error}", path.display()),
        },
        None => format!("cannot open SQLite database: {error}"),
    }
}

/// What stops this process writing `path` and its journal, as the OS words it.
fn why_not_writable(path: &Path) -> Option<String> {
    if path.exists()
        && let Err(e) = OpenOptions::new().read(true).write(true).open(path)
    {
        return Some(format!("the file is not writable: {e}"));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Only tried after SQLite failed; the probe file goes at once.
    let probe = dir.join(format!(".konnektd-write-probe-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(e) => Some(format!(
            "its directory {} is not writable: {e}",
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("postgres://konnektd:s3cr@t@db.internal:5432/konnektd?sslmode=require"),
            "postgres://konnektd:***@db.internal:5432/konnektd?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/konnektd?user=k&password=s3cret&sslmode=disable"),
            "postgresql://db/konnektd?user=k&password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://konnektd@localhost/konnektd"),
            "postgres://konnektd@localhost/konnektd"
        );
        assert_eq!(redact_url("postgres://localhost"), "postgres://localhost");
        assert_eq!(
            redact_url("sqlite:///var/lib/konnektd/konnektd.db?mode=rwc"),
            "sqlite:///var/lib/konnektd/konnektd.db?mode=rwc"
        );
        assert_eq!(
            redact_url("not a url with s3cret"),
            "(a database URL that does not parse)"
        );
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/k/konnektd.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/k/konnektd.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:data.db"),
            Some(PathBuf::from("data.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[test]
    fn a_directory_in_place_of_the_file_is_named_with_the_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().display());
        let text = sqlite_open_error(&url, &sqlx::Error::PoolTimedOut);
        assert!(
            text.starts_with(&format!(
                "cannot open SQLite database {}: the file is not writable: ",
                dir.path().display()
            )),
            "{text}"
        );
        assert!(text.contains("os error"), "{text}");
    }
}
