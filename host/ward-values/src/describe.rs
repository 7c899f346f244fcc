//! Named WIT signatures, type definitions and docs, decoded from a component's bytes.

use std::collections::HashSet;
use std::fmt::Write as _;

use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{
    Docs, FunctionKind, Handle, Resolve, Type as WitType, TypeDefKind, TypeId, WorldItem,
};

use crate::{MAX_DEPTH, MAX_DESCRIBE_BYTES};

/// Longest decoder message kept in a [`DescribeError::Decode`].
const MAX_DECODE_MESSAGE: usize = 300;

/// What a component says about its commands, in WIT, with the names and docs its author wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitDescription {
    /// The name of the component's world.
    pub world: String,
    /// The world's doc comment, if the component carries docs.
    pub docs: Option<String>,
    /// The root-level exported functions, in export order (interfaces, including
    /// `wasi:cli/run`, are not listed).
    pub functions: Vec<WitFunction>,
    /// Every named type those functions use, directly or through other types, in the order first
    /// used.
    pub types: Vec<WitTypeDef>,
}

/// One exported function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitFunction {
    /// The function's name.
    pub name: String,
    /// Its signature as WIT, for example `greet: func(name: string) -> string`.
    pub signature: String,
    /// Its doc comment, if the component carries docs.
    pub docs: Option<String>,
}

/// One named type definition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitTypeDef {
    /// The type's name.
    pub name: String,
    /// Its definition as WIT, for example `record point {\n    x: s32,\n    y: s32,\n}`, with the
    /// doc comments of its fields and cases.
    pub wit: String,
    /// The type's own doc comment, if the component carries docs.
    pub docs: Option<String>,
}

/// Why [`describe_wit`] could not describe a component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescribeError {
    /// The decoder refused the bytes.
    #[error("cannot decode the component's wit: {0}")]
    Decode(String),
    /// The bytes are a WIT package, not a component.
    #[error("the bytes are a wit package, not a component")]
    NotAComponent,
    /// The description would be larger than [`MAX_DESCRIBE_BYTES`].
    #[error("the wit description is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// A type is nested deeper than [`MAX_DEPTH`].
    #[error("a wit type is nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

/// Decodes the WIT of a component and describes its root-level exported functions with their
/// named types and docs.
///
/// This is what [`crate::wit_signature`] cannot do from wasmtime's types alone, which carry no
/// names for records, variants, enums and flags. Doc comments are only present when the component
/// was built with them (the `package-docs` custom section). Refuses bytes that do not decode as a
/// component and descriptions larger than [`MAX_DESCRIBE_BYTES`]; it never panics, even on bytes
/// the decoder chokes on.
pub fn describe_wit(component_bytes: &[u8]) -> Result<WitDescription, DescribeError> {
    let decoded = std::panic::catch_unwind(|| decode(component_bytes))
        .map_err(|_| DescribeError::Decode("the decoder failed on these bytes".to_string()))?
        .map_err(|e| DescribeError::Decode(cut(&format!("{e:#}"), MAX_DECODE_MESSAGE)))?;
    let (resolve, world_id) = match decoded {
        DecodedWasm::Component(resolve, world) => (resolve, world),
        DecodedWasm::WitPackage(..) => return Err(DescribeError::NotAComponent),
    };
    let world = resolve
        .worlds
        .get(world_id)
        .ok_or_else(|| DescribeError::Decode("the decoded world is missing".to_string()))?;
    let mut p = Printer {
        resolve: &resolve,
        budget: MAX_DESCRIBE_BYTES,
        seen: HashSet::new(),
        queue: Vec::new(),
    };
    let mut desc = WitDescription {
        world: world.name.clone(),
        docs: docs(&world.docs),
        ..WitDescription::default()
    };
    p.charge(desc.world.len() + desc.docs.as_ref().map_or(0, String::len))?;
    for item in world.exports.values() {
        let WorldItem::Function(f) = item else {
            continue;
        };
        let is_async = match f.kind {
            FunctionKind::Freestanding => false,
            FunctionKind::AsyncFreestanding => true,
            _ => continue,
        };
        let params: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
        if crate::command::is_toolchain_export(&f.name, &params) {
            continue;
        }
        let mut sig = String::new();
        sig.push_str(&ident(&f.name));
        sig.push_str(if is_async { ": async func(" } else { ": func(" });
        for (i, param) in f.params.iter().enumerate() {
            if i > 0 {
                sig.push_str(", ");
            }
            sig.push_str(&ident(&param.name));
            sig.push_str(": ");
            p.ty(&param.ty, &mut sig, 0)?;
        }
        sig.push(')');
        if let Some(ty) = &f.result {
            sig.push_str(" -> ");
            p.ty(ty, &mut sig, 0)?;
        }
        let fdocs = docs(&f.docs);
        p.charge(sig.len() + f.name.len() + fdocs.as_ref().map_or(0, String::len))?;
        desc.functions.push(WitFunction {
            name: f.name.clone(),
            signature: sig,
            docs: fdocs,
        });
    }
    let mut next = 0;
    while let Some(&id) = p.queue.get(next) {
        next += 1;
        if let Some(def) = p.typedef(id)? {
            desc.types.push(def);
        }
    }
    Ok(desc)
}

struct Printer<'a> {
    resolve: &'a Resolve,
    budget: usize,
    seen: HashSet<TypeId>,
    /// Named types referenced so far, to be defined.
    queue: Vec<TypeId>,
}

impl Printer<'_> {
    fn charge(&mut self, bytes: usize) -> Result<(), DescribeError> {
        self.budget = self
            .budget
            .checked_sub(bytes)
            .ok_or(DescribeError::TooLarge {
                limit: MAX_DESCRIBE_BYTES,
            })?;
        Ok(())
    }

    /// Writes a reference to `ty`: its name if it has one (queueing its definition), else its
    /// anonymous spelling.
    fn ty(&mut self, ty: &WitType, out: &mut String, depth: usize) -> Result<(), DescribeError> {
        if depth > MAX_DEPTH {
            return Err(DescribeError::TooDeep { limit: MAX_DEPTH });
        }
        if out.len() > MAX_DESCRIBE_BYTES {
            return Err(DescribeError::TooLarge {
                limit: MAX_DESCRIBE_BYTES,
            });
        }
        let d = depth + 1;
        let id = match ty {
            WitType::Bool => return push(out, "bool"),
            WitType::U8 => return push(out, "u8"),
            WitType::U16 => return push(out, "u16"),
            WitType::U32 => return push(out, "u32"),
            WitType::U64 => return push(out, "u64"),
            WitType::S8 => return push(out, "s8"),
            WitType::S16 => return push(out, "s16"),
            WitType::S32 => return push(out, "s32"),
            WitType::S64 => return push(out, "s64"),
            WitType::F32 => return push(out, "f32"),
            WitType::F64 => return push(out, "f64"),
            WitType::Char => return push(out, "char"),
            WitType::String => return push(out, "string"),
            WitType::ErrorContext => return push(out, "error-context"),
            WitType::Id(id) => *id,
        };
        let resolve = self.resolve;
        let Some(def) = resolve.types.get(id) else {
            return push(out, "unknown");
        };
        if let Some(name) = &def.name {
            if self.seen.insert(id) {
                self.queue.push(id);
            }
            return push(out, &ident(name));
        }
        self.anonymous(&def.kind, out, d)
    }

    /// Writes the spelling of a type without a name.
    fn anonymous(
        &mut self,
        kind: &TypeDefKind,
        out: &mut String,
        d: usize,
    ) -> Result<(), DescribeError> {
        match kind {
            TypeDefKind::Type(t) => self.ty(t, out, d),
            TypeDefKind::List(t) => self.generic("list", &[t], out, d),
            TypeDefKind::Option(t) => self.generic("option", &[t], out, d),
            TypeDefKind::Map(k, v) => self.generic("map", &[k, v], out, d),
            TypeDefKind::FixedLengthList(t, n) => {
                push(out, "list<")?;
                self.ty(t, out, d)?;
                push(out, &format!(", {n}>"))
            }
            TypeDefKind::Tuple(t) => {
                let types: Vec<&WitType> = t.types.iter().collect();
                self.generic("tuple", &types, out, d)
            }
            TypeDefKind::Result(r) => match (&r.ok, &r.err) {
                (None, None) => push(out, "result"),
                (Some(ok), None) => self.generic("result", &[ok], out, d),
                (None, Some(err)) => {
                    push(out, "result<_, ")?;
                    self.ty(err, out, d)?;
                    push(out, ">")
                }
                (Some(ok), Some(err)) => self.generic("result", &[ok, err], out, d),
            },
            TypeDefKind::Future(t) | TypeDefKind::Stream(t) => {
                let name = if matches!(kind, TypeDefKind::Future(_)) {
                    "future"
                } else {
                    "stream"
                };
                match t {
                    Some(t) => self.generic(name, &[t], out, d),
                    None => push(out, name),
                }
            }
            TypeDefKind::Handle(Handle::Own(r)) => self.ty(&WitType::Id(*r), out, d),
            TypeDefKind::Handle(Handle::Borrow(r)) => {
                push(out, "borrow<")?;
                self.ty(&WitType::Id(*r), out, d)?;
                push(out, ">")
            }
            // Not expressible without a name in WIT; written as a description.
            TypeDefKind::Record(_)
            | TypeDefKind::Variant(_)
            | TypeDefKind::Enum(_)
            | TypeDefKind::Flags(_)
            | TypeDefKind::Resource
            | TypeDefKind::Unknown => push(out, &format!("/* anonymous {} */", kind.as_str())),
        }
    }

    fn generic(
        &mut self,
        name: &str,
        args: &[&WitType],
        out: &mut String,
        d: usize,
    ) -> Result<(), DescribeError> {
        push(out, name)?;
        push(out, "<")?;
        for (i, t) in args.iter().enumerate() {
            if i > 0 {
                push(out, ", ")?;
            }
            self.ty(t, out, d)?;
        }
        push(out, ">")
    }

    /// The WIT definition of a named type.
    fn typedef(&mut self, id: TypeId) -> Result<Option<WitTypeDef>, DescribeError> {
        let resolve = self.resolve;
        let Some(def) = resolve.types.get(id) else {
            return Ok(None);
        };
        let Some(name) = &def.name else {
            return Ok(None);
        };
        let name_text = ident(name);
        let mut out = String::new();
        doc_lines(&mut out, &def.docs, "");
        match &def.kind {
            TypeDefKind::Record(r) => {
                push(&mut out, &format!("record {name_text} {{\n"))?;
                for f in &r.fields {
                    doc_lines(&mut out, &f.docs, "    ");
                    push(&mut out, &format!("    {}: ", ident(&f.name)))?;
                    self.ty(&f.ty, &mut out, 0)?;
                    push(&mut out, ",\n")?;
                }
                push(&mut out, "}")?;
            }
            TypeDefKind::Variant(v) => {
                push(&mut out, &format!("variant {name_text} {{\n"))?;
                for c in &v.cases {
                    doc_lines(&mut out, &c.docs, "    ");
                    push(&mut out, &format!("    {}", ident(&c.name)))?;
                    if let Some(t) = &c.ty {
                        push(&mut out, "(")?;
                        self.ty(t, &mut out, 0)?;
                        push(&mut out, ")")?;
                    }
                    push(&mut out, ",\n")?;
                }
                push(&mut out, "}")?;
            }
            TypeDefKind::Enum(e) => {
                push(&mut out, &format!("enum {name_text} {{\n"))?;
                for c in &e.cases {
                    doc_lines(&mut out, &c.docs, "    ");
                    push(&mut out, &format!("    {},\n", ident(&c.name)))?;
                }
                push(&mut out, "}")?;
            }
            TypeDefKind::Flags(f) => {
                push(&mut out, &format!("flags {name_text} {{\n"))?;
                for flag in &f.flags {
                    doc_lines(&mut out, &flag.docs, "    ");
                    push(&mut out, &format!("    {},\n", ident(&flag.name)))?;
                }
                push(&mut out, "}")?;
            }
            TypeDefKind::Resource => push(&mut out, &format!("resource {name_text};"))?,
            other => {
                push(&mut out, &format!("type {name_text} = "))?;
                self.anonymous(other, &mut out, 1)?;
                push(&mut out, ";")?;
            }
        }
        let docs = docs(&def.docs);
        self.charge(out.len() + name.len())?;
        Ok(Some(WitTypeDef {
            name: name.clone(),
            wit: out,
            docs,
        }))
    }
}

fn push(out: &mut String, s: &str) -> Result<(), DescribeError> {
    if out.len() + s.len() > MAX_DESCRIBE_BYTES {
        return Err(DescribeError::TooLarge {
            limit: MAX_DESCRIBE_BYTES,
        });
    }
    out.push_str(s);
    Ok(())
}

fn docs(d: &Docs) -> Option<String> {
    d.contents.clone().filter(|c| !c.is_empty())
}

fn doc_lines(out: &mut String, d: &Docs, indent: &str) {
    if let Some(c) = &d.contents {
        for line in c.lines() {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}

/// WIT keywords (as wit-parser lexes them): an identifier spelled like one must be written
/// `%`-escaped in WIT source.
pub const WIT_KEYWORDS: &[&str] = &[
    "as",
    "async",
    "bool",
    "borrow",
    "char",
    "constructor",
    "enum",
    "error-context",
    "export",
    "f32",
    "f64",
    "flags",
    "from",
    "func",
    "future",
    "import",
    "include",
    "interface",
    "list",
    "map",
    "option",
    "own",
    "package",
    "record",
    "resource",
    "result",
    "s16",
    "s32",
    "s64",
    "s8",
    "static",
    "stream",
    "string",
    "tuple",
    "type",
    "u16",
    "u32",
    "u64",
    "u8",
    "use",
    "variant",
    "with",
    "world",
];

/// A WIT identifier, `%`-escaped when it is a keyword.
fn ident(name: &str) -> String {
    if WIT_KEYWORDS.contains(&name) {
        format!("%{name}")
    } else {
        name.to_string()
    }
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::KITCHEN_SINK;

    fn describe(wat: &str) -> Result<WitDescription, DescribeError> {
        describe_wit(&wat::parse_str(wat).expect("wat"))
    }

    #[test]
    fn named_signatures_and_types() {
        let d = describe(KITCHEN_SINK).expect("describe");
        let sigs: Vec<&str> = d.functions.iter().map(|f| f.signature.as_str()).collect();
        assert_eq!(
            sigs[1..],
            [
                "greet: func(name: string) -> string",
                "nothing: func()",
                "takes-res: func(r: res)"
            ]
        );
        assert_eq!(
            sigs[0],
            "all: func(b: bool, %s8: s8, %u8: u8, %s16: s16, %u16: u16, %s32: s32, %u32: u32, \
             %s64: s64, %u64: u64, %f32: f32, %f64: f64, c: char, s: string, bytes: list<u8>, \
             pair: tuple<u8, string>, point: point, shape: shape, color: color, opt: option<u32>, \
             opt2: option<option<u32>>, res: result<u32, string>, res-unit: result<_, string>, \
             res-none: result, perm: perm, points: list<point>, opts: opts, \
             %map: map<string, u32>, fixed: list<u8, 3>) -> string"
        );
        let types: Vec<(&str, &str)> = d
            .types
            .iter()
            .map(|t| (t.name.as_str(), t.wit.as_str()))
            .collect();
        assert_eq!(
            types,
            [
                ("point", "record point {\n    x: s32,\n    y: s32,\n}"),
                (
                    "shape",
                    "variant shape {\n    circle(f64),\n    at(point),\n    empty,\n}"
                ),
                ("color", "enum color {\n    red,\n    green,\n    blue,\n}"),
                ("perm", "flags perm {\n    read,\n    write,\n    exec,\n}"),
                (
                    "opts",
                    "record opts {\n    name: string,\n    nick: option<string>,\n}"
                ),
                ("res", "resource res;"),
            ]
        );
    }

    #[test]
    fn docs_from_package_docs_section() {
        let docs = r#"{"worlds": {"root": {"docs": "A test world.", "func_exports": {"greet": {"docs": "Says hello."}}, "types": {"point": {"docs": "A point.", "items": {"x": "Across."}}}}}}"#;
        let wat = KITCHEN_SINK.trim_end().trim_end_matches(')').to_string()
            + &format!(
                "(@custom \"package-docs\" \"\\01{}\"))",
                docs.replace('"', "\\\"")
            );
        let d = describe(&wat).expect("describe");
        assert_eq!(d.world, "root");
        assert_eq!(d.docs.as_deref(), Some("A test world."));
        let greet = d
            .functions
            .iter()
            .find(|f| f.name == "greet")
            .expect("greet");
        assert_eq!(greet.docs.as_deref(), Some("Says hello."));
        let point = d.types.iter().find(|t| t.name == "point").expect("point");
        assert_eq!(point.docs.as_deref(), Some("A point."));
        assert_eq!(
            point.wit,
            "/// A point.\nrecord point {\n    /// Across.\n    x: s32,\n    y: s32,\n}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\0asm",
            b"\0asm\x0d\0\x01\0\xff\xff\xff",
            b"not wasm at all",
        ] {
            assert!(
                matches!(describe_wit(bytes), Err(DescribeError::Decode(_))),
                "{bytes:?}"
            );
        }
        // An empty component is fine, and has nothing to describe.
        let empty = describe_wit(b"\0asm\x0d\0\x01\0").expect("empty component");
        assert!(empty.functions.is_empty() && empty.types.is_empty());
        // A core module has no exported functions to describe.
        let module = wat::parse_str("(module)").expect("wat");
        assert!(describe_wit(&module).is_ok_and(|d| d.functions.is_empty()));
    }

    #[test]
    fn deeply_nested_type_is_bounded() {
        let ty = |n: usize| format!("{}u8{}", "(list ".repeat(n), ")".repeat(n));
        let wat = |n: usize| {
            format!(
                "(component (import \"f\" (func $f (param \"p\" {}))) (export \"f\" (func $f)))",
                ty(n)
            )
        };
        assert_eq!(
            describe(&wat(70)),
            Err(DescribeError::TooDeep { limit: MAX_DEPTH })
        );
        let ok = describe(&wat(10)).expect("shallow");
        assert_eq!(
            ok.functions[0].signature,
            format!("f: func(p: {}u8{})", "list<".repeat(10), ">".repeat(10))
        );
    }

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(ident("type"), "%type");
        assert_eq!(ident("point"), "point");
    }
}
