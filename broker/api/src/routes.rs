//! The route table: which method and path reach which handler.
//!
//! [`ROUTES`] lists every route as (method, path template); the OpenAPI document must
//! describe each of them, which a test checks.

use http::Method;

/// Every route the API serves, as (method, OpenAPI path template).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/topics"),
    ("POST", "/v1/topics"),
    ("GET", "/v1/topics/{topic}"),
    ("DELETE", "/v1/topics/{topic}"),
    ("POST", "/v1/topics/{topic}/messages"),
    ("GET", "/v1/topics/{topic}/messages"),
    ("POST", "/v1/topics/{topic}/messages:batch"),
    ("GET", "/v1/topics/{topic}/queues/{queue}/messages"),
    ("GET", "/v1/messages/{id}"),
    ("PATCH", "/v1/topics/{topic}"),
    ("GET", "/v1/groups"),
    ("POST", "/v1/groups"),
    ("GET", "/v1/groups/{group}"),
    ("DELETE", "/v1/groups/{group}"),
    ("POST", "/v1/groups/{group}/receive"),
    ("POST", "/v1/groups/{group}/ack"),
    ("POST", "/v1/groups/{group}/nack"),
    ("POST", "/v1/groups/{group}/invisible"),
    ("GET", "/v1/groups/{group}/lag"),
    ("POST", "/v1/groups/{group}/reset"),
    ("GET", "/v1/groups/{group}/offsets"),
    ("POST", "/v1/groups/{group}/offsets"),
    ("GET", "/v1/groups/{group}/dlq"),
    ("GET", "/v1/groups/{group}/dlq/{id}"),
    ("POST", "/v1/groups/{group}/dlq/{id}/resend"),
    ("POST", "/v1/groups/{group}/dlq:resend"),
    ("GET", "/v1/groups/{group}/dlq:export"),
    ("POST", "/v1/messages/{id}/cancel"),
    ("GET", "/v1/transactions"),
    ("POST", "/v1/transactions/{transaction}/commit"),
    ("POST", "/v1/transactions/{transaction}/rollback"),
    ("POST", "/v1/transactions/{transaction}/resume"),
    ("GET", "/v1/producer-groups"),
    ("POST", "/v1/producer-groups"),
    ("GET", "/v1/producer-groups/{name}"),
    ("DELETE", "/v1/producer-groups/{name}"),
    ("GET", "/v1/producer-groups/{name}/checks"),
    ("GET", "/v1/modules"),
    ("PUT", "/v1/modules/{name}"),
    ("GET", "/v1/modules/{name}"),
    ("DELETE", "/v1/modules/{name}"),
    ("GET", "/v1/bindings"),
    ("POST", "/v1/bindings"),
    ("GET", "/v1/bindings/{name}"),
    ("PUT", "/v1/bindings/{name}"),
    ("DELETE", "/v1/bindings/{name}"),
    ("POST", "/v1/bindings/{name}/pause"),
    ("POST", "/v1/bindings/{name}/resume"),
    ("GET", "/v1/status"),
];

/// A matched route with its path parameters (percent-decoded).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Health,
    Metrics,
    OpenApi,
    ListTopics,
    CreateTopic,
    DescribeTopic(String),
    DeleteTopic(String),
    Send(String),
    QueryByKey(String),
    SendBatch(String),
    ReadQueue(String, String),
    GetMessage(String),
    UpdateTopic(String),
    ListGroups,
    CreateGroup,
    DescribeGroup(String),
    DeleteGroup(String),
    Receive(String),
    Ack(String),
    Nack(String),
    ChangeInvisible(String),
    Lag(String),
    ResetGroup(String),
    GetOffsets(String),
    CommitOffset(String),
    ListDeadLetters(String),
    GetDeadLetter(String, String),
    ResendDeadLetter(String, String),
    ResendDeadLetters(String),
    ExportDeadLetters(String),
    CancelDelayed(String),
    ListTransactions,
    Commit(String),
    Rollback(String),
    ResumeTransaction(String),
    ListProducerGroups,
    PutProducerGroup,
    GetProducerGroup(String),
    DeleteProducerGroup(String),
    PollChecks(String),
    ListModules,
    PutModule(String),
    GetModule(String),
    DeleteModule(String),
    ListBindings,
    CreateBinding,
    GetBinding(String),
    UpdateBinding(String),
    DeleteBinding(String),
    PauseBinding(String),
    ResumeBinding(String),
    Status,
}

/// Why no route matched.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NoRoute {
    /// No such path.
    NotFound,
    /// The path exists with other methods.
    MethodNotAllowed,
}

/// Finds the route for a method and path.
pub(crate) fn match_route(method: &Method, path: &str) -> Result<Route, NoRoute> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = method == Method::GET;
    let post = method == Method::POST;
    let delete = method == Method::DELETE;
    let patch = method == Method::PATCH;
    let put = method == Method::PUT;
    let decoded = |s: &str| percent_decode(s).ok_or(NoRoute::NotFound);
    let route = match segments.as_slice() {
        ["healthz"] if get => Route::Health,
        ["metrics"] if get => Route::Metrics,
        ["v1", "openapi.json"] if get => Route::OpenApi,
        ["v1", "topics"] if get => Route::ListTopics,
        ["v1", "topics"] if post => Route::CreateTopic,
        ["v1", "topics", topic] if get => Route::DescribeTopic(decoded(topic)?),
        ["v1", "topics", topic] if delete => Route::DeleteTopic(decoded(topic)?),
        ["v1", "topics", topic, "messages"] if post => Route::Send(decoded(topic)?),
        ["v1", "topics", topic, "messages"] if get => Route::QueryByKey(decoded(topic)?),
        ["v1", "topics", topic, "messages:batch"] if post => Route::SendBatch(decoded(topic)?),
        ["v1", "topics", topic, "queues", queue, "messages"] if get => {
            Route::ReadQueue(decoded(topic)?, decoded(queue)?)
        }
        ["v1", "messages", id] if get => Route::GetMessage(decoded(id)?),
        ["v1", "topics", topic] if patch => Route::UpdateTopic(decoded(topic)?),
        ["v1", "groups"] if get => Route::ListGroups,
        ["v1", "groups"] if post => Route::CreateGroup,
        ["v1", "groups", group] if get => Route::DescribeGroup(decoded(group)?),
        ["v1", "groups", group] if delete => Route::DeleteGroup(decoded(group)?),
        ["v1", "groups", group, "receive"] if post => Route::Receive(decoded(group)?),
        ["v1", "groups", group, "ack"] if post => Route::Ack(decoded(group)?),
        ["v1", "groups", group, "nack"] if post => Route::Nack(decoded(group)?),
        ["v1", "groups", group, "invisible"] if post => Route::ChangeInvisible(decoded(group)?),
        ["v1", "groups", group, "lag"] if get => Route::Lag(decoded(group)?),
        ["v1", "groups", group, "reset"] if post => Route::ResetGroup(decoded(group)?),
        ["v1", "groups", group, "offsets"] if get => Route::GetOffsets(decoded(group)?),
        ["v1", "groups", group, "offsets"] if post => Route::CommitOffset(decoded(group)?),
        ["v1", "groups", group, "dlq"] if get => Route::ListDeadLetters(decoded(group)?),
        ["v1", "groups", group, "dlq", id] if get => {
            Route::GetDeadLetter(decoded(group)?, decoded(id)?)
        }
        ["v1", "groups", group, "dlq", id, "resend"] if post => {
            Route::ResendDeadLetter(decoded(group)?, decoded(id)?)
        }
        ["v1", "groups", group, "dlq:resend"] if post => Route::ResendDeadLetters(decoded(group)?),
        ["v1", "groups", group, "dlq:export"] if get => Route::ExportDeadLetters(decoded(group)?),
        ["v1", "messages", id, "cancel"] if post => Route::CancelDelayed(decoded(id)?),
        ["v1", "transactions"] if get => Route::ListTransactions,
        ["v1", "transactions", tx, "commit"] if post => Route::Commit(decoded(tx)?),
        ["v1", "transactions", tx, "rollback"] if post => Route::Rollback(decoded(tx)?),
        ["v1", "transactions", tx, "resume"] if post => Route::ResumeTransaction(decoded(tx)?),
        ["v1", "producer-groups"] if get => Route::ListProducerGroups,
        ["v1", "producer-groups"] if post => Route::PutProducerGroup,
        ["v1", "producer-groups", name] if get => Route::GetProducerGroup(decoded(name)?),
        ["v1", "producer-groups", name] if delete => Route::DeleteProducerGroup(decoded(name)?),
        ["v1", "producer-groups", name, "checks"] if get => Route::PollChecks(decoded(name)?),
        ["v1", "modules"] if get => Route::ListModules,
        ["v1", "modules", name] if put => Route::PutModule(decoded(name)?),
        ["v1", "modules", name] if get => Route::GetModule(decoded(name)?),
        ["v1", "modules", name] if delete => Route::DeleteModule(decoded(name)?),
        ["v1", "bindings"] if get => Route::ListBindings,
        ["v1", "bindings"] if post => Route::CreateBinding,
        ["v1", "bindings", name] if get => Route::GetBinding(decoded(name)?),
        ["v1", "bindings", name] if put => Route::UpdateBinding(decoded(name)?),
        ["v1", "bindings", name] if delete => Route::DeleteBinding(decoded(name)?),
        ["v1", "bindings", name, "pause"] if post => Route::PauseBinding(decoded(name)?),
        ["v1", "bindings", name, "resume"] if post => Route::ResumeBinding(decoded(name)?),
        ["v1", "status"] if get => Route::Status,
        ["healthz"]
        | ["metrics"]
        | ["v1", "openapi.json"]
        | ["v1", "topics"]
        | ["v1", "topics", _]
        | ["v1", "topics", _, "messages"]
        | ["v1", "topics", _, "messages:batch"]
        | ["v1", "topics", _, "queues", _, "messages"]
        | ["v1", "messages", _]
        | ["v1", "groups"]
        | ["v1", "groups", _]
        | [
            "v1",
            "groups",
            _,
            "receive" | "ack" | "nack" | "invisible" | "lag" | "reset" | "offsets" | "dlq"
            | "dlq:resend" | "dlq:export",
        ]
        | ["v1", "groups", _, "dlq", _]
        | ["v1", "groups", _, "dlq", _, "resend"]
        | ["v1", "messages", _, "cancel"]
        | ["v1", "transactions"]
        | ["v1", "transactions", _, "commit" | "rollback" | "resume"]
        | ["v1", "producer-groups"]
        | ["v1", "producer-groups", _]
        | ["v1", "producer-groups", _, "checks"]
        | ["v1", "modules" | "bindings"]
        | ["v1", "modules" | "bindings", _]
        | ["v1", "bindings", _, "pause" | "resume"]
        | ["v1", "status"] => return Err(NoRoute::MethodNotAllowed),
        _ => return Err(NoRoute::NotFound),
    };
    Ok(route)
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

    #[test]
    fn routes_match_with_decoded_parameters() {
        assert_eq!(
            match_route(&Method::GET, "/v1/messages/A%2FB"),
            Ok(Route::GetMessage("A/B".into()))
        );
        assert_eq!(
            match_route(&Method::GET, "/v1/topics/t/queues/3/messages"),
            Ok(Route::ReadQueue("t".into(), "3".into()))
        );
        assert_eq!(
            match_route(&Method::POST, "/v1/topics/t/messages:batch"),
            Ok(Route::SendBatch("t".into()))
        );
        assert_eq!(
            match_route(&Method::PUT, "/v1/topics"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(match_route(&Method::GET, "/v2/x"), Err(NoRoute::NotFound));
        assert_eq!(
            match_route(&Method::PATCH, "/v1/topics/t"),
            Ok(Route::UpdateTopic("t".into()))
        );
        assert_eq!(
            match_route(&Method::POST, "/v1/groups/g/dlq/A%2FB/resend"),
            Ok(Route::ResendDeadLetter("g".into(), "A/B".into()))
        );
        assert_eq!(
            match_route(&Method::POST, "/v1/groups/g/dlq:resend"),
            Ok(Route::ResendDeadLetters("g".into()))
        );
        assert_eq!(
            match_route(&Method::GET, "/v1/groups/g/dlq:export"),
            Ok(Route::ExportDeadLetters("g".into()))
        );
        assert_eq!(
            match_route(&Method::GET, "/v1/groups/g/receive"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            match_route(&Method::PUT, "/v1/groups/g/offsets"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            match_route(&Method::GET, "/v1/groups/g/dlq:nope"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            match_route(&Method::GET, "/v1/messages/%zz"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            match_route(&Method::POST, "/v1/messages/A%2FB/cancel"),
            Ok(Route::CancelDelayed("A/B".into()))
        );
        for method in [Method::POST, Method::DELETE] {
            assert_eq!(
                match_route(&method, "/v1/messages/abc"),
                Err(NoRoute::MethodNotAllowed)
            );
        }
        assert_eq!(
            match_route(&Method::GET, "/v1/messages/abc/cancel"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            match_route(&Method::POST, "/v1/transactions/T1/rollback"),
            Ok(Route::Rollback("T1".into()))
        );
        assert_eq!(
            match_route(&Method::POST, "/v1/transactions/T1/abort"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            match_route(&Method::PUT, "/v1/producer-groups/pg"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            match_route(&Method::PUT, "/v1/modules/m%2D1"),
            Ok(Route::PutModule("m-1".into()))
        );
        assert_eq!(
            match_route(&Method::POST, "/v1/modules/m"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            match_route(&Method::POST, "/v1/bindings/b/resume"),
            Ok(Route::ResumeBinding("b".into()))
        );
        assert_eq!(
            match_route(&Method::GET, "/v1/bindings/b/pause"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(
            match_route(&Method::POST, "/v1/bindings/b/stop"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            match_route(&Method::DELETE, "/v1/status"),
            Err(NoRoute::MethodNotAllowed)
        );
    }

    #[test]
    fn every_listed_route_is_matched() {
        for (method, template) in ROUTES {
            let path: String = template
                .split('/')
                .map(|segment| match segment.find('{') {
                    // `{id}` and `{group}` parameters, with any suffix (`messages:batch`).
                    Some(start) => {
                        let end = segment.find('}').map_or(segment.len(), |e| e + 1);
                        format!("{}1{}", &segment[..start], &segment[end..])
                    }
                    None => segment.to_string(),
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            assert!(
                match_route(&method, &path).is_ok(),
                "{method} {template} ({path}) does not match"
            );
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
