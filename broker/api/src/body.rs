//! Reading request bodies under a size limit, raw or as JSON.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::connection::BodyTimeout;

/// Reads the whole body, refusing with `413 BODY_TOO_LARGE` past `limit` bytes.
pub(crate) async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            format!("request body is over the limit of {limit} bytes"),
        )),
        Err(err) if err.is::<BodyTimeout>() => Err(ApiError::new(
            http::StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            err.to_string(),
        )),
        Err(err) => Err(ApiError::bad_request(
            "INVALID_ARGUMENT",
            format!("could not read the request body: {err}"),
        )),
    }
}

/// Reads a JSON object body under `limit` bytes into `T`; `400 INVALID_JSON` when it
/// does not parse or has the wrong shape. An empty body reads as `{}`, so that requests
/// whose fields all have defaults can be sent without one (`curl -X POST`).
pub(crate) async fn read_json<T, B>(body: B, limit: usize) -> Result<T, ApiError>
where
    T: DeserializeOwned,
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bytes = read_body(body, limit).await?;
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(text).map_err(ApiError::invalid_json)
}
