//! The per-call resource limiter.

use ward_policy::{Limit, Limits};
use wasmtime::ResourceLimiter;

/// Enforces a call's memory, table and instance ceilings and remembers which one was crossed,
/// so the call's error can name it.
///
/// Growth past a ceiling is refused the way WebAssembly expects (`memory.grow` returns -1), so a
/// guest that handles failure keeps running; one that does not traps, and the recorded limit
/// explains why.
#[derive(Debug)]
pub struct Limiter {
    memory_limit: u64,
    table_limit: u64,
    instances: usize,
    tables: usize,
    memories: usize,
    memory_total: u64,
    table_total: u64,
    exceeded: Option<Limit>,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Limiter {
        Limiter {
            memory_limit: limits.memory_bytes,
            table_limit: limits.table_elements,
            instances: usize::try_from(limits.instances).unwrap_or(usize::MAX),
            tables: usize::try_from(limits.tables).unwrap_or(usize::MAX),
            memories: usize::try_from(limits.memories).unwrap_or(usize::MAX),
            memory_total: 0,
            table_total: 0,
            exceeded: None,
        }
    }

    /// The first limit that was crossed, if any.
    pub fn exceeded(&self) -> Option<Limit> {
        self.exceeded
    }

    fn record(&mut self, limit: Limit) {
        self.exceeded.get_or_insert(limit);
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_total
            .saturating_sub(current as u64)
            .saturating_add(desired as u64);
        if total > self.memory_limit {
            self.record(Limit::Memory);
            return Ok(false);
        }
        self.memory_total = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .table_total
            .saturating_sub(current as u64)
            .saturating_add(desired as u64);
        if total > self.table_limit {
            self.record(Limit::TableElements);
            return Ok(false);
        }
        self.table_total = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}
