//! The open-file limit: every data plane holds a socket (a 3.10 data plane two), and the
//! usual soft limit of 1,024 would refuse the thousandth with "too many open files".
//! `serve` raises its soft limit to the hard one at start, as nginx does with
//! `worker_rlimit_nofile` (and Kong's start script with `ulimit -n`); the hard limit is
//! the operator's to set (systemd `LimitNOFILE=`, docker `--ulimit nofile=`).

use rlimit::Resource;

/// What the start found and left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub before: u64,
    pub now: u64,
    pub hard: u64,
}

/// Linux refuses a soft limit above `fs.nr_open` (1,048,576 by default) even when the
/// hard limit is "unlimited".
fn ceiling(hard: u64) -> u64 {
    if hard != rlimit::INFINITY {
        return hard;
    }
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

/// Raises the soft open-file limit as far as the hard limit allows (`rlimit`'s
/// `increase_nofile_limit`, bounded by [`ceiling`]).
pub fn raise_to_hard() -> std::io::Result<OpenFiles> {
    let (before, hard) = Resource::NOFILE.get()?;
    let now = rlimit::increase_nofile_limit(ceiling(hard))?;
    Ok(OpenFiles { before, now, hard })
}

/// Raises the limit and says so; warns when it stays below what `max_connections` data
/// plane connections need (each one a socket, plus the store's and the API's).
pub fn raise_and_log(max_connections: usize) {
    match raise_to_hard() {
        Ok(limit) => {
            if limit.now > limit.before {
                tracing::info!(
                    before = limit.before,
                    now = limit.now,
                    "raised the open-file limit to the hard limit"
                );
            }
            if limit.now < max_connections as u64 + 256 {
                tracing::warn!(
                    open_files = limit.now,
                    cluster_max_connections = max_connections,
                    "the open-file limit is below --cluster-max-connections: data planes past it \
                     are refused at accept; raise the hard limit (systemd LimitNOFILE=, docker \
                     --ulimit nofile=) or lower --cluster-max-connections"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open-file limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlimited_hard_limit_stops_at_nr_open() {
        assert_eq!(ceiling(4096), 4096);
        let nr_open = ceiling(rlimit::INFINITY);
        assert!((1024..rlimit::INFINITY).contains(&nr_open), "{nr_open}");
    }

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let limit = raise_to_hard().unwrap();
        assert_eq!(limit.now, ceiling(limit.hard));
        assert_eq!(Resource::NOFILE.get_soft().unwrap(), limit.now);
        assert!(limit.now >= limit.before);
    }
}
