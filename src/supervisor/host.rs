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

/// The `SupervisorControl` response (or shim notice) a Zeek Supervisor
/// sends for a report: the inverse of [`report_from_event`], for whatever
/// plays a Zeek Supervisor (tests, simulations). `None` for the reports
/// only the built-in process supervisor makes (spawned, ready, crashed,
/// failed), which a Zeek Supervisor has no event for.
pub fn event_from_report(prefix: &str, report: Report) -> Option<Event> {
    let reqid = |id: CommandId| request_id(prefix, id);
    Some(match report {
        Report::Created { id, error } => Event::SupervisorCreateResponse {
            reqid: reqid(id),
            result: error.unwrap_or_default(),
        },
        Report::Destroyed { id, ok } => Event::SupervisorDestroyResponse {
            reqid: reqid(id),
            result: ok,
        },
        Report::Restarted { id, ok } => Event::SupervisorRestartResponse {
            reqid: reqid(id),
            result: ok,
        },
        Report::Status { id, status } => Event::SupervisorStatusResponse {
            reqid: reqid(id),
            result: status,
        },
        Report::NodeOutput { node, outputs } => Event::NotifyNodeExit { node, outputs },
        Report::NodeSpawned { .. }
        | Report::NodeReady { .. }
        | Report::NodeCrashed { .. }
        | Report::NodeFailed { .. } => return None,
    })
}

/// The command a `SupervisorControl::*_request` event carries, if the
/// event is one and its reqid is ours: the inverse of [`command_event`],
/// for whatever plays a Zeek Supervisor.
pub fn command_from_event(prefix: &str, event: &Event) -> Option<SupervisorCommand> {
    let (reqid, command) = match event {
        Event::SupervisorCreateRequest { reqid, node } => {
            (reqid, Command::Create(Box::new(node.clone())))
        }
        Event::SupervisorDestroyRequest { reqid, node } => {
            (reqid, Command::Destroy { node: node.clone() })
        }
        Event::SupervisorRestartRequest { reqid, node } => {
            (reqid, Command::Restart { node: node.clone() })
        }
        Event::SupervisorStatusRequest { reqid, node } => {
            (reqid, Command::Status { node: node.clone() })
        }
        _ => return None,
    };
    Some(SupervisorCommand {
        id: parse_request_id(prefix, reqid)?,
        command,
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

    #[test]
    fn reports_round_trip_through_supervisor_events() {
        use crate::model::{NodeConfig, NodeOutputs, SupervisorNodeStatus, SupervisorStatus};
        let status = SupervisorStatus {
            nodes: [(
                "worker-01".to_owned(),
                SupervisorNodeStatus {
                    node: NodeConfig::new("worker-01"),
                    pid: Some(42),
                },
            )]
            .into(),
        };
        let outputs = NodeOutputs {
            stdout: "out\n".into(),
            stderr: "err\n".into(),
        };
        let answers = [
            Report::Created {
                id: CommandId(1),
                error: None,
            },
            Report::Created {
                id: CommandId(2),
                error: Some("no such program".into()),
            },
            Report::Destroyed {
                id: CommandId(3),
                ok: true,
            },
            Report::Destroyed {
                id: CommandId(4),
                ok: false,
            },
            Report::Restarted {
                id: CommandId(5),
                ok: true,
            },
            Report::Restarted {
                id: CommandId(6),
                ok: false,
            },
            Report::Status {
                id: CommandId(7),
                status,
            },
            Report::NodeOutput {
                node: "worker-01".into(),
                outputs: outputs.clone(),
            },
        ];
        for report in answers {
            let event = event_from_report("zma-ab-", report.clone())
                .unwrap_or_else(|| panic!("{report:?} has an event"));
            assert!(event.role().is_inbound(), "{event:?} is for the agent");
            assert_eq!(
                event.reqid().is_some(),
                event.name() != crate::wire::EventName::NotifyNodeExit
            );
            assert_eq!(report_from_event("zma-ab-", &event), Some(report));
        }
        // What only the process supervisor reports has no event.
        for report in [
            Report::NodeSpawned {
                node: "w".into(),
                pid: 7,
            },
            Report::NodeReady { node: "w".into() },
            Report::NodeCrashed {
                node: "w".into(),
                reason: "exit status 1".into(),
                outputs: outputs.clone(),
            },
            Report::NodeFailed {
                node: "w".into(),
                reason: "gave up".into(),
                outputs,
            },
        ] {
            assert_eq!(event_from_report("zma-ab-", report), None);
        }
    }

    #[test]
    fn commands_round_trip_through_supervisor_events() {
        use crate::model::NodeConfig;
        let commands = [
            Command::Create(Box::new(NodeConfig::new("worker-01"))),
            Command::Destroy {
                node: "worker-01".into(),
            },
            Command::Restart {
                node: "worker-01".into(),
            },
            Command::Status {
                node: String::new(),
            },
        ];
        for (n, command) in commands.into_iter().enumerate() {
            let command = SupervisorCommand {
                id: CommandId(n as u64 + 10),
                command,
            };
            let event = command_event("zma-ab-", &command);
            assert_eq!(command_from_event("zma-ab-", &event), Some(command));
            assert_eq!(command_from_event("zma-cd-", &event), None, "not ours");
        }
        assert_eq!(
            command_from_event(
                "zma-ab-",
                &Event::SupervisorDestroyResponse {
                    reqid: "zma-ab-1".into(),
                    result: true
                }
            ),
            None
        );
    }
}
