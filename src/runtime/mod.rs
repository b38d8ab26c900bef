//! The runtime: the engine behind a lock, a clock, the Supervisor backend,
//! and delivery to the host's callbacks. The C ABI (`ffi.rs`) is a thin
//! layer over it.
//!
//! Two modes (`C_API.md`):
//! - **threaded**: a thread of the library's own fires timers on the
//!   monotonic clock (milliseconds since the agent was created);
//! - **polled**: nothing runs behind the host's back; time is the latest
//!   `now_ms` the host gave `poll`, and an eventfd tells the host's event
//!   loop when `poll` has work.

mod delivery;
#[allow(unsafe_code)]
mod wakeup;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use delivery::{Callbacks, EventSink, LogSink};

use crate::engine::{AgentError, Engine, LogLevel, LogRecord, Output, Time};
use crate::options::{AgentOptions, Mode};
use crate::supervisor::Report;
use crate::wire::Limits;
use delivery::Delivery;
use wakeup::EventFd;

/// Why a runtime call failed; each maps to one C status code.
#[derive(Debug)]
pub enum RuntimeError {
    /// Refused input or request (`ZMA_ERR_LIMIT`, `_UTF8`, `_JSON`,
    /// `_EVENT`, `_STATE`).
    Agent(AgentError),
    /// Not allowed now: polling a threaded agent, using a closed one.
    State(String),
    /// The operating system refused (an eventfd, a thread).
    Io(String),
}

impl std::fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuntimeError::Agent(e) => e.fmt(f),
            RuntimeError::State(m) | RuntimeError::Io(m) => f.write_str(m),
        }
    }
}

struct Core {
    engine: Engine,
    limits: Limits,
    /// Polled mode: the latest time the host gave.
    polled_now: Time,
    /// Test hook: panic inside the next engine call.
    panic_next: bool,
}

/// One agent with its clock and callbacks.
pub struct Runtime {
    core: Mutex<Core>,
    delivery: Delivery,
    mode: Mode,
    started: Instant,
    closed: AtomicBool,
    /// Threaded mode: wakes the timer thread early (new deadline, free).
    kick: (Mutex<bool>, Condvar),
    /// Polled mode: readable when `poll` has work.
    eventfd: Option<EventFd>,
    /// Threaded mode: the token of the agent's own thread.
    thread_token: std::sync::atomic::AtomicU64,
    /// A panic was caught inside: the agent refuses every further call.
    poisoned: AtomicBool,
}

/// An agent runtime and, in threaded mode, its thread.
pub struct Agent {
    runtime: Arc<Runtime>,
    thread: Option<JoinHandle<()>>,
}

impl Agent {
    /// Creates the agent; in threaded mode starts its thread.
    pub fn new(options: AgentOptions) -> Result<Agent, RuntimeError> {
        let eventfd = match options.mode {
            Mode::Polled => Some(EventFd::new().map_err(|e| {
                RuntimeError::Io(format!("cannot create the agent's eventfd: {e}"))
            })?),
            Mode::Threaded => None,
        };
        let runtime = Arc::new(Runtime {
            core: Mutex::new(Core {
                engine: Engine::new(options.engine),
                limits: options.limits,
                polled_now: Time::ZERO,
                panic_next: false,
            }),
            delivery: Delivery::default(),
            mode: options.mode,
            started: Instant::now(),
            closed: AtomicBool::new(false),
            kick: (Mutex::new(false), Condvar::new()),
            eventfd,
            thread_token: std::sync::atomic::AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
        });
        let thread = match options.mode {
            Mode::Polled => None,
            Mode::Threaded => {
                let rt = Arc::clone(&runtime);
                let handle = thread::Builder::new()
                    .name("zeek-mgmt-agent".into())
                    .spawn(move || rt.run_thread())
                    .map_err(|e| {
                        RuntimeError::Io(format!("cannot start the agent's thread: {e}"))
                    })?;
                Some(handle)
            }
        };
        Ok(Agent { runtime, thread })
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Stops the agent: no callback runs once this returns (except one
    /// already running on this very thread), and its thread is gone.
    pub fn close(&mut self) {
        let rt = &self.runtime;
        if rt.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        rt.kick();
        if let Some(handle) = self.thread.take() {
            if rt.thread_token.load(Ordering::SeqCst) == delivery::thread_token() {
                // Freed from one of its own callbacks: the thread sees
                // `closed` when the callback returns and ends by itself.
                drop(handle);
            } else {
                let _ = handle.join();
            }
        }
        rt.delivery.wait_idle();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.close();
    }
}

/// Locks a mutex, ignoring poisoning: a panic while it was held is caught
/// at the C boundary, which poisons the whole agent instead.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Runtime {
    /// Marks the agent unusable (a panic was caught at the boundary).
    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::SeqCst);
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn check_open(&self) -> Result<(), RuntimeError> {
        if self.is_closed() {
            Err(RuntimeError::State("the agent is closed".into()))
        } else {
            Ok(())
        }
    }

    fn now(&self, core: &Core) -> Time {
        match self.mode {
            Mode::Polled => core.polled_now,
            Mode::Threaded => Time::from_millis(
                u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            ),
        }
    }

    pub fn set_callbacks(&self, update: impl FnOnce(&mut Callbacks)) {
        self.delivery.set_callbacks(update);
    }

    /// Takes one inbound event (JSON, either encoding).
    pub fn handle_request(&self, json: &[u8]) -> Result<(), RuntimeError> {
        self.check_open()?;
        {
            let mut core = lock(&self.core);
            if std::mem::take(&mut core.panic_next) {
                panic!("panic injected by a test");
            }
            let now = self.now(&core);
            let Core { engine, limits, .. } = &mut *core;
            let outputs = engine
                .handle_json(now, json, limits)
                .map_err(RuntimeError::Agent)?;
            self.carry_out(&mut core, outputs);
        }
        self.kick();
        self.deliver();
        Ok(())
    }

    /// Polled mode: advance to `now_ms`, fire timers, collect supervisor
    /// work, deliver.
    pub fn poll(&self, now_ms: u64) -> Result<(), RuntimeError> {
        self.check_open()?;
        if self.mode != Mode::Polled {
            return Err(RuntimeError::State(
                "zma_agent_poll: the agent runs in threaded mode".into(),
            ));
        }
        if let Some(fd) = &self.eventfd {
            fd.clear();
        }
        {
            let mut core = lock(&self.core);
            if std::mem::take(&mut core.panic_next) {
                panic!("panic injected by a test");
            }
            core.polled_now = core.polled_now.max(Time::from_millis(now_ms));
            let now = core.polled_now;
            let outputs = core.engine.handle_timeout(now);
            self.carry_out(&mut core, outputs);
        }
        self.deliver();
        Ok(())
    }

    /// Polled mode: the absolute time of the next deadline.
    pub fn next_timeout_ms(&self) -> Option<u64> {
        if self.mode != Mode::Polled || self.is_closed() {
            return None;
        }
        lock(&self.core).engine.poll_timeout().map(Time::as_millis)
    }

    /// Polled mode: the descriptor readable when `poll` has work.
    pub fn fd(&self) -> Option<i32> {
        self.eventfd.as_ref().map(EventFd::raw)
    }

    pub fn state_json(&self) -> String {
        lock(&self.core).engine.state().to_json()
    }

    /// Test hook: the next engine call panics (to prove the C boundary
    /// catches it and poisons the agent).
    #[doc(hidden)]
    pub fn inject_panic(&self) {
        lock(&self.core).panic_next = true;
    }

    /// Carries out what the engine asked, in order, under the engine lock
    /// (so that outputs of concurrent calls queue in engine order).
    fn carry_out(&self, core: &mut Core, outputs: Vec<Output>) {
        let mut pending = std::collections::VecDeque::from(outputs);
        while let Some(output) = pending.pop_front() {
            match output {
                Output::EnsureDirectory { node, path } => {
                    if let Err(e) = DirBuilder::new().recursive(true).mode(0o700).create(&path) {
                        self.delivery.push(Output::Log(LogRecord {
                            level: LogLevel::Warning,
                            message: format!(
                                "could not create node directory {path} for {node}: {e}"
                            ),
                        }));
                    }
                }
                Output::Supervisor(command) => {
                    // The built-in process supervisor is not part of this
                    // build yet: every command fails, visibly.
                    let now = self.now(core);
                    let report = match command.command {
                        crate::supervisor::Command::Create(_) => Report::Created {
                            id: command.id,
                            error: Some(
                                "the built-in process supervisor is not available in this build"
                                    .into(),
                            ),
                        },
                        crate::supervisor::Command::Destroy { .. } => Report::Destroyed {
                            id: command.id,
                            ok: false,
                        },
                        crate::supervisor::Command::Restart { .. } => Report::Restarted {
                            id: command.id,
                            ok: false,
                        },
                        crate::supervisor::Command::Status { .. } => Report::Status {
                            id: command.id,
                            status: Default::default(),
                        },
                    };
                    pending.extend(core.engine.handle_report(now, report));
                }
                other => self.delivery.push(other),
            }
        }
    }

    fn deliver(&self) {
        self.delivery.drain(&|| self.is_closed());
    }

    fn kick(&self) {
        if self.mode == Mode::Threaded {
            let (flag, cvar) = &self.kick;
            *lock(flag) = true;
            cvar.notify_all();
        }
    }

    /// The threaded mode's loop: sleep until the next deadline or a kick,
    /// fire timers, deliver.
    fn run_thread(&self) {
        self.thread_token
            .store(delivery::thread_token(), Ordering::SeqCst);
        let (flag, cvar) = &self.kick;
        loop {
            let deadline = lock(&self.core).engine.poll_timeout();
            {
                let mut kicked = lock(flag);
                if !*kicked && !self.is_closed() {
                    kicked = match deadline {
                        Some(at) => {
                            let when = self.started + Duration::from_millis(at.as_millis());
                            let wait = when.saturating_duration_since(Instant::now());
                            cvar.wait_timeout(kicked, wait)
                                .map_or_else(|e| e.into_inner().0, |(g, _)| g)
                        }
                        None => cvar.wait(kicked).unwrap_or_else(|e| e.into_inner()),
                    };
                }
                *kicked = false;
            }
            if self.is_closed() {
                return;
            }
            {
                let mut core = lock(&self.core);
                let now = self.now(&core);
                let outputs = core.engine.handle_timeout(now);
                self.carry_out(&mut core, outputs);
            }
            self.deliver();
        }
    }
}
