//! The built-in process supervisor (`"supervisor": {"kind": "process"}`):
//! the engine's supervisor commands carried out with real child processes.
//!
//! It never blocks and never sleeps: the runtime calls [`ProcessSupervisor::
//! poll`] with the tokens its poller reported (a pipe has output, a pidfd
//! says a process exited) and the current time, and asks
//! [`ProcessSupervisor::next_deadline`] when to call again (a SIGKILL after
//! the grace period, a restart delay, a readiness wait). Everything it
//! learns comes back as [`Report`]s for the engine.
//!
//! What a node's life is (readiness, crash or start failure, back-off,
//! FAILED, stopping) is decided in `life`, a state machine without I/O,
//! given the time; this file is its shell: it starts processes, signals
//! them, reads their pipes, and turns what `life` says into reports.
//!
//! Beyond Zeek's Supervisor: stops are parallel with a configurable grace
//! period; restart delays are capped; a node that keeps dying before it
//! ever became ready is given up (`FAILED`, Zeek issue #2488); nodes left
//! running by an earlier agent on the same state directory are stopped
//! when the supervisor starts, before any new one, or adopted
//! (`adopt_nodes`: see [`ProcessSupervisor::new`] and `saved`).

mod backoff;
mod capture;
mod keep;
#[allow(unsafe_code)] // clone/exec in a child sharing our memory: process spawning
mod launch;
pub(crate) mod layout;
mod leftovers;
mod life;
#[allow(unsafe_code)] // flock
mod lock;
#[allow(unsafe_code)] // openat, readlinkat, symlinkat: files relative to a directory descriptor
mod node_dir;
mod pid_file;
mod program;
pub(crate) mod saved;
mod spawn;
#[allow(unsafe_code)] // a process sharing our memory that outlives us: process supervision
mod watchdog;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;

use capture::Capture;
use launch::NodeProcess;
use life::{Death, Exit, Life, Policy, Step};
use node_dir::{Prepared, SpawnSettings};
use spawn::{Spawner, Starting};

use crate::model::{
    ClusterEndpoint, NodeConfig, NodeOutputs, SupervisorNodeStatus, SupervisorStatus, Time,
};
use crate::options::{AgentOptions, ProcessOptions};
use crate::supervisor::{Command, CommandId, Report, SupervisorCommand};
use crate::sys::poller::Poller;
use crate::sys::proc::{pidfd_send_signal, set_nonblocking, signal_group};

/// How much output one `poll` reads from one pipe, so that a flooding node
/// cannot starve the others (the rest stays readable for the next poll).
const READ_BUDGET: usize = 1 << 20;

/// The read end of a node's stdout or stderr pipe.
struct Stream(File);

impl Stream {
    fn raw(&self) -> i32 {
        self.0.as_raw_fd()
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// One output pipe of a running node, its file and its kept lines.
struct Pipe {
    stream: Stream,
    token: u64,
    file: File,
    /// The file's path, for messages.
    path: String,
    /// Writing to the file failed in this run (reported once).
    write_failed: bool,
}

/// A live process.
struct Running {
    process: NodeProcess,
    pid: i32,
    pid_token: u64,
    out: Option<Pipe>,
    err: Option<Pipe>,
    /// Adopted from an earlier agent: not our child (see
    /// `NodeProcess::adopted`), no output pipes.
    adopted: bool,
}

impl Running {
    /// Signals the node's process group. An adopted process is not our
    /// child, so its pid may be reused once it exits: the signal goes
    /// through its pidfd first, and to its group only while that proves
    /// the pid is still its own (as for leftovers).
    fn signal(&self, signal: i32) {
        if !self.adopted || pidfd_send_signal(self.process.pidfd.as_raw_fd(), signal) {
            signal_group(self.pid, signal);
        }
    }
}

struct Node {
    config: NodeConfig,
    /// What happens to it when (see `life`).
    life: Life,
    /// Its process: there exactly while `life` is up.
    running: Option<Running>,
    stdout: Capture,
    stderr: Capture,
}

/// The cluster table of a deploy, shared by all its nodes.
type ClusterTable = Arc<BTreeMap<String, ClusterEndpoint>>;

/// A node start on its way: the spawner has it, the agent keeps the
/// output files until the process is there to feed them.
struct Begun {
    starting: Starting,
    dir: Arc<OwnedFd>,
    program: PathBuf,
    stdout: File,
    stderr: File,
}

#[derive(Clone, Copy)]
enum Source {
    Output,
    Exit,
}

/// The process supervisor of one agent.
pub struct ProcessSupervisor {
    options: ProcessOptions,
    policy: Policy,
    program: Result<PathBuf, String>,
    zeekpath_tail: String,
    /// The agent's `stop_nodes_on_free`: its nodes die with the host
    /// (parent-death signal, watchdog), or (false) survive it.
    stop_nodes_on_free: bool,
    poller: Arc<Poller>,
    spawner: Spawner,
    nodes: BTreeMap<String, Node>,
    /// The last cluster table and its `cluster-layout.zeek` text: every node
    /// of a deploy shares one table, so the text is made once per deploy.
    layout: Option<(ClusterTable, Arc<str>)>,
    sources: HashMap<u64, (String, Source)>,
    next_token: u64,
    /// Node processes of an earlier agent stopped at start, for the log.
    pub stopped_leftovers: Vec<String>,
    /// Node processes of an earlier agent held for adoption (see
    /// [`ProcessSupervisor::adopt`]); `None` when none are to be adopted.
    held: Option<Vec<leftovers::Found>>,
    /// Failures that fail no command, for the log (see `take_warnings`).
    warnings: Vec<String>,
    /// This agent's hold on the state directory; released when the agent
    /// is freed (`stop_all`, `leave_running`).
    lock: lock::StateLock,
}

impl ProcessSupervisor {
    /// A supervisor for the agent `agent` describes: its `supervisor`
    /// options, `node_ready`, `ready_after_ms`, `stop_nodes_on_free`, and
    /// the state directory, under which its nodes live (`nodes/`). It
    /// locks the state directory for its life, and fails if another agent
    /// holds it. Processes an earlier agent left running there are stopped
    /// first (SIGTERM, SIGKILL after `stop_grace_ms`): this call waits for
    /// that, so it takes up to the grace period when there are any, and no
    /// duplicate ever starts.
    ///
    /// `adopt` names the nodes to adopt instead (`adopt_nodes`: the local
    /// nodes of the configuration the earlier agent saved): if every one
    /// of them is found running (its pid file names a live process, started
    /// at the recorded time, called `zeek.<node>`), they are held for
    /// [`ProcessSupervisor::adopt`] and only the other leftovers are
    /// stopped; if any is missing, none is adopted and all are stopped.
    pub fn new(
        agent: &AgentOptions,
        poller: Arc<Poller>,
        adopt: Option<&BTreeSet<String>>,
    ) -> io::Result<ProcessSupervisor> {
        let options = agent.process.clone();
        let state_dir = agent.engine.state_dir.as_str();
        let lock = lock::acquire(state_dir)?;
        let program = program::resolve_program(&options.zeek, std::env::var_os("PATH"));
        let zeekpath_tail = match &program {
            Ok(p) => program::zeekpath_tail(p, std::env::var("ZEEKPATH").ok()),
            Err(_) => String::new(),
        };
        let mut supervisor = ProcessSupervisor {
            policy: Policy::new(&options, agent.node_ready, agent.ready_after_ms),
            program,
            zeekpath_tail,
            stop_nodes_on_free: agent.stop_nodes_on_free,
            poller,
            spawner: Spawner::new()?,
            nodes: BTreeMap::new(),
            layout: None,
            sources: HashMap::new(),
            next_token: 1,
            stopped_leftovers: Vec::new(),
            held: None,
            warnings: Vec::new(),
            options,
            lock,
        };
        let mut found = leftovers::find(state_dir);
        if let Some(names) = adopt {
            if names.iter().all(|n| found.iter().any(|f| &f.node == n)) {
                let (held, others) = found.into_iter().partition(|f| names.contains(&f.node));
                supervisor.held = Some(held);
                found = others;
            }
        }
        leftovers::stop(
            &found,
            std::time::Duration::from_millis(supervisor.options.stop_grace_ms),
            &supervisor.poller,
        );
        supervisor.stopped_leftovers = found
            .into_iter()
            .map(|f| format!("{} (pid {})", f.node, f.pid))
            .collect();
        Ok(supervisor)
    }

    /// The nodes held for adoption and their pids, if the supervisor
    /// adopts (see [`ProcessSupervisor::new`]).
    pub fn adoptable(&self) -> Option<BTreeMap<String, i64>> {
        let held = self.held.as_ref()?;
        Some(
            held.iter()
                .map(|f| (f.node.clone(), i64::from(f.pid)))
                .collect(),
        )
    }

    /// Takes over the held nodes that `configs` describe (the engine's
    /// view of them, see `Engine::adopt_running`): from now on they are
    /// this supervisor's nodes, up and ready, their exits watched through
    /// their pidfds. Held nodes without a configuration (all of them when
    /// the engine refused the adoption) are stopped as leftovers. Returns
    /// the names adopted.
    pub fn adopt(&mut self, configs: Vec<NodeConfig>, now: Time) -> Vec<String> {
        let mut held = self.held.take().unwrap_or_default();
        let mut adopted = Vec::new();
        for config in configs {
            let Some(at) = held.iter().position(|f| f.node == config.name) else {
                continue;
            };
            let (name, pid, pidfd) = held.swap_remove(at).into_parts();
            let pid_token = self.token();
            if let Err(e) = self.poller.add(pidfd.as_raw_fd(), pid_token) {
                self.warnings.push(format!(
                    "cannot watch adopted node {name} (pid {pid}): {e}; its exit will go unnoticed"
                ));
            }
            self.sources.insert(pid_token, (name.clone(), Source::Exit));
            self.nodes.insert(
                name.clone(),
                Node {
                    config,
                    life: Life::adopted(&self.policy, now),
                    running: Some(Running {
                        process: NodeProcess::adopted(pid, pidfd),
                        pid,
                        pid_token,
                        out: None,
                        err: None,
                        adopted: true,
                    }),
                    stdout: Capture::new(self.options.output_max_lines),
                    stderr: Capture::new(self.options.output_max_lines),
                },
            );
            adopted.push(name);
        }
        if !held.is_empty() {
            leftovers::stop(
                &held,
                std::time::Duration::from_millis(self.options.stop_grace_ms),
                &self.poller,
            );
            self.stopped_leftovers
                .extend(held.iter().map(|f| format!("{} (pid {})", f.node, f.pid)));
        }
        adopted
    }

    /// What went wrong since the last call without failing a command: an
    /// output or pid file that cannot be written, why a restart failed.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Whether a panic ended the spawner thread (the agent is then
    /// unusable and poisons itself).
    pub fn has_panicked(&self) -> bool {
        self.spawner.has_panicked()
    }

    /// Test hook: the spawner thread panics at its next job.
    #[doc(hidden)]
    pub fn inject_spawner_panic(&self) {
        self.spawner.inject_panic();
    }

    /// The program nodes run (or why it could not be found).
    pub fn program(&self) -> Result<&PathBuf, &String> {
        self.program.as_ref()
    }

    fn token(&mut self) -> u64 {
        let token = self.next_token;
        self.next_token += 1;
        token
    }

    /// Carries out commands in order; answers come back now or from a later
    /// `poll`. Creates that follow each other start together: each node's
    /// directory is prepared while the one before is being forked.
    pub fn commands(&mut self, commands: Vec<SupervisorCommand>, now: Time) -> Vec<Report> {
        let mut reports = Vec::new();
        let mut creates = Vec::new();
        for command in commands {
            match command.command {
                Command::Create(config) => creates.push((command.id, *config)),
                other => {
                    self.create_all(std::mem::take(&mut creates), now, &mut reports);
                    reports.extend(self.command(
                        SupervisorCommand {
                            id: command.id,
                            command: other,
                        },
                        now,
                    ));
                }
            }
        }
        self.create_all(creates, now, &mut reports);
        reports
    }

    /// Carries out one command; answers come back now or from a later
    /// `poll`.
    pub fn command(&mut self, command: SupervisorCommand, now: Time) -> Vec<Report> {
        let mut reports = Vec::new();
        let id = command.id;
        match command.command {
            Command::Create(config) => self.create_all(vec![(id, *config)], now, &mut reports),
            Command::Destroy { node } => self.destroy(id, &node, now, &mut reports),
            Command::Restart { node } => self.restart(id, &node, now, &mut reports),
            Command::Status { node } => reports.push(Report::Status {
                id,
                status: self.status(&node),
            }),
        }
        reports
    }

    /// Creates nodes: every start is handed to the spawner first, then each
    /// is waited for, in order.
    fn create_all(
        &mut self,
        creates: Vec<(CommandId, NodeConfig)>,
        now: Time,
        reports: &mut Vec<Report>,
    ) {
        let mut launched = Vec::with_capacity(creates.len());
        for (id, config) in creates {
            let name = config.name.clone();
            if self.nodes.contains_key(&name)
                || launched
                    .iter()
                    .any(|(_, node, _): &(_, Node, _)| node.config.name == name)
            {
                reports.push(Report::Created {
                    id,
                    error: Some(format!("node {name} already exists")),
                });
                continue;
            }
            let node = Node {
                config,
                life: Life::new(&self.policy, now),
                running: None,
                stdout: Capture::new(self.options.output_max_lines),
                stderr: Capture::new(self.options.output_max_lines),
            };
            let begun = self.begin_start(&node);
            launched.push((id, node, begun));
        }
        for (id, mut node, begun) in launched {
            match begun.and_then(|begun| self.finish_start(&mut node, begun, now)) {
                Ok(started) => {
                    reports.push(Report::Created { id, error: None });
                    reports.extend(started);
                    self.nodes.insert(node.config.name.clone(), node);
                }
                Err(error) => reports.push(Report::Created {
                    id,
                    error: Some(error),
                }),
            }
        }
    }

    /// Starts a node's process and waits for it.
    fn start(&mut self, node: &mut Node, now: Time) -> Result<Vec<Report>, String> {
        let begun = self.begin_start(node)?;
        self.finish_start(node, begun, now)
    }

    /// The `cluster-layout.zeek` text for a cluster table.
    fn layout_for(&mut self, cluster: &ClusterTable) -> Arc<str> {
        match &self.layout {
            Some((table, text)) if Arc::ptr_eq(table, cluster) => Arc::clone(text),
            _ => {
                let text: Arc<str> = layout::cluster_layout(cluster).into();
                self.layout = Some((Arc::clone(cluster), Arc::clone(&text)));
                text
            }
        }
    }

    /// Prepares a node's directory and hands its start to the spawner.
    fn begin_start(&mut self, node: &Node) -> Result<Begun, String> {
        let program = self.program.clone()?;
        let layout = self.layout_for(&node.config.cluster);
        let settings = SpawnSettings {
            program: &program,
            layout: &layout,
            args_prefix: &self.options.args_prefix,
            zeekpath_tail: &self.zeekpath_tail,
            stop_nodes_on_free: self.stop_nodes_on_free,
        };
        let Prepared {
            plan,
            dir,
            stdout,
            stderr,
        } = node_dir::prepare(&node.config, &settings)?;
        Ok(Begun {
            starting: self.spawner.submit(plan),
            dir,
            program,
            stdout,
            stderr,
        })
    }

    /// Waits for a started process and watches it; returns `NodeSpawned`
    /// (and `NodeReady` when spawn readiness needs no wait).
    fn finish_start(
        &mut self,
        node: &mut Node,
        begun: Begun,
        now: Time,
    ) -> Result<Vec<Report>, String> {
        let Begun {
            starting,
            dir,
            program,
            stdout,
            stderr,
        } = begun;
        let process = starting
            .wait()
            .map_err(|e| format!("cannot start {}: {e}", program::display(&program)))?;
        // A missing pid file only means that a leftover of this node could
        // not be found after a crash of the host; the node itself is fine.
        if let Err(e) = pid_file::write_pid_file(&dir, process.pid) {
            let name = &node.config.name;
            self.warnings
                .push(format!("cannot write the pid file of node {name}: {e}"));
        }
        let mut running = match self.register(process, stdout, stderr) {
            Ok(running) => running,
            Err((e, mut process)) => {
                process.kill();
                let _ = process.wait();
                return Err(format!("cannot watch node {}: {e}", node.config.name));
            }
        };
        let pid = running.pid;
        let name = node.config.name.clone();
        let dir = node.config.directory.as_deref().unwrap_or_default();
        for (pipe, file) in [
            (&mut running.out, node_dir::STDOUT_FILE),
            (&mut running.err, node_dir::STDERR_FILE),
        ] {
            if let Some(pipe) = pipe {
                pipe.path = format!("{dir}/{file}");
            }
        }
        for token in [running.pid_token]
            .into_iter()
            .chain(running.out.as_ref().map(|p| p.token))
            .chain(running.err.as_ref().map(|p| p.token))
        {
            let source = if token == running.pid_token {
                Source::Exit
            } else {
                Source::Output
            };
            self.sources.insert(token, (name.clone(), source));
        }
        node.running = Some(running);
        node.stdout.clear();
        node.stderr.clear();
        let mut reports = vec![Report::NodeSpawned {
            node: name.clone(),
            pid: i64::from(pid),
        }];
        if node.life.started(&self.policy, now) {
            reports.push(Report::NodeReady { node: name });
        }
        Ok(reports)
    }

    /// Watches a new process: its pidfd and both pipes, non-blocking. On
    /// failure the process is handed back to be killed.
    fn register(
        &mut self,
        mut process: NodeProcess,
        stdout: File,
        stderr: File,
    ) -> Result<Running, (io::Error, NodeProcess)> {
        let pid_token = self.token();
        if let Err(e) = self.poller.add(process.pidfd.as_raw_fd(), pid_token) {
            return Err((e, process));
        }
        let streams = [
            process.stdout.take().map(|s| (Stream(s), stdout)),
            process.stderr.take().map(|s| (Stream(s), stderr)),
        ];
        let mut pipes = Vec::with_capacity(2);
        for (stream, file) in streams.into_iter().flatten() {
            let token = self.token();
            let watched =
                set_nonblocking(stream.raw()).and_then(|()| self.poller.add(stream.raw(), token));
            if let Err(e) = watched {
                self.poller.remove(process.pidfd.as_raw_fd());
                for pipe in &pipes {
                    let pipe: &Pipe = pipe;
                    self.poller.remove(pipe.stream.raw());
                }
                return Err((e, process));
            }
            pipes.push(Pipe {
                stream,
                token,
                file,
                path: String::new(),
                write_failed: false,
            });
        }
        let mut pipes = pipes.into_iter();
        Ok(Running {
            pid: process.pid,
            process,
            pid_token,
            out: pipes.next(),
            err: pipes.next(),
            adopted: false,
        })
    }

    fn destroy(&mut self, id: CommandId, name: &str, now: Time, reports: &mut Vec<Report>) {
        let Some(mut node) = self.nodes.remove(name) else {
            reports.push(Report::Destroyed { id, ok: false });
            return;
        };
        let steps = node.life.destroy(id, &self.policy, now);
        self.carry_out(node, steps, now, reports);
    }

    fn restart(&mut self, id: CommandId, name: &str, now: Time, reports: &mut Vec<Report>) {
        let Some(mut node) = self.nodes.remove(name) else {
            reports.push(Report::Restarted { id, ok: false });
            return;
        };
        let steps = node.life.restart(id, &self.policy, now);
        self.carry_out(node, steps, now, reports);
    }

    /// Does what a node's life says, in order, and keeps the node unless
    /// it is forgotten.
    fn carry_out(
        &mut self,
        mut node: Node,
        steps: Vec<Step>,
        now: Time,
        reports: &mut Vec<Report>,
    ) {
        let mut forget = false;
        for step in steps {
            match step {
                Step::Signal(signal) => {
                    if let Some(running) = &node.running {
                        running.signal(signal);
                    }
                }
                Step::Answer(answer) => reports.push(answer),
                Step::Start(Some(id)) => self.start_for_restart(id, &mut node, now, reports),
                Step::Start(None) => self.start_after_back_off(&mut node, now, reports),
                Step::Ready => reports.push(Report::NodeReady {
                    node: node.config.name.clone(),
                }),
                Step::Forget => forget = true,
            }
        }
        if !forget {
            self.nodes.insert(node.config.name.clone(), node);
        }
    }

    /// Starts a node a restart asked for; the answer comes first.
    fn start_for_restart(
        &mut self,
        id: CommandId,
        node: &mut Node,
        now: Time,
        reports: &mut Vec<Report>,
    ) {
        match self.start(node, now) {
            Ok(started) => {
                reports.push(Report::Restarted { id, ok: true });
                reports.extend(started);
            }
            Err(reason) => {
                node.life.restart_failed();
                let name = &node.config.name;
                self.warnings
                    .push(format!("cannot restart node {name}: {reason}"));
                reports.push(Report::Restarted { id, ok: false });
            }
        }
    }

    fn status(&self, only: &str) -> SupervisorStatus {
        let nodes = self
            .nodes
            .iter()
            .filter(|(name, _)| only.is_empty() || name.as_str() == only)
            .map(|(name, node)| {
                let pid = node.running.as_ref().map(|r| i64::from(r.pid));
                (
                    name.clone(),
                    SupervisorNodeStatus {
                        node: node.config.clone(),
                        pid,
                    },
                )
            })
            .collect();
        SupervisorStatus { nodes }
    }

    /// The engine considers the node ready (it checked in): a later death
    /// is a crash, not a failure to start.
    pub fn mark_ready(&mut self, name: &str) {
        if let Some(node) = self.nodes.get_mut(name) {
            node.life.checked_in();
        }
    }

    /// When the supervisor needs `poll` again without any readiness.
    pub fn next_deadline(&self) -> Option<Time> {
        self.nodes.values().filter_map(|n| n.life.deadline()).min()
    }

    /// Whether any process of this supervisor is alive.
    pub fn has_processes(&self) -> bool {
        self.nodes.values().any(|n| n.life.is_up())
    }

    /// Reads output, notices exits and fires due timers.
    pub fn poll(&mut self, ready: &[u64], now: Time) -> Vec<Report> {
        let mut reports = Vec::new();
        for token in ready {
            let Some((name, source)) = self.sources.get(token).cloned() else {
                continue;
            };
            match source {
                Source::Output => self.read_output(&name, *token),
                Source::Exit => self.exited(&name, now, &mut reports),
            }
        }
        self.fire_timers(now, &mut reports);
        reports
    }

    fn read_output(&mut self, name: &str, token: u64) {
        let Some(node) = self.nodes.get_mut(name) else {
            return;
        };
        let Some(running) = &mut node.running else {
            return;
        };
        let (pipe, capture) = if running.out.as_ref().is_some_and(|p| p.token == token) {
            (&mut running.out, &mut node.stdout)
        } else {
            (&mut running.err, &mut node.stderr)
        };
        if drain_pipe(
            pipe,
            capture,
            READ_BUDGET,
            &self.poller,
            (name, &mut self.warnings),
        ) {
            self.sources.remove(&token);
        }
    }

    fn exited(&mut self, name: &str, now: Time, reports: &mut Vec<Report>) {
        let Some(mut node) = self.nodes.remove(name) else {
            return;
        };
        let Some(mut running) = node.running.take() else {
            self.nodes.insert(name.to_owned(), node);
            return;
        };
        let status = match running.process.try_wait() {
            Ok(Some(status)) => Some(status),
            Ok(None) => {
                // Not reaped yet (a spurious wakeup): keep watching.
                node.running = Some(running);
                self.nodes.insert(name.to_owned(), node);
                return;
            }
            // Reaped behind our back and the kernel kept no status (see
            // `sys::proc::wait_pidfd`): say so rather than invent one.
            Err(_) => None,
        };
        // What it wrote just before dying is still in the pipes.
        for (pipe, capture) in [
            (&mut running.out, &mut node.stdout),
            (&mut running.err, &mut node.stderr),
        ] {
            if let Some(token) = pipe.as_ref().map(|p| p.token) {
                drain_pipe(
                    pipe,
                    capture,
                    usize::MAX,
                    &self.poller,
                    (name, &mut self.warnings),
                );
                self.sources.remove(&token);
                if let Some(open) = pipe.take() {
                    self.poller.remove(open.stream.raw());
                }
            }
            capture.flush();
        }
        self.poller.remove(running.process.pidfd.as_raw_fd());
        self.sources.remove(&running.pid_token);
        let reason = match status {
            None if running.adopted => ADOPTED_EXIT.to_owned(),
            _ => describe(&status),
        };
        let outputs = NodeOutputs {
            stdout: node.stdout.joined(),
            stderr: node.stderr.joined(),
        };
        match node.life.exited(&self.policy, now) {
            Exit::Destroyed(id) => reports.push(Report::Destroyed { id, ok: true }),
            Exit::Shutdown => {}
            Exit::Restart(id) => {
                self.start_for_restart(id, &mut node, now, reports);
                self.nodes.insert(name.to_owned(), node);
            }
            Exit::Died(death) => {
                let name = node.config.name.clone();
                reports.push(match death {
                    Death::BackingOff { .. } => Report::NodeCrashed {
                        node: name,
                        reason,
                        outputs,
                    },
                    Death::Failed { start_failures } => Report::NodeFailed {
                        node: name,
                        reason: format!(
                            "it exited {start_failures} times in a row before becoming ready \
                             (last: {reason})"
                        ),
                        outputs,
                    },
                });
                self.nodes.insert(node.config.name.clone(), node);
            }
        }
    }

    /// Starts a node again after its back-off. A start that fails counts
    /// as dying at start.
    fn start_after_back_off(&mut self, node: &mut Node, now: Time, reports: &mut Vec<Report>) {
        let reason = match self.start(node, now) {
            Ok(started) => return reports.extend(started),
            Err(reason) => reason,
        };
        node.stderr.push(reason.as_bytes());
        node.stderr.flush();
        if let Death::Failed { start_failures } = node.life.start_failed(&self.policy, now) {
            reports.push(Report::NodeFailed {
                node: node.config.name.clone(),
                reason: format!(
                    "it could not be started {start_failures} times in a row ({reason})"
                ),
                outputs: NodeOutputs {
                    stdout: node.stdout.joined(),
                    stderr: node.stderr.joined(),
                },
            });
        }
    }

    fn fire_timers(&mut self, now: Time, reports: &mut Vec<Report>) {
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for name in names {
            let Some(mut node) = self.nodes.remove(&name) else {
                continue;
            };
            let steps = node.life.timers(now);
            self.carry_out(node, steps, now, reports);
        }
    }

    /// The agent is freed with `stop_nodes_on_free: false`: the running
    /// nodes are handed to the spawner thread, which keeps their output
    /// flowing into their files and reaps them (see `keep`). They were
    /// started to survive the host too (no parent-death signal, no
    /// watchdog).
    pub fn leave_running(&mut self) {
        let mut kept = Vec::new();
        for (_, node) in std::mem::take(&mut self.nodes) {
            let Some(Running {
                process, out, err, ..
            }) = node.running
            else {
                continue;
            };
            self.poller.remove(process.pidfd.as_raw_fd());
            let mut outputs = Vec::new();
            for pipe in [out, err].into_iter().flatten() {
                self.poller.remove(pipe.stream.raw());
                outputs.push((pipe.stream.0, pipe.file));
            }
            kept.push(keep::Kept { process, outputs });
        }
        self.sources.clear();
        self.spawner.leave_running(kept);
        self.lock.release();
    }

    /// Stops every process now (agent free): SIGTERM to all at once, SIGKILL
    /// after the grace period, and waits until all are gone. `clock` gives
    /// the current time.
    pub fn stop_all(&mut self, clock: &dyn Fn() -> Time) {
        let now = clock();
        let kill_at = now.plus_millis(self.options.stop_grace_ms);
        for node in self.nodes.values_mut() {
            for step in node.life.shut_down(kill_at) {
                if let (Step::Signal(signal), Some(running)) = (step, &node.running) {
                    running.signal(signal);
                }
            }
        }
        // Generous: SIGKILL ends any process promptly.
        let give_up = kill_at.plus_millis(10_000);
        while self.has_processes() {
            let now = clock();
            if now >= give_up {
                break;
            }
            let wait = self.next_deadline().map_or(100, |at| {
                at.as_millis().saturating_sub(now.as_millis()).min(100)
            });
            let ready = self
                .poller
                .wait(Some(std::time::Duration::from_millis(wait)));
            let _ = self.poll(&ready, clock());
        }
        self.nodes.clear();
        self.lock.release();
    }
}

/// Reads what a pipe has (up to `budget` bytes) into its file and capture;
/// the first failure to write the file is reported into `warnings`.
/// Returns true when the pipe is closed (and then removes it).
fn drain_pipe(
    pipe: &mut Option<Pipe>,
    capture: &mut Capture,
    budget: usize,
    poller: &Poller,
    (node, warnings): (&str, &mut Vec<String>),
) -> bool {
    let Some(open) = pipe.as_mut() else {
        return true;
    };
    let mut buf = [0u8; 65536];
    let mut read = 0;
    while read < budget {
        match open.stream.read(&mut buf) {
            Ok(0) => {
                capture.flush();
                poller.remove(open.stream.raw());
                *pipe = None;
                return true;
            }
            Ok(n) => {
                read += n;
                // The file is best effort (a full disk must not stop the
                // node), but its first failure in a run is reported.
                if let Err(e) = open.file.write_all(&buf[..n]) {
                    if !open.write_failed {
                        open.write_failed = true;
                        warnings.push(format!(
                            "cannot write the output of node {node} to {}: {e}; \
                             it is incomplete there until the node restarts \
                             (its last lines are still kept)",
                            open.path
                        ));
                    }
                }
                capture.push(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false, // EAGAIN: nothing more now
        }
    }
    false
}

/// How an adopted node ended when the kernel kept no exit status for us
/// (it is not our child: see `NodeProcess::adopted`).
const ADOPTED_EXIT: &str = "an exit status the agent could not read: the node was adopted from an \
     earlier agent, so it is not this agent's child (and this kernel keeps no exit status for \
     pidfds, Linux < 6.15)";

fn describe(status: &Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = status else {
        return "an exit status the agent could not read: the host process reaped the node \
                (it ignores SIGCHLD or waits for all its children), and this kernel keeps \
                no exit status for pidfds (Linux < 6.15)"
            .to_owned();
    };
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "unknown exit".to_owned(),
    }
}
