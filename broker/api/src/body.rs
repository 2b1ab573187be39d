//! Reading request bodies under a size limit.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;

use crate::ApiError;

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
        Err(err) => Err(ApiError::bad_request(
            "INVALID_ARGUMENT",
            format!("could not read the request body: {err}"),
        )),
    }
}
