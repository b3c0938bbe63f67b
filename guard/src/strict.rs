//! JSON read strictly: an object with a key twice is refused. The Docker
//! engine's decoder keeps the last of duplicate keys (and merges them into
//! the same struct), so a reader that kept the first, or any one, could be
//! shown one body while the engine reads another.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON value in which no object has a key twice.
pub fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0)
}

/// A JSON value whose objects had each key once.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("key {key:?} appears twice")));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_without_duplicates_reads_as_serde_json_reads_it() {
        let text =
            br#"{"a": [1, -2, 3.5, "x", null, true], "b": {"c": {}}, "d": 18446744073709551615}"#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_slice::<Value>(text).unwrap()
        );
    }

    #[test]
    fn a_duplicate_key_is_refused_at_any_depth() {
        for text in [
            r#"{"Image": "a", "Image": "b"}"#,
            r#"{"HostConfig": {"Privileged": false, "Privileged": true}}"#,
            r#"[{"x": {"y": 1, "y": 1}}]"#,
            r#"{"Labels": {"snipbox": "1", "snip\u0062ox": "1"}}"#,
        ] {
            let err = parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("appears twice"), "{text}: {err}");
        }
    }

    #[test]
    fn what_is_not_one_json_value_is_refused() {
        let texts: [&[u8]; 4] = [
            br#"{"a": 1} {"a": 2}"#,
            br#"{"a": "\ud800"}"#,
            b"{\"a\": \"\xff\"}",
            b"",
        ];
        for text in texts {
            assert!(parse(text).is_err(), "{}", String::from_utf8_lossy(text));
        }
    }
}
