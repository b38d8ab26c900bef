//! Every event of the protocol as a Rust value, and the catalogue of names.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::model::{
    Configuration, EndpointInfo, Node, NodeConfig, NodeOutputs, ResultRecord, State,
    SupervisorStatus,
};

/// `notify_agent_hello`'s arguments, whose shape changed after the seed API.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentHello {
    /// seed: `(instance: string, host: addr, api_version: count)`.
    Seed {
        instance: String,
        host: IpAddr,
        api_version: u64,
    },
    /// Zeek >= 5.0: `(instance: string, id: string, connecting: bool,
    /// api_version: count)`.
    Current {
        instance: String,
        /// The agent's Broker node id.
        id: String,
        /// True when the agent connects to the controller.
        connecting: bool,
        api_version: u64,
    },
}

/// One event of the catalogue in `docs/protocol.md`, in either direction.
///
/// Zeek sets (`set[string]`) are `BTreeSet`s: duplicates merge and the
/// Broker encoding lists members sorted, as zeek-client does.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    // ---- controller -> agent (Management::Agent::API) ----
    SetConfigurationRequest {
        reqid: String,
        config: Configuration,
    },
    DeployRequest {
        reqid: String,
        config: Configuration,
        force: bool,
    },
    GetNodesRequest {
        reqid: String,
    },
    NodeDispatchRequest {
        reqid: String,
        action: Vec<String>,
        nodes: BTreeSet<String>,
    },
    AgentWelcomeRequest {
        reqid: String,
    },
    AgentStandbyRequest {
        reqid: String,
    },
    RestartRequest {
        reqid: String,
        nodes: BTreeSet<String>,
    },

    // ---- agent -> controller ----
    SetConfigurationResponse {
        reqid: String,
        results: Vec<ResultRecord>,
    },
    DeployResponse {
        reqid: String,
        results: Vec<ResultRecord>,
    },
    GetNodesResponse {
        reqid: String,
        result: ResultRecord,
    },
    NodeDispatchResponse {
        reqid: String,
        results: Vec<ResultRecord>,
    },
    AgentWelcomeResponse {
        reqid: String,
        result: ResultRecord,
    },
    AgentStandbyResponse {
        reqid: String,
        result: ResultRecord,
    },
    RestartResponse {
        reqid: String,
        results: Vec<ResultRecord>,
    },
    NotifyAgentHello(AgentHello),
    NotifyChange {
        instance: String,
        node: Node,
        old: State,
        new: State,
    },
    NotifyError {
        instance: String,
        msg: String,
        node: String,
    },
    NotifyLog {
        instance: String,
        msg: String,
        node: String,
    },

    // ---- agent <-> cluster nodes (Management::Node::API) ----
    /// `Management::Node::API::node_dispatch_request`, the agent's fan-out.
    NodeApiDispatchRequest {
        reqid: String,
        action: Vec<String>,
        nodes: BTreeSet<String>,
    },
    /// `Management::Node::API::node_dispatch_response`, one node's answer.
    NodeApiDispatchResponse {
        reqid: String,
        result: ResultRecord,
    },
    NotifyNodeHello {
        node: String,
    },

    // ---- agent <-> Zeek Supervisor (SupervisorControl) ----
    SupervisorCreateRequest {
        reqid: String,
        node: NodeConfig,
    },
    SupervisorStatusRequest {
        reqid: String,
        node: String,
    },
    SupervisorDestroyRequest {
        reqid: String,
        node: String,
    },
    SupervisorRestartRequest {
        reqid: String,
        node: String,
    },
    /// `result` is `""` on success, else the error.
    SupervisorCreateResponse {
        reqid: String,
        result: String,
    },
    SupervisorStatusResponse {
        reqid: String,
        result: SupervisorStatus,
    },
    SupervisorDestroyResponse {
        reqid: String,
        result: bool,
    },
    SupervisorRestartResponse {
        reqid: String,
        result: bool,
    },
    /// `Management::Supervisor::API::notify_node_exit` from the Supervisor shim.
    NotifyNodeExit {
        node: String,
        outputs: NodeOutputs,
    },

    // ---- transport ----
    PeerAdded {
        endpoint: EndpointInfo,
        msg: String,
    },
    PeerLost {
        endpoint: EndpointInfo,
        msg: String,
    },
}

macro_rules! event_names {
    ($($variant:ident => $full:literal,)+) => {
        /// The name of an event kind.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventName {
            $($variant),+
        }

        impl EventName {
            /// Every event of the catalogue.
            pub const ALL: &'static [EventName] = &[$(EventName::$variant),+];

            /// The fully qualified Zeek name.
            pub fn full(self) -> &'static str {
                match self {
                    $(EventName::$variant => $full),+
                }
            }

            fn from_full(name: &str) -> Option<EventName> {
                match name {
                    $($full => Some(EventName::$variant),)+
                    _ => None,
                }
            }
        }

        impl Event {
            /// This event's name.
            pub fn name(&self) -> EventName {
                match self {
                    $(Event::$variant { .. } => EventName::$variant),+
                }
            }
        }
    };
}

event_names! {
    SetConfigurationRequest => "Management::Agent::API::set_configuration_request",
    DeployRequest => "Management::Agent::API::deploy_request",
    GetNodesRequest => "Management::Agent::API::get_nodes_request",
    NodeDispatchRequest => "Management::Agent::API::node_dispatch_request",
    AgentWelcomeRequest => "Management::Agent::API::agent_welcome_request",
    AgentStandbyRequest => "Management::Agent::API::agent_standby_request",
    RestartRequest => "Management::Agent::API::restart_request",
    SetConfigurationResponse => "Management::Agent::API::set_configuration_response",
    DeployResponse => "Management::Agent::API::deploy_response",
    GetNodesResponse => "Management::Agent::API::get_nodes_response",
    NodeDispatchResponse => "Management::Agent::API::node_dispatch_response",
    AgentWelcomeResponse => "Management::Agent::API::agent_welcome_response",
    AgentStandbyResponse => "Management::Agent::API::agent_standby_response",
    RestartResponse => "Management::Agent::API::restart_response",
    NotifyAgentHello => "Management::Agent::API::notify_agent_hello",
    NotifyChange => "Management::Agent::API::notify_change",
    NotifyError => "Management::Agent::API::notify_error",
    NotifyLog => "Management::Agent::API::notify_log",
    NodeApiDispatchRequest => "Management::Node::API::node_dispatch_request",
    NodeApiDispatchResponse => "Management::Node::API::node_dispatch_response",
    NotifyNodeHello => "Management::Node::API::notify_node_hello",
    SupervisorCreateRequest => "SupervisorControl::create_request",
    SupervisorStatusRequest => "SupervisorControl::status_request",
    SupervisorDestroyRequest => "SupervisorControl::destroy_request",
    SupervisorRestartRequest => "SupervisorControl::restart_request",
    SupervisorCreateResponse => "SupervisorControl::create_response",
    SupervisorStatusResponse => "SupervisorControl::status_response",
    SupervisorDestroyResponse => "SupervisorControl::destroy_response",
    SupervisorRestartResponse => "SupervisorControl::restart_response",
    NotifyNodeExit => "Management::Supervisor::API::notify_node_exit",
    PeerAdded => "Broker::peer_added",
    PeerLost => "Broker::peer_lost",
}

impl Event {
    /// The request id the event carries: requests and responses of every
    /// API, node dispatches, SupervisorControl traffic.
    pub fn reqid(&self) -> Option<&str> {
        match self {
            Event::SetConfigurationRequest { reqid, .. }
            | Event::DeployRequest { reqid, .. }
            | Event::GetNodesRequest { reqid }
            | Event::NodeDispatchRequest { reqid, .. }
            | Event::AgentWelcomeRequest { reqid }
            | Event::AgentStandbyRequest { reqid }
            | Event::RestartRequest { reqid, .. }
            | Event::SetConfigurationResponse { reqid, .. }
            | Event::DeployResponse { reqid, .. }
            | Event::GetNodesResponse { reqid, .. }
            | Event::NodeDispatchResponse { reqid, .. }
            | Event::AgentWelcomeResponse { reqid, .. }
            | Event::AgentStandbyResponse { reqid, .. }
            | Event::RestartResponse { reqid, .. }
            | Event::NodeApiDispatchRequest { reqid, .. }
            | Event::NodeApiDispatchResponse { reqid, .. }
            | Event::SupervisorCreateRequest { reqid, .. }
            | Event::SupervisorStatusRequest { reqid, .. }
            | Event::SupervisorDestroyRequest { reqid, .. }
            | Event::SupervisorRestartRequest { reqid, .. }
            | Event::SupervisorCreateResponse { reqid, .. }
            | Event::SupervisorStatusResponse { reqid, .. }
            | Event::SupervisorDestroyResponse { reqid, .. }
            | Event::SupervisorRestartResponse { reqid, .. } => Some(reqid),
            Event::NotifyAgentHello(_)
            | Event::NotifyChange { .. }
            | Event::NotifyError { .. }
            | Event::NotifyLog { .. }
            | Event::NotifyNodeHello { .. }
            | Event::NotifyNodeExit { .. }
            | Event::PeerAdded { .. }
            | Event::PeerLost { .. } => None,
        }
    }

    /// The results of an agent API response: all of them for the
    /// vector-valued ones, the one result for the others.
    pub fn results(&self) -> Option<&[ResultRecord]> {
        match self {
            Event::SetConfigurationResponse { results, .. }
            | Event::DeployResponse { results, .. }
            | Event::NodeDispatchResponse { results, .. }
            | Event::RestartResponse { results, .. } => Some(results),
            Event::GetNodesResponse { result, .. }
            | Event::AgentWelcomeResponse { result, .. }
            | Event::AgentStandbyResponse { result, .. } => Some(std::slice::from_ref(result)),
            Event::SetConfigurationRequest { .. }
            | Event::DeployRequest { .. }
            | Event::GetNodesRequest { .. }
            | Event::NodeDispatchRequest { .. }
            | Event::AgentWelcomeRequest { .. }
            | Event::AgentStandbyRequest { .. }
            | Event::RestartRequest { .. }
            | Event::NotifyAgentHello(_)
            | Event::NotifyChange { .. }
            | Event::NotifyError { .. }
            | Event::NotifyLog { .. }
            | Event::NodeApiDispatchRequest { .. }
            | Event::NodeApiDispatchResponse { .. }
            | Event::NotifyNodeHello { .. }
            | Event::SupervisorCreateRequest { .. }
            | Event::SupervisorStatusRequest { .. }
            | Event::SupervisorDestroyRequest { .. }
            | Event::SupervisorRestartRequest { .. }
            | Event::SupervisorCreateResponse { .. }
            | Event::SupervisorStatusResponse { .. }
            | Event::SupervisorDestroyResponse { .. }
            | Event::SupervisorRestartResponse { .. }
            | Event::NotifyNodeExit { .. }
            | Event::PeerAdded { .. }
            | Event::PeerLost { .. } => None,
        }
    }

    /// The part this event plays (see [`EventName::role`]).
    pub fn role(&self) -> EventRole {
        self.name().role()
    }
}

/// The part an event plays between the agent and its peers: who sends it,
/// who takes it. Every event of the catalogue has exactly one
/// ([`EventName::role`], an exhaustive match: a new event does not compile
/// until it has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventRole {
    // ---- taken by the agent ----
    /// A controller's `Management::Agent::API` request; the agent answers it
    /// with [`EventName::response_name`] (an [`EventRole::AgentResponse`]).
    ControllerRequest,
    /// What a cluster node tells the agent: its hello, its answer to a node
    /// dispatch.
    NodeReport,
    /// A Zeek Supervisor's answer to a `SupervisorControl` request (host
    /// mode only).
    SupervisorResponse,
    /// The Supervisor shim's `notify_node_exit` (host mode). With its own
    /// process supervisor the agent publishes it itself instead, and does
    /// not take it.
    SupervisorNotice,
    /// Broker's peering events, handed over by the host.
    Transport,
    // ---- sent by the agent ----
    /// The agent's answer to a controller request.
    AgentResponse,
    /// The agent's `notify_*` events for the controller.
    AgentNotification,
    /// The agent's node dispatch fan-out to its nodes; a node answers it
    /// with an [`EventRole::NodeReport`].
    NodeRequest,
    /// The agent's `SupervisorControl` requests (host mode); the Supervisor
    /// answers with an [`EventRole::SupervisorResponse`].
    SupervisorRequest,
}

impl EventRole {
    /// Every role.
    pub const ALL: [EventRole; 9] = [
        EventRole::ControllerRequest,
        EventRole::NodeReport,
        EventRole::SupervisorResponse,
        EventRole::SupervisorNotice,
        EventRole::Transport,
        EventRole::AgentResponse,
        EventRole::AgentNotification,
        EventRole::NodeRequest,
        EventRole::SupervisorRequest,
    ];

    /// Whether the agent takes events of this role (the others it only
    /// sends, and refuses as input). Supervisor traffic is taken only by an
    /// agent with a host-delegated Supervisor.
    pub fn is_inbound(self) -> bool {
        match self {
            EventRole::ControllerRequest
            | EventRole::NodeReport
            | EventRole::SupervisorResponse
            | EventRole::SupervisorNotice
            | EventRole::Transport => true,
            EventRole::AgentResponse
            | EventRole::AgentNotification
            | EventRole::NodeRequest
            | EventRole::SupervisorRequest => false,
        }
    }

    /// Whether events of this role are requests, answered by the event of
    /// [`EventName::response_name`].
    pub fn is_request(self) -> bool {
        match self {
            EventRole::ControllerRequest
            | EventRole::NodeRequest
            | EventRole::SupervisorRequest => true,
            EventRole::NodeReport
            | EventRole::SupervisorResponse
            | EventRole::SupervisorNotice
            | EventRole::Transport
            | EventRole::AgentResponse
            | EventRole::AgentNotification => false,
        }
    }

    /// The role of the answers to a request of this role.
    pub fn response_role(self) -> Option<EventRole> {
        match self {
            EventRole::ControllerRequest => Some(EventRole::AgentResponse),
            EventRole::NodeRequest => Some(EventRole::NodeReport),
            EventRole::SupervisorRequest => Some(EventRole::SupervisorResponse),
            EventRole::NodeReport
            | EventRole::SupervisorResponse
            | EventRole::SupervisorNotice
            | EventRole::Transport
            | EventRole::AgentResponse
            | EventRole::AgentNotification => None,
        }
    }
}

const AGENT_API: &str = "Management::Agent::API::";

impl EventName {
    /// The part events of this name play. An exhaustive match: a new event
    /// kind does not compile until it has a role, so it cannot be refused
    /// (or taken) by accident.
    pub fn role(self) -> EventRole {
        match self {
            EventName::SetConfigurationRequest
            | EventName::DeployRequest
            | EventName::GetNodesRequest
            | EventName::NodeDispatchRequest
            | EventName::AgentWelcomeRequest
            | EventName::AgentStandbyRequest
            | EventName::RestartRequest => EventRole::ControllerRequest,
            EventName::SetConfigurationResponse
            | EventName::DeployResponse
            | EventName::GetNodesResponse
            | EventName::NodeDispatchResponse
            | EventName::AgentWelcomeResponse
            | EventName::AgentStandbyResponse
            | EventName::RestartResponse => EventRole::AgentResponse,
            EventName::NotifyAgentHello
            | EventName::NotifyChange
            | EventName::NotifyError
            | EventName::NotifyLog => EventRole::AgentNotification,
            EventName::NodeApiDispatchRequest => EventRole::NodeRequest,
            EventName::NodeApiDispatchResponse | EventName::NotifyNodeHello => {
                EventRole::NodeReport
            }
            EventName::SupervisorCreateRequest
            | EventName::SupervisorStatusRequest
            | EventName::SupervisorDestroyRequest
            | EventName::SupervisorRestartRequest => EventRole::SupervisorRequest,
            EventName::SupervisorCreateResponse
            | EventName::SupervisorStatusResponse
            | EventName::SupervisorDestroyResponse
            | EventName::SupervisorRestartResponse => EventRole::SupervisorResponse,
            EventName::NotifyNodeExit => EventRole::SupervisorNotice,
            EventName::PeerAdded | EventName::PeerLost => EventRole::Transport,
        }
    }

    /// The event a request is answered with; `None` for events that are
    /// not requests. The same in every dialect: an agent answers each
    /// request with the response of its own name (a `deploy_request` to a
    /// `seed` agent gets a `deploy_response`, a `set_configuration_request`
    /// in any dialect a `set_configuration_response`).
    pub fn response_name(self) -> Option<EventName> {
        Some(match self {
            EventName::SetConfigurationRequest => EventName::SetConfigurationResponse,
            EventName::DeployRequest => EventName::DeployResponse,
            EventName::GetNodesRequest => EventName::GetNodesResponse,
            EventName::NodeDispatchRequest => EventName::NodeDispatchResponse,
            EventName::AgentWelcomeRequest => EventName::AgentWelcomeResponse,
            EventName::AgentStandbyRequest => EventName::AgentStandbyResponse,
            EventName::RestartRequest => EventName::RestartResponse,
            EventName::NodeApiDispatchRequest => EventName::NodeApiDispatchResponse,
            EventName::SupervisorCreateRequest => EventName::SupervisorCreateResponse,
            EventName::SupervisorStatusRequest => EventName::SupervisorStatusResponse,
            EventName::SupervisorDestroyRequest => EventName::SupervisorDestroyResponse,
            EventName::SupervisorRestartRequest => EventName::SupervisorRestartResponse,
            EventName::SetConfigurationResponse
            | EventName::DeployResponse
            | EventName::GetNodesResponse
            | EventName::NodeDispatchResponse
            | EventName::AgentWelcomeResponse
            | EventName::AgentStandbyResponse
            | EventName::RestartResponse
            | EventName::NotifyAgentHello
            | EventName::NotifyChange
            | EventName::NotifyError
            | EventName::NotifyLog
            | EventName::NodeApiDispatchResponse
            | EventName::NotifyNodeHello
            | EventName::SupervisorCreateResponse
            | EventName::SupervisorStatusResponse
            | EventName::SupervisorDestroyResponse
            | EventName::SupervisorRestartResponse
            | EventName::NotifyNodeExit
            | EventName::PeerAdded
            | EventName::PeerLost => return None,
        })
    }

    /// The request this event answers (the inverse of
    /// [`EventName::response_name`]); `None` for events that answer none.
    pub fn request_name(self) -> Option<EventName> {
        EventName::ALL
            .iter()
            .copied()
            .find(|request| request.response_name() == Some(self))
    }

    /// Looks a name up. The short form (`get_nodes_request`) is accepted for
    /// agent API events when `allow_short` (plain JSON input).
    pub fn lookup(name: &str, allow_short: bool) -> Option<EventName> {
        if let Some(found) = EventName::from_full(name) {
            return Some(found);
        }
        if allow_short && !name.contains("::") {
            return EventName::from_full(&format!("{AGENT_API}{name}"));
        }
        None
    }

    /// Whether this is a `Management::Agent::API` event.
    pub fn is_agent_api(self) -> bool {
        self.full().starts_with(AGENT_API)
    }

    /// The name used in messages: short for agent API events
    /// (`deploy_request`), fully qualified for the others.
    pub fn display(self) -> &'static str {
        let full = self.full();
        full.strip_prefix(AGENT_API).unwrap_or(full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for name in EventName::ALL {
            assert_eq!(EventName::lookup(name.full(), false), Some(*name));
        }
        let mut fulls: Vec<_> = EventName::ALL.iter().map(|n| n.full()).collect();
        fulls.sort_unstable();
        fulls.dedup();
        assert_eq!(fulls.len(), EventName::ALL.len());
    }

    #[test]
    fn every_event_has_a_consistent_role_and_response() {
        for &name in EventName::ALL {
            let role = name.role();
            let what = name.full();
            // Requests, and only they, have a response, of the matching
            // role; a response answers exactly one request.
            match name.response_name() {
                Some(response) => {
                    assert!(role.is_request(), "{what} has a response but is no request");
                    assert_eq!(Some(response.role()), role.response_role(), "{what}");
                    assert_eq!(response.request_name(), Some(name), "{what}");
                    assert_ne!(role.is_inbound(), response.role().is_inbound(), "{what}");
                }
                None => assert!(!role.is_request(), "{what} is a request without response"),
            }
            // Every agent and Supervisor response answers a request.
            if matches!(
                role,
                EventRole::AgentResponse | EventRole::SupervisorResponse
            ) {
                assert!(name.request_name().is_some(), "{what} answers nothing");
            }
            // The agent API is what the controller and the agent exchange.
            let controller = matches!(
                role,
                EventRole::ControllerRequest
                    | EventRole::AgentResponse
                    | EventRole::AgentNotification
            );
            assert_eq!(name.is_agent_api(), controller, "{what}");
            // The namespaces follow the roles.
            let prefix = match role {
                EventRole::ControllerRequest
                | EventRole::AgentResponse
                | EventRole::AgentNotification => "Management::Agent::API::",
                EventRole::NodeRequest | EventRole::NodeReport => "Management::Node::API::",
                EventRole::SupervisorRequest | EventRole::SupervisorResponse => {
                    "SupervisorControl::"
                }
                EventRole::SupervisorNotice => "Management::Supervisor::API::",
                EventRole::Transport => "Broker::",
            };
            assert!(what.starts_with(prefix), "{what} is not {role:?}");
            // Names say what they are.
            assert_eq!(
                what.ends_with("_request"),
                role.is_request(),
                "{what}: {role:?}"
            );
        }
        // Every role is played by some event.
        for role in EventRole::ALL {
            assert!(
                EventName::ALL.iter().any(|n| n.role() == role),
                "{role:?} unused"
            );
        }
        // The seed API's request is answered by its own response.
        assert_eq!(
            EventName::SetConfigurationRequest.response_name(),
            Some(EventName::SetConfigurationResponse)
        );
    }

    #[test]
    fn short_names_mean_the_agent_api() {
        assert_eq!(
            EventName::lookup("node_dispatch_request", true),
            Some(EventName::NodeDispatchRequest)
        );
        assert_eq!(
            EventName::lookup("restart_request", true),
            Some(EventName::RestartRequest)
        );
        assert_eq!(EventName::lookup("restart_request", false), None);
        assert_eq!(EventName::lookup("create_response", true), None);
    }
}
