//! ward's encrypted secret store (skeleton).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
