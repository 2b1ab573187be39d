//! `wasi-http-checker`, a test transaction checker that asks the producer's service
//! through `wasi:http/outgoing-handler` — the interface the HTTP clients of other
//! languages use — instead of the broker's `http-request` host call.
//!
//! Config: a URL template, `{transaction}` replaced by the transaction id. The service
//! answers `commit` or `rollback` with 200; anything else, including a request the
//! broker refuses (a URL off the allowlist comes back as `HTTP-request-denied`), is
//! `unknown`, logged with the error.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, IncomingBody, Method, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;
use weir_sdk::{Message, TxChecker, TxState};

/// Most bytes of an answer read.
const MAX_ANSWER: u64 = 64 * 1024;

/// The checker.
pub struct WasiHttpChecker;

impl TxChecker for WasiHttpChecker {
    fn check(config: &str, half: &Message, _checks: u32) -> TxState {
        let url = config.replace("{transaction}", &half.id);
        match get(&url) {
            Ok((200, body)) if body == b"commit" => TxState::Commit,
            Ok((200, body)) if body == b"rollback" => TxState::Rollback,
            Ok((status, _)) => {
                weir_sdk::log::info(format!("{url} answered {status}: unknown"));
                TxState::Unknown
            }
            Err(error) => {
                weir_sdk::log::warn(format!("{url}: {error}"));
                TxState::Unknown
            }
        }
    }
}

weir_sdk::export_tx_checker!(WasiHttpChecker);

/// `GET url` over wasi:http: the status and the body.
fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let request = OutgoingRequest::new(Fields::new());
    request
        .set_method(&Method::Get)
        .map_err(|()| "the method was refused")?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| "the scheme was refused")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "the authority was refused")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "the path was refused")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no answer after the wait")?
        .map_err(|()| "the answer was taken twice")?
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let body = response.consume().map_err(|()| "the body was taken")?;
    let stream = body.stream().map_err(|()| "the body stream was taken")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(MAX_ANSWER) {
            Ok(chunk) if bytes.len() as u64 + chunk.len() as u64 <= MAX_ANSWER => {
                bytes.extend_from_slice(&chunk);
            }
            Ok(_) => return Err(format!("the answer is over {MAX_ANSWER} bytes")),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(error.to_debug_string());
            }
        }
    }
    drop(stream);
    let _trailers = IncomingBody::finish(body);
    Ok((status, bytes))
}
