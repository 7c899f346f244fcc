//! Captured stdout and stderr with a byte cap.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

#[derive(Debug, Default)]
struct Inner {
    buf: Mutex<BytesMut>,
    overflowed: AtomicBool,
}

/// An in-memory output stream that holds at most `capacity` bytes.
///
/// A write that would pass the cap stores what fits, records the overflow and traps the guest:
/// a guest that floods its output is stopped rather than allowed to spin on a full pipe.
#[derive(Debug, Clone)]
pub struct CappedPipe {
    capacity: usize,
    inner: Arc<Inner>,
}

impl CappedPipe {
    /// An empty pipe holding at most `capacity` bytes.
    pub fn new(capacity: u64) -> CappedPipe {
        CappedPipe {
            capacity: usize::try_from(capacity).unwrap_or(usize::MAX),
            inner: Arc::default(),
        }
    }

    /// Everything written so far.
    pub fn contents(&self) -> Bytes {
        self.lock().clone().freeze()
    }

    /// Whether a write was cut off by the cap.
    pub fn overflowed(&self) -> bool {
        self.inner.overflowed.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BytesMut> {
        // A poisoned lock only means another writer panicked; the bytes are still valid.
        self.inner.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends as much of `bytes` as fits; returns false when some did not fit.
    fn append(&self, bytes: &[u8]) -> bool {
        let mut buf = self.lock();
        let room = self.capacity.saturating_sub(buf.len());
        let n = room.min(bytes.len());
        buf.extend_from_slice(&bytes[..n]);
        if n < bytes.len() {
            self.inner.overflowed.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }
}

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        if self.append(&bytes) {
            Ok(())
        } else {
            Err(StreamError::trap("output limit reached"))
        }
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always offer room, so that a flood reaches `write` and is stopped there.
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.append(buf) {
            Poll::Ready(Ok(buf.len()))
        } else {
            Poll::Ready(Err(std::io::Error::other("output limit reached")))
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_up_to_capacity_then_overflows() {
        let mut pipe = CappedPipe::new(5);
        assert!(pipe.write(Bytes::from_static(b"abc")).is_ok());
        assert!(!pipe.overflowed());
        assert!(pipe.write(Bytes::from_static(b"defg")).is_err());
        assert!(pipe.overflowed());
        assert_eq!(&pipe.contents()[..], b"abcde");
    }
}
