//! wardd's integration tests: real Unix sockets, a real store in a temporary home, real plugins; one test binary with a module per subject.

mod confirm;
mod daemon;
mod proposals;
