//! Engine benchmarks, each beside a baseline measured in the same run:
//! `serde_json::from_str::<Value>` of the same input plus
//! `serde_json::to_string` of the same output, i.e. the bare cost of
//! reading and writing the JSON involved.
//!
//! (a) `welcome`: decode + handle + encode of an `agent_welcome_request`
//!     (the zeek-client fixture), in both encodings.
//! (b) `large_set_configuration`: a `set_configuration_request` carrying the
//!     2,000-node `large` fixture: decode, validate, plan, and emit the 20
//!     create requests (host-delegated Supervisor) for one instance.
//!
//! `cargo bench --bench engine`; `scripts/bench_report.py` prints the
//! medians and ratios from criterion's estimates.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::Value;
use zeek_mgmt_agent::engine::Output;
use zeek_mgmt_agent::wire::{decode_configuration, encode};
use zeek_mgmt_agent::{
    AgentConfig, Dialect, Encoding, Engine, Event, Limits, SupervisorKind, Time,
};

fn fixture(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Encodes every event output: what a host gets to send.
fn emitted(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(Output::as_event)
        .map(|e| e.to_json())
        .collect()
}

fn welcome(c: &mut Criterion) {
    let limits = Limits::default();
    for (encoding, file) in [
        (
            "broker",
            "events/Management.Agent.API.agent_welcome_request.broker.json",
        ),
        (
            "plain",
            "events/Management.Agent.API.agent_welcome_request.plain.json",
        ),
    ] {
        let input = fixture(file);
        let input_text = std::str::from_utf8(&input).unwrap().to_owned();
        let mut config = AgentConfig::new("instance-1");
        config.dialect = Dialect::Zeek7;
        let mut engine = Engine::new(config);
        let responses = emitted(&engine.handle_json(Time::ZERO, &input, &limits).unwrap());
        assert_eq!(responses.len(), 1);
        let response: Value = serde_json::from_str(&responses[0]).unwrap();

        let mut group = c.benchmark_group(format!("welcome/{encoding}"));
        group.bench_function("agent", |b| {
            b.iter(|| {
                let outputs = engine
                    .handle_json(Time::ZERO, black_box(&input), &limits)
                    .unwrap();
                black_box(emitted(&outputs))
            })
        });
        group.bench_function("baseline", |b| {
            b.iter(|| {
                let parsed: Value = serde_json::from_str(black_box(&input_text)).unwrap();
                let written = serde_json::to_string(black_box(&response)).unwrap();
                black_box((parsed, written))
            })
        });
        group.finish();
    }
}

fn large_set_configuration(c: &mut Criterion) {
    let limits = Limits::default();
    let config = decode_configuration(&fixture("configs/large.broker.json"), &limits).unwrap();
    let event = Event::SetConfigurationRequest {
        reqid: "req-large".into(),
        config,
    };
    let input = encode(
        &event,
        "zeek/management/agent/instance-042",
        Encoding::Broker,
        Dialect::Zeek7,
    );

    let mut agent_config = AgentConfig::new("instance-042");
    agent_config.dialect = Dialect::Seed;
    agent_config.stage_wait_ms = 0; // all stages at once: one call emits all 20 creates
    agent_config.supervisor = SupervisorKind::Host {
        address: "127.0.0.1".into(),
        port: 9999,
    };
    let outputs = Engine::new(agent_config.clone())
        .handle_json(Time::ZERO, input.as_bytes(), &limits)
        .unwrap();
    let texts = emitted(&outputs);
    let creates = texts
        .iter()
        .filter(|t| t.contains("SupervisorControl::create_request"))
        .count();
    assert_eq!(creates, 20, "one create per local node");
    let output_values: Vec<Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    let output_bytes: usize = texts.iter().map(String::len).sum();
    eprintln!(
        "large_set_configuration: input {} bytes, {} events out ({} bytes)",
        input.len(),
        texts.len(),
        output_bytes
    );

    let mut group = c.benchmark_group("large_set_configuration");
    group.sample_size(30);
    group.bench_function("agent", |b| {
        b.iter_batched(
            || Engine::new(agent_config.clone()),
            |mut engine| {
                let outputs = engine
                    .handle_json(Time::ZERO, black_box(input.as_bytes()), &limits)
                    .unwrap();
                let texts = emitted(&outputs);
                (engine, outputs, texts)
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("baseline", |b| {
        b.iter(|| {
            let parsed: Value = serde_json::from_str(black_box(&input)).unwrap();
            let written: Vec<String> = black_box(&output_values)
                .iter()
                .map(|v| serde_json::to_string(v).unwrap())
                .collect();
            (parsed, written)
        })
    });
    group.finish();
}

criterion_group!(benches, welcome, large_set_configuration);
criterion_main!(benches);
