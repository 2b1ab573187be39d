//! The socket wrapper every connection reads and writes through: it reports traffic to
//! the connection's [`ConnectionState`] and turns hyper's own answers to unparseable
//! requests into the API's JSON errors.
//!
//! hyper answers a request it cannot parse (bad request line, bad header bytes, a head
//! over the size limit, a URI too long) by itself, with an empty body, before the
//! service ever sees the request. Such an answer is recognisable on the wire: it is
//! written while no request is in flight, has a 4xx status, `content-length: 0` and no
//! `content-type` — every answer of the API's own carries a JSON body and its type. This
//! wrapper replaces it with the same status and a JSON error body (`connection: close`),
//! so that every error the server sends has a code.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use weir_wire::codes;

use super::registry::{ConnectionState, ConnectionStats};

/// Most bytes of a head looked at to recognise hyper's own error answers.
const MAX_SNIFFED_HEAD: usize = 1024;

/// A socket that reports its traffic.
pub(crate) struct GuardedIo<S> {
    inner: S,
    state: Arc<ConnectionState>,
    stats: Arc<ConnectionStats>,
    max_header_bytes: usize,
    /// A replacement answer being written, and how far; `pretend` is what the caller's
    /// write is acknowledged as once it is out.
    replacing: Option<Replacement>,
}

struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    pretend: usize,
}

impl<S> GuardedIo<S> {
    pub(crate) fn new(
        inner: S,
        state: Arc<ConnectionState>,
        stats: Arc<ConnectionStats>,
        max_header_bytes: usize,
    ) -> Self {
        Self {
            inner,
            state,
            stats,
            max_header_bytes,
            replacing: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = &buf.filled()[before..];
            if !read.is_empty() {
                self.state.on_read(read);
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> GuardedIo<S> {
    /// Writes the replacement answer; ready with the caller's length once all is out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        loop {
            let Some(replacement) = self.replacing.as_mut() else {
                return Poll::Ready(Ok(0));
            };
            if replacement.written >= replacement.bytes.len() {
                let pretend = replacement.pretend;
                self.replacing = None;
                return Poll::Ready(Ok(pretend));
            }
            let rest = &replacement.bytes[replacement.written..];
            match Pin::new(&mut self.inner).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    replacement.written += n;
                    self.state.on_write(true);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.state.on_write(false);
                    return Poll::Pending;
                }
            }
        }
    }

    /// Starts replacing `head` (of `len` bytes in all) when it is hyper's own error answer.
    fn sniff(&mut self, head: &[u8], len: usize) -> bool {
        if self.state.is_busy() {
            return false;
        }
        let Some(bytes) = replacement_for(head, self.max_header_bytes) else {
            return false;
        };
        self.stats.count_parse_error();
        self.replacing = Some(Replacement {
            bytes,
            written: 0,
            pretend: len,
        });
        true
    }

    fn account<T>(&self, polled: &Poll<io::Result<T>>) {
        match polled {
            Poll::Ready(Ok(_)) => self.state.on_write(true),
            Poll::Pending => self.state.on_write(false),
            Poll::Ready(Err(_)) => {}
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_some() || this.sniff(buf, buf.len()) {
            return this.poll_replacement(cx);
        }
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.account(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let total = bufs.iter().map(|b| b.len()).sum();
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
        if this.replacing.is_some() || this.sniff(first, total) {
            return this.poll_replacement(cx);
        }
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.account(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The JSON answer replacing `head`, when `head` is hyper's bodiless answer to a request
/// it could not parse.
pub(crate) fn replacement_for(head: &[u8], max_header_bytes: usize) -> Option<Vec<u8>> {
    let head = &head[..head.len().min(MAX_SNIFFED_HEAD)];
    if !head.starts_with(b"HTTP/1.") {
        return None;
    }
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut response = httparse::Response::new(&mut headers);
    if !matches!(response.parse(head), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let status = response.code?;
    if !(400..500).contains(&status) {
        return None;
    }
    let mut empty = false;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-type") {
            return None;
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            empty = header.value == b"0";
        }
    }
    if !empty {
        return None;
    }
    let (code, message) = match status {
        431 => (
            codes::HEADERS_TOO_LARGE,
            format!(
                "the request head is over the limit of {max_header_bytes} bytes \
                 (limits.max_header_bytes); send fewer or smaller headers"
            ),
        ),
        414 => (
            codes::URI_TOO_LONG,
            "the request URI is too long; send long values in the body".to_owned(),
        ),
        _ => (
            codes::MALFORMED_REQUEST,
            "the request is not valid HTTP/1.1: check the request line and that header \
             names and values contain only allowed bytes"
                .to_owned(),
        ),
    };
    let mut date = String::new();
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("date")
            && let Ok(value) = std::str::from_utf8(header.value)
        {
            date = format!("date: {value}\r\n");
        }
    }
    let status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    Some(crate::ApiError::new(status, code, message).http1_close_answer(&date))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(bytes: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_owned(), serde_json::from_str(body).unwrap())
    }

    #[test]
    fn hypers_bodiless_parse_errors_become_json_errors() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 10:00:00 GMT\r\n\r\n";
        let (head, body) = answer(&replacement_for(hyper_431, 65536).unwrap());
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains("connection: close"));
        assert!(head.contains("date: Wed, 02 Dec 2026"));
        assert_eq!(body["code"], "HEADERS_TOO_LARGE");
        assert!(body["message"].as_str().unwrap().contains("65536"));

        let hyper_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        let (head, body) = answer(&replacement_for(hyper_400, 1).unwrap());
        assert!(head.starts_with("HTTP/1.1 400 Bad Request"));
        assert_eq!(body["code"], "MALFORMED_REQUEST");
    }

    #[test]
    fn the_apis_own_answers_are_left_alone() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(ours, 1).is_none());
        let with_body = b"HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\n\r\n";
        assert!(replacement_for(with_body, 1).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(ok, 1).is_none());
        assert!(replacement_for(b"{\"body\":1}", 1).is_none());
        assert!(replacement_for(b"HTTP/1.1 400 Bad", 1).is_none());
    }
}
