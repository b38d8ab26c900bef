//! A JSON document tree for decoding, and the JSON writers for encoding.
//!
//! Parsing goes through `serde_json` (robust, fast) into [`Json`], a tree
//! that borrows strings from the input where it can. It refuses what
//! `serde_json::Value` would silently accept: duplicate object keys (the last
//! one would win) and nesting deeper than the configured limit.
//!
//! Writing is done by hand into a `String` because the Broker encoding must
//! match Python's `json.dumps(..., sort_keys=True)` byte for byte (zeek-client
//! writes it that way): `", "` and `": "` separators and ASCII-only strings
//! with lowercase `\u00e9` escapes.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// A parsed JSON value. Objects keep their members in input order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    /// A non-negative integer.
    Unsigned(u64),
    /// A negative integer.
    Signed(i64),
    /// A number with a fraction or exponent, or too large for 64 bits.
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// The member `key` of an object, if this is one and has it.
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short description of the JSON kind, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Unsigned(_) | Json::Signed(_) | Json::Float(_) => "number",
            Json::Str(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }
}

/// Why a text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Nested deeper than the limit.
    TooDeep { limit: usize },
    /// Not JSON, or JSON with duplicate keys.
    Syntax(String),
}

/// Parses `text`, refusing duplicate keys and nesting deeper than `max_depth`
/// (a top-level array or object is depth 1).
pub(crate) fn parse(text: &str, max_depth: usize) -> Result<Json<'_>, ParseError> {
    let too_deep = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = ValueSeed {
        depth: 0,
        max_depth,
        too_deep: &too_deep,
    };
    let result = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match result {
        Ok(json) => Ok(json),
        Err(_) if too_deep.get() => Err(ParseError::TooDeep { limit: max_depth }),
        // serde_json's own stack guard (128 levels) is a depth limit too.
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
            Err(ParseError::TooDeep { limit: max_depth })
        }
        Err(e) => Err(ParseError::Syntax(e.to_string())),
    }
}

struct ValueSeed<'s> {
    depth: usize,
    max_depth: usize,
    too_deep: &'s Cell<bool>,
}

impl<'s> ValueSeed<'s> {
    fn nested<E: de::Error>(&self) -> Result<ValueSeed<'s>, E> {
        if self.depth >= self.max_depth {
            self.too_deep.set(true);
            return Err(E::custom(format_args!(
                "nested deeper than {} levels",
                self.max_depth
            )));
        }
        Ok(ValueSeed {
            depth: self.depth + 1,
            max_depth: self.max_depth,
            too_deep: self.too_deep,
        })
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Json<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Unsigned(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(if v >= 0 {
            Json::Unsigned(v as u64)
        } else {
            Json::Signed(v)
        })
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Json::Float(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(inner.reborrow())? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let inner = self.nested()?;
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        // Small objects (every Broker value) are checked by scanning; large
        // ones (hostile tables) by hashing, so the check stays linear.
        let mut seen: Option<HashSet<String>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let duplicate = match &mut seen {
                Some(set) => !set.insert(key.to_string()),
                None if members.len() < 16 => members.iter().any(|(k, _)| *k == key),
                None => {
                    let mut set: HashSet<String> =
                        members.iter().map(|(k, _)| k.to_string()).collect();
                    let dup = !set.insert(key.to_string());
                    seen = Some(set);
                    dup
                }
            };
            if duplicate {
                return Err(de::Error::custom(format_args!(
                    "duplicate key \"{}\"",
                    escape_for_message(&key)
                )));
            }
            let value = map.next_value_seed(inner.reborrow())?;
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

impl ValueSeed<'_> {
    fn reborrow(&self) -> ValueSeed<'_> {
        ValueSeed {
            depth: self.depth,
            max_depth: self.max_depth,
            too_deep: self.too_deep,
        }
    }
}

/// Object keys, borrowed from the input when they contain no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// Writes `s` as a JSON string the way Python's `json.dumps` does with its
/// default `ensure_ascii=True`: everything outside printable ASCII is escaped,
/// astral characters as surrogate pairs, hex digits in lowercase.
pub(crate) fn write_str_ascii(buf: &mut String, s: &str) {
    buf.push('"');
    let mut clean_from = 0;
    for (i, c) in s.char_indices() {
        if (' '..='~').contains(&c) && c != '"' && c != '\\' {
            continue;
        }
        buf.push_str(&s[clean_from..i]);
        clean_from = i + c.len_utf8();
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            '\u{8}' => buf.push_str("\\b"),
            '\u{c}' => buf.push_str("\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u_escape(buf, *unit);
                }
            }
        }
    }
    buf.push_str(&s[clean_from..]);
    buf.push('"');
}

/// Writes `s` as a JSON string in UTF-8, escaping only what JSON requires
/// (quote, backslash, control characters below U+0020), as `serde_json` does.
pub(crate) fn write_str_utf8(buf: &mut String, s: &str) {
    buf.push('"');
    let mut clean_from = 0;
    for (i, b) in s.bytes().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        buf.push_str(&s[clean_from..i]);
        clean_from = i + 1;
        match b {
            b'"' => buf.push_str("\\\""),
            b'\\' => buf.push_str("\\\\"),
            b'\n' => buf.push_str("\\n"),
            b'\r' => buf.push_str("\\r"),
            b'\t' => buf.push_str("\\t"),
            0x08 => buf.push_str("\\b"),
            0x0c => buf.push_str("\\f"),
            _ => push_u_escape(buf, u16::from(b)),
        }
    }
    buf.push_str(&s[clean_from..]);
    buf.push('"');
}

fn push_u_escape(buf: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        buf.push(char::from(HEX[usize::from((unit >> shift) & 0xf)]));
    }
}

/// `s` with JSON string escapes and no quotes, ASCII only: how names appear
/// inside error messages, so that invisible characters become visible.
pub fn escape_for_message(s: &str) -> String {
    let mut quoted = String::with_capacity(s.len() + 2);
    write_str_ascii(&mut quoted, s);
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ascii(s: &str) -> String {
        let mut b = String::new();
        write_str_ascii(&mut b, s);
        b
    }

    fn utf8(s: &str) -> String {
        let mut b = String::new();
        write_str_utf8(&mut b, s);
        b
    }

    #[test]
    fn ascii_writer_matches_python_json_dumps() {
        // Expected values are Python 3.11's json.dumps output.
        assert_eq!(ascii("plain"), r#""plain""#);
        assert_eq!(ascii("é\u{2003}\0\n"), r#""\u00e9\u2003\u0000\n""#);
        assert_eq!(ascii("q\"b\\s/"), r#""q\"b\\s/""#);
        assert_eq!(
            ascii("\u{7f}\u{1f}\t\r\u{8}\u{c}"),
            r#""\u007f\u001f\t\r\b\f""#
        );
        assert_eq!(ascii("😀"), r#""\ud83d\ude00""#);
    }

    #[test]
    fn utf8_writer_matches_serde_json() {
        for s in [
            "plain",
            "é\u{2003}\0\n",
            "q\"b\\s/",
            "\u{7f}\u{1f}\t\r\u{8}\u{c}",
            "😀",
        ] {
            assert_eq!(utf8(s), serde_json::to_string(s).unwrap(), "for {s:?}");
        }
    }

    #[test]
    fn parse_borrows_and_keeps_order() {
        let json = parse(r#"{"b": [1, -2, 1.5, "x"], "a": null}"#, 8).unwrap();
        let Json::Object(members) = &json else {
            panic!("not an object")
        };
        assert_eq!(members[0].0, "b");
        assert!(matches!(members[0].0, Cow::Borrowed(_)));
        assert_eq!(
            members[0].1,
            Json::Array(vec![
                Json::Unsigned(1),
                Json::Signed(-2),
                Json::Float(1.5),
                Json::Str("x".into())
            ])
        );
        assert_eq!(json.get("a"), Some(&Json::Null));
    }

    #[test]
    fn duplicate_keys_are_refused_small_and_large() {
        let err = parse(r#"{"a": 1, "a": 2}"#, 8).unwrap_err();
        assert!(
            matches!(&err, ParseError::Syntax(m) if m.contains("duplicate key \"a\"")),
            "{err:?}"
        );
        let mut big: String = (0..100).map(|i| format!("\"k{i}\": {i},")).collect();
        big.push_str("\"k42\": 0");
        let err = parse(&format!("{{{big}}}"), 8).unwrap_err();
        assert!(
            matches!(&err, ParseError::Syntax(m) if m.contains("duplicate key \"k42\"")),
            "{err:?}"
        );
    }

    #[test]
    fn depth_limit_is_exact() {
        let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&nest(64), 64).is_ok());
        assert_eq!(parse(&nest(65), 64), Err(ParseError::TooDeep { limit: 64 }));
        assert_eq!(
            parse(&nest(10_000), 64),
            Err(ParseError::TooDeep { limit: 64 })
        );
        // Beyond serde_json's own guard, still reported as a depth problem.
        assert_eq!(
            parse(&nest(500), 1000),
            Err(ParseError::TooDeep { limit: 1000 })
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        let ParseError::Syntax(msg) = parse("{\"a\": ", 8).unwrap_err() else {
            panic!()
        };
        assert!(msg.contains("line 1"), "{msg}");
        assert!(matches!(parse("[1] x", 8), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("", 8), Err(ParseError::Syntax(_))));
    }
}
