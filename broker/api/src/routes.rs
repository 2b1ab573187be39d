//! The route table: every route the API serves, as data.
//!
//! One [`RouteSpec`] per route says everything about it: method, path template (as in the
//! OpenAPI document), OpenAPI operation id, metric name, what the caller's token needs
//! ([`Access`]), how large its request body may be ([`BodyLimit`]) and its handler. The
//! router, the `405` answers and their `Allow` header, `HEAD` on `GET` routes, the
//! access check, the body limits and the metrics all read this table, and a test walks
//! it against `openapi.json`; adding a route is adding one entry.

use std::future::Future;
use std::pin::Pin;

use http::{Method, Request};

use crate::app::HttpResponse;
use crate::body::RequestBody;
use crate::{ApiError, App};

/// A handler's future.
pub(crate) type Handled<'a> =
    Pin<Box<dyn Future<Output = Result<HttpResponse, ApiError>> + Send + 'a>>;

/// A route's handler: the application, the route's path parameters (percent-decoded, in
/// template order) and the request.
pub(crate) type Handler = for<'a> fn(&'a App, Params, Request<RequestBody>) -> Handled<'a>;

/// The path parameters of a matched route, in template order.
pub(crate) type Params = Vec<String>;

/// What a route needs from the caller's token (with tokens configured). Where it names a
/// topic, group or message, that is the route's first path parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Nothing: no token needed.
    Public,
    /// Any valid token.
    Authenticated,
    /// The admin role.
    Admin,
    /// The produce role on the topic in the path.
    Produce,
    /// Any produce role.
    AnyProduce,
    /// The produce role on the target topic of the delayed message in the path.
    ProduceDelayed,
    /// The consume role on the topic in the path.
    Consume,
    /// The consume role on the topic of the group in the path.
    ConsumeGroup,
    /// The consume role on the topic of the message in the path.
    ConsumeMessage,
    /// The consume role on the topic named by the JSON body's `topic` field.
    ConsumeTopicInBody,
}

/// How large a route's request body may be. The numbers are in
/// [`ApiLimits`](crate::ApiLimits); a declared `Content-Length` over the limit is refused
/// before anything is read, a chunked body as soon as it passes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLimit {
    /// The route reads no body; at most [`ApiLimits::max_ignored_body_bytes`](crate::ApiLimits::max_ignored_body_bytes) are let through.
    None,
    /// A JSON control request (create, ack, reset, ...).
    Control,
    /// A single message: its body, or a JSON envelope with the body in base64.
    Message,
    /// A batch of messages.
    Batch,
    /// A WebAssembly module upload.
    Module,
}

/// One route.
#[derive(Clone, Copy)]
pub struct RouteSpec {
    /// The HTTP method.
    pub method: &'static str,
    /// The path template, as in the OpenAPI document (`/v1/topics/{topic}`).
    pub path: &'static str,
    /// The OpenAPI operation id.
    pub operation: &'static str,
    /// The low-cardinality name in request metrics.
    pub metric: &'static str,
    /// What the caller's token needs.
    pub access: Access,
    /// How large the request body may be.
    pub body: BodyLimit,
    pub(crate) handler: Handler,
}

impl std::fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.operation)
    }
}

/// A handler that answers at once.
fn ready<'a>(answer: Result<HttpResponse, ApiError>) -> Handled<'a> {
    Box::pin(std::future::ready(answer))
}

use Access::*;
use BodyLimit as B;

macro_rules! route {
    ($method:literal, $path:literal, $operation:literal, $metric:literal, $access:expr, $body:expr, $handler:expr) => {
        RouteSpec {
            method: $method,
            path: $path,
            operation: $operation,
            metric: $metric,
            access: $access,
            body: $body,
            handler: $handler,
        }
    };
}

/// Every route the API serves.
pub static ROUTES: &[RouteSpec] = &[
    route!(
        "GET",
        "/healthz",
        "health",
        "healthz",
        Public,
        B::None,
        |app, _, _| ready(Ok(crate::ops::health(app)))
    ),
    route!(
        "GET",
        "/metrics",
        "metrics",
        "metrics",
        Authenticated,
        B::None,
        |app, _, _| ready(Ok(crate::ops::metrics(app)))
    ),
    route!(
        "GET",
        "/v1/openapi.json",
        "openapi",
        "openapi",
        Public,
        B::None,
        |app, _, _| ready(Ok(crate::ops::openapi(app)))
    ),
    route!(
        "GET",
        "/v1/topics",
        "listTopics",
        "list_topics",
        Authenticated,
        B::None,
        |app, _, _| ready(Ok(crate::topics::list(app)))
    ),
    route!(
        "POST",
        "/v1/topics",
        "createTopic",
        "create_topic",
        Admin,
        B::Control,
        |app, _, req| Box::pin(crate::topics::create(app, req))
    ),
    route!(
        "GET",
        "/v1/topics/{topic}",
        "describeTopic",
        "describe_topic",
        Authenticated,
        B::None,
        |app, p, _| ready(crate::topics::describe(app, &p[0]))
    ),
    route!(
        "DELETE",
        "/v1/topics/{topic}",
        "deleteTopic",
        "delete_topic",
        Admin,
        B::None,
        |app, p, _| Box::pin(async move { crate::topics::delete(app, &p[0]).await })
    ),
    route!(
        "PATCH",
        "/v1/topics/{topic}",
        "updateTopic",
        "update_topic",
        Admin,
        B::Control,
        |app, p, req| Box::pin(async move { crate::topics::update(app, &p[0], req).await })
    ),
    route!(
        "POST",
        "/v1/topics/{topic}/messages",
        "send",
        "send",
        Produce,
        B::Message,
        |app, p, req| Box::pin(async move { crate::send::send_one(app, &p[0], req).await })
    ),
    route!(
        "GET",
        "/v1/topics/{topic}/messages",
        "queryByKey",
        "query_by_key",
        Consume,
        B::None,
        |app, p, req| ready(crate::query::by_key(app, &p[0], req.uri().query()))
    ),
    route!(
        "POST",
        "/v1/topics/{topic}/messages:batch",
        "sendBatch",
        "send_batch",
        Produce,
        B::Batch,
        |app, p, req| Box::pin(async move { crate::send::send_batch(app, &p[0], req).await })
    ),
    route!(
        "GET",
        "/v1/topics/{topic}/queues/{queue}/messages",
        "readQueue",
        "read_queue",
        Consume,
        B::None,
        |app, p, req| ready(crate::query::read_queue(
            app,
            &p[0],
            &p[1],
            req.uri().query(),
            req.headers()
        ))
    ),
    route!(
        "GET",
        "/v1/messages/{id}",
        "getMessage",
        "get_message",
        ConsumeMessage,
        B::None,
        |app, p, req| ready(crate::query::by_id(app, &p[0], req.headers()))
    ),
    route!(
        "POST",
        "/v1/messages/{id}/cancel",
        "cancelDelayed",
        "cancel_delayed",
        ProduceDelayed,
        B::None,
        |app, p, _| Box::pin(async move { crate::delayed::cancel(app, &p[0]).await })
    ),
    route!(
        "GET",
        "/v1/groups",
        "listGroups",
        "list_groups",
        Authenticated,
        B::None,
        |app, _, req| ready(crate::groups::list(app, req.uri().query()))
    ),
    route!(
        "POST",
        "/v1/groups",
        "createGroup",
        "create_group",
        ConsumeTopicInBody,
        B::Control,
        |app, _, req| Box::pin(crate::groups::create(app, req))
    ),
    route!(
        "GET",
        "/v1/groups/{group}",
        "describeGroup",
        "describe_group",
        Authenticated,
        B::None,
        |app, p, req| ready(crate::groups::describe(app, &p[0], req.uri().query()))
    ),
    route!(
        "DELETE",
        "/v1/groups/{group}",
        "deleteGroup",
        "delete_group",
        Admin,
        B::None,
        |app, p, _| Box::pin(async move { crate::groups::delete(app, &p[0]).await })
    ),
    route!(
        "POST",
        "/v1/groups/{group}/receive",
        "receive",
        "receive",
        ConsumeGroup,
        B::Control,
        |app, p, req| Box::pin(async move { crate::groups::receive(app, &p[0], req).await })
    ),
    route!(
        "POST",
        "/v1/groups/{group}/ack",
        "ack",
        "ack",
        ConsumeGroup,
        B::Control,
        |app, p, req| Box::pin(async move { crate::groups::ack(app, &p[0], req).await })
    ),
    route!(
        "POST",
        "/v1/groups/{group}/nack",
        "nack",
        "nack",
        ConsumeGroup,
        B::Control,
        |app, p, req| Box::pin(async move { crate::groups::nack(app, &p[0], req).await })
    ),
    route!(
        "POST",
        "/v1/groups/{group}/invisible",
        "changeInvisible",
        "change_invisible",
        ConsumeGroup,
        B::Control,
        |app, p, req| Box::pin(
            async move { crate::groups::change_invisible(app, &p[0], req).await }
        )
    ),
    route!(
        "GET",
        "/v1/groups/{group}/lag",
        "lag",
        "lag",
        ConsumeGroup,
        B::None,
        |app, p, req| ready(crate::groups::lag(app, &p[0], req.uri().query()))
    ),
    route!(
        "POST",
        "/v1/groups/{group}/reset",
        "resetGroup",
        "reset_group",
        Admin,
        B::Control,
        |app, p, req| Box::pin(async move { crate::groups::reset(app, &p[0], req).await })
    ),
    route!(
        "GET",
        "/v1/groups/{group}/offsets",
        "getOffsets",
        "get_offsets",
        ConsumeGroup,
        B::None,
        |app, p, req| ready(crate::groups::offsets(app, &p[0], req.uri().query()))
    ),
    route!(
        "POST",
        "/v1/groups/{group}/offsets",
        "commitOffset",
        "commit_offset",
        ConsumeGroup,
        B::Control,
        |app, p, req| Box::pin(async move { crate::groups::commit_offset(app, &p[0], req).await })
    ),
    route!(
        "GET",
        "/v1/groups/{group}/dlq",
        "listDeadLetters",
        "list_dead_letters",
        ConsumeGroup,
        B::None,
        |app, p, req| ready(crate::dlq::list(app, &p[0], req.uri().query()))
    ),
    route!(
        "GET",
        "/v1/groups/{group}/dlq/{id}",
        "getDeadLetter",
        "get_dead_letter",
        ConsumeGroup,
        B::None,
        |app, p, _| ready(crate::dlq::get(app, &p[0], &p[1]))
    ),
    route!(
        "POST",
        "/v1/groups/{group}/dlq/{id}/resend",
        "resendDeadLetter",
        "resend_dead_letter",
        Admin,
        B::None,
        |app, p, _| Box::pin(async move { crate::dlq::resend(app, &p[0], &p[1]).await })
    ),
    route!(
        "POST",
        "/v1/groups/{group}/dlq:resend",
        "resendDeadLetters",
        "resend_dead_letters",
        Admin,
        B::Control,
        |app, p, req| Box::pin(async move { crate::dlq::resend_all(app, &p[0], req).await })
    ),
    route!(
        "GET",
        "/v1/groups/{group}/dlq:export",
        "exportDeadLetters",
        "export_dead_letters",
        ConsumeGroup,
        B::None,
        |app, p, req| ready(crate::dlq::export(app, &p[0], req.uri().query()))
    ),
    route!(
        "GET",
        "/v1/transactions",
        "listTransactions",
        "list_transactions",
        Admin,
        B::None,
        |app, _, req| ready(crate::transactions::list(app, req.uri().query()))
    ),
    route!(
        "POST",
        "/v1/transactions/{transaction}/commit",
        "commitTransaction",
        "commit",
        AnyProduce,
        B::None,
        |app, p, _| Box::pin(async move { crate::transactions::commit(app, &p[0]).await })
    ),
    route!(
        "POST",
        "/v1/transactions/{transaction}/rollback",
        "rollbackTransaction",
        "rollback",
        AnyProduce,
        B::None,
        |app, p, _| Box::pin(async move { crate::transactions::rollback(app, &p[0]).await })
    ),
    route!(
        "POST",
        "/v1/transactions/{transaction}/resume",
        "resumeTransaction",
        "resume_transaction",
        Admin,
        B::None,
        |app, p, _| Box::pin(async move { crate::transactions::resume(app, &p[0]).await })
    ),
    route!(
        "GET",
        "/v1/producer-groups",
        "listProducerGroups",
        "list_producer_groups",
        Admin,
        B::None,
        |app, _, _| ready(Ok(crate::transactions::list_groups(app)))
    ),
    route!(
        "POST",
        "/v1/producer-groups",
        "putProducerGroup",
        "put_producer_group",
        Admin,
        B::Control,
        |app, _, req| Box::pin(crate::transactions::put_group(app, req))
    ),
    route!(
        "GET",
        "/v1/producer-groups/{name}",
        "getProducerGroup",
        "get_producer_group",
        Admin,
        B::None,
        |app, p, _| ready(crate::transactions::get_group(app, &p[0]))
    ),
    route!(
        "DELETE",
        "/v1/producer-groups/{name}",
        "deleteProducerGroup",
        "delete_producer_group",
        Admin,
        B::None,
        |app, p, _| Box::pin(async move { crate::transactions::delete_group(app, &p[0]).await })
    ),
    route!(
        "GET",
        "/v1/producer-groups/{name}/checks",
        "pollChecks",
        "poll_checks",
        AnyProduce,
        B::None,
        |app, p, req| Box::pin(async move {
            crate::transactions::poll_checks(app, &p[0], req.uri().query()).await
        })
    ),
    route!(
        "GET",
        "/v1/modules",
        "listModules",
        "list_modules",
        Admin,
        B::None,
        |app, _, _| ready(crate::plugins::list_modules(app))
    ),
    route!(
        "PUT",
        "/v1/modules/{name}",
        "uploadModule",
        "put_module",
        Admin,
        B::Module,
        |app, p, req| Box::pin(async move { crate::plugins::upload(app, &p[0], req).await })
    ),
    route!(
        "GET",
        "/v1/modules/{name}",
        "getModule",
        "get_module",
        Admin,
        B::None,
        |app, p, _| ready(crate::plugins::get_module(app, &p[0]))
    ),
    route!(
        "DELETE",
        "/v1/modules/{name}",
        "deleteModule",
        "delete_module",
        Admin,
        B::None,
        |app, p, req| Box::pin(async move {
            crate::plugins::delete_module(app, &p[0], req.uri().query()).await
        })
    ),
    route!(
        "GET",
        "/v1/bindings",
        "listBindings",
        "list_bindings",
        Admin,
        B::None,
        |app, _, _| ready(crate::plugins::list_bindings(app))
    ),
    route!(
        "POST",
        "/v1/bindings",
        "createBinding",
        "create_binding",
        Admin,
        B::Control,
        |app, _, req| Box::pin(crate::plugins::bind(app, req))
    ),
    route!(
        "GET",
        "/v1/bindings/{name}",
        "getBinding",
        "get_binding",
        Admin,
        B::None,
        |app, p, _| ready(crate::plugins::get_binding(app, &p[0]))
    ),
    route!(
        "PUT",
        "/v1/bindings/{name}",
        "updateBinding",
        "update_binding",
        Admin,
        B::Control,
        |app, p, req| Box::pin(async move { crate::plugins::rebind(app, &p[0], req).await })
    ),
    route!(
        "DELETE",
        "/v1/bindings/{name}",
        "deleteBinding",
        "delete_binding",
        Admin,
        B::None,
        |app, p, _| Box::pin(async move { crate::plugins::unbind(app, &p[0]).await })
    ),
    route!(
        "POST",
        "/v1/bindings/{name}/pause",
        "pauseBinding",
        "pause_binding",
        Admin,
        B::None,
        |app, p, _| Box::pin(async move { crate::plugins::pause(app, &p[0]).await })
    ),
    route!(
        "POST",
        "/v1/bindings/{name}/resume",
        "resumeBinding",
        "resume_binding",
        Admin,
        B::None,
        |app, p, _| Box::pin(async move { crate::plugins::resume(app, &p[0]).await })
    ),
    route!(
        "GET",
        "/v1/status",
        "status",
        "status",
        Admin,
        B::None,
        |app, _, _| ready(Ok(crate::plugins::status(app)))
    ),
];

/// A matched route with its path parameters.
#[derive(Debug)]
pub(crate) struct Matched {
    pub(crate) route: &'static RouteSpec,
    pub(crate) params: Params,
}

/// Why no route matched.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NoRoute {
    /// No such path.
    NotFound,
    /// The path exists with other methods, listed for the `Allow` header (`HEAD` with
    /// `GET`).
    MethodNotAllowed(String),
}

/// Finds the route for a method and path. `HEAD` is served by the `GET` route.
pub(crate) fn match_route(method: &Method, path: &str) -> Result<Matched, NoRoute> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let wanted = if method == Method::HEAD {
        Method::GET.as_str()
    } else {
        method.as_str()
    };
    let mut allowed: Vec<&str> = Vec::new();
    for route in ROUTES {
        let Some(raw) = path_params(route.path, &segments) else {
            continue;
        };
        if route.method != wanted {
            allowed.push(route.method);
            continue;
        }
        let params = raw
            .into_iter()
            .map(percent_decode)
            .collect::<Option<Params>>()
            .ok_or(NoRoute::NotFound)?;
        return Ok(Matched { route, params });
    }
    if allowed.is_empty() {
        return Err(NoRoute::NotFound);
    }
    if allowed.contains(&"GET") {
        allowed.push("HEAD");
    }
    Err(NoRoute::MethodNotAllowed(allowed.join(", ")))
}

/// The raw parameters of `segments` if they fit `template`.
fn path_params<'p>(template: &str, segments: &[&'p str]) -> Option<Vec<&'p str>> {
    let mut params = Vec::new();
    let mut parts = template.trim_start_matches('/').split('/');
    for segment in segments {
        let part = parts.next()?;
        if part.starts_with('{') && part.ends_with('}') {
            params.push(*segment);
        } else if part != *segment {
            return None;
        }
    }
    parts.next().is_none().then_some(params)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
pub(crate) fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Looks up a query parameter (form-encoded: `+` is a space).
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<Result<String, ()>> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(&value.replace('+', " ")).ok_or(()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(method: Method, path: &str) -> Result<(&'static str, Params), NoRoute> {
        match_route(&method, path).map(|m| (m.route.operation, m.params))
    }

    fn params(list: &[&str]) -> Params {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn routes_match_with_decoded_parameters() {
        let ok = |operation: &'static str, list: &[&str]| Ok((operation, params(list)));
        let not_allowed = |methods: &str| Err(NoRoute::MethodNotAllowed(methods.to_owned()));
        assert_eq!(
            matched(Method::GET, "/v1/messages/A%2FB"),
            ok("getMessage", &["A/B"])
        );
        assert_eq!(
            matched(Method::GET, "/v1/topics/t/queues/3/messages"),
            ok("readQueue", &["t", "3"])
        );
        assert_eq!(
            matched(Method::POST, "/v1/topics/t/messages:batch"),
            ok("sendBatch", &["t"])
        );
        assert_eq!(
            matched(Method::PUT, "/v1/topics"),
            not_allowed("GET, POST, HEAD")
        );
        assert_eq!(matched(Method::GET, "/v2/x"), Err(NoRoute::NotFound));
        assert_eq!(
            matched(Method::PATCH, "/v1/topics/t"),
            ok("updateTopic", &["t"])
        );
        assert_eq!(
            matched(Method::POST, "/v1/groups/g/dlq/A%2FB/resend"),
            ok("resendDeadLetter", &["g", "A/B"])
        );
        assert_eq!(
            matched(Method::POST, "/v1/groups/g/dlq:resend"),
            ok("resendDeadLetters", &["g"])
        );
        assert_eq!(
            matched(Method::GET, "/v1/groups/g/dlq:export"),
            ok("exportDeadLetters", &["g"])
        );
        assert_eq!(
            matched(Method::GET, "/v1/groups/g/receive"),
            not_allowed("POST")
        );
        assert_eq!(
            matched(Method::PUT, "/v1/groups/g/offsets"),
            not_allowed("GET, POST, HEAD")
        );
        assert_eq!(
            matched(Method::GET, "/v1/groups/g/dlq:nope"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            matched(Method::GET, "/v1/messages/%zz"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            matched(Method::POST, "/v1/messages/A%2FB/cancel"),
            ok("cancelDelayed", &["A/B"])
        );
        for method in [Method::POST, Method::DELETE] {
            assert_eq!(
                matched(method, "/v1/messages/abc"),
                not_allowed("GET, HEAD")
            );
        }
        assert_eq!(
            matched(Method::GET, "/v1/messages/abc/cancel"),
            not_allowed("POST")
        );
        assert_eq!(
            matched(Method::POST, "/v1/transactions/T1/rollback"),
            ok("rollbackTransaction", &["T1"])
        );
        assert_eq!(
            matched(Method::POST, "/v1/transactions/T1/abort"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            matched(Method::PUT, "/v1/producer-groups/pg"),
            not_allowed("GET, DELETE, HEAD")
        );
        assert_eq!(
            matched(Method::PUT, "/v1/modules/m%2D1"),
            ok("uploadModule", &["m-1"])
        );
        assert_eq!(
            matched(Method::POST, "/v1/modules/m"),
            not_allowed("PUT, GET, DELETE, HEAD")
        );
        assert_eq!(
            matched(Method::POST, "/v1/bindings/b/resume"),
            ok("resumeBinding", &["b"])
        );
        assert_eq!(
            matched(Method::GET, "/v1/bindings/b/pause"),
            not_allowed("POST")
        );
        assert_eq!(
            matched(Method::POST, "/v1/bindings/b/stop"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            matched(Method::DELETE, "/v1/status"),
            not_allowed("GET, HEAD")
        );
        assert_eq!(
            matched(Method::HEAD, "/v1/topics/t"),
            ok("describeTopic", &["t"])
        );
        assert_eq!(
            matched(Method::HEAD, "/v1/groups/g/ack"),
            not_allowed("POST")
        );
    }

    #[test]
    fn every_route_is_matched_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(seen.insert((route.method, route.path)), "{route:?} twice");
            assert!(
                seen.insert(("op", route.operation)),
                "operation of {route:?} twice"
            );
            let path: String = route
                .path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "1"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(route.method.as_bytes()).unwrap();
            let found = match_route(&method, &path).expect("the route matches its own path");
            assert_eq!(found.route.operation, route.operation, "{path}");
        }
    }

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(
            query_param(Some("key=a%20b&max=3"), "key"),
            Some(Ok("a b".to_string()))
        );
        assert_eq!(query_param(Some("key=a+b"), "key"), Some(Ok("a b".into())));
        assert_eq!(query_param(Some("max=3"), "key"), None);
        assert_eq!(query_param(None, "key"), None);
        assert_eq!(query_param(Some("key=%4"), "key"), Some(Err(())));
    }
}
