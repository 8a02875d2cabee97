//! Serde-derived types as the one description of a file format: the field
//! names a derive declares, and errors that name the field at fault.

use std::fmt::Display;

use serde::de::Visitor;
use serde::{Deserialize, Deserializer};

/// The field names of a serde-derived struct, in declaration order: the
/// list its derived `Deserialize` passes to `deserialize_struct`, caught by
/// a deserializer that reads nothing.
pub fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct FieldNames<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for FieldNames<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            self.deserialize_any(visitor)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    debug_assert!(!fields.is_empty(), "{} is not a plain struct (flatten? try_from?)", std::any::type_name::<T>());
    fields
}

/// Deserializes a `T`; an error starts with the path of the field at fault
/// (`objective.beta: ...`), when it is not the whole value, and is one line.
pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(deserializer: D) -> anyhow::Result<T>
where
    D::Error: Display,
{
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        // TOML's errors add the path again on lines of their own.
        let inner = err.inner().to_string();
        let message = inner.lines().next().unwrap_or_default();
        let mut path = err.path().to_string();
        // An unknown key's path ends with the key, which the message names.
        if let Some(key) = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next()) {
            path = path.strip_suffix(key).map_or(path.clone(), |parent| parent.trim_end_matches('.').to_owned());
        }
        match path.as_str() {
            "" | "." => anyhow::anyhow!("{message}"),
            path => anyhow::anyhow!("{path}: {message}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Pair {
        first: u8,
        second: Vec<f64>,
    }

    #[test]
    fn field_names_are_the_declared_ones_in_order() {
        assert_eq!(field_names::<Pair>(), ["first", "second"]);
    }

    #[test]
    fn errors_name_the_field() {
        let value = serde_json::json!({"first": 1, "second": [0.5, "x"]});
        let err = deserialize::<Pair, _>(value).unwrap_err().to_string();
        assert_eq!(err, "second[1]: invalid type: string \"x\", expected f64");
    }
}
