//! Where Lua runs: on tokio's blocking pool, never on an async worker, with at most
//! `concurrency` evaluations at once: a pattern bomb on an async worker would stall every
//! request on it (see the Lua sandbox in `docs/security.md`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::sandbox::Limits;

/// How long a request waits for a free Lua slot before it gets 503.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunnerError {
    #[error("all Lua workers are busy; retry shortly")]
    Busy,
    #[error("a Lua evaluation failed unexpectedly")]
    Crashed,
}

#[derive(Debug)]
pub struct LuaRunner {
    limits: Limits,
    concurrency: usize,
    permits: Arc<Semaphore>,
}

impl LuaRunner {
    pub fn new(limits: Limits, concurrency: usize) -> Self {
        LuaRunner {
            limits,
            concurrency: concurrency.max(1),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Runs `work` with the configured limits on the blocking pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, RunnerError>
    where
        T: Send + 'static,
        F: FnOnce(Limits) -> T + Send + 'static,
    {
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| RunnerError::Busy)?
            .map_err(|_| RunnerError::Busy)?;
        let limits = self.limits;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(limits)
        })
        .await
        .map_err(|_| RunnerError::Crashed)
    }
}
