//! `docs/options.md` documents every option `zma_agent_new` accepts, and
//! only those, with the defaults the options parser applies.
//!
//! The accepted keys are read from `src/options.rs` itself (the lists its
//! `only(&[...])` calls refuse unknown keys with), so a key added there
//! without a row in the table, or a row for a key that does not exist,
//! fails here. Each documented key is also given to the parser, which must
//! take it, and each documented default is compared with the parsed one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use zeek_mgmt_agent::engine::{EncodingChoice, SupervisorKind};
use zeek_mgmt_agent::options::{parse_options, AgentOptions, Mode, NodeReady};

const DOC: &str = "docs/options.md";
const TABLE_START: &str = "<!-- options table:";
const TABLE_END: &str = "<!-- end of options table -->";

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The table rows of docs/options.md: key -> default cell.
fn documented() -> BTreeMap<String, String> {
    let doc = read(DOC);
    let start = doc
        .find(TABLE_START)
        .unwrap_or_else(|| panic!("{DOC} has no line starting {TABLE_START}"));
    let end = doc[start..]
        .find(TABLE_END)
        .unwrap_or_else(|| panic!("{DOC} has no {TABLE_END}"))
        + start;
    let mut rows = BTreeMap::new();
    for line in doc[start..end].lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| key | type | default | meaning |" splits into 6 cells.
        if cells.len() < 6 || cells[1] == "key" || cells[1].starts_with("---") {
            continue;
        }
        let key = cells[1]
            .strip_prefix('`')
            .and_then(|k| k.strip_suffix('`'))
            .unwrap_or_else(|| panic!("{DOC}: the key cell {:?} is not one `key`", cells[1]));
        let previous = rows.insert(key.to_owned(), cells[3].to_owned());
        assert!(previous.is_none(), "{DOC} documents {key} twice");
    }
    assert!(!rows.is_empty(), "{DOC}: no rows in the options table");
    rows
}

/// The keys src/options.rs accepts: the string lists of its `only(&[...])`
/// calls. The first is the top level; the others are the `supervisor`
/// object's, one per supervisor kind.
fn accepted() -> BTreeSet<String> {
    let source = read("src/options.rs");
    let mut lists = Vec::new();
    let mut rest = source.as_str();
    while let Some(at) = rest.find(".only(&[") {
        let after = &rest[at + ".only(&[".len()..];
        let close = after.find("])").expect("an only(&[ without ])");
        let keys: Vec<String> = after[..close]
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| {
                k.strip_prefix('"')
                    .and_then(|k| k.strip_suffix('"'))
                    .unwrap_or_else(|| panic!("src/options.rs: {k:?} in an only() list"))
                    .to_owned()
            })
            .collect();
        lists.push(keys);
        rest = &after[close..];
    }
    assert_eq!(
        lists.len(),
        3,
        "src/options.rs: expected three only(&[...]) lists (top level, process, host), found {}; \
         update this test",
        lists.len()
    );
    assert!(
        lists[0].iter().any(|k| k == "supervisor"),
        "src/options.rs: the first only() list is not the top level"
    );
    let mut keys: BTreeSet<String> = lists[0].iter().cloned().collect();
    for supervisor in &lists[1..] {
        keys.extend(supervisor.iter().map(|k| format!("supervisor.{k}")));
    }
    keys
}

fn parse(text: &str) -> Result<AgentOptions, String> {
    parse_options(Some(text), &|_| None, &|| "fixed-id".to_owned()).map_err(|e| e.to_string())
}

#[test]
fn the_documented_keys_are_the_accepted_keys() {
    let documented: BTreeSet<String> = documented().into_keys().collect();
    let accepted = accepted();
    let undocumented: Vec<_> = accepted.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&accepted).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "{DOC} and src/options.rs disagree:\n  accepted but not documented: {undocumented:?}\n  \
         documented but not accepted: {unknown:?}"
    );
}

#[test]
fn every_documented_key_is_taken_by_the_parser() {
    // null means "the default", but the key must still be known.
    for key in documented().keys() {
        let taken = match key.strip_prefix("supervisor.") {
            None => parse(&format!(r#"{{"{key}": null}}"#)).map(|_| ()),
            // The process supervisor's keys, or the host one's.
            Some(sub) => parse(&format!(r#"{{"supervisor": {{"{sub}": null}}}}"#))
                .or_else(|_| {
                    parse(&format!(
                        r#"{{"supervisor": {{"kind": "host", "{sub}": null}}}}"#
                    ))
                })
                .map(|_| ()),
        };
        assert_eq!(taken, Ok(()), "{key}");
    }
    // ...which the parser does not do for a key it does not know.
    assert!(parse(r#"{"no_such_option": null}"#).is_err());
    assert!(parse(r#"{"supervisor": {"no_such_option": null}}"#).is_err());
}

/// The last `code` span of a default cell, without its quotes: the value
/// without environment variables (`$ZEEK_AGENT_PORT` (...), else `2151`).
fn documented_default(cell: &str) -> Option<String> {
    let spans: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
    let last = spans.last()?;
    Some(last.trim_matches('"').to_owned())
}

#[test]
fn the_documented_defaults_are_the_parsers() {
    let defaults = parse("{}").unwrap();
    let host = parse(r#"{"supervisor": {"kind": "host"}}"#).unwrap();
    let host_address = match &host.engine.supervisor {
        SupervisorKind::Host { address, port } => (address.clone(), port.to_string()),
        other => panic!("{other:?}"),
    };
    let o = &defaults;
    let actual: BTreeMap<&str, String> = [
        ("dialect", o.engine.dialect.name().to_owned()),
        (
            "encoding",
            match o.engine.encoding {
                EncodingChoice::Auto => "auto",
                EncodingChoice::Broker => "broker",
                EncodingChoice::Plain => "plain",
            }
            .to_owned(),
        ),
        ("topic_prefix", o.engine.topic_prefix.clone()),
        (
            "request_timeout_ms",
            o.engine.request_timeout_ms.to_string(),
        ),
        ("listen_address", o.engine.listen_address.to_string()),
        ("listen_port", o.engine.listen_port.to_string()),
        (
            "controller_address",
            o.engine.controller_address.to_string(),
        ),
        ("controller_port", o.engine.controller_port.to_string()),
        ("state_dir", o.engine.state_dir.clone()),
        (
            "mode",
            match o.mode {
                Mode::Threaded => "threaded",
                Mode::Polled => "polled",
            }
            .to_owned(),
        ),
        (
            "supervisor.kind",
            match o.engine.supervisor {
                SupervisorKind::Process => "process",
                SupervisorKind::Host { .. } => "host",
            }
            .to_owned(),
        ),
        ("supervisor.zeek", o.process.zeek.clone()),
        (
            "supervisor.args_prefix",
            format!("{:?}", o.process.args_prefix),
        ),
        (
            "supervisor.output_max_lines",
            o.process.output_max_lines.to_string(),
        ),
        (
            "supervisor.stop_grace_ms",
            o.process.stop_grace_ms.to_string(),
        ),
        (
            "supervisor.restart_delay_ms",
            o.process.restart_delay_ms.to_string(),
        ),
        (
            "supervisor.restart_delay_max_ms",
            o.process.restart_delay_max_ms.to_string(),
        ),
        (
            "supervisor.max_start_failures",
            o.process.max_start_failures.to_string(),
        ),
        ("supervisor.address", host_address.0),
        ("supervisor.port", host_address.1),
        (
            "node_ready",
            match o.node_ready {
                NodeReady::Hello => "hello",
                NodeReady::Spawn => "spawn",
            }
            .to_owned(),
        ),
        ("ready_after_ms", o.ready_after_ms.to_string()),
        ("stage_wait_ms", o.engine.stage_wait_ms.to_string()),
        (
            "supervisor_timeout_ms",
            o.engine.supervisor_timeout_ms.to_string(),
        ),
        ("max_event_bytes", o.limits.max_event_bytes.to_string()),
        ("max_json_depth", o.limits.max_json_depth.to_string()),
        ("stop_nodes_on_free", o.stop_nodes_on_free.to_string()),
        ("adopt_nodes", o.adopt_nodes.to_string()),
        ("list_self", o.list_self.to_string()),
    ]
    .into_iter()
    .collect();
    let documented = documented();
    for (key, value) in &actual {
        let cell = documented
            .get(*key)
            .unwrap_or_else(|| panic!("{DOC} does not document {key}"));
        assert_eq!(
            documented_default(cell).as_deref(),
            Some(value.as_str()),
            "{DOC}: the default of {key} ({cell})"
        );
    }
    // The rest have defaults no single value states: from the environment
    // or the host name (name), random (broker_id), an object (supervisor).
    let rest: BTreeSet<&str> = documented
        .keys()
        .map(String::as_str)
        .filter(|k| !actual.contains_key(k))
        .collect();
    assert_eq!(rest, BTreeSet::from(["broker_id", "name", "supervisor"]));
}
