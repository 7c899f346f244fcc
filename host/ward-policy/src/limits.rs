//! Per-call limits and the typed refusal a guest earns by reaching one.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Largest component ward reads, in bytes. A bigger file is refused before it is parsed or
/// compiled: compile work grows with code size and wasmtime does not treat compile-time
/// denial of service as its concern. componentize-py guests are ~18 MiB, so this leaves room.
pub const MAX_COMPONENT_BYTES: u64 = 64 * 1024 * 1024;

/// Longest ward waits for Cranelift to compile one component. A component that takes longer is
/// refused and nothing is cached (a crafted module can make optimising compilers slow).
pub const COMPILE_TIMEOUT: Duration = Duration::from_secs(120);

/// Most functions a component's core modules may define together; bounds compile work and the
/// size of the compiled artifact. The largest real guest ward knows (a componentize-py
/// component) defines ~13,400.
pub const MAX_FUNCTIONS: u64 = 50_000;

/// Largest single function body, in bytes; one giant function is the classic way to make an
/// optimising compiler go quadratic. The largest body of a componentize-py component is ~420 KiB.
pub const MAX_FUNCTION_BODY_BYTES: u64 = 1024 * 1024;

/// Most code bytes (all function bodies) a component may hold; compile time and memory grow with
/// it. A componentize-py component holds ~6.5 MB.
pub const MAX_CODE_BYTES: u64 = 16 * 1024 * 1024;

/// Most of a function's locals times its body bytes: register allocation works on both at once,
/// so a body of many locals costs far more than its size. A componentize-py component reaches
/// ~3.5 Mi.
pub const MAX_LOCALS_TIMES_BODY: u64 = 32 * 1024 * 1024;

/// Per-call limits. Every call runs in a fresh store with exactly these ceilings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Total linear memory of all of the call's instances, in bytes.
    pub memory_bytes: u64,
    /// Elements across all tables.
    pub table_elements: u64,
    /// Core and component instances created by one instantiation.
    pub instances: u64,
    /// Tables created by one instantiation.
    pub tables: u64,
    /// Linear memories created by one instantiation.
    pub memories: u64,
    /// Wall-clock time for instantiation plus the call, enforced by epoch interruption for
    /// running guest code and by a timer for time spent waiting in the host.
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// Fuel (roughly, Wasm instructions) for the call; `None` means unmetered.
    pub fuel: Option<u64>,
    /// Bytes the guest may write to stdout and to stderr, each.
    pub output_bytes: u64,
    /// Bytes of the JSON result returned to the caller.
    pub result_bytes: u64,
    /// Host resources the guest may hold at once (WASI resource handles: open files and
    /// directories, streams, pollables, HTTP requests and bodies). Every host file descriptor
    /// a guest can make ward open is behind one, so this also caps the call's descriptors.
    pub handles: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 * MIB,
            table_elements: 20_000,
            instances: 64,
            tables: 64,
            memories: 16,
            timeout: Duration::from_secs(5),
            fuel: None,
            output_bytes: MIB,
            result_bytes: 4 * MIB,
            handles: DEFAULT_HANDLES,
        }
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Wasm stack the host lets a guest use before it traps with a stack overflow, in bytes.
/// Deep recursion ends here instead of exhausting the host thread's stack.
pub const MAX_WASM_STACK: usize = 512 * 1024;

/// Handles a call may hold at once unless its manifest asks for another number.
pub const DEFAULT_HANDLES: u64 = 256;

/// Most handles a manifest may ask for: the daemon multiplies the per-call figure by its
/// concurrent calls when it sizes its descriptor budget.
pub const MAX_HANDLES: u64 = 4096;

/// Most random bytes a guest may ask the host for in one request; the host allocates them
/// outside the guest's memory limit.
pub const MAX_RANDOM_BYTES: u64 = MIB;

/// A limit a call can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// [`Limits::memory_bytes`]
    Memory,
    /// [`Limits::table_elements`]
    TableElements,
    /// [`Limits::instances`]
    Instances,
    /// [`Limits::tables`]
    Tables,
    /// [`Limits::memories`]
    Memories,
    /// [`Limits::timeout`]
    Time,
    /// [`Limits::fuel`]
    Fuel,
    /// [`Limits::output_bytes`]
    Output,
    /// [`Limits::result_bytes`]
    Result,
    /// [`MAX_WASM_STACK`]
    Stack,
    /// [`Limits::handles`]
    Handles,
    /// [`MAX_RANDOM_BYTES`]
    Random,
}

impl Limit {
    /// The limit's name as it appears in errors, flags and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Memory => "memory",
            Limit::TableElements => "table-elements",
            Limit::Instances => "instances",
            Limit::Tables => "tables",
            Limit::Memories => "memories",
            Limit::Time => "time",
            Limit::Fuel => "fuel",
            Limit::Output => "output",
            Limit::Result => "result",
            Limit::Stack => "stack",
            Limit::Handles => "handles",
            Limit::Random => "random",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A call crossed one of its limits. The call was stopped; the host is unaffected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{limit} limit of {} reached", self.value_text())]
pub struct LimitExceeded {
    /// Which limit.
    pub limit: Limit,
    /// Its configured value, in the limit's unit (bytes, milliseconds, fuel units or a count).
    pub value: u64,
}

impl LimitExceeded {
    /// The limit reached with the value it has in `limits`.
    pub fn of(limit: Limit, limits: &Limits) -> Self {
        let value = match limit {
            Limit::Memory => limits.memory_bytes,
            Limit::TableElements => limits.table_elements,
            Limit::Instances => limits.instances,
            Limit::Tables => limits.tables,
            Limit::Memories => limits.memories,
            Limit::Time => u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
            Limit::Fuel => limits.fuel.unwrap_or(u64::MAX),
            Limit::Output => limits.output_bytes,
            Limit::Result => limits.result_bytes,
            Limit::Stack => MAX_WASM_STACK as u64,
            Limit::Handles => limits.handles,
            Limit::Random => MAX_RANDOM_BYTES,
        };
        LimitExceeded { limit, value }
    }

    /// The value with its unit, as people read it (`64 MiB`, `5s`, `1000000 fuel`).
    pub fn value_text(&self) -> String {
        match self.limit {
            Limit::Memory | Limit::Output | Limit::Result | Limit::Stack | Limit::Random => {
                format_bytes(self.value)
            }
            Limit::Time => format_duration(Duration::from_millis(self.value)),
            Limit::Fuel => format!("{} fuel", self.value),
            Limit::TableElements if self.value == 1 => "1 element".to_owned(),
            Limit::TableElements => format!("{} elements", self.value),
            Limit::Handles => format!("{} handles", self.value),
            Limit::Instances | Limit::Tables | Limit::Memories => self.value.to_string(),
        }
    }
}

/// A limit value on the command line or in a file that ward cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A size that is not a number with an optional unit.
    #[error(
        "invalid size '{0}': write a number of bytes with an optional unit, for example 64MiB, 512KiB or 1048576"
    )]
    Size(String),
    /// A duration that is not a number with a unit.
    #[error("invalid duration '{0}': write a number with a unit, for example 500ms, 5s or 2m")]
    Duration(String),
    /// A count that is not a whole number.
    #[error("invalid number '{0}': write a whole number, for example 1000000")]
    Count(String),
    /// A value that parses but is zero where zero would make every call fail.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}

/// Parses a byte size such as `64MiB`, `512 KiB`, `1GB` or `1048576`. Units are binary
/// (`KiB`, `MiB`, `GiB`); `K`, `KB`, `M`, `MB`, `G`, `GB` are accepted as their binary values.
pub fn parse_size(text: &str) -> Result<u64, ParseError> {
    let err = || ParseError::Size(text.to_owned());
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => KIB,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        _ => return Err(err()),
    };
    n.checked_mul(mult).ok_or_else(err)
}

/// Parses a duration such as `500ms`, `5s`, `2m` or `1h`. A unit is required so that `5`
/// cannot be misread as milliseconds or seconds.
pub fn parse_duration(text: &str) -> Result<Duration, ParseError> {
    let err = || ParseError::Duration(text.to_owned());
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(err()),
    }
    .ok_or_else(err)?;
    Ok(Duration::from_millis(ms))
}

/// Parses a whole number, allowing `_` separators (`1_000_000`).
pub fn parse_count(text: &str) -> Result<u64, ParseError> {
    let cleaned: String = text.trim().chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() || !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Count(text.to_owned()));
    }
    cleaned
        .parse()
        .map_err(|_| ParseError::Count(text.to_owned()))
}

impl Limits {
    /// Checks that no limit is zero where zero would refuse every call.
    pub fn validate(&self) -> Result<(), ParseError> {
        let checks: [(&'static str, u64); 5] = [
            ("memory", self.memory_bytes),
            ("instances", self.instances),
            ("memories", self.memories),
            (
                "timeout",
                u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            ),
            ("fuel", self.fuel.unwrap_or(1)),
        ];
        for (name, value) in checks {
            if value == 0 {
                return Err(ParseError::Zero(name));
            }
        }
        Ok(())
    }
}

/// Formats a byte count with the largest binary unit that divides it exactly.
pub fn format_bytes(n: u64) -> String {
    for (unit, size) in [("GiB", GIB), ("MiB", MIB), ("KiB", KIB)] {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

/// Formats a duration as the shortest exact text (`5s`, `1500ms`, `2m`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms != 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms != 0 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let table: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("1048576", Some(MIB)),
            ("64MiB", Some(64 * MIB)),
            ("64 MiB", Some(64 * MIB)),
            ("512kib", Some(512 * KIB)),
            ("1G", Some(GIB)),
            ("1GB", Some(GIB)),
            ("10b", Some(10)),
            ("", None),
            ("MiB", None),
            ("-1", None),
            ("1.5MiB", None),
            ("1 TiB", None),
            ("99999999999999999999", None),
            ("18446744073709551615GiB", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_size(text).ok(), *want, "{text}");
        }
        assert_eq!(
            parse_size("lots").unwrap_err().to_string(),
            "invalid size 'lots': write a number of bytes with an optional unit, for example 64MiB, 512KiB or 1048576"
        );
    }

    #[test]
    fn durations() {
        let table: &[(&str, Option<u64>)] = &[
            ("500ms", Some(500)),
            ("5s", Some(5000)),
            ("2m", Some(120_000)),
            ("2min", Some(120_000)),
            ("1h", Some(3_600_000)),
            ("5", None),
            ("s", None),
            ("1.5s", None),
            ("5 d", None),
            ("18446744073709551615h", None),
        ];
        for (text, want) in table {
            assert_eq!(
                parse_duration(text).ok().map(|d| d.as_millis() as u64),
                *want,
                "{text}"
            );
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_count("-3"), Err(ParseError::Count("-3".into())));
        assert_eq!(parse_count(""), Err(ParseError::Count("".into())));
        assert_eq!(parse_count("1e6"), Err(ParseError::Count("1e6".into())));
    }

    #[test]
    fn exceeded_messages_name_limit_and_value() {
        let limits = Limits {
            fuel: Some(1_000),
            ..Limits::default()
        };
        let cases = [
            (Limit::Memory, "memory limit of 64 MiB reached"),
            (Limit::Time, "time limit of 5s reached"),
            (Limit::Fuel, "fuel limit of 1000 fuel reached"),
            (Limit::Output, "output limit of 1 MiB reached"),
            (Limit::Result, "result limit of 4 MiB reached"),
            (
                Limit::TableElements,
                "table-elements limit of 20000 elements reached",
            ),
            (Limit::Instances, "instances limit of 64 reached"),
            (Limit::Stack, "stack limit of 512 KiB reached"),
        ];
        for (limit, text) in cases {
            assert_eq!(LimitExceeded::of(limit, &limits).to_string(), text);
        }
    }

    #[test]
    fn zero_limits_are_refused() {
        let limits = Limits {
            memory_bytes: 0,
            ..Limits::default()
        };
        assert_eq!(
            limits.validate().unwrap_err().to_string(),
            "memory must be greater than zero"
        );
        assert!(Limits::default().validate().is_ok());
    }

    #[test]
    fn limits_round_trip_through_serde() {
        let limits = Limits {
            timeout: Duration::from_millis(1500),
            fuel: Some(7),
            ..Limits::default()
        };
        let json = serde_json::to_string(&limits).unwrap();
        assert!(json.contains("\"timeout\":\"1500ms\""), "{json}");
        let back: Limits = serde_json::from_str(&json).unwrap();
        assert_eq!(back, limits);
        assert!(serde_json::from_str::<Limits>(r#"{"memroy_bytes": 1}"#).is_err());
    }
}
