//! `ward:plugin/keyvalue`: a key-value namespace private to the plugin, behind a host-chosen
//! backend (ward's store), bounded by the granted quota.

use crate::State;
use crate::bindings::ward::plugin::keyvalue::{Error, Host};

/// Longest key accepted; a guest cannot make the host store or compare unbounded keys.
pub const MAX_KV_KEY_BYTES: usize = 256;
/// Largest value accepted in one `set`; bounds host memory per call.
pub const MAX_KV_VALUE_BYTES: usize = 1024 * 1024;

/// Why a backend refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The namespace's quota would be passed.
    #[error("key-value quota exceeded")]
    QuotaExceeded,
    /// The backend failed.
    #[error("key-value store failed: {0}")]
    Backend(String),
}

/// A plugin's key-value namespace. The host creates one bound to the plugin being called; every
/// key the guest passes is inside that namespace.
pub trait KeyValue: Send + Sync {
    /// The value under `key`.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Stores `value` under `key`, enforcing the quota.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Removes `key`; whether it existed.
    fn delete(&self, key: &str) -> Result<bool, KvError>;
}

fn map(err: KvError) -> Error {
    match err {
        KvError::QuotaExceeded => Error::QuotaExceeded,
        KvError::Backend(text) => Error::Other(text),
    }
}

impl State {
    fn kv(&self, key: &str) -> Result<&dyn KeyValue, Error> {
        let Some(kv) = self.keyvalue.as_deref() else {
            tracing::warn!(plugin = %self.plugin, "denied key-value access: not granted");
            return Err(Error::Denied);
        };
        if key.len() > MAX_KV_KEY_BYTES {
            return Err(Error::TooLarge);
        }
        Ok(kv)
    }
}

impl Host for State {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        self.kv(&key)?.get(&key).map_err(map)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), Error> {
        let kv = self.kv(&key)?;
        if value.len() > MAX_KV_VALUE_BYTES {
            return Err(Error::TooLarge);
        }
        kv.set(&key, &value).map_err(map)
    }

    fn delete(&mut self, key: String) -> Result<bool, Error> {
        self.kv(&key)?.delete(&key).map_err(map)
    }
}
