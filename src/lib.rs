//! zeek-mgmt-agent: the agent of Zeek's cluster management framework.
pub mod engine;
pub mod model;
pub mod supervisor;
pub mod wire;
