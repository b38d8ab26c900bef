//! Writing Zeek values as JSON, in either encoding, straight into a `String`.
//!
//! [`Out`] writes one value; [`SeqOut`], [`TableOut`] and [`RecOut`] write
//! containers field by field. Broker output matches Python's
//! `json.dumps(sort_keys=True)` (zeek-client's wire format); plain output is
//! compact, in Zeek's `to_json` shapes.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::read::SeqKind;
use super::Format;
use crate::model::{Port, Value, ZeekEnum};
use crate::text::{write_str_ascii, write_str_utf8};

/// Writes one value.
pub(crate) struct Out<'b> {
    buf: &'b mut String,
    format: Format,
}

impl<'b> Out<'b> {
    pub(crate) fn new(buf: &'b mut String, format: Format) -> Out<'b> {
        Out { buf, format }
    }

    fn text(&mut self, s: &str) {
        match self.format {
            Format::Broker => write_str_ascii(self.buf, s),
            Format::Plain => write_str_utf8(self.buf, s),
        }
    }

    /// Broker: opens `{"@data-type": "<tag>", "data": `.
    fn open_tag(&mut self, tag: &str) {
        self.buf.push_str("{\"@data-type\": \"");
        self.buf.push_str(tag);
        self.buf.push_str("\", \"data\": ");
    }

    /// Writes a scalar: Broker wraps it in a tagged object.
    fn scalar(mut self, tag: &str, write: impl FnOnce(&mut Self)) {
        match self.format {
            Format::Broker => {
                self.open_tag(tag);
                write(&mut self);
                self.buf.push('}');
            }
            Format::Plain => write(&mut self),
        }
    }

    /// An absent value: Broker `none` (with `{}` data, as Broker and
    /// zeek-client write it), plain `null`.
    pub(crate) fn none(self) {
        match self.format {
            Format::Broker => self
                .buf
                .push_str("{\"@data-type\": \"none\", \"data\": {}}"),
            Format::Plain => self.buf.push_str("null"),
        }
    }

    pub(crate) fn string(self, s: &str) {
        self.scalar("string", |o| o.text(s));
    }

    pub(crate) fn bool(self, b: bool) {
        self.scalar("boolean", |o| {
            o.buf.push_str(if b { "true" } else { "false" })
        });
    }

    pub(crate) fn count(self, n: u64) {
        self.scalar("count", |o| {
            let _ = write!(o.buf, "{n}");
        });
    }

    pub(crate) fn integer(self, n: i64) {
        self.scalar("integer", |o| {
            let _ = write!(o.buf, "{n}");
        });
    }

    fn real(self, f: f64) {
        self.scalar("real", |o| {
            if f.is_finite() {
                // serde_json prints the shortest representation that reads back.
                o.buf.push_str(&serde_json::Value::from(f).to_string());
            } else {
                o.buf.push_str("null");
            }
        });
    }

    /// Broker `"2151/tcp"`; plain `{"port": 2151, "proto": "tcp"}` as Zeek's
    /// `to_json` writes it.
    pub(crate) fn port(self, p: Port) {
        match self.format {
            Format::Broker => self.scalar("port", |o| {
                let _ = write!(o.buf, "\"{p}\"");
            }),
            Format::Plain => {
                let _ = write!(
                    self.buf,
                    "{{\"port\":{},\"proto\":\"{}\"}}",
                    p.number,
                    p.proto.json_name()
                );
            }
        }
    }

    pub(crate) fn addr(self, a: IpAddr) {
        self.scalar("address", |o| {
            let _ = write!(o.buf, "\"{a}\"");
        });
    }

    /// An enum, always scoped (`Supervisor::WORKER`).
    pub(crate) fn enumeration<E: ZeekEnum>(self, e: E) {
        self.scalar("enum-value", |o| {
            o.buf.push('"');
            o.buf.push_str(E::SCOPE);
            o.buf.push_str("::");
            o.buf.push_str(e.name());
            o.buf.push('"');
        });
    }

    pub(crate) fn seq(mut self, kind: SeqKind) -> SeqOut<'b> {
        match self.format {
            Format::Broker => {
                self.open_tag(kind.broker_tag());
                self.buf.push('[');
            }
            Format::Plain => self.buf.push('['),
        }
        SeqOut {
            buf: self.buf,
            format: self.format,
            first: true,
        }
    }

    /// A vector or set of strings. Sets are written sorted, as zeek-client
    /// does; callers pass them in order.
    pub(crate) fn strings<'s>(self, kind: SeqKind, items: impl IntoIterator<Item = &'s String>) {
        let mut seq = self.seq(kind);
        for item in items {
            seq.item().string(item);
        }
        seq.end();
    }

    pub(crate) fn table(mut self) -> TableOut<'b> {
        match self.format {
            Format::Broker => {
                self.open_tag("table");
                self.buf.push('[');
            }
            Format::Plain => self.buf.push('{'),
        }
        TableOut {
            buf: self.buf,
            format: self.format,
            first: true,
            entry_open: false,
        }
    }

    /// A `table[string] of string`, in key order.
    pub(crate) fn string_table<'s>(
        self,
        entries: impl IntoIterator<Item = (&'s String, &'s String)>,
    ) {
        let mut table = self.table();
        for (key, value) in entries {
            table.entry(key).string(value);
        }
        table.end();
    }

    pub(crate) fn record(mut self) -> RecOut<'b> {
        match self.format {
            Format::Broker => {
                self.open_tag("vector");
                self.buf.push('[');
            }
            Format::Plain => self.buf.push('{'),
        }
        RecOut {
            buf: self.buf,
            format: self.format,
            first: true,
        }
    }

    /// Any typed Zeek value. Plain JSON follows `to_json`: enums scoped,
    /// addresses and subnets as strings, tables as objects keyed by the
    /// key's text.
    pub(crate) fn value(self, v: &Value) {
        match v {
            Value::None => self.none(),
            Value::Bool(b) => self.bool(*b),
            Value::Count(n) => self.count(*n),
            Value::Integer(n) => self.integer(*n),
            Value::Real(f) => self.real(*f),
            Value::String(s) => self.string(s),
            Value::Enum(name) => self.scalar("enum-value", |o| o.text(name)),
            Value::Address(a) => self.addr(*a),
            Value::Subnet(s) => self.scalar("subnet", |o| o.text(s)),
            Value::Port(p) => self.port(*p),
            Value::Timespan(s) => self.scalar("timespan", |o| o.text(s)),
            Value::Timestamp(s) => self.scalar("timestamp", |o| o.text(s)),
            Value::Vector(items) | Value::Set(items) => {
                let kind = if matches!(v, Value::Set(_)) {
                    SeqKind::Set
                } else {
                    SeqKind::Vector
                };
                let mut seq = self.seq(kind);
                for item in items {
                    seq.item().value(item);
                }
                seq.end();
            }
            Value::Table(entries) => {
                let format = self.format;
                let mut table = self.table();
                for (key, value) in entries {
                    table.entry_value(key, format).value(value);
                }
                table.end();
            }
        }
    }
}

/// Writes the elements of a vector or set.
pub(crate) struct SeqOut<'b> {
    buf: &'b mut String,
    format: Format,
    first: bool,
}

fn separator(buf: &mut String, format: Format, first: &mut bool) {
    if !std::mem::replace(first, false) {
        buf.push_str(match format {
            Format::Broker => ", ",
            Format::Plain => ",",
        });
    }
}

impl SeqOut<'_> {
    pub(crate) fn item(&mut self) -> Out<'_> {
        separator(self.buf, self.format, &mut self.first);
        Out::new(self.buf, self.format)
    }

    pub(crate) fn end(self) {
        self.buf.push_str(match self.format {
            Format::Broker => "]}",
            Format::Plain => "]",
        });
    }
}

/// Writes the fields of a record: Broker positionally, plain by name.
pub(crate) struct RecOut<'b> {
    buf: &'b mut String,
    format: Format,
    first: bool,
}

impl RecOut<'_> {
    pub(crate) fn field(&mut self, name: &str) -> Out<'_> {
        separator(self.buf, self.format, &mut self.first);
        if self.format == Format::Plain {
            write_str_utf8(self.buf, name);
            self.buf.push(':');
        }
        Out::new(self.buf, self.format)
    }

    /// An optional field: Broker writes `none` when absent, plain leaves the
    /// field out.
    pub(crate) fn opt<T>(&mut self, name: &str, value: Option<T>, write: impl FnOnce(Out<'_>, T)) {
        match value {
            Some(v) => write(self.field(name), v),
            None if self.format == Format::Broker => self.field(name).none(),
            None => {}
        }
    }

    pub(crate) fn opt_str(&mut self, name: &str, value: Option<&String>) {
        self.opt(name, value, |o, s| o.string(s));
    }

    pub(crate) fn end(self) {
        self.buf.push_str(match self.format {
            Format::Broker => "]}",
            Format::Plain => "}",
        });
    }
}

/// Writes the entries of a table.
pub(crate) struct TableOut<'b> {
    buf: &'b mut String,
    format: Format,
    first: bool,
    /// Broker: an entry object waiting for its closing brace.
    entry_open: bool,
}

impl TableOut<'_> {
    fn close_entry(&mut self) {
        if std::mem::replace(&mut self.entry_open, false) {
            self.buf.push('}');
        }
    }

    /// Starts the entry for a string key; write the value into the result.
    pub(crate) fn entry(&mut self, key: &str) -> Out<'_> {
        self.close_entry();
        separator(self.buf, self.format, &mut self.first);
        match self.format {
            Format::Broker => {
                self.buf.push_str("{\"key\": ");
                Out::new(self.buf, self.format).string(key);
                self.buf.push_str(", \"value\": ");
                self.entry_open = true;
            }
            Format::Plain => {
                write_str_utf8(self.buf, key);
                self.buf.push(':');
            }
        }
        Out::new(self.buf, self.format)
    }

    /// Starts the entry for a key of any type (plain JSON uses its text).
    fn entry_value(&mut self, key: &Value, format: Format) -> Out<'_> {
        match (format, key) {
            (Format::Plain, Value::String(s)) => self.entry(s),
            (Format::Plain, other) => {
                let mut text = String::new();
                Out::new(&mut text, Format::Plain).value(other);
                let text = text.trim_matches('"').to_owned();
                self.entry(&text)
            }
            (Format::Broker, key) => {
                self.close_entry();
                separator(self.buf, self.format, &mut self.first);
                self.buf.push_str("{\"key\": ");
                Out::new(self.buf, self.format).value(key);
                self.buf.push_str(", \"value\": ");
                self.entry_open = true;
                Out::new(self.buf, self.format)
            }
        }
    }

    pub(crate) fn end(mut self) {
        self.close_entry();
        self.buf.push_str(match self.format {
            Format::Broker => "]}",
            Format::Plain => "}",
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterRole, Proto};

    fn both(write: impl Fn(Out<'_>)) -> (String, String) {
        let mut broker = String::new();
        write(Out::new(&mut broker, Format::Broker));
        let mut plain = String::new();
        write(Out::new(&mut plain, Format::Plain));
        (broker, plain)
    }

    #[test]
    fn scalars() {
        assert_eq!(
            both(|o| o.string("é")),
            (
                r#"{"@data-type": "string", "data": "\u00e9"}"#.into(),
                "\"é\"".into()
            )
        );
        assert_eq!(
            both(|o| o.port(Port::UNUSED)),
            (
                r#"{"@data-type": "port", "data": "0/?"}"#.into(),
                r#"{"port":0,"proto":"unknown"}"#.into()
            )
        );
        assert_eq!(
            both(|o| o.enumeration(ClusterRole::Worker)),
            (
                r#"{"@data-type": "enum-value", "data": "Supervisor::WORKER"}"#.into(),
                r#""Supervisor::WORKER""#.into()
            )
        );
        assert_eq!(
            both(|o| o.none()),
            (
                r#"{"@data-type": "none", "data": {}}"#.into(),
                "null".into()
            )
        );
    }

    #[test]
    fn records_drop_absent_fields_only_in_plain() {
        let (broker, plain) = both(|o| {
            let mut rec = o.record();
            rec.field("name").string("w");
            rec.opt("p", None::<Port>, |o, p| o.port(p));
            rec.opt(
                "q",
                Some(Port {
                    number: 1,
                    proto: Proto::Udp,
                }),
                |o, p| o.port(p),
            );
            rec.end();
        });
        assert_eq!(
            broker,
            r#"{"@data-type": "vector", "data": [{"@data-type": "string", "data": "w"}, {"@data-type": "none", "data": {}}, {"@data-type": "port", "data": "1/udp"}]}"#
        );
        assert_eq!(plain, r#"{"name":"w","q":{"port":1,"proto":"udp"}}"#);
    }

    #[test]
    fn tables_close_every_entry() {
        let a = ("a".to_owned(), "1".to_owned());
        let b = ("b".to_owned(), "2".to_owned());
        let (broker, plain) = both(|o| o.string_table([(&a.0, &a.1), (&b.0, &b.1)]));
        assert_eq!(
            broker,
            r#"{"@data-type": "table", "data": [{"key": {"@data-type": "string", "data": "a"}, "value": {"@data-type": "string", "data": "1"}}, {"key": {"@data-type": "string", "data": "b"}, "value": {"@data-type": "string", "data": "2"}}]}"#
        );
        assert_eq!(plain, r#"{"a":"1","b":"2"}"#);
        assert_eq!(
            both(|o| o.string_table([])),
            (r#"{"@data-type": "table", "data": []}"#.into(), "{}".into())
        );
    }
}
