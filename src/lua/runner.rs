//! Where Lua runs: on tokio's blocking pool, never on an async worker, with at most
//! `concurrency` evaluations at once: a pattern bomb on an async worker would stall every
//! request on it (see the Lua sandbox in `docs/threat-model.md`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

use super::limits_hit::{self, Limit};
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
    /// Evaluations run, and how long each took on its blocking thread.
    evaluations: Histogram,
    /// Evaluations refused because every worker stayed busy for [`QUEUE_WAIT`].
    busy: Counter,
    /// Evaluations stopped by (or that ran into) each sandbox limit.
    limits_hit: Family<LimitLabels, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

impl LuaRunner {
    pub fn new(limits: Limits, concurrency: usize) -> Self {
        let runner = LuaRunner {
            limits,
            concurrency: concurrency.max(1),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            evaluations: crate::metrics::latency_histogram(),
            busy: Counter::default(),
            limits_hit: Family::default(),
        };
        // Every limit shows from the first scrape, at zero.
        for limit in Limit::ALL {
            drop(runner.limits_hit.get_or_create(&LimitLabels {
                limit: limit.label(),
            }));
        }
        runner
    }

    /// Adds the evaluation figures (shared, not copied) to a scrape's registry.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "lua_evaluation_duration_seconds",
            "Lua evaluations (schema loads and validations with Lua) and their duration",
            self.evaluations.clone(),
        );
        registry.register(
            "lua_busy",
            "Lua evaluations refused because every Lua worker stayed busy",
            self.busy.clone(),
        );
        registry.register(
            "lua_limits_hit",
            "Lua evaluations that ran into a sandbox limit: time, memory or pattern_steps \
             (even when the schema caught the error with pcall)",
            self.limits_hit.clone(),
        );
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
            .map_err(|_| RunnerError::Busy)
            .and_then(|p| p.map_err(|_| RunnerError::Busy))
            .inspect_err(|_| {
                self.busy.inc();
            })?;
        let limits = self.limits;
        let evaluations = self.evaluations.clone();
        let limits_hit = self.limits_hit.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // Whatever Lua ran on this thread outside the runner is not ours to count.
            limits_hit::take();
            let started = Instant::now();
            let out = work(limits);
            evaluations.observe(started.elapsed().as_secs_f64());
            for limit in limits_hit::take() {
                limits_hit
                    .get_or_create(&LimitLabels {
                        limit: limit.label(),
                    })
                    .inc();
            }
            out
        })
        .await
        .map_err(|_| RunnerError::Crashed)
    }
}
