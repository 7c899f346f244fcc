//! End-to-end and adversarial tests live in tests/.
