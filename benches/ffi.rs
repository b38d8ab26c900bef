//! What the C boundary costs: an `agent_welcome_request` round trip through
//! `zma_agent_handle_request` with a response callback (polled mode),
//! against the same work through the Rust API (`Engine::handle_json` plus
//! encoding the response) in the same run.
//!
//! `cargo bench --bench ffi`; `scripts/bench_report.py` prints the medians
//! and the difference.

use std::ffi::{c_char, c_void, CStr, CString};
use std::hint::black_box;
use std::path::Path;
use std::ptr;

use criterion::{criterion_group, criterion_main, Criterion};
use zeek_mgmt_agent::engine::Output;
use zeek_mgmt_agent::ffi::*;
use zeek_mgmt_agent::{AgentConfig, Dialect, Engine, Limits, Time};

unsafe extern "C" fn on_response(
    user_data: *mut c_void,
    _topic: *const c_char,
    json: *const c_char,
) {
    // SAFETY: user_data is the benchmark's counter; json is valid during the
    // call.
    let total = unsafe { &mut *(user_data as *mut usize) };
    *total += unsafe { CStr::from_ptr(json) }.to_bytes().len();
}

fn welcome_round_trip(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/events/Management.Agent.API.agent_welcome_request.broker.json");
    let input = std::fs::read(path).unwrap();
    let c_input = CString::new(input.clone()).unwrap();

    let options =
        CString::new(r#"{"name": "instance-1", "mode": "polled", "dialect": "zeek7"}"#).unwrap();
    // SAFETY: valid options string; the agent is freed at the end.
    let agent = unsafe { zma_agent_new(options.as_ptr(), ptr::null_mut()) };
    assert!(!agent.is_null());
    let mut received: usize = 0;
    // SAFETY: live agent; the counter outlives it.
    unsafe {
        zma_agent_set_response_callback(
            agent,
            Some(on_response),
            (&mut received as *mut usize).cast(),
        )
    };

    let mut config = AgentConfig::new("instance-1");
    config.dialect = Dialect::Zeek7;
    let mut engine = Engine::new(config);
    let limits = Limits::default();

    let mut group = c.benchmark_group("c_boundary_welcome");
    group.bench_function("c_abi", |b| {
        b.iter(|| {
            // SAFETY: live agent, valid C string.
            let status = unsafe { zma_agent_handle_request(agent, black_box(c_input.as_ptr())) };
            assert_eq!(status, ZMA_OK);
        })
    });
    group.bench_function("rust_api", |b| {
        b.iter(|| {
            let outputs = engine
                .handle_json(Time::ZERO, black_box(&input), &limits)
                .unwrap();
            for output in &outputs {
                if let Output::Event(event) = output {
                    black_box(event.to_json());
                }
            }
            outputs
        })
    });
    group.finish();
    assert!(received > 0, "the callback saw the responses");
    // SAFETY: created above, not used afterwards.
    unsafe { zma_agent_free(agent) };
}

criterion_group!(benches, welcome_round_trip);
criterion_main!(benches);
