//! A secret value that is wiped from memory when dropped and never printed.

use std::fmt;

use zeroize::Zeroizing;

/// A secret value. Its memory is zeroed on drop; `Debug` and `Display` never show it. Read it
/// with [`SecretValue::expose`] only where it leaves the host (an outbound request).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: Zeroizing<String>) -> Self {
        SecretValue(value)
    }

    /// The value itself. Never log it, never hand it to a guest.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// Length of the value in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretValue").finish_non_exhaustive()
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted:secret]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let v = SecretValue::new(Zeroizing::new("hunter2-very-secret".to_owned()));
        assert_eq!(format!("{v:?}"), "SecretValue { .. }");
        assert_eq!(v.to_string(), "[redacted:secret]");
        assert_eq!(v.expose(), "hunter2-very-secret");
    }
}
