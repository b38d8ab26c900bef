//! The checks of the decode and options fuzz targets, shared with the
//! stable regression test (`tests/fuzz_regressions.rs`), so a saved input is replayed through exactly the code
//! that found it. Only `zeek_mgmt_agent` and `serde_json` are used here.

use zeek_mgmt_agent::engine::{AgentConfig, Engine, Output, Time};
use zeek_mgmt_agent::options::parse_options;
use zeek_mgmt_agent::wire::{
    decode, decode_configuration, encode, encode_configuration, Dialect, Encoding, Inbound,
    InputErrorKind, Limits,
};

/// The topic a re-encoded event gets when its input had none.
const DEFAULT_TOPIC: &str = "zeek/management/agent/instance-1";

/// serde_json's own recursion guard: a re-encoding nested deeper than this
/// cannot be read back whatever `max_json_depth` says.
const PARSER_DEPTH_GUARD: usize = 127;

/// Limits for reading the agent's own re-encodings: a plain value nested
/// 60 deep is legitimately deeper in Broker JSON (two levels per level).
fn relaxed() -> Limits {
    Limits {
        max_event_bytes: usize::MAX,
        max_json_depth: 1024,
    }
}

/// The nesting depth of a JSON text (arrays and objects, outside strings).
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The decode targets: `decode` (any event, either encoding) and
/// `decode_configuration` never panic; every refusal has a message; what
/// decodes round-trips losslessly in its own encoding and dialect (see
/// [`check_lossless`]); and it re-encodes in `target` (every dialect) into
/// JSON that decodes again, from then on a fixed point (equal events,
/// byte-identical JSON). That cross re-encoding may drop what the other
/// encoding or dialect cannot carry; after it nothing may change.
pub fn check_decode(data: &[u8], target: Encoding) {
    let limits = Limits::default();
    match decode(data, &limits) {
        Err(e) => {
            assert!(!e.message.is_empty(), "refusal without a message: {e:?}");
            // The same refusal every time (no hidden state).
            assert_eq!(decode(data, &limits).err(), Some(e));
        }
        Ok(inbound) => {
            assert_eq!(
                decode(data, &limits).as_ref(),
                Ok(&inbound),
                "decode is not deterministic"
            );
            let topic = inbound.topic.as_deref().unwrap_or(DEFAULT_TOPIC);
            // The event's own accessors must not panic on decoded input.
            let _ = (inbound.event.name().full(), inbound.event.reqid());
            let _ = inbound.event.results();
            check_lossless(&inbound, topic);
            for dialect in Dialect::ALL {
                let first = encode(&inbound.event, topic, target, dialect);
                let again = match decode(first.as_bytes(), &relaxed()) {
                    Ok(again) => again,
                    Err(e) if e.kind == InputErrorKind::Limit => {
                        let depth = json_depth(&first);
                        assert!(
                            depth > PARSER_DEPTH_GUARD,
                            "{dialect}: own encoding ({depth} deep) refused: {e}\n{first}"
                        );
                        continue;
                    }
                    Err(e) => panic!(
                        "{dialect}/{}: own encoding does not decode: {e}\ninput event: {:?}\nencoded: {first}",
                        target.name(),
                        inbound.event
                    ),
                };
                assert_eq!(again.encoding, target, "{dialect}: encoding of {first}");
                if target == Encoding::Broker {
                    assert_eq!(again.topic.as_deref(), Some(topic), "{dialect}: topic");
                }
                let second = encode(&again.event, topic, target, dialect);
                assert_eq!(
                    first, second,
                    "{dialect}/{}: re-encoding is not a fixed point\nfirst event:  {:?}\nsecond event: {:?}",
                    target.name(),
                    inbound.event, again.event
                );
                let third = decode(second.as_bytes(), &relaxed())
                    .unwrap_or_else(|e| panic!("{dialect}: second encoding refused: {e}"));
                assert_eq!(
                    third.event,
                    again.event,
                    "{dialect}/{}: decode(encode(e)) != e after one round trip\n{second}",
                    target.name()
                );
            }
        }
    }

    match decode_configuration(data, &limits) {
        Err(e) => assert!(!e.message.is_empty(), "refusal without a message: {e:?}"),
        Ok(config) => {
            // Lossless in its own encoding (Broker JSON is the one with a
            // `@data-type`) and dialect, as for events.
            let own = match serde_json::from_slice::<serde_json::Value>(data) {
                Ok(v) if v.get("@data-type").is_some() => Encoding::Broker,
                _ => Encoding::Plain,
            };
            let lossless: Vec<bool> = Dialect::ALL
                .iter()
                .map(|&dialect| {
                    let json = encode_configuration(&config, own, dialect);
                    decode_configuration(json.as_bytes(), &relaxed()).as_ref() == Ok(&config)
                })
                .collect();
            let first = lossless.iter().position(|l| *l).unwrap_or_else(|| {
                panic!(
                    "{}: no dialect round-trips this configuration losslessly: {config:?}",
                    own.name()
                )
            });
            assert!(
                lossless[first..].iter().all(|l| *l),
                "{}: lossless in {} but not in every later dialect ({lossless:?}): {config:?}",
                own.name(),
                Dialect::ALL[first]
            );
            for dialect in Dialect::ALL {
                let first = encode_configuration(&config, target, dialect);
                let again = match decode_configuration(first.as_bytes(), &relaxed()) {
                    Ok(again) => again,
                    Err(e) => panic!(
                        "{dialect}/{}: own configuration encoding does not decode: {e}\nconfig: {config:?}\nencoded: {first}",
                        target.name()
                    ),
                };
                let second = encode_configuration(&again, target, dialect);
                assert_eq!(
                    first,
                    second,
                    "{dialect}/{}: configuration re-encoding is not a fixed point",
                    target.name()
                );
                let third = decode_configuration(second.as_bytes(), &relaxed())
                    .unwrap_or_else(|e| panic!("{dialect}: second encoding refused: {e}"));
                assert_eq!(third, again, "{dialect}: configuration round trip");
            }
        }
    }
}

/// The decode round trip is lossless in the input's own dialect and
/// encoding: re-encoded in the encoding it came in and in its dialect, the
/// decoded event decodes to exactly the same event (and topic). Decoding
/// is lenient across dialects and does not say which one an input used,
/// so its dialect is one in which this holds: there must be one. And as
/// each dialect's layouts carry everything the previous one's do (seed <
/// zeek5 < zeek6 < zeek7: Zeek 5 reads seed's `""` as a string, Zeek 6.1
/// adds `pcap_file` and the split scripts, Zeek 7 `metrics_port`), every
/// later dialect must be lossless too.
pub fn check_lossless(inbound: &Inbound, topic: &str) {
    let mut lossless = Vec::new();
    let mut lossy = Vec::new();
    for dialect in Dialect::ALL {
        let json = encode(&inbound.event, topic, inbound.encoding, dialect);
        let again = match decode(json.as_bytes(), &relaxed()) {
            Ok(again) => again,
            Err(e) if e.kind == InputErrorKind::Limit => {
                let depth = json_depth(&json);
                assert!(
                    depth > PARSER_DEPTH_GUARD,
                    "{dialect}: own encoding ({depth} deep) refused: {e}\n{json}"
                );
                // Too deep to read back at all: nothing to compare.
                return;
            }
            Err(e) => panic!(
                "{dialect}/{}: own encoding does not decode: {e}\ninput event: {:?}\nencoded: {json}",
                inbound.encoding.name(),
                inbound.event
            ),
        };
        assert_eq!(
            again.encoding, inbound.encoding,
            "{dialect}: the encoding changed: {json}"
        );
        if inbound.topic.is_some() {
            assert_eq!(again.topic, inbound.topic, "{dialect}: the topic changed");
        }
        if again.event == inbound.event {
            lossless.push(dialect);
        } else {
            lossy.push((dialect, again.event, json));
        }
    }
    let Some(first) = Dialect::ALL.iter().position(|d| lossless.contains(d)) else {
        panic!(
            "decode(encode(e)) != e in every dialect ({}): nothing round-trips this input losslessly\n\
             decoded: {:?}\nfirst re-encoding ({}): {}\ndecodes to: {:?}",
            inbound.encoding.name(),
            inbound.event,
            lossy[0].0,
            lossy[0].2,
            lossy[0].1
        );
    };
    if let Some((dialect, again, json)) = lossy
        .iter()
        .find(|(d, _, _)| Dialect::ALL[first..].contains(d))
    {
        panic!(
            "lossless in {} but not in the later {dialect} ({}): a newer dialect dropped something\n\
             decoded: {:?}\nre-encoded: {json}\ndecodes to: {again:?}",
            Dialect::ALL[first],
            inbound.encoding.name(),
            inbound.event
        );
    }
}

/// Environment variables the options target offers, by variant.
fn option_env(variant: u8, var: &str) -> Option<String> {
    match (variant, var) {
        (0, _) => None,
        (1, "ZEEK_AGENT_NAME") => Some("env-agent".into()),
        (1, "ZEEK_AGENT_ADDR") => Some("::1".into()),
        (1, "ZEEK_AGENT_PORT") => Some("2151/tcp".into()),
        (1, "ZEEK_MANAGEMENT_STATE_DIR") => Some("/tmp/zma-state".into()),
        (2, "ZEEK_AGENT_NAME") => Some("bad name".into()),
        (2, "ZEEK_AGENT_ADDR") => Some("not-an-address".into()),
        (2, "ZEEK_AGENT_PORT") => Some("70000".into()),
        (2, "ZEEK_MANAGEMENT_STATE_DIR") => Some(String::new()),
        (_, "HOSTNAME") => Some("fuzz-host".into()),
        _ => None,
    }
}

/// The options target: `parse_options` never panics, refuses with a
/// non-empty message, decides the same way twice, and what it accepts
/// satisfies the documented constraints and makes an engine that works.
pub fn check_options(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for variant in 0..3u8 {
        let env = move |var: &str| option_env(variant, var);
        let random_id = || "0123456789abcdef".to_owned();
        let parsed = parse_options(Some(&text), &env, &random_id);
        assert_eq!(
            parse_options(Some(&text), &env, &random_id),
            parsed,
            "parse_options is not deterministic"
        );
        let options = match parsed {
            Err(e) => {
                assert!(!e.message.is_empty(), "refusal without a message: {e:?}");
                assert!(!e.to_string().is_empty());
                continue;
            }
            Ok(options) => options,
        };
        let cfg = &options.engine;
        assert!(
            !cfg.name.is_empty()
                && !cfg.name.contains('/')
                && !cfg
                    .name
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace()),
            "accepted instance name {:?}",
            cfg.name
        );
        assert!(cfg.request_timeout_ms > 0, "request_timeout_ms 0 accepted");
        assert!(
            cfg.supervisor_timeout_ms > 0,
            "supervisor_timeout_ms 0 accepted"
        );
        assert!(!cfg.state_dir.is_empty() && !cfg.state_dir.contains('\0'));
        assert!(!cfg.topic_prefix.is_empty());
        assert!(!cfg.broker_id.is_empty());
        assert!(options.limits.max_event_bytes > 0);
        assert!((1..=127).contains(&options.limits.max_json_depth));
        assert!(options.process.restart_delay_ms > 0);
        assert!(options.process.restart_delay_max_ms >= options.process.restart_delay_ms);
        assert!(options.process.max_start_failures > 0);
        check_engine_from(cfg.clone());
    }
    // `None` is all defaults, with the same environment rules.
    let defaults = parse_options(None, &|_| None, &|| "x".to_owned());
    assert!(defaults.is_ok(), "default options refused: {defaults:?}");
}

/// An engine made from accepted options answers a welcome request.
fn check_engine_from(cfg: AgentConfig) {
    let topic = cfg.agent_topic();
    let mut engine = Engine::new(cfg);
    let welcome = br#"{"event": "agent_welcome_request", "args": {"reqid": "w"}}"#;
    let outputs = engine
        .handle_json(Time::from_millis(1), welcome, &Limits::default())
        .expect("a welcome request is always taken");
    let answers: Vec<_> = outputs.iter().filter_map(Output::as_event).collect();
    assert_eq!(answers.len(), 1, "one welcome response");
    assert_eq!(answers[0].topic, topic);
    let json = answers[0].to_json();
    assert!(
        serde_json::from_str::<serde_json::Value>(&json).is_ok(),
        "{json}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&engine.state().to_json()).expect("state JSON");
    assert!(state.get("name").is_some());
}
