//! End-to-end and adversarial tests of ward live in `tests/`; this library is empty.
