//! JSON Schemas (draft 2020-12) for a command's arguments.

use serde_json::{Value, json};
use wasmtime::component::types::Type;

use crate::text::wit_type;
use crate::{Command, CommandKind, MAX_DEPTH, MAX_LIST_LEN, MAX_TYPE_NODES};

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// A JSON Schema (draft 2020-12) for the arguments object of `cmd`, as [`crate::args_from_json`]
/// accepts it: an object with one property per parameter (its `description` is the WIT type),
/// every parameter not of type `option<T>` required, no other properties.
///
/// For a `wasi:cli/run` program the schema describes its command line: an array of strings.
/// For a command that cannot be called with JSON ([`Command::unsupported`]) the schema is `false`
/// (nothing is valid). Parts of a type nested deeper than [`MAX_DEPTH`], or beyond
/// [`MAX_TYPE_NODES`] in total, are described as `true` (anything); [`crate::args_from_json`] still
/// checks them.
pub fn json_schema(cmd: &Command) -> Value {
    if cmd.unsupported.is_some() {
        return Value::Bool(false);
    }
    if let CommandKind::CliRun { .. } = cmd.kind {
        return json!({
            "$schema": DRAFT,
            "description": "command-line arguments (after the program name)",
            "type": "array",
            "items": {"type": "string"},
        });
    }
    let mut g = Gen {
        budget: MAX_TYPE_NODES,
    };
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for (name, ty) in &cmd.params {
        let mut s = g.schema(ty, 0);
        if let Value::Object(obj) = &mut s {
            obj.insert("description".into(), Value::String(wit_type(ty)));
        }
        props.insert(name.clone(), s);
        if !matches!(ty, Type::Option(_)) {
            required.push(Value::String(name.clone()));
        }
    }
    json!({
        "$schema": DRAFT,
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

struct Gen {
    budget: usize,
}

fn int_schema(min: i64, max: u64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

fn wide_int_schema(min: i128, max: u64, pattern: &str) -> Value {
    // Integers beyond ±2^53 are also accepted as decimal strings.
    let min = i64::try_from(min).unwrap_or(i64::MIN);
    json!({"anyOf": [
        {"type": "integer", "minimum": min, "maximum": max},
        {"type": "string", "pattern": pattern},
    ]})
}

fn case_object(case: &str, payload: Value) -> Value {
    json!({
        "type": "object",
        "properties": {case: payload},
        "required": [case],
        "additionalProperties": false,
    })
}

impl Gen {
    fn schema(&mut self, ty: &Type, depth: usize) -> Value {
        if depth > MAX_DEPTH || self.budget == 0 {
            return Value::Bool(true);
        }
        self.budget -= 1;
        let d = depth + 1;
        match ty {
            Type::Bool => json!({"type": "boolean"}),
            Type::S8 => int_schema(i8::MIN.into(), i8::MAX as u64),
            Type::U8 => int_schema(0, u8::MAX.into()),
            Type::S16 => int_schema(i16::MIN.into(), i16::MAX as u64),
            Type::U16 => int_schema(0, u16::MAX.into()),
            Type::S32 => int_schema(i32::MIN.into(), i32::MAX as u64),
            Type::U32 => int_schema(0, u32::MAX.into()),
            Type::S64 => wide_int_schema(i64::MIN.into(), i64::MAX as u64, "^-?(0|[1-9][0-9]*)$"),
            Type::U64 => wide_int_schema(0, u64::MAX, "^(0|[1-9][0-9]*)$"),
            Type::Float32 | Type::Float64 => json!({"anyOf": [
                {"type": "number"},
                {"enum": ["NaN", "Infinity", "-Infinity"]},
            ]}),
            // JSON Schema counts string length in code points, which is what a char is.
            Type::Char => json!({"type": "string", "minLength": 1, "maxLength": 1}),
            Type::String => json!({"type": "string"}),
            Type::List(l) => json!({
                "type": "array",
                "items": self.schema(&l.ty(), d),
                "maxItems": MAX_LIST_LEN,
            }),
            Type::FixedLengthList(l) => json!({
                "type": "array",
                "items": self.schema(&l.ty(), d),
                "minItems": l.len(),
                "maxItems": l.len(),
            }),
            Type::Map(m) => json!({
                "type": "array",
                "maxItems": MAX_LIST_LEN,
                "items": {
                    "type": "array",
                    "prefixItems": [self.schema(&m.key(), d + 1), self.schema(&m.value(), d + 1)],
                    "items": false,
                    "minItems": 2,
                    "maxItems": 2,
                },
            }),
            Type::Tuple(t) => {
                let items: Vec<Value> = t.types().map(|ty| self.schema(&ty, d)).collect();
                let n = items.len();
                json!({
                    "type": "array",
                    "prefixItems": items,
                    "items": false,
                    "minItems": n,
                    "maxItems": n,
                })
            }
            Type::Record(r) => {
                let mut props = serde_json::Map::new();
                let mut required = Vec::new();
                for f in r.fields() {
                    props.insert(f.name.to_string(), self.schema(&f.ty, d));
                    if !matches!(f.ty, Type::Option(_)) {
                        required.push(Value::String(f.name.to_string()));
                    }
                }
                json!({
                    "type": "object",
                    "properties": props,
                    "required": required,
                    "additionalProperties": false,
                })
            }
            Type::Variant(v) => {
                let mut one_of = Vec::new();
                for c in v.cases() {
                    match &c.ty {
                        None => {
                            one_of.push(json!({"const": c.name}));
                            one_of.push(case_object(c.name, json!({"type": "null"})));
                        }
                        Some(ty) => one_of.push(case_object(c.name, self.schema(ty, d))),
                    }
                }
                json!({"oneOf": one_of})
            }
            Type::Enum(e) => json!({"type": "string", "enum": e.names().collect::<Vec<_>>()}),
            Type::Flags(f) => json!({
                "type": "array",
                "items": {"enum": f.names().collect::<Vec<_>>()},
                "uniqueItems": true,
            }),
            Type::Option(o) => {
                let inner = o.ty();
                let some = if matches!(inner, Type::Option(_)) {
                    case_object("some", self.schema(&inner, d))
                } else {
                    self.schema(&inner, d)
                };
                json!({"anyOf": [{"type": "null"}, some]})
            }
            Type::Result(r) => {
                let null = json!({"type": "null"});
                let ok = match r.ok() {
                    Some(ty) => self.schema(&ty, d),
                    None => null.clone(),
                };
                let err = match r.err() {
                    Some(ty) => self.schema(&ty, d),
                    None => null,
                };
                let mut one_of = vec![case_object("ok", ok), case_object("err", err)];
                if r.ok().is_none() {
                    one_of.push(json!({"const": "ok"}));
                }
                if r.err().is_none() {
                    one_of.push(json!({"const": "err"}));
                }
                json!({"oneOf": one_of})
            }
            Type::Own(_)
            | Type::Borrow(_)
            | Type::Future(_)
            | Type::Stream(_)
            | Type::ErrorContext => Value::Bool(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testutil::sink;

    #[test]
    fn greet_schema() {
        assert_eq!(
            json_schema(&sink("greet")),
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"name": {"type": "string", "description": "string"}},
                "required": ["name"],
                "additionalProperties": false,
            })
        );
    }

    #[test]
    fn schemas_per_kind() {
        let schema = json_schema(&sink("all"));
        let prop = |name: &str| {
            let mut p = schema["properties"][name].clone();
            if let Value::Object(o) = &mut p {
                o.remove("description");
            }
            p
        };
        let table = [
            ("b", json!({"type": "boolean"})),
            (
                "s8",
                json!({"type": "integer", "minimum": -128, "maximum": 127}),
            ),
            (
                "u32",
                json!({"type": "integer", "minimum": 0, "maximum": 4294967295_u64}),
            ),
            (
                "u64",
                json!({"anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": 18446744073709551615_u64},
                    {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"},
                ]}),
            ),
            (
                "s64",
                json!({"anyOf": [
                    {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX},
                    {"type": "string", "pattern": "^-?(0|[1-9][0-9]*)$"},
                ]}),
            ),
            (
                "f32",
                json!({"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}),
            ),
            (
                "c",
                json!({"type": "string", "minLength": 1, "maxLength": 1}),
            ),
            (
                "pair",
                json!({
                    "type": "array",
                    "prefixItems": [
                        {"type": "integer", "minimum": 0, "maximum": 255},
                        {"type": "string"},
                    ],
                    "items": false, "minItems": 2, "maxItems": 2,
                }),
            ),
            (
                "shape",
                json!({"oneOf": [
                    {"type": "object", "properties": {"circle": {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}}, "required": ["circle"], "additionalProperties": false},
                    {"type": "object", "properties": {"at": {
                        "type": "object",
                        "properties": {
                            "x": {"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX},
                            "y": {"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX},
                        },
                        "required": ["x", "y"], "additionalProperties": false,
                    }}, "required": ["at"], "additionalProperties": false},
                    {"const": "empty"},
                    {"type": "object", "properties": {"empty": {"type": "null"}}, "required": ["empty"], "additionalProperties": false},
                ]}),
            ),
            (
                "color",
                json!({"type": "string", "enum": ["red", "green", "blue"]}),
            ),
            (
                "opt",
                json!({"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 0, "maximum": 4294967295_u64}]}),
            ),
            (
                "opt2",
                json!({"anyOf": [{"type": "null"}, {
                    "type": "object",
                    "properties": {"some": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 0, "maximum": 4294967295_u64}]}},
                    "required": ["some"], "additionalProperties": false,
                }]}),
            ),
            (
                "res-unit",
                json!({"oneOf": [
                    {"type": "object", "properties": {"ok": {"type": "null"}}, "required": ["ok"], "additionalProperties": false},
                    {"type": "object", "properties": {"err": {"type": "string"}}, "required": ["err"], "additionalProperties": false},
                    {"const": "ok"},
                ]}),
            ),
            (
                "perm",
                json!({"type": "array", "items": {"enum": ["read", "write", "exec"]}, "uniqueItems": true}),
            ),
            (
                "opts",
                json!({
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "nick": {"anyOf": [{"type": "null"}, {"type": "string"}]},
                    },
                    "required": ["name"], "additionalProperties": false,
                }),
            ),
            (
                "map",
                json!({"type": "array", "maxItems": MAX_LIST_LEN, "items": {
                    "type": "array",
                    "prefixItems": [{"type": "string"}, {"type": "integer", "minimum": 0, "maximum": 4294967295_u64}],
                    "items": false, "minItems": 2, "maxItems": 2,
                }}),
            ),
            (
                "fixed",
                json!({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}, "minItems": 3, "maxItems": 3}),
            ),
        ];
        for (name, want) in table {
            assert_eq!(prop(name), want, "{name}");
        }
        assert_eq!(
            schema["properties"]["opt"]["description"],
            json!("option<u32>")
        );
        let required = schema["required"].as_array().expect("required");
        assert!(required.contains(&json!("s")));
        assert!(!required.contains(&json!("opt")));
        assert!(!required.contains(&json!("opt2")));
    }

    #[test]
    fn unsupported_and_cli_commands() {
        assert_eq!(json_schema(&sink("takes-res")), json!(false));
        assert_eq!(
            json_schema(&sink("run")),
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": "command-line arguments (after the program name)",
                "type": "array",
                "items": {"type": "string"},
            })
        );
    }
}
