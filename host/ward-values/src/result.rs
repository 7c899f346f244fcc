//! Component values returned by a guest, to JSON.

use serde_json::{Map, Number, Value};
use wasmtime::component::Val;

use crate::MAX_DEPTH;

/// Largest integer magnitude written as a JSON number (2^53 - 1); larger 64-bit integers are
/// written as decimal strings so that no JSON reader rounds them.
pub(crate) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a guest's result could not be turned into JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResultError {
    /// The JSON would be longer than the budget.
    #[error("result is larger than {limit} bytes as json")]
    TooLarge {
        /// The budget, in bytes of compact JSON.
        limit: usize,
    },
    /// The value is nested deeper than [`MAX_DEPTH`].
    #[error("result is nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// The value holds something with no JSON form.
    #[error("result holds a {kind}, which has no json form")]
    Unsupported {
        /// `resource`, `future`, `stream` or `error-context`.
        kind: &'static str,
    },
}

/// Converts what a command returned into JSON, following `docs/json-mapping.md`; `None` (a
/// function without a result) is `null`.
///
/// The compact JSON text of the answer is never longer than `max_bytes` (the size is counted
/// conservatively while converting, so building stops early for a huge value), nesting is at most
/// [`MAX_DEPTH`] levels, and values with no JSON form (resources, futures, streams, error contexts)
/// are refused.
pub fn result_to_json(val: Option<&Val>, max_bytes: usize) -> Result<Value, ResultError> {
    let mut out = Out {
        budget: max_bytes,
        limit: max_bytes,
    };
    match val {
        None => {
            out.charge(4)?;
            Ok(Value::Null)
        }
        Some(v) => out.json(v, 0),
    }
}

struct Out {
    budget: usize,
    limit: usize,
}

impl Out {
    fn charge(&mut self, bytes: usize) -> Result<(), ResultError> {
        match self.budget.checked_sub(bytes) {
            Some(rest) => {
                self.budget = rest;
                Ok(())
            }
            None => Err(ResultError::TooLarge { limit: self.limit }),
        }
    }

    fn string(&mut self, s: &str) -> Result<Value, ResultError> {
        // Quotes, plus escapes: at most 6 bytes (`\u001f`) per control character.
        let extra: usize = s
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' => 1,
                0..=0x1f => 5,
                _ => 0,
            })
            .sum();
        self.charge(s.len() + extra + 2)?;
        Ok(Value::String(s.to_string()))
    }

    fn int(&mut self, n: i128) -> Result<Value, ResultError> {
        let text_len = digits(n.unsigned_abs()) + usize::from(n < 0);
        if n.unsigned_abs() <= u128::from(MAX_SAFE_INTEGER) {
            self.charge(text_len)?;
            // Within ±2^53 both conversions succeed.
            Ok(match i64::try_from(n) {
                Ok(i) => Value::Number(i.into()),
                Err(_) => Value::String(n.to_string()),
            })
        } else {
            self.charge(text_len + 2)?;
            Ok(Value::String(n.to_string()))
        }
    }

    fn float(&mut self, f: f64) -> Result<Value, ResultError> {
        if f.is_nan() {
            return self.string("NaN");
        }
        if f.is_infinite() {
            return self.string(if f > 0.0 { "Infinity" } else { "-Infinity" });
        }
        // serde_json writes finite floats in at most 24 bytes.
        self.charge(24)?;
        Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
    }

    fn json(&mut self, v: &Val, depth: usize) -> Result<Value, ResultError> {
        if depth > MAX_DEPTH {
            return Err(ResultError::TooDeep { limit: MAX_DEPTH });
        }
        let d = depth + 1;
        Ok(match v {
            Val::Bool(b) => {
                self.charge(5)?;
                Value::Bool(*b)
            }
            Val::S8(n) => self.int(i128::from(*n))?,
            Val::U8(n) => self.int(i128::from(*n))?,
            Val::S16(n) => self.int(i128::from(*n))?,
            Val::U16(n) => self.int(i128::from(*n))?,
            Val::S32(n) => self.int(i128::from(*n))?,
            Val::U32(n) => self.int(i128::from(*n))?,
            Val::S64(n) => self.int(i128::from(*n))?,
            Val::U64(n) => self.int(i128::from(*n))?,
            Val::Float32(f) => {
                if f.is_finite() {
                    // The shortest decimal that reads back as the same f32 (0.1, not
                    // 0.10000000149011612).
                    let f = f.to_string().parse::<f64>().unwrap_or(f64::from(*f));
                    self.float(f)?
                } else {
                    self.float(f64::from(*f))?
                }
            }
            Val::Float64(f) => self.float(*f)?,
            Val::Char(c) => self.string(c.encode_utf8(&mut [0; 4]))?,
            Val::String(s) => self.string(s)?,
            Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
                self.array(items, d)?
            }
            Val::Map(pairs) => {
                self.charge(2)?;
                let mut out = Vec::with_capacity(pairs.len().min(1024));
                for (k, v) in pairs {
                    self.charge(4)?;
                    let k = self.json(k, d + 1)?;
                    let v = self.json(v, d + 1)?;
                    out.push(Value::Array(vec![k, v]));
                }
                Value::Array(out)
            }
            Val::Record(fields) => {
                self.charge(2)?;
                let mut obj = Map::new();
                for (name, v) in fields {
                    self.charge(name.len() + 4)?;
                    let v = self.json(v, d)?;
                    obj.insert(name.clone(), v);
                }
                Value::Object(obj)
            }
            Val::Variant(case, None) | Val::Enum(case) => self.string(case)?,
            Val::Variant(case, Some(payload)) => self.case(case, Some(payload), d)?,
            Val::Option(None) => {
                self.charge(4)?;
                Value::Null
            }
            Val::Option(Some(inner)) => match &**inner {
                // option<option<T>>: {"some": ...} keeps some(none) apart from none.
                Val::Option(_) => self.case("some", Some(inner), d)?,
                _ => self.json(inner, d)?,
            },
            Val::Result(Ok(p)) => self.case("ok", p.as_deref(), d)?,
            Val::Result(Err(p)) => self.case("err", p.as_deref(), d)?,
            Val::Flags(names) => {
                self.charge(2)?;
                let mut out = Vec::with_capacity(names.len().min(1024));
                for n in names {
                    self.charge(1)?;
                    out.push(self.string(n)?);
                }
                Value::Array(out)
            }
            Val::Resource(_) => return Err(ResultError::Unsupported { kind: "resource" }),
            Val::Future(_) => return Err(ResultError::Unsupported { kind: "future" }),
            Val::Stream(_) => return Err(ResultError::Unsupported { kind: "stream" }),
            Val::ErrorContext(_) => {
                return Err(ResultError::Unsupported {
                    kind: "error-context",
                });
            }
        })
    }

    fn array(&mut self, items: &[Val], depth: usize) -> Result<Value, ResultError> {
        self.charge(2)?;
        let mut out = Vec::with_capacity(items.len().min(1024));
        for item in items {
            self.charge(1)?;
            out.push(self.json(item, depth)?);
        }
        Ok(Value::Array(out))
    }

    /// `{"case": payload}`, with `null` for no payload.
    fn case(
        &mut self,
        case: &str,
        payload: Option<&Val>,
        depth: usize,
    ) -> Result<Value, ResultError> {
        self.charge(case.len() + 5)?;
        let p = match payload {
            Some(p) => self.json(p, depth)?,
            None => {
                self.charge(4)?;
                Value::Null
            }
        };
        let mut obj = Map::new();
        obj.insert(case.to_string(), p);
        Ok(Value::Object(obj))
    }
}

/// Number of decimal digits of `n`.
fn digits(n: u128) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::DEFAULT_MAX_RESULT_BYTES;

    fn to_json(v: &Val) -> Result<Value, ResultError> {
        result_to_json(Some(v), DEFAULT_MAX_RESULT_BYTES)
    }

    #[test]
    fn values_to_canonical_json() {
        let table = [
            (Val::U64(u64::MAX), json!("18446744073709551615")),
            (Val::U64((1 << 53) - 1), json!(9007199254740991_u64)),
            (Val::U64(1 << 53), json!("9007199254740992")),
            (Val::S64(i64::MIN), json!("-9223372036854775808")),
            (Val::S64(-(1 << 53) + 1), json!(-9007199254740991_i64)),
            (Val::S64(-(1 << 53)), json!("-9007199254740992")),
            (Val::Float32(f32::NAN), json!("NaN")),
            (Val::Float64(f64::NAN), json!("NaN")),
            (Val::Float64(f64::INFINITY), json!("Infinity")),
            (Val::Float32(f32::NEG_INFINITY), json!("-Infinity")),
            (Val::Float32(0.1), json!(0.1)),
            (Val::Float32(1e-45), json!(1e-45)),
            (Val::Float64(-0.0), json!(-0.0)),
            (Val::Char('\u{10ffff}'), json!("\u{10ffff}")),
            (Val::Enum("red".into()), json!("red")),
            (Val::Variant("empty".into(), None), json!("empty")),
            (
                Val::Variant("circle".into(), Some(Box::new(Val::Float64(1.0)))),
                json!({"circle": 1.0}),
            ),
            (Val::Option(None), json!(null)),
            (Val::Option(Some(Box::new(Val::U8(1)))), json!(1)),
            (
                Val::Option(Some(Box::new(Val::Option(None)))),
                json!({"some": null}),
            ),
            (
                Val::Option(Some(Box::new(Val::Option(Some(Box::new(Val::Option(
                    Some(Box::new(Val::Bool(true))),
                ))))))),
                json!({"some": {"some": true}}),
            ),
            (Val::Result(Ok(None)), json!({"ok": null})),
            (Val::Result(Err(None)), json!({"err": null})),
            (
                Val::Result(Err(Some(Box::new(Val::String("no".into()))))),
                json!({"err": "no"}),
            ),
            (
                Val::Flags(vec!["read".into(), "exec".into()]),
                json!(["read", "exec"]),
            ),
            (
                Val::Map(vec![(Val::U32(1), Val::String("a".into()))]),
                json!([[1, "a"]]),
            ),
            (
                Val::Record(vec![
                    ("y".into(), Val::S32(2)),
                    (
                        "x".into(),
                        Val::Tuple(vec![Val::U8(1), Val::String("t".into())]),
                    ),
                ]),
                json!({"x": [1, "t"], "y": 2}),
            ),
            (Val::FixedLengthList(vec![Val::U8(1); 3]), json!([1, 1, 1])),
        ];
        for (val, want) in table {
            assert_eq!(to_json(&val), Ok(want), "{val:?}");
        }
        assert_eq!(result_to_json(None, 4), Ok(json!(null)));
    }

    #[test]
    fn output_never_exceeds_the_budget() {
        let vals = [
            Val::String("a\"b\\c\n\u{1}".into()),
            Val::List((0..100).map(|i| Val::S32(i * -1000)).collect()),
            Val::U64(u64::MAX),
            Val::Record(vec![
                ("alpha".into(), Val::Bool(false)),
                ("b".into(), Val::Result(Ok(Some(Box::new(Val::Char('x')))))),
            ]),
            Val::Flags(vec!["x".into(), "yy".into()]),
            Val::Float64(-1.2345678901234567e-300),
        ];
        for v in &vals {
            // Find the smallest budget that is accepted: the JSON must fit in it.
            let smallest = (0..10_000)
                .find(|&n| result_to_json(Some(v), n).is_ok())
                .expect("fits in 10000");
            let text = serde_json::to_string(&to_json(v).expect("json")).expect("text");
            assert!(text.len() <= smallest, "{v:?}: {text} > {smallest}");
            assert_eq!(
                result_to_json(Some(v), smallest - 1),
                Err(ResultError::TooLarge {
                    limit: smallest - 1
                })
            );
        }
        // Exact for plain strings and integers.
        assert!(result_to_json(Some(&Val::String("abc".into())), 5).is_ok());
        assert!(result_to_json(Some(&Val::U32(12345)), 5).is_ok());
    }

    #[test]
    fn huge_result_is_refused() {
        let big = Val::List(vec![Val::String("x".repeat(100)); 10_000]);
        assert_eq!(
            result_to_json(Some(&big), 100_000).map_err(|e| e.to_string()),
            Err("result is larger than 100000 bytes as json".to_string())
        );
    }

    #[test]
    fn deep_result_is_refused() {
        let mut v = Val::U8(0);
        for _ in 0..=MAX_DEPTH {
            v = Val::List(vec![v]);
        }
        assert_eq!(
            to_json(&v).map_err(|e| e.to_string()),
            Err("result is nested deeper than 64 levels".to_string())
        );
        let mut v = Val::U8(0);
        for _ in 0..MAX_DEPTH {
            v = Val::Option(Some(Box::new(v)));
        }
        assert!(to_json(&v).is_ok());
    }
}
