//! Keys, signatures and trust for ward plugins.
#![forbid(unsafe_code)]
