//! Secret names: the same rule as a secret name in the manifest.

use crate::SecretError;

/// Longest secret name; the manifest's limit for secret and environment variable names.
pub const MAX_NAME_LEN: usize = 128;

/// Checks a secret name: `[A-Z_][A-Z0-9_]*`, at most [`MAX_NAME_LEN`] characters, the rule
/// ward-manifest applies to secret names.
pub fn check_name(name: &str) -> Result<(), SecretError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(SecretError::InvalidName {
            name: name.chars().take(MAX_NAME_LEN + 1).collect(),
        })
    }
}

pub(crate) fn is_valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rule_matches_the_manifest() {
        for ok in ["A", "_", "GITHUB_TOKEN", "_X9", "A1_B2"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        let long_ok = "A".repeat(MAX_NAME_LEN);
        assert!(check_name(&long_ok).is_ok());
        let too_long = "A".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "",
            "1A",
            "github_token",
            "A-B",
            "A B",
            "A.B",
            "Ä",
            "A\n",
            too_long.as_str(),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_name("github_token").unwrap_err().to_string(),
            "secret name \"github_token\" is not valid: write A-Z, 0-9 and '_', not starting with a digit, at most 128 characters"
        );
    }
}
