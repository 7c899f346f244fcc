//! Integers and floats: the ranges of the WIT number types and the spellings accepted, the
//! same for JSON arguments and command-line text.

use serde_json::Value;

use super::{ArgError, describe, echo, quote};

/// `-?(0|[1-9][0-9]*)`: the only integer spelling accepted in strings.
pub(super) fn is_decimal(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
}

/// An integer type's name, bounds and range text.
pub(super) struct IntType {
    name: &'static str,
    min: i128,
    max: i128,
    range: &'static str,
    /// Whether decimal strings are accepted (64-bit types, which JSON numbers cannot carry
    /// exactly in every language).
    strings: bool,
}

pub(super) const S8: IntType = IntType {
    name: "s8",
    min: i8::MIN as i128,
    max: i8::MAX as i128,
    range: "-128..=127",
    strings: false,
};
pub(super) const U8: IntType = IntType {
    name: "u8",
    min: 0,
    max: u8::MAX as i128,
    range: "0..=255",
    strings: false,
};
pub(super) const S16: IntType = IntType {
    name: "s16",
    min: i16::MIN as i128,
    max: i16::MAX as i128,
    range: "-32768..=32767",
    strings: false,
};
pub(super) const U16: IntType = IntType {
    name: "u16",
    min: 0,
    max: u16::MAX as i128,
    range: "0..=65535",
    strings: false,
};
pub(super) const S32: IntType = IntType {
    name: "s32",
    min: i32::MIN as i128,
    max: i32::MAX as i128,
    range: "-2147483648..=2147483647",
    strings: false,
};
pub(super) const U32: IntType = IntType {
    name: "u32",
    min: 0,
    max: u32::MAX as i128,
    range: "0..=4294967295",
    strings: false,
};
pub(super) const S64: IntType = IntType {
    name: "s64",
    min: i64::MIN as i128,
    max: i64::MAX as i128,
    range: "-9223372036854775808..=9223372036854775807",
    strings: true,
};
pub(super) const U64: IntType = IntType {
    name: "u64",
    min: 0,
    max: u64::MAX as i128,
    range: "0..=18446744073709551615",
    strings: true,
};

/// An integer within `t`'s range, from a JSON integer (or, for 64-bit types, a decimal string).
pub(super) fn int(v: &Value, path: &str, t: &IntType, strings: bool) -> Result<i128, ArgError> {
    let out_of_range = |value: String| ArgError::OutOfRange {
        path: path.to_string(),
        value,
        ty: t.name,
        range: t.range,
    };
    let wrong = || ArgError::WrongType {
        path: path.to_string(),
        expected: if t.strings {
            format!("{} (an integer, or a decimal string)", t.name)
        } else {
            t.name.to_string()
        },
        got: describe(v),
    };
    let n: i128 = match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                i128::from(u)
            } else if let Some(i) = n.as_i64() {
                i128::from(i)
            } else {
                // serde_json reads integers beyond 64 bits as floats: report those as out of
                // range, anything with a fraction as the wrong type.
                match n.as_f64() {
                    Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() >= 9.2e18 => {
                        return Err(out_of_range(n.to_string()));
                    }
                    _ => return Err(wrong()),
                }
            }
        }
        Value::String(s) if t.strings || strings => {
            if !is_decimal(s) {
                return Err(ArgError::WrongType {
                    path: path.to_string(),
                    expected: format!("{} (an integer, or a decimal string)", t.name),
                    got: format!("string {} (not a plain decimal number)", quote(s)),
                });
            }
            // More digits than i128 holds is out of range for every type here.
            s.parse::<i128>().map_err(|_| out_of_range(echo(s)))?
        }
        _ => return Err(wrong()),
    };
    if n < t.min || n > t.max {
        return Err(out_of_range(match v {
            Value::String(s) => echo(s),
            _ => n.to_string(),
        }));
    }
    Ok(n)
}

/// A float from a JSON number or one of the strings `NaN`, `Infinity`, `-Infinity`.
pub(super) fn float(v: &Value, path: &str, name: &str) -> Result<f64, ArgError> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| ArgError::WrongType {
            path: path.to_string(),
            expected: name.to_string(),
            got: describe(v),
        }),
        Value::String(s) if s == "NaN" => Ok(f64::NAN),
        Value::String(s) if s == "Infinity" => Ok(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => Err(ArgError::WrongType {
            path: path.to_string(),
            expected: format!("{name} (a number, \"NaN\", \"Infinity\" or \"-Infinity\")"),
            got: describe(v),
        }),
    }
}

pub(super) fn number_text(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => describe(other),
    }
}
