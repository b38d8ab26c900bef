//! A stand-in for a Zeek cluster node, for tests and demos where Zeek is
//! not installed. As far as the agent can tell it behaves like one:
//!
//! - it needs `CLUSTER_NODE` and reads its entry in `cluster-layout.zeek`
//!   (found through the first `ZEEKPATH` entry, as Zeek finds it);
//! - it listens on its `$p` port, like a Zeek node's Broker endpoint, so
//!   two nodes on one port clash as they would for real;
//! - it prints start-up lines on stdout and stderr (the first names its
//!   pid, the second its role, arguments and the signal mask it was started
//!   with) and runs until SIGTERM, then exits 0.
//!
//! `ZMA_STANDIN` (in the node's environment, comma-separated) asks for
//! misbehaviour: `crash-at-start`, `crash-after=<ms>`, `ignore-sigterm`,
//! `exit-after-term=<ms>` (slow shutdown), `flood=<bytes>` (writes that much
//! to stdout at start).

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    TERMINATED.store(true, Ordering::SeqCst);
}

#[derive(Default)]
struct Modes {
    crash_at_start: bool,
    crash_after: Option<u64>,
    ignore_sigterm: bool,
    exit_after_term: u64,
    flood: u64,
}

fn modes() -> Modes {
    let mut modes = Modes::default();
    for item in std::env::var("ZMA_STANDIN").unwrap_or_default().split(',') {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        let number = value.parse().unwrap_or(0);
        match key {
            "crash-at-start" => modes.crash_at_start = true,
            "crash-after" => modes.crash_after = Some(number),
            "ignore-sigterm" => modes.ignore_sigterm = true,
            "exit-after-term" => modes.exit_after_term = number,
            "flood" => modes.flood = number,
            _ => {}
        }
    }
    modes
}

/// This node's entry of the layout: its fields as text.
fn layout_entry(node: &str) -> Option<String> {
    let dir = std::env::var("ZEEKPATH")
        .ok()?
        .split(':')
        .next()?
        .to_owned();
    let layout = std::fs::read_to_string(format!("{dir}/cluster-layout.zeek")).ok()?;
    let key = format!("[\"{node}\"] = [");
    layout.lines().find_map(|l| {
        l.trim()
            .strip_prefix(&key)
            .map(|rest| rest.trim_end_matches("],").to_owned())
    })
}

fn field<'a>(entry: &'a str, name: &str) -> Option<&'a str> {
    entry
        .split(", ")
        .find_map(|f| f.strip_prefix(&format!("${name}=")))
}

/// The signal mask this process was started with, as `/proc` shows it.
fn inherited_signal_mask() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigBlk:").map(|m| m.trim().to_owned()))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() {
    // Before this program blocks anything itself.
    let signal_mask = inherited_signal_mask();
    let Ok(node) = std::env::var("CLUSTER_NODE") else {
        eprintln!("fatal error: CLUSTER_NODE is not set");
        std::process::exit(1);
    };
    let modes = modes();
    let handler = if modes.ignore_sigterm {
        libc::SIG_IGN
    } else {
        on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t
    };
    // SAFETY: installs an async-signal-safe handler (an atomic store) or
    // SIG_IGN for SIGTERM, before any other thread exists, then blocks
    // SIGTERM: it is taken only inside `wait_for_signal`'s ppoll, so none
    // is missed between checking the flag and going to sleep.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        let mut term: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut term);
        libc::sigaddset(&mut term, libc::SIGTERM);
        libc::sigprocmask(libc::SIG_BLOCK, &term, std::ptr::null_mut());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!(
        "{node}: zeek-mgmt-agent stand-in node starting (pid {})",
        std::process::id()
    );
    eprintln!("{node}: warning: this is a stand-in for Zeek, not Zeek");
    if modes.crash_at_start {
        eprintln!(
            "{node}: error in ./local.zeek, line 1: unknown identifier (a stand-in crash at start)"
        );
        std::process::exit(1);
    }
    let Some(entry) = layout_entry(&node) else {
        eprintln!("fatal error: {node} is not in cluster-layout.zeek");
        std::process::exit(1);
    };
    let role = field(&entry, "node_type").unwrap_or("?");
    println!("{node}: role {role}, arguments {args:?}, started with signal mask {signal_mask}");
    // Listen where the layout says, as a Zeek node's Broker endpoint does.
    let _listener = match (field(&entry, "ip"), field(&entry, "p")) {
        (Some(ip), Some(port)) => {
            let ip = ip.trim_start_matches('[').trim_end_matches(']');
            let port = port.trim_end_matches("/tcp");
            let address = if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            };
            match TcpListener::bind(&address) {
                Ok(listener) => {
                    println!("{node}: listening on {ip}:{port}");
                    Some(listener)
                }
                Err(e) => {
                    eprintln!("fatal error: cannot listen on {ip}:{port}: {e}");
                    std::process::exit(1);
                }
            }
        }
        _ => None,
    };
    if modes.flood > 0 {
        let line = [b'x'; 1023];
        let mut out = std::io::stdout().lock();
        let mut written = 0;
        while written < modes.flood {
            if out
                .write_all(&line)
                .and_then(|()| out.write_all(b"\n"))
                .is_err()
            {
                break;
            }
            written += 1024;
        }
        let _ = out.flush();
    }
    let started = Instant::now();
    loop {
        let crash_in = modes
            .crash_after
            .map(|ms| Duration::from_millis(ms).saturating_sub(started.elapsed()));
        if crash_in == Some(Duration::ZERO) {
            eprintln!("{node}: fatal error: a stand-in crash after start");
            std::process::exit(3);
        }
        wait_for_signal(crash_in);
        if TERMINATED.load(Ordering::SeqCst) {
            println!("{node}: received SIGTERM, shutting down");
            std::thread::sleep(Duration::from_millis(modes.exit_after_term));
            std::process::exit(0);
        }
    }
}

/// Sleeps until a signal arrives or `timeout` passes, with SIGTERM
/// unblocked only while asleep (an idle node uses no CPU).
fn wait_for_signal(timeout: Option<Duration>) {
    let timeout = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
    });
    let timeout_ptr = timeout
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: an empty descriptor set, a timeout that outlives the call (or
    // none), and an empty signal mask set up just before.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::ppoll(std::ptr::null_mut(), 0, timeout_ptr, &none);
    }
}
