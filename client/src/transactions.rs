//! Transactional messages: half sends, commit and rollback, resuming a parked
//! transaction, the list of undecided transactions, and the producers' long poll for
//! check-backs (`docs/scheduling.md`).
//!
//! A half message is stored at once but invisible to consumers until its transaction is
//! committed; its message id is the transaction id. Without a decision within the
//! check-back delay the broker asks the producer group: through its callback URL (see
//! `producer_groups.rs`), or through [`Client::poll_checks`], which a producer answers
//! with [`Client::commit`] or [`Client::rollback`].

use http::Method;
use serde::{Deserialize, Serialize, Serializer};

use crate::endpoint::encode_component;
use std::borrow::Cow;

use weir_wire::message::Half;
use weir_wire::send::{HALF, HalfSendAnswer, SendRequest};
use weir_wire::transaction::{CheckList, TransactionList};

use crate::send::messages_path;
use crate::{Client, ClientError, Message, OutgoingMessage, SendStatus};

/// The answer to a half send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "HalfSendAnswer<'static>", into = "HalfSendAnswer<'static>")]
pub struct HalfSent {
    /// The message id.
    pub id: String,
    /// The topic the message goes to when committed.
    pub topic: String,
    /// The transaction id (the same as the message id), for commit and rollback.
    pub transaction: String,
    /// Whether the half message is known durable.
    pub status: SendStatus,
}

impl From<HalfSendAnswer<'static>> for HalfSent {
    fn from(answer: HalfSendAnswer<'static>) -> Self {
        HalfSent {
            id: answer.id.into_owned(),
            topic: answer.topic.into_owned(),
            transaction: answer.transaction.into_owned(),
            status: answer.status,
        }
    }
}

impl From<HalfSent> for HalfSendAnswer<'static> {
    fn from(sent: HalfSent) -> Self {
        HalfSendAnswer {
            id: sent.id.into(),
            topic: sent.topic.into(),
            transaction: sent.transaction.into(),
            status: sent.status,
        }
    }
}

pub use weir_wire::transaction::{TransactionOutcome, TransactionState};

/// An undecided transaction: its half message and its check-back state. The list of
/// transactions and the producers' check-back poll both answer these.
///
/// Serializes to the broker's shape: `transaction`, `producer_group`, `checks`, `parked`
/// and the message's fields (without queue and offset: a half message is in no queue of
/// its topic).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Half<'static>")]
pub struct Transaction {
    /// The transaction id.
    pub transaction: String,
    /// The producer group named by the half send, if any.
    pub producer_group: Option<String>,
    /// Check-backs made so far.
    pub checks: u32,
    /// Whether the broker stopped checking after its maximum of checks; it waits for a
    /// decision or [`Client::resume_transaction`].
    pub parked: bool,
    /// The half message; `topic` is the topic it goes to when committed, `store_ms` when
    /// it was sent. Its `queue` and `offset` read 0.
    pub message: Message,
}

/// A check-back a producer is asked to answer ([`Client::poll_checks`]): decide the
/// transaction with [`Client::commit`] or [`Client::rollback`].
pub type Check = Transaction;

impl Transaction {
    /// The topic the message goes to when committed.
    pub fn topic(&self) -> &str {
        &self.message.topic
    }
}

impl TryFrom<Half<'static>> for Transaction {
    type Error = String;

    fn try_from(half: Half<'static>) -> Result<Transaction, String> {
        Ok(Transaction {
            transaction: half.transaction.into_owned(),
            producer_group: half.producer_group.map(Cow::into_owned),
            checks: half.checks,
            parked: half.parked,
            message: Message::unplaced(
                half.id.into_owned(),
                half.topic.into_owned(),
                half.content,
            )?,
        })
    }
}

impl Serialize for Transaction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pending = self.message.pending();
        Half {
            transaction: Cow::Borrowed(&self.transaction),
            topic: pending.topic,
            producer_group: self.producer_group.as_deref().map(Cow::Borrowed),
            checks: self.checks,
            parked: self.parked,
            id: pending.id,
            content: pending.content,
        }
        .serialize(serializer)
    }
}

/// The JSON form of a half send: the message plus its transaction fields.
fn half_request<'a>(
    message: &'a OutgoingMessage,
    producer_group: Option<&'a str>,
    check_after_ms: Option<u64>,
) -> SendRequest<'a> {
    SendRequest {
        transaction: Some(HALF.into()),
        producer_group: producer_group.map(Into::into),
        check_after_ms,
        ..message.request()
    }
}

impl Client {
    /// Sends a half message: stored, invisible to consumers until [`Client::commit`].
    ///
    /// `producer_group` names who the broker asks when no decision comes within
    /// `check_after_ms` (`None`: the broker's default, 6 s).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), weir_client::ClientError> {
    /// use weir_client::{Client, OutgoingMessage};
    ///
    /// let client = Client::new("http://127.0.0.1:7700")?;
    /// let half = client
    ///     .send_half("orders", &OutgoingMessage::new("order 7"), Some("shop"), None)
    ///     .await?;
    /// // ... the local transaction succeeds ...
    /// client.commit(&half.transaction).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A delayed message is refused (`INVALID_ARGUMENT`: a transactional message cannot
    /// also be delayed), as are the refusals of any send, as [`ClientError::Api`].
    pub async fn send_half(
        &self,
        topic: &str,
        message: &OutgoingMessage,
        producer_group: Option<&str>,
        check_after_ms: Option<u64>,
    ) -> Result<HalfSent, ClientError> {
        let body = half_request(message, producer_group, check_after_ms);
        let request = self.json_request(Method::POST, &messages_path(topic), &body)?;
        self.execute_json(request).await
    }

    /// Commits a transaction: its message is appended to its topic. Committing again
    /// answers committed.
    ///
    /// # Errors
    ///
    /// `TRANSACTION_NOT_FOUND` (404), or `TRANSACTION_CONFLICT` (409) when it was rolled
    /// back, as [`ClientError::Api`].
    pub async fn commit(&self, transaction: &str) -> Result<TransactionOutcome, ClientError> {
        self.decide(transaction, "commit").await
    }

    /// Rolls a transaction back: its message is discarded. Rolling back again answers
    /// rolled back.
    ///
    /// # Errors
    ///
    /// `TRANSACTION_NOT_FOUND` (404), or `TRANSACTION_CONFLICT` (409) when it was
    /// committed, as [`ClientError::Api`].
    pub async fn rollback(&self, transaction: &str) -> Result<TransactionOutcome, ClientError> {
        self.decide(transaction, "rollback").await
    }

    /// Starts the check-backs of an undecided transaction again from zero; for a parked
    /// one, whose checks ran out.
    ///
    /// # Errors
    ///
    /// `TRANSACTION_NOT_FOUND` (404) as [`ClientError::Api`], also when it was decided.
    pub async fn resume_transaction(
        &self,
        transaction: &str,
    ) -> Result<TransactionOutcome, ClientError> {
        self.decide(transaction, "resume").await
    }

    /// The undecided transactions, parked ones included, oldest first; at most `max`
    /// (`None`: the broker's default, 100).
    pub async fn transactions(&self, max: Option<u32>) -> Result<Vec<Transaction>, ClientError> {
        let mut path = "/v1/transactions".to_owned();
        if let Some(max) = max {
            path.push_str(&format!("?max={max}"));
        }
        let list: TransactionList<Transaction> = self
            .execute_json(self.empty_request(Method::GET, &path)?)
            .await?;
        Ok(list.transactions)
    }

    /// The check-backs waiting for a producer of `producer_group`: at most `max` (1–1000;
    /// `None`: 32), waiting up to `wait_ms` (0–30 000; `None`: 0) for a first one (long
    /// poll). Answer each with [`Client::commit`] or [`Client::rollback`]; one left
    /// unanswered is asked again at the next check interval.
    ///
    /// The group need not be registered ([`Client::put_producer_group`]); registration
    /// only adds a callback URL. The client's request timeout must exceed the wait.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future loses nothing: checks handed to an abandoned request are asked
    /// again at the next check interval.
    pub async fn poll_checks(
        &self,
        producer_group: &str,
        max: Option<u32>,
        wait_ms: Option<u64>,
    ) -> Result<Vec<Check>, ClientError> {
        let path = checks_path(producer_group, max, wait_ms);
        let list: CheckList<Check> = self
            .execute_json(self.empty_request(Method::GET, &path)?)
            .await?;
        Ok(list.checks)
    }

    async fn decide(
        &self,
        transaction: &str,
        action: &str,
    ) -> Result<TransactionOutcome, ClientError> {
        let path = format!(
            "/v1/transactions/{}/{action}",
            encode_component(transaction)
        );
        self.execute_json(self.empty_request(Method::POST, &path)?)
            .await
    }
}

fn checks_path(producer_group: &str, max: Option<u32>, wait_ms: Option<u64>) -> String {
    let mut path = format!(
        "/v1/producer-groups/{}/checks",
        encode_component(producer_group)
    );
    let params: Vec<String> = [
        max.map(|max| format!("max={max}")),
        wait_ms.map(|wait| format!("wait_ms={wait}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !params.is_empty() {
        path.push('?');
        path.push_str(&params.join("&"));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn half_send_is_the_message_plus_transaction_fields() {
        let message = OutgoingMessage::new("x").with_id("tx-1").with_tag("t");
        let body = half_request(&message, Some("shop"), Some(1000));
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"body":"x","id":"tx-1","tag":"t","transaction":"half",
                   "producer_group":"shop","check_after_ms":1000})
        );
        let bare = half_request(&message, None, None);
        let value = serde_json::to_value(&bare).unwrap();
        assert!(value.get("producer_group").is_none() && value.get("check_after_ms").is_none());
    }

    #[test]
    fn transaction_listing_decodes_and_serializes_back() {
        let answer = json!({"transaction":"tx-1","topic":"orders","producer_group":"shop",
            "checks":2,"parked":false,"id":"tx-1","keys":[],"properties":{"a":"b"},
            "born_ms":1764000000000_i64,"store_ms":1764000000001_i64,"body":"x"});
        let tx: Transaction = serde_json::from_value(answer.clone()).unwrap();
        assert_eq!(tx.topic(), "orders");
        assert_eq!((tx.checks, tx.parked), (2, false));
        assert_eq!(tx.producer_group.as_deref(), Some("shop"));
        assert_eq!(tx.message.store_ms, 1_764_000_000_001);
        assert_eq!(serde_json::to_value(&tx).unwrap(), answer);
    }

    #[test]
    fn checks_path_carries_only_what_is_given() {
        assert_eq!(
            checks_path("shop", None, None),
            "/v1/producer-groups/shop/checks"
        );
        assert_eq!(
            checks_path("shop", Some(5), Some(2000)),
            "/v1/producer-groups/shop/checks?max=5&wait_ms=2000"
        );
        assert_eq!(
            checks_path("a b", None, Some(0)),
            "/v1/producer-groups/a%20b/checks?wait_ms=0"
        );
    }
}
