//! The JSON form of scenarios, which tests/fuzz_regressions.rs replays.

use serde_json::{json, Value as J};

use super::model::*;

fn field<'a>(v: &'a J, key: &str) -> Result<&'a J, String> {
    v.get(key).ok_or_else(|| format!("missing '{key}' in {v}"))
}

fn num(v: &J, key: &str) -> Result<u8, String> {
    field(v, key)?
        .as_u64()
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| format!("'{key}' must be 0..=255 in {v}"))
}

fn flag(v: &J, key: &str) -> Result<bool, String> {
    field(v, key)?
        .as_bool()
        .ok_or_else(|| format!("'{key}' must be a boolean in {v}"))
}

fn text<'a>(v: &'a J, key: &str) -> Result<&'a str, String> {
    field(v, key)?
        .as_str()
        .ok_or_else(|| format!("'{key}' must be a string in {v}"))
}

fn nums(v: &J, key: &str) -> Result<Vec<u8>, String> {
    field(v, key)?
        .as_array()
        .ok_or_else(|| format!("'{key}' must be an array in {v}"))?
        .iter()
        .map(|n| {
            n.as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| format!("'{key}' must hold 0..=255"))
        })
        .collect()
}

impl Scenario {
    /// The scenario as JSON (what tests/fuzz_regressions/engine_ops holds).
    pub fn to_json(&self) -> String {
        let s = &self.setup;
        let setup = json!({
            "host_supervisor": s.host_supervisor,
            "dialect": s.dialect.name(),
            "outbound": s.outbound.name(),
            "inbound": s.inbound.name(),
            "request_timeout": s.request_timeout,
            "stage_wait": s.stage_wait,
            "supervisor_timeout": s.supervisor_timeout,
        });
        let ops: Vec<J> = self.ops.iter().take(MAX_OPS).map(Op::to_json).collect();
        let mut out = String::from("{\n  \"setup\": ");
        out.push_str(&setup.to_string());
        out.push_str(",\n  \"ops\": [");
        for (i, op) in ops.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str(&op.to_string());
        }
        out.push_str("\n  ]\n}\n");
        out
    }

    pub fn from_json(text_: &str) -> Result<Scenario, String> {
        let v: J = serde_json::from_str(text_).map_err(|e| e.to_string())?;
        let s = field(&v, "setup")?;
        let setup = Setup {
            host_supervisor: flag(s, "host_supervisor")?,
            dialect: DialectChoice::parse(text(s, "dialect")?)?,
            outbound: OutChoice::parse(text(s, "outbound")?)?,
            inbound: InChoice::parse(text(s, "inbound")?)?,
            request_timeout: num(s, "request_timeout")?,
            stage_wait: num(s, "stage_wait")?,
            supervisor_timeout: num(s, "supervisor_timeout")?,
        };
        let ops = field(&v, "ops")?
            .as_array()
            .ok_or("'ops' must be an array")?
            .iter()
            .map(Op::from_json)
            .collect::<Result<_, _>>()?;
        Ok(Scenario { setup, ops })
    }
}

impl Op {
    fn to_json(&self) -> J {
        match self {
            Op::Deploy {
                reqid,
                config,
                force,
                set_configuration,
            } => json!({
                "op": "deploy", "reqid": reqid, "force": force,
                "set_configuration": set_configuration,
                "config": {
                    "id": config.id,
                    "listen_port": config.listen_port,
                    "nodes": config.nodes.iter().take(MAX_NODES).map(|n| json!({
                        "name": n.name, "role": n.role.name(), "instance": n.instance,
                        "port": n.port, "metrics_port": n.metrics_port, "scripts": n.scripts,
                    })).collect::<Vec<_>>(),
                },
            }),
            Op::GetNodes { reqid } => json!({"op": "get_nodes", "reqid": reqid}),
            Op::Dispatch { reqid, nodes } => {
                json!({"op": "dispatch", "reqid": reqid, "nodes": nodes.iter().take(4).collect::<Vec<_>>()})
            }
            Op::Restart { reqid, nodes } => {
                json!({"op": "restart", "reqid": reqid, "nodes": nodes.iter().take(4).collect::<Vec<_>>()})
            }
            Op::Welcome { reqid } => json!({"op": "welcome", "reqid": reqid}),
            Op::Standby { reqid } => json!({"op": "standby", "reqid": reqid}),
            Op::Answer { which, outcome } => {
                json!({"op": "answer", "which": which, "outcome": outcome.name()})
            }
            Op::Drop { which } => json!({"op": "drop", "which": which}),
            Op::StaleAnswer {
                which,
                kind,
                outcome,
            } => json!({
                "op": "stale_answer", "which": which, "kind": kind.name(), "outcome": outcome.name(),
            }),
            Op::Hello { node } => json!({"op": "hello", "node": node}),
            Op::Report { node, kind } => json!({"op": "report", "node": node, "kind": kind.name()}),
            Op::DispatchAnswer {
                which,
                node,
                success,
            } => json!({"op": "dispatch_answer", "which": which, "node": node, "success": success}),
            Op::Peer { supervisor, lost } => {
                json!({"op": "peer", "supervisor": supervisor, "lost": lost})
            }
            Op::Advance { ms, fire } => json!({"op": "advance", "ms": ms, "fire": fire}),
            Op::FireDue => json!({"op": "fire_due"}),
            Op::Foreign { kind } => json!({"op": "foreign", "kind": kind}),
        }
    }

    fn from_json(v: &J) -> Result<Op, String> {
        Ok(match text(v, "op")? {
            "deploy" => {
                let c = field(v, "config")?;
                let nodes = field(c, "nodes")?
                    .as_array()
                    .ok_or("'nodes' must be an array")?
                    .iter()
                    .map(|n| {
                        Ok(NodeSpec {
                            name: num(n, "name")?,
                            role: RoleChoice::parse(text(n, "role")?)?,
                            instance: num(n, "instance")?,
                            port: num(n, "port")?,
                            metrics_port: flag(n, "metrics_port")?,
                            scripts: num(n, "scripts")?,
                        })
                    })
                    .collect::<Result<_, String>>()?;
                Op::Deploy {
                    reqid: num(v, "reqid")?,
                    force: flag(v, "force")?,
                    set_configuration: flag(v, "set_configuration")?,
                    config: ConfigSpec {
                        id: num(c, "id")?,
                        listen_port: flag(c, "listen_port")?,
                        nodes,
                    },
                }
            }
            "get_nodes" => Op::GetNodes {
                reqid: num(v, "reqid")?,
            },
            "dispatch" => Op::Dispatch {
                reqid: num(v, "reqid")?,
                nodes: nums(v, "nodes")?,
            },
            "restart" => Op::Restart {
                reqid: num(v, "reqid")?,
                nodes: nums(v, "nodes")?,
            },
            "welcome" => Op::Welcome {
                reqid: num(v, "reqid")?,
            },
            "standby" => Op::Standby {
                reqid: num(v, "reqid")?,
            },
            "answer" => Op::Answer {
                which: num(v, "which")?,
                outcome: Outcome::parse(text(v, "outcome")?)?,
            },
            "drop" => Op::Drop {
                which: num(v, "which")?,
            },
            "stale_answer" => Op::StaleAnswer {
                which: num(v, "which")?,
                kind: AnswerKind::parse(text(v, "kind")?)?,
                outcome: Outcome::parse(text(v, "outcome")?)?,
            },
            "hello" => Op::Hello {
                node: num(v, "node")?,
            },
            "report" => Op::Report {
                node: num(v, "node")?,
                kind: ReportKind::parse(text(v, "kind")?)?,
            },
            "dispatch_answer" => Op::DispatchAnswer {
                which: num(v, "which")?,
                node: num(v, "node")?,
                success: flag(v, "success")?,
            },
            "peer" => Op::Peer {
                supervisor: flag(v, "supervisor")?,
                lost: flag(v, "lost")?,
            },
            "advance" => Op::Advance {
                ms: field(v, "ms")?
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or("'ms' must be 0..=65535")?,
                fire: flag(v, "fire")?,
            },
            "fire_due" => Op::FireDue,
            "foreign" => Op::Foreign {
                kind: num(v, "kind")?,
            },
            other => return Err(format!("unknown op '{other}'")),
        })
    }
}
