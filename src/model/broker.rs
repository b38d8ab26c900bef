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

impl EndpointInfo {
    /// A peer with node id `id` at `address`, TCP `port`.
    pub fn at(id: impl Into<String>, address: impl Into<String>, port: u16) -> EndpointInfo {
        EndpointInfo {
            id: id.into(),
            network: Some(NetworkInfo {
                address: address.into(),
                bound_port: Port::tcp(port),
            }),
        }
    }
}
