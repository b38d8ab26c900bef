//! zeek-mgmt-agent: the agent of Zeek's cluster management framework.
pub mod model;
pub mod wire;
