//! [`Client`], its [`ClientBuilder`], and the one place requests are executed.
//!
//! Owns the connection pool (hyper-util's legacy client: keep-alive, one pool per broker),
//! request timeouts, and the mapping of an answer to a value or a [`ClientError`]. The
//! per-route methods live in `topics.rs`, `send.rs`, `read.rs` and `groups.rs`, each as an
//! `impl Client` block; they never touch hyper directly.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::de::DeserializeOwned;

use crate::endpoint::Endpoint;
use crate::{ClientError, TransportError};

/// How long a request may take, end to end, unless the builder says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long establishing a TCP connection may take unless the builder says otherwise.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle pooled connection is kept; below common server idle timeouts.
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// An async client for one Weir broker.
///
/// Cheap to clone: clones share the connection pool, so create one per broker and clone it
/// into tasks. Requests reuse kept-alive connections (HTTP/1.1), or multiplex over one
/// connection when built with [`ClientBuilder::http2`].
///
/// ```no_run
/// # async fn demo() -> Result<(), weir_client::ClientError> {
/// use weir_client::{Client, OutgoingMessage};
///
/// let client = Client::new("http://127.0.0.1:7700")?;
/// client.create_topic("orders", Some(8)).await?;
/// let sent = client.send("orders", &OutgoingMessage::new("hello").with_key("order-1")).await?;
/// let message = client.get_message(&sent.id).await?;
/// assert_eq!(message.body, "hello");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: HttpClient<HttpConnector, Full<Bytes>>,
    endpoint: Endpoint,
    timeout: Option<Duration>,
}

/// Configures a [`Client`]: protocol, timeouts and pooling.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    http2: bool,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
}

impl ClientBuilder {
    /// A builder for a client of the broker at `base_url` (for example
    /// `http://127.0.0.1:7700`), with the defaults: HTTP/1.1, 30 s request timeout, 5 s
    /// connect timeout.
    pub fn new(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            http2: false,
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: usize::MAX,
        }
    }

    /// Speaks HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1: all requests are
    /// multiplexed over one connection.
    pub fn http2(mut self, enabled: bool) -> ClientBuilder {
        self.http2 = enabled;
        self
    }

    /// Bounds each request, from sending to the last byte of the answer; `None` waits
    /// forever.
    pub fn timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    /// Bounds the establishment of each connection; `None` leaves it to the OS.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// How long an idle connection stays in the pool.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.pool_idle_timeout = timeout;
        self
    }

    /// How many idle connections the pool keeps (default: no limit).
    pub fn pool_max_idle_per_host(mut self, max: usize) -> ClientBuilder {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidUrl`] when the base URL is not a plain `http://` URL.
    pub fn build(self) -> Result<Client, ClientError> {
        let endpoint = Endpoint::parse(&self.base_url)?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(self.connect_timeout);
        // Requests are small and latency matters more than packet count.
        connector.set_nodelay(true);
        let http = HttpClient::builder(TokioExecutor::new())
            .http2_only(self.http2)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .build(connector);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoint,
                timeout: self.timeout,
            }),
        })
    }
}

impl Client {
    /// A client with the default settings for the broker at `base_url`.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidUrl`] when the base URL is not a plain `http://` URL.
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        ClientBuilder::new(base_url).build()
    }

    /// A builder, to choose HTTP/2, timeouts or pooling.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    /// The broker's base URL, normalised (no trailing slash).
    pub fn base_url(&self) -> &str {
        self.inner.endpoint.as_str()
    }

    /// The URI of an already-encoded `path` on this broker.
    pub(crate) fn uri(&self, path: &str) -> Result<Uri, ClientError> {
        self.inner.endpoint.uri(path)
    }

    /// A request without body.
    pub(crate) fn empty_request(
        &self,
        method: Method,
        path: &str,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.method_mut() = method;
        *request.uri_mut() = self.uri(path)?;
        Ok(request)
    }

    /// A request carrying `value` as a JSON body.
    pub(crate) fn json_request<T: serde::Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        value: &T,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let body = serde_json::to_vec(value).map_err(|err| {
            ClientError::InvalidMessage(format!("cannot encode the request as JSON: {err}"))
        })?;
        let mut request = self.empty_request(method, path)?;
        *request.body_mut() = Full::new(Bytes::from(body));
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, APPLICATION_JSON);
        Ok(request)
    }

    /// Sends `request` and returns the status and whole body of a successful (2xx) answer.
    ///
    /// # Errors
    ///
    /// [`ClientError::Api`] for any other status, [`ClientError::Transport`] when no
    /// complete answer arrived within the timeout.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the request; the broker may or may not have acted on
    /// it (a send may be stored).
    pub(crate) async fn execute(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let uri = request.uri().clone();
        let exchange = async {
            let response = self
                .inner
                .http
                .request(request)
                .await
                .map_err(|err| TransportError::new(&uri.to_string(), &err))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|err| TransportError::new(&uri.to_string(), &err))?
                .to_bytes();
            Ok::<_, TransportError>((status, body))
        };
        let (status, body) = match self.inner.timeout {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .map_err(|_| TransportError::timeout(&uri.to_string(), limit))??,
            None => exchange.await?,
        };
        if status.is_success() {
            Ok((status, body))
        } else {
            Err(ClientError::from_error_body(status.as_u16(), &body))
        }
    }

    /// Sends `request` and returns the body of a successful (2xx) answer unread, to be
    /// consumed as it arrives (for answers too large to hold, such as an export).
    ///
    /// The request timeout bounds the wait for the answer's head, then the wait for each
    /// chunk of the body (an idle timeout), not the whole transfer.
    ///
    /// # Errors
    ///
    /// As [`Client::execute`]: an error status gives [`ClientError::Api`] (its body is
    /// read whole, it is small).
    pub(crate) async fn execute_streaming(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<BodyStream, ClientError> {
        let uri = request.uri().to_string();
        let head = async {
            self.inner
                .http
                .request(request)
                .await
                .map_err(|err| TransportError::new(&uri, &err))
        };
        let response = match self.inner.timeout {
            Some(limit) => tokio::time::timeout(limit, head)
                .await
                .map_err(|_| TransportError::timeout(&uri, limit))??,
            None => head.await?,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(BodyStream {
                body: response.into_body(),
                url: uri,
                idle_timeout: self.inner.timeout,
            });
        }
        let collect = response.into_body().collect();
        let body = match self.inner.timeout {
            Some(limit) => tokio::time::timeout(limit, collect)
                .await
                .map_err(|_| TransportError::timeout(&uri, limit))?,
            None => collect.await,
        }
        .map_err(|err| TransportError::new(&uri, &err))?
        .to_bytes();
        Err(ClientError::from_error_body(status.as_u16(), &body))
    }

    /// Sends `request` and decodes the JSON answer as `T`.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<T, ClientError> {
        let (_, body) = self.execute(request).await?;
        decode_json(&body)
    }
}

/// The body of a successful answer, read chunk by chunk as it arrives.
#[derive(Debug)]
pub(crate) struct BodyStream {
    body: Incoming,
    url: String,
    idle_timeout: Option<Duration>,
}

impl BodyStream {
    /// The next chunk of the body; `None` at its end.
    ///
    /// # Errors
    ///
    /// [`ClientError::Transport`] when the connection breaks or no chunk arrives within
    /// the client's timeout.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        loop {
            let frame = match self.idle_timeout {
                Some(limit) => tokio::time::timeout(limit, self.body.frame())
                    .await
                    .map_err(|_| TransportError::timeout(&self.url, limit))?,
                None => self.body.frame().await,
            };
            match frame {
                None => return Ok(None),
                Some(Err(err)) => return Err(TransportError::new(&self.url, &err).into()),
                // Trailers and empty frames carry no data.
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => return Ok(Some(data)),
                    _ => {}
                },
            }
        }
    }
}

/// Decodes a successful answer's JSON body.
pub(crate) fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|err| ClientError::Decode(err.to_string()))
}
