//! Outbound: a typed [`Event`] to JSON text, in one encoding and dialect.

use super::event::{AgentHello, Event};
use super::read::SeqKind;
use super::records::{
    encode_configuration, encode_endpoint_info, encode_node, encode_node_config,
    encode_node_outputs, encode_result, encode_results, encode_supervisor_status,
};
use super::write::{Out, RecOut};
use super::{Dialect, Encoding, Format};
use crate::text::{write_str_ascii, write_str_utf8};

/// Encodes `event` for `topic`.
///
/// Broker JSON is a data-message envelope with the topic filled in, written
/// exactly as zeek-client's `DataMessage.serialize()` writes it. Plain JSON is
/// `{"event": <full name>, "args": {...}}`; the topic is not part of it.
///
/// ```
/// use zeek_mgmt_agent::wire::{encode, Dialect, Encoding, Event};
///
/// let hello = Event::NotifyNodeHello { node: "worker-01".into() };
/// assert_eq!(
///     encode(&hello, "zeek/management/node", Encoding::Plain, Dialect::Zeek7),
///     r#"{"event":"Management::Node::API::notify_node_hello","args":{"node":"worker-01"}}"#
/// );
/// ```
pub fn encode(event: &Event, topic: &str, encoding: Encoding, dialect: Dialect) -> String {
    let mut buf = String::with_capacity(256);
    let name = event.name().full();
    match encoding {
        Encoding::Broker => {
            buf.push_str(
                "{\"@data-type\": \"vector\", \"data\": [{\"@data-type\": \"count\", \"data\": 1}, \
                 {\"@data-type\": \"count\", \"data\": 1}, {\"@data-type\": \"vector\", \"data\": [",
            );
            Out::new(&mut buf, Format::Broker).string(name);
            buf.push_str(", ");
            let mut args = Out::new(&mut buf, Format::Broker).record();
            write_args(&mut args, event, dialect);
            args.end();
            buf.push_str("]}], \"topic\": ");
            write_str_ascii(&mut buf, topic);
            buf.push_str(", \"type\": \"data-message\"}");
        }
        Encoding::Plain => {
            buf.push_str("{\"event\":");
            write_str_utf8(&mut buf, name);
            buf.push_str(",\"args\":");
            let mut args = Out::new(&mut buf, Format::Plain).record();
            write_args(&mut args, event, dialect);
            args.end();
            buf.push('}');
        }
    }
    buf
}

/// The argument name of a vector-valued response (see `docs/protocol.md`):
/// `set_configuration_response` and the seed `node_dispatch_response` say
/// `result`, the others `results`.
fn results_name(event: &Event, dialect: Dialect) -> &'static str {
    match event {
        Event::SetConfigurationResponse { .. } => "result",
        Event::NodeDispatchResponse { .. } if dialect == Dialect::Seed => "result",
        _ => "results",
    }
}

fn write_args(a: &mut RecOut<'_>, event: &Event, dialect: Dialect) {
    match event {
        Event::SetConfigurationRequest { reqid, config } => {
            a.field("reqid").string(reqid);
            encode_configuration(a.field("config"), config, dialect);
        }
        Event::DeployRequest {
            reqid,
            config,
            force,
        } => {
            a.field("reqid").string(reqid);
            encode_configuration(a.field("config"), config, dialect);
            a.field("force").bool(*force);
        }
        Event::GetNodesRequest { reqid }
        | Event::AgentWelcomeRequest { reqid }
        | Event::AgentStandbyRequest { reqid } => {
            a.field("reqid").string(reqid);
        }
        Event::NodeDispatchRequest {
            reqid,
            action,
            nodes,
        }
        | Event::NodeApiDispatchRequest {
            reqid,
            action,
            nodes,
        } => {
            a.field("reqid").string(reqid);
            a.field("action").strings(SeqKind::Vector, action);
            a.field("nodes").strings(SeqKind::Set, nodes);
        }
        Event::RestartRequest { reqid, nodes } => {
            a.field("reqid").string(reqid);
            a.field("nodes").strings(SeqKind::Set, nodes);
        }
        Event::SetConfigurationResponse { reqid, results }
        | Event::DeployResponse { reqid, results }
        | Event::NodeDispatchResponse { reqid, results }
        | Event::RestartResponse { reqid, results } => {
            a.field("reqid").string(reqid);
            encode_results(a.field(results_name(event, dialect)), results, dialect);
        }
        Event::GetNodesResponse { reqid, result }
        | Event::AgentWelcomeResponse { reqid, result }
        | Event::AgentStandbyResponse { reqid, result }
        | Event::NodeApiDispatchResponse { reqid, result } => {
            a.field("reqid").string(reqid);
            encode_result(a.field("result"), result, dialect);
        }
        Event::NotifyAgentHello(AgentHello::Seed {
            instance,
            host,
            api_version,
        }) => {
            a.field("instance").string(instance);
            a.field("host").addr(*host);
            a.field("api_version").count(*api_version);
        }
        Event::NotifyAgentHello(AgentHello::Current {
            instance,
            id,
            connecting,
            api_version,
        }) => {
            a.field("instance").string(instance);
            a.field("id").string(id);
            a.field("connecting").bool(*connecting);
            a.field("api_version").count(*api_version);
        }
        Event::NotifyChange {
            instance,
            node,
            old,
            new,
        } => {
            a.field("instance").string(instance);
            encode_node(a.field("n"), node, dialect);
            a.field("old").enumeration(*old);
            a.field("new").enumeration(*new);
        }
        Event::NotifyError {
            instance,
            msg,
            node,
        }
        | Event::NotifyLog {
            instance,
            msg,
            node,
        } => {
            a.field("instance").string(instance);
            a.field("msg").string(msg);
            a.field("node").string(node);
        }
        Event::NotifyNodeHello { node } => a.field("node").string(node),
        Event::SupervisorCreateRequest { reqid, node } => {
            a.field("reqid").string(reqid);
            encode_node_config(a.field("node"), node, dialect);
        }
        Event::SupervisorStatusRequest { reqid, node }
        | Event::SupervisorDestroyRequest { reqid, node }
        | Event::SupervisorRestartRequest { reqid, node } => {
            a.field("reqid").string(reqid);
            a.field("node").string(node);
        }
        Event::SupervisorCreateResponse { reqid, result } => {
            a.field("reqid").string(reqid);
            a.field("result").string(result);
        }
        Event::SupervisorStatusResponse { reqid, result } => {
            a.field("reqid").string(reqid);
            encode_supervisor_status(a.field("result"), result, dialect);
        }
        Event::SupervisorDestroyResponse { reqid, result }
        | Event::SupervisorRestartResponse { reqid, result } => {
            a.field("reqid").string(reqid);
            a.field("result").bool(*result);
        }
        Event::NotifyNodeExit { node, outputs } => {
            a.field("node").string(node);
            encode_node_outputs(a.field("outputs"), outputs);
        }
        Event::PeerAdded { endpoint, msg } | Event::PeerLost { endpoint, msg } => {
            encode_endpoint_info(a.field("endpoint"), endpoint);
            a.field("msg").string(msg);
        }
    }
}
