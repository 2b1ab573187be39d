//! The application: shared state and the entry point every request goes through.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Body;
use weir_core::Broker;
use weir_plugin::{PluginHost, PluginHostConfig};
use weir_wire::codes;

use crate::auth::{Auth, Permission};
use crate::body::{BoxError, RequestBody, read_body};
use crate::checkback::CallbackChecker;
use crate::plugins::Plugins;
use crate::response::ResponseBody;
use crate::routes::{Access, BodyLimit, Matched, NoRoute, match_route};
use crate::{ApiError, Metrics};

/// Limits of the HTTP layer itself (the core's message limits apply on top). Each route
/// has one of these body limits ([`BodyLimit`]); a declared `Content-Length` over it is
/// answered `413` before the body is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiLimits {
    /// Largest request body of a single send: the message body limit plus room for a JSON
    /// envelope with the body in base64 (which grows it by a third), see
    /// [`MESSAGE_ENVELOPE_BYTES`].
    pub max_request_bytes: usize,
    /// Largest batch request body.
    pub max_batch_request_bytes: usize,
    /// Largest JSON control request (create, ack, nack, reset, bindings, ...).
    pub max_control_bytes: usize,
    /// Largest body of a route that reads none (it is ignored).
    pub max_ignored_body_bytes: usize,
    /// Largest total size of request headers; larger requests get `431`.
    pub max_header_bytes: usize,
}

/// Default [`ApiLimits::max_header_bytes`]: 64 KiB, enough for every `weir-*` header at
/// its own limit.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Room a single send's JSON envelope (id, keys, tag, properties, escapes) may take next
/// to the base64 of its body.
pub const MESSAGE_ENVELOPE_BYTES: usize = 64 * 1024;
/// Default [`ApiLimits::max_control_bytes`]: 1 MiB, room for an ack of the most receipts
/// a request may carry.
pub const MAX_CONTROL_BYTES: usize = 1024 * 1024;
/// Default [`ApiLimits::max_ignored_body_bytes`].
pub const MAX_IGNORED_BODY_BYTES: usize = 1024;

impl ApiLimits {
    /// Limits derived from the core's message limits.
    pub fn for_core(limits: &weir_core::Limits) -> Self {
        Self {
            max_request_bytes: limits.max_body_bytes.div_ceil(3) * 4 + MESSAGE_ENVELOPE_BYTES,
            max_batch_request_bytes: limits.max_batch_bytes,
            max_control_bytes: MAX_CONTROL_BYTES,
            max_ignored_body_bytes: MAX_IGNORED_BODY_BYTES,
            max_header_bytes: MAX_HEADER_BYTES,
        }
    }
}

/// Everything a request handler needs. Cheap to share: wrap it in an `Arc`.
#[derive(Debug)]
pub struct App {
    pub(crate) broker: Arc<Broker>,
    pub(crate) metrics: Metrics,
    pub(crate) limits: ApiLimits,
    /// The plugin host, when the broker runs one.
    pub(crate) plugins: Option<Plugins>,
    /// When the application was made, for the status page's uptime.
    pub(crate) started: Instant,
    /// The tokens requests must carry; `None` lets every request through.
    pub(crate) auth: Option<Auth>,
    /// The HTTP connections' counters, shared with the server loop and `/metrics`.
    pub(crate) connection_stats: Arc<crate::ConnectionStats>,
}

pub(crate) type HttpResponse = Response<ResponseBody>;

impl App {
    /// An application over a broker.
    ///
    /// It registers the broker's HTTP check-back checker (producer groups' callback URLs)
    /// and its timer metrics: make one `App` per broker.
    pub fn new(broker: Arc<Broker>, limits: ApiLimits) -> Self {
        let mut metrics = Metrics::new();
        metrics.observe_store(broker.store());
        metrics.observe_groups(Arc::clone(&broker));
        metrics.observe_timers(Arc::clone(&broker));
        broker.add_transaction_checker(Arc::new(CallbackChecker::new(&broker)));
        let connection_stats = Arc::new(crate::ConnectionStats::default());
        metrics.observe_connections(Arc::clone(&connection_stats));
        Self {
            broker,
            metrics,
            limits,
            plugins: None,
            started: Instant::now(),
            auth: None,
            connection_stats,
        }
    }

    /// Requires a bearer token from `auth` on every route but `GET /healthz` and the
    /// OpenAPI document, and the role each route needs (see [`Auth`]).
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Serves the module, binding and status routes from `host`. `config` is the
    /// configuration the host was opened with: its module size limit bounds upload
    /// bodies.
    ///
    /// Open the host before [`App::new`], so that its transaction checker is asked
    /// before the HTTP callback checker `App::new` registers.
    pub fn with_plugins(mut self, host: PluginHost, config: &PluginHostConfig) -> Self {
        self.metrics.observe_plugins(host.clone());
        self.plugins = Some(Plugins {
            host,
            max_module_bytes: config.max_module_bytes,
        });
        self
    }

    /// The broker underneath.
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Handles one request. Never fails: errors become JSON error responses.
    ///
    /// The response body is held in memory, except for exports, which are streamed (see
    /// [`ResponseBody`]). `HEAD` is answered as `GET` without the body.
    pub fn handle<B>(&self, request: Request<B>) -> impl Future<Output = HttpResponse> + Send + '_
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.handle_boxed(request.map(RequestBody::unlimited))
    }

    async fn handle_boxed(&self, request: Request<RequestBody>) -> HttpResponse {
        let started = Instant::now();
        let head = request.method() == Method::HEAD;
        let matched = match_route(request.method(), request.uri().path());
        let name = matched.as_ref().map_or("unmatched", |m| m.route.metric);
        let response = match matched {
            Ok(matched) => self.admit(matched, request).await,
            Err(NoRoute::NotFound) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                codes::ROUTE_NOT_FOUND,
                format!("no route for {}", request.uri().path()),
            )),
            Err(NoRoute::MethodNotAllowed(allow)) => {
                let mut response = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    codes::METHOD_NOT_ALLOWED,
                    format!(
                        "{} is not allowed on {}; it takes {allow}",
                        request.method(),
                        request.uri().path()
                    ),
                )
                .into_response();
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(http::header::ALLOW, value);
                }
                Ok(response)
            }
        };
        let mut response = response.unwrap_or_else(ApiError::into_response);
        if response.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
        }
        if head {
            response = without_body(response);
        }
        self.metrics
            .observe_request(name, response.status(), started.elapsed());
        response
    }

    /// The body limit of a route, in bytes.
    pub(crate) fn body_limit(&self, limit: BodyLimit) -> usize {
        match limit {
            BodyLimit::None => self.limits.max_ignored_body_bytes,
            BodyLimit::Control => self.limits.max_control_bytes,
            BodyLimit::Message => self.limits.max_request_bytes,
            BodyLimit::Batch => self.limits.max_batch_request_bytes,
            BodyLimit::Module => self
                .plugins
                .as_ref()
                .map_or(weir_plugin::limits::DEFAULT_MAX_MODULE_BYTES, |p| {
                    p.max_module_bytes
                }),
        }
    }

    /// Checks the request's token against what the route needs and its declared body
    /// size against the route's limit, then calls the route's handler.
    async fn admit(
        &self,
        matched: Matched,
        request: Request<RequestBody>,
    ) -> Result<HttpResponse, ApiError> {
        let Matched { route, params } = matched;
        let limit = self.body_limit(route.body);
        let request = request.map(|body| body.limited(route.body, limit));
        let authorised = match &self.auth {
            Some(auth) if route.access != Access::Public => {
                let caller = auth.authenticate(request.headers())?;
                caller.allow(&Permission::of(route.access, &params), &self.broker)?;
                Some(caller)
            }
            _ => None,
        };
        request.body().check_declared(request.headers())?;
        let Some(caller) = authorised.filter(|_| route.access == Access::ConsumeTopicInBody) else {
            return (route.handler)(self, params, request).await;
        };
        // Group creation names its topic in the body: read it to decide, then hand the
        // same bytes on.
        let (parts, body) = request.into_parts();
        let limit = body.limit();
        let body = read_body(body).await?;
        caller.allow(&crate::auth::consume_topic_in_body(&body), &self.broker)?;
        let body = RequestBody::read(body, route.body, limit);
        (route.handler)(self, params, Request::from_parts(parts, body)).await
    }
}

/// The answer to a `HEAD` request: the `GET` answer's status and headers, with the length
/// its body would have had, and no body.
fn without_body(response: HttpResponse) -> HttpResponse {
    let (mut parts, body) = response.into_parts();
    if let Some(length) = hyper::body::Body::size_hint(&body).exact() {
        parts
            .headers
            .insert(http::header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Response::from_parts(parts, ResponseBody::empty())
}

/// A JSON response with a status.
pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = Response::new(ResponseBody::full(body));
            *response.status_mut() = status;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            ApiError::internal().into_response()
        }
    }
}

/// An empty `204 No Content` response.
pub(crate) fn no_content() -> HttpResponse {
    let mut response = HttpResponse::new(ResponseBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
