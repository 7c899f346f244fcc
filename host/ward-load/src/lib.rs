//! Load: bounded read, component checks, digest, compile once and cache the compiled artifact on disk.
