//! The simulated Supervisor: what it does with each command (its process
//! table, failures on request), its status, its answers (reports in
//! process mode, SupervisorControl events in host mode) and the reports it
//! sends on its own.

use zeek_mgmt_agent::model::{NodeConfig, NodeOutputs, SupervisorNodeStatus, SupervisorStatus};
use zeek_mgmt_agent::supervisor::{host, Command, CommandId, Report};

use super::model::*;
use super::simulator::*;

impl Runner {
    /// What the simulated Supervisor does with a command.
    pub(super) fn supervise(
        &mut self,
        id: CommandId,
        command: &Command,
        outcome: Outcome,
    ) -> Report {
        let ok = outcome == Outcome::Ok;
        match command {
            Command::Create(config) => {
                if !ok {
                    return Report::Created {
                        id,
                        error: Some("cannot create".into()),
                    };
                }
                self.next_pid += 1;
                self.procs.insert(
                    config.name.clone(),
                    SupervisorNodeStatus {
                        node: config.as_ref().clone(),
                        pid: Some(self.next_pid),
                    },
                );
                Report::Created { id, error: None }
            }
            Command::Destroy { node } => {
                if ok {
                    self.procs.remove(node);
                }
                Report::Destroyed { id, ok }
            }
            Command::Restart { node } => {
                let ok = ok && self.procs.contains_key(node);
                if ok {
                    self.next_pid += 1;
                    let pid = self.next_pid;
                    if let Some(p) = self.procs.get_mut(node) {
                        p.pid = Some(pid);
                    }
                }
                Report::Restarted { id, ok }
            }
            Command::Status { .. } => Report::Status {
                id,
                status: self.status(!ok),
            },
        }
    }

    /// The simulated Supervisor's status; `stray` adds a node nobody asked
    /// for and a management node (which a deploy must leave alone).
    pub(super) fn status(&self, stray: bool) -> SupervisorStatus {
        let mut status = SupervisorStatus {
            nodes: self.procs.clone(),
        };
        if stray {
            status.nodes.insert(
                "stray-01".into(),
                SupervisorNodeStatus {
                    node: NodeConfig::new("stray-01"),
                    pid: Some(7),
                },
            );
            let mut agent = NodeConfig::new("agent-proc");
            agent
                .env
                .insert("ZEEK_MANAGEMENT_NODE".into(), "AGENT".into());
            status.nodes.insert(
                "agent-proc".into(),
                SupervisorNodeStatus {
                    node: agent,
                    pid: Some(8),
                },
            );
        }
        status
    }

    /// A Supervisor answer, as a report (process mode) or a
    /// SupervisorControl response event (host mode).
    pub(super) fn deliver(&mut self, report: Report) {
        if !self.host {
            let outputs = self.engine.handle_report(self.now, report);
            self.absorb(outputs);
            return;
        }
        let event = host::event_from_report(ID_PREFIX, report.clone())
            .unwrap_or_else(|| self.fail(&format!("a Zeek Supervisor cannot report {report:?}")));
        self.send_ok(event, "zeek/supervisor");
    }

    pub(super) fn report(&mut self, node: &str, kind: ReportKind) {
        let outputs = NodeOutputs {
            stdout: format!("{node} out\n"),
            stderr: format!("{node} err\n"),
        };
        if self.host {
            // Zeek's Supervisor restarts crashed nodes itself; its shim
            // publishes the exit with the output.
            if matches!(
                kind,
                ReportKind::Crashed | ReportKind::Failed | ReportKind::Output
            ) {
                self.deliver(Report::NodeOutput {
                    node: node.to_owned(),
                    outputs,
                });
            }
            return;
        }
        let node = node.to_owned();
        let report = match kind {
            ReportKind::Spawned => {
                self.next_pid += 1;
                Report::NodeSpawned {
                    node,
                    pid: self.next_pid,
                }
            }
            ReportKind::Ready => Report::NodeReady { node },
            ReportKind::Crashed => Report::NodeCrashed {
                node,
                reason: "exit status 1".into(),
                outputs,
            },
            ReportKind::Failed => Report::NodeFailed {
                node,
                reason: "gave up after 5 failed starts".into(),
                outputs,
            },
            ReportKind::Output => Report::NodeOutput { node, outputs },
        };
        self.deliver(report);
    }
}
