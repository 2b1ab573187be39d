//! Request bodies under their route's size limit, read raw or as JSON.
//!
//! Every request body reaches a handler as a [`RequestBody`]: boxed, and carrying the limit
//! its route has ([`BodyLimit`]). A declared `Content-Length` over it is refused before
//! anything is read ([`RequestBody::check_declared`]); [`read_body`] stops a body, chunked
//! or not, as soon as it passes it. Handlers never pick a limit of their own.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, SizeHint};
use serde::de::DeserializeOwned;
use weir_wire::codes;

use crate::ApiError;
use crate::connection::BodyTimeout;
use crate::routes::BodyLimit;

/// The error type of request bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

fn into_box_error<E: Into<BoxError>>(err: E) -> BoxError {
    err.into()
}

/// A request body with the size limit of its route.
pub struct RequestBody {
    inner: UnsyncBoxBody<Bytes, BoxError>,
    limit: usize,
    kind: BodyLimit,
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody")
            .field("limit", &self.limit)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl RequestBody {
    /// Boxes `body`, not yet under a route's limit (see [`RequestBody::limited`]).
    pub(crate) fn unlimited<B>(body: B) -> RequestBody
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        RequestBody {
            inner: body.map_err(into_box_error).boxed_unsync(),
            limit: 0,
            kind: BodyLimit::None,
        }
    }

    /// The same body under a route's limit.
    pub(crate) fn limited(self, kind: BodyLimit, limit: usize) -> RequestBody {
        RequestBody {
            kind,
            limit,
            ..self
        }
    }

    /// Bytes already read, under the same limit.
    pub(crate) fn read(bytes: Bytes, kind: BodyLimit, limit: usize) -> RequestBody {
        RequestBody::unlimited(Full::new(bytes)).limited(kind, limit)
    }

    /// The limit in bytes.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Refuses a declared `Content-Length` over the limit, before reading anything.
    pub(crate) fn check_declared(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        match declared {
            Some(size) if size > self.limit as u64 => {
                Err(too_large(self.kind, self.limit, Some(size)))
            }
            _ => Ok(()),
        }
    }
}

/// `413` for a body over `limit` (`MODULE_TOO_LARGE` for module uploads).
fn too_large(kind: BodyLimit, limit: usize, declared: Option<u64>) -> ApiError {
    let (code, what) = match kind {
        BodyLimit::Module => (codes::MODULE_TOO_LARGE, "the module"),
        _ => (codes::BODY_TOO_LARGE, "the request body"),
    };
    let size = declared.map_or_else(|| "more than".to_owned(), |s| format!("{s} bytes, over"));
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        code,
        format!("{what} is {size} the limit of {limit} bytes"),
    )
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Reads the whole body, refusing with `413` as soon as it passes its route's limit.
pub(crate) async fn read_body(body: RequestBody) -> Result<Bytes, ApiError> {
    let RequestBody {
        mut inner,
        limit,
        kind,
    } = body;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = inner.frame().await {
        let frame = frame.map_err(read_error)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > limit {
            return Err(too_large(kind, limit, None));
        }
        chunks.push(data);
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => Bytes::from(chunks.concat()),
    })
}

/// A failure to read the body: a timeout (`408`) or a broken connection.
fn read_error(err: BoxError) -> ApiError {
    if err.is::<BodyTimeout>() {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            codes::REQUEST_TIMEOUT,
            err.to_string(),
        )
    } else {
        ApiError::bad_request(
            codes::INVALID_ARGUMENT,
            format!("could not read the request body: {err}"),
        )
    }
}

/// Reads a JSON object body into `T`; `400 INVALID_JSON` when it does not parse or has
/// the wrong shape. An empty body reads as `{}`, so that requests whose fields all have
/// defaults can be sent without one (`curl -X POST`).
pub(crate) async fn read_json<T: DeserializeOwned>(body: RequestBody) -> Result<T, ApiError> {
    let bytes = read_body(body).await?;
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(text).map_err(ApiError::invalid_json)
}

/// Offsets in request bodies: documented as `int64` with `minimum: 0`, so a value above
/// `i64::MAX` is refused as `400 INVALID_JSON` like any other out-of-schema number,
/// rather than accepted because the server happens to hold offsets as `u64`.
/// Use with `#[serde(deserialize_with = "crate::body::int64_offset")]`.
pub(crate) fn int64_offset<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<u64, D::Error> {
    let value = <u64 as serde::Deserialize>::deserialize(deserializer)?;
    if value > i64::MAX as u64 {
        return Err(serde::de::Error::custom(format_args!(
            "an offset is at most {}, got {value}",
            i64::MAX
        )));
    }
    Ok(value)
}

/// [`int64_offset`] for optional fields (`#[serde(default, deserialize_with = ...)]`).
pub(crate) fn optional_int64_offset<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Offset(#[serde(deserialize_with = "int64_offset")] u64);
    let value = <Option<Offset> as serde::Deserialize>::deserialize(deserializer)?;
    Ok(value.map(|Offset(offset)| offset))
}

#[cfg(test)]
mod offset_tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::int64_offset")]
        from: u64,
        #[serde(default, deserialize_with = "super::optional_int64_offset")]
        at: Option<u64>,
    }

    fn parse(text: &str) -> Result<Body, String> {
        serde_json::from_str(text).map_err(|err| err.to_string())
    }

    #[test]
    fn offsets_are_refused_above_int64_and_below_zero() {
        let max = i64::MAX;
        let body = parse(&format!(r#"{{"from":{max},"at":{max}}}"#)).unwrap();
        assert_eq!((body.from, body.at), (max as u64, Some(max as u64)));
        let body = parse("{}").unwrap();
        assert_eq!((body.from, body.at), (0, None));
        assert_eq!(parse(r#"{"at":null}"#).unwrap().at, None);
        let above = max as u64 + 1;
        for text in [
            format!(r#"{{"from":{above}}}"#),
            format!(r#"{{"at":{above}}}"#),
        ] {
            let err = parse(&text).err().expect("refused");
            assert!(err.contains("at most 9223372036854775807"), "{err}");
        }
        assert!(parse(r#"{"from":-1}"#).is_err());
        assert!(parse(r#"{"at":-1}"#).is_err());
    }
}
