//! Zeek's `port` type: a number and a transport protocol.

use std::fmt;

use crate::text::escape_for_message as q;

/// The transport protocol of a [`Port`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// Zeek's `unknown` protocol; Broker writes it as `?`.
    Unknown,
    Tcp,
    Udp,
    Icmp,
}

impl Proto {
    /// The name Broker uses after the slash (`2151/tcp`, `0/?`).
    pub fn broker_name(self) -> &'static str {
        match self {
            Proto::Unknown => "?",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }

    /// The name Zeek's `to_json` uses (`"proto": "unknown"`).
    pub fn json_name(self) -> &'static str {
        match self {
            Proto::Unknown => "unknown",
            other => other.broker_name(),
        }
    }

    /// Parses either spelling (`?` or `unknown`, any case for the others).
    pub fn parse(text: &str) -> Option<Proto> {
        match text {
            "?" => Some(Proto::Unknown),
            _ if text.eq_ignore_ascii_case("unknown") => Some(Proto::Unknown),
            _ if text.eq_ignore_ascii_case("tcp") => Some(Proto::Tcp),
            _ if text.eq_ignore_ascii_case("udp") => Some(Proto::Udp),
            _ if text.eq_ignore_ascii_case("icmp") => Some(Proto::Icmp),
            _ => None,
        }
    }
}

/// A Zeek `port` value such as `2151/tcp`.
///
/// Number 0 means "does not listen" in cluster tables (Zeek writes `0/unknown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub number: u16,
    pub proto: Proto,
}

impl Port {
    /// A TCP port, the common case for Broker and metrics ports.
    pub const fn tcp(number: u16) -> Port {
        Port {
            number,
            proto: Proto::Tcp,
        }
    }

    /// `0/unknown`: the cluster framework's "this node does not listen".
    pub const UNUSED: Port = Port {
        number: 0,
        proto: Proto::Unknown,
    };

    /// Whether this is a real port (Zeek's cluster code treats number 0 as none).
    pub fn is_set(self) -> bool {
        self.number != 0
    }

    /// Checks a number taken from input, naming it when it does not fit.
    pub fn number_from(value: u64) -> Result<u16, String> {
        u16::try_from(value).map_err(|_| format!("port {value} out of range"))
    }

    /// Parses Broker's `"<number>/<proto>"` form.
    pub fn parse(text: &str) -> Result<Port, String> {
        let (number, proto) = text
            .split_once('/')
            .ok_or_else(|| format!("port '{}' is not of the form <number>/<proto>", q(text)))?;
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("port '{}' has no valid number", q(text)));
        }
        let value: u64 = number
            .parse()
            .map_err(|_| format!("port {} out of range", q(number)))?;
        let number = Port::number_from(value)?;
        let proto = Proto::parse(proto)
            .ok_or_else(|| format!("port '{}' has unknown protocol '{}'", q(text), q(proto)))?;
        Ok(Port { number, proto })
    }
}

impl fmt::Display for Port {
    /// Broker's spelling, also Zeek's `fmt("%s")` of a port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.proto.broker_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_broker_spellings() {
        assert_eq!(Port::parse("2151/tcp"), Ok(Port::tcp(2151)));
        assert_eq!(Port::parse("0/?"), Ok(Port::UNUSED));
        assert_eq!(Port::parse("0/unknown"), Ok(Port::UNUSED));
        assert_eq!(
            Port::parse("53/udp"),
            Ok(Port {
                number: 53,
                proto: Proto::Udp
            })
        );
    }

    #[test]
    fn refuses_bad_ports_with_a_reason() {
        assert_eq!(
            Port::parse("70000/tcp"),
            Err("port 70000 out of range".into())
        );
        assert_eq!(
            Port::parse("99999999999999999999999/tcp"),
            Err("port 99999999999999999999999 out of range".into())
        );
        assert!(Port::parse("2151")
            .unwrap_err()
            .contains("<number>/<proto>"));
        assert!(Port::parse("-1/tcp")
            .unwrap_err()
            .contains("no valid number"));
        assert!(Port::parse("1/sctp")
            .unwrap_err()
            .contains("unknown protocol 'sctp'"));
        assert_eq!(
            Port::parse("1\n/tcp").unwrap_err(),
            "port '1\\n/tcp' has no valid number"
        );
    }

    #[test]
    fn displays_as_broker_writes_it() {
        assert_eq!(Port::tcp(5000).to_string(), "5000/tcp");
        assert_eq!(Port::UNUSED.to_string(), "0/?");
    }
}
