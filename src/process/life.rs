//! The life of one node, without I/O: when it counts as ready, what a
//! death means (a crash to restart after a back-off, or one start failure
//! too many), when a stopping node gets SIGKILL, and how the commands
//! `destroy` and `restart` change it. Time is given to every call; nothing
//! here reads a clock, starts a process or sends a signal: the supervisor
//! (`mod.rs`) does what the returned [`Step`]s say and reports.
//!
//! A node's states:
//!
//! - `Starting` becomes `Up` when its process started.
//! - `Up`: not ready, then ready: at once, after `ready_after_ms` (spawn
//!   readiness), or when it checks in. With a stop it is *stopping*:
//!   SIGTERM sent, SIGKILL at `kill_at`; its exit then answers the
//!   `destroy`, ends with the agent, or starts it again for the `restart`.
//! - An exit nobody asked for is a death, a start failure unless the node
//!   was ready: `BackingOff` until `restart_at` on Zeek's restart schedule
//!   ([`Backoff`]), then started again; a start that fails there is a
//!   start failure too, and it backs off again.
//! - `Failed` once its start failures in a row reach
//!   `max_start_failures`, or when the start for a `restart` fails. Only
//!   a `restart` revives it, its failures and back-off forgiven.

use super::backoff::{Backoff, RESET_AFTER_MS};
use crate::model::Time;
use crate::options::{NodeReady, ProcessOptions};
use crate::supervisor::{CommandId, Report};

/// What the agent's options say about every node's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Deaths before readiness in a row after which a node is given up.
    pub(crate) max_start_failures: u32,
    /// Spawn readiness (`node_ready: "spawn"`): a node is ready once it has
    /// been up this long. `None`: when it checks in (`hello`).
    pub(crate) ready_after_ms: Option<u64>,
    /// From SIGTERM to SIGKILL.
    pub(crate) stop_grace_ms: u64,
    pub(crate) restart_delay_ms: u64,
    pub(crate) restart_delay_max_ms: u64,
}

impl Policy {
    pub(crate) fn new(
        options: &ProcessOptions,
        node_ready: NodeReady,
        ready_after_ms: u64,
    ) -> Policy {
        Policy {
            max_start_failures: options.max_start_failures,
            ready_after_ms: (node_ready == NodeReady::Spawn).then_some(ready_after_ms),
            stop_grace_ms: options.stop_grace_ms,
            restart_delay_ms: options.restart_delay_ms,
            restart_delay_max_ms: options.restart_delay_max_ms,
        }
    }
}

/// Why a node is being stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Intent {
    Destroy(CommandId),
    Restart(CommandId),
    Shutdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stop {
    pub(crate) intent: Intent,
    pub(crate) kill_at: Time,
    pub(crate) killed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Its first process is being started.
    Starting,
    /// Its process runs; with a stop, it is being stopped. Spawn
    /// readiness: it counts as ready at `ready_at` if still up and not
    /// being stopped.
    Up {
        stop: Option<Stop>,
        ready_at: Option<Time>,
    },
    /// It died; it starts again at `restart_at`.
    BackingOff { restart_at: Time },
    /// It kept dying before it became ready: no more restarts.
    Failed,
}

/// What the supervisor is to do for a node, in order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Step {
    /// Send this signal to the node's process group.
    Signal(i32),
    /// Answer a command (`Destroyed`, `Restarted`).
    Answer(Report),
    /// Start the node's process; for a `restart` command, the answer
    /// follows the start.
    Start(Option<CommandId>),
    /// It is ready now (`NodeReady`).
    Ready,
    /// It is gone: forget it.
    Forget,
}

/// What a node's exit comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Stopped for a `destroy`: answer it, forget the node.
    Destroyed(CommandId),
    /// Stopped because the agent is freed: forget it.
    Shutdown,
    /// Stopped for a `restart`: start it again (its failures forgiven).
    Restart(CommandId),
    /// A death: either restarted after a back-off or given up.
    Died(Death),
}

/// A death nobody asked for, or a start that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Death {
    /// It starts again at `restart_at` (a crash: `NodeCrashed`).
    BackingOff { restart_at: Time },
    /// It is given up after this many start failures in a row
    /// (`NodeFailed`).
    Failed { start_failures: u32 },
}

/// One node's life.
#[derive(Clone, Debug)]
pub(crate) struct Life {
    state: State,
    backoff: Backoff,
    /// Deaths in a row before it ever became ready.
    start_failures: u32,
    ready: bool,
    started_at: Time,
}

impl Life {
    /// A node whose first process is being started.
    pub(crate) fn new(policy: &Policy, now: Time) -> Life {
        Life {
            state: State::Starting,
            backoff: Backoff::new(policy.restart_delay_ms, policy.restart_delay_max_ms),
            start_failures: 0,
            ready: false,
            started_at: now,
        }
    }

    /// A node whose process runs already, adopted from an earlier agent:
    /// up and ready (it was ready when that agent left it).
    pub(crate) fn adopted(policy: &Policy, now: Time) -> Life {
        Life {
            state: State::Up {
                stop: None,
                ready_at: None,
            },
            backoff: Backoff::new(policy.restart_delay_ms, policy.restart_delay_max_ms),
            start_failures: 0,
            ready: true,
            started_at: now,
        }
    }

    #[cfg(test)]
    fn state(&self) -> State {
        self.state
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(self.state, State::Up { .. })
    }

    #[cfg(test)]
    fn is_ready(&self) -> bool {
        self.ready
    }

    /// Its process started. True when it is ready at once (spawn
    /// readiness without a wait): report `NodeReady`.
    pub(crate) fn started(&mut self, policy: &Policy, now: Time) -> bool {
        self.ready = false;
        self.started_at = now;
        let (ready_at, ready_now) = match policy.ready_after_ms {
            Some(0) => (None, true),
            Some(wait) => (Some(now.plus_millis(wait)), false),
            None => (None, false),
        };
        self.state = State::Up {
            stop: None,
            ready_at,
        };
        if ready_now {
            self.became_ready();
        }
        ready_now
    }

    /// The engine counts the node as ready (it checked in): a later death
    /// is a crash, not a failure to start.
    pub(crate) fn checked_in(&mut self) {
        self.became_ready();
    }

    fn became_ready(&mut self) {
        self.ready = true;
        self.start_failures = 0;
    }

    /// A `restart` brings it back: its failures and back-off are forgiven.
    fn revive(&mut self) {
        self.start_failures = 0;
        self.backoff.reset();
    }

    /// Its process exited (and was reaped).
    pub(crate) fn exited(&mut self, policy: &Policy, now: Time) -> Exit {
        let stop = match std::mem::replace(&mut self.state, State::Failed) {
            State::Up { stop, .. } => stop,
            other => {
                self.state = other;
                debug_assert!(false, "exited while not up: {other:?}");
                None
            }
        };
        match stop.map(|s| s.intent) {
            Some(Intent::Destroy(id)) => Exit::Destroyed(id),
            Some(Intent::Shutdown) => Exit::Shutdown,
            Some(Intent::Restart(id)) => {
                self.revive();
                Exit::Restart(id)
            }
            None => {
                // An exit nobody asked for (exit code 0 included, as Zeek
                // counts it).
                if now.as_millis().saturating_sub(self.started_at.as_millis()) >= RESET_AFTER_MS {
                    self.backoff.reset();
                }
                Exit::Died(self.died(!self.ready, policy, now))
            }
        }
    }

    /// A start after a back-off failed: it counts as dying at start.
    pub(crate) fn start_failed(&mut self, policy: &Policy, now: Time) -> Death {
        self.died(true, policy, now)
    }

    /// A start for a `restart` command failed: no more restarts.
    pub(crate) fn restart_failed(&mut self) {
        self.state = State::Failed;
    }

    /// A death, counted as a start failure or not: given up, or restarted
    /// after the next delay of the schedule.
    fn died(&mut self, start_failure: bool, policy: &Policy, now: Time) -> Death {
        if start_failure {
            self.start_failures += 1;
        }
        if self.start_failures >= policy.max_start_failures {
            self.state = State::Failed;
            return Death::Failed {
                start_failures: self.start_failures,
            };
        }
        let restart_at = now.plus_millis(self.backoff.next_delay());
        self.state = State::BackingOff { restart_at };
        Death::BackingOff { restart_at }
    }

    /// `destroy`: stop it (SIGTERM, SIGKILL after the grace period), or
    /// forget it at once if it has no process. A stop already under way for
    /// another command is taken over, and that command answered.
    pub(crate) fn destroy(&mut self, id: CommandId, policy: &Policy, now: Time) -> Vec<Step> {
        let grace = policy.stop_grace_ms;
        let State::Up { stop, .. } = &mut self.state else {
            return vec![
                Step::Forget,
                Step::Answer(Report::Destroyed { id, ok: true }),
            ];
        };
        let mut steps = Vec::new();
        match stop.replace(Stop {
            intent: Intent::Destroy(id),
            kill_at: now.plus_millis(grace),
            killed: false,
        }) {
            Some(Stop {
                intent: Intent::Restart(old),
                ..
            }) => steps.push(Step::Answer(Report::Restarted { id: old, ok: false })),
            Some(Stop {
                intent: Intent::Destroy(old),
                ..
            }) => steps.push(Step::Answer(Report::Destroyed { id: old, ok: true })),
            Some(previous) => *stop = Some(previous), // shutting down anyway
            None => steps.push(Step::Signal(libc::SIGTERM)),
        }
        if grace == 0 {
            steps.push(Step::Signal(libc::SIGKILL));
        }
        steps
    }

    /// `restart`: stop it and start it again once it exited; a node without
    /// a process starts at once, its failures forgiven. Refused while it is
    /// being stopped.
    pub(crate) fn restart(&mut self, id: CommandId, policy: &Policy, now: Time) -> Vec<Step> {
        let grace = policy.stop_grace_ms;
        match &mut self.state {
            State::Up { stop, .. } if stop.is_none() => {
                *stop = Some(Stop {
                    intent: Intent::Restart(id),
                    kill_at: now.plus_millis(grace),
                    killed: false,
                });
                let signal = if grace == 0 {
                    libc::SIGKILL
                } else {
                    libc::SIGTERM
                };
                vec![Step::Signal(signal)]
            }
            State::Up { .. } => vec![Step::Answer(Report::Restarted { id, ok: false })],
            State::Starting | State::BackingOff { .. } | State::Failed => {
                self.revive();
                vec![Step::Start(Some(id))]
            }
        }
    }

    /// The agent is freed: stop it whatever else was asked (SIGTERM unless
    /// a stop already sent it, SIGKILL at `kill_at`).
    pub(crate) fn shut_down(&mut self, kill_at: Time) -> Vec<Step> {
        let State::Up { stop, .. } = &mut self.state else {
            return Vec::new();
        };
        let steps = if stop.is_none() {
            vec![Step::Signal(libc::SIGTERM)]
        } else {
            Vec::new()
        };
        *stop = Some(Stop {
            intent: Intent::Shutdown,
            kill_at,
            killed: false,
        });
        steps
    }

    /// What is due at `now`: SIGKILL for a stop past its grace period,
    /// spawn readiness, a restart after the back-off.
    pub(crate) fn timers(&mut self, now: Time) -> Vec<Step> {
        let mut steps = Vec::new();
        match &mut self.state {
            State::Up { stop, ready_at } => {
                if let Some(stop) = stop.as_mut().filter(|s| !s.killed && s.kill_at <= now) {
                    stop.killed = true;
                    steps.push(Step::Signal(libc::SIGKILL));
                }
                if ready_at.is_some_and(|at| at <= now) && stop.is_none() {
                    *ready_at = None;
                    self.became_ready();
                    steps.push(Step::Ready);
                }
            }
            State::BackingOff { restart_at } if *restart_at <= now => {
                steps.push(Step::Start(None));
            }
            _ => {}
        }
        steps
    }

    /// When [`Life::timers`] has something to do.
    pub(crate) fn deadline(&self) -> Option<Time> {
        match self.state {
            State::Up { stop, ready_at } => {
                let kill_at = stop.filter(|s| !s.killed).map(|s| s.kill_at);
                kill_at.into_iter().chain(ready_at).min()
            }
            State::BackingOff { restart_at } => Some(restart_at),
            State::Starting | State::Failed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Time {
        Time::from_millis(ms)
    }

    fn policy() -> Policy {
        Policy {
            max_start_failures: 3,
            ready_after_ms: None,
            stop_grace_ms: 100,
            restart_delay_ms: 1000,
            restart_delay_max_ms: 60_000,
        }
    }

    fn spawn_ready(wait: u64) -> Policy {
        Policy {
            ready_after_ms: Some(wait),
            ..policy()
        }
    }

    fn up(policy: &Policy, now: Time) -> Life {
        let mut life = Life::new(policy, now);
        life.started(policy, now);
        life
    }

    #[test]
    fn an_adopted_node_is_up_and_ready_and_its_death_is_a_crash() {
        let p = policy();
        let mut life = Life::adopted(&p, t(0));
        assert!(life.is_up());
        assert!(life.is_ready());
        assert_eq!(life.deadline(), None);
        assert_eq!(
            life.exited(&p, t(10)),
            Exit::Died(Death::BackingOff {
                restart_at: t(1010)
            })
        );
        let mut stopped = Life::adopted(&p, t(0));
        assert_eq!(
            stopped.destroy(CommandId(1), &p, t(5)),
            [Step::Signal(libc::SIGTERM)]
        );
        assert_eq!(stopped.exited(&p, t(6)), Exit::Destroyed(CommandId(1)));
    }

    #[test]
    fn the_options_become_the_policy() {
        let options = ProcessOptions::default();
        let hello = Policy::new(&options, NodeReady::Hello, 500);
        assert_eq!(hello.ready_after_ms, None);
        let spawn = Policy::new(&options, NodeReady::Spawn, 500);
        assert_eq!(spawn.ready_after_ms, Some(500));
        assert_eq!(spawn.max_start_failures, options.max_start_failures);
        assert_eq!(spawn.stop_grace_ms, options.stop_grace_ms);
    }

    #[test]
    fn with_hello_readiness_a_node_is_ready_when_it_checks_in() {
        let p = policy();
        let mut life = up(&p, t(0));
        assert_eq!(
            life.state(),
            State::Up {
                stop: None,
                ready_at: None
            }
        );
        assert_eq!(life.deadline(), None);
        assert!(life.timers(t(1_000_000)).is_empty());
        assert!(!life.is_ready());
        life.checked_in();
        assert!(life.is_ready());
    }

    #[test]
    fn spawn_readiness_waits_ready_after_ms_or_none_at_all() {
        let p = spawn_ready(500);
        let mut life = Life::new(&p, t(10));
        assert!(!life.started(&p, t(10)));
        assert_eq!(life.deadline(), Some(t(510)));
        assert!(life.timers(t(509)).is_empty());
        assert_eq!(life.timers(t(510)), [Step::Ready]);
        assert!(life.is_ready());
        assert_eq!(life.deadline(), None);
        assert!(life.timers(t(2000)).is_empty(), "ready once");

        let p = spawn_ready(0);
        let mut life = Life::new(&p, t(0));
        assert!(life.started(&p, t(0)), "ready at once");
        assert!(life.is_ready());
        assert_eq!(life.deadline(), None);
    }

    #[test]
    fn a_node_being_stopped_does_not_become_ready() {
        let p = spawn_ready(500);
        let mut life = up(&p, t(0));
        assert_eq!(
            life.destroy(CommandId(1), &p, t(100)),
            [Step::Signal(libc::SIGTERM)]
        );
        assert_eq!(life.deadline(), Some(t(200)));
        assert_eq!(life.timers(t(200)), [Step::Signal(libc::SIGKILL)]);
        assert!(life.timers(t(600)).is_empty());
        assert!(!life.is_ready());
    }

    #[test]
    fn deaths_before_readiness_back_off_on_zeeks_schedule_then_fail() {
        let p = Policy {
            max_start_failures: 5,
            ..policy()
        };
        let mut life = up(&p, t(0));
        let mut now = 0;
        let mut delays = Vec::new();
        for _ in 0..4 {
            now += 10;
            let Exit::Died(Death::BackingOff { restart_at }) = life.exited(&p, t(now)) else {
                panic!("backs off")
            };
            assert_eq!(life.deadline(), Some(restart_at));
            delays.push(restart_at.as_millis() - now);
            assert!(life.timers(t(restart_at.as_millis() - 1)).is_empty());
            assert_eq!(life.timers(restart_at), [Step::Start(None)]);
            now = restart_at.as_millis();
            life.started(&p, t(now));
        }
        assert_eq!(delays, [1000, 1000, 1000, 2000]);
        assert_eq!(
            life.exited(&p, t(now + 10)),
            Exit::Died(Death::Failed { start_failures: 5 })
        );
        assert_eq!(life.state(), State::Failed);
        assert_eq!(life.deadline(), None);
        assert!(life.timers(t(1_000_000)).is_empty(), "no more restarts");
    }

    #[test]
    fn a_crash_after_readiness_is_no_start_failure() {
        let p = policy();
        let mut life = up(&p, t(0));
        life.exited(&p, t(10)); // one start failure
        life.started(&p, t(1010));
        life.checked_in(); // forgives it
        for i in 0..10 {
            let now = 2000 + i * 100_000;
            assert!(matches!(
                life.exited(&p, t(now)),
                Exit::Died(Death::BackingOff { .. })
            ));
            life.started(&p, t(now + 1));
            life.checked_in();
        }
    }

    #[test]
    fn thirty_seconds_up_start_the_schedule_over() {
        let p = Policy {
            max_start_failures: 100,
            ..policy()
        };
        let mut life = up(&p, t(0));
        let mut now = 0;
        for _ in 0..6 {
            let Exit::Died(Death::BackingOff { restart_at }) = life.exited(&p, t(now)) else {
                panic!()
            };
            now = restart_at.as_millis();
            life.started(&p, t(now));
        }
        // The 7th delay would be 4 s; up 30 s, it is 1 s again.
        now += RESET_AFTER_MS;
        assert_eq!(
            life.exited(&p, t(now)),
            Exit::Died(Death::BackingOff {
                restart_at: t(now + 1000)
            })
        );
    }

    #[test]
    fn failed_starts_count_like_deaths_before_readiness() {
        let p = policy(); // 3 start failures
        let mut life = up(&p, t(0));
        assert_eq!(
            life.exited(&p, t(5)),
            Exit::Died(Death::BackingOff {
                restart_at: t(1005)
            })
        );
        assert_eq!(life.timers(t(1005)), [Step::Start(None)]);
        assert_eq!(
            life.start_failed(&p, t(1005)),
            Death::BackingOff {
                restart_at: t(2005)
            }
        );
        assert_eq!(
            life.start_failed(&p, t(2005)),
            Death::Failed { start_failures: 3 }
        );
        assert_eq!(life.state(), State::Failed);
    }

    #[test]
    fn destroy_stops_with_sigterm_then_sigkill_and_answers_at_the_exit() {
        let p = policy();
        let mut life = up(&p, t(0));
        assert_eq!(
            life.destroy(CommandId(7), &p, t(50)),
            [Step::Signal(libc::SIGTERM)]
        );
        assert_eq!(life.deadline(), Some(t(150)));
        assert!(life.timers(t(149)).is_empty());
        assert_eq!(life.timers(t(150)), [Step::Signal(libc::SIGKILL)]);
        assert_eq!(life.deadline(), None, "killed once");
        assert!(life.timers(t(300)).is_empty());
        assert_eq!(life.exited(&p, t(160)), Exit::Destroyed(CommandId(7)));
    }

    #[test]
    fn destroy_without_grace_kills_at_once() {
        let p = Policy {
            stop_grace_ms: 0,
            ..policy()
        };
        let mut life = up(&p, t(0));
        assert_eq!(
            life.destroy(CommandId(1), &p, t(0)),
            [Step::Signal(libc::SIGTERM), Step::Signal(libc::SIGKILL)]
        );
    }

    #[test]
    fn destroy_takes_over_a_stop_for_another_command() {
        let p = policy();
        let mut life = up(&p, t(0));
        assert_eq!(
            life.restart(CommandId(1), &p, t(0)),
            [Step::Signal(libc::SIGTERM)]
        );
        assert_eq!(
            life.destroy(CommandId(2), &p, t(10)),
            [Step::Answer(Report::Restarted {
                id: CommandId(1),
                ok: false
            })]
        );
        assert_eq!(
            life.destroy(CommandId(3), &p, t(20)),
            [Step::Answer(Report::Destroyed {
                id: CommandId(2),
                ok: true
            })]
        );
        assert_eq!(
            life.deadline(),
            Some(t(120)),
            "the last stop's grace period"
        );
        assert_eq!(life.exited(&p, t(30)), Exit::Destroyed(CommandId(3)));
    }

    #[test]
    fn destroy_forgets_a_node_without_a_process() {
        let p = Policy {
            max_start_failures: 1,
            ..policy()
        };
        let mut life = up(&p, t(0));
        life.exited(&p, t(1));
        assert_eq!(life.state(), State::Failed);
        assert_eq!(
            life.destroy(CommandId(4), &p, t(2)),
            [
                Step::Forget,
                Step::Answer(Report::Destroyed {
                    id: CommandId(4),
                    ok: true
                })
            ]
        );
    }

    #[test]
    fn restart_stops_then_starts_again_with_failures_forgiven() {
        let p = policy();
        let mut life = up(&p, t(0));
        life.exited(&p, t(1)); // a start failure
        life.started(&p, t(1001));
        assert_eq!(
            life.restart(CommandId(5), &p, t(1100)),
            [Step::Signal(libc::SIGTERM)]
        );
        assert_eq!(
            life.restart(CommandId(6), &p, t(1101)),
            [Step::Answer(Report::Restarted {
                id: CommandId(6),
                ok: false
            })],
            "refused while being stopped"
        );
        assert_eq!(life.exited(&p, t(1150)), Exit::Restart(CommandId(5)));
        assert_eq!(life.start_failures, 0);
        life.started(&p, t(1150));
        // Two more deaths do not reach 3 failures.
        life.exited(&p, t(1160));
        life.started(&p, t(2160));
        assert!(matches!(
            life.exited(&p, t(2170)),
            Exit::Died(Death::BackingOff { .. })
        ));
    }

    #[test]
    fn restart_revives_a_failed_node_at_once() {
        let p = Policy {
            max_start_failures: 1,
            ..policy()
        };
        let mut life = up(&p, t(0));
        life.exited(&p, t(1));
        assert_eq!(life.state(), State::Failed);
        assert_eq!(
            life.restart(CommandId(9), &p, t(5)),
            [Step::Start(Some(CommandId(9)))]
        );
        life.started(&p, t(5));
        assert!(life.is_up());
        // A restart whose start fails leaves it failed.
        life.exited(&p, t(6));
        assert_eq!(
            life.restart(CommandId(10), &p, t(7)),
            [Step::Start(Some(CommandId(10)))]
        );
        life.restart_failed();
        assert_eq!(life.state(), State::Failed);
    }

    #[test]
    fn shutdown_overrides_any_stop_and_signals_only_once() {
        let p = policy();
        let mut life = up(&p, t(0));
        assert_eq!(life.shut_down(t(100)), [Step::Signal(libc::SIGTERM)]);
        let mut stopping = up(&p, t(0));
        stopping.restart(CommandId(1), &p, t(0));
        assert!(stopping.shut_down(t(100)).is_empty(), "SIGTERM was sent");
        assert_eq!(stopping.exited(&p, t(50)), Exit::Shutdown);
        let mut failed = Life::new(&p, t(0));
        failed.restart_failed();
        assert!(failed.shut_down(t(100)).is_empty());
    }

    #[test]
    fn a_node_given_up_or_not_restarted_keeps_no_readiness_deadline() {
        // It died before its spawn readiness was due: nothing is due for
        // it any more (a deadline left in the past would have the agent's
        // thread, or a polled host, wake up at once again and again).
        let p = Policy {
            max_start_failures: 1,
            ..spawn_ready(500)
        };
        let mut life = up(&p, t(0));
        assert_eq!(life.deadline(), Some(t(500)));
        assert_eq!(
            life.exited(&p, t(10)),
            Exit::Died(Death::Failed { start_failures: 1 })
        );
        assert_eq!(life.deadline(), None);

        // Stopped for a restart whose start fails.
        let mut life = up(&p, t(0));
        life.restart(CommandId(1), &p, t(10));
        assert_eq!(life.exited(&p, t(20)), Exit::Restart(CommandId(1)));
        life.restart_failed();
        assert_eq!(life.deadline(), None);
    }
}
