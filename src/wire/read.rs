//! Reading Zeek values out of a parsed JSON tree, in either encoding.
//!
//! [`In`] is a cursor on one value plus the encoding it is written in. Its
//! methods (`string`, `port`, `record`, ...) know how each Zeek type looks in
//! Broker JSON and in plain JSON, so every record decoder is written once for
//! both. Errors carry the path to the offending value; the path is assembled
//! only when an error travels back up, so successful decoding pays nothing.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use super::json::Json;
use super::Format;
use crate::model::{Port, Proto, ZeekEnum};
use crate::text::escape_for_message;

/// One step of the path to a value inside an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(Cow<'static, str>),
    Index(usize),
    Key(String),
}

/// A decoding failure at some path inside an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathError {
    /// Steps from the failing value outwards (reversed path).
    steps: Vec<Step>,
    pub(crate) message: String,
}

pub(crate) type R<T> = Result<T, PathError>;

impl PathError {
    pub(crate) fn new(message: impl Into<String>) -> PathError {
        PathError {
            steps: Vec::new(),
            message: message.into(),
        }
    }

    pub(crate) fn at_field(mut self, name: impl Into<Cow<'static, str>>) -> PathError {
        self.steps.push(Step::Field(name.into()));
        self
    }

    pub(crate) fn at_index(mut self, index: usize) -> PathError {
        self.steps.push(Step::Index(index));
        self
    }

    pub(crate) fn at_key(mut self, key: &str) -> PathError {
        self.steps.push(Step::Key(key.to_owned()));
        self
    }

    /// The path as `nodes[3].p` or `env["X"]`; empty at the value itself.
    pub(crate) fn path(&self) -> String {
        let mut path = String::new();
        for step in self.steps.iter().rev() {
            match step {
                Step::Field(name) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                }
                Step::Index(i) => path.push_str(&format!("[{i}]")),
                Step::Key(k) => path.push_str(&format!("[\"{}\"]", escape_for_message(k))),
            }
        }
        path
    }
}

/// Collection kinds Broker tells apart (plain JSON writes both as arrays).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SeqKind {
    Vector,
    Set,
}

impl SeqKind {
    pub(crate) fn broker_tag(self) -> &'static str {
        match self {
            SeqKind::Vector => "vector",
            SeqKind::Set => "set",
        }
    }
}

/// A cursor on one value in a given encoding.
#[derive(Clone, Copy)]
pub(crate) struct In<'j, 'a> {
    pub(crate) json: &'j Json<'a>,
    pub(crate) format: Format,
}

fn describe(json: &Json<'_>) -> String {
    match json {
        Json::Object(_) => match (json.get("@data-type"), json.get("data")) {
            (Some(Json::Str(tag)), Some(_)) => format!("Broker {tag}"),
            _ => "object".to_owned(),
        },
        other => other.kind().to_owned(),
    }
}

impl<'j, 'a> In<'j, 'a> {
    pub(crate) fn new(json: &'j Json<'a>, format: Format) -> Self {
        In { json, format }
    }

    fn at(self, json: &'j Json<'a>) -> Self {
        In {
            json,
            format: self.format,
        }
    }

    fn expected<T>(self, what: &str) -> R<T> {
        Err(PathError::new(format!(
            "expected {what}, got {}",
            describe(self.json)
        )))
    }

    /// Broker: the `@data-type` tag and the `data` member of a value object.
    fn tagged(self) -> R<(&'j str, &'j Json<'a>)> {
        match (self.json.get("@data-type"), self.json.get("data")) {
            (Some(Json::Str(tag)), Some(data)) => Ok((tag, data)),
            _ => self.expected("a Broker value ({\"@data-type\": ..., \"data\": ...})"),
        }
    }

    /// Broker: the `data` of a value whose tag is one of `tags`.
    fn broker_data(self, tags: &[&str]) -> R<(&'j str, &'j Json<'a>)> {
        let (tag, data) = self.tagged()?;
        if tags.contains(&tag) {
            Ok((tag, data))
        } else {
            Err(PathError::new(format!(
                "expected Broker {}, got Broker {tag}",
                tags[0]
            )))
        }
    }

    /// Whether the value is absent: Broker `none`, or plain `null`.
    pub(crate) fn is_absent(self) -> bool {
        match self.format {
            Format::Plain => matches!(self.json, Json::Null),
            Format::Broker => {
                matches!(self.json.get("@data-type"), Some(Json::Str(t)) if t == "none")
            }
        }
    }

    pub(crate) fn string(self) -> R<&'j str> {
        let json = match self.format {
            Format::Broker => self.broker_data(&["string"])?.1,
            Format::Plain => self.json,
        };
        match json {
            Json::Str(s) => Ok(s),
            _ => self.at(json).expected("string"),
        }
    }

    pub(crate) fn bool(self) -> R<bool> {
        let json = match self.format {
            Format::Broker => self.broker_data(&["boolean"])?.1,
            Format::Plain => self.json,
        };
        match json {
            Json::Bool(b) => Ok(*b),
            _ => self.at(json).expected("boolean"),
        }
    }

    /// A whole number from a Broker `count` or `integer`, or a plain number.
    ///
    /// A Broker `count` is unsigned whatever field it fills: a negative
    /// one is malformed and refused here, naming its field, even where a
    /// Zeek `int` is expected (`cpu_affinity`), instead of passing on as a
    /// number for later checks to fail.
    fn whole(self) -> R<Whole> {
        let json = match self.format {
            Format::Broker => {
                let (tag, data) = self.broker_data(&["count", "integer"])?;
                if let (true, Json::Signed(n)) = (tag == "count", data) {
                    return Err(PathError::new(format!("count {n} is negative")));
                }
                data
            }
            Format::Plain => self.json,
        };
        match json {
            Json::Unsigned(n) => Ok(Whole::Unsigned(*n)),
            Json::Signed(n) => Ok(Whole::Signed(*n)),
            Json::Float(f) => Err(PathError::new(format!(
                "expected a whole number, got {f:?}"
            ))),
            _ => self.at(json).expected("number"),
        }
    }

    /// Zeek `count`: a non-negative whole number.
    pub(crate) fn count(self) -> R<u64> {
        match self.whole()? {
            Whole::Unsigned(n) => Ok(n),
            Whole::Signed(n) => Err(PathError::new(format!("count {n} is negative"))),
        }
    }

    /// Zeek `int`: a signed 64-bit whole number.
    pub(crate) fn integer(self) -> R<i64> {
        match self.whole()? {
            Whole::Signed(n) => Ok(n),
            Whole::Unsigned(n) => {
                i64::try_from(n).map_err(|_| PathError::new(format!("integer {n} out of range")))
            }
        }
    }

    /// Zeek `port`. Broker: `"2151/tcp"`. Plain: `{"port": 2151, "proto":
    /// "tcp"}`, or the string `"2151/tcp"`, or a bare number meaning TCP.
    pub(crate) fn port(self) -> R<Port> {
        match self.format {
            Format::Broker => match self.broker_data(&["port"])?.1 {
                Json::Str(s) => Port::parse(s).map_err(PathError::new),
                other => self.at(other).expected("port string"),
            },
            Format::Plain => match self.json {
                Json::Str(s) => Port::parse(s).map_err(PathError::new),
                Json::Unsigned(n) => Ok(Port::tcp(Port::number_from(*n).map_err(PathError::new)?)),
                Json::Object(_) => {
                    let rec = self.record("port", &[], &["port", "proto"])?;
                    let number = rec.req(0, "port", |v| {
                        Port::number_from(v.count()?).map_err(PathError::new)
                    })?;
                    let proto = rec
                        .opt(1, "proto", |v| {
                            let name = v.string()?;
                            Proto::parse(name).ok_or_else(|| {
                                PathError::new(format!(
                                    "unknown port protocol '{}'",
                                    escape_for_message(name)
                                ))
                            })
                        })?
                        .unwrap_or(Proto::Tcp);
                    Ok(Port { number, proto })
                }
                Json::Signed(n) => Err(PathError::new(format!("port {n} out of range"))),
                _ => self.expected("port"),
            },
        }
    }

    /// Zeek `addr`, an IPv4 or IPv6 address.
    pub(crate) fn addr(self) -> R<IpAddr> {
        let json = match self.format {
            Format::Broker => self.broker_data(&["address"])?.1,
            Format::Plain => self.json,
        };
        match json {
            Json::Str(s) => s.parse().map_err(|_| {
                PathError::new(format!("'{}' is not an IP address", escape_for_message(s)))
            }),
            _ => self.at(json).expected("address string"),
        }
    }

    /// A Zeek enum, scoped (`Supervisor::WORKER`) or bare in any case.
    pub(crate) fn enumeration<E: ZeekEnum>(self) -> R<E> {
        let json = match self.format {
            Format::Broker => self.broker_data(&["enum-value"])?.1,
            Format::Plain => self.json,
        };
        match json {
            Json::Str(s) => E::parse(s).ok_or_else(|| {
                PathError::new(format!(
                    "'{}' is not a {} value",
                    escape_for_message(s),
                    E::TYPE_NAME
                ))
            }),
            _ => self.at(json).expected(&format!("{} name", E::TYPE_NAME)),
        }
    }

    /// The elements of a vector or set.
    pub(crate) fn elements(self, kind: SeqKind) -> R<impl Iterator<Item = In<'j, 'a>> + 'j> {
        let json = match self.format {
            Format::Broker => self.broker_data(&[kind.broker_tag()])?.1,
            Format::Plain => self.json,
        };
        let format = self.format;
        match json {
            Json::Array(items) => Ok(items.iter().map(move |json| In { json, format })),
            _ => self.at(json).expected("array"),
        }
    }

    /// Decodes every element of a vector or set with `decode`.
    pub(crate) fn seq<T>(
        self,
        kind: SeqKind,
        mut decode: impl FnMut(In<'j, 'a>) -> R<T>,
    ) -> R<Vec<T>> {
        self.elements(kind)?
            .enumerate()
            .map(|(i, v)| decode(v).map_err(|e| e.at_index(i)))
            .collect()
    }

    /// A vector of strings.
    pub(crate) fn strings(self, kind: SeqKind) -> R<Vec<String>> {
        self.seq(kind, |v| v.string().map(str::to_owned))
    }

    /// A `table[string] of T`: Broker `[{"key": k, "value": v}, ...]`, plain
    /// an object. A key given twice is refused.
    pub(crate) fn string_table<T>(
        self,
        mut decode: impl FnMut(In<'j, 'a>) -> R<T>,
    ) -> R<BTreeMap<String, T>> {
        let mut table = BTreeMap::new();
        let mut insert = |key: &str, value: In<'j, 'a>| -> R<()> {
            let decoded = decode(value).map_err(|e| e.at_key(key))?;
            if table.insert(key.to_owned(), decoded).is_some() {
                return Err(PathError::new(format!(
                    "duplicate key \"{}\"",
                    escape_for_message(key)
                )));
            }
            Ok(())
        };
        match self.format {
            Format::Broker => {
                let Json::Array(entries) = self.broker_data(&["table"])?.1 else {
                    return self.expected("Broker table data (an array)");
                };
                for (i, entry) in entries.iter().enumerate() {
                    let (Some(key), Some(value)) = (entry.get("key"), entry.get("value")) else {
                        return Err(PathError::new(
                            "expected a {\"key\": ..., \"value\": ...} entry",
                        )
                        .at_index(i));
                    };
                    let key = self.at(key).string().map_err(|e| e.at_index(i))?;
                    insert(key, self.at(value))?;
                }
            }
            Format::Plain => {
                let Json::Object(members) = self.json else {
                    return self.expected("object");
                };
                for (key, value) in members {
                    insert(key, self.at(value))?;
                }
            }
        }
        Ok(table)
    }

    /// Opens a record. Broker: a vector whose length must be one of
    /// `broker_lengths` (any length when empty). Plain: an object whose keys
    /// must all be in `plain_names`.
    pub(crate) fn record(
        self,
        type_name: &str,
        broker_lengths: &[usize],
        plain_names: &[&str],
    ) -> R<Rec<'j, 'a>> {
        match self.format {
            Format::Broker => {
                let Json::Array(fields) = self.broker_data(&["vector"])?.1 else {
                    return self.expected(&format!("{type_name} record (a Broker vector)"));
                };
                if !broker_lengths.is_empty() && !broker_lengths.contains(&fields.len()) {
                    let lengths: Vec<String> =
                        broker_lengths.iter().map(|n| n.to_string()).collect();
                    return Err(PathError::new(format!(
                        "{type_name} record has {} fields, expected {}",
                        fields.len(),
                        lengths.join(" or ")
                    )));
                }
                Ok(Rec {
                    format: self.format,
                    fields: RecFields::Broker(fields),
                })
            }
            Format::Plain => {
                let Json::Object(members) = self.json else {
                    return self.expected(&format!("{type_name} record (an object)"));
                };
                if let Some((unknown, _)) = members
                    .iter()
                    .find(|(k, _)| !plain_names.contains(&k.as_ref()))
                {
                    return Err(PathError::new(format!(
                        "{type_name} has no field '{}'",
                        escape_for_message(unknown)
                    )));
                }
                Ok(Rec {
                    format: self.format,
                    fields: RecFields::Plain(members),
                })
            }
        }
    }
}

enum Whole {
    Unsigned(u64),
    Signed(i64),
}

enum RecFields<'j, 'a> {
    Broker(&'j [Json<'a>]),
    Plain(&'j [(Cow<'a, str>, Json<'a>)]),
}

/// An opened record: fields by position (Broker) or by name (plain).
pub(crate) struct Rec<'j, 'a> {
    format: Format,
    fields: RecFields<'j, 'a>,
}

impl<'j, 'a> Rec<'j, 'a> {
    /// Number of fields (Broker) or members (plain).
    pub(crate) fn len(&self) -> usize {
        match self.fields {
            RecFields::Broker(f) => f.len(),
            RecFields::Plain(m) => m.len(),
        }
    }

    /// Field `index` (Broker) / `name` (plain); `None` when absent or
    /// none/null.
    pub(crate) fn get(&self, index: usize, name: &str) -> Option<In<'j, 'a>> {
        let json = match self.fields {
            RecFields::Broker(fields) => fields.get(index)?,
            RecFields::Plain(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v)?,
        };
        let value = In {
            json,
            format: self.format,
        };
        (!value.is_absent()).then_some(value)
    }

    /// Like [`Rec::get`] but accepting aliases of the plain name (`port` for
    /// `p`). A plain record giving more than one of them is refused: the
    /// others would be dropped unchecked.
    pub(crate) fn get_any(
        &self,
        index: usize,
        names: &[&'static str],
    ) -> R<Option<(In<'j, 'a>, &'static str)>> {
        let mut given = names
            .iter()
            .filter_map(|name| self.get(index, name).map(|v| (v, *name)));
        let first = given.next();
        if let (RecFields::Plain(_), Some((_, a)), Some((_, b))) =
            (&self.fields, first, given.next())
        {
            return Err(PathError::new(format!("both '{a}' and '{b}' given")));
        }
        Ok(first)
    }

    /// A required field, decoded with `decode`.
    pub(crate) fn req<T>(
        &self,
        index: usize,
        name: &'static str,
        decode: impl FnOnce(In<'j, 'a>) -> R<T>,
    ) -> R<T> {
        match self.get(index, name) {
            Some(v) => decode(v).map_err(|e| e.at_field(name)),
            None => Err(PathError::new(format!("missing field '{name}'"))),
        }
    }

    /// An optional field (absent, none and null all mean `None`).
    pub(crate) fn opt<T>(
        &self,
        index: usize,
        name: &'static str,
        decode: impl FnOnce(In<'j, 'a>) -> R<T>,
    ) -> R<Option<T>> {
        self.get(index, name)
            .map(|v| decode(v).map_err(|e| e.at_field(name)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClusterRole;
    use crate::wire::json::parse;

    fn with<T>(text: &str, format: Format, f: impl FnOnce(In<'_, '_>) -> R<T>) -> R<T> {
        let json = parse(text, 64).unwrap();
        f(In::new(&json, format))
    }

    #[test]
    fn plain_ports_in_every_accepted_spelling() {
        let p = |t: &str| with(t, Format::Plain, |v| v.port());
        assert_eq!(p(r#"{"port": 2151, "proto": "tcp"}"#), Ok(Port::tcp(2151)));
        assert_eq!(p(r#"{"port": 0, "proto": "unknown"}"#), Ok(Port::UNUSED));
        assert_eq!(p(r#""2151/tcp""#), Ok(Port::tcp(2151)));
        assert_eq!(p("2151"), Ok(Port::tcp(2151)));
        assert_eq!(p("70000").unwrap_err().message, "port 70000 out of range");
        assert_eq!(p("-1").unwrap_err().message, "port -1 out of range");
        let err = p(r#"{"port": 70000, "proto": "tcp"}"#).unwrap_err();
        assert_eq!(
            (err.path().as_str(), err.message.as_str()),
            ("port", "port 70000 out of range")
        );
    }

    #[test]
    fn broker_type_mismatch_names_both_types() {
        let err = with(
            r#"{"@data-type": "count", "data": 1}"#,
            Format::Broker,
            |v| v.string().map(str::to_owned),
        )
        .unwrap_err();
        assert_eq!(err.message, "expected Broker string, got Broker count");
        let err = with(r#"{"data": 1}"#, Format::Broker, |v| {
            v.string().map(str::to_owned)
        })
        .unwrap_err();
        assert!(
            err.message.starts_with("expected a Broker value"),
            "{}",
            err.message
        );
    }

    #[test]
    fn numbers_are_whole_and_in_range() {
        assert_eq!(with("5", Format::Plain, |v| v.count()), Ok(5));
        assert_eq!(
            with("-5", Format::Plain, |v| v.count())
                .unwrap_err()
                .message,
            "count -5 is negative"
        );
        assert_eq!(
            with("5.5", Format::Plain, |v| v.integer())
                .unwrap_err()
                .message,
            "expected a whole number, got 5.5"
        );
        assert_eq!(
            with("18446744073709551615", Format::Plain, |v| v.integer())
                .unwrap_err()
                .message,
            "integer 18446744073709551615 out of range"
        );
        assert_eq!(
            with(
                r#"{"@data-type": "integer", "data": -3}"#,
                Format::Broker,
                |v| v.integer()
            ),
            Ok(-3)
        );
        // A Broker count is never negative, even where an int is expected.
        for read in [
            |v: In<'_, '_>| v.integer(),
            |v: In<'_, '_>| v.count().map(|n| n as i64),
        ] {
            assert_eq!(
                with(
                    r#"{"@data-type": "count", "data": -1}"#,
                    Format::Broker,
                    read
                )
                .unwrap_err()
                .message,
                "count -1 is negative"
            );
        }
    }

    #[test]
    fn enums_name_their_type_when_wrong() {
        let err = with(r#""Supervisor::BOSS""#, Format::Plain, |v| {
            v.enumeration::<ClusterRole>()
        })
        .unwrap_err();
        assert_eq!(
            err.message,
            "'Supervisor::BOSS' is not a Supervisor::ClusterRole value"
        );
    }

    #[test]
    fn table_errors_carry_the_key_and_refuse_duplicates() {
        let text = r#"{"@data-type": "table", "data": [
            {"key": {"@data-type": "string", "data": "A"}, "value": {"@data-type": "string", "data": "1"}},
            {"key": {"@data-type": "string", "data": "A"}, "value": {"@data-type": "string", "data": "2"}}]}"#;
        let err = with(text, Format::Broker, |v| {
            v.string_table(|v| v.string().map(str::to_owned))
        })
        .unwrap_err();
        assert_eq!(err.message, "duplicate key \"A\"");
        let err = with(r#"{"X\n": 1}"#, Format::Plain, |v| {
            v.string_table(|v| v.string().map(str::to_owned))
        })
        .unwrap_err();
        assert_eq!(err.path(), "[\"X\\n\"]");
    }

    #[test]
    fn paths_read_outside_in() {
        let err = PathError::new("bad")
            .at_field("p")
            .at_index(3)
            .at_field("nodes");
        assert_eq!(err.path(), "nodes[3].p");
    }

    #[test]
    fn plain_records_refuse_unknown_fields() {
        let err = with(r#"{"name": "x", "interfce": "eth0"}"#, Format::Plain, |v| {
            v.record("Management::Node", &[], &["name", "interface"])
                .map(|_| ())
        })
        .unwrap_err();
        assert_eq!(err.message, "Management::Node has no field 'interfce'");
    }
}
