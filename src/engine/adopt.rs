//! Taking over the nodes of an earlier agent (`adopt_nodes`, **beyond
//! Zeek**): a new agent on the same state directory starts with the
//! configuration the earlier one ran, its local nodes `RUNNING` with the
//! pids of the processes that agent left running. The engine only learns
//! the configuration and the pids here; finding the processes, checking
//! them and watching them is the process supervisor's job.
//!
//! From then on the adopted configuration is the current one in every
//! respect: a deploy of the same id is answered at once (Zeek's short
//! cut, `force` false), a deploy of another one tears the adopted nodes
//! down as any previous configuration's, and a crash of an adopted node is
//! reported and restarted as any other's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::agent::Engine;
use super::deploy::cluster_table;
use super::validate::validate_configuration;
use crate::model::{Configuration, NodeConfig};
use crate::supervisor::CommandId;

impl Engine {
    /// The configuration the agent runs now: the one deployed last (from
    /// the moment its deploy starts), `None` before the first one and
    /// after standby. The number changes whenever the configuration does,
    /// so a host that keeps a copy (the runtime persists it for a later
    /// agent to adopt) knows when to take a new one.
    pub fn configuration(&self) -> (Option<&Configuration>, u64) {
        (self.config.as_ref(), self.config_generation)
    }

    /// Takes over `config` with its nodes of this instance already running
    /// (left running by an earlier agent): they are `RUNNING` with the
    /// pids in `pids`, one for each of them and no other. Returns the
    /// Supervisor node configuration of each (what a create for it would
    /// have carried), for the process supervisor.
    ///
    /// Refused, with nothing changed, when the agent has a configuration
    /// or a deploy already, when the configuration is not valid, and when
    /// `pids` does not name exactly its local nodes.
    pub fn adopt_running(
        &mut self,
        config: Configuration,
        pids: &BTreeMap<String, i64>,
    ) -> Result<Vec<NodeConfig>, String> {
        if self.config.is_some() || self.deploy.is_some() || !self.nodes.managed.is_empty() {
            return Err("the agent runs a configuration already".to_owned());
        }
        let problems = validate_configuration(&config);
        if !problems.is_empty() {
            return Err(format!(
                "configuration {} is not valid: {}",
                config.id,
                problems.join("; ")
            ));
        }
        let local: BTreeSet<&str> = config
            .nodes
            .iter()
            .filter(|n| n.instance == self.cfg.name)
            .map(|n| n.name.as_str())
            .collect();
        let running: BTreeSet<&str> = pids.keys().map(String::as_str).collect();
        if local != running {
            return Err(format!(
                "configuration {} has nodes {local:?} on this instance, but {running:?} run",
                config.id
            ));
        }
        let now = self.now;
        let instance = self.cfg.name.clone();
        for node in config.nodes.iter().filter(|n| n.instance == instance) {
            let create = CommandId(self.next_id());
            self.nodes
                .adopt(node.clone(), pids[&node.name], create, now);
        }
        let cluster = Arc::new(cluster_table(&config));
        let names: Vec<String> = self.nodes.managed.keys().cloned().collect();
        let configs = names
            .iter()
            .filter_map(|name| self.node_config(name, Arc::clone(&cluster)))
            .collect();
        self.config = Some(config);
        self.config_generation += 1;
        Ok(configs)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::config::AgentConfig;
    use super::super::output::Output;
    use super::Engine;
    use crate::model::{State, Time};
    use crate::supervisor::Command;
    use crate::wire::{decode_configuration, Dialect, Event, Limits};

    fn config(id: &str, nodes: &[&str]) -> crate::model::Configuration {
        let nodes: Vec<String> = nodes
            .iter()
            .map(|n| format!(r#"{{"name": "{n}", "instance": "instance-1", "role": "WORKER"}}"#))
            .collect();
        let json = format!(
            r#"{{"id": "{id}", "instances": [{{"name": "instance-1", "host": "127.0.0.1"}}],
                "nodes": [{}]}}"#,
            nodes.join(",")
        );
        decode_configuration(json.as_bytes(), &Limits::default()).unwrap()
    }

    fn engine() -> Engine {
        let mut cfg = AgentConfig::new("instance-1");
        cfg.dialect = Dialect::Zeek7;
        Engine::new(cfg)
    }

    fn deploy(id: &str, reqid: &str, nodes: &[&str]) -> Vec<u8> {
        let config = crate::wire::encode_configuration(
            &config(id, nodes),
            crate::wire::Encoding::Plain,
            Dialect::Zeek7,
        );
        format!(
            r#"{{"event": "deploy_request", "args": {{"reqid": "{reqid}", "config": {config}}}}}"#
        )
        .into_bytes()
    }

    fn pids(nodes: &[(&str, i64)]) -> BTreeMap<String, i64> {
        nodes.iter().map(|(n, p)| ((*n).to_owned(), *p)).collect()
    }

    #[test]
    fn adopted_nodes_run_and_a_deploy_of_the_same_id_changes_nothing() {
        let mut agent = engine();
        let configs = agent
            .adopt_running(
                config("c1", &["w1", "w2"]),
                &pids(&[("w1", 11), ("w2", 12)]),
            )
            .unwrap();
        let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["w1", "w2"]);
        assert!(configs.iter().all(|c| c.cluster.len() == 2));
        let state = agent.state();
        assert_eq!(state.config_id.as_deref(), Some("c1"));
        let nodes: Vec<_> = state.nodes.iter().map(|n| (n.state, n.pid)).collect();
        assert_eq!(
            nodes,
            [(State::Running, Some(11)), (State::Running, Some(12))]
        );
        assert_eq!(agent.configuration().1, 1);

        let outputs = agent
            .handle_json(
                Time::from_millis(5),
                &deploy("c1", "r1", &["w1", "w2"]),
                &Limits::default(),
            )
            .unwrap();
        let answered = outputs.iter().any(|o| {
            matches!(o, Output::Event(e) if matches!(&e.event,
                Event::DeployResponse { results, .. } if results.iter().all(|r| r.success)))
        });
        assert!(answered, "{outputs:?}");
        assert!(!outputs.iter().any(|o| matches!(o, Output::Supervisor(_))));

        // Another configuration: the adopted nodes are torn down first.
        let outputs = agent
            .handle_json(
                Time::from_millis(6),
                &deploy("c2", "r2", &["w1"]),
                &Limits::default(),
            )
            .unwrap();
        let status = outputs.iter().find_map(|o| match o {
            Output::Supervisor(c) if matches!(c.command, Command::Status { .. }) => Some(c.id),
            _ => None,
        });
        assert!(status.is_some(), "{outputs:?}");
        assert_eq!(agent.configuration().1, 2);
    }

    #[test]
    fn adoption_is_refused_unless_the_pids_name_exactly_the_local_nodes() {
        let mut agent = engine();
        let missing = agent.adopt_running(config("c1", &["w1", "w2"]), &pids(&[("w1", 11)]));
        assert!(missing.is_err());
        let extra = agent.adopt_running(config("c1", &["w1"]), &pids(&[("w1", 11), ("w9", 19)]));
        assert!(extra.is_err());
        assert_eq!(agent.state().config_id, None);
        assert_eq!(agent.configuration().1, 0);
        agent
            .adopt_running(config("c1", &["w1"]), &pids(&[("w1", 11)]))
            .unwrap();
        let again = agent.adopt_running(config("c1", &["w1"]), &pids(&[("w1", 11)]));
        assert!(again.is_err(), "a configuration runs already");
    }
}
