//! The restart schedule of crashed nodes, Zeek's Supervisor's: the first
//! delay is `restart_delay_ms`; after every 3 attempts it doubles (3 at 1 s,
//! 3 at 2 s, 3 at 4 s, ...); a node that stayed up 30 s starts over. Unlike
//! Zeek the delay is capped (`restart_delay_max_ms`).

/// Uptime after which a node's restart counters reset.
pub(crate) const RESET_AFTER_MS: u64 = 30_000;

#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    base_ms: u64,
    max_ms: u64,
    attempts: u32,
}

impl Backoff {
    pub(crate) fn new(base_ms: u64, max_ms: u64) -> Backoff {
        Backoff {
            base_ms,
            max_ms,
            attempts: 0,
        }
    }

    /// The delay before the next restart; counts the attempt.
    pub(crate) fn next_delay(&mut self) -> u64 {
        let doublings = (self.attempts / 3).min(63);
        self.attempts = self.attempts.saturating_add(1);
        self.base_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_ms)
    }

    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeeks_schedule_with_a_cap() {
        let mut b = Backoff::new(1000, 60_000);
        let delays: Vec<u64> = (0..12).map(|_| b.next_delay()).collect();
        assert_eq!(
            delays,
            [1000, 1000, 1000, 2000, 2000, 2000, 4000, 4000, 4000, 8000, 8000, 8000]
        );
        for _ in 0..30 {
            b.next_delay();
        }
        assert_eq!(b.next_delay(), 60_000, "capped");
        for _ in 0..500 {
            assert_eq!(b.next_delay(), 60_000, "no overflow");
        }
        b.reset();
        assert_eq!(b.next_delay(), 1000);
    }
}
