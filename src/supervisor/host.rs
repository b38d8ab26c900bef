//! The host-delegated Supervisor: commands as `SupervisorControl` request
//! events on topic `zeek/supervisor`, responses back as reports.
//!
//! A command's id becomes the event's `reqid`, written as the agent's id
//! prefix followed by the number (`zma-7f3a-12`); a response whose reqid does
//! not parse that way belongs to somebody else and is ignored.

use super::{Command, CommandId, Report, SupervisorCommand};
use crate::wire::Event;

/// The topic of `SupervisorControl` events.
pub const SUPERVISOR_TOPIC: &str = "zeek/supervisor";

/// The `reqid` of a command in events.
pub fn request_id(prefix: &str, id: CommandId) -> String {
    format!("{prefix}{}", id.0)
}

/// The command id inside a `reqid`, if it is one of ours.
pub fn parse_request_id(prefix: &str, reqid: &str) -> Option<CommandId> {
    let digits = reqid.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(CommandId)
}

/// The `SupervisorControl::*_request` event for a command.
pub fn command_event(prefix: &str, command: &SupervisorCommand) -> Event {
    let reqid = request_id(prefix, command.id);
    match &command.command {
        Command::Create(node) => Event::SupervisorCreateRequest {
            reqid,
            node: node.as_ref().clone(),
        },
        Command::Destroy { node } => Event::SupervisorDestroyRequest {
            reqid,
            node: node.clone(),
        },
        Command::Restart { node } => Event::SupervisorRestartRequest {
            reqid,
            node: node.clone(),
        },
        Command::Status { node } => Event::SupervisorStatusRequest {
            reqid,
            node: node.clone(),
        },
    }
}

/// The report carried by a Supervisor event, if the event is one and is
/// ours. `notify_node_exit` carries no reqid and is always a report.
pub fn report_from_event(prefix: &str, event: &Event) -> Option<Report> {
    let id = |reqid: &str| parse_request_id(prefix, reqid);
    Some(match event {
        Event::SupervisorCreateResponse { reqid, result } => Report::Created {
            id: id(reqid)?,
            error: (!result.is_empty()).then(|| result.clone()),
        },
        Event::SupervisorDestroyResponse { reqid, result } => Report::Destroyed {
            id: id(reqid)?,
            ok: *result,
        },
        Event::SupervisorRestartResponse { reqid, result } => Report::Restarted {
            id: id(reqid)?,
            ok: *result,
        },
        Event::SupervisorStatusResponse { reqid, result } => Report::Status {
            id: id(reqid)?,
            status: result.clone(),
        },
        Event::NotifyNodeExit { node, outputs } => Report::NodeOutput {
            node: node.clone(),
            outputs: outputs.clone(),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_round_trip_and_foreign_ids_are_refused() {
        let id = CommandId(42);
        assert_eq!(request_id("zma-ab-", id), "zma-ab-42");
        assert_eq!(parse_request_id("zma-ab-", "zma-ab-42"), Some(id));
        assert_eq!(parse_request_id("zma-ab-", "zma-cd-42"), None);
        assert_eq!(parse_request_id("zma-ab-", "zma-ab-"), None);
        assert_eq!(parse_request_id("zma-ab-", "zma-ab-4x"), None);
        assert_eq!(parse_request_id("zma-ab-", "zma-ab-+4"), None);
        assert_eq!(
            parse_request_id("zma-ab-", "zma-ab-99999999999999999999999"),
            None
        );
    }

    #[test]
    fn create_response_error_text_becomes_the_report_error() {
        let ok = Event::SupervisorCreateResponse {
            reqid: "p-1".into(),
            result: String::new(),
        };
        assert_eq!(
            report_from_event("p-", &ok),
            Some(Report::Created {
                id: CommandId(1),
                error: None
            })
        );
        let failed = Event::SupervisorCreateResponse {
            reqid: "p-2".into(),
            result: "no such program".into(),
        };
        assert_eq!(
            report_from_event("p-", &failed),
            Some(Report::Created {
                id: CommandId(2),
                error: Some("no such program".into())
            })
        );
    }
}
