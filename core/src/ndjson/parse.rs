//! One resource's JSON text to a `serde_json::Value`, within limits.
//!
//! A parsed tree costs far more than its text: about 80 bytes per value and 120 per object
//! member, so `[0,0,0,…]` grows forty-fold. [`parse`] counts values as it builds the tree and
//! stops at [`MAX_VALUES`] (≈12 MB of tree), so no line of any size can take the memory a
//! phone gives an import. It also refuses what `serde_json` would accept silently: an object
//! with the same member twice (which one is the patient's data?) and data after the value.

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Most JSON values (objects, arrays, strings, numbers…) one resource may hold. Real
/// resources hold hundreds to a few thousand (a Synthea ExplanationOfBenefit ~600, a large
/// Questionnaire ~10,000).
pub const MAX_VALUES: usize = 100_000;

/// Why a resource's text did not become a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON; the message says what and where, never quoting the text.
    #[error("not valid JSON ({0})")]
    Syntax(String),
    /// More values than [`MAX_VALUES`].
    #[error("holds more than {0} JSON values; a resource this large is not supported")]
    TooManyValues(usize),
    /// An object repeats a member name (named when it looks like an element name).
    #[error("the same JSON member{0} appears twice in one object, so its value is ambiguous")]
    DuplicateKey(String),
}

/// Parses `bytes` (one JSON value, surrounding whitespace allowed) within `max_values`.
pub fn parse(bytes: &[u8], max_values: usize) -> Result<Value, ParseError> {
    let mut state = State {
        left: max_values,
        max: max_values,
        error: None,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = Build(&mut state)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match result {
        Ok(v) => Ok(v),
        Err(e) => Err(state.error.take().unwrap_or_else(|| syntax(&e))),
    }
}

/// serde_json's message without its "at line 1 column 5" tail, with the column kept.
fn syntax(e: &serde_json::Error) -> ParseError {
    let msg = e.to_string();
    ParseError::Syntax(match msg.find(" at line ") {
        Some(i) => format!("{} at column {}", &msg[..i], e.column()),
        None => msg,
    })
}

struct State {
    left: usize,
    max: usize,
    error: Option<ParseError>,
}

impl State {
    fn count<E: serde::de::Error>(&mut self) -> Result<(), E> {
        if self.left == 0 {
            self.error = Some(ParseError::TooManyValues(self.max));
            return Err(E::custom("too many values"));
        }
        self.left -= 1;
        Ok(())
    }
}

/// Builds one value, counting it and everything inside it.
struct Build<'s>(&'s mut State);

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.0.count()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.0.count()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.0.count()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.0.count()?;
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.0.count()?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        self.0.count()?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.0.count()?;
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.0.count()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(Build(&mut *self.0))? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.0.count()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Build(&mut *self.0))?;
            match out.entry(key) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(value);
                }
                serde_json::map::Entry::Occupied(e) => {
                    let name = e.key();
                    let named = name.len() <= 64
                        && !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    let shown = if named {
                        format!(" `{name}`")
                    } else {
                        String::new()
                    };
                    self.0.error = Some(ParseError::DuplicateKey(shown));
                    return Err(A::Error::custom("duplicate key"));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json() {
        let text = br#" {"resourceType":"Patient","a":[1,-2,3.5,true,null,"x\u00e9"],"b":{}} "#;
        let expected: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(parse(text, MAX_VALUES).unwrap(), expected);
    }

    #[test]
    fn a_huge_array_stops_at_the_value_limit() {
        let mut text = b"{\"extension\":[".to_vec();
        for _ in 0..1000 {
            text.extend_from_slice(b"{},");
        }
        text.extend_from_slice(b"{}]}");
        assert_eq!(parse(&text, 500), Err(ParseError::TooManyValues(500)));
        assert!(parse(&text, 2000).is_ok());
    }

    #[test]
    fn duplicate_members_are_refused_and_named_only_when_they_look_like_elements() {
        let e = parse(br#"{"gender":"male","gender":"female"}"#, 100).unwrap_err();
        assert_eq!(e, ParseError::DuplicateKey(" `gender`".into()));
        let e = parse(br#"{"a":{"my secret":1,"my secret":2}}"#, 100).unwrap_err();
        assert_eq!(e, ParseError::DuplicateKey(String::new()));
    }

    #[test]
    fn syntax_errors_give_the_column_not_the_text() {
        let e = parse(br#"{"name": "Jane Doe",}"#, 100).unwrap_err();
        let ParseError::Syntax(msg) = &e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("column"), "{msg}");
        assert!(!msg.contains("Jane"), "{msg}");
        assert!(matches!(
            parse(br#"{"a":1} {"b":2}"#, 100),
            Err(ParseError::Syntax(_))
        ));
    }
}
