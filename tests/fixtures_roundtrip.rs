//! Every fixture made with zeek-client decodes, and re-encodes to the same
//! JSON value; each Broker fixture and its plain twin decode to the same
//! event.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use zeek_mgmt_agent::wire::{
    decode, decode_configuration, encode, encode_configuration, Dialect, Encoding, Limits,
};

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn every_event_fixture_round_trips_in_its_encoding() {
    let files = fixtures("events");
    assert_eq!(files.len(), 32, "all 16 events in both encodings");
    for file in files {
        let bytes = fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let inbound = decode(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected_encoding = if name.ends_with(".broker.json") {
            Encoding::Broker
        } else {
            Encoding::Plain
        };
        assert_eq!(inbound.encoding, expected_encoding, "{name}");
        let topic = inbound.topic.clone().unwrap_or_default();
        let again =
            json(encode(&inbound.event, &topic, inbound.encoding, Dialect::Zeek7).as_bytes());
        let mut original = json(&bytes);
        if inbound.encoding == Encoding::Broker && inbound.topic.is_none() {
            // A bare event: we always write the envelope; compare the event.
            let Value::Object(map) = &mut original else {
                panic!("{name}")
            };
            map.insert("topic".into(), Value::String(String::new()));
            map.insert("type".into(), Value::String("data-message".into()));
        }
        assert_eq!(again, original, "{name} re-encoded differs");
    }
}

#[test]
fn broker_and_plain_twins_decode_to_the_same_event() {
    for file in fixtures("events")
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(".broker.json"))
    {
        let twin = PathBuf::from(
            file.to_string_lossy()
                .replace(".broker.json", ".plain.json"),
        );
        let broker = decode(&fs::read(&file).unwrap(), &Limits::default()).unwrap();
        let plain = decode(&fs::read(&twin).unwrap(), &Limits::default()).unwrap();
        assert_eq!(broker.event, plain.event, "{}", file.display());
    }
}

#[test]
fn every_configuration_fixture_round_trips_and_twins_agree() {
    let expected = [
        ("empty", 2, 0),
        ("large", 100, 2000),
        ("mini", 1, 4),
        ("multi", 3, 12),
    ];
    for (name, instances, nodes) in expected {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs");
        let broker_bytes = fs::read(dir.join(format!("{name}.broker.json"))).unwrap();
        let plain_bytes = fs::read(dir.join(format!("{name}.plain.json"))).unwrap();
        let broker = decode_configuration(&broker_bytes, &Limits::default()).unwrap();
        let plain = decode_configuration(&plain_bytes, &Limits::default()).unwrap();
        assert_eq!(broker, plain, "{name}");
        assert_eq!(
            (broker.instances.len(), broker.nodes.len()),
            (instances, nodes),
            "{name}"
        );
        assert_eq!(broker.id, format!("fixture-config-{name}"));
        let again = encode_configuration(&broker, Encoding::Broker, Dialect::Zeek7);
        assert_eq!(json(again.as_bytes()), json(&broker_bytes), "{name} broker");
        let again = encode_configuration(&plain, Encoding::Plain, Dialect::Zeek7);
        assert_eq!(json(again.as_bytes()), json(&plain_bytes), "{name} plain");
    }
}

#[test]
fn multi_fixture_carries_every_node_field() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs");
    let config = decode_configuration(
        &fs::read(dir.join("multi.broker.json")).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let worker = config.nodes.iter().find(|n| n.name == "worker-01").unwrap();
    assert_eq!(worker.cpu_affinity, Some(2));
    assert_eq!(worker.interface.as_deref(), Some("eth0"));
    assert_eq!(
        worker.env.get("NOTE").map(String::as_str),
        Some("a value with spaces")
    );
    assert_eq!(
        worker.scripts.as_deref(),
        Some(
            &[
                "local".to_owned(),
                "site/detect-foo.zeek".to_owned(),
                "site/my scripts/with space.zeek".to_owned()
            ][..]
        )
    );
    assert_eq!(
        worker.metrics_port.map(|p| p.to_string()).as_deref(),
        Some("9102/tcp")
    );
    let v6 = config
        .instances
        .iter()
        .find(|i| i.name == "instance-3")
        .unwrap();
    assert_eq!(v6.host.to_string(), "2001:db8::30");
}
