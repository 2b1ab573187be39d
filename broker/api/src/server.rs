//! Serving the [`App`] on a TCP listener: HTTP/1.1 and HTTP/2 (h2c, prior knowledge) on
//! one port, every connection under the [`ConnectionLimits`], with graceful shutdown.
//!
//! Per connection, one task drives hyper's connection future and the connection's
//! deadline (idle, slow head, blocked write; see [`crate::connection::registry`]),
//! closing the connection when it passes, when the registry evicts it to make room, or
//! gracefully when it reached its request limit or the server shuts down. Request bodies
//! are read under the body timeout and minimum rate.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use weir_wire::codes;

use crate::connection::io::GuardedIo;
use crate::connection::registry::{
    Admission, ConnectionHandle, ConnectionState, Connections, Shed,
};
use crate::connection::request_body::TimedBody;
use crate::{ApiError, App, ConnectionLimits, ResponseBody};

/// How long shutdown waits for in-flight requests before dropping connections.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after a failed accept (e.g. `EMFILE`) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);
/// Failed accepts are logged at most once per this interval (with the count since).
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// The longest a refused connection's `503` may take to write.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` with the default [`ConnectionLimits`]; see
/// [`serve_with_limits`].
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with_limits(listener, app, ConnectionLimits::default(), shutdown).await
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish (up to [`SHUTDOWN_GRACE`]) and returns.
///
/// Accept errors (e.g. running out of file descriptors) are counted, logged at most every
/// [`ACCEPT_ERROR_LOG_INTERVAL`] and retried after a short pause rather than ending the
/// server.
pub async fn serve_with_limits(
    listener: TcpListener,
    app: Arc<App>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let connections = Connections::new(limits, Arc::clone(&app.connection_stats));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(app.limits.max_header_bytes.max(8192))
        .keep_alive(true);
    builder
        .http2()
        .max_header_list_size(u32::try_from(app.limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(connections.limits().max_concurrent_streams);
    let (stop, stopping) = watch::channel(false);
    let mut accept_errors = AcceptErrorLog::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = async {
                connections.make_room().await;
                listener.accept().await
            } => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        accept_errors.failed(&connections, &err);
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                match connections.admit() {
                    Admission::Refused => {
                        tokio::spawn(refuse(stream, connections.limits().max_connections));
                    }
                    Admission::Admitted(handle) => {
                        let task = serve_connection(
                            &builder,
                            stream,
                            handle,
                            Arc::clone(&app),
                            Arc::clone(&connections),
                            stopping.clone(),
                        );
                        tokio::spawn(async move {
                            task.await;
                            tracing::trace!(%peer, "connection closed");
                        });
                    }
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop.send(true);
    connections.finish_all();
    let drained = async {
        loop {
            let closed = connections.closed.notified();
            if connections.open_count() == 0 {
                return;
            }
            closed.await;
        }
    };
    tokio::select! {
        () = drained => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("connections still open after the shutdown grace period");
        }
    }
    Ok(())
}

/// The connection's task: hyper's connection under the connection's deadlines.
fn serve_connection(
    builder: &auto::Builder<TokioExecutor>,
    stream: TcpStream,
    handle: ConnectionHandle,
    app: Arc<App>,
    connections: Arc<Connections>,
    mut stopping: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let state = Arc::clone(&handle.state);
    let stats = Arc::clone(connections.stats());
    let io = GuardedIo::new(
        stream,
        Arc::clone(&state),
        Arc::clone(&stats),
        app.limits.max_header_bytes,
    );
    let service = {
        let state = Arc::clone(&state);
        let connections = Arc::clone(&connections);
        service_fn(move |request: Request<Incoming>| {
            let limits = connections.limits();
            let number = state.begin_request();
            let guard = RequestGuard(Arc::clone(&state));
            // The last request this connection may carry. Over HTTP/1 its answer says so
            // itself (`Connection: close`): a graceful shutdown alone can land after the
            // answer left and close the connection under the client's next request,
            // which it then sees cut off. HTTP/2 gets a GOAWAY from the shutdown.
            let last = number >= limits.max_requests_per_connection;
            let close_after = last && request.version() < http::Version::HTTP_2;
            if number == limits.max_requests_per_connection {
                connections.stats().count_request_limit();
                state.ask_to_finish();
            }
            let stats = Arc::clone(connections.stats());
            let request = request.map(|body| {
                TimedBody::new(
                    body,
                    limits.body_read_timeout,
                    limits.min_body_bytes_per_sec,
                    stats,
                )
            });
            let app = Arc::clone(&app);
            async move {
                let mut response = app.handle(request).await;
                if close_after {
                    response.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                }
                Ok::<_, Infallible>(response.map(|body| TrackedBody {
                    body,
                    _guard: guard,
                }))
            }
        })
    };
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .into_owned();
    async move {
        tokio::pin!(connection);
        let limits = connections.limits();
        let mut finishing = false;
        loop {
            let (deadline, _) = state.deadline(limits);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                    break;
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    let (deadline, why) = state.deadline(limits);
                    if let Some(why) = why.filter(|_| deadline <= Instant::now()) {
                        stats.count_shed(why);
                        tracing::debug!(reason = why.label(), "closing a connection");
                        break;
                    }
                }
                () = state.wake.notified() => {
                    if state.is_evicted() {
                        stats.count_shed(Shed::Evicted);
                        tracing::debug!("closing the longest idle connection to make room");
                        break;
                    }
                    if state.wants_finish() && !finishing {
                        finishing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
                _ = stopping.changed(), if !finishing => {
                    finishing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
        drop(handle);
    }
}

/// Answers a connection over the cap with `503 TOO_MANY_CONNECTIONS` and closes it.
async fn refuse(mut stream: TcpStream, max_connections: usize) {
    let answer = ApiError::new(
        http::StatusCode::SERVICE_UNAVAILABLE,
        codes::TOO_MANY_CONNECTIONS,
        format!(
            "the broker is serving as many connections as it may (at most \
             {max_connections}, fewer when file descriptors are short), each with a \
             request in flight; retry shortly"
        ),
    )
    .http1_close_answer("retry-after: 1\r\n");
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        stream.write_all(&answer).await?;
        stream.shutdown().await
    })
    .await;
}

/// Rate-limited logging of failed accepts.
#[derive(Default)]
struct AcceptErrorLog {
    logged: Option<Instant>,
    since: u64,
}

impl AcceptErrorLog {
    fn failed(&mut self, connections: &Connections, err: &std::io::Error) {
        connections.stats().count_accept_error();
        self.since += 1;
        if self
            .logged
            .is_none_or(|at| at.elapsed() >= ACCEPT_ERROR_LOG_INTERVAL)
        {
            tracing::warn!(
                error = %err,
                failures = self.since,
                open = connections.open_count(),
                "accepting connections failed; retrying (is the file descriptor limit too low?)"
            );
            self.logged = Some(Instant::now());
            self.since = 0;
        }
    }
}

/// Marks a request finished when its answer has been handed over or abandoned.
struct RequestGuard(Arc<ConnectionState>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// A response body that ends its request when dropped.
struct TrackedBody {
    body: ResponseBody,
    _guard: RequestGuard,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = <ResponseBody as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
