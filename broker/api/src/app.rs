//! The application: shared state and the entry point every request goes through.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;
use weir_core::Broker;
use weir_plugin::{PluginHost, PluginHostConfig};

use crate::auth::{Auth, Permission};
use crate::body::read_body;
use crate::checkback::CallbackChecker;
use crate::plugins::Plugins;
use crate::response::ResponseBody;
use crate::routes::{NoRoute, Route, match_route};
use crate::{ApiError, Metrics};

/// Limits of the HTTP layer itself (the core's message limits apply on top).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiLimits {
    /// Largest request body of a single send or an admin request: the message body
    /// limit plus room for a JSON envelope (base64 grows a body by a third).
    pub max_request_bytes: usize,
    /// Largest batch request body.
    pub max_batch_request_bytes: usize,
    /// Largest total size of request headers; larger requests get `431`.
    pub max_header_bytes: usize,
}

/// Default [`ApiLimits::max_header_bytes`]: 64 KiB, enough for every `weir-*` header at
/// its own limit.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

impl ApiLimits {
    /// Limits derived from the core's message limits.
    pub fn for_core(limits: &weir_core::Limits) -> Self {
        Self {
            max_request_bytes: limits.max_body_bytes / 3 * 4 + 64 * 1024,
            max_batch_request_bytes: limits.max_batch_bytes,
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
    /// [`ResponseBody`]).
    pub async fn handle<B>(&self, request: Request<B>) -> HttpResponse
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let route = match_route(request.method(), request.uri().path());
        let name = route.as_ref().map_or("unmatched", Route::name);
        let response = match route {
            Ok(route) => self.admit(route, request).await,
            Err(NoRoute::NotFound) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "ROUTE_NOT_FOUND",
                format!("no route for {}", request.uri().path()),
            )),
            Err(NoRoute::MethodNotAllowed) => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                format!(
                    "{} is not allowed on {}",
                    request.method(),
                    request.uri().path()
                ),
            )),
        };
        let mut response = response.unwrap_or_else(ApiError::into_response);
        if response.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
        }
        self.metrics
            .observe_request(name, response.status(), started.elapsed());
        response
    }

    /// Checks the request's token against what the route needs, then dispatches it.
    async fn admit<B>(&self, route: Route, request: Request<B>) -> Result<HttpResponse, ApiError>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Some(auth) = &self.auth else {
            return self.dispatch(route, request).await;
        };
        let permission = crate::auth::required(&route);
        if permission == Permission::Public {
            return self.dispatch(route, request).await;
        }
        let caller = auth.authenticate(request.headers())?;
        caller.allow(&permission, &self.broker)?;
        if permission != Permission::ConsumeTopicInBody {
            return self.dispatch(route, request).await;
        }
        // Group creation names its topic in the body: read it to decide, then hand the
        // same bytes on.
        let (parts, body) = request.into_parts();
        let body = read_body(body, self.limits.max_request_bytes).await?;
        caller.allow(&crate::auth::consume_topic_in_body(&body), &self.broker)?;
        self.dispatch(route, Request::from_parts(parts, Full::new(body)))
            .await
    }

    async fn dispatch<B>(&self, route: Route, request: Request<B>) -> Result<HttpResponse, ApiError>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match route {
            Route::Health => Ok(crate::ops::health(self)),
            Route::Metrics => Ok(crate::ops::metrics(self)),
            Route::OpenApi => Ok(crate::ops::openapi()),
            Route::ListTopics => Ok(crate::topics::list(self)),
            Route::CreateTopic => crate::topics::create(self, request).await,
            Route::DescribeTopic(topic) => crate::topics::describe(self, &topic),
            Route::DeleteTopic(topic) => crate::topics::delete(self, &topic).await,
            Route::Send(topic) => crate::send::send_one(self, &topic, request).await,
            Route::SendBatch(topic) => crate::send::send_batch(self, &topic, request).await,
            Route::QueryByKey(topic) => crate::query::by_key(self, &topic, request.uri().query()),
            Route::ReadQueue(topic, queue) => crate::query::read_queue(
                self,
                &topic,
                &queue,
                request.uri().query(),
                request.headers(),
            ),
            Route::GetMessage(id) => crate::query::by_id(self, &id, request.headers()),
            Route::UpdateTopic(topic) => crate::topics::update(self, &topic, request).await,
            Route::ListGroups => crate::groups::list(self, request.uri().query()),
            Route::CreateGroup => crate::groups::create(self, request).await,
            Route::DescribeGroup(group) => {
                crate::groups::describe(self, &group, request.uri().query())
            }
            Route::DeleteGroup(group) => crate::groups::delete(self, &group).await,
            Route::Receive(group) => crate::groups::receive(self, &group, request).await,
            Route::Ack(group) => crate::groups::ack(self, &group, request).await,
            Route::Nack(group) => crate::groups::nack(self, &group, request).await,
            Route::ChangeInvisible(group) => {
                crate::groups::change_invisible(self, &group, request).await
            }
            Route::Lag(group) => crate::groups::lag(self, &group, request.uri().query()),
            Route::ResetGroup(group) => crate::groups::reset(self, &group, request).await,
            Route::GetOffsets(group) => crate::groups::offsets(self, &group, request.uri().query()),
            Route::CommitOffset(group) => crate::groups::commit_offset(self, &group, request).await,
            Route::ListDeadLetters(group) => crate::dlq::list(self, &group, request.uri().query()),
            Route::GetDeadLetter(group, id) => crate::dlq::get(self, &group, &id),
            Route::ResendDeadLetter(group, id) => crate::dlq::resend(self, &group, &id).await,
            Route::ResendDeadLetters(group) => crate::dlq::resend_all(self, &group, request).await,
            Route::ExportDeadLetters(group) => {
                crate::dlq::export(self, &group, request.uri().query())
            }
            Route::CancelDelayed(id) => crate::delayed::cancel(self, &id).await,
            Route::ListTransactions => crate::transactions::list(self, request.uri().query()),
            Route::Commit(tx) => crate::transactions::commit(self, &tx).await,
            Route::Rollback(tx) => crate::transactions::rollback(self, &tx).await,
            Route::ResumeTransaction(tx) => crate::transactions::resume(self, &tx).await,
            Route::ListProducerGroups => Ok(crate::transactions::list_groups(self)),
            Route::PutProducerGroup => crate::transactions::put_group(self, request).await,
            Route::GetProducerGroup(name) => crate::transactions::get_group(self, &name),
            Route::DeleteProducerGroup(name) => {
                crate::transactions::delete_group(self, &name).await
            }
            Route::PollChecks(name) => {
                crate::transactions::poll_checks(self, &name, request.uri().query()).await
            }
            Route::ListModules => crate::plugins::list_modules(self),
            Route::PutModule(name) => crate::plugins::upload(self, &name, request).await,
            Route::GetModule(name) => crate::plugins::get_module(self, &name),
            Route::DeleteModule(name) => {
                crate::plugins::delete_module(self, &name, request.uri().query()).await
            }
            Route::ListBindings => crate::plugins::list_bindings(self),
            Route::CreateBinding => crate::plugins::bind(self, request).await,
            Route::GetBinding(name) => crate::plugins::get_binding(self, &name),
            Route::UpdateBinding(name) => crate::plugins::rebind(self, &name, request).await,
            Route::DeleteBinding(name) => crate::plugins::unbind(self, &name).await,
            Route::PauseBinding(name) => crate::plugins::pause(self, &name).await,
            Route::ResumeBinding(name) => crate::plugins::resume(self, &name).await,
            Route::Status => Ok(crate::plugins::status(self)),
        }
    }
}

impl Route {
    /// A low-cardinality name for metrics.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Route::Health => "healthz",
            Route::Metrics => "metrics",
            Route::OpenApi => "openapi",
            Route::ListTopics => "list_topics",
            Route::CreateTopic => "create_topic",
            Route::DescribeTopic(_) => "describe_topic",
            Route::DeleteTopic(_) => "delete_topic",
            Route::Send(_) => "send",
            Route::SendBatch(_) => "send_batch",
            Route::QueryByKey(_) => "query_by_key",
            Route::ReadQueue(..) => "read_queue",
            Route::GetMessage(_) => "get_message",
            Route::UpdateTopic(_) => "update_topic",
            Route::ListGroups => "list_groups",
            Route::CreateGroup => "create_group",
            Route::DescribeGroup(_) => "describe_group",
            Route::DeleteGroup(_) => "delete_group",
            Route::Receive(_) => "receive",
            Route::Ack(_) => "ack",
            Route::Nack(_) => "nack",
            Route::ChangeInvisible(_) => "change_invisible",
            Route::Lag(_) => "lag",
            Route::ResetGroup(_) => "reset_group",
            Route::GetOffsets(_) => "get_offsets",
            Route::CommitOffset(_) => "commit_offset",
            Route::ListDeadLetters(_) => "list_dead_letters",
            Route::GetDeadLetter(..) => "get_dead_letter",
            Route::ResendDeadLetter(..) => "resend_dead_letter",
            Route::ResendDeadLetters(_) => "resend_dead_letters",
            Route::ExportDeadLetters(_) => "export_dead_letters",
            Route::CancelDelayed(_) => "cancel_delayed",
            Route::ListTransactions => "list_transactions",
            Route::Commit(_) => "commit",
            Route::Rollback(_) => "rollback",
            Route::ResumeTransaction(_) => "resume_transaction",
            Route::ListProducerGroups => "list_producer_groups",
            Route::PutProducerGroup => "put_producer_group",
            Route::GetProducerGroup(_) => "get_producer_group",
            Route::DeleteProducerGroup(_) => "delete_producer_group",
            Route::PollChecks(_) => "poll_checks",
            Route::ListModules => "list_modules",
            Route::PutModule(_) => "put_module",
            Route::GetModule(_) => "get_module",
            Route::DeleteModule(_) => "delete_module",
            Route::ListBindings => "list_bindings",
            Route::CreateBinding => "create_binding",
            Route::GetBinding(_) => "get_binding",
            Route::UpdateBinding(_) => "update_binding",
            Route::DeleteBinding(_) => "delete_binding",
            Route::PauseBinding(_) => "pause_binding",
            Route::ResumeBinding(_) => "resume_binding",
            Route::Status => "status",
        }
    }
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
