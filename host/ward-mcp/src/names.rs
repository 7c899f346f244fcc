//! MCP tool names for ward commands.
//!
//! MCP clients accept tool names of 1 to 64 characters from `A-Z a-z 0-9 _ -` (the strictest
//! common rule). A command becomes `NAMESPACE_NAME__COMMAND` (`example:hello` `greet` ->
//! `example_hello__greet`); a name that would be too long, or that clashes with another tool,
//! is cut and given a suffix from the SHA-256 of the plugin and command, so every tool keeps a
//! distinct, stable name. The server maps names back through the table it built, never by
//! parsing them.

use sha2::Digest as _;

/// Longest tool name produced. Threat: a client refusing, or silently truncating into a
/// collision, names longer than it accepts.
pub const MAX_TOOL_NAME: usize = 64;

/// Characters of the hash suffix added to a cut or clashing name.
const SUFFIX_HEX: usize = 8;

/// The tools `ward mcp` adds beside the plugins' commands.
pub const RESERVED: [&str; 2] = [PROPOSE_TOOL, CONFIRMATION_TOOL];

/// Submits a proposal for a new capability.
pub const PROPOSE_TOOL: &str = "propose_capability";

/// Reads the state of a pending confirmation.
pub const CONFIRMATION_TOOL: &str = "confirmation_status";

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn with_suffix(base: &str, plugin: &str, command: &str) -> String {
    let hash = hex::encode(sha2::Sha256::digest(
        format!("{plugin}\n{command}").as_bytes(),
    ));
    let keep = MAX_TOOL_NAME - SUFFIX_HEX - 1;
    let cut: String = base.chars().take(keep).collect();
    format!("{cut}_{}", &hash[..SUFFIX_HEX])
}

/// The tool name for `command` of `plugin`, distinct from every name in `taken`.
pub fn tool_name(plugin: &str, command: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let base = format!("{}__{}", clean(plugin), clean(command));
    if base.len() <= MAX_TOOL_NAME && !taken(&base) && !RESERVED.contains(&base.as_str()) {
        return base;
    }
    with_suffix(&base, plugin, command)
}

/// Whether `name` follows the tool-name rule above.
pub fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_table() {
        let none = |_: &str| false;
        for (plugin, command, want) in [
            ("example:hello", "greet", "example_hello__greet"),
            ("example:hello", "check-name", "example_hello__check-name"),
            ("local:my.tool", "run", "local_my_tool__run"),
            ("ns:naïve", "x", "ns_na_ve__x"),
        ] {
            let got = tool_name(plugin, command, &none);
            assert_eq!(got, want);
            assert!(is_valid(&got));
        }
        let long = tool_name(&format!("ns:{}", "a".repeat(80)), "cmd", &none);
        assert_eq!(long.len(), MAX_TOOL_NAME);
        assert!(is_valid(&long));
        // Stable across calls, distinct per command.
        assert_eq!(
            long,
            tool_name(&format!("ns:{}", "a".repeat(80)), "cmd", &none)
        );
        assert_ne!(
            long,
            tool_name(&format!("ns:{}", "a".repeat(80)), "cmd2", &none)
        );
        // A clash (`a:b` `c` and `a_b` `c` clean to the same name) gets a suffix.
        let first = tool_name("a:b", "c", &none);
        let second = tool_name("a_b", "c", &|n| n == first);
        assert_eq!(first, "a_b__c");
        assert_ne!(second, first);
        assert!(second.starts_with("a_b__c_"));
        assert!(is_valid(&second));
        for bad in ["", "a b", "a:b", "ä", &"x".repeat(65)] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
