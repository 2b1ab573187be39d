//! Request bodies under a clock: a body that pauses longer than the body read timeout,
//! or arrives slower on average than the minimum rate, ends with [`BodyTimeout`], which
//! the handlers answer `408 REQUEST_TIMEOUT`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::registry::ConnectionStats;

/// Why a request body was cut off.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BodyTimeout(pub(crate) String);

/// A body error: the connection's own, or a [`BodyTimeout`].
pub(crate) type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A request body that must keep arriving.
pub(crate) struct TimedBody<B> {
    inner: B,
    pause: Duration,
    min_rate: u64,
    started: Instant,
    received: u64,
    last_frame: Instant,
    sleep: Pin<Box<Sleep>>,
    stats: Arc<ConnectionStats>,
    failed: bool,
}

impl<B> TimedBody<B> {
    pub(crate) fn new(
        inner: B,
        pause: Duration,
        min_rate: u64,
        stats: Arc<ConnectionStats>,
    ) -> Self {
        let now = Instant::now();
        Self {
            inner,
            pause,
            min_rate,
            started: now,
            received: 0,
            last_frame: now,
            sleep: Box::pin(tokio::time::sleep_until(now + pause)),
            stats,
            failed: false,
        }
    }

    /// When the body, at `received` bytes, falls below the minimum average rate: the
    /// first pause is free, after it `min_rate` bytes a second are owed.
    fn rate_deadline(&self) -> Option<Instant> {
        if self.min_rate == 0 {
            return None;
        }
        let owed_secs = self.received as f64 / self.min_rate as f64;
        Some(self.started + self.pause + Duration::from_secs_f64(owed_secs.min(1e9)))
    }

    fn next_deadline(&self) -> Instant {
        let pause = Instant::now() + self.pause;
        self.rate_deadline().map_or(pause, |rate| rate.min(pause))
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                this.last_frame = Instant::now();
                let next = this.next_deadline();
                this.sleep.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.failed = true;
                this.stats.count_body_timeout();
                let elapsed = this.started.elapsed().as_secs_f64();
                let stalled = this.last_frame.elapsed() >= this.pause;
                let message = if !stalled {
                    format!(
                        "the request body arrived too slowly: {} bytes in {elapsed:.1} s, \
                         below the minimum of {} bytes/s (http.min_body_bytes_per_sec)",
                        this.received, this.min_rate
                    )
                } else {
                    format!(
                        "the request body stalled for {} ms after {} bytes \
                         (http.body_read_timeout_ms)",
                        this.pause.as_millis(),
                        this.received
                    )
                };
                Poll::Ready(Some(Err(Box::new(BodyTimeout(message)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

    /// A body fed one byte every `every` by a task, `chunks` times.
    struct Trickle(mpsc::Receiver<Bytes>);

    impl Body for Trickle {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0
                .poll_recv(cx)
                .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
        }
    }

    fn trickle(chunks: usize, every: Duration) -> Trickle {
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            for _ in 0..chunks {
                tokio::time::sleep(every).await;
                if tx.send(Bytes::from_static(b"x")).await.is_err() {
                    return;
                }
            }
        });
        Trickle(rx)
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out() {
        let body = TimedBody::new(
            trickle(1, Duration::from_secs(60)),
            Duration::from_secs(15),
            0,
            Arc::default(),
        );
        let err = body.collect().await.unwrap_err();
        assert!(err.is::<BodyTimeout>(), "{err}");
        assert!(err.to_string().contains("stalled"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickling_body_falls_below_the_minimum_rate() {
        // One byte every 10 s never pauses longer than 15 s, but owes 1 KiB/s.
        let stats = Arc::new(ConnectionStats::default());
        let body = TimedBody::new(
            trickle(1000, Duration::from_secs(10)),
            Duration::from_secs(15),
            1024,
            Arc::clone(&stats),
        );
        let err = body.collect().await.unwrap_err();
        assert!(err.to_string().contains("too slowly"), "{err}");
        assert_eq!(stats.counts().body_timeouts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_body_arrives_whole() {
        let body = TimedBody::new(
            trickle(20, Duration::from_millis(100)),
            Duration::from_secs(15),
            1,
            Arc::default(),
        );
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len(), 20);
    }
}
