//! Delivering outputs to the host's callbacks, in engine order, with no
//! lock held while a callback runs.
//!
//! Outputs are queued under the engine lock, so the queue holds them in the
//! order the engine made them. Whichever thread finds the queue without a
//! drainer becomes the drainer and empties it. A call made from inside a
//! callback (re-entrant) only queues: the drainer, further up the same
//! stack, delivers its outputs after the callback returns. Concurrent
//! callers leave theirs to the running drainer. So every output is
//! delivered once, in one global order, and no callback can deadlock the
//! agent by calling back into it.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

#[derive(Default)]
struct State {
    queue: VecDeque<Output>,
    drainer: Option<u64>,
}

thread_local! {
    /// Set while this thread runs a callback as the drainer.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
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

#[derive(Default)]
pub(crate) struct Delivery {
    state: Mutex<State>,
    idle: Condvar,
    callbacks: Mutex<Callbacks>,
}

impl Delivery {
    pub(crate) fn push(&self, item: Output) {
        lock(&self.state).queue.push_back(item);
    }

    pub(crate) fn set_callbacks(&self, update: impl FnOnce(&mut Callbacks)) {
        update(&mut lock(&self.callbacks));
    }

    /// Delivers everything queued, unless another thread (or this one,
    /// further up the stack) is already doing so. `closed` is checked
    /// before each callback: nothing is delivered once the agent is freed.
    pub(crate) fn drain(&self, closed: &dyn Fn() -> bool) {
        if IN_CALLBACK.with(Cell::get) {
            return; // re-entrant: the drainer up the stack delivers it
        }
        {
            let mut state = lock(&self.state);
            if state.drainer.is_some() {
                return; // another thread is delivering; it will get ours
            }
            state.drainer = Some(thread_token());
        }
        loop {
            let item = {
                let mut state = lock(&self.state);
                match state.queue.pop_front() {
                    Some(item) => item,
                    None => {
                        state.drainer = None;
                        self.idle.notify_all();
                        return;
                    }
                }
            };
            if closed() {
                continue; // dropped: the agent is being freed
            }
            let callbacks = lock(&self.callbacks).clone();
            IN_CALLBACK.with(|c| c.set(true));
            deliver(&callbacks, item);
            IN_CALLBACK.with(|c| c.set(false));
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
        Output::Supervisor(_) | Output::EnsureDirectory { .. } => {}
    }
}
