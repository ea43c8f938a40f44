//! Reading a table whose tag decides its keys (`kind = "uniform"` takes `min` and `max`) into a
//! serde internally tagged enum, with what went wrong as data instead of serde's sentence, so
//! that each caller can word the error in its own terms and place it at the key.
//!
//! The enum is the only description of the tables: its variants are the tags, each variant's
//! fields the keys it takes (every variant denies unknown fields), so nothing keeps a list of
//! kinds or keys by hand. [`variants`] and [`keys`] read those lists back from the enum's
//! derived `Deserialize`, for hints and for messages that name the other kinds.
//!
//! A leaf: it knows serde and TOML values only.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

/// Why a tagged table could not be read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Problem {
    /// The table has no tag.
    MissingTag,
    /// The tag names no variant; `expected`: the variants, in their declared order.
    UnknownTag {
        /// The tag as written.
        found: String,
        /// The variants.
        expected: &'static [&'static str],
    },
    /// A key that does not fit the tag's variant.
    Key(KeyProblem),
    /// A value of the wrong type: `message` says which and what was expected; `key` is where it
    /// is written (`values[2]` inside an array), when it could be found.
    Invalid {
        /// The key path below the table, when found.
        key: Option<String>,
        /// serde's description.
        message: String,
    },
}

/// A key that does not fit the variant: the part of a [`Problem`] worded by the table's reader.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KeyProblem {
    /// A key the variant does not take.
    Unknown {
        /// The key as written.
        key: String,
        /// The keys the variant takes, in their declared order.
        expected: &'static [&'static str],
    },
    /// A key the variant needs.
    Missing(&'static str),
}

/// serde's errors while reading, kept apart by what they mean.
#[derive(Debug)]
enum Error {
    UnknownVariant(String, &'static [&'static str]),
    UnknownField(String, &'static [&'static str]),
    MissingField(&'static str),
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownVariant(v, _) => write!(f, "unknown variant `{v}`"),
            Error::UnknownField(k, _) => write!(f, "unknown field `{k}`"),
            Error::MissingField(k) => write!(f, "missing field `{k}`"),
            Error::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Other(msg.to_string())
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::UnknownVariant(variant.to_string(), expected)
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error::UnknownField(field.to_string(), expected)
    }

    fn missing_field(field: &'static str) -> Self {
        Error::MissingField(field)
    }
}

/// A TOML value read with [`Error`] as the error type (toml's own deserializer would turn every
/// error into a sentence).
#[derive(Clone, Copy)]
enum Node<'a> {
    Value(&'a toml::Value),
    Table(&'a toml::Table),
}

impl<'de> Deserializer<'de> for Node<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        use toml::Value;
        let table = match self {
            Node::Table(t) => t,
            Node::Value(Value::Table(t)) => t,
            Node::Value(Value::String(s)) => return visitor.visit_str(s),
            Node::Value(Value::Integer(i)) => return visitor.visit_i64(*i),
            Node::Value(Value::Float(x)) => return visitor.visit_f64(*x),
            Node::Value(Value::Boolean(b)) => return visitor.visit_bool(*b),
            Node::Value(Value::Datetime(d)) => return visitor.visit_string(d.to_string()),
            Node::Value(Value::Array(items)) => {
                return visitor.visit_seq(de::value::SeqDeserializer::new(
                    items.iter().map(Node::Value),
                ));
            }
        };
        visitor.visit_map(de::value::MapDeserializer::new(
            table.iter().map(|(k, v)| (k.as_str(), Node::Value(v))),
        ))
    }

    /// A value that is written is `Some`: TOML has no null.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

impl<'de, 'a> IntoDeserializer<'de, Error> for Node<'a> {
    type Deserializer = Node<'a>;

    fn into_deserializer(self) -> Node<'a> {
        self
    }
}

fn deserialize<T: DeserializeOwned>(table: &toml::Table) -> Result<T, Error> {
    T::deserialize(Node::Table(table))
}

/// Where in `table` the wrong value is: serde reads an internally tagged enum from a buffered
/// copy of the table, which forgets the key, so each key is tried alone (a key that is merely
/// missing is not a wrong type, and serde reports wrong values before missing keys).
fn find_invalid<T: DeserializeOwned>(tag: &str, table: &toml::Table) -> Option<String> {
    let tag_value = table.get(tag)?;
    for (k, v) in table.iter().filter(|(k, _)| *k != tag) {
        let wrong = |value: toml::Value| {
            let mut t = toml::Table::new();
            t.insert(tag.to_string(), tag_value.clone());
            t.insert(k.clone(), value);
            matches!(deserialize::<T>(&t), Err(Error::Other(_)))
        };
        if wrong(v.clone()) {
            return Some(narrow(&wrong, k.clone(), v, &|x| x));
        }
    }
    None
}

/// The path of the wrong part of `v`, which is wrong at `at`: inside an array that is one where
/// one is expected, the first wrong item, and so on down. `place` puts a value where `v` is
/// (inside arrays of one item), for `wrong` to try.
fn narrow(
    wrong: &dyn Fn(toml::Value) -> bool,
    at: String,
    v: &toml::Value,
    place: &dyn Fn(toml::Value) -> toml::Value,
) -> String {
    let toml::Value::Array(items) = v else {
        return at;
    };
    if wrong(place(toml::Value::Array(Vec::new()))) {
        return at;
    }
    for (i, item) in items.iter().enumerate() {
        let inner = |x: toml::Value| place(toml::Value::Array(vec![x]));
        if wrong(inner(item.clone())) {
            return narrow(wrong, format!("{at}[{i}]"), item, &inner);
        }
    }
    at
}

/// Reads `table`, tagged by its key `tag`, as the internally tagged enum `T`.
pub(crate) fn read<T: DeserializeOwned>(tag: &str, table: &toml::Table) -> Result<T, Problem> {
    match table.get(tag) {
        None => return Err(Problem::MissingTag),
        Some(toml::Value::String(_)) => {}
        Some(other) => {
            return Err(Problem::Invalid {
                key: Some(tag.to_string()),
                message: format!("invalid type: {}, expected a string", describe(other)),
            });
        }
    }
    deserialize(table).map_err(|e| match e {
        Error::MissingField(f) if f == tag => Problem::MissingTag,
        Error::MissingField(f) => Problem::Key(KeyProblem::Missing(f)),
        Error::UnknownVariant(found, expected) => Problem::UnknownTag { found, expected },
        Error::UnknownField(key, expected) => Problem::Key(KeyProblem::Unknown { key, expected }),
        Error::Other(message) => Problem::Invalid {
            key: find_invalid::<T>(tag, table),
            message,
        },
    })
}

/// Reads `table`, which has no tag of its own, as the variant `variant` of `T` (tagged by
/// `tag`): for tables whose variant is decided elsewhere.
pub(crate) fn read_as<T: DeserializeOwned>(
    tag: &str,
    variant: &str,
    table: &toml::Table,
) -> Result<T, Problem> {
    if table.contains_key(tag) {
        // Not a key of the table: the variant is decided elsewhere.
        return Err(Problem::Key(KeyProblem::Unknown {
            key: tag.to_string(),
            expected: keys::<T>(tag, variant),
        }));
    }
    let mut t = table.clone();
    t.insert(tag.to_string(), toml::Value::String(variant.to_string()));
    read(tag, &t)
}

/// The variants of `T`, an enum tagged by `tag`, in their declared order.
pub(crate) fn variants<T: DeserializeOwned>(tag: &str) -> &'static [&'static str] {
    let mut t = toml::Table::new();
    t.insert(tag.to_string(), toml::Value::String("\u{0}".into()));
    match deserialize::<T>(&t) {
        Err(Error::UnknownVariant(_, expected)) => expected,
        _ => &[],
    }
}

/// The keys variant `variant` of `T` (tagged by `tag`) takes besides the tag, in their declared
/// order.
pub(crate) fn keys<T: DeserializeOwned>(tag: &str, variant: &str) -> &'static [&'static str] {
    let mut t = toml::Table::new();
    t.insert(tag.to_string(), toml::Value::String(variant.into()));
    t.insert("\u{0}".into(), toml::Value::Boolean(true));
    match deserialize::<T>(&t) {
        Err(Error::UnknownField(_, expected)) => expected,
        _ => &[],
    }
}

/// A value as serde names it in "invalid type" messages.
fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(i) => format!("integer `{i}`"),
        toml::Value::Float(x) => format!("floating point `{x}`"),
        toml::Value::Boolean(b) => format!("boolean `{b}`"),
        toml::Value::Datetime(d) => format!("datetime `{d}`"),
        toml::Value::Array(_) => "sequence".into(),
        toml::Value::Table(_) => "map".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(
        tag = "kind",
        rename_all = "kebab-case",
        rename_all_fields = "kebab-case",
        deny_unknown_fields
    )]
    enum Shape {
        Circle {
            radius: f64,
        },
        Polygon {
            sides: Vec<i64>,
            label: Option<String>,
        },
        Dot {},
        Grid {
            rows: Vec<Vec<i64>>,
        },
    }

    fn table(src: &str) -> toml::Table {
        toml::from_str(src).unwrap()
    }

    #[test]
    fn a_well_formed_table_reads_as_its_variant() {
        assert_eq!(
            read::<Shape>("kind", &table("kind = \"circle\"\nradius = 2")),
            Ok(Shape::Circle { radius: 2.0 })
        );
        assert_eq!(
            read::<Shape>("kind", &table("kind = \"polygon\"\nsides = [1, 2]")),
            Ok(Shape::Polygon {
                sides: vec![1, 2],
                label: None
            })
        );
    }

    #[test]
    fn the_variants_and_their_keys_are_read_back_from_the_enum() {
        assert_eq!(
            variants::<Shape>("kind"),
            ["circle", "polygon", "dot", "grid"]
        );
        assert_eq!(keys::<Shape>("kind", "polygon"), ["sides", "label"]);
        assert!(keys::<Shape>("kind", "dot").is_empty());
    }

    #[test]
    fn each_problem_says_what_and_where() {
        let read = |src: &str| read::<Shape>("kind", &table(src)).unwrap_err();
        assert_eq!(read("radius = 1"), Problem::MissingTag);
        assert_eq!(
            read("kind = \"circel\""),
            Problem::UnknownTag {
                found: "circel".into(),
                expected: &["circle", "polygon", "dot", "grid"]
            }
        );
        assert_eq!(
            read("kind = \"circle\"\nradius = 1\nsides = [3]"),
            Problem::Key(KeyProblem::Unknown {
                key: "sides".into(),
                expected: &["radius"]
            })
        );
        assert_eq!(
            read("kind = \"circle\""),
            Problem::Key(KeyProblem::Missing("radius"))
        );
        assert_eq!(
            read("kind = 3"),
            Problem::Invalid {
                key: Some("kind".into()),
                message: "invalid type: integer `3`, expected a string".into()
            }
        );
        let Problem::Invalid { key, message } = read("kind = \"polygon\"\nsides = [1, \"x\"]")
        else {
            panic!("a string among integers is a wrong type");
        };
        assert_eq!(key.as_deref(), Some("sides[1]"));
        assert!(
            message.starts_with("invalid type: string \"x\""),
            "{message}"
        );
        let Problem::Invalid { key, .. } = read("kind = \"circle\"\nradius = true") else {
            panic!("a boolean radius is a wrong type");
        };
        assert_eq!(key.as_deref(), Some("radius"));
        let Problem::Invalid { key, .. } = read("kind = \"grid\"\nrows = [[1], [2, true]]") else {
            panic!("a boolean among integers is a wrong type");
        };
        assert_eq!(key.as_deref(), Some("rows[1][1]"));
        let Problem::Invalid { key, .. } = read("kind = \"circle\"\nradius = [1]") else {
            panic!("an array radius is a wrong type");
        };
        assert_eq!(key.as_deref(), Some("radius"));
    }

    #[test]
    fn a_table_without_its_tag_reads_as_the_variant_named_elsewhere() {
        assert_eq!(
            read_as::<Shape>("kind", "circle", &table("radius = 1")),
            Ok(Shape::Circle { radius: 1.0 })
        );
        assert_eq!(
            read_as::<Shape>("kind", "dot", &table("radius = 1")),
            Err(Problem::Key(KeyProblem::Unknown {
                key: "radius".into(),
                expected: &[]
            }))
        );
        assert_eq!(
            read_as::<Shape>("kind", "circle", &table("kind = \"dot\"\nradius = 1")),
            Err(Problem::Key(KeyProblem::Unknown {
                key: "kind".into(),
                expected: &["radius"]
            }))
        );
    }
}
