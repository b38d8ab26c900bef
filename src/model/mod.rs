//! The data model: every record and enum the agent exchanges, as Rust types.
//!
//! Names follow Zeek: [`Node`] is `Management::Node`, [`NodeConfig`] is
//! `Supervisor::NodeConfig`. Two records are renamed because their Zeek names
//! clash with Rust's prelude: `Management::Option` is [`NodeOption`] and
//! `Management::Result` is [`ResultRecord`]. JSON exists only in
//! [`crate::wire`]; these types know nothing about it.

mod broker;
mod enums;
mod management;
mod port;
mod supervisor;
mod time;
mod value;

pub use broker::{EndpointInfo, NetworkInfo};
pub use enums::{ClusterRole, Role, State, ZeekEnum};
pub use management::{
    Configuration, Instance, Node, NodeOption, NodeOutputs, NodeStatus, ResultData, ResultRecord,
};
pub use port::{Port, Proto};
pub use supervisor::{ClusterEndpoint, NodeConfig, SupervisorNodeStatus, SupervisorStatus};
pub use time::Time;
pub use value::Value;
