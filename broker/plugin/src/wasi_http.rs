//! `wasi:http/outgoing-handler` (and `wasi:http/types`) for plugins, so that a
//! language's own HTTP client — JavaScript's `fetch`, Go's `net/http` over a wasi:http
//! transport, Python's bindings — works in a plugin as the `http-request` host call does.
//!
//! Wasmtime's implementation turns the guest's resources into an `http::Request`; the
//! send itself is the broker's ([`OutgoingHttp::send_request`]): the request body is
//! read up to its limit, then the request goes through [`HttpClient::exchange`], which
//! applies the binding's allowlist, the method rule, the header and size limits and
//! what is left of the call's deadline. A refusal reaches the guest as a wasi:http
//! error code (`HTTP-request-denied` for a URL off the allowlist), never as a trap.
//! The host header is the client's to set; a guest cannot send one.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::host::Services;
use crate::http::HttpFailure;
use crate::limits::MAX_HTTP_REQUEST_BYTES;

/// The future `send_request` answers with, as wasmtime's hook trait spells it.
type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

/// The outgoing-handler hooks of one plugin instance.
pub(crate) struct OutgoingHttp {
    pub(crate) services: Arc<Services>,
    /// When the current call must end; set before each use.
    pub(crate) deadline: Option<Instant>,
}

impl OutgoingHttp {
    fn time_left(&self) -> Duration {
        self.deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        })
    }
}

impl WasiHttpHooks for OutgoingHttp {
    fn set_host_header(&mut self) -> bool {
        false
    }

    fn default_scheme(&mut self) -> Option<http::uri::Scheme> {
        Some(http::uri::Scheme::HTTP)
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        let services = Arc::clone(&self.services);
        let time_left = self.time_left();
        Box::new(async move {
            let url = request.uri().to_string();
            let (parts, body) = request.into_parts();
            let body = Limited::new(body, MAX_HTTP_REQUEST_BYTES)
                .collect()
                .await
                .map_err(|_| Error::HttpRequestBodySize(None))?
                .to_bytes();
            let answer = services
                .http
                .exchange(
                    &services.allowlist,
                    http::Request::from_parts(parts, body),
                    time_left,
                )
                .await;
            services.count_http(&url, answer.as_ref().err());
            let response = answer.map_err(error_code)?;
            let response = response.map(|body: Bytes| {
                Full::new(body)
                    .map_err(|never| match never {})
                    .boxed_unsync()
            });
            let done: Box<dyn Future<Output = Result<(), Error>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

/// The wasi:http error code a refusal or failure reaches the guest as.
fn error_code(failure: HttpFailure) -> Error {
    match failure {
        HttpFailure::Denied(_) => Error::HttpRequestDenied,
        HttpFailure::TooLarge(_) => Error::HttpRequestBodySize(None),
        HttpFailure::Invalid(_) => Error::HttpRequestUriInvalid,
        HttpFailure::Timeout(_) => Error::HttpResponseTimeout,
        HttpFailure::Failed(reason) => Error::InternalError(Some(reason)),
    }
}
