//! WIT-like text for wasmtime's structural [`Type`]s and command signatures.

use wasmtime::component::types::Type;

use crate::{Command, CommandKind};

/// Longest text [`wit_type`] produces; longer types end in `…`.
const MAX_TYPE_TEXT: usize = 160;

/// Deepest nesting [`wit_type`] spells out; deeper parts are written `…`.
const MAX_TYPE_TEXT_DEPTH: usize = 8;

/// Longest text [`wit_signature`] produces; longer signatures end in `…`.
const MAX_SIGNATURE_TEXT: usize = 1024;

/// A short, WIT-like spelling of a type, for messages: `s32`, `list<string>`,
/// `option<u8>`, `record { x: s32, y: s32 }`, `enum { red, green }`.
///
/// wasmtime's types carry no names for records, variants, enums and flags, so those are spelled
/// out structurally (which is not valid WIT); [`crate::describe_wit`] gives the named form.
/// Resources are written `own<resource>` / `borrow<resource>`. The text is at most about 160
/// characters and ends in `…` when cut.
pub fn wit_type(ty: &Type) -> String {
    let mut w = Writer::new(MAX_TYPE_TEXT);
    w.ty(ty, 0);
    w.finish()
}

/// The signature of a command as WIT text, for example `greet: func(name: string) -> string`.
///
/// Types are spelled as by [`wit_type`]; a `wasi:cli/run` program is shown as its `run` function.
pub fn wit_signature(cmd: &Command) -> String {
    let mut w = Writer::new(MAX_SIGNATURE_TEXT);
    w.push(&cmd.name);
    w.push(": ");
    if cmd.is_async {
        w.push("async ");
    }
    w.push("func(");
    for (i, (name, ty)) in cmd.params.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        w.push(name);
        w.push(": ");
        w.ty(ty, 0);
    }
    w.push(")");
    if let Some(ty) = &cmd.result {
        w.push(" -> ");
        w.ty(ty, 0);
    }
    let mut text = w.finish();
    if let CommandKind::CliRun { export } = &cmd.kind {
        text = format!("{text} (from {export})");
    }
    text
}

/// Appends text up to a limit, then a single `…`.
struct Writer {
    out: String,
    max: usize,
    full: bool,
}

impl Writer {
    fn new(max: usize) -> Self {
        Writer {
            out: String::new(),
            max,
            full: false,
        }
    }

    fn push(&mut self, s: &str) {
        if self.full {
            return;
        }
        if self.out.len() + s.len() > self.max {
            let room = self.max.saturating_sub(self.out.len());
            let mut cut = room.min(s.len());
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.out.push_str(&s[..cut]);
            self.out.push('…');
            self.full = true;
        } else {
            self.out.push_str(s);
        }
    }

    fn finish(self) -> String {
        self.out
    }

    fn ty(&mut self, ty: &Type, depth: usize) {
        if self.full {
            return;
        }
        if depth > MAX_TYPE_TEXT_DEPTH {
            self.push("…");
            return;
        }
        let d = depth + 1;
        match ty {
            Type::Bool => self.push("bool"),
            Type::S8 => self.push("s8"),
            Type::U8 => self.push("u8"),
            Type::S16 => self.push("s16"),
            Type::U16 => self.push("u16"),
            Type::S32 => self.push("s32"),
            Type::U32 => self.push("u32"),
            Type::S64 => self.push("s64"),
            Type::U64 => self.push("u64"),
            Type::Float32 => self.push("f32"),
            Type::Float64 => self.push("f64"),
            Type::Char => self.push("char"),
            Type::String => self.push("string"),
            Type::ErrorContext => self.push("error-context"),
            Type::List(l) => {
                self.push("list<");
                self.ty(&l.ty(), d);
                self.push(">");
            }
            Type::FixedLengthList(l) => {
                self.push("list<");
                self.ty(&l.ty(), d);
                self.push(&format!(", {}>", l.len()));
            }
            Type::Map(m) => {
                self.push("map<");
                self.ty(&m.key(), d);
                self.push(", ");
                self.ty(&m.value(), d);
                self.push(">");
            }
            Type::Option(o) => {
                self.push("option<");
                self.ty(&o.ty(), d);
                self.push(">");
            }
            Type::Result(r) => {
                self.push("result");
                match (r.ok(), r.err()) {
                    (None, None) => {}
                    (Some(ok), None) => {
                        self.push("<");
                        self.ty(&ok, d);
                        self.push(">");
                    }
                    (ok, Some(err)) => {
                        self.push("<");
                        match ok {
                            Some(ok) => self.ty(&ok, d),
                            None => self.push("_"),
                        }
                        self.push(", ");
                        self.ty(&err, d);
                        self.push(">");
                    }
                }
            }
            Type::Tuple(t) => {
                self.push("tuple<");
                for (i, ty) in t.types().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.ty(&ty, d);
                }
                self.push(">");
            }
            Type::Record(r) => {
                self.push("record { ");
                for (i, f) in r.fields().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.push(f.name);
                    self.push(": ");
                    self.ty(&f.ty, d);
                }
                self.push(" }");
            }
            Type::Variant(v) => {
                self.push("variant { ");
                for (i, c) in v.cases().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.push(c.name);
                    if let Some(ty) = &c.ty {
                        self.push("(");
                        self.ty(ty, d);
                        self.push(")");
                    }
                }
                self.push(" }");
            }
            Type::Enum(e) => {
                self.push("enum { ");
                self.push(&join(e.names()));
                self.push(" }");
            }
            Type::Flags(f) => {
                self.push("flags { ");
                self.push(&join(f.names()));
                self.push(" }");
            }
            Type::Own(_) => self.push("own<resource>"),
            Type::Borrow(_) => self.push("borrow<resource>"),
            Type::Future(f) => match f.ty() {
                Some(ty) => {
                    self.push("future<");
                    self.ty(&ty, d);
                    self.push(">");
                }
                None => self.push("future"),
            },
            Type::Stream(s) => match s.ty() {
                Some(ty) => {
                    self.push("stream<");
                    self.ty(&ty, d);
                    self.push(">");
                }
                None => self.push("stream"),
            },
        }
    }
}

/// `a, b, c`, cut short (with `…`) past a few hundred characters.
pub(crate) fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    const MAX: usize = 300;
    let mut out = String::new();
    for (i, n) in names.enumerate() {
        if out.len() > MAX {
            out.push_str(", …");
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(n);
    }
    out
}
