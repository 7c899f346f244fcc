//! Command-line arguments: `NAME=VALUE` pairs converted with the command's types into the JSON
//! object [`args_from_json`] takes, and the request of a call from its parts (JSON arguments,
//! pairs or a wasi:cli program's argv).

use serde_json::{Map, Number, Value};
use wasmtime::component::types::Type;

#[cfg(doc)]
use super::json::args_from_json;
use super::numbers::{S8, S16, S32, S64, U8, U16, U32, U64, int, is_decimal};
use super::{ArgError, check_callable, echo, quote, takes};
use crate::text::wit_type;
use crate::{Command, CommandKind, MAX_ARGS_JSON_BYTES};

/// Converts the `VALUE` of a command-line `NAME=VALUE` into JSON for a parameter of type `ty`.
///
/// `string` takes the text as it is; `char` the text (one character); `bool` `true` or `false`;
/// integers a decimal number; floats a decimal number, `NaN`, `Infinity` or `-Infinity`; enums a
/// case name; `option<T>` of any of these takes the text for `T` (leave the argument out for
/// `none`). Every other type (records, lists, variants, ...) takes its JSON form. The result still
/// goes through [`args_from_json`], which checks ranges and shapes.
pub fn cli_arg(name: &str, ty: &Type, raw: &str) -> Result<Value, ArgError> {
    let wrong = || ArgError::WrongType {
        path: echo(name),
        expected: wit_type(ty),
        got: format!("text {}", quote(raw)),
    };
    match ty {
        Type::String | Type::Char => Ok(Value::String(raw.to_string())),
        Type::Bool => match raw {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(wrong()),
        },
        Type::S8
        | Type::U8
        | Type::S16
        | Type::U16
        | Type::S32
        | Type::U32
        | Type::S64
        | Type::U64 => {
            let t = match ty {
                Type::S8 => &S8,
                Type::U8 => &U8,
                Type::S16 => &S16,
                Type::U16 => &U16,
                Type::S32 => &S32,
                Type::U32 => &U32,
                Type::S64 => &S64,
                _ => &U64,
            };
            if !is_decimal(raw) {
                return Err(wrong());
            }
            let n = int(&Value::String(raw.to_string()), &echo(name), t, true)?;
            Ok(match (i64::try_from(n), u64::try_from(n)) {
                (Ok(i), _) => Value::Number(i.into()),
                (_, Ok(u)) => Value::Number(u.into()),
                _ => Value::String(raw.to_string()),
            })
        }
        Type::Float32 | Type::Float64 => match raw {
            "NaN" | "Infinity" | "-Infinity" => Ok(Value::String(raw.to_string())),
            _ => {
                let ok = raw
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                    && raw.bytes().any(|b| b.is_ascii_digit());
                match raw.parse::<f64>() {
                    Ok(f) if ok => Ok(Number::from_f64(f)
                        .map_or_else(|| Value::String(raw.to_string()), Value::Number)),
                    _ => Err(wrong()),
                }
            }
        },
        Type::Enum(_) => Ok(Value::String(raw.to_string())),
        Type::Option(o) => {
            let inner = o.ty();
            if is_text_type(&inner) {
                cli_arg(name, &inner, raw)
            } else {
                json_text(name, ty, raw)
            }
        }
        _ => json_text(name, ty, raw),
    }
}

/// Why the parts of a call could not become its request.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Named arguments for a wasi:cli program.
    #[error(
        "'{command}' is a wasi:cli program: pass its arguments after --, for example: {command} -- a b"
    )]
    ProgramTakesArgv {
        /// The command.
        command: String,
    },
    /// An argv for a typed command.
    #[error(
        "arguments after -- are for wasi:cli programs; '{command}' takes NAME=VALUE or --args JSON"
    )]
    CommandTakesNamedArgs {
        /// The command.
        command: String,
    },
    /// Both a JSON object and `NAME=VALUE` pairs.
    #[error("give the arguments as NAME=VALUE or as --args JSON, not both")]
    ArgsAndPairs,
    /// The named arguments do not fit the command.
    #[error(transparent)]
    Args(#[from] ArgError),
}

/// The request [`args_from_json`] (or a wasi:cli program's run) takes, from the parts a caller
/// gives: named arguments as a JSON object (`args`) or as `NAME=VALUE` strings (`pairs`, read by
/// [`args_from_cli`]), or a wasi:cli program's `argv` (`{"argv": [...]}`). Only the parts that fit
/// `cmd`'s kind may be given.
pub fn call_request(
    cmd: &Command,
    args: Option<Value>,
    pairs: &[String],
    argv: &[String],
) -> Result<Value, RequestError> {
    if matches!(cmd.kind, CommandKind::CliRun { .. }) {
        if args.is_some() || !pairs.is_empty() {
            return Err(RequestError::ProgramTakesArgv {
                command: cmd.name.clone(),
            });
        }
        return Ok(serde_json::json!({ "argv": argv }));
    }
    if !argv.is_empty() {
        return Err(RequestError::CommandTakesNamedArgs {
            command: cmd.name.clone(),
        });
    }
    match args {
        Some(_) if !pairs.is_empty() => Err(RequestError::ArgsAndPairs),
        Some(v) => Ok(v),
        None => Ok(args_from_cli(cmd, pairs)?),
    }
}

/// Converts command-line `NAME=VALUE` arguments for `cmd` into the JSON object
/// [`args_from_json`] takes, each value by [`cli_arg`].
///
/// Refuses an argument without `=`, an unknown name and a name given twice.
pub fn args_from_cli(cmd: &Command, args: &[String]) -> Result<Value, ArgError> {
    check_callable(cmd)?;
    let mut obj = Map::new();
    for arg in args {
        let Some((name, raw)) = arg.split_once('=') else {
            return Err(ArgError::NotNameValue { got: quote(arg) });
        };
        let Some((_, ty)) = cmd.params.iter().find(|(p, _)| p == name) else {
            return Err(ArgError::UnknownArgument {
                name: echo(name),
                takes: takes(cmd),
            });
        };
        if obj.contains_key(name) {
            return Err(ArgError::DuplicateArgument { name: echo(name) });
        }
        obj.insert(name.to_string(), cli_arg(name, ty, raw)?);
    }
    Ok(Value::Object(obj))
}

/// Types whose command-line form is plain text rather than JSON.
fn is_text_type(ty: &Type) -> bool {
    matches!(
        ty,
        Type::String
            | Type::Char
            | Type::Bool
            | Type::S8
            | Type::U8
            | Type::S16
            | Type::U16
            | Type::S32
            | Type::U32
            | Type::S64
            | Type::U64
            | Type::Float32
            | Type::Float64
            | Type::Enum(_)
    )
}

fn json_text(name: &str, ty: &Type, raw: &str) -> Result<Value, ArgError> {
    if raw.len() > MAX_ARGS_JSON_BYTES {
        return Err(ArgError::JsonTooLarge {
            size: raw.len(),
            limit: MAX_ARGS_JSON_BYTES,
        });
    }
    serde_json::from_str(raw).map_err(|e| ArgError::WrongType {
        path: echo(name),
        expected: format!("{} as json", wit_type(ty)),
        got: format!("text {} ({e})", quote(raw)),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testutil::sink;

    #[test]
    fn command_line_values() {
        let all = sink("all");
        let ty = |name: &str| {
            all.params
                .iter()
                .find(|(p, _)| p == name)
                .map(|(_, t)| t.clone())
                .expect("param")
        };
        let ok = [
            ("s", "12 monkeys", json!("12 monkeys")),
            ("s", "", json!("")),
            ("s", "{\"a\":1}", json!("{\"a\":1}")),
            ("c", "é", json!("é")),
            ("b", "true", json!(true)),
            ("u8", "255", json!(255)),
            ("s32", "-5", json!(-5)),
            (
                "u64",
                "18446744073709551615",
                json!(18446744073709551615_u64),
            ),
            (
                "s64",
                "-9223372036854775808",
                json!(-9223372036854775808_i64),
            ),
            ("f64", "1.5", json!(1.5)),
            ("f64", "-2e3", json!(-2000.0)),
            ("f32", "NaN", json!("NaN")),
            ("f32", "-Infinity", json!("-Infinity")),
            ("color", "blue", json!("blue")),
            ("opt", "7", json!(7)),
            ("point", r#"{"x": 1, "y": 2}"#, json!({"x": 1, "y": 2})),
            ("bytes", "[1,2]", json!([1, 2])),
            ("shape", r#""empty""#, json!("empty")),
            ("perm", r#"["read"]"#, json!(["read"])),
        ];
        for (name, raw, want) in ok {
            assert_eq!(cli_arg(name, &ty(name), raw), Ok(want), "{name}={raw}");
        }
        let bad = [
            ("b", "yes", r#"argument 'b': expected bool, got text "yes""#),
            (
                "u8",
                "0x10",
                r#"argument 'u8': expected u8, got text "0x10""#,
            ),
            (
                "u8",
                "256",
                "argument 'u8': 256 is out of range for u8 (0..=255)",
            ),
            ("u8", "1.0", r#"argument 'u8': expected u8, got text "1.0""#),
            (
                "f64",
                "inf",
                r#"argument 'f64': expected f64, got text "inf""#,
            ),
            ("f64", "", r#"argument 'f64': expected f64, got text """#),
            (
                "point",
                "x=1",
                r#"argument 'point': expected record { x: s32, y: s32 } as json, got text "x=1" (expected value at line 1 column 1)"#,
            ),
        ];
        for (name, raw, want) in bad {
            let e = cli_arg(name, &ty(name), raw).expect_err(raw);
            assert_eq!(e.to_string(), want, "{name}={raw}");
        }
    }

    #[test]
    fn command_line_arguments() {
        let greet = sink("greet");
        assert_eq!(
            args_from_cli(&greet, &["name=a=b".to_string()]),
            Ok(json!({"name": "a=b"}))
        );
        for (args, want) in [
            (vec!["name"], r#"expected NAME=VALUE, got "name""#),
            (
                vec!["nmae=x"],
                "unknown argument 'nmae'; the command takes: name",
            ),
            (vec!["name=x", "name=y"], "argument 'name' is given twice"),
        ] {
            let args: Vec<String> = args.into_iter().map(String::from).collect();
            let e = args_from_cli(&greet, &args).expect_err("refused");
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn call_request_takes_only_the_parts_the_command_kind_takes() {
        let cmds = crate::testutil::lifted_commands();
        let by = |n: &str| cmds.iter().find(|c| c.name == n).cloned().unwrap();
        let (greet, run) = (by("greet"), by("run"));
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            call_request(&run, None, &[], &s(&["a", "b"])).unwrap(),
            json!({ "argv": ["a", "b"] })
        );
        assert!(matches!(
            call_request(&run, Some(json!({})), &[], &[]),
            Err(RequestError::ProgramTakesArgv { .. })
        ));
        assert!(matches!(
            call_request(&run, None, &s(&["x=1"]), &[]),
            Err(RequestError::ProgramTakesArgv { .. })
        ));
        assert!(matches!(
            call_request(&greet, None, &[], &s(&["a"])),
            Err(RequestError::CommandTakesNamedArgs { .. })
        ));
        assert!(matches!(
            call_request(&greet, Some(json!({})), &s(&["name=x"]), &[]),
            Err(RequestError::ArgsAndPairs)
        ));
        let given = json!({ "name": "x" });
        assert_eq!(
            call_request(&greet, Some(given.clone()), &[], &[]).unwrap(),
            given
        );
        assert_eq!(
            call_request(&greet, None, &s(&["name=x"]), &[]).unwrap(),
            given
        );
        assert!(matches!(
            call_request(&greet, None, &s(&["nosuch=1"]), &[]),
            Err(RequestError::Args(_))
        ));
    }
}
