//! Deadlines, ordered by time, each with an owner to notify.

use std::collections::BTreeMap;

use crate::model::Time;
use crate::supervisor::CommandId;

/// What a timer is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// A controller request's timeout.
    Request(String),
    /// The wait of a deploy's start stage.
    Stage { op: u64 },
    /// The deadline of a supervisor command a deploy waits on.
    Command(CommandId),
}

/// A handle for cancelling a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey(Time, u64);

#[derive(Default)]
pub(crate) struct Timers {
    entries: BTreeMap<TimerKey, Timer>,
    next_seq: u64,
}

impl Timers {
    pub(crate) fn add(&mut self, at: Time, timer: Timer) -> TimerKey {
        let key = TimerKey(at, self.next_seq);
        self.next_seq += 1;
        self.entries.insert(key, timer);
        key
    }

    pub(crate) fn cancel(&mut self, key: TimerKey) {
        self.entries.remove(&key);
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Time> {
        self.entries.keys().next().map(|k| k.0)
    }

    /// Removes and returns the earliest timer due at `now` (deadline <= now).
    pub(crate) fn pop_due(&mut self, now: Time) -> Option<Timer> {
        let (&key, _) = self.entries.first_key_value()?;
        if key.0 > now {
            return None;
        }
        self.entries.remove(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_pop_in_deadline_then_insertion_order() {
        let mut t = Timers::default();
        t.add(Time::from_millis(20), Timer::Request("b".into()));
        let a = t.add(Time::from_millis(10), Timer::Request("a".into()));
        t.add(Time::from_millis(20), Timer::Stage { op: 1 });
        assert_eq!(t.next(), Some(Time::from_millis(10)));
        assert_eq!(t.pop_due(Time::from_millis(9)), None);
        t.cancel(a);
        assert_eq!(t.next(), Some(Time::from_millis(20)));
        assert_eq!(
            t.pop_due(Time::from_millis(20)),
            Some(Timer::Request("b".into()))
        );
        assert_eq!(
            t.pop_due(Time::from_millis(20)),
            Some(Timer::Stage { op: 1 })
        );
        assert_eq!(t.pop_due(Time::from_millis(99)), None);
    }
}
