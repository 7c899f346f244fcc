//! Instantiate and call: one engine per process, cached pre-instantiation, a fresh store per call, limits.
