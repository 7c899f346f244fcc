//! What an upgrade changes in a plugin's commands: commands added, removed, or whose WIT
//! signature (or a type it uses) changed, read from the two components' WIT. Shown beside the
//! manifest's diff, so that the operator sees a new command before it can be called.

use ward_values::{WitDescription, describe_wit};

/// One line a change: `+ command NAME: SIG`, `- command NAME: SIG`, `~ command NAME: OLD -> NEW`,
/// `~ type NAME: OLD -> NEW` (raw text from the components: the presenter sanitizes it).
pub fn command_changes(old: &WitDescription, new: &WitDescription) -> Vec<String> {
    let mut lines = Vec::new();
    for f in &new.functions {
        match old.functions.iter().find(|o| o.name == f.name) {
            None => lines.push(format!("+ command {}", f.signature)),
            Some(o) if o.signature != f.signature => {
                lines.push(format!("~ command {} -> {}", o.signature, f.signature));
            }
            Some(_) => {}
        }
    }
    for o in &old.functions {
        if !new.functions.iter().any(|f| f.name == o.name) {
            lines.push(format!("- command {}", o.signature));
        }
    }
    for t in &new.types {
        if let Some(o) = old.types.iter().find(|o| o.name == t.name)
            && o.wit != t.wit
        {
            lines.push(format!(
                "~ type {}: {} -> {}",
                t.name,
                one_line(&o.wit),
                one_line(&t.wit)
            ));
        }
    }
    lines
}

/// The command lines between two components' bytes; a component whose WIT cannot be read gives
/// one line saying so instead (the comparison is shown, never a reason to refuse).
pub fn command_changes_of(old: &[u8], new: &[u8]) -> Vec<String> {
    match (describe_wit(old), describe_wit(new)) {
        (Ok(o), Ok(n)) => command_changes(&o, &n),
        (Err(e), _) | (_, Err(e)) => vec![format!("? commands not compared: {e}")],
    }
}

fn one_line(wit: &str) -> String {
    wit.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_values::{WitFunction, WitTypeDef};

    fn desc(functions: &[(&str, &str)], types: &[(&str, &str)]) -> WitDescription {
        WitDescription {
            functions: functions
                .iter()
                .map(|(n, s)| WitFunction {
                    name: (*n).into(),
                    signature: (*s).into(),
                    docs: None,
                })
                .collect(),
            types: types
                .iter()
                .map(|(n, w)| WitTypeDef {
                    name: (*n).into(),
                    wit: (*w).into(),
                    docs: None,
                })
                .collect(),
            ..WitDescription::default()
        }
    }

    #[test]
    fn added_removed_changed() {
        let old = desc(
            &[
                ("greet", "greet: func(name: string) -> string"),
                ("old", "old: func()"),
            ],
            &[("point", "record point {\n    x: s32,\n}")],
        );
        let new = desc(
            &[
                ("greet", "greet: func(name: string, loud: bool) -> string"),
                ("wipe", "wipe: func(path: string)"),
            ],
            &[("point", "record point {\n    x: s64,\n}")],
        );
        assert_eq!(
            command_changes(&old, &new),
            [
                "~ command greet: func(name: string) -> string -> greet: func(name: string, loud: bool) -> string",
                "+ command wipe: func(path: string)",
                "- command old: func()",
                "~ type point: record point { x: s32, } -> record point { x: s64, }",
            ]
        );
        assert!(command_changes(&old, &old).is_empty());
    }
}
