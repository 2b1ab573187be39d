//! Response bodies: a whole body built in memory, or a stream of chunks fed by a task.
//!
//! Almost every answer is a small JSON document built in one piece
//! ([`ResponseBody::full`]). Answers that can outgrow what one request should pin in
//! memory (the dead-letter export) are streamed instead: a producer task sends chunks
//! through a bounded channel ([`ResponseBody::channel`]), so at most
//! [`STREAM_CHUNKS_IN_FLIGHT`] chunks wait for a slow client. When the client goes away
//! the body is dropped, the channel closes, and the producer's next send fails, which is
//! its signal to stop.
//!
//! A stream cannot change its status once the head is sent: a failure mid-stream ends
//! the body with [`StreamAborted`], which the connection turns into a truncated
//! response (HTTP/1.1 closes without the last chunk; HTTP/2 resets the stream).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Chunks a streamed body buffers ahead of the client. Each chunk is one serialised
/// item, so this bounds the memory a slow reader pins.
pub(crate) const STREAM_CHUNKS_IN_FLIGHT: usize = 8;

/// The body of every response the API sends.
#[derive(Debug)]
pub struct ResponseBody(Inner);

#[derive(Debug)]
enum Inner {
    Full(Full<Bytes>),
    Stream(mpsc::Receiver<Result<Bytes, StreamAborted>>),
}

/// Why a streamed body ended before its end: the producer failed after the head was
/// sent. The message is for logs; clients see a truncated body.
#[derive(Debug, Clone, thiserror::Error)]
#[error("response stream aborted: {0}")]
pub struct StreamAborted(pub(crate) String);

/// The sending end of a streamed body.
pub(crate) type ChunkSender = mpsc::Sender<Result<Bytes, StreamAborted>>;

impl ResponseBody {
    /// A body held in memory.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        Self(Inner::Full(Full::new(bytes.into())))
    }

    /// An empty body.
    pub(crate) fn empty() -> Self {
        Self::full(Bytes::new())
    }

    /// A streamed body and the sender that feeds it. The body ends when every sender is
    /// dropped.
    pub(crate) fn channel() -> (ChunkSender, Self) {
        let (sender, receiver) = mpsc::channel(STREAM_CHUNKS_IN_FLIGHT);
        (sender, Self(Inner::Stream(receiver)))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = StreamAborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamAborted>>> {
        match &mut self.get_mut().0 {
            Inner::Full(full) => Pin::new(full)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            Inner::Stream(receiver) => receiver
                .poll_recv(cx)
                .map(|chunk| chunk.map(|chunk| chunk.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Full(full) => full.is_end_stream(),
            Inner::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Full(full) => full.size_hint(),
            Inner::Stream(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_streamed_body_ends_when_the_sender_is_dropped() {
        let (sender, body) = ResponseBody::channel();
        tokio::spawn(async move {
            for chunk in ["a", "b", "c"] {
                sender.send(Ok(Bytes::from(chunk))).await.unwrap();
            }
        });
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected, Bytes::from("abc"));
    }

    #[tokio::test]
    async fn an_aborted_stream_is_an_error() {
        let (sender, body) = ResponseBody::channel();
        sender.send(Ok(Bytes::from("a"))).await.unwrap();
        sender
            .send(Err(StreamAborted("store failed".into())))
            .await
            .unwrap();
        drop(sender);
        assert!(body.collect().await.is_err());
    }

    #[tokio::test]
    async fn a_full_body_reports_its_size() {
        let body = ResponseBody::full("hello");
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(
            body.collect().await.unwrap().to_bytes(),
            Bytes::from("hello")
        );
    }
}
