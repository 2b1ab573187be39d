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
        ["healthz"]
        | ["metrics"]
        | ["v1", "openapi.json"]
        | ["v1", "topics"]
        | ["v1", "topics", _]
        | ["v1", "topics", _, "messages"]
        | ["v1", "topics", _, "messages:batch"]
        | ["v1", "topics", _, "queues", _, "messages"]
        | ["v1", "messages", _] => return Err(NoRoute::MethodNotAllowed),
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
            match_route(&Method::GET, "/v1/messages/%zz"),
            Err(NoRoute::NotFound)
        );
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
