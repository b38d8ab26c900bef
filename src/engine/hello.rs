//! `notify_agent_hello` on new Broker peerings.
//!
//! seed: a hello on every `Broker::peer_added`, `(instance, host,
//! api_version)`. Zeek >= 5.0: `(instance, id, connecting, api_version)`,
//! held back until the Supervisor is peered, so no request can reach a
//! Supervisor that is not listening yet. Held-back hellos are not replayed;
//! losing the Supervisor's peering holds them back again.

use super::agent::Engine;
use super::config::SupervisorKind;
use super::output::LogLevel;
use crate::model::EndpointInfo;
use crate::wire::{AgentHello, Dialect, Event};

/// The management API version the agent speaks.
pub const API_VERSION: u64 = 1;

impl Engine {
    fn is_supervisor(&self, endpoint: &EndpointInfo) -> bool {
        let SupervisorKind::Host { address, port } = &self.cfg.supervisor else {
            return false;
        };
        let Some(network) = &endpoint.network else {
            return false;
        };
        let same_address = match (
            network.address.parse::<std::net::IpAddr>(),
            address.parse::<std::net::IpAddr>(),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => network.address == *address,
        };
        same_address && network.bound_port.number == *port
    }

    pub(crate) fn on_peer_added(&mut self, endpoint: &EndpointInfo) {
        if self.is_supervisor(endpoint) && !self.supervisor_up {
            self.log(LogLevel::Info, "Supervisor peered".to_owned());
            self.supervisor_up = true;
        }
        let hello = match self.cfg.dialect {
            Dialect::Seed => AgentHello::Seed {
                instance: self.cfg.name.clone(),
                host: self.cfg.listen_address,
                api_version: API_VERSION,
            },
            _ if !self.supervisor_up => {
                self.log(
                    LogLevel::Debug,
                    format!(
                        "hello for peer {} held back: the Supervisor is not peered yet",
                        endpoint.id
                    ),
                );
                return;
            }
            _ => AgentHello::Current {
                instance: self.cfg.name.clone(),
                id: self.cfg.broker_id.clone(),
                connecting: self.cfg.connects_to_controller(),
                api_version: API_VERSION,
            },
        };
        self.notify(Event::NotifyAgentHello(hello));
    }

    pub(crate) fn on_peer_lost(&mut self, endpoint: &EndpointInfo) {
        if self.is_supervisor(endpoint) && self.supervisor_up {
            self.log(LogLevel::Warning, "Supervisor peering lost".to_owned());
            self.supervisor_up = false;
        }
    }
}
