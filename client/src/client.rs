//! [`Client`], its [`ClientBuilder`], and the one place requests are executed.
//!
//! Owns the connection pool (hyper-util's legacy client: keep-alive, one pool per broker),
//! request timeouts, and the mapping of an answer to a value or a [`ClientError`]. The
//! per-route methods live in `topics.rs`, `send.rs`, `read.rs`, `groups.rs`, `plugins.rs`
//! and the others, each as an `impl Client` block; they never touch hyper directly.
//!
//! # Access tokens
//!
//! A broker configured with access tokens wants `Authorization: Bearer <token>` on every
//! request but `/healthz` and the OpenAPI document. A client built with
//! [`ClientBuilder::token`] (or turned into one with [`Client::with_token`]) adds the header
//! to every request it executes, whatever its form (JSON, raw, binary message lists,
//! prepared sends, streamed exports), in the one place requests are executed.
//!
//! # Retries
//!
//! Sends and reads go through [`Client::execute_retrying`], which tries a [`Replayable`]
//! request again under the client's [`RetryPolicy`] (see `retry.rs` for what is retried);
//! every other call is executed once. A retried send carries the ids given to its
//! messages before the first attempt, so a repeat is answered from the stored copy.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::de::DeserializeOwned;

use crate::endpoint::Endpoint;
use crate::message_id::random_fraction;
use crate::retry::{self, RetryPolicy, Verdict};
use crate::{ClientError, SendStatus, TransportError};

/// How long a request may take, end to end, unless the builder says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long establishing a TCP connection may take unless the builder says otherwise.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle pooled connection is kept: below the broker's default idle timeout
/// (30 s, `http.idle_timeout_ms`), so that the client retires a connection before the
/// broker closes it, never reusing one just as the broker's close is on its way.
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

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
    /// The `Authorization` header value, marked sensitive (never printed).
    authorization: Option<HeaderValue>,
    /// How sends and reads are retried.
    retry: RetryPolicy,
}

/// Configures a [`Client`]: protocol, timeouts, pooling and the access token.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    http2: bool,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    token: Option<Secret>,
    retry: RetryPolicy,
}

/// A secret that `Debug` does not print.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The `Authorization` header value for `token`, marked sensitive.
fn bearer(token: &str) -> Result<HeaderValue, ClientError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(ClientError::InvalidToken("the token is empty".to_owned()));
    }
    let unusable = || {
        ClientError::InvalidToken(
            "the token holds characters a bearer token cannot carry (only visible ASCII, \
             no spaces)"
                .to_owned(),
        )
    };
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(unusable());
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| unusable())?;
    value.set_sensitive(true);
    Ok(value)
}

impl ClientBuilder {
    /// A builder for a client of the broker at `base_url` (for example
    /// `http://127.0.0.1:7700`), with the defaults: HTTP/1.1, 30 s request timeout, 5 s
    /// connect timeout, sends and reads retried per [`RetryPolicy::default`].
    pub fn new(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            http2: false,
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: usize::MAX,
            token: None,
            retry: RetryPolicy::default(),
        }
    }

    /// How sends and reads are retried (default: [`RetryPolicy::default`], 3 attempts);
    /// [`RetryPolicy::disabled`] tries everything once. Other calls are never retried.
    pub fn retry(mut self, policy: RetryPolicy) -> ClientBuilder {
        self.retry = policy;
        self
    }

    /// Sends `Authorization: Bearer <token>` with every request, for a broker configured
    /// with access tokens.
    pub fn token(mut self, token: impl Into<String>) -> ClientBuilder {
        self.token = Some(Secret(token.into()));
        self
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

    /// How long an idle connection stays in the pool (default 20 s). Keep it below the
    /// broker's `http.idle_timeout_ms`.
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
    /// [`ClientError::InvalidUrl`] when the base URL is not a plain `http://` URL,
    /// [`ClientError::InvalidToken`] when the token is empty or not visible ASCII.
    pub fn build(self) -> Result<Client, ClientError> {
        let endpoint = Endpoint::parse(&self.base_url)?;
        let authorization = self
            .token
            .as_ref()
            .map(|Secret(token)| bearer(token))
            .transpose()?;
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
                authorization,
                retry: self.retry,
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

    /// This client with `token` as its access token (replacing any), sharing the
    /// connection pool and settings.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidToken`] when the token is empty or not visible ASCII.
    pub fn with_token(&self, token: &str) -> Result<Client, ClientError> {
        Ok(Client {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                endpoint: self.inner.endpoint.clone(),
                timeout: self.inner.timeout,
                authorization: Some(bearer(token)?),
                retry: self.inner.retry.clone(),
            }),
        })
    }

    /// This client with `policy` as its retry policy, sharing the connection pool and
    /// the other settings.
    pub fn with_retry(&self, policy: RetryPolicy) -> Client {
        Client {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                endpoint: self.inner.endpoint.clone(),
                timeout: self.inner.timeout,
                authorization: self.inner.authorization.clone(),
                retry: policy,
            }),
        }
    }

    /// The retry policy of sends and reads.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// Whether requests carry an access token.
    pub fn has_token(&self) -> bool {
        self.inner.authorization.is_some()
    }

    /// Adds the access token, if any, to `request` (replacing one set by the caller).
    fn authorize(&self, request: &mut Request<Full<Bytes>>) {
        if let Some(value) = &self.inner.authorization {
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, value.clone());
        }
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
        self.attempt(request, self.inner.timeout)
            .await
            .map_err(|(err, _)| err)
    }

    /// [`execute`](Self::execute) for a request the broker may take long to answer
    /// (a module upload compiles the component): it waits at least `at_least`, or the
    /// client's timeout when that is longer or unset.
    pub(crate) async fn execute_patiently(
        &self,
        request: Request<Full<Bytes>>,
        at_least: Duration,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let timeout = self.inner.timeout.map(|limit| limit.max(at_least));
        self.attempt(request, timeout).await.map_err(|(err, _)| err)
    }

    /// One attempt of `request`: the status and body of a 2xx answer, or the error with
    /// the answer's `Retry-After`, if any.
    async fn attempt(
        &self,
        mut request: Request<Full<Bytes>>,
        timeout: Option<Duration>,
    ) -> Result<(StatusCode, Bytes), (ClientError, Option<Duration>)> {
        self.authorize(&mut request);
        let uri = request.uri().clone();
        let exchange = async {
            let response = self
                .inner
                .http
                .request(request)
                .await
                .map_err(|err| TransportError::new(&uri.to_string(), &err))?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|value| retry::parse_retry_after(value.as_bytes()));
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|err| TransportError::new(&uri.to_string(), &err))?
                .to_bytes();
            Ok::<_, TransportError>((status, retry_after, body))
        };
        let answer = match timeout {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .unwrap_or_else(|_| Err(TransportError::timeout(&uri.to_string(), limit))),
            None => exchange.await,
        };
        let (status, retry_after, body) = answer.map_err(|err| (err.into(), None))?;
        if status.is_success() {
            Ok((status, body))
        } else {
            Err((
                ClientError::from_error_body(status.as_u16(), &body),
                retry_after,
            ))
        }
    }

    /// Sends `request` under the client's retry policy and returns the whole body of
    /// the final successful answer, with how it went.
    ///
    /// For a [`Retried::Send`], a 2xx answer whose status is not durable
    /// (`FLUSH_DISK_TIMEOUT`, ...) is tried again too when the policy says so; if a later
    /// attempt fails outright, that earlier answer is the result (the send is stored).
    ///
    /// # Cancel safety
    ///
    /// As [`Client::execute`]: dropping the future abandons the attempt under way.
    pub(crate) async fn execute_retrying(&self, request: &Replayable, kind: Retried) -> Tried {
        let policy = &self.inner.retry;
        let allowed = policy.attempts();
        let mut failures: Vec<(ClientError, Verdict)> = Vec::new();
        let mut stored_not_durable: Option<Bytes> = None;
        let mut attempts = 0;
        while attempts < allowed {
            attempts += 1;
            let verdict = match self.attempt(request.request(), self.inner.timeout).await {
                Ok((_, body)) => {
                    let retry_it = kind == Retried::Send
                        && policy.retry_not_durable
                        && attempts < allowed
                        && answered_status(&body).is_some_and(retry::not_durable);
                    if !retry_it {
                        return Tried::new(Ok(body), attempts, failures);
                    }
                    stored_not_durable = Some(body);
                    Verdict {
                        retry: true,
                        maybe_stored: true,
                        retry_after: None,
                    }
                }
                Err((err, retry_after)) => {
                    let verdict = retry::classify(&err, retry_after);
                    failures.push((err, verdict));
                    verdict
                }
            };
            if !verdict.retry || attempts == allowed {
                break;
            }
            tokio::time::sleep(policy.wait(attempts, &verdict, random_fraction())).await;
        }
        match stored_not_durable {
            Some(body) => Tried::new(Ok(body), attempts, failures),
            None => Tried::failed(attempts, failures),
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
        mut request: Request<Full<Bytes>>,
    ) -> Result<BodyStream, ClientError> {
        self.authorize(&mut request);
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

/// What kind of call [`Client::execute_retrying`] repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retried {
    /// A send whose messages all carry ids: a repeat is answered from the stored copy.
    Send,
    /// A read: repeating it changes nothing.
    Read,
}

/// A request that can be sent any number of times: its parts, the body shared.
#[derive(Debug, Clone)]
pub(crate) struct Replayable {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Replayable {
    /// One request to send, sharing the body.
    pub(crate) fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

impl Client {
    /// A replayable request carrying `value` as a JSON body.
    pub(crate) fn replayable_json<T: serde::Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        value: &T,
    ) -> Result<Replayable, ClientError> {
        let body = serde_json::to_vec(value).map_err(|err| {
            ClientError::InvalidMessage(format!("cannot encode the request as JSON: {err}"))
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
        Ok(Replayable {
            method,
            uri: self.uri(path)?,
            headers,
            body: Bytes::from(body),
        })
    }

    /// A replayable `GET` of `path`.
    pub(crate) fn replayable_get(&self, path: &str) -> Result<Replayable, ClientError> {
        Ok(Replayable {
            method: Method::GET,
            uri: self.uri(path)?,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        })
    }
}

/// How a retried call went.
#[derive(Debug)]
pub(crate) struct Tried {
    /// The final answer's body, or the error that ended the attempts.
    pub(crate) result: Result<Bytes, ClientError>,
    /// Attempts made, the first included.
    pub(crate) attempts: u32,
    /// Whether a failed attempt may have been acted on (a send stored) although no
    /// answer said so.
    pub(crate) maybe_stored: bool,
    /// What the failed attempts other than the returned one met, oldest first.
    pub(crate) earlier_failures: Vec<String>,
}

impl Tried {
    fn new(
        result: Result<Bytes, ClientError>,
        attempts: u32,
        failures: Vec<(ClientError, Verdict)>,
    ) -> Tried {
        let maybe_stored = failures.iter().any(|(_, verdict)| verdict.maybe_stored);
        Tried {
            result,
            attempts,
            maybe_stored,
            earlier_failures: failures.iter().map(|(err, _)| err.to_string()).collect(),
        }
    }

    /// The outcome of attempts that all failed: the last failure is the error, unless
    /// it is one that proves nothing was sent (a refused connection) while an earlier
    /// attempt may have been acted on; then that earlier one is, so that
    /// [`TransportError::is_connect`] keeps meaning "not sent".
    fn failed(attempts: u32, mut failures: Vec<(ClientError, Verdict)>) -> Tried {
        let maybe_stored = failures.iter().any(|(_, verdict)| verdict.maybe_stored);
        let chosen = match failures.last() {
            Some((_, last)) if maybe_stored && !last.maybe_stored => failures
                .iter()
                .rposition(|(_, verdict)| verdict.maybe_stored),
            Some(_) => Some(failures.len() - 1),
            None => None,
        };
        let error = match chosen {
            Some(index) => failures.remove(index).0,
            // Unreachable with at least one attempt; said rather than panicking.
            None => ClientError::Decode("no attempt was made".to_owned()),
        };
        Tried {
            result: Err(error),
            attempts,
            maybe_stored,
            earlier_failures: failures.iter().map(|(err, _)| err.to_string()).collect(),
        }
    }
}

/// The `status` of a send's answer, when the body has one.
fn answered_status(body: &[u8]) -> Option<SendStatus> {
    #[derive(serde::Deserialize)]
    struct StatusOnly {
        status: SendStatus,
    }
    serde_json::from_slice::<StatusOnly>(body)
        .ok()
        .map(|answer| answer.status)
}

/// Decodes a successful answer's JSON body.
pub(crate) fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|err| ClientError::Decode(err.to_string()))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Answers `answers` requests on a local port with `{}` and returns the request heads
    /// it read, lower-cased.
    async fn recording_server(answers: usize) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut heads = Vec::new();
            for _ in 0..answers {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).await.unwrap();
                    assert!(n > 0, "the request ended before its head");
                    head.extend_from_slice(&buf[..n]);
                }
                heads.push(String::from_utf8_lossy(&head).to_lowercase());
                stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                          content-length: 2\r\nconnection: close\r\n\r\n{}",
                    )
                    .await
                    .unwrap();
            }
            heads
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_token_goes_with_every_request() {
        let (url, server) = recording_server(3).await;
        let client = Client::builder(url)
            .token("s3cret-admin-0001")
            .build()
            .unwrap();
        assert!(client.has_token());
        let request = client.empty_request(Method::GET, "/v1/topics").unwrap();
        client.execute(request).await.unwrap();
        let request = client.empty_request(Method::GET, "/v1/export").unwrap();
        let mut stream = client.execute_streaming(request).await.unwrap();
        while stream.next_chunk().await.unwrap().is_some() {}
        let other = client.with_token("another-token-0002").unwrap();
        let request = other.empty_request(Method::GET, "/v1/topics").unwrap();
        other.execute(request).await.unwrap();
        let heads = server.await.unwrap();
        assert!(heads[0].contains("authorization: bearer s3cret-admin-0001\r\n"));
        assert!(heads[1].contains("authorization: bearer s3cret-admin-0001\r\n"));
        assert!(heads[2].contains("authorization: bearer another-token-0002\r\n"));
    }

    #[tokio::test]
    async fn without_a_token_no_header_is_sent() {
        let (url, server) = recording_server(1).await;
        let client = Client::new(&url).unwrap();
        assert!(!client.has_token());
        let request = client.empty_request(Method::GET, "/healthz").unwrap();
        client.execute(request).await.unwrap();
        assert!(!server.await.unwrap()[0].contains("authorization"));
    }

    #[test]
    fn unusable_tokens_are_refused_and_never_printed() {
        for token in ["", "  ", "line\nbreak", "é", "two words"] {
            let err = Client::builder("http://127.0.0.1:1")
                .token(token)
                .build()
                .unwrap_err();
            assert!(
                matches!(err, ClientError::InvalidToken(_)),
                "{token:?}: {err}"
            );
        }
        let builder = Client::builder("http://127.0.0.1:1").token("s3cret-admin-0001");
        assert!(!format!("{builder:?}").contains("s3cret"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("s3cret"));
    }
}
