//! A plugin instance's standard error, kept in memory: the last [`MAX_STDERR_BYTES`] the
//! guest wrote since its current call began, so that a trap can say what the guest
//! printed before it (a Rust guest prints its panic message there, then aborts with an
//! `unreachable` that tells nothing). It never reaches the broker's log as such: the
//! trap's text is escaped like everything else from a plugin (see [`crate::escape`]).
//!
//! Writes always succeed and never block; older bytes make room for newer ones, so a
//! guest printing in a loop costs a bounded copy and no memory.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use parking_lot::Mutex;
use wasmtime_wasi::async_trait;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::limits::MAX_STDERR_BYTES;

/// The kept end of one instance's standard error; clones share it.
#[derive(Clone, Debug, Default)]
pub(crate) struct GuestStderr {
    tail: Arc<Mutex<VecDeque<u8>>>,
}

impl GuestStderr {
    /// Forgets what was written (at the start of each call).
    pub(crate) fn clear(&self) {
        self.tail.lock().clear();
    }

    /// What was written since the last [`clear`](Self::clear), at most its last
    /// [`MAX_STDERR_BYTES`], as text (invalid UTF-8 replaced), without surrounding
    /// whitespace.
    pub(crate) fn text(&self) -> String {
        let tail = self.tail.lock();
        let (a, b) = tail.as_slices();
        let mut bytes = Vec::with_capacity(tail.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        String::from_utf8_lossy(&bytes).trim().to_string()
    }

    fn push(&self, bytes: &[u8]) {
        let mut tail = self.tail.lock();
        let keep = &bytes[bytes.len().saturating_sub(MAX_STDERR_BYTES)..];
        let overflow = (tail.len() + keep.len()).saturating_sub(MAX_STDERR_BYTES);
        tail.drain(..overflow);
        tail.extend(keep);
    }
}

impl IsTerminal for GuestStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait]
impl Pollable for GuestStderr {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestStderr {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Any amount is taken; this much per write keeps one guest write bounded.
        Ok(MAX_STDERR_BYTES)
    }
}

impl tokio::io::AsyncWrite for GuestStderr {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_what_was_written_is_kept() {
        let stderr = GuestStderr::default();
        let mut stream = stderr.clone();
        stream.write(Bytes::from_static(b"  early\n")).unwrap();
        assert_eq!(stderr.text(), "early");
        let filler = vec![b'x'; MAX_STDERR_BYTES];
        stream.write(Bytes::from(filler)).unwrap();
        stream
            .write(Bytes::from_static(b"panicked at src/lib.rs: boom\n"))
            .unwrap();
        let text = stderr.text();
        assert_eq!(text.len(), MAX_STDERR_BYTES - 1);
        assert!(text.ends_with("panicked at src/lib.rs: boom"));
        assert!(!text.contains("early"));
        stderr.clear();
        assert_eq!(stderr.text(), "");
    }

    #[test]
    fn a_write_larger_than_the_bound_keeps_its_end() {
        let stderr = GuestStderr::default();
        let mut big = vec![b'a'; 3 * MAX_STDERR_BYTES];
        big.extend_from_slice(b"end");
        stderr.clone().write(Bytes::from(big)).unwrap();
        let text = stderr.text();
        assert_eq!(text.len(), MAX_STDERR_BYTES);
        assert!(text.ends_with("aend"));
    }
}
