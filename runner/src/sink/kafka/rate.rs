//! `sink.max_messages_per_sec`: paces the publish so a replay cannot flood a production cluster.

use std::time::{Duration, Instant};

/// Admits at most `per_sec` messages per second on average, with a burst of at most a tenth of a
/// second's worth after an idle spell (so a pause in the sort or the plugins is not followed by a
/// flood).
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    burst: Duration,
    /// When the next message is due if the pace is kept exactly.
    due: Option<Instant>,
}

impl RateLimiter {
    /// `None` for a rate of 0, which means "unlimited".
    pub(crate) fn new(per_sec: u64) -> Option<RateLimiter> {
        (per_sec > 0).then(|| {
            let interval = Duration::from_secs_f64(1.0 / per_sec as f64);
            RateLimiter {
                interval,
                burst: interval.mul_f64((per_sec as f64 / 10.0).max(1.0)),
                due: None,
            }
        })
    }

    /// Accounts for one message sent at `now` (or once the returned wait is over) and returns how
    /// long to wait before sending it.
    pub(crate) fn admit(&mut self, now: Instant) -> Duration {
        // Never further behind schedule than one burst: idle time is not saved up.
        let floor = now.checked_sub(self.burst).unwrap_or(now);
        let due = self.due.map_or(floor, |due| due.max(floor));
        self.due = Some(due + self.interval);
        due.saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_unlimited() {
        assert!(RateLimiter::new(0).is_none());
    }

    #[test]
    fn a_steady_sender_is_held_to_the_rate() {
        let mut limiter = RateLimiter::new(1000).unwrap();
        let start = Instant::now();
        // Simulate a sender that is infinitely fast but waits as told.
        let mut now = start;
        for _ in 0..5000 {
            now += limiter.admit(now);
        }
        let elapsed = now - start;
        // 5000 messages at 1000/s: ~5 s, minus the initial burst of 100.
        assert!(elapsed >= Duration::from_millis(4800), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(5000), "{elapsed:?}");
    }

    #[test]
    fn an_idle_spell_allows_only_a_small_burst() {
        let mut limiter = RateLimiter::new(1000).unwrap();
        let start = Instant::now();
        assert_eq!(limiter.admit(start), Duration::ZERO);
        let later = start + Duration::from_secs(60);
        let mut waited = Duration::ZERO;
        let mut now = later;
        for _ in 0..1100 {
            let wait = limiter.admit(now);
            waited += wait;
            now += wait;
        }
        // After a minute idle, 100 go at once, the other 1000 take a second.
        assert!(waited >= Duration::from_millis(990), "{waited:?}");
        assert!(waited <= Duration::from_millis(1010), "{waited:?}");
    }
}
