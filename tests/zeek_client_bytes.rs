//! Byte compatibility with zeek-client: each vector under
//! `tests/fixtures/zeek-client/` is zeek-client 1.5.0's own serialization of
//! an event (made by `scripts/zeek_client_compat.py vectors`, checked fresh
//! in CI). Our decoder must read each, and our encoder must write the same
//! event back byte for byte.

use std::fs;
use std::path::Path;

use zeek_mgmt_agent::wire::{decode, encode, Dialect, Encoding, Limits};

#[test]
fn our_broker_encoding_is_zeek_clients_byte_for_byte() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zeek-client");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 16,
        "the vectors are missing: {}",
        dir.display()
    );
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let expected = text.strip_suffix('\n').unwrap_or(&text);
        let inbound = decode(expected.as_bytes(), &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let topic = inbound
            .topic
            .as_deref()
            .expect("zeek-client always writes the envelope");
        let ours = encode(&inbound.event, topic, Encoding::Broker, Dialect::Zeek7);
        assert_eq!(ours, expected, "{}", file.display());
    }
}
