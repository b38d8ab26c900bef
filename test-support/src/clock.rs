//! The virtual-clock driver, in the manner of quinn-proto's test harness
//! (`Pair::drive`): no sleeps, time moves only when nothing else can
//! happen, and then straight to the engine's next wakeup.
//!
//! A [`World`] is the engine with everything simulated around it (a
//! Supervisor answering commands, ...). [`drive`] repeats, until the world
//! is idle: let the world act until it has nothing left to do, then move
//! the clock to the engine's next wakeup (`Engine::poll_timeout`) and fire
//! what is due there. Idle means the world has nothing to do and the
//! engine has no timer. Every timer fires at its own wakeup, in order, not
//! all at once at some later time.
//!
//! Used by the behaviour tests' harness ([`crate::harness::Harness::drive`])
//! and by the engine_ops fuzz simulator (its final drain).

use zeek_mgmt_agent::engine::Time;

/// The engine and the simulation around it, as [`drive`] sees them.
pub trait World {
    /// When the engine next wants the clock (`Engine::poll_timeout`).
    fn next_wakeup(&self) -> Option<Time>;

    /// Lets the simulated world act once on what it has queued (e.g. the
    /// Supervisor answers a command). Returns false when it had nothing to
    /// do. The default: a world that never acts.
    fn act(&mut self) -> bool {
        false
    }

    /// Moves the clock to `at` (never backwards) and fires the engine's
    /// timers due then.
    fn fire(&mut self, at: Time);
}

/// The world was still busy after the most wakeups [`drive`] was allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StillBusy {
    /// The next wakeup the engine asked for.
    pub next: Time,
}

/// Drives `world` until it is idle: no action left and no timer set.
/// Fires at most `max_wakeups` wakeups; returns how many it fired, or
/// [`StillBusy`] when a timer was still set after that many (timers that
/// keep re-arming).
pub fn drive<W: World + ?Sized>(world: &mut W, max_wakeups: usize) -> Result<usize, StillBusy> {
    for fired in 0..max_wakeups {
        while world.act() {}
        match world.next_wakeup() {
            None => return Ok(fired),
            Some(at) => world.fire(at),
        }
    }
    while world.act() {}
    match world.next_wakeup() {
        None => Ok(max_wakeups),
        Some(next) => Err(StillBusy { next }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timers at 5, 10 and 20; the action at 10 arms one more at 30.
    struct Toy {
        now: Time,
        timers: Vec<u64>,
        queued: usize,
        log: Vec<String>,
    }

    impl World for Toy {
        fn next_wakeup(&self) -> Option<Time> {
            self.timers.iter().min().map(|&t| Time::from_millis(t))
        }
        fn act(&mut self) -> bool {
            if self.queued == 0 {
                return false;
            }
            self.queued -= 1;
            self.log.push(format!("act at {}", self.now.as_millis()));
            if self.now.as_millis() == 10 {
                self.timers.push(30);
            }
            true
        }
        fn fire(&mut self, at: Time) {
            self.now = self.now.max(at);
            let now = self.now.as_millis();
            self.timers.retain(|&t| t > now);
            self.log.push(format!("fire at {now}"));
            if now == 10 {
                self.queued += 1;
            }
        }
    }

    #[test]
    fn fires_each_wakeup_in_turn_and_acts_between() {
        let mut toy = Toy {
            now: Time::ZERO,
            timers: vec![20, 5, 10],
            queued: 1,
            log: Vec::new(),
        };
        assert_eq!(drive(&mut toy, 10), Ok(4));
        assert_eq!(
            toy.log,
            [
                "act at 0",
                "fire at 5",
                "fire at 10",
                "act at 10",
                "fire at 20",
                "fire at 30"
            ]
        );
    }

    #[test]
    fn a_timer_that_keeps_rearming_is_still_busy() {
        struct Forever(Time);
        impl World for Forever {
            fn next_wakeup(&self) -> Option<Time> {
                Some(self.0.plus_millis(1))
            }
            fn fire(&mut self, at: Time) {
                self.0 = at;
            }
        }
        let mut world = Forever(Time::ZERO);
        assert_eq!(
            drive(&mut world, 3),
            Err(StillBusy {
                next: Time::from_millis(4)
            })
        );
    }
}
