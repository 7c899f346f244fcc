//! Link: the store state and a WASI linker that grants nothing unless told to.
