//! Broker's peering records, carried by `Broker::peer_added` / `peer_lost`.

use super::port::Port;

/// `Broker::NetworkInfo`: where a peer is.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkInfo {
    /// The peer's address as Broker reports it (a string, not an `addr`).
    pub address: String,
    pub bound_port: Port,
}

/// `Broker::EndpointInfo`: a Broker peer.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointInfo {
    /// The peer's Broker node id.
    pub id: String,
    pub network: Option<NetworkInfo>,
}
