//! Inbound: JSON text to a typed [`Event`].
//!
//! Checks run in the order `docs/protocol.md` gives ("Limits and refusals"): size, UTF-8, JSON syntax and
//! depth, then the event itself. Every refusal names what was wrong.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::event::{AgentHello, Event, EventName};
use super::json::{self, Json, ParseError};
use super::read::{In, PathError, SeqKind, R};
use super::records::{
    decode_configuration, decode_endpoint_info, decode_node, decode_node_config,
    decode_node_outputs, decode_result, decode_results, decode_supervisor_status,
};
use super::{Encoding, Format, InputError, InputErrorKind, Limits};
use crate::model::State;
use crate::text::escape_for_message;

/// A decoded inbound event and how it arrived.
#[derive(Clone, Debug, PartialEq)]
pub struct Inbound {
    pub event: Event,
    /// The encoding it came in; answers use it when the encoding is `auto`.
    pub encoding: Encoding,
    /// The topic of a Broker data-message envelope, if it had one.
    pub topic: Option<String>,
}

/// Decodes one inbound event in either encoding.
///
/// ```
/// use zeek_mgmt_agent::wire::{decode, Encoding, Event, Limits};
///
/// let inbound = decode(
///     br#"{"event": "get_nodes_request", "args": {"reqid": "r1"}}"#,
///     &Limits::default(),
/// )?;
/// assert_eq!(inbound.encoding, Encoding::Plain);
/// assert_eq!(inbound.event, Event::GetNodesRequest { reqid: "r1".into() });
/// # Ok::<(), zeek_mgmt_agent::wire::InputError>(())
/// ```
pub fn decode(input: &[u8], limits: &Limits) -> Result<Inbound, InputError> {
    let text = checked_text(input, limits, "event")?;
    let json = parse_checked(text, limits, "event")?;
    decode_json(&json)
}

/// The first input checks, in the order of `docs/protocol.md`: size, then UTF-8.
/// `what` names the input in messages (`event`, `configuration`).
pub(crate) fn checked_text<'a>(
    input: &'a [u8],
    limits: &Limits,
    what: &str,
) -> Result<&'a str, InputError> {
    if input.len() > limits.max_event_bytes {
        return Err(InputError::new(
            InputErrorKind::Limit,
            format!(
                "{what} of {} bytes exceeds max_event_bytes ({})",
                input.len(),
                limits.max_event_bytes
            ),
        ));
    }
    std::str::from_utf8(input).map_err(|e| {
        InputError::new(
            InputErrorKind::Utf8,
            format!(
                "{what} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Then JSON syntax and nesting depth.
pub(crate) fn parse_checked<'a>(
    text: &'a str,
    limits: &Limits,
    what: &str,
) -> Result<Json<'a>, InputError> {
    json::parse(text, limits.max_json_depth).map_err(|e| match e {
        ParseError::TooDeep { limit } => InputError::new(
            InputErrorKind::Limit,
            format!("{what} nests JSON deeper than max_json_depth ({limit})"),
        ),
        ParseError::Syntax(msg) => {
            InputError::new(InputErrorKind::Json, format!("{what} is not JSON: {msg}"))
        }
    })
}

fn event_error(message: impl Into<String>) -> InputError {
    InputError::new(InputErrorKind::Event, message)
}

fn decode_json(json: &Json<'_>) -> Result<Inbound, InputError> {
    let Json::Object(members) = json else {
        return Err(event_error(format!(
            "not an event: expected a JSON object, got {}",
            json.kind()
        )));
    };
    if json.get("event").is_some() {
        return decode_plain(members);
    }
    if let Some(kind) = json.get("type") {
        let Json::Str(kind) = kind else {
            return Err(event_error("Broker message 'type' is not a string"));
        };
        if kind != "data-message" {
            return Err(event_error(format!(
                "Broker message of type '{}' is not an event (expected 'data-message')",
                escape_for_message(kind)
            )));
        }
        let topic = match json.get("topic") {
            Some(Json::Str(t)) => t.to_string(),
            Some(_) => return Err(event_error("Broker data-message 'topic' is not a string")),
            None => return Err(event_error("Broker data-message has no 'topic'")),
        };
        return decode_broker(json, Some(topic));
    }
    if json.get("@data-type").is_some() {
        return decode_broker(json, None);
    }
    Err(event_error(
        "not an event: expected a Broker data-message or {\"event\": ..., \"args\": ...}",
    ))
}

fn decode_broker(json: &Json<'_>, topic: Option<String>) -> Result<Inbound, InputError> {
    let malformed = |e: PathError| {
        event_error(format!(
            "malformed Broker event: {}",
            describe_path_error(&e)
        ))
    };
    let outer: Vec<In<'_, '_>> = In::new(json, Format::Broker)
        .elements(SeqKind::Vector)
        .map_err(malformed)?
        .collect();
    if outer.len() < 3 {
        return Err(event_error(format!(
            "malformed Broker event: expected [1, 1, [name, args]], got {} elements",
            outer.len()
        )));
    }
    for (i, part) in outer.iter().take(2).enumerate() {
        let n = part.count().map_err(|e| malformed(e.at_index(i)))?;
        if n != 1 {
            return Err(event_error(format!(
                "unsupported Broker event format: element {i} is {n}, expected 1"
            )));
        }
    }
    let inner: Vec<In<'_, '_>> = outer[2]
        .elements(SeqKind::Vector)
        .map_err(|e| malformed(e.at_index(2)))?
        .collect();
    if inner.len() < 2 {
        return Err(event_error(
            "malformed Broker event: expected [name, args] after the version",
        ));
    }
    let name = inner[0]
        .string()
        .map_err(|e| malformed(e.at_field("name")))?;
    let event = EventName::lookup(name, false)
        .ok_or_else(|| event_error(format!("unknown event '{}'", escape_for_message(name))))?;
    let args: Vec<&Json<'_>> = inner[1]
        .elements(SeqKind::Vector)
        .map_err(|e| {
            event_error(format!(
                "{}: arguments: {}",
                event.display(),
                describe_path_error(&e)
            ))
        })?
        .map(|v| v.json)
        .collect();
    let args = Args {
        event,
        format: Format::Broker,
        items: ArgItems::Positional(args),
    };
    Ok(Inbound {
        event: decode_event(&args)?,
        encoding: Encoding::Broker,
        topic,
    })
}

fn decode_plain(members: &[(Cow<'_, str>, Json<'_>)]) -> Result<Inbound, InputError> {
    if let Some((key, _)) = members.iter().find(|(k, _)| k != "event" && k != "args") {
        return Err(event_error(format!(
            "unexpected key '{}' in event (expected \"event\" and \"args\")",
            escape_for_message(key)
        )));
    }
    let lookup = |key: &str| members.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let name = match lookup("event") {
        Some(Json::Str(name)) => name,
        Some(other) => {
            return Err(event_error(format!(
                "'event' must be a string, got {}",
                other.kind()
            )))
        }
        None => return Err(event_error("missing 'event'")),
    };
    let event = EventName::lookup(name, true)
        .ok_or_else(|| event_error(format!("unknown event '{}'", escape_for_message(name))))?;
    let items = match lookup("args") {
        None | Some(Json::Null) => ArgItems::Named(&[]),
        Some(Json::Object(members)) => ArgItems::Named(members),
        Some(Json::Array(items)) => ArgItems::Positional(items.iter().collect()),
        Some(other) => {
            return Err(event_error(format!(
                "{}: 'args' must be an object or an array, got {}",
                event.display(),
                other.kind()
            )))
        }
    };
    let args = Args {
        event,
        format: Format::Plain,
        items,
    };
    Ok(Inbound {
        event: decode_event(&args)?,
        encoding: Encoding::Plain,
        topic: None,
    })
}

fn describe_path_error(e: &PathError) -> String {
    let path = e.path();
    if path.is_empty() {
        e.message.clone()
    } else {
        format!("{path}: {}", e.message)
    }
}

enum ArgItems<'j, 'a> {
    Positional(Vec<&'j Json<'a>>),
    Named(&'j [(Cow<'a, str>, Json<'a>)]),
}

/// The arguments of one event, by position or by name.
struct Args<'j, 'a> {
    event: EventName,
    format: Format,
    items: ArgItems<'j, 'a>,
}

impl<'j, 'a> Args<'j, 'a> {
    fn get(&self, index: usize, names: &[&str]) -> Option<In<'j, 'a>> {
        let json = match &self.items {
            ArgItems::Positional(items) => items.get(index).copied()?,
            ArgItems::Named(members) => members
                .iter()
                .find(|(k, _)| names.contains(&k.as_ref()))
                .map(|(_, v)| v)?,
        };
        let value = In::new(json, self.format);
        (!value.is_absent()).then_some(value)
    }

    fn fail(&self, name: &str, e: PathError) -> InputError {
        event_error(format!(
            "{}: argument '{name}': {}",
            self.event.display(),
            describe_path_error(&e)
        ))
    }

    /// An argument that may be written under alternative names (`results`
    /// or `result`); the first name is the one reported.
    fn req_any<T>(
        &self,
        index: usize,
        names: &[&str],
        decode: impl FnOnce(In<'j, 'a>) -> R<T>,
    ) -> Result<T, InputError> {
        match self.get(index, names) {
            Some(v) => decode(v).map_err(|e| self.fail(names[0], e)),
            None => Err(event_error(format!(
                "{}: missing argument '{}'",
                self.event.display(),
                names[0]
            ))),
        }
    }

    fn req<T>(
        &self,
        index: usize,
        name: &str,
        decode: impl FnOnce(In<'j, 'a>) -> R<T>,
    ) -> Result<T, InputError> {
        self.req_any(index, &[name], decode)
    }

    fn opt<T>(
        &self,
        index: usize,
        name: &str,
        decode: impl FnOnce(In<'j, 'a>) -> R<T>,
    ) -> Result<Option<T>, InputError> {
        self.get(index, &[name])
            .map(|v| decode(v).map_err(|e| self.fail(name, e)))
            .transpose()
    }

    fn string(&self, index: usize, name: &str) -> Result<String, InputError> {
        self.req(index, name, |v| v.string().map(str::to_owned))
    }

    fn node_set(&self, index: usize, name: &str) -> Result<BTreeSet<String>, InputError> {
        Ok(self
            .opt(index, name, |v| v.strings(SeqKind::Set))?
            .map(|nodes| nodes.into_iter().collect())
            .unwrap_or_default())
    }

    /// Refuses arguments beyond the signature. `count` is the number of
    /// positional arguments, `names` every accepted name.
    fn expect(&self, count: usize, names: &[&str]) -> Result<(), InputError> {
        match &self.items {
            ArgItems::Positional(items) if items.len() > count => Err(event_error(format!(
                "{}: expected at most {count} arguments, got {}",
                self.event.display(),
                items.len()
            ))),
            ArgItems::Named(members) => {
                match members.iter().find(|(k, _)| !names.contains(&k.as_ref())) {
                    Some((unknown, _)) => Err(event_error(format!(
                        "{}: unknown argument '{}'",
                        self.event.display(),
                        escape_for_message(unknown)
                    ))),
                    None => Ok(()),
                }
            }
            ArgItems::Positional(_) => Ok(()),
        }
    }

    fn is_named(&self, name: &str) -> bool {
        matches!(&self.items, ArgItems::Named(m) if m.iter().any(|(k, _)| k == name))
    }

    fn positional_len(&self) -> Option<usize> {
        match &self.items {
            ArgItems::Positional(items) => Some(items.len()),
            ArgItems::Named(_) => None,
        }
    }
}

const RESULTS: &[&str] = &["results", "result"];

fn decode_event(a: &Args<'_, '_>) -> Result<Event, InputError> {
    use EventName as N;
    let strings = |v: In<'_, '_>| v.strings(SeqKind::Vector);
    let string = |v: In<'_, '_>| v.string().map(str::to_owned);
    Ok(match a.event {
        N::SetConfigurationRequest => {
            a.expect(2, &["reqid", "config"])?;
            Event::SetConfigurationRequest {
                reqid: a.string(0, "reqid")?,
                config: a.req(1, "config", decode_configuration)?,
            }
        }
        N::DeployRequest => {
            a.expect(3, &["reqid", "config", "force"])?;
            Event::DeployRequest {
                reqid: a.string(0, "reqid")?,
                config: a.req(1, "config", decode_configuration)?,
                force: a.opt(2, "force", In::bool)?.unwrap_or(false),
            }
        }
        N::GetNodesRequest | N::AgentWelcomeRequest | N::AgentStandbyRequest => {
            a.expect(1, &["reqid"])?;
            let reqid = a.string(0, "reqid")?;
            match a.event {
                N::GetNodesRequest => Event::GetNodesRequest { reqid },
                N::AgentWelcomeRequest => Event::AgentWelcomeRequest { reqid },
                _ => Event::AgentStandbyRequest { reqid },
            }
        }
        N::NodeDispatchRequest | N::NodeApiDispatchRequest => {
            a.expect(3, &["reqid", "action", "nodes"])?;
            let (reqid, action, nodes) = (
                a.string(0, "reqid")?,
                a.req(1, "action", strings)?,
                a.node_set(2, "nodes")?,
            );
            if a.event == N::NodeDispatchRequest {
                Event::NodeDispatchRequest {
                    reqid,
                    action,
                    nodes,
                }
            } else {
                Event::NodeApiDispatchRequest {
                    reqid,
                    action,
                    nodes,
                }
            }
        }
        N::RestartRequest => {
            a.expect(2, &["reqid", "nodes"])?;
            Event::RestartRequest {
                reqid: a.string(0, "reqid")?,
                nodes: a.node_set(1, "nodes")?,
            }
        }
        N::SetConfigurationResponse
        | N::DeployResponse
        | N::NodeDispatchResponse
        | N::RestartResponse => {
            a.expect(2, &["reqid", "results", "result"])?;
            if a.is_named("results") && a.is_named("result") {
                return Err(event_error(format!(
                    "{}: both 'results' and 'result' given",
                    a.event.display()
                )));
            }
            let reqid = a.string(0, "reqid")?;
            let results = a.req_any(1, RESULTS, decode_results)?;
            match a.event {
                N::SetConfigurationResponse => Event::SetConfigurationResponse { reqid, results },
                N::DeployResponse => Event::DeployResponse { reqid, results },
                N::NodeDispatchResponse => Event::NodeDispatchResponse { reqid, results },
                _ => Event::RestartResponse { reqid, results },
            }
        }
        N::GetNodesResponse
        | N::AgentWelcomeResponse
        | N::AgentStandbyResponse
        | N::NodeApiDispatchResponse => {
            a.expect(2, &["reqid", "result"])?;
            let reqid = a.string(0, "reqid")?;
            let result = a.req(1, "result", decode_result)?;
            match a.event {
                N::GetNodesResponse => Event::GetNodesResponse { reqid, result },
                N::AgentWelcomeResponse => Event::AgentWelcomeResponse { reqid, result },
                N::AgentStandbyResponse => Event::AgentStandbyResponse { reqid, result },
                _ => Event::NodeApiDispatchResponse { reqid, result },
            }
        }
        N::NotifyAgentHello => {
            let seed = a.positional_len() == Some(3) || a.is_named("host");
            if seed {
                a.expect(3, &["instance", "host", "api_version"])?;
                Event::NotifyAgentHello(AgentHello::Seed {
                    instance: a.string(0, "instance")?,
                    host: a.req(1, "host", In::addr)?,
                    api_version: a.req(2, "api_version", In::count)?,
                })
            } else {
                a.expect(4, &["instance", "id", "connecting", "api_version"])?;
                Event::NotifyAgentHello(AgentHello::Current {
                    instance: a.string(0, "instance")?,
                    id: a.string(1, "id")?,
                    connecting: a.req(2, "connecting", In::bool)?,
                    api_version: a.req(3, "api_version", In::count)?,
                })
            }
        }
        N::NotifyChange => {
            a.expect(4, &["instance", "n", "old", "new"])?;
            Event::NotifyChange {
                instance: a.string(0, "instance")?,
                node: a.req(1, "n", decode_node)?,
                old: a.req(2, "old", In::enumeration::<State>)?,
                new: a.req(3, "new", In::enumeration::<State>)?,
            }
        }
        N::NotifyError | N::NotifyLog => {
            a.expect(3, &["instance", "msg", "node"])?;
            let (instance, msg) = (a.string(0, "instance")?, a.string(1, "msg")?);
            let node = a.opt(2, "node", string)?.unwrap_or_default();
            if a.event == N::NotifyError {
                Event::NotifyError {
                    instance,
                    msg,
                    node,
                }
            } else {
                Event::NotifyLog {
                    instance,
                    msg,
                    node,
                }
            }
        }
        N::NotifyNodeHello => {
            a.expect(1, &["node"])?;
            Event::NotifyNodeHello {
                node: a.string(0, "node")?,
            }
        }
        N::SupervisorCreateRequest => {
            a.expect(2, &["reqid", "node"])?;
            Event::SupervisorCreateRequest {
                reqid: a.string(0, "reqid")?,
                node: a.req(1, "node", decode_node_config)?,
            }
        }
        N::SupervisorStatusRequest | N::SupervisorDestroyRequest | N::SupervisorRestartRequest => {
            a.expect(2, &["reqid", "node"])?;
            let (reqid, node) = (
                a.string(0, "reqid")?,
                a.opt(1, "node", string)?.unwrap_or_default(),
            );
            match a.event {
                N::SupervisorStatusRequest => Event::SupervisorStatusRequest { reqid, node },
                N::SupervisorDestroyRequest => Event::SupervisorDestroyRequest { reqid, node },
                _ => Event::SupervisorRestartRequest { reqid, node },
            }
        }
        N::SupervisorCreateResponse => {
            a.expect(2, &["reqid", "result"])?;
            Event::SupervisorCreateResponse {
                reqid: a.string(0, "reqid")?,
                result: a.string(1, "result")?,
            }
        }
        N::SupervisorStatusResponse => {
            a.expect(2, &["reqid", "result"])?;
            Event::SupervisorStatusResponse {
                reqid: a.string(0, "reqid")?,
                result: a.req(1, "result", decode_supervisor_status)?,
            }
        }
        N::SupervisorDestroyResponse | N::SupervisorRestartResponse => {
            a.expect(2, &["reqid", "result"])?;
            let (reqid, result) = (a.string(0, "reqid")?, a.req(1, "result", In::bool)?);
            if a.event == N::SupervisorDestroyResponse {
                Event::SupervisorDestroyResponse { reqid, result }
            } else {
                Event::SupervisorRestartResponse { reqid, result }
            }
        }
        N::NotifyNodeExit => {
            a.expect(2, &["node", "outputs"])?;
            Event::NotifyNodeExit {
                node: a.string(0, "node")?,
                outputs: a.req(1, "outputs", decode_node_outputs)?,
            }
        }
        N::PeerAdded | N::PeerLost => {
            a.expect(2, &["endpoint", "msg"])?;
            let endpoint = a.req(0, "endpoint", decode_endpoint_info)?;
            let msg = a.opt(1, "msg", string)?.unwrap_or_default();
            if a.event == N::PeerAdded {
                Event::PeerAdded { endpoint, msg }
            } else {
                Event::PeerLost { endpoint, msg }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> InputError {
        decode(text.as_bytes(), &Limits::default()).unwrap_err()
    }

    #[test]
    fn checks_run_in_the_documented_order() {
        let limits = Limits {
            max_event_bytes: 10,
            max_json_depth: 2,
        };
        assert_eq!(
            decode(b"\xff{{{{{{{{{{{{", &limits).unwrap_err().kind,
            InputErrorKind::Limit
        );
        assert_eq!(
            decode(b"\xff", &limits).unwrap_err().kind,
            InputErrorKind::Utf8
        );
        assert_eq!(
            decode(b"[[[", &limits).unwrap_err().kind,
            InputErrorKind::Limit
        );
        assert_eq!(
            decode(b"{", &limits).unwrap_err().kind,
            InputErrorKind::Json
        );
        assert_eq!(
            decode(b"[1]", &limits).unwrap_err().kind,
            InputErrorKind::Event
        );
    }

    #[test]
    fn messages_name_event_argument_and_path() {
        let e = err(
            r#"{"event": "deploy_request", "args": {"reqid": "r", "config": {"id": "c",
            "nodes": [{"name": "a", "instance": "i", "role": "WORKER"},
                      {"name": "b", "instance": "i", "role": "WORKER"},
                      {"name": "c", "instance": "i", "role": "WORKER"},
                      {"name": "d", "instance": "i", "role": "WORKER", "p": 70000}]}}}"#,
        );
        assert_eq!(e.kind, InputErrorKind::Event);
        assert_eq!(
            e.message,
            "deploy_request: argument 'config': nodes[3].p: port 70000 out of range"
        );
        assert_eq!(
            err(r#"{"event": "get_nodes_request", "args": {}}"#).message,
            "get_nodes_request: missing argument 'reqid'"
        );
        assert_eq!(
            err(r#"{"event": "get_nodes_request", "args": {"reqid": "r", "x": 1}}"#).message,
            "get_nodes_request: unknown argument 'x'"
        );
        assert_eq!(
            err(r#"{"event": "Foo::bar", "args": {}}"#).message,
            "unknown event 'Foo::bar'"
        );
        assert_eq!(
            err(r#"{"event": "get_nodes_request", "args": ["r", "extra"]}"#).message,
            "get_nodes_request: expected at most 1 arguments, got 2"
        );
    }

    #[test]
    fn broker_events_with_and_without_envelope() {
        let bare = r#"{"@data-type": "vector", "data": [{"@data-type": "count", "data": 1},
            {"@data-type": "count", "data": 1}, {"@data-type": "vector", "data": [
            {"@data-type": "string", "data": "Management::Node::API::notify_node_hello"},
            {"@data-type": "vector", "data": [{"@data-type": "string", "data": "w1"}]},
            {"@data-type": "vector", "data": []}]}]}"#;
        let inbound = decode(bare.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(inbound.event, Event::NotifyNodeHello { node: "w1".into() });
        assert_eq!((inbound.encoding, inbound.topic), (Encoding::Broker, None));
        let enveloped = format!(
            r#"{{"type": "data-message", "topic": "t", {}"#,
            &bare.trim_start()[1..]
        );
        let inbound = decode(enveloped.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(inbound.topic.as_deref(), Some("t"));
        assert!(err(r#"{"type": "error", "code": "x"}"#)
            .message
            .contains("of type 'error'"));
        let bad_version = bare.replacen("\"data\": 1}", "\"data\": 2}", 1);
        assert_eq!(
            decode(bad_version.as_bytes(), &Limits::default())
                .unwrap_err()
                .message,
            "unsupported Broker event format: element 0 is 2, expected 1"
        );
    }

    #[test]
    fn short_names_only_for_the_agent_api_in_plain() {
        assert!(decode(
            br#"{"event": "notify_node_hello", "args": {"node": "x"}}"#,
            &Limits::default()
        )
        .is_err());
        let ok = decode(
            br#"{"event": "agent_welcome_request", "args": ["r"]}"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(ok.event, Event::AgentWelcomeRequest { reqid: "r".into() });
    }

    #[test]
    fn defaults_fill_left_out_arguments() {
        let ok = decode(
            br#"{"event": "node_dispatch_request", "args": {"reqid": "r", "action": ["get_id_value", "x"]}}"#,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            ok.event,
            Event::NodeDispatchRequest {
                reqid: "r".into(),
                action: vec!["get_id_value".into(), "x".into()],
                nodes: BTreeSet::new()
            }
        );
    }
}
