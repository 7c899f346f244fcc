//! The engine configuration and the epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the engine's epoch advances. A call's wall-clock limit is enforced with this
/// granularity for running guest code.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Largest linear memory any call may be granted, in bytes; per-call limits are lower.
const MAX_MEMORY_SIZE: usize = 1 << 30;
/// Memories the pool keeps at once, across all concurrent calls.
const POOL_MEMORIES: u32 = 256;
/// Core instances the pool keeps at once, across all concurrent calls.
const POOL_CORE_INSTANCES: u32 = 1024;
/// Component instances the pool keeps at once (one per concurrent call).
const POOL_COMPONENT_INSTANCES: u32 = 256;
/// Bytes of each linear memory and table that are reset with `memset` and stay mapped when an
/// instance is dropped; the rest is returned to the kernel (`madvise`). Either way the next
/// instance in the slot starts from the module's initial memory, but the kept part costs it no
/// page faults and no TLB shootdown, which is most of a small call's cost under load. Only slots
/// in use keep it: at most this much per concurrent call.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// The configuration every ward engine uses: the component model, Cranelift, the pooling
/// allocator, epoch interruption (time limits), fuel metering (optional fuel limits) and a
/// bounded Wasm stack. The compiled-artifact cache is keyed by these settings.
pub fn engine_config() -> Config {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_COMPONENT_INSTANCES)
        .total_core_instances(POOL_CORE_INSTANCES)
        .total_memories(POOL_MEMORIES)
        .total_tables(POOL_CORE_INSTANCES)
        .total_stacks(POOL_COMPONENT_INSTANCES)
        .max_memory_size(MAX_MEMORY_SIZE)
        .max_core_instances_per_component(128)
        .max_memories_per_component(32)
        .max_tables_per_component(128)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES)
        // Where the kernel offers PAGEMAP_SCAN (Linux 6.7+), only the pages a call dirtied are
        // reset, instead of the first KEEP_RESIDENT_BYTES: a small call touches a few pages of a
        // megabyte-sized memory. Elsewhere the reset falls back to the above.
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .concurrency_support(false)
        .epoch_interruption(true)
        .consume_fuel(true)
        .max_wasm_stack(ward_policy::MAX_WASM_STACK)
        .async_stack_size(ward_policy::MAX_WASM_STACK + 1024 * 1024)
        .parallel_compilation(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

/// Epoch ticks for a wall-clock `timeout` (at least one).
pub(crate) fn deadline_ticks(timeout: Duration) -> u64 {
    let ticks = timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos());
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let _ = std::thread::Builder::new()
            .name("ward-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            });
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up() {
        assert_eq!(deadline_ticks(Duration::from_millis(0)), 1);
        assert_eq!(deadline_ticks(Duration::from_millis(1)), 1);
        assert_eq!(deadline_ticks(Duration::from_millis(10)), 1);
        assert_eq!(deadline_ticks(Duration::from_millis(11)), 2);
        assert_eq!(deadline_ticks(Duration::from_secs(5)), 500);
    }
}
