//! Delivering outputs to the host's callbacks, in engine order, with no
//! lock held while a callback runs.
//!
//! Outputs are queued under the engine lock, so the queue holds them in the
//! order the engine made them. Whichever thread finds the queue without a
//! drainer becomes the drainer and empties it. A call made from inside a
//! callback of the same agent (re-entrant: this thread is the drainer of
//! this very agent) only queues: the drainer, further up the same stack,
//! delivers its outputs after the callback returns. Concurrent callers
//! leave theirs to the running drainer. So every output is delivered once,
//! in one global order, and no callback can deadlock the agent by calling
//! back into it.
//!
//! Re-entrancy is per agent, not per thread: a callback of agent A that
//! calls agent B is no re-entrant call of B. If B has no drainer, this
//! thread becomes B's drainer (nested inside A's callback) and B's answers
//! are delivered before B's call returns, not stranded until some later
//! call on B. If B's drainer is another thread, that one delivers them.
//! Nesting back into A from B's callback is re-entrant again (this thread
//! is A's drainer) and only queues.
//!
//! A callback that panics (or anything else unwinding through the drainer)
//! poisons the agent before the drainer's place is given up, both by guards
//! that run while unwinding: no thread is left waiting for a drainer that is
//! gone, free does not wait for it, and nothing more is delivered.
//!
//! Backpressure: callers that find the drainer more than [`MAX_QUEUED`]
//! outputs behind wait (holding no lock) until it is down to half of that,
//! so threads that hand over events faster than the callbacks take them
//! cannot grow the queue without bound. A drainer that has delivered
//! [`MAX_QUEUED`] outputs while such callers wait hands the delivery to one
//! of them and returns, so no caller is kept delivering for the others for
//! ever.
//!
//! A thread that is inside a callback of *any* agent never waits for room,
//! it only queues: that is the one place where a per-thread notion of
//! "inside a callback" still matters. Waiting there could deadlock across
//! agents: thread 1, delivering A, is in A's callback and calls B, whose
//! drainer is thread 2; thread 2 is in B's callback and calls A, whose
//! drainer is thread 1. If either waited for the other's drainer to make
//! room, neither callback would ever return. (Waiting for a drainer of the
//! same agent is already excluded: that drainer is this thread.) Such
//! calls queue only at the pace of the callbacks making them.
//!
//! Replacing callbacks: only the drainer calls them, so at most one
//! invocation of an agent's callbacks runs at a time; it is recorded, with
//! the generation of the callbacks it uses (taken under the same lock as
//! the callbacks themselves) and the thread it runs on. `set_callbacks`
//! swaps them in and then waits until no invocation of an older
//! generation runs, so once it returns the old callbacks are neither
//! running nor ever called again, and the host may release what they use
//! (a C callback's `user_data`). It cannot wait when the caller is the very
//! thread running this agent's callback (a callback replacing callbacks of
//! its own agent): the old callback is then the caller's own frame, which
//! returns after it; it is still never called again. Like any synchronous
//! unregistration, the wait deadlocks if the running callback waits for the
//! replacing thread (a lock the host holds while replacing, or two threads
//! replacing each other's agents' callbacks from their callbacks).

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::sync::{Condvar, Mutex};

use super::lock;

use crate::engine::{Channel, LogLevel, Output};

/// A host callback for events: `(topic, event_json)`.
pub type EventSink = Arc<dyn Fn(&str, &str) + Send + Sync>;
/// A host callback for log lines.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// The host's callbacks; `None` drops what would go there.
#[derive(Clone, Default)]
pub struct Callbacks {
    pub response: Option<EventSink>,
    pub notification: Option<EventSink>,
    pub publish: Option<EventSink>,
    pub log: Option<LogSink>,
}

/// Outputs the drainer may be behind before callers wait for it.
pub(crate) const MAX_QUEUED: usize = 4096;

#[derive(Default)]
struct State {
    queue: VecDeque<Output>,
    drainer: Option<u64>,
    /// Callers waiting for the queue to shrink (backpressure).
    waiting: usize,
}

thread_local! {
    /// How many callbacks (of any agents, nested) this thread is running.
    static CALLBACK_DEPTH: Cell<usize> = const { Cell::new(0) };
    static THREAD_TOKEN: Cell<u64> = const { Cell::new(0) };
}

/// A number naming the calling thread. Unlike `std::thread::current()` it
/// allocates nothing, so hosts' leak checkers stay quiet.
pub(crate) fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    THREAD_TOKEN.with(|t| {
        if t.get() == 0 {
            t.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

/// The callbacks, how often they were replaced, and the invocation running.
#[derive(Default)]
struct Registered {
    callbacks: Callbacks,
    /// Bumped by every `set_callbacks`.
    generation: u64,
    /// The invocation of a callback running now, if any (at most one: only
    /// the drainer calls them).
    running: Option<Running>,
}

#[derive(Clone, Copy)]
struct Running {
    /// The generation of the callbacks it uses.
    generation: u64,
    /// The thread it runs on.
    thread: u64,
}

#[derive(Default)]
pub(crate) struct Delivery {
    state: Mutex<State>,
    idle: Condvar,
    registered: Mutex<Registered>,
    /// Notified when an invocation of a callback returns (or unwinds).
    returned: Condvar,
}

impl Delivery {
    pub(crate) fn push(&self, item: Output) {
        lock(&self.state).queue.push_back(item);
    }

    /// Replaces callbacks; once this returns, the replaced ones are not
    /// running and are never called again, unless this thread is the one
    /// running a callback of this agent (module doc).
    pub(crate) fn set_callbacks(&self, update: impl FnOnce(&mut Callbacks)) {
        let me = thread_token();
        let mut registered = lock(&self.registered);
        update(&mut registered.callbacks);
        registered.generation += 1;
        let replaced = registered.generation;
        while let Some(running) = registered.running {
            if running.generation >= replaced || running.thread == me {
                break;
            }
            registered = self
                .returned
                .wait(registered)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Delivers everything queued, unless another thread (or this one,
    /// further up the stack: a callback of this agent) is already doing
    /// so. `stop` is checked before each callback: nothing is delivered
    /// once the agent is freed or poisoned. If anything in here unwinds (a
    /// callback panics), `poison` is called before another thread can take
    /// over the delivery, and the drainer's place is given up on the way
    /// out.
    pub(crate) fn drain(&self, stop: &dyn Fn() -> bool, poison: &dyn Fn()) {
        let me = thread_token();
        // Inside a callback of some agent: queue, never wait (module doc).
        let inside_a_callback = CALLBACK_DEPTH.with(Cell::get) > 0;
        let mut draining = {
            let mut state = lock(&self.state);
            if state.drainer == Some(me) {
                return; // re-entrant: this thread, up the stack, delivers it
            }
            let mut limit = MAX_QUEUED;
            loop {
                if state.drainer.is_none() {
                    state.drainer = Some(me);
                    break Draining {
                        delivery: self,
                        poison,
                        armed: true,
                    };
                }
                // Another thread is delivering; it will get ours, unless
                // it is far behind: then wait for room (or its hand-over).
                if inside_a_callback || state.queue.len() <= limit || stop() {
                    return;
                }
                limit = MAX_QUEUED / 2;
                state.waiting += 1;
                // A timeout, so that a free or a panic (which set their
                // flags without this lock) is noticed without a wake-up of
                // its own.
                state = self
                    .idle
                    .wait_timeout(state, Duration::from_millis(10))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                state.waiting -= 1;
            }
        };
        let mut delivered = 0;
        loop {
            let item = {
                let mut state = lock(&self.state);
                if delivered >= MAX_QUEUED && state.waiting > 0 {
                    // Hand the delivery over to a waiting caller.
                    draining.give_up(&mut state);
                    return;
                }
                match state.queue.pop_front() {
                    Some(item) => {
                        if state.queue.len() == MAX_QUEUED / 2 && state.waiting > 0 {
                            self.idle.notify_all(); // room again
                        }
                        item
                    }
                    None => {
                        // Under the same lock as the check for an empty
                        // queue: an output queued after it finds no
                        // drainer, and its caller delivers it.
                        draining.give_up(&mut state);
                        return;
                    }
                }
            };
            delivered += 1;
            if stop() {
                continue; // dropped: the agent is being freed, or poisoned
            }
            let (callbacks, _invocation) = Invocation::start(self, me);
            deliver(&callbacks, item);
        }
    }

    /// Waits until no other thread is delivering (for free). Returns at once
    /// if this thread is the drainer (a callback freeing its own agent).
    pub(crate) fn wait_idle(&self) {
        let me = thread_token();
        let mut state = lock(&self.state);
        while state.drainer.is_some_and(|t| t != me) {
            state = self.idle.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The drainer's place, held by one thread. Dropped while unwinding (a
/// callback panicked), it poisons the agent and frees the place, so that
/// other threads' outputs are not stranded and free does not wait for ever.
struct Draining<'a> {
    delivery: &'a Delivery,
    poison: &'a dyn Fn(),
    armed: bool,
}

impl Draining<'_> {
    /// Gives the place up (the queue is empty, or a waiting caller takes
    /// over), under the state lock the caller holds.
    fn give_up(&mut self, state: &mut State) {
        state.drainer = None;
        self.delivery.idle.notify_all();
        self.armed = false;
    }
}

impl Drop for Draining<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if std::thread::panicking() {
            // First poison, then free the place: whoever takes it next
            // finds the agent poisoned and delivers nothing more.
            (self.poison)();
        }
        let mut state = lock(&self.delivery.state);
        state.drainer = None;
        self.delivery.idle.notify_all();
    }
}

/// One invocation of a callback, from taking the callbacks until it
/// returns: this agent's running invocation, and one more callback this
/// thread runs. Dropped also when the callback unwinds.
struct Invocation<'a> {
    delivery: &'a Delivery,
}

impl<'a> Invocation<'a> {
    /// The current callbacks, taken under the same lock that records the
    /// invocation, so that `set_callbacks` either sees it running or has
    /// replaced them before they were taken.
    fn start(delivery: &'a Delivery, thread: u64) -> (Callbacks, Invocation<'a>) {
        let mut registered = lock(&delivery.registered);
        registered.running = Some(Running {
            generation: registered.generation,
            thread,
        });
        let callbacks = registered.callbacks.clone();
        drop(registered);
        CALLBACK_DEPTH.with(|c| c.set(c.get() + 1));
        (callbacks, Invocation { delivery })
    }
}

impl Drop for Invocation<'_> {
    fn drop(&mut self) {
        CALLBACK_DEPTH.with(|c| c.set(c.get().saturating_sub(1)));
        lock(&self.delivery.registered).running = None;
        self.delivery.returned.notify_all();
    }
}

fn deliver(callbacks: &Callbacks, item: Output) {
    match item {
        Output::Event(out) => {
            let sink = match out.channel {
                Channel::Response => &callbacks.response,
                Channel::Notification => &callbacks.notification,
                Channel::Publish => &callbacks.publish,
            };
            if let Some(sink) = sink {
                sink(&out.topic, &out.to_json());
            }
        }
        Output::Log(record) => {
            if let Some(log) = &callbacks.log {
                log(record.level, &record.message);
            }
        }
        // Carried out by the runtime before queueing; never queued.
        Output::Supervisor(_) | Output::EnsureDirectory { .. } | Output::NodeReady { .. } => {}
    }
}
