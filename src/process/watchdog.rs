//! The node watchdog: no node outlives the host process, not even one whose
//! program gains capabilities when it starts, unless the agent was made
//! with `stop_nodes_on_free: false`. Such nodes are to survive the host (a
//! later agent may take them over), so they get no parent-death signal and
//! are not registered here, and their supervisor starts no watchdog at all.
//!
//! Every other node gets a parent-death signal (SIGKILL), but the kernel clears
//! it when a process execs a program that gains privileges: file
//! capabilities or set-user-ID. That is exactly the deployment the README
//! recommends (`setcap` on Zeek, the agent as an unprivileged user), so a
//! host killed with SIGKILL would leave such nodes running with parent 1.
//!
//! So each supervisor has one watchdog, a small process that
//!
//! - shares the host's memory and descriptor table (`clone(CLONE_VM |
//!   CLONE_FILES)`): starting it copies nothing, and it can use the pidfds
//!   the nodes were started with;
//! - holds no privilege a node could lose (it never execs), and is in a
//!   process group of its own with every signal blocked, so a signal to the
//!   host's group (Ctrl-C, `kill -9 -<pgid>`) does not take it along;
//! - sleeps in `ppoll` on a pidfd of the host process and on an eventfd.
//!
//! When the host process is gone, however it ended, its pidfd becomes
//! readable: the watchdog kills every registered node (`pidfd_send_signal`
//! to the node, then SIGKILL to its process group while the pidfd proves
//! the group is still the node's) and exits. When the supervisor no longer
//! needs it (its nodes are stopped, or the last kept node exited), it is
//! told to leave through the eventfd and is reaped.
//!
//! Nodes are registered in [`Registry`] slots, and a node registers itself:
//! its start (in `launch`) stores its pid and pidfd in a slot reserved for
//! it before its `execve`, then checks that the host is still alive. So
//! there is no moment in which a node has exec'd but is unknown to the
//! watchdog. A slot is cleared before its node is reaped, so the watchdog
//! never signals a pid that may have been reused.
//!
//! The rules for code that runs in the watchdog are those of the child in
//! `launch`, and stricter: it runs on a stack of its own, allocates
//! nothing, takes no lock, and makes system calls directly ([`sys`]), since
//! it shares thread-local storage (and so `errno`) with the spawner thread
//! it was cloned from, which may end before it does.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

use super::launch::ChildStack;

/// Slots per chunk of the registry.
const CHUNK: usize = 64;

/// A slot's `pid` while it is reserved for a node that has not started.
const RESERVED: i32 = -1;
/// A slot's `pid` while it is free.
const FREE: i32 = 0;

/// One node as the watchdog sees it.
pub(crate) struct Slot {
    /// [`FREE`], [`RESERVED`], or the node's pid (written last).
    pid: AtomicI32,
    /// The node's pidfd in the host's descriptor table.
    pidfd: AtomicI32,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            pid: AtomicI32::new(FREE),
            pidfd: AtomicI32::new(-1),
        }
    }

    /// Records a started node (called in the node's child, before exec).
    pub(crate) fn fill(&self, pid: i32, pidfd: RawFd) {
        self.pidfd.store(pidfd, Ordering::Relaxed);
        self.pid.store(pid, Ordering::Release);
    }
}

struct Chunk {
    slots: [Slot; CHUNK],
    next: OnceLock<Box<Chunk>>,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            slots: [const { Slot::new() }; CHUNK],
            next: OnceLock::new(),
        }
    }
}

/// The nodes the watchdog kills when the host dies. It grows by chunks
/// that are never moved or freed while it lives, so the watchdog can walk
/// it at any moment without a lock.
pub(crate) struct Registry {
    first: Chunk,
}

impl Registry {
    pub(crate) fn new() -> Arc<Registry> {
        Arc::new(Registry {
            first: Chunk::new(),
        })
    }

    fn chunks(&self) -> impl Iterator<Item = &Chunk> {
        std::iter::successors(Some(&self.first), |chunk| chunk.next.get().map(|b| &**b))
    }

    /// Reserves a free slot for a node about to start.
    pub(crate) fn reserve(self: &Arc<Registry>) -> SlotRef {
        let mut index = 0;
        let mut chunk = &self.first;
        loop {
            for slot in &chunk.slots {
                if slot
                    .pid
                    .compare_exchange(FREE, RESERVED, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    return SlotRef {
                        registry: Arc::clone(self),
                        index,
                    };
                }
                index += 1;
            }
            chunk = chunk.next.get_or_init(|| Box::new(Chunk::new()));
        }
    }

    fn slot(&self, index: usize) -> Option<&Slot> {
        self.chunks().nth(index / CHUNK)?.slots.get(index % CHUNK)
    }

    /// How many nodes are registered (for tests and diagnostics).
    #[cfg(test)]
    fn registered(&self) -> usize {
        self.chunks()
            .flat_map(|c| c.slots.iter())
            .filter(|s| s.pid.load(Ordering::Acquire) > 0)
            .count()
    }
}

/// A node's slot: filled by its start, freed when it is reaped (or the
/// start failed), in [`Drop`].
pub(crate) struct SlotRef {
    registry: Arc<Registry>,
    index: usize,
}

impl SlotRef {
    pub(crate) fn slot(&self) -> Option<&Slot> {
        self.registry.slot(self.index)
    }
}

impl Drop for SlotRef {
    fn drop(&mut self) {
        if let Some(slot) = self.slot() {
            slot.pidfd.store(-1, Ordering::Relaxed);
            slot.pid.store(FREE, Ordering::Release);
        }
    }
}

/// What the watchdog process reads; lives (in a `Box`) until it is reaped.
struct Shared {
    registry: Arc<Registry>,
    /// A pidfd of the host process: readable once the host is gone.
    host: OwnedFd,
    /// Written to tell the watchdog to leave.
    leave: OwnedFd,
}

/// The running watchdog of one supervisor. Dropping it tells the watchdog
/// to leave and reaps it.
pub(crate) struct Watchdog {
    pid: i32,
    pidfd: OwnedFd,
    shared: Box<Shared>,
    /// The watchdog's stack; unmapped only after it is reaped.
    _stack: ChildStack,
}

impl Watchdog {
    /// Starts the watchdog for the nodes of `registry`. Must be called on a
    /// thread that blocks every signal (the spawner thread): the watchdog
    /// inherits that mask, so no handler of the host can ever run in it.
    pub(crate) fn start(registry: Arc<Registry>) -> io::Result<Watchdog> {
        // SAFETY: getpid has no preconditions.
        let host = crate::sys::proc::pidfd_open(unsafe { libc::getpid() })?;
        // SAFETY: eventfd takes no memory; it returns a new descriptor or -1.
        let leave = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if leave < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let leave = unsafe { OwnedFd::from_raw_fd(leave) };
        let shared = Box::new(Shared {
            registry,
            host,
            leave,
        });
        let stack = ChildStack::new()?;
        let mut pidfd: libc::c_int = -1;
        // No exit signal: a host that reaps every child (`waitpid(-1)`) or
        // ignores SIGCHLD cannot take the watchdog's exit; only __WALL
        // waits see it.
        let flags = libc::CLONE_VM | libc::CLONE_FILES | libc::CLONE_PIDFD;
        // SAFETY: `watch` runs on `stack`, which lives (in the returned
        // Watchdog) until the watchdog is reaped; it reads only `shared`,
        // which lives as long, and obeys the rules in the module
        // documentation. The kernel stores the pidfd in `pidfd`.
        let pid = unsafe {
            libc::clone(
                watch,
                stack.top(),
                flags,
                std::ptr::from_ref::<Shared>(&shared).cast_mut().cast(),
                &mut pidfd as *mut libc::c_int,
            )
        };
        if pid < 0 {
            return Err(super::launch::clone_error());
        }
        Ok(Watchdog {
            pid,
            // SAFETY: the kernel made this descriptor for us (CLONE_PIDFD).
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
            shared,
            _stack: stack,
        })
    }

    /// The watchdog's pid (for tests).
    #[cfg(test)]
    fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local to our eventfd.
        unsafe {
            libc::write(
                self.shared.leave.as_raw_fd(),
                std::ptr::from_ref(&one).cast(),
                8,
            )
        };
        // It leaves at once; wait for it, so that its stack and `shared`
        // are no longer in use when they are freed.
        let _ = crate::sys::proc::wait_pidfd(self.pidfd.as_raw_fd(), 0);
        let _ = self.pid;
    }
}

/// The watchdog process: see the module documentation.
extern "C" fn watch(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Shared` of `Watchdog::start`, alive until this
    // process has been reaped.
    let shared = unsafe { &*arg.cast_const().cast::<Shared>() };
    // SAFETY: direct system calls with no memory passed but the name.
    unsafe {
        sys::call(libc::SYS_setpgid as usize, [0, 0, 0, 0]);
        sys::call(
            libc::SYS_prctl as usize,
            [
                libc::PR_SET_NAME as usize,
                c"zma-watchdog".as_ptr() as usize,
                0,
                0,
            ],
        );
    }
    let host = shared.host.as_raw_fd();
    let leave = shared.leave.as_raw_fd();
    loop {
        let mut fds = [
            libc::pollfd {
                fd: host,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: leave,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: ppoll on an array of two pollfds on our stack, no
        // timeout, no signal mask change.
        let ready = unsafe {
            sys::call(
                libc::SYS_ppoll as usize,
                [fds.as_mut_ptr() as usize, 2, 0, 0],
            )
        };
        if ready <= 0 {
            continue; // EINTR cannot happen (signals blocked); be safe
        }
        if fds[1].revents != 0 {
            break; // told to leave: the supervisor looks after its nodes
        }
        if fds[0].revents != 0 {
            kill_all(&shared.registry);
            break;
        }
    }
    // SAFETY: ends this process (not the host: it has its own thread group).
    unsafe { sys::call(libc::SYS_exit as usize, [0, 0, 0, 0]) };
    0
}

/// Kills every registered node and its process group.
fn kill_all(registry: &Registry) {
    for slot in registry.chunks().flat_map(|c| c.slots.iter()) {
        let pid = slot.pid.load(Ordering::Acquire);
        if pid <= 0 {
            continue;
        }
        let pidfd = slot.pidfd.load(Ordering::Relaxed);
        // SAFETY: direct system calls; no memory is passed.
        unsafe {
            let sent = sys::call(
                libc::SYS_pidfd_send_signal as usize,
                [pidfd as usize, libc::SIGKILL as usize, 0, 0],
            );
            // The pidfd proves the node is not reaped, so its pid (and the
            // group it leads) is still its own.
            if sent == 0 {
                sys::call(
                    libc::SYS_kill as usize,
                    [(-pid) as isize as usize, libc::SIGKILL as usize, 0, 0],
                );
            }
        }
    }
}

/// System calls without libc's wrappers, which write `errno` through
/// thread-local storage the watchdog must not touch.
mod sys {
    /// Makes system call `number` with up to four arguments; returns the
    /// kernel's result (negative errno on failure).
    ///
    /// # Safety
    /// As for the system call itself: pointers among the arguments must be
    /// valid for it.
    #[cfg(target_arch = "x86_64")]
    pub(super) unsafe fn call(number: usize, args: [usize; 4]) -> isize {
        let ret: isize;
        // SAFETY: the x86-64 Linux system call convention; rcx and r11 are
        // clobbered by `syscall`.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") number as isize => ret,
                in("rdi") args[0],
                in("rsi") args[1],
                in("rdx") args[2],
                in("r10") args[3],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }

    /// # Safety
    /// As above.
    #[cfg(target_arch = "aarch64")]
    pub(super) unsafe fn call(number: usize, args: [usize; 4]) -> isize {
        let ret: isize;
        // SAFETY: the AArch64 Linux system call convention.
        unsafe {
            std::arch::asm!(
                "svc 0",
                in("x8") number,
                inlateout("x0") args[0] as isize => ret,
                in("x1") args[1],
                in("x2") args[2],
                in("x3") args[3],
                options(nostack),
            );
        }
        ret
    }

    /// Elsewhere, libc's generic wrapper: it writes `errno` on failure,
    /// which only the watchdog's last calls can cause.
    ///
    /// # Safety
    /// As above.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub(super) unsafe fn call(number: usize, args: [usize; 4]) -> isize {
        // SAFETY: forwarded contract.
        unsafe {
            libc::syscall(number as libc::c_long, args[0], args[1], args[2], args[3]) as isize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reserved_filled_and_freed() {
        let registry = Registry::new();
        let slots: Vec<SlotRef> = (0..CHUNK * 2 + 3).map(|_| registry.reserve()).collect();
        assert_eq!(registry.chunks().count(), 3);
        for (i, slot) in slots.iter().enumerate() {
            slot.slot().unwrap().fill(1000 + i as i32, 3);
        }
        assert_eq!(registry.registered(), CHUNK * 2 + 3);
        let indices: std::collections::BTreeSet<usize> = slots.iter().map(|s| s.index).collect();
        assert_eq!(indices.len(), slots.len(), "every slot is its own");
        drop(slots);
        assert_eq!(registry.registered(), 0);
        // Freed slots are reused: no new chunk.
        let again: Vec<SlotRef> = (0..CHUNK * 3).map(|_| registry.reserve()).collect();
        assert_eq!(registry.chunks().count(), 3);
        drop(again);
    }

    #[test]
    fn the_watchdog_leaves_when_told_and_is_reaped() {
        let registry = Registry::new();
        let (tx, rx) = std::sync::mpsc::channel();
        // Started on a thread that blocks every signal, as the spawner does.
        std::thread::spawn(move || {
            super::super::launch::block_all_signals();
            let watchdog = Watchdog::start(registry).unwrap();
            let pid = watchdog.pid();
            // It names itself and leaves our process group first thing.
            let (mut comm, mut pgid) = (String::new(), 0);
            for _ in 0..2000 {
                comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
                // SAFETY: getpgid takes a pid and no memory.
                pgid = unsafe { libc::getpgid(pid) };
                if comm.trim() == "zma-watchdog" && pgid == pid {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            drop(watchdog);
            tx.send((pid, comm, pgid)).unwrap();
        })
        .join()
        .unwrap();
        let (pid, comm, pgid) = rx.recv().unwrap();
        assert_eq!(comm.trim(), "zma-watchdog");
        assert_eq!(pgid, pid, "in a process group of its own");
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "reaped"
        );
    }
}
