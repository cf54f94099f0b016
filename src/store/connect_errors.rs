//! Startup failures to reach the database, worded for the operator: the cause, and where
//! konnektd looked (a PostgreSQL URL without its password, a SQLite file's path).
//!
//! sqlx's pool retries a failing connect until its acquire timeout and then says only
//! "pool timed out while waiting for an open connection", logging each retry on the way.
//! So each backend first makes one plain connection, whose error is the real cause.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

/// `url` with any password replaced by `***`: the userinfo's (`user:pw@`) and a
/// `password=` query parameter's, which libpq-style URLs also accept.
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => format!("{userinfo}@{host}"),
                },
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
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
