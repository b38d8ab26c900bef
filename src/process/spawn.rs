//! The spawner thread, which starts every node of one supervisor. Starts
//! run on one long-lived thread per supervisor: Linux sends the
//! parent-death signal when the *thread* that started a process exits, and
//! host threads may be short-lived. Handing a start to that thread does not
//! wait for it ([`Spawner::submit`]), so the agent prepares the next node's
//! directory while the previous node is being started. The thread also
//! runs the watchdog and looks after the nodes a freed agent leaves
//! running (`keep`).

use std::io;
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};

use super::keep::{self, Kept};
use super::launch::{self, ChildStack, NodeProcess};
use super::node_dir::Plan;
use super::watchdog::{Registry, SlotRef, Watchdog};

/// Starts one node (on the spawner thread), registered in `slot` if the
/// watchdog is to kill it with the host.
fn exec(plan: &Plan, stack: &ChildStack, slot: Option<SlotRef>) -> io::Result<NodeProcess> {
    launch::start(
        launch::Command {
            program: &plan.program,
            path: &plan.path,
            argv0: &plan.argv0,
            args: &plan.args,
            env: &plan.env,
            dir: plan.dir.as_raw_fd(),
            cpu: plan.cpu,
            stop_nodes_on_free: plan.stop_nodes_on_free,
            slot,
        },
        stack,
    )
}

/// What the spawner thread sets up at its first start: the stack children
/// run on and, when nodes are to die with the host, the watchdog. An agent
/// that never starts a node has neither.
struct Equipment {
    stack: ChildStack,
    registry: Arc<Registry>,
    /// Declared last: dropped (told to leave, and reaped) after the nodes
    /// it guards are handed on or gone. `None` with `stop_nodes_on_free:
    /// false`: nodes then survive the host, so nothing may kill them when
    /// it dies.
    watchdog: Option<Watchdog>,
}

impl Equipment {
    /// Called on the spawner thread, which blocks every signal first (see
    /// `launch`): the watchdog inherits that mask. `guard`: nodes die with
    /// the host (the same for every node of a supervisor).
    fn new(guard: bool) -> io::Result<Equipment> {
        launch::block_all_signals();
        let stack = ChildStack::new()?;
        let registry = Registry::new();
        let watchdog = if guard {
            Some(Watchdog::start(Arc::clone(&registry)).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot start the node watchdog: {e}"))
            })?)
        } else {
            None
        };
        Ok(Equipment {
            stack,
            registry,
            watchdog,
        })
    }
}

/// Starts one node on the spawner thread. A child nobody waits for any
/// more is killed and reaped, never leaked.
fn start(plan: Plan, equipment: &Equipment, reply: mpsc::Sender<io::Result<NodeProcess>>) {
    // Registered with the watchdog only if it is to die with the host.
    let slot = equipment
        .watchdog
        .as_ref()
        .map(|_| equipment.registry.reserve());
    let started = exec(&plan, &equipment.stack, slot);
    drop(plan);
    if let Err(mpsc::SendError(Ok(mut process))) = reply.send(started) {
        process.kill();
        let _ = process.wait();
    }
}

/// A start handed to the spawner thread.
pub(crate) struct Starting(Result<mpsc::Receiver<io::Result<NodeProcess>>, io::Error>);

impl Starting {
    /// Waits for the node's process (or why it could not start).
    pub(crate) fn wait(self) -> io::Result<NodeProcess> {
        self.0?
            .recv()
            .map_err(|_| io::Error::other("the spawner thread is gone"))?
    }
}

/// Work for the spawner thread.
enum Job {
    /// Start a node; the answer goes back on the channel.
    Start(Plan, mpsc::Sender<io::Result<NodeProcess>>),
    /// Look after nodes the freed agent leaves running (see `keep`).
    Keep(Vec<Kept>),
    /// Test hook: panic on the spawner thread.
    Panic,
}

/// The thread that starts every node of one supervisor.
pub(crate) struct Spawner {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// The thread panicked (and ended): the agent is unusable.
    panicked: Arc<AtomicBool>,
}

/// Sets the panic flag if dropped while unwinding.
struct PanicFlag(Arc<AtomicBool>);

impl Drop for PanicFlag {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// The spawner thread's loop: jobs in order until the supervisor is gone.
fn serve(queue: mpsc::Receiver<Job>, panicked: Arc<AtomicBool>) {
    // Dropped before `queue` (locals before parameters): the flag is set
    // before any pending start can fail for want of this thread, so the
    // runtime sees the panic with the first such failure.
    let _flag = PanicFlag(panicked);
    let mut equipment: Option<Equipment> = None;
    for job in queue {
        let (plan, reply) = match job {
            Job::Start(plan, reply) => (plan, reply),
            Job::Keep(kept) => {
                let _ = keep::keep(kept);
                continue;
            }
            Job::Panic => panic!("panic injected by a test on the spawner thread"),
        };
        if equipment.is_none() {
            match Equipment::new(plan.stop_nodes_on_free) {
                Ok(made) => equipment = Some(made),
                Err(e) => {
                    let _ = reply.send(Err(e));
                    continue;
                }
            }
        }
        if let Some(equipment) = &equipment {
            start(plan, equipment, reply);
        }
    }
}

impl Spawner {
    pub(crate) fn new() -> io::Result<Spawner> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let panicked = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&panicked);
        let thread = thread::Builder::new()
            .name("zma-spawner".into())
            .spawn(move || {
                // A panic here ends the thread (pending starts then fail
                // with "the spawner thread is gone") and poisons the agent.
                let _ = catch_unwind(AssertUnwindSafe(|| serve(queue, flag)));
            })?;
        Ok(Spawner {
            jobs: Some(jobs),
            thread: Some(thread),
            panicked,
        })
    }

    /// Whether the spawner thread panicked.
    pub(crate) fn has_panicked(&self) -> bool {
        self.panicked.load(Ordering::SeqCst)
    }

    /// Test hook: the spawner thread panics at its next job.
    pub(crate) fn inject_panic(&self) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Panic);
        }
    }

    /// Hands a node start to the spawner thread without waiting for it.
    pub(crate) fn submit(&self, plan: Plan) -> Starting {
        let (reply, answer) = mpsc::channel();
        let Some(jobs) = self.jobs.as_ref() else {
            return Starting(Err(io::Error::other("the spawner is stopped")));
        };
        match jobs.send(Job::Start(plan, reply)) {
            Ok(()) => Starting(Ok(answer)),
            Err(_) => Starting(Err(io::Error::other("the spawner thread is gone"))),
        }
    }
}

impl Spawner {
    /// The agent is freed but leaves `kept` running: the thread that
    /// started them looks after them until they exit, and is not waited
    /// for.
    pub(crate) fn leave_running(&mut self, kept: Vec<Kept>) {
        if let Some(jobs) = self.jobs.take() {
            let _ = jobs.send(Job::Keep(kept));
        }
        drop(self.thread.take()); // detached: it ends after the last node
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.jobs = None; // ends the thread's loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
