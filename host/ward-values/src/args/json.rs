//! A JSON object of named arguments to component values, type-directed and bounded.

use serde_json::Value;
use wasmtime::component::Val;
use wasmtime::component::types::Type;

use super::numbers::{S8, S16, S32, S64, U8, U16, U32, U64, float, int, number_text};
use super::{ArgError, check_callable, describe, echo, quote, takes};
use crate::text::{join, wit_type};
use crate::{Command, MAX_ARGS_BYTES, MAX_ARGS_JSON_BYTES, MAX_DEPTH, MAX_LIST_LEN};

/// Parses a request's JSON text into the arguments object for [`args_from_json`].
///
/// Refuses text longer than [`MAX_ARGS_JSON_BYTES`], text that is not JSON (including strings with
/// lone UTF-16 surrogate escapes such as `"\ud800"`, which are not Unicode text, and nesting beyond
/// serde_json's limit of 128 levels), and JSON that is not an object.
pub fn parse_args(text: &str) -> Result<Value, ArgError> {
    if text.len() > MAX_ARGS_JSON_BYTES {
        return Err(ArgError::JsonTooLarge {
            size: text.len(),
            limit: MAX_ARGS_JSON_BYTES,
        });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("surrogate") || msg.contains("hex escape") {
            ArgError::Json(format!(
                "{msg} (a \\u escape of a utf-16 surrogate must be followed by the other half \
                 of its pair; a lone surrogate is not unicode text)"
            ))
        } else {
            ArgError::Json(msg)
        }
    })?;
    if !value.is_object() {
        return Err(ArgError::NotAnObject {
            got: describe(&value),
        });
    }
    Ok(value)
}

/// Converts a JSON object of named arguments into the values to call `cmd` with, in parameter
/// order, following the rules in `docs/json-mapping.md`.
///
/// Refuses, naming the argument: a missing argument (an argument of type `option<T>` may be left
/// out and is then `none`), an unknown argument, a value of the wrong type or shape, an integer
/// out of range, a float out of `f32` range, a `char` that is not exactly one Unicode scalar value,
/// unknown or repeated case and flag names, nesting deeper than [`MAX_DEPTH`], a list longer than
/// [`MAX_LIST_LEN`], arguments taking more than [`MAX_ARGS_BYTES`], and types with no JSON form.
pub fn args_from_json(cmd: &Command, args: &Value) -> Result<Vec<Val>, ArgError> {
    check_callable(cmd)?;
    let Value::Object(obj) = args else {
        return Err(ArgError::NotAnObject {
            got: describe(args),
        });
    };
    if let Some(name) = obj
        .keys()
        .find(|k| !cmd.params.iter().any(|(p, _)| p == *k))
    {
        return Err(ArgError::UnknownArgument {
            name: echo(name),
            takes: takes(cmd),
        });
    }
    let mut conv = Converter {
        budget: MAX_ARGS_BYTES,
    };
    let mut vals = Vec::with_capacity(cmd.params.len());
    for (name, ty) in &cmd.params {
        let mut path = name.clone();
        let val = match obj.get(name) {
            Some(v) => conv.val(ty, v, &mut path, 0)?,
            None if matches!(ty, Type::Option(_)) => Val::Option(None),
            None => {
                return Err(ArgError::Missing {
                    path,
                    expected: wit_type(ty),
                });
            }
        };
        vals.push(val);
    }
    Ok(vals)
}

/// JSON to `Val`, type-directed, within [`MAX_ARGS_BYTES`].
struct Converter {
    budget: usize,
}

impl Converter {
    fn charge(&mut self, bytes: usize, path: &str) -> Result<(), ArgError> {
        match self.budget.checked_sub(bytes) {
            Some(rest) => {
                self.budget = rest;
                Ok(())
            }
            None => Err(ArgError::TooLarge {
                path: path.to_string(),
                limit: MAX_ARGS_BYTES,
            }),
        }
    }

    fn val(
        &mut self,
        ty: &Type,
        v: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<Val, ArgError> {
        self.charge(size_of::<Val>(), path)?;
        if depth > MAX_DEPTH {
            return Err(ArgError::TooDeep {
                path: path.clone(),
                limit: MAX_DEPTH,
            });
        }
        let wrong = |path: &String, expected: String| ArgError::WrongType {
            path: path.clone(),
            expected,
            got: describe(v),
        };
        let d = depth + 1;
        Ok(match ty {
            Type::Bool => match v {
                Value::Bool(b) => Val::Bool(*b),
                _ => return Err(wrong(path, "bool".into())),
            },
            Type::S8 => Val::S8(int(v, path, &S8, false)? as i8),
            Type::U8 => Val::U8(int(v, path, &U8, false)? as u8),
            Type::S16 => Val::S16(int(v, path, &S16, false)? as i16),
            Type::U16 => Val::U16(int(v, path, &U16, false)? as u16),
            Type::S32 => Val::S32(int(v, path, &S32, false)? as i32),
            Type::U32 => Val::U32(int(v, path, &U32, false)? as u32),
            Type::S64 => Val::S64(int(v, path, &S64, false)? as i64),
            Type::U64 => Val::U64(int(v, path, &U64, false)? as u64),
            Type::Float32 => {
                let f = float(v, path, "f32")?;
                let g = f as f32;
                if f.is_finite() && !g.is_finite() {
                    return Err(ArgError::OutOfRange {
                        path: path.clone(),
                        value: number_text(v),
                        ty: "f32",
                        range: "-3.4028235e38..=3.4028235e38; write \"Infinity\" for infinity",
                    });
                }
                Val::Float32(g)
            }
            Type::Float64 => Val::Float64(float(v, path, "f64")?),
            Type::Char => {
                let expected = "char (a string of exactly one unicode scalar value)";
                let Value::String(s) = v else {
                    return Err(wrong(path, expected.into()));
                };
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Val::Char(c),
                    _ => return Err(wrong(path, expected.into())),
                }
            }
            Type::String => match v {
                Value::String(s) => {
                    self.charge(s.len(), path)?;
                    Val::String(s.clone())
                }
                _ => return Err(wrong(path, "string".into())),
            },
            Type::List(l) => {
                let items = self.array(v, ty, path)?;
                Val::List(self.elements(&l.ty(), items, path, d)?)
            }
            Type::FixedLengthList(l) => {
                let items = self.array(v, ty, path)?;
                let n = usize::try_from(l.len()).unwrap_or(usize::MAX);
                if items.len() != n {
                    return Err(ArgError::WrongLength {
                        path: path.clone(),
                        ty: wit_type(ty),
                        expected: n,
                        got: items.len(),
                    });
                }
                Val::FixedLengthList(self.elements(&l.ty(), items, path, d)?)
            }
            Type::Map(m) => {
                let items = self.array(v, ty, path)?;
                let (kt, vt) = (m.key(), m.value());
                let mut pairs = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let pair = match item {
                        Value::Array(kv) if kv.len() == 2 => {
                            let len2 = path.len();
                            path.push_str("[0]");
                            let k = self.val(&kt, &kv[0], path, d + 1)?;
                            path.truncate(len2);
                            path.push_str("[1]");
                            let v = self.val(&vt, &kv[1], path, d + 1)?;
                            path.truncate(len2);
                            (k, v)
                        }
                        _ => {
                            return Err(ArgError::WrongType {
                                path: path.clone(),
                                expected: "a [key, value] array".into(),
                                got: describe(item),
                            });
                        }
                    };
                    path.truncate(len);
                    pairs.push(pair);
                }
                Val::Map(pairs)
            }
            Type::Tuple(t) => {
                let items = self.array(v, ty, path)?;
                let types: Vec<Type> = t.types().collect();
                if items.len() != types.len() {
                    return Err(ArgError::WrongLength {
                        path: path.clone(),
                        ty: wit_type(ty),
                        expected: types.len(),
                        got: items.len(),
                    });
                }
                let mut vals = Vec::with_capacity(types.len());
                for (i, (ty, item)) in types.iter().zip(items).enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    vals.push(self.val(ty, item, path, d)?);
                    path.truncate(len);
                }
                Val::Tuple(vals)
            }
            Type::Record(r) => {
                let Value::Object(obj) = v else {
                    return Err(wrong(path, format!("{} (a json object)", wit_type(ty))));
                };
                if let Some(k) = obj
                    .keys()
                    .find(|k| !r.fields().any(|f| f.name == k.as_str()))
                {
                    return Err(ArgError::UnknownField {
                        path: format!("{path}.{}", echo(k)),
                        fields: join(r.fields().map(|f| f.name)),
                    });
                }
                let mut fields = Vec::with_capacity(r.fields().len());
                for f in r.fields() {
                    let len = path.len();
                    path.push('.');
                    path.push_str(f.name);
                    let val = match obj.get(f.name) {
                        Some(fv) => self.val(&f.ty, fv, path, d)?,
                        None if matches!(f.ty, Type::Option(_)) => Val::Option(None),
                        None => {
                            return Err(ArgError::Missing {
                                path: path.clone(),
                                expected: wit_type(&f.ty),
                            });
                        }
                    };
                    path.truncate(len);
                    fields.push((f.name.to_string(), val));
                }
                Val::Record(fields)
            }
            Type::Variant(var) => {
                let (case, payload) = one_case(v, ty, path)?;
                let Some(c) = var.cases().find(|c| c.name == case) else {
                    return Err(ArgError::UnknownCase {
                        path: path.clone(),
                        case: quote(case),
                        cases: join(var.cases().map(|c| c.name)),
                    });
                };
                let payload = match (&c.ty, payload) {
                    (None, None | Some(Value::Null)) => None,
                    (None, Some(p)) => {
                        return Err(ArgError::WrongType {
                            path: format!("{path}.{case}"),
                            expected: "null (the case carries no payload)".into(),
                            got: describe(p),
                        });
                    }
                    (Some(pt), None) => {
                        return Err(ArgError::MissingPayload {
                            path: path.clone(),
                            case: case.to_string(),
                            expected: wit_type(pt),
                        });
                    }
                    (Some(pt), Some(p)) => {
                        let len = path.len();
                        path.push('.');
                        path.push_str(case);
                        let val = self.val(pt, p, path, d)?;
                        path.truncate(len);
                        Some(Box::new(val))
                    }
                };
                Val::Variant(case.to_string(), payload)
            }
            Type::Enum(e) => {
                let Value::String(s) = v else {
                    return Err(wrong(path, format!("{} (a case name)", wit_type(ty))));
                };
                if !e.names().any(|n| n == s.as_str()) {
                    return Err(ArgError::UnknownCase {
                        path: path.clone(),
                        case: quote(s),
                        cases: join(e.names()),
                    });
                }
                Val::Enum(s.clone())
            }
            Type::Option(o) => {
                let inner = o.ty();
                match v {
                    Value::Null => Val::Option(None),
                    _ if matches!(inner, Type::Option(_)) => {
                        // option<option<T>>: `some` is spelled {"some": ...} so that it differs
                        // from none.
                        let Value::Object(obj) = v else {
                            return Err(wrong(
                                path,
                                format!("{} (null or {{\"some\": ...}})", wit_type(ty)),
                            ));
                        };
                        match (obj.len(), obj.get("some")) {
                            (1, Some(x)) => {
                                let len = path.len();
                                path.push_str(".some");
                                let val = self.val(&inner, x, path, d)?;
                                path.truncate(len);
                                Val::Option(Some(Box::new(val)))
                            }
                            _ => {
                                return Err(wrong(
                                    path,
                                    format!("{} (null or {{\"some\": ...}})", wit_type(ty)),
                                ));
                            }
                        }
                    }
                    _ => Val::Option(Some(Box::new(self.val(&inner, v, path, d)?))),
                }
            }
            Type::Result(r) => {
                let (case, payload) = one_case(v, ty, path)?;
                let (is_ok, pt) = match case {
                    "ok" => (true, r.ok()),
                    "err" => (false, r.err()),
                    _ => {
                        return Err(ArgError::UnknownCase {
                            path: path.clone(),
                            case: quote(case),
                            cases: "ok, err".into(),
                        });
                    }
                };
                let payload = match (pt, payload) {
                    (None, None | Some(Value::Null)) => None,
                    (None, Some(p)) => {
                        return Err(ArgError::WrongType {
                            path: format!("{path}.{case}"),
                            expected: "null (the case carries no payload)".into(),
                            got: describe(p),
                        });
                    }
                    (Some(pt), None) => {
                        return Err(ArgError::MissingPayload {
                            path: path.clone(),
                            case: case.to_string(),
                            expected: wit_type(&pt),
                        });
                    }
                    (Some(pt), Some(p)) => {
                        let len = path.len();
                        path.push('.');
                        path.push_str(case);
                        let val = self.val(&pt, p, path, d)?;
                        path.truncate(len);
                        Some(Box::new(val))
                    }
                };
                Val::Result(if is_ok { Ok(payload) } else { Err(payload) })
            }
            Type::Flags(f) => {
                let items = self.array(v, ty, path)?;
                let mut set: Vec<String> = Vec::with_capacity(items.len().min(f.names().len()));
                for (i, item) in items.iter().enumerate() {
                    let Value::String(s) = item else {
                        return Err(ArgError::WrongType {
                            path: format!("{path}[{i}]"),
                            expected: "a flag name".into(),
                            got: describe(item),
                        });
                    };
                    if !f.names().any(|n| n == s.as_str()) {
                        return Err(ArgError::UnknownCase {
                            path: format!("{path}[{i}]"),
                            case: quote(s),
                            cases: join(f.names()),
                        });
                    }
                    if set.contains(s) {
                        return Err(ArgError::DuplicateFlag {
                            path: path.clone(),
                            flag: s.clone(),
                        });
                    }
                    set.push(s.clone());
                }
                // Declaration order, as the guest (and `result_to_json`) would list them.
                let flags = f
                    .names()
                    .filter(|n| set.iter().any(|s| s.as_str() == *n))
                    .map(str::to_string)
                    .collect();
                Val::Flags(flags)
            }
            Type::Own(_)
            | Type::Borrow(_)
            | Type::Future(_)
            | Type::Stream(_)
            | Type::ErrorContext => {
                return Err(ArgError::Unsupported {
                    path: path.clone(),
                    ty: wit_type(ty),
                });
            }
        })
    }

    /// `v` as a JSON array no longer than [`MAX_LIST_LEN`].
    fn array<'v>(&mut self, v: &'v Value, ty: &Type, path: &str) -> Result<&'v [Value], ArgError> {
        let Value::Array(items) = v else {
            return Err(ArgError::WrongType {
                path: path.to_string(),
                expected: format!("{} (a json array)", wit_type(ty)),
                got: describe(v),
            });
        };
        if items.len() > MAX_LIST_LEN {
            return Err(ArgError::ListTooLong {
                path: path.to_string(),
                len: items.len(),
                limit: MAX_LIST_LEN,
            });
        }
        Ok(items)
    }

    fn elements(
        &mut self,
        ty: &Type,
        items: &[Value],
        path: &mut String,
        depth: usize,
    ) -> Result<Vec<Val>, ArgError> {
        let mut vals = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            vals.push(self.val(ty, item, path, depth)?);
            path.truncate(len);
        }
        Ok(vals)
    }
}

/// The `{"case": payload}` / `"case"` form shared by variants and results.
fn one_case<'v>(
    v: &'v Value,
    ty: &Type,
    path: &str,
) -> Result<(&'v str, Option<&'v Value>), ArgError> {
    match v {
        Value::String(s) => Ok((s.as_str(), None)),
        Value::Object(obj) if obj.len() == 1 => {
            let mut it = obj.iter();
            match it.next() {
                Some((k, p)) => Ok((k.as_str(), Some(p))),
                None => Err(ArgError::WrongType {
                    path: path.to_string(),
                    expected: wit_type(ty),
                    got: describe(v),
                }),
            }
        }
        _ => Err(ArgError::WrongType {
            path: path.to_string(),
            expected: format!("{} (an object with one key, the case name)", wit_type(ty)),
            got: describe(v),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testutil::{one_param, sink};
    use crate::{DEFAULT_MAX_RESULT_BYTES, result_to_json};

    /// The `all` command cut down to its one parameter `name`.
    fn param(name: &str) -> Command {
        let mut cmd = sink("all");
        cmd.params.retain(|(p, _)| p == name);
        assert_eq!(cmd.params.len(), 1, "{name}");
        cmd
    }

    fn convert(name: &str, v: Value) -> Result<Val, ArgError> {
        let cmd = param(name);
        let mut vals = args_from_json(&cmd, &json!({ name: v }))?;
        Ok(vals.remove(0))
    }

    fn err(name: &str, v: Value) -> String {
        match convert(name, v.clone()) {
            Ok(val) => panic!("{name}: {v} was accepted as {val:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn back(val: &Val) -> Value {
        result_to_json(Some(val), DEFAULT_MAX_RESULT_BYTES).expect("to json")
    }

    #[test]
    fn round_trips_every_kind() {
        // (parameter, input, canonical output)
        let table = [
            ("b", json!(true), json!(true)),
            ("b", json!(false), json!(false)),
            ("s8", json!(-128), json!(-128)),
            ("s8", json!(127), json!(127)),
            ("u8", json!(255), json!(255)),
            ("s16", json!(-32768), json!(-32768)),
            ("u16", json!(65535), json!(65535)),
            ("s32", json!(-2147483648_i64), json!(-2147483648_i64)),
            ("u32", json!(4294967295_u64), json!(4294967295_u64)),
            (
                "s64",
                json!(-9007199254740991_i64),
                json!(-9007199254740991_i64),
            ),
            (
                "s64",
                json!(-9007199254740992_i64),
                json!("-9007199254740992"),
            ),
            (
                "s64",
                json!("-9223372036854775808"),
                json!("-9223372036854775808"),
            ),
            ("s64", json!("42"), json!(42)),
            (
                "u64",
                json!(9007199254740991_u64),
                json!(9007199254740991_u64),
            ),
            (
                "u64",
                json!(9007199254740992_u64),
                json!("9007199254740992"),
            ),
            (
                "u64",
                json!("18446744073709551615"),
                json!("18446744073709551615"),
            ),
            (
                "u64",
                json!(18446744073709551615_u64),
                json!("18446744073709551615"),
            ),
            ("u64", json!("0"), json!(0)),
            ("f32", json!(0.1), json!(0.1)),
            ("f32", json!(-2), json!(-2.0)),
            ("f32", json!("NaN"), json!("NaN")),
            ("f32", json!("Infinity"), json!("Infinity")),
            ("f32", json!("-Infinity"), json!("-Infinity")),
            ("f32", json!(3.4028235e38), json!(3.4028235e38)),
            ("f64", json!(1e300), json!(1e300)),
            ("f64", json!(-0.5), json!(-0.5)),
            ("f64", json!(7), json!(7.0)),
            ("f64", json!("NaN"), json!("NaN")),
            ("f64", json!("-Infinity"), json!("-Infinity")),
            ("c", json!("é"), json!("é")),
            ("c", json!("🦀"), json!("🦀")),
            ("s", json!(""), json!("")),
            ("s", json!("héllo\n\"🦀\""), json!("héllo\n\"🦀\"")),
            ("bytes", json!([]), json!([])),
            ("bytes", json!([0, 1, 255]), json!([0, 1, 255])),
            ("pair", json!([7, "x"]), json!([7, "x"])),
            ("point", json!({"y": -2, "x": 1}), json!({"x": 1, "y": -2})),
            ("shape", json!({"circle": 1.5}), json!({"circle": 1.5})),
            (
                "shape",
                json!({"at": {"x": 0, "y": 0}}),
                json!({"at": {"x": 0, "y": 0}}),
            ),
            ("shape", json!("empty"), json!("empty")),
            ("shape", json!({"empty": null}), json!("empty")),
            ("color", json!("green"), json!("green")),
            ("opt", json!(null), json!(null)),
            ("opt", json!(5), json!(5)),
            ("opt2", json!(null), json!(null)),
            ("opt2", json!({"some": null}), json!({"some": null})),
            ("opt2", json!({"some": 5}), json!({"some": 5})),
            ("res", json!({"ok": 1}), json!({"ok": 1})),
            ("res", json!({"err": "bad"}), json!({"err": "bad"})),
            ("res-unit", json!({"ok": null}), json!({"ok": null})),
            ("res-unit", json!("ok"), json!({"ok": null})),
            ("res-unit", json!({"err": "no"}), json!({"err": "no"})),
            ("res-none", json!({"err": null}), json!({"err": null})),
            ("res-none", json!("err"), json!({"err": null})),
            ("perm", json!([]), json!([])),
            ("perm", json!(["exec", "read"]), json!(["read", "exec"])),
            (
                "points",
                json!([{"x": 1, "y": 2}]),
                json!([{"x": 1, "y": 2}]),
            ),
            (
                "opts",
                json!({"name": "a"}),
                json!({"name": "a", "nick": null}),
            ),
            (
                "opts",
                json!({"name": "a", "nick": "b"}),
                json!({"name": "a", "nick": "b"}),
            ),
            ("map", json!([]), json!([])),
            (
                "map",
                json!([["a", 1], ["a", 2]]),
                json!([["a", 1], ["a", 2]]),
            ),
            ("fixed", json!([1, 2, 3]), json!([1, 2, 3])),
        ];
        for (name, input, want) in table {
            let val = convert(name, input.clone())
                .unwrap_or_else(|e| panic!("{name}: {input} refused: {e}"));
            assert_eq!(back(&val), want, "{name}: {input}");
            // The canonical form reads back as the same value.
            assert_eq!(
                convert(name, want.clone()).as_ref(),
                Ok(&val),
                "{name}: {want}"
            );
        }
    }

    #[test]
    fn whole_command_in_parameter_order() {
        let cmd = sink("greet");
        assert_eq!(
            args_from_json(&cmd, &json!({"name": "ward"})),
            Ok(vec![Val::String("ward".into())])
        );
        let cmd = sink("nothing");
        assert_eq!(args_from_json(&cmd, &json!({})), Ok(vec![]));
        let cmd = sink("all");
        let vals = args_from_json(
            &cmd,
            &json!({
                "b": true, "s8": 1, "u8": 2, "s16": 3, "u16": 4, "s32": 5, "u32": 6, "s64": 7,
                "u64": 8, "f32": 9, "f64": 10, "c": "c", "s": "s", "bytes": [], "pair": [1, ""],
                "point": {"x": 0, "y": 0}, "shape": "empty", "color": "red", "res": {"ok": 0},
                "res-unit": "ok", "res-none": "ok", "perm": [], "points": [], "opts": {"name": ""},
                "map": [], "fixed": [0, 0, 0],
            }),
        )
        .expect("accepted");
        assert_eq!(vals.len(), cmd.params.len());
        assert_eq!(vals[0], Val::Bool(true));
        // Left-out options are none.
        assert_eq!(vals[18], Val::Option(None));
        assert_eq!(vals[19], Val::Option(None));
    }

    #[test]
    fn refusals_name_the_argument_and_the_type() {
        let table = [
            (
                "b",
                json!("true"),
                r#"argument 'b': expected bool, got string "true""#,
            ),
            ("b", json!(1), "argument 'b': expected bool, got number 1"),
            (
                "s32",
                json!("abc"),
                r#"argument 's32': expected s32, got string "abc""#,
            ),
            (
                "s32",
                json!("5"),
                r#"argument 's32': expected s32, got string "5""#,
            ),
            ("s32", json!(null), "argument 's32': expected s32, got null"),
            (
                "u8",
                json!(1.5),
                "argument 'u8': expected u8, got number 1.5",
            ),
            (
                "u8",
                json!(1.0),
                "argument 'u8': expected u8, got number 1.0",
            ),
            (
                "u8",
                json!([1]),
                "argument 'u8': expected u8, got an array of 1 elements",
            ),
            (
                "u8",
                json!({}),
                "argument 'u8': expected u8, got an empty object",
            ),
            (
                "u64",
                json!("+5"),
                r#"argument 'u64': expected u64 (an integer, or a decimal string), got string "+5" (not a plain decimal number)"#,
            ),
            (
                "u64",
                json!("007"),
                r#"argument 'u64': expected u64 (an integer, or a decimal string), got string "007" (not a plain decimal number)"#,
            ),
            (
                "u64",
                json!(" 7"),
                r#"argument 'u64': expected u64 (an integer, or a decimal string), got string " 7" (not a plain decimal number)"#,
            ),
            (
                "s64",
                json!(1.5),
                "argument 's64': expected s64 (an integer, or a decimal string), got number 1.5",
            ),
            (
                "f64",
                json!("1.5"),
                r#"argument 'f64': expected f64 (a number, "NaN", "Infinity" or "-Infinity"), got string "1.5""#,
            ),
            (
                "f64",
                json!("nan"),
                r#"argument 'f64': expected f64 (a number, "NaN", "Infinity" or "-Infinity"), got string "nan""#,
            ),
            (
                "c",
                json!("ab"),
                r#"argument 'c': expected char (a string of exactly one unicode scalar value), got string "ab""#,
            ),
            (
                "c",
                json!(""),
                r#"argument 'c': expected char (a string of exactly one unicode scalar value), got string """#,
            ),
            (
                "c",
                json!("e\u{301}"),
                "argument 'c': expected char (a string of exactly one unicode scalar value), got string \"e\u{301}\"",
            ),
            ("s", json!(5), "argument 's': expected string, got number 5"),
            (
                "bytes",
                json!("AAE="),
                r#"argument 'bytes': expected list<u8> (a json array), got string "AAE=""#,
            ),
            (
                "bytes",
                json!([1, 256]),
                "argument 'bytes[1]': 256 is out of range for u8 (0..=255)",
            ),
            (
                "pair",
                json!([1]),
                "argument 'pair': expected 2 elements for tuple<u8, string>, got 1",
            ),
            (
                "pair",
                json!([1, 2]),
                "argument 'pair[1]': expected string, got number 2",
            ),
            (
                "point",
                json!([1, 2]),
                "argument 'point': expected record { x: s32, y: s32 } (a json object), got an array of 2 elements",
            ),
            ("point", json!({"x": 1}), "missing argument 'point.y' (s32)"),
            (
                "point",
                json!({"x": 1, "y": 2, "z": 3}),
                "unknown field 'point.z'; the record has: x, y",
            ),
            (
                "point",
                json!({"x": "1", "y": 2}),
                r#"argument 'point.x': expected s32, got string "1""#,
            ),
            (
                "points",
                json!([{"x": 1, "y": 2}, {"x": 1, "y": 2.5}]),
                "argument 'points[1].y': expected s32, got number 2.5",
            ),
            (
                "shape",
                json!("circle"),
                r#"argument 'shape': case 'circle' carries a payload (f64); write {"circle": ...}"#,
            ),
            (
                "shape",
                json!({"sqare": 1}),
                r#"argument 'shape': unknown case "sqare"; expected one of: circle, at, empty"#,
            ),
            (
                "shape",
                json!({"circle": 1, "empty": null}),
                "argument 'shape': expected variant { circle(f64), at(record { x: s32, y: s32 }), empty } (an object with one key, the case name), got an object with keys circle, empty",
            ),
            (
                "shape",
                json!({"empty": 1}),
                "argument 'shape.empty': expected null (the case carries no payload), got number 1",
            ),
            (
                "shape",
                json!({"at": {"x": 1}}),
                "missing argument 'shape.at.y' (s32)",
            ),
            (
                "color",
                json!("purple"),
                r#"argument 'color': unknown case "purple"; expected one of: red, green, blue"#,
            ),
            (
                "color",
                json!(0),
                "argument 'color': expected enum { red, green, blue } (a case name), got number 0",
            ),
            (
                "opt",
                json!("5"),
                r#"argument 'opt': expected u32, got string "5""#,
            ),
            (
                "opt2",
                json!(5),
                r#"argument 'opt2': expected option<option<u32>> (null or {"some": ...}), got number 5"#,
            ),
            (
                "opt2",
                json!({"some": "x"}),
                r#"argument 'opt2.some': expected u32, got string "x""#,
            ),
            (
                "res",
                json!({"okay": 1}),
                r#"argument 'res': unknown case "okay"; expected one of: ok, err"#,
            ),
            (
                "res",
                json!("ok"),
                r#"argument 'res': case 'ok' carries a payload (u32); write {"ok": ...}"#,
            ),
            (
                "res",
                json!({"err": 1}),
                "argument 'res.err': expected string, got number 1",
            ),
            (
                "perm",
                json!(["read", "read"]),
                "argument 'perm': flag 'read' is given twice",
            ),
            (
                "perm",
                json!(["admin"]),
                r#"argument 'perm[0]': unknown case "admin"; expected one of: read, write, exec"#,
            ),
            (
                "perm",
                json!("read"),
                r#"argument 'perm': expected flags { read, write, exec } (a json array), got string "read""#,
            ),
            ("opts", json!({}), "missing argument 'opts.name' (string)"),
            (
                "map",
                json!({"a": 1}),
                "argument 'map': expected map<string, u32> (a json array), got an object with keys a",
            ),
            (
                "map",
                json!([["a"]]),
                "argument 'map[0]': expected a [key, value] array, got an array of 1 elements",
            ),
            (
                "map",
                json!([["a", -1]]),
                "argument 'map[0][1]': -1 is out of range for u32 (0..=4294967295)",
            ),
            (
                "fixed",
                json!([1, 2]),
                "argument 'fixed': expected 3 elements for list<u8, 3>, got 2",
            ),
        ];
        for (name, input, want) in table {
            assert_eq!(err(name, input.clone()), want, "{name}: {input}");
        }
    }

    #[test]
    fn integers_out_of_range_for_each_width() {
        let table = [
            (
                "s8",
                json!(-129),
                "-129 is out of range for s8 (-128..=127)",
            ),
            ("s8", json!(128), "128 is out of range for s8 (-128..=127)"),
            ("u8", json!(-1), "-1 is out of range for u8 (0..=255)"),
            ("u8", json!(300), "300 is out of range for u8 (0..=255)"),
            (
                "s16",
                json!(-32769),
                "-32769 is out of range for s16 (-32768..=32767)",
            ),
            (
                "s16",
                json!(32768),
                "32768 is out of range for s16 (-32768..=32767)",
            ),
            ("u16", json!(-1), "-1 is out of range for u16 (0..=65535)"),
            (
                "u16",
                json!(65536),
                "65536 is out of range for u16 (0..=65535)",
            ),
            (
                "s32",
                json!(-2147483649_i64),
                "-2147483649 is out of range for s32 (-2147483648..=2147483647)",
            ),
            (
                "s32",
                json!(2147483648_i64),
                "2147483648 is out of range for s32 (-2147483648..=2147483647)",
            ),
            (
                "u32",
                json!(-1),
                "-1 is out of range for u32 (0..=4294967295)",
            ),
            (
                "u32",
                json!(4294967296_i64),
                "4294967296 is out of range for u32 (0..=4294967295)",
            ),
            (
                "s64",
                json!("-9223372036854775809"),
                "-9223372036854775809 is out of range for s64 (-9223372036854775808..=9223372036854775807)",
            ),
            (
                "s64",
                json!("9223372036854775808"),
                "9223372036854775808 is out of range for s64 (-9223372036854775808..=9223372036854775807)",
            ),
            (
                "s64",
                json!(9223372036854775808_u64),
                "9223372036854775808 is out of range for s64 (-9223372036854775808..=9223372036854775807)",
            ),
            (
                "u64",
                json!(-1),
                "-1 is out of range for u64 (0..=18446744073709551615)",
            ),
            (
                "u64",
                json!("-1"),
                "-1 is out of range for u64 (0..=18446744073709551615)",
            ),
            (
                "u64",
                json!("18446744073709551616"),
                "18446744073709551616 is out of range for u64 (0..=18446744073709551615)",
            ),
            (
                "u64",
                json!("99999999999999999999999999999999999999999999999999"),
                "9999999999999999999999999999999999999999… is out of range for u64 (0..=18446744073709551615)",
            ),
            (
                "f32",
                json!(1e39),
                r#"1e+39 is out of range for f32 (-3.4028235e38..=3.4028235e38; write "Infinity" for infinity)"#,
            ),
            (
                "f32",
                json!(-1e39),
                r#"-1e+39 is out of range for f32 (-3.4028235e38..=3.4028235e38; write "Infinity" for infinity)"#,
            ),
        ];
        for (name, input, want) in table {
            assert_eq!(
                err(name, input.clone()),
                format!("argument '{name}': {want}")
            );
        }
        // serde_json reads integer literals beyond 64 bits as floats.
        let big: Value = serde_json::from_str("100000000000000000000").expect("json");
        assert_eq!(
            err("u64", big),
            "argument 'u64': 1e+20 is out of range for u64 (0..=18446744073709551615)"
        );
    }

    #[test]
    fn missing_and_unknown_arguments() {
        let greet = sink("greet");
        for (args, want) in [
            (json!({}), "missing argument 'name' (string)"),
            (
                json!({"nmae": "x"}),
                "unknown argument 'nmae'; the command takes: name",
            ),
            (
                json!({"name": "x", "extra": 1}),
                "unknown argument 'extra'; the command takes: name",
            ),
            (
                json!(["x"]),
                "arguments must be a json object of named arguments, got an array of 1 elements",
            ),
            (
                json!("x"),
                r#"arguments must be a json object of named arguments, got string "x""#,
            ),
        ] {
            let e = args_from_json(&greet, &args).expect_err("refused");
            assert_eq!(e.to_string(), want, "{args}");
        }
        let e = args_from_json(&sink("nothing"), &json!({"x": 1})).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "unknown argument 'x'; the command takes: nothing"
        );
    }

    #[test]
    fn echoed_values_are_cut_and_escaped() {
        let long = "x".repeat(1000);
        assert_eq!(
            err("s32", json!(long)),
            format!(
                "argument 's32': expected s32, got string \"{}…\"",
                "x".repeat(40)
            )
        );
        assert_eq!(
            err("s32", json!("a\u{1b}[31m\u{202e}b")),
            r#"argument 's32': expected s32, got string "a\u{1b}[31m\u{202e}b""#
        );
        let e = args_from_json(&sink("greet"), &json!({"\u{202e}evil\n": 1})).expect_err("no");
        assert_eq!(
            e.to_string(),
            r"unknown argument '\u{202e}evil\n'; the command takes: name"
        );
    }

    #[test]
    fn lone_surrogate_is_refused_when_parsing() {
        for text in [
            r#"{"name": "\ud800"}"#,
            r#"{"name": "a\udc00b"}"#,
            r#"{"name": "\ud800\u0041"}"#,
        ] {
            let e = parse_args(text).expect_err("lone surrogate");
            assert!(
                matches!(&e, ArgError::Json(m) if m.contains("a lone surrogate is not unicode text")),
                "{text}: {e}"
            );
        }
        assert_eq!(
            parse_args(r#"{"name": "\ud800"}"#).map_err(|e| e.to_string()),
            Err(
                "arguments are not valid json: unexpected end of hex escape at line 1 column 17 \
                 (a \\u escape of a utf-16 surrogate must be followed by the other half of its \
                 pair; a lone surrogate is not unicode text)"
                    .to_string()
            )
        );
        // A proper pair is one scalar value.
        let args = parse_args(r#"{"c": "\ud83e\udd80"}"#).expect("pair");
        assert_eq!(convert("c", args["c"].clone()), Ok(Val::Char('🦀')));
    }

    #[test]
    fn parse_args_limits_and_shape() {
        assert_eq!(
            parse_args("[1]").map_err(|e| e.to_string()),
            Err(
                "arguments must be a json object of named arguments, got an array of 1 elements"
                    .into()
            )
        );
        assert_eq!(
            parse_args("{").map_err(|e| e.to_string()),
            Err(
                "arguments are not valid json: EOF while parsing an object at line 1 column 1"
                    .into()
            )
        );
        let huge = format!("{{\"s\": \"{}\"}}", "x".repeat(MAX_ARGS_JSON_BYTES));
        assert_eq!(
            parse_args(&huge),
            Err(ArgError::JsonTooLarge {
                size: huge.len(),
                limit: MAX_ARGS_JSON_BYTES
            })
        );
        // serde_json stops at 128 levels of nesting.
        let deep = format!("{{\"p\": {}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(parse_args(&deep), Err(ArgError::Json(m)) if m.contains("recursion")));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // A type 70 lists deep, and a value that follows it all the way down.
        let ty = format!("{}u8{}", "(list ".repeat(70), ")".repeat(70));
        let cmd = one_param(&ty);
        let mut v = json!([1]);
        for _ in 0..69 {
            v = json!([v]);
        }
        let e = args_from_json(&cmd, &json!({ "p": v })).expect_err("too deep");
        assert_eq!(
            e.to_string(),
            format!(
                "argument 'p{}': nested deeper than 64 levels",
                "[0]".repeat(65)
            )
        );
        // Within the limit it is fine.
        let ty = format!("{}u8{}", "(list ".repeat(60), ")".repeat(60));
        let cmd = one_param(&ty);
        let mut v = json!([1]);
        for _ in 0..59 {
            v = json!([v]);
        }
        assert!(args_from_json(&cmd, &json!({ "p": v })).is_ok());
    }

    #[test]
    fn huge_list_is_bounded() {
        let cmd = param("bytes");
        let v = Value::Array(vec![json!(0); MAX_LIST_LEN + 1]);
        let e = args_from_json(&cmd, &json!({ "bytes": v })).expect_err("too long");
        assert_eq!(
            e.to_string(),
            "argument 'bytes': 1048577 elements is more than the limit of 1048576"
        );
        let v = Value::Array(vec![json!(0); MAX_LIST_LEN]);
        assert!(args_from_json(&cmd, &json!({ "bytes": v })).is_ok());
    }

    #[test]
    fn huge_arguments_are_bounded() {
        let cmd = param("s");
        let v = json!({ "s": "x".repeat(MAX_ARGS_BYTES) });
        let e = args_from_json(&cmd, &v).expect_err("too large");
        assert_eq!(
            e.to_string(),
            format!("arguments take more than {MAX_ARGS_BYTES} bytes once converted (at 's')")
        );
        // Many strings add up.
        let cmd = one_param("(list string)");
        let item = json!("y".repeat(1 << 10));
        let v = json!({ "p": Value::Array(vec![item; 1 << 16]) });
        let e = args_from_json(&cmd, &v).expect_err("too large");
        assert!(matches!(e, ArgError::TooLarge { .. }), "{e}");
    }

    #[test]
    fn unsupported_commands_are_refused() {
        let e = args_from_json(&sink("takes-res"), &json!({"r": 1})).expect_err("resource");
        assert_eq!(
            e.to_string(),
            "command 'takes-res' cannot be called with json arguments: parameter 'r' has type own<resource>, which cannot be passed as json"
        );
        let e = args_from_json(&sink("run"), &json!({})).expect_err("cli");
        assert_eq!(
            e.to_string(),
            "command 'run' cannot be called with json arguments: it is a wasi:cli/run@0.2.3 program, which takes command-line arguments"
        );
    }
}
