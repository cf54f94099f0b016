//! One `serve` per SQLite data dir. Two servers on one SQLite file would both run
//! migrations and both build config for the same data planes, and nothing would say so:
//! the second is refused. The lock is the OS's advisory file lock (`flock` on Unix), so
//! it goes with the process, even on `kill -9`, and never needs cleaning up.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

/// The lock file's name inside the data dir.
pub const LOCK_FILE: &str = "konnektd.lock";

/// Held while the server runs; dropping it releases the data dir.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data dir's lock, or says who holds it (the pid the holder wrote). `None`
/// when the lock file cannot be written at all (a read-only data dir): no server can
/// run there, and opening the database then says why in its own words.
pub fn lock(data_dir: &Path) -> anyhow::Result<Option<DataDirLock>> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", data_dir.display()))?;
    let path = data_dir.join(LOCK_FILE);
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) => {
            tracing::warn!(
                "cannot open the lock file {}: {e}; a second server on this data dir \
                 would not be refused",
                path.display()
            );
            return Ok(None);
        }
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another konnektd".to_string(),
                pid => format!("another konnektd (pid {pid})"),
            };
            anyhow::bail!(
                "{holder} is already serving the data dir {} (it holds {}): stop it, or \
                 give this server another --data-dir. Several servers share one database \
                 only on PostgreSQL",
                data_dir.display(),
                path.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            anyhow::bail!("cannot lock {}: {e}", path.display())
        }
    }
    // Ours now: say who holds it, for the next one refused.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    let _ = file.flush();
    Ok(Some(DataDirLock { _file: file }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_data_dir_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap().expect("a writable dir");
        let refused = lock(dir.path()).unwrap_err().to_string();
        assert!(
            refused.contains(&dir.path().display().to_string()),
            "{refused}"
        );
        assert!(
            refused.contains(&format!("pid {}", std::process::id())),
            "{refused}"
        );
        drop(first);
        lock(dir.path()).unwrap();
    }
}
