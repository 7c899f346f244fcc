//! The `wasi:http` send_request hook that sends only what a plugin was granted (in progress).
