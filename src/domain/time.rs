//! Points in time. [`Timestamp::now`] is the one read of the wall clock; a `Timestamp`
//! holds milliseconds since the Unix epoch, and says so, whatever unit a table or a
//! response wants: each converts at its own edge (the store's tables, the API's bodies,
//! the cluster's messages), with [`Timestamp::millis`], [`Timestamp::seconds`] or
//! [`Timestamp::seconds_f64`].

use std::ops::Add;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The wall clock, to the millisecond.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub const fn from_seconds(seconds: i64) -> Self {
        Timestamp(seconds * 1000)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds, rounded down.
    pub const fn seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Seconds to the millisecond, as Kong's `ngx.now()` gives them.
    pub fn seconds_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// The time from `earlier` to this one; zero if `earlier` is not earlier.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// This point in time as a UTC date; the epoch if it is out of chrono's range.
    pub fn utc(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or_default()
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, duration: Duration) -> Timestamp {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_both_ways() {
        let t = Timestamp::from_millis(1_700_000_000_123);
        assert_eq!(t.seconds(), 1_700_000_000);
        assert_eq!(t.seconds_f64(), 1_700_000_000.123);
        assert_eq!(
            Timestamp::from_seconds(t.seconds()).millis(),
            1_700_000_000_000
        );
        assert_eq!(Timestamp::from_millis(-1).seconds(), -1);
    }

    #[test]
    fn durations_add_and_saturate() {
        let t = Timestamp::from_millis(1000);
        assert_eq!((t + Duration::from_secs(2)).millis(), 3000);
        assert_eq!(
            (t + Duration::from_secs(2)).saturating_duration_since(t),
            Duration::from_secs(2)
        );
        assert_eq!(
            t.saturating_duration_since(t + Duration::from_millis(1)),
            Duration::ZERO
        );
        assert!(t < t + Duration::from_millis(1));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(
            Timestamp::from_millis(1_500)
                .utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "1970-01-01T00:00:01.500Z"
        );
    }
}
