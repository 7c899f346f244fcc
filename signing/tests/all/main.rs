//! Integration tests of ward-signing: attacks on signed components.
#![allow(clippy::unwrap_used)]

mod attacks;

pub(crate) use ward_signing::MANIFEST_SECTION;
pub(crate) use ward_testkit::component::*;
