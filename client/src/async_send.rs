//! The producer's tracked sends: every outcome reported, many in flight.
//!
//! [`Client::send_async`] (and its batch forms) starts a send on the runtime and returns
//! a [`SendHandle`], a future of its final outcome; [`Client::send_tracked`] is the same
//! send awaited in place. Each message gets its id before the first attempt, failed
//! attempts are retried under the client's [`RetryPolicy`](crate::RetryPolicy), and the
//! outcome says how many attempts were made:
//!
//! * [`SendReceipt`]: stored, with where each message went and the status (a not-durable
//!   status such as `FLUSH_DISK_TIMEOUT` is a success: the message is stored);
//! * [`SendError`]: not stored by any attempt the client saw answered. After the last
//!   failed attempt the client asks the broker (`GET /v1/messages/{id}`, bounded by
//!   [`RetryPolicy::lookup_timeout`](crate::RetryPolicy::lookup_timeout)) whether it has
//!   the message, and the error carries the answer ([`BrokerCopy`]): stored after all,
//!   not stored, or unknown (the broker could not be asked).
//!
//! A batch is stored whole or not at all, so the lookup asks about its first message.
//!
//! What "not stored" means: no copy existed when the broker was asked. An attempt still
//! travelling through the network could land later; re-sending the same message (same
//! ids) settles it either way, since a repeat is answered from the stored copy.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use serde::Serialize;
use tokio::task::JoinHandle;
use weir_wire::codes;

use crate::client::{Replayable, Retried, Tried, decode_json};
use crate::endpoint::encode_component;
use crate::prepared::answered_status;
use crate::{
    BatchEntry, BatchResult, Client, ClientError, EncodedBatch, MessageInfo, MessageState,
    OutgoingMessage, PreparedSend, SendOutcome, SendStatus, TransportError,
};

/// A send that succeeded, with how many attempts it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendReceipt {
    /// The topic.
    pub topic: String,
    /// Whether the send is known durable.
    pub status: SendStatus,
    /// Where each message went, in the order sent (empty for
    /// [`Client::send_prepared_tracked`], which reads only the status).
    pub messages: Vec<BatchEntry>,
    /// Attempts made, the first included: more than 1 when the send was retried.
    pub attempts: u32,
}

impl SendReceipt {
    /// The first message's id (for a single send, its id).
    pub fn id(&self) -> Option<&str> {
        self.messages.first().map(|entry| entry.id.as_str())
    }

    /// Whether the send needed more than one attempt.
    pub fn retried(&self) -> bool {
        self.attempts > 1
    }
}

/// Whether the broker has the message of a failed send, as it answered a lookup by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerCopy {
    /// Stored after all (an attempt reached the broker but its answer was lost): where.
    Stored(StoredMessage),
    /// Not stored: the broker has no message with this id (or no attempt reached it).
    NotStored,
    /// The broker could not tell, with why (the lookup failed or timed out too).
    Unknown(String),
}

/// Where the message of a failed send is after all, from the lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message id.
    pub id: String,
    /// Its topic.
    pub topic: String,
    /// Its queue (0 while it is scheduled).
    pub queue: u32,
    /// Its offset in that queue (0 while it is scheduled).
    pub offset: u64,
    /// Whether it is a delayed message not yet due.
    pub scheduled: bool,
}

/// A send that failed after its last attempt, saying whether the broker has it.
///
/// Its `Display` is one plain sentence, for example "send failed after 3 attempts
/// (request to http://…/v1/topics/orders/messages failed: connection reset by peer); the
/// broker has not stored message 0193A6…".
#[derive(Debug)]
pub struct SendError {
    topic: String,
    id: String,
    messages: usize,
    attempts: u32,
    cause: ClientError,
    earlier: Vec<String>,
    copy: BrokerCopy,
}

impl SendError {
    /// The topic of the send.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The message id (for a batch, the first message's).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Messages in the send (1, or the batch size).
    pub fn messages(&self) -> usize {
        self.messages
    }

    /// Attempts made, the first included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The failure that ended the attempts.
    pub fn cause(&self) -> &ClientError {
        &self.cause
    }

    /// What the other failed attempts met, oldest first.
    pub fn earlier_failures(&self) -> &[String] {
        &self.earlier
    }

    /// Whether the broker has the message.
    pub fn broker_copy(&self) -> &BrokerCopy {
        &self.copy
    }

    /// Whether the broker refused the send outright on its first attempt (a `4xx` such
    /// as `TOPIC_NOT_FOUND`, or a message the client cannot encode): nothing was stored
    /// and [`SendError::cause`] says all there is to say.
    pub fn is_refusal(&self) -> bool {
        self.attempts <= 1
            && self.copy == BrokerCopy::NotStored
            && !matches!(self.cause, ClientError::Transport(_))
            && !self
                .cause
                .status()
                .is_some_and(|status| status >= 500 || status == 408 || status == 429)
    }

    /// The failure that ended the attempts, giving up the rest.
    pub fn into_cause(self) -> ClientError {
        self.cause
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            "send failed after {} attempt{plural} ({})",
            self.attempts, self.cause
        )?;
        let what = if self.messages == 1 {
            format!("message {}", self.id)
        } else {
            format!(
                "the batch of {} messages (first {})",
                self.messages, self.id
            )
        };
        match &self.copy {
            BrokerCopy::Stored(stored) if stored.scheduled => {
                write!(f, "; the broker has stored {what} after all (scheduled)")
            }
            BrokerCopy::Stored(stored) => write!(
                f,
                "; the broker has stored {what} after all (queue {}, offset {})",
                stored.queue, stored.offset
            ),
            BrokerCopy::NotStored => write!(f, "; the broker has not stored {what}"),
            BrokerCopy::Unknown(reason) => {
                write!(
                    f,
                    "; whether the broker stored {what} is unknown ({reason})"
                )
            }
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// A send under way on the runtime ([`Client::send_async`]): a future of its outcome.
///
/// Dropping the handle does not stop the send; it runs to its outcome unobserved.
#[derive(Debug)]
pub struct SendHandle {
    task: JoinHandle<Result<SendReceipt, SendError>>,
    topic: String,
    url: String,
}

impl Future for SendHandle {
    type Output = Result<SendReceipt, SendError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.task).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(outcome)) => Poll::Ready(outcome),
            Poll::Ready(Err(join)) if join.is_panic() => {
                std::panic::resume_unwind(join.into_panic())
            }
            Poll::Ready(Err(_)) => Poll::Ready(Err(SendError {
                topic: self.topic.clone(),
                id: String::new(),
                messages: 0,
                attempts: 0,
                cause: TransportError::abandoned(&self.url).into(),
                earlier: Vec::new(),
                copy: BrokerCopy::Unknown("the send was abandoned".to_owned()),
            })),
        }
    }
}

impl Client {
    /// Starts sending `message` (JSON form, delayed or not) on the current Tokio runtime
    /// and returns at once; await the handle for the outcome. Keeps as many sends in
    /// flight as the caller starts.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), weir_client::SendError> {
    /// use weir_client::{Client, OutgoingMessage};
    ///
    /// let client = Client::new("http://127.0.0.1:7700").expect("a valid URL");
    /// let handles: Vec<_> = (0..100)
    ///     .map(|n| client.send_async("orders", OutgoingMessage::new(format!("order {n}"))))
    ///     .collect();
    /// for handle in handles {
    ///     let receipt = handle.await?;
    ///     if receipt.retried() {
    ///         eprintln!("{:?} needed {} attempts", receipt.id(), receipt.attempts);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn send_async(&self, topic: &str, message: OutgoingMessage) -> SendHandle {
        let client = self.clone();
        let owned_topic = topic.to_owned();
        self.spawn_send(topic, async move {
            client.send_tracked(&owned_topic, &message).await
        })
    }

    /// [`Client::send_async`] for a batch in one JSON request.
    pub fn send_batch_async(&self, topic: &str, messages: Vec<OutgoingMessage>) -> SendHandle {
        let client = self.clone();
        let owned_topic = topic.to_owned();
        self.spawn_send(topic, async move {
            client.send_batch_tracked(&owned_topic, &messages).await
        })
    }

    /// [`Client::send_async`] for a batch in the binary format.
    pub fn send_batch_binary_async(
        &self,
        topic: &str,
        messages: Vec<OutgoingMessage>,
    ) -> SendHandle {
        let client = self.clone();
        let owned_topic = topic.to_owned();
        self.spawn_send(topic, async move {
            client
                .send_batch_binary_tracked(&owned_topic, &messages)
                .await
        })
    }

    fn spawn_send(
        &self,
        topic: &str,
        send: impl Future<Output = Result<SendReceipt, SendError>> + Send + 'static,
    ) -> SendHandle {
        SendHandle {
            task: tokio::spawn(send),
            topic: topic.to_owned(),
            url: self.base_url().to_owned(),
        }
    }

    /// Sends `message` (JSON form, delayed or not), retried under the client's policy,
    /// and reports the final outcome.
    ///
    /// # Errors
    ///
    /// [`SendError`], saying whether the broker has the message.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the send where it is; the broker may have stored it.
    pub async fn send_tracked(
        &self,
        topic: &str,
        message: &OutgoingMessage,
    ) -> Result<SendReceipt, SendError> {
        let refused = |cause| refusal(topic, message.id.as_deref().unwrap_or(""), 1, cause);
        let (request, id) = self.single_request(topic, message).map_err(refused)?;
        let (body, attempts) = self.run_tracked(topic, &request, &id, 1).await?;
        let outcome: SendOutcome =
            decode_json(&body).map_err(|cause| undecoded(topic, &id, 1, attempts, cause))?;
        let entry = BatchEntry {
            id: outcome.id().to_owned(),
            queue: outcome.queue().unwrap_or(0),
            offset: outcome.offset().unwrap_or(0),
            deliver_at: outcome.deliver_at(),
        };
        Ok(SendReceipt {
            topic: outcome.topic().to_owned(),
            status: outcome.status(),
            messages: vec![entry],
            attempts,
        })
    }

    /// Sends `messages` in one JSON request (all stored or none), retried under the
    /// client's policy, and reports the final outcome.
    ///
    /// # Errors
    ///
    /// [`SendError`], saying whether the broker has the batch.
    pub async fn send_batch_tracked(
        &self,
        topic: &str,
        messages: &[OutgoingMessage],
    ) -> Result<SendReceipt, SendError> {
        let count = messages.len();
        let first = first_id(messages);
        let (request, id) = self
            .batch_request(topic, messages)
            .map_err(|cause| refusal(topic, first, count, cause))?;
        self.run_batch_tracked(topic, &request, &id, count).await
    }

    /// Sends `messages` in one binary batch request (all stored or none), retried under
    /// the client's policy, and reports the final outcome.
    ///
    /// # Errors
    ///
    /// [`SendError`], saying whether the broker has the batch.
    pub async fn send_batch_binary_tracked(
        &self,
        topic: &str,
        messages: &[OutgoingMessage],
    ) -> Result<SendReceipt, SendError> {
        let count = messages.len();
        let first = first_id(messages);
        let refused = |cause| refusal(topic, first, count, cause);
        let batch = EncodedBatch::encode(messages).map_err(refused)?;
        let (request, id) = self
            .prepare_batch(topic, &batch)
            .map_err(refused)?
            .for_send();
        self.run_batch_tracked(topic, &request, &id, count).await
    }

    /// Sends a prepared request (see [`Client::send_prepared`]), retried under the
    /// client's policy, and reports the final outcome; the receipt carries the status
    /// only (its `messages` is empty).
    ///
    /// # Errors
    ///
    /// [`SendError`], saying whether the broker has the message or batch.
    pub async fn send_prepared_tracked(
        &self,
        topic: &str,
        prepared: &PreparedSend,
    ) -> Result<SendReceipt, SendError> {
        let count = usize::try_from(prepared.messages()).unwrap_or(usize::MAX);
        let (request, id) = prepared.for_send();
        let (body, attempts) = self.run_tracked(topic, &request, &id, count).await?;
        let status = answered_status(&body)
            .map_err(|cause| undecoded(topic, &id, count, attempts, cause))?;
        Ok(SendReceipt {
            topic: topic.to_owned(),
            status,
            messages: Vec::new(),
            attempts,
        })
    }

    /// Runs a batch send's attempts ([`Client::run_tracked`]) and reads its receipt.
    async fn run_batch_tracked(
        &self,
        topic: &str,
        request: &Replayable,
        id: &str,
        count: usize,
    ) -> Result<SendReceipt, SendError> {
        let (body, attempts) = self.run_tracked(topic, request, id, count).await?;
        batch_receipt(&body, attempts).map_err(|cause| undecoded(topic, id, count, attempts, cause))
    }

    /// Runs a send's attempts; on failure, finds out whether the broker has message `id`.
    async fn run_tracked(
        &self,
        topic: &str,
        request: &Replayable,
        id: &str,
        messages: usize,
    ) -> Result<(Bytes, u32), SendError> {
        let Tried {
            result,
            attempts,
            maybe_stored,
            earlier_failures,
        } = self.execute_retrying(request, Retried::Send).await;
        let cause = match result {
            Ok(body) => return Ok((body, attempts)),
            Err(cause) => cause,
        };
        let copy = if maybe_stored || crate::retry::classify(&cause, None).maybe_stored {
            self.lookup(topic, id).await
        } else {
            // No attempt reached the broker, or every one was refused.
            BrokerCopy::NotStored
        };
        Err(SendError {
            topic: topic.to_owned(),
            id: id.to_owned(),
            messages,
            attempts,
            cause,
            earlier: earlier_failures,
            copy,
        })
    }

    /// Whether the broker has message `id` in `topic`, within the policy's lookup bound.
    async fn lookup(&self, topic: &str, id: &str) -> BrokerCopy {
        let Some(limit) = self.retry_policy().lookup_timeout else {
            return BrokerCopy::Unknown("the retry policy skips the lookup".to_owned());
        };
        let request = match self.replayable_get(&format!("/v1/messages/{}", encode_component(id))) {
            Ok(request) => request,
            Err(err) => return BrokerCopy::Unknown(err.to_string()),
        };
        let tried =
            match tokio::time::timeout(limit, self.execute_retrying(&request, Retried::Read)).await
            {
                Ok(tried) => tried,
                Err(_) => {
                    return BrokerCopy::Unknown(format!(
                        "the lookup by id got no answer within {} ms",
                        limit.as_millis()
                    ));
                }
            };
        let body = match tried.result {
            Ok(body) => body,
            Err(err) if err.code() == Some(codes::MESSAGE_NOT_FOUND) => {
                return BrokerCopy::NotStored;
            }
            Err(err) => return BrokerCopy::Unknown(format!("the lookup by id failed: {err}")),
        };
        match decode_json::<MessageInfo>(&body) {
            Ok(info) if info.message.topic == topic => BrokerCopy::Stored(StoredMessage {
                id: info.message.id,
                topic: info.message.topic,
                queue: info.message.queue,
                offset: info.message.offset,
                scheduled: info.state == MessageState::Scheduled,
            }),
            Ok(info) => BrokerCopy::Unknown(format!(
                "the id belongs to a message of topic '{}'",
                info.message.topic
            )),
            Err(err) => BrokerCopy::Unknown(format!("the lookup by id failed: {err}")),
        }
    }
}

/// The error of a send refused before any attempt (it cannot be encoded).
fn refusal(topic: &str, id: &str, messages: usize, cause: ClientError) -> SendError {
    SendError {
        topic: topic.to_owned(),
        id: id.to_owned(),
        messages,
        attempts: 0,
        cause,
        earlier: Vec::new(),
        copy: BrokerCopy::NotStored,
    }
}

/// The error of a send whose successful answer did not decode: it was acted on.
fn undecoded(
    topic: &str,
    id: &str,
    messages: usize,
    attempts: u32,
    cause: ClientError,
) -> SendError {
    SendError {
        topic: topic.to_owned(),
        id: id.to_owned(),
        messages,
        attempts,
        cause,
        earlier: Vec::new(),
        copy: BrokerCopy::Unknown("the broker's answer did not decode".to_owned()),
    }
}

fn batch_receipt(body: &[u8], attempts: u32) -> Result<SendReceipt, ClientError> {
    let result: BatchResult = decode_json(body)?;
    Ok(SendReceipt {
        topic: result.topic,
        status: result.status,
        messages: result.results,
        attempts,
    })
}

/// The id of a batch's first message, for errors about the whole batch.
fn first_id(messages: &[OutgoingMessage]) -> &str {
    messages.first().and_then(|m| m.id.as_deref()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::RetryPolicy;

    /// Reads one request off `stream`: head and `Content-Length` body, as text.
    async fn read_request(stream: &mut TcpStream) -> String {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended early");
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if data.len() >= end + 4 + length {
                    return text;
                }
            }
        }
    }

    /// A server whose first `failures` connections are closed after reading the request,
    /// and whose next one is answered as a stored send; returns the requests it read.
    async fn flaky_server(failures: usize) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut requests = Vec::new();
            for n in 0..=failures {
                let (mut stream, _) = listener.accept().await.unwrap();
                requests.push(read_request(&mut stream).await);
                if n < failures {
                    continue; // dropped: closed before the answer
                }
                let body = r#"{"id":"x","topic":"t","queue":0,"offset":7,"status":"SEND_OK"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
            requests
        });
        (url, task)
    }

    fn quick(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            lookup_timeout: None,
            ..RetryPolicy::default()
        }
    }

    #[tokio::test]
    async fn a_send_cut_before_its_answer_is_retried_with_the_same_id() {
        let (url, server) = flaky_server(2).await;
        let client = Client::builder(url).retry(quick(3)).build().unwrap();
        let receipt = client
            .send_tracked("t", &OutgoingMessage::new("hello"))
            .await
            .unwrap();
        assert_eq!(receipt.attempts, 3);
        let requests = server.await.unwrap();
        let id_of = |request: &str| {
            let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
            serde_json::from_str::<serde_json::Value>(body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let ids: Vec<String> = requests.iter().map(|r| id_of(r)).collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[0].len(), 32, "{ids:?}");
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "one id on every attempt: {ids:?}"
        );
    }

    #[tokio::test]
    async fn without_retries_the_cut_send_fails_and_says_it_could_not_ask() {
        let (url, server) = flaky_server(1).await;
        let client = Client::builder(url.clone())
            .retry(quick(1))
            .build()
            .unwrap();
        let err = client
            .send_tracked("t", &OutgoingMessage::new("hello"))
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 1);
        assert!(
            matches!(err.cause(), ClientError::Transport(t) if !t.is_connect()),
            "{err}"
        );
        assert!(matches!(err.broker_copy(), BrokerCopy::Unknown(_)), "{err}");
        assert!(!err.is_refusal());
        // Let the server finish: its second connection is this send.
        let client = Client::builder(url).retry(quick(1)).build().unwrap();
        client
            .send_tracked("t", &OutgoingMessage::new("x"))
            .await
            .unwrap();
        assert_eq!(server.await.unwrap().len(), 2);
    }

    fn error(attempts: u32, cause: ClientError, copy: BrokerCopy, messages: usize) -> SendError {
        SendError {
            topic: "orders".into(),
            id: "0193A6".into(),
            messages,
            attempts,
            cause,
            earlier: Vec::new(),
            copy,
        }
    }

    fn api(status: u16, code: &str) -> ClientError {
        ClientError::Api {
            status,
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn the_error_says_plainly_whether_the_broker_has_the_message() {
        let timeout = ClientError::Transport(TransportError::timeout(
            "http://127.0.0.1:7700/v1/topics/orders/messages",
            std::time::Duration::from_secs(1),
        ));
        assert_eq!(
            error(3, timeout, BrokerCopy::NotStored, 1).to_string(),
            "send failed after 3 attempts (request to \
             http://127.0.0.1:7700/v1/topics/orders/messages timed out: no answer within \
             1000 ms); the broker has not stored message 0193A6"
        );
        let stored = BrokerCopy::Stored(StoredMessage {
            id: "0193A6".into(),
            topic: "orders".into(),
            queue: 2,
            offset: 41,
            scheduled: false,
        });
        assert_eq!(
            error(3, api(500, "INTERNAL"), stored, 10).to_string(),
            "send failed after 3 attempts (INTERNAL: m (HTTP 500)); the broker has stored \
             the batch of 10 messages (first 0193A6) after all (queue 2, offset 41)"
        );
        let unknown = BrokerCopy::Unknown("the lookup by id failed: reset".into());
        assert_eq!(
            error(1, api(502, "HTTP_502"), unknown, 1).to_string(),
            "send failed after 1 attempt (HTTP_502: m (HTTP 502)); whether the broker \
             stored message 0193A6 is unknown (the lookup by id failed: reset)"
        );
    }

    #[test]
    fn only_a_first_attempt_4xx_is_a_plain_refusal() {
        assert!(error(1, api(404, "TOPIC_NOT_FOUND"), BrokerCopy::NotStored, 1).is_refusal());
        assert!(!error(3, api(404, "TOPIC_NOT_FOUND"), BrokerCopy::NotStored, 1).is_refusal());
        assert!(!error(1, api(503, "STORE_UNAVAILABLE"), BrokerCopy::NotStored, 1).is_refusal());
        let refused = ClientError::Transport(TransportError::connect_for_tests());
        assert!(!error(1, refused, BrokerCopy::NotStored, 1).is_refusal());
    }
}
