//! A typed Zeek value, for `any`-typed data the framework does not define.
//!
//! Broker JSON carries the type of every value, so such data survives a round
//! trip unchanged. Plain JSON does not; it maps to the closest Zeek type
//! (numbers to `count`/`int`/`double`, objects to string-keyed tables).

use std::net::IpAddr;

use super::port::Port;

/// A Zeek value of any type Broker can carry.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Count(u64),
    Integer(i64),
    Real(f64),
    String(String),
    /// A scoped enum name (`Management::RUNNING`).
    Enum(String),
    Address(IpAddr),
    /// Broker's text form, e.g. `10.0.0.0/8`.
    Subnet(String),
    Port(Port),
    /// Broker's text form, e.g. `10s`.
    Timespan(String),
    /// Broker's text form (ISO 8601).
    Timestamp(String),
    Vector(Vec<Value>),
    Set(Vec<Value>),
    Table(Vec<(Value, Value)>),
}
