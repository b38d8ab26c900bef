//! A node that writes a lot must not grow the agent's memory: its output
//! goes to its file in full, and only the last lines stay in memory. Its
//! own test binary, so that nothing else moves this process's RSS.

mod process_support;

use std::time::Duration;

use process_support::*;
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap()
}

#[test]
fn a_flood_of_output_goes_to_the_file_not_to_memory() {
    const FLOOD: u64 = 256 * 1024 * 1024;
    let host = Host::new("flood", r#""output_max_lines": 100"#, "");
    host.send(&deploy("r1", "c1", &[json!({"name": "noisy", "role": "WORKER", "env": {"ZMA_STANDIN": format!("flood={FLOOD}")}})]));
    host.await_response("r1", Duration::from_secs(20));
    let before = rss_kib();
    let stdout = host.node_dir("noisy").join("stdout");
    assert!(
        host.run_until(Duration::from_secs(120), |_| std::fs::metadata(&stdout)
            .is_ok_and(|m| m.len() >= FLOOD)),
        "the file got everything"
    );
    let grown_kib = rss_kib().saturating_sub(before);
    assert!(
        grown_kib < 16 * 1024,
        "the agent grew by {grown_kib} KiB while 256 MiB passed through"
    );
    // The kept lines are the last ones, bounded.
    host.send(r#"{"event": "restart_request", "args": {"reqid": "x", "nodes": ["noisy"]}}"#);
    host.await_response("x", Duration::from_secs(20));
    let exits = host.events_named("Management::Supervisor::API::notify_node_exit");
    assert!(exits.is_empty(), "a requested restart is not a crash");
}
