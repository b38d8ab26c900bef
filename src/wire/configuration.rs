//! A `Management::Configuration` on its own, outside any event: what
//! zeek-client's `Configuration.to_brokertype()` writes, or plain JSON.
//! Hosts use it to load a cluster description they then deploy.

use super::decode::{checked_text, parse_checked};
use super::read::In;
use super::records::{
    decode_configuration as decode_record, encode_configuration as encode_record,
};
use super::write::Out;
use super::{Dialect, Encoding, Format, InputError, InputErrorKind, Limits};
use crate::model::Configuration;

/// Decodes a configuration written in either encoding (Broker JSON is told
/// apart by its `@data-type`).
pub fn decode_configuration(input: &[u8], limits: &Limits) -> Result<Configuration, InputError> {
    let text = checked_text(input, limits, "configuration")?;
    let json = parse_checked(text, limits, "configuration")?;
    let format = if json.get("@data-type").is_some() {
        Format::Broker
    } else {
        Format::Plain
    };
    decode_record(In::new(&json, format)).map_err(|e| {
        let path = e.path();
        let message = if path.is_empty() {
            format!("configuration: {}", e.message)
        } else {
            format!("configuration: {path}: {}", e.message)
        };
        InputError::new(InputErrorKind::Event, message)
    })
}

/// Encodes a configuration (Broker JSON as zeek-client writes it, or plain).
pub fn encode_configuration(
    config: &Configuration,
    encoding: Encoding,
    dialect: Dialect,
) -> String {
    let mut buf = String::new();
    encode_record(Out::new(&mut buf, encoding.into()), config, dialect);
    buf
}
