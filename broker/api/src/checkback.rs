//! Transaction check-back over HTTP: the [`TransactionChecker`] that asks a producer
//! group's callback URL about an undecided transaction.
//!
//! When a half message's producer group has a `callback_url`, the broker POSTs
//!
//! ```json
//! {"transaction":"...","topic":"orders","producer_group":"pg","checks":1,
//!  "message":{"id":"...","topic":"orders","keys":[],"properties":{},"born_ms":0,
//!             "store_ms":0,"body":"..."}}
//! ```
//!
//! to it and reads `{"state":"commit"|"rollback"|"unknown"}`. Anything else — a transport
//! error, a non-2xx status, an answer that does not parse or is over
//! [`MAX_ANSWER_BYTES`], no answer within [`CALLBACK_TIMEOUT`] — counts as `unknown`
//! (logged at warn with the reason): the transaction stays undecided, the producer group's
//! long poll is offered the check, and the next check-back comes after the check interval.
//! A half message without a producer group, or whose group has no callback URL, is
//! `unknown` at once, without a request.

use std::error::Error as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Deserialize;
use weir_core::{Broker, HalfMessage, TransactionChecker, TxState};

use crate::wire;

/// How long one check-back request may take, connecting included.
pub(crate) const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest answer body read from a callback.
pub(crate) const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How long an idle connection to a callback is kept for the next check-back.
const IDLE_CONNECTION: Duration = Duration::from_secs(30);

/// What a callback answers.
#[derive(Deserialize)]
struct Answer {
    state: TxState,
}

/// Asks producer groups' callback URLs (plain `http://`) about their transactions.
pub(crate) struct CallbackChecker {
    /// Weak: the broker holds its checkers.
    broker: Weak<Broker>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for CallbackChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackChecker").finish_non_exhaustive()
    }
}

impl CallbackChecker {
    /// A checker for the producer groups of `broker`.
    pub(crate) fn new(broker: &Arc<Broker>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CALLBACK_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_CONNECTION)
            .build(connector);
        Self {
            broker: Arc::downgrade(broker),
            client,
        }
    }

    async fn ask(&self, half: &HalfMessage) -> TxState {
        let Some(group) = half.producer_group.as_deref() else {
            return TxState::Unknown;
        };
        let url = match self.broker.upgrade().map(|b| b.producer_group(group)) {
            Some(Ok(config)) => match config.callback_url {
                Some(url) => url,
                None => return TxState::Unknown,
            },
            _ => return TxState::Unknown,
        };
        let reason = match tokio::time::timeout(CALLBACK_TIMEOUT, self.call(&url, half)).await {
            Ok(Ok(state)) => {
                tracing::debug!(
                    transaction = half.transaction,
                    producer_group = group,
                    ?state,
                    "check-back answered"
                );
                return state;
            }
            Ok(Err(reason)) => reason,
            Err(_elapsed) => format!("no answer within {} s", CALLBACK_TIMEOUT.as_secs()),
        };
        tracing::warn!(
            transaction = half.transaction,
            producer_group = group,
            url,
            reason,
            "check-back callback failed; the transaction stays undecided"
        );
        TxState::Unknown
    }

    /// One callback request; the reason as text when it gives no state.
    async fn call(&self, url: &str, half: &HalfMessage) -> Result<TxState, String> {
        let uri: Uri = url
            .parse()
            .map_err(|err| format!("invalid callback URL: {err}"))?;
        let body = serde_json::to_vec(&wire::check_back(half))
            .map_err(|err| format!("serialising the check-back: {err}"))?;
        let mut request = Request::post(uri)
            .body(Full::new(Bytes::from(body)))
            .map_err(|err| format!("building the request: {err}"))?;
        let json = HeaderValue::from_static("application/json");
        request
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, json.clone());
        request.headers_mut().insert(http::header::ACCEPT, json);
        let response = self
            .client
            .request(request)
            .await
            .map_err(|err| format!("request failed: {}", chain(&err)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|err| format!("reading the answer: {err}"))?
            .to_bytes();
        serde_json::from_slice::<Answer>(&bytes)
            .map(|answer| answer.state)
            .map_err(|err| {
                format!(
                    "the answer is not {{\"state\":\"commit\"|\"rollback\"|\"unknown\"}}: {err}"
                )
            })
    }
}

impl TransactionChecker for CallbackChecker {
    fn check<'a>(
        &'a self,
        half: &'a HalfMessage,
    ) -> Pin<Box<dyn Future<Output = TxState> + Send + 'a>> {
        Box::pin(self.ask(half))
    }
}

/// An error with its causes, `: `-separated (the client's own message is terse).
fn chain(err: &hyper_util::client::legacy::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
