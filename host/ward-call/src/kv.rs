//! The key-value capability backed by ward's store: one namespace per plugin name, bounded by
//! the quota in the plugin's signed manifest.

use std::sync::Mutex;

use ward_link::{KeyValue, KvError};
use ward_store::Store;

/// A plugin's namespace in the store. The plugin name is fixed by the host when the call is
/// set up; nothing the guest sends can name another namespace.
pub struct StoreKv {
    store: Mutex<Store>,
    plugin: String,
    quota: u64,
}

impl StoreKv {
    /// `plugin`'s namespace in `store`, bounded by `quota` bytes of keys and values.
    pub fn new(store: Store, plugin: &str, quota: u64) -> StoreKv {
        StoreKv {
            store: Mutex::new(store),
            plugin: plugin.to_owned(),
            quota,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn backend(err: ward_store::StoreError) -> KvError {
    KvError::Backend(err.to_string())
}

impl KeyValue for StoreKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.lock()
            .kv_get(&self.plugin, key.as_bytes())
            .map_err(backend)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        let mut store = self.lock();
        let usage = store.kv_usage(&self.plugin).map_err(backend)?;
        let old = store
            .kv_get(&self.plugin, key.as_bytes())
            .map_err(backend)?
            .map_or(0, |v| (key.len() + v.len()) as u64);
        let after = usage.bytes.saturating_sub(old) + (key.len() + value.len()) as u64;
        if after > self.quota {
            tracing::warn!(plugin = %self.plugin, "denied key-value write: quota of {} bytes reached", self.quota);
            return Err(KvError::QuotaExceeded);
        }
        store
            .kv_put(&self.plugin, key.as_bytes(), value)
            .map_err(backend)
    }

    fn delete(&self, key: &str) -> Result<bool, KvError> {
        self.lock()
            .kv_delete(&self.plugin, key.as_bytes())
            .map_err(backend)
    }
}
