//! A JSON document tree for decoding, and the JSON writers for encoding.
//!
//! Parsing goes through `serde_json` (robust, fast) into [`Json`], a tree
//! that borrows strings from the input where it can. It refuses what
//! `serde_json::Value` would silently accept: duplicate object keys (the last
//! one would win) and nesting deeper than the configured limit.
//!
//! Writing strings is in [`crate::text`].

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
                    crate::text::escape_for_message(&key)
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

#[cfg(test)]
mod tests {
    use super::*;

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
