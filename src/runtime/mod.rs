//! The runtime: the engine behind a lock, a clock, the Supervisor backend,
//! and delivery to the host's callbacks. The C ABI (`ffi.rs`) is a thin
//! layer over it.
//!
//! Two modes (`docs/c-api.md`, "Threading and run modes"):
//! - **threaded**: a thread of the library's own sleeps on the agent's
//!   poller until the next deadline or readiness, fires timers on the
//!   monotonic clock (milliseconds since the agent was created) and reaps
//!   and reads the nodes of the process supervisor;
//! - **polled**: nothing runs behind the host's back; time is the latest
//!   `now_ms` the host gave `poll`, and the poller's descriptor tells the
//!   host's event loop when `poll` has work.
//!
//! Panics (bugs, or a Rust callback that panics) are contained wherever they
//! happen: `handle_request` and `poll` catch them (the engine, the process
//! supervisor, a callback delivered on the caller's thread) and fail with
//! [`RuntimeError::Panic`]; the agent's thread catches its own and ends;
//! delivery gives up its drainer's place while unwinding; the process
//! supervisor reports a panic of its spawner thread, asked after each step.
//! Any of them poisons the agent: every later call fails with
//! [`RuntimeError::Panic`] (the C ABI: `ZMA_ERR_PANIC`), nothing is
//! delivered any more, the agent's thread ends, and free still returns
//! promptly.

mod delivery;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use delivery::{Callbacks, EventSink, LogSink};

use crate::engine::{
    AgentConfig, AgentError, Engine, LogLevel, LogRecord, Output, SupervisorKind, Time,
};
use crate::options::{AgentOptions, Mode};
use crate::process::{saved, ProcessSupervisor};
use crate::sys::poller::Poller;
use crate::wire::Limits;
use delivery::Delivery;

/// Why a runtime call failed; each maps to one C status code.
#[derive(Debug)]
pub enum RuntimeError {
    /// Refused input or request (`ZMA_ERR_LIMIT`, `_UTF8`, `_JSON`,
    /// `_EVENT`, `_STATE`).
    Agent(AgentError),
    /// Not allowed now: polling a threaded agent, using a closed one.
    State(String),
    /// The operating system refused (an epoll, a thread).
    Io(String),
    /// A panic was caught inside (now or earlier): the agent is poisoned
    /// and refuses every further call (`ZMA_ERR_PANIC`).
    Panic(String),
}

impl std::fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuntimeError::Agent(e) => e.fmt(f),
            RuntimeError::State(m) | RuntimeError::Io(m) | RuntimeError::Panic(m) => f.write_str(m),
        }
    }
}

struct Core {
    engine: Engine,
    limits: Limits,
    /// The built-in process supervisor, when the agent uses it.
    process: Option<ProcessSupervisor>,
    /// Polled mode: the latest time the host gave.
    polled_now: Time,
    /// With the process supervisor, the state directory, where the agent
    /// keeps the configuration it runs for a later agent to adopt its
    /// nodes (see `process::saved`); whether it does (`stop_nodes_on_free:
    /// false`), or removes what an earlier agent saved once its own
    /// configuration changes.
    save_to: Option<(String, bool)>,
    /// The engine's configuration generation saved last.
    saved_generation: u64,
    /// Test hook: panic inside the next engine call.
    panic_next: bool,
}

/// One agent with its clock and callbacks.
pub struct Runtime {
    core: Mutex<Core>,
    delivery: Delivery,
    poller: Arc<Poller>,
    mode: Mode,
    started: Instant,
    closed: AtomicBool,
    stop_nodes_on_free: bool,
    /// Threaded mode: the token of the agent's own thread.
    thread_token: AtomicU64,
    /// A panic was caught inside: the agent refuses every further call.
    poisoned: AtomicBool,
    /// What panicked, once known (for the messages of later calls).
    poison_reason: Mutex<Option<String>>,
    /// Test hook: the agent's thread panics in its next loop iteration.
    panic_thread_next: AtomicBool,
}

/// An agent runtime and, in threaded mode, its thread.
pub struct Agent {
    runtime: Arc<Runtime>,
    thread: Option<JoinHandle<()>>,
}

/// Locks a mutex, ignoring poisoning: a panic while it was held is caught
/// at the C boundary, which poisons the whole agent instead.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Agent {
    /// Creates the agent; in threaded mode starts its thread.
    pub fn new(options: AgentOptions) -> Result<Agent, RuntimeError> {
        let io = |what: &str, e: std::io::Error| {
            RuntimeError::Io(format!("cannot create the agent's {what}: {e}"))
        };
        let poller = Arc::new(Poller::new().map_err(|e| io("poller (epoll, eventfd)", e))?);
        let mut startup: Vec<(LogLevel, String)> = Vec::new();
        let state_dir = options.engine.state_dir.clone();
        let uses_process = options.engine.supervisor == SupervisorKind::Process;
        // `adopt_nodes`: the configuration an earlier agent saved, and
        // its nodes on this instance, which are to be adopted.
        let saved = if options.adopt_nodes && uses_process {
            saved::read(&state_dir, &options.limits).unwrap_or_else(|reason| {
                startup.push((LogLevel::Warning, format!("adopting no nodes: {reason}")));
                None
            })
        } else {
            None
        };
        let to_adopt: Option<std::collections::BTreeSet<String>> = saved.as_ref().map(|c| {
            c.nodes
                .iter()
                .filter(|n| n.instance == options.engine.name)
                .map(|n| n.name.clone())
                .collect()
        });
        let mut process = match options.engine.supervisor {
            SupervisorKind::Process => Some(
                ProcessSupervisor::new(&options, Arc::clone(&poller), to_adopt.as_ref())
                    .map_err(|e| io("process supervisor", e))?,
            ),
            SupervisorKind::Host { .. } => None,
        };
        let mut engine = Engine::new(AgentConfig {
            host_pid: options.list_self.then(|| i64::from(std::process::id())),
            ..options.engine
        });
        if let Some(process) = process.as_mut() {
            let adopted = adopt(&mut engine, process, saved, &mut startup);
            // The state directory is ours now (the supervisor locked it):
            // a configuration saved there that was not adopted is stale.
            if !adopted {
                if let Err(e) = saved::remove(&state_dir) {
                    startup.push((
                        LogLevel::Warning,
                        format!("cannot remove the stale {}: {e}", saved::CONFIGURATION_FILE),
                    ));
                }
            }
        }
        let saved_generation = engine.configuration().1;
        let save_to = uses_process.then_some((state_dir, !options.stop_nodes_on_free));
        let runtime = Arc::new(Runtime {
            core: Mutex::new(Core {
                engine,
                limits: options.limits,
                process,
                polled_now: Time::ZERO,
                save_to,
                saved_generation,
                panic_next: false,
            }),
            delivery: Delivery::default(),
            poller,
            mode: options.mode,
            started: Instant::now(),
            closed: AtomicBool::new(false),
            stop_nodes_on_free: options.stop_nodes_on_free,
            thread_token: AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
            poison_reason: Mutex::new(None),
            panic_thread_next: AtomicBool::new(false),
        });
        if let Some(process) = &lock(&runtime.core).process {
            let log = |level, message| {
                runtime
                    .delivery
                    .push(Output::Log(LogRecord { level, message }))
            };
            for (level, message) in startup {
                log(level, message);
            }
            if let Err(reason) = process.program() {
                log(LogLevel::Warning, format!("nodes cannot start: {reason}"));
            }
            for leftover in &process.stopped_leftovers {
                log(
                    LogLevel::Warning,
                    format!("stopped node {leftover} left running by an earlier agent"),
                );
            }
        }
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
    /// already running on this very thread), its thread is gone, and (unless
    /// `stop_nodes_on_free` is false) so are its nodes.
    pub fn close(&mut self) {
        let rt = &self.runtime;
        if rt.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        rt.poller.kick();
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
        if !rt.stop_nodes_on_free {
            if let Some(process) = lock(&rt.core).process.as_mut() {
                process.leave_running();
            }
        } else {
            let mut core = lock(&rt.core);
            let base = core.polled_now;
            let started = Instant::now();
            if let Some(process) = core.process.as_mut() {
                let clock = || {
                    base.plus_millis(
                        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    )
                };
                process.stop_all(&clock);
            }
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.close();
    }
}

/// The text of a panic's payload.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The message of the call during which `text` panicked.
pub(crate) fn panic_message(text: &str) -> String {
    format!("internal error (panic: {text}); the agent is unusable now")
}

/// Poisons the runtime if dropped while unwinding: for the calls that let a
/// panic go on to their caller (who, at the C boundary, catches it).
struct PoisonOnUnwind<'a>(&'a Runtime);

impl Drop for PoisonOnUnwind<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.poison(None);
        }
    }
}

impl Runtime {
    /// Marks the agent unusable: a panic was caught (`reason` is what
    /// panicked, when known; the first one known is kept). Every later call
    /// fails with [`RuntimeError::Panic`], no callback is called any more,
    /// and the agent's thread ends; free still works.
    pub fn poison(&self, reason: Option<String>) {
        if let Some(reason) = reason {
            lock(&self.poison_reason).get_or_insert(reason);
        }
        self.poisoned.store(true, Ordering::SeqCst);
        self.poller.kick(); // threaded mode: the thread sees it and ends
    }

    /// Why later calls fail: what panicked, if known.
    pub fn poisoned_message(&self) -> String {
        match lock(&self.poison_reason).as_deref() {
            Some(reason) => {
                format!("the agent is unusable after an internal error (panic: {reason})")
            }
            None => "the agent is unusable after an internal error".to_owned(),
        }
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

    fn check_unpoisoned(&self) -> Result<(), RuntimeError> {
        if self.is_poisoned() {
            Err(RuntimeError::Panic(self.poisoned_message()))
        } else {
            Ok(())
        }
    }

    /// Runs a call that drives the engine and delivers, behind the panic
    /// boundary: a panic anywhere in it (the engine, the process supervisor,
    /// a callback on this thread) poisons the agent and fails the call.
    fn contained(
        &self,
        body: impl FnOnce() -> Result<(), RuntimeError>,
    ) -> Result<(), RuntimeError> {
        self.check_unpoisoned()?;
        self.check_open()?;
        match catch_unwind(AssertUnwindSafe(body)) {
            Ok(result) => result,
            Err(payload) => {
                let text = panic_text(payload.as_ref());
                let message = panic_message(&text);
                self.poison(Some(text));
                Err(RuntimeError::Panic(message))
            }
        }
    }

    /// Poisons the agent if the process supervisor's spawner thread
    /// panicked (it catches that itself; the runtime asks after each step).
    fn check_supervisor(&self, core: &Core) {
        if core
            .process
            .as_ref()
            .is_some_and(ProcessSupervisor::has_panicked)
        {
            self.poison(Some(
                "the process supervisor's spawner thread panicked".to_owned(),
            ));
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

    /// Replaces callbacks. Once this returns, a replaced callback is not
    /// running (on any other thread) and is never called again, so what it
    /// uses may be released: this waits for an invocation in progress.
    /// Called from inside a callback of this agent it cannot wait (the
    /// replaced callback may be the caller's own frame, still running; it
    /// is not called again). Do not call it holding a lock that a running
    /// callback may wait for.
    pub fn set_callbacks(&self, update: impl FnOnce(&mut Callbacks)) {
        self.delivery.set_callbacks(update);
    }

    /// Takes one inbound event (JSON, either encoding).
    pub fn handle_request(&self, json: &[u8]) -> Result<(), RuntimeError> {
        self.contained(|| {
            {
                let mut core = lock(&self.core);
                // Freed while this call waited for the lock (another thread
                // may hold the runtime): its nodes are stopped, start none.
                self.check_open()?;
                self.check_unpoisoned()?;
                if std::mem::take(&mut core.panic_next) {
                    panic!("panic injected by a test");
                }
                let now = self.now(&core);
                let Core { engine, limits, .. } = &mut *core;
                let outputs = engine
                    .handle_json(now, json, limits)
                    .map_err(RuntimeError::Agent)?;
                self.carry_out(&mut core, now, outputs);
                self.check_supervisor(&core);
            }
            self.poller.kick(); // threaded mode: deadlines may have changed
            self.deliver();
            // Poisoned meanwhile (on another thread too): what this call
            // queued was dropped, not delivered.
            self.check_unpoisoned()
        })
    }

    /// Polled mode: advance to `now_ms`, fire timers, read and reap the
    /// nodes, deliver.
    pub fn poll(&self, now_ms: u64) -> Result<(), RuntimeError> {
        self.contained(|| {
            if self.mode != Mode::Polled {
                return Err(RuntimeError::State(
                    "zma_agent_poll: the agent runs in threaded mode".into(),
                ));
            }
            let ready = self.poller.wait(Some(Duration::ZERO));
            {
                let mut core = lock(&self.core);
                self.check_open()?; // as in handle_request
                self.check_unpoisoned()?;
                if std::mem::take(&mut core.panic_next) {
                    panic!("panic injected by a test");
                }
                core.polled_now = core.polled_now.max(Time::from_millis(now_ms));
                let now = core.polled_now;
                self.advance(&mut core, now, &ready);
                self.check_supervisor(&core);
            }
            self.deliver();
            self.check_unpoisoned() // as in handle_request
        })
    }

    /// Polled mode: the absolute time of the next deadline.
    pub fn next_timeout_ms(&self) -> Option<u64> {
        if self.mode != Mode::Polled || self.is_closed() {
            return None;
        }
        let _poison = PoisonOnUnwind(self);
        next_deadline(&lock(&self.core)).map(Time::as_millis)
    }

    /// Polled mode: the descriptor readable when `poll` has work.
    pub fn fd(&self) -> Option<i32> {
        (self.mode == Mode::Polled).then(|| self.poller.fd())
    }

    pub fn state_json(&self) -> String {
        let _poison = PoisonOnUnwind(self);
        lock(&self.core).engine.state().to_json()
    }

    /// Test hook: the next engine call panics (to prove the C boundary
    /// catches it and poisons the agent).
    #[doc(hidden)]
    pub fn inject_panic(&self) {
        lock(&self.core).panic_next = true;
    }

    /// Test hook: the process supervisor's spawner thread panics at its
    /// next job.
    #[doc(hidden)]
    pub fn inject_spawner_panic(&self) {
        if let Some(process) = &lock(&self.core).process {
            process.inject_spawner_panic();
        }
    }

    /// Test hook: the agent's own thread (threaded mode) panics in its next
    /// loop iteration, outside any engine call or callback.
    #[doc(hidden)]
    pub fn inject_thread_panic(&self) {
        self.panic_thread_next.store(true, Ordering::SeqCst);
        self.poller.kick();
    }

    /// Fires timers and hands the process supervisor's news to the engine.
    fn advance(&self, core: &mut Core, now: Time, ready: &[u64]) {
        let outputs = core.engine.handle_timeout(now);
        self.carry_out(core, now, outputs);
        let reports = core
            .process
            .as_mut()
            .map(|p| p.poll(ready, now))
            .unwrap_or_default();
        for report in reports {
            let outputs = core.engine.handle_report(now, report);
            self.carry_out(core, now, outputs);
        }
        self.log_supervisor_warnings(core);
    }

    /// Logs what the process supervisor could not do without failing a
    /// command (a node's output file or pid file that cannot be written,
    /// why a restart failed).
    fn log_supervisor_warnings(&self, core: &mut Core) {
        if let Some(process) = core.process.as_mut() {
            for message in process.take_warnings() {
                self.delivery.push(Output::Log(LogRecord {
                    level: LogLevel::Warning,
                    message,
                }));
            }
        }
    }

    /// Carries out what the engine asked, in order, under the engine lock
    /// (so that outputs of concurrent calls queue in engine order).
    fn carry_out(&self, core: &mut Core, now: Time, outputs: Vec<Output>) {
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
                    let Some(process) = core.process.as_mut() else {
                        continue; // the engine emits these only in process mode
                    };
                    // Every command of this batch goes now, in order (the
                    // creates of a deploy stage start together). What the
                    // host sees does not change: the events and logs between
                    // them are still delivered in order, and the commands'
                    // reports, as always, only after all of them.
                    let mut commands = vec![command];
                    let mut rest = std::collections::VecDeque::with_capacity(pending.len());
                    for output in pending.drain(..) {
                        match output {
                            Output::Supervisor(next) => commands.push(next),
                            other => rest.push_back(other),
                        }
                    }
                    pending = rest;
                    for report in process.commands(commands, now) {
                        pending.extend(core.engine.handle_report(now, report));
                    }
                    self.log_supervisor_warnings(core);
                }
                Output::NodeReady { node } => {
                    // The node checked in: a later death is a crash, not a
                    // failure to start.
                    if let Some(process) = core.process.as_mut() {
                        process.mark_ready(&node);
                    }
                }
                event @ Output::Event(_) => self.delivery.push(event),
                log @ Output::Log(_) => self.delivery.push(log),
            }
        }
        self.save_configuration(core);
    }

    /// Saves the engine's configuration when it changed, if the agent
    /// saves it, or removes the saved one (see `Core::save_to`).
    fn save_configuration(&self, core: &mut Core) {
        let Some((state_dir, save)) = &core.save_to else {
            return;
        };
        let (config, generation) = core.engine.configuration();
        if generation == core.saved_generation {
            return;
        }
        core.saved_generation = generation;
        let config = config.filter(|_| *save);
        if let Err(e) = saved::write(state_dir, config) {
            self.delivery.push(Output::Log(LogRecord {
                level: LogLevel::Warning,
                message: format!(
                    "cannot save the configuration in {state_dir}/{} (a later agent cannot \
                     adopt the nodes): {e}",
                    saved::CONFIGURATION_FILE
                ),
            }));
        }
    }

    fn deliver(&self) {
        self.delivery
            .drain(&|| self.is_closed() || self.is_poisoned(), &|| {
                self.poison(None)
            });
    }

    /// The threaded mode's thread. A panic in it (the engine, the process
    /// supervisor, a callback it delivers to) poisons the agent and ends
    /// the thread cleanly; `close` still joins it.
    fn run_thread(&self) {
        self.thread_token
            .store(delivery::thread_token(), Ordering::SeqCst);
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.thread_loop())) {
            self.poison(Some(panic_text(payload.as_ref())));
        }
    }

    /// The threaded mode's loop: sleep until the next deadline or
    /// readiness, fire timers, read and reap nodes, deliver; until the
    /// agent is freed or poisoned.
    fn thread_loop(&self) {
        loop {
            // Freed from a callback on this thread: `close` has stopped the
            // nodes, and the kick that would wake this thread may have been
            // consumed by that stop; do not sleep again.
            if self.is_closed() || self.is_poisoned() {
                return;
            }
            let deadline = next_deadline(&lock(&self.core));
            let wait = deadline.map(|at| {
                let when = self.started + Duration::from_millis(at.as_millis());
                when.saturating_duration_since(Instant::now())
            });
            let ready = self.poller.wait(wait);
            if self.is_closed() || self.is_poisoned() {
                return;
            }
            if self.panic_thread_next.swap(false, Ordering::SeqCst) {
                panic!("panic injected by a test");
            }
            {
                let mut core = lock(&self.core);
                let now = self.now(&core);
                self.advance(&mut core, now, &ready);
                self.check_supervisor(&core);
            }
            self.deliver();
        }
    }
}

/// Adopts the nodes an earlier agent left running (`adopt_nodes`): the
/// engine takes the configuration that agent saved, with its local nodes
/// RUNNING, and the process supervisor the processes it found for them.
/// Returns whether it did; what it did goes to `log`.
fn adopt(
    engine: &mut Engine,
    process: &mut ProcessSupervisor,
    saved: Option<crate::model::Configuration>,
    log: &mut Vec<(LogLevel, String)>,
) -> bool {
    let Some(config) = saved else {
        return false;
    };
    let id = config.id.clone();
    let Some(pids) = process.adoptable() else {
        log.push((
            LogLevel::Warning,
            format!(
                "adopting no nodes: not every node of configuration {id} on this instance \
                 still runs; any that do are stopped"
            ),
        ));
        return false;
    };
    match engine.adopt_running(config, &pids) {
        Ok(configs) => {
            let adopted = process.adopt(configs, Time::ZERO);
            let nodes: Vec<String> = adopted
                .iter()
                .map(|n| format!("{n} (pid {})", pids.get(n).copied().unwrap_or_default()))
                .collect();
            log.push((
                LogLevel::Info,
                format!(
                    "adopted configuration {id} and its running nodes: {}; their output is not \
                     captured",
                    nodes.join(", ")
                ),
            ));
            true
        }
        Err(reason) => {
            process.adopt(Vec::new(), Time::ZERO);
            log.push((LogLevel::Warning, format!("adopting no nodes: {reason}")));
            false
        }
    }
}

fn next_deadline(core: &Core) -> Option<Time> {
    let engine = core.engine.poll_timeout();
    let process = core
        .process
        .as_ref()
        .and_then(ProcessSupervisor::next_deadline);
    match (engine, process) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
