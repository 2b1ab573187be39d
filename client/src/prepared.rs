//! Prepared sends: a request built once (raw single message or binary batch) and sent any
//! number of times, answering with the status only. This is the cheap path a load
//! generator uses.
//!
//! Each send of a prepared request is a new send: a message prepared without an id gets
//! a fresh one per send (a `weir-message-id` header, or an id spliced into the batch),
//! kept across that send's retries. A message prepared with an id keeps it on every send,
//! so repeating such a request is answered from the stored copy.
//!
//! Owns the raw form's `weir-*` headers. The raw form cannot carry everything the JSON
//! form can (HTTP lower-cases header names, and `weir-keys` is comma-separated), so
//! building it refuses what would arrive altered. A delay travels as `weir-delay-ms`,
//! `weir-deliver-at` or `weir-delay-level`.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Uri};
use serde::Deserialize;

use crate::batch::BATCH_CONTENT_TYPE;
use crate::client::{Replayable, Retried, decode_json};
use crate::message_id::new_message_id;
use crate::send::{batch_path, messages_path};
use crate::{Client, ClientError, Delay, EncodedBatch, OutgoingMessage, SendStatus};

const MESSAGE_ID: HeaderName = HeaderName::from_static("weir-message-id");

/// A send request built once and sent any number of times with
/// [`Client::send_prepared`]; the body bytes are shared, not copied, per send.
#[derive(Debug, Clone)]
pub struct PreparedSend {
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    messages: u32,
    body_bytes: u64,
    ids: Ids,
}

/// Where the ids of a prepared send's messages come from.
#[derive(Debug, Clone)]
enum Ids {
    /// One message with this id, in the headers.
    Given(String),
    /// One message without an id: a fresh `weir-message-id` per send.
    FreshHeader,
    /// A binary batch: fresh ids spliced into the messages without one, per send.
    Batch(EncodedBatch),
}

impl PreparedSend {
    /// How many messages one send of this request carries.
    pub fn messages(&self) -> u32 {
        self.messages
    }

    /// The message body bytes one send carries (not counting attributes or framing).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// The request for one send (its retries included), every message given an id, with
    /// the first message's id.
    pub(crate) fn for_send(&self) -> (Replayable, String) {
        let mut headers = self.headers.clone();
        let (body, first_id) = match &self.ids {
            Ids::Given(id) => (self.body.clone(), Some(id.clone())),
            Ids::FreshHeader => {
                let id = new_message_id();
                // Hex digits are a valid header value.
                if let Ok(value) = HeaderValue::from_str(&id) {
                    headers.insert(MESSAGE_ID, value);
                }
                (self.body.clone(), Some(id))
            }
            Ids::Batch(batch) => batch.with_ids(),
        };
        let request = Replayable {
            method: Method::POST,
            uri: self.uri.clone(),
            headers,
            body,
        };
        (request, first_id.unwrap_or_default())
    }
}

impl Client {
    /// Builds the raw-form request for `message`, to send with [`Client::send_prepared`].
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidMessage`] when a key holds a comma, a property name is not a
    /// lower-case header token, or a value holds control characters: these would not
    /// reach the broker unchanged (use the JSON form, [`Client::send`], instead).
    pub fn prepare_send(
        &self,
        topic: &str,
        message: &OutgoingMessage,
    ) -> Result<PreparedSend, ClientError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Some(id) = &message.id {
            insert(&mut headers, MESSAGE_ID, id)?;
        }
        if !message.keys.is_empty() {
            if let Some(key) = message.keys.iter().find(|key| key.contains(',')) {
                return Err(ClientError::InvalidMessage(format!(
                    "key '{key}' holds a comma, which the raw form uses as separator"
                )));
            }
            insert(
                &mut headers,
                HeaderName::from_static("weir-keys"),
                &message.keys.join(","),
            )?;
        }
        if let Some(tag) = &message.tag {
            insert(&mut headers, HeaderName::from_static("weir-tag"), tag)?;
        }
        if let Some(group) = &message.message_group {
            insert(
                &mut headers,
                HeaderName::from_static("weir-message-group"),
                group,
            )?;
        }
        if let Some(queue) = message.queue {
            headers.insert(
                HeaderName::from_static("weir-queue"),
                HeaderValue::from(queue),
            );
        }
        if let Some(delay) = message.delay {
            let (name, value) = match delay {
                Delay::After(ms) => ("weir-delay-ms", HeaderValue::from(ms)),
                Delay::At(at) => ("weir-deliver-at", HeaderValue::from(at)),
                Delay::Level(level) => ("weir-delay-level", HeaderValue::from(level)),
            };
            headers.insert(HeaderName::from_static(name), value);
        }
        for (name, value) in &message.properties {
            let header = format!("weir-prop-{name}");
            let header = HeaderName::from_lowercase(header.as_bytes()).map_err(|_| {
                ClientError::InvalidMessage(format!(
                    "property name '{name}' cannot travel as a header (lower-case letters, digits and -_. only)"
                ))
            })?;
            insert(&mut headers, header, value)?;
        }
        Ok(PreparedSend {
            uri: self.uri(&messages_path(topic))?,
            headers,
            body: message.body.clone(),
            messages: 1,
            body_bytes: message.body.len() as u64,
            ids: match &message.id {
                Some(id) => Ids::Given(id.clone()),
                None => Ids::FreshHeader,
            },
        })
    }

    /// Builds the binary batch request for `batch`, to send with [`Client::send_prepared`].
    pub fn prepare_batch(
        &self,
        topic: &str,
        batch: &EncodedBatch,
    ) -> Result<PreparedSend, ClientError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(BATCH_CONTENT_TYPE));
        Ok(PreparedSend {
            uri: self.uri(&batch_path(topic))?,
            headers,
            body: batch.bytes().clone(),
            messages: batch.count(),
            body_bytes: batch.body_bytes(),
            ids: Ids::Batch(batch.clone()),
        })
    }

    /// Sends a prepared request and returns only the broker's status, without decoding the
    /// per-message results: the cheap path for load generation. Retried under the
    /// client's policy; [`Client::send_prepared_tracked`] also says how many attempts it
    /// took and, when it failed, whether the broker stored it.
    pub async fn send_prepared(&self, prepared: &PreparedSend) -> Result<SendStatus, ClientError> {
        let (request, _) = prepared.for_send();
        let tried = self.execute_retrying(&request, Retried::Send).await;
        answered_status(&tried.result?)
    }
}

/// The `status` of a send's answer.
pub(crate) fn answered_status(body: &[u8]) -> Result<SendStatus, ClientError> {
    #[derive(Deserialize)]
    struct StatusOnly {
        status: SendStatus,
    }
    Ok(decode_json::<StatusOnly>(body)?.status)
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) -> Result<(), ClientError> {
    // `from_bytes` accepts UTF-8 beyond ASCII (the broker reads header values as UTF-8) but
    // refuses control characters, which would break the header framing.
    let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
        ClientError::InvalidMessage(format!("the value of {name} holds control characters"))
    })?;
    headers.insert(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::new("http://127.0.0.1:1").unwrap()
    }

    #[test]
    fn raw_form_carries_attributes_as_headers() {
        let message = OutgoingMessage::new("b")
            .with_id("m-1")
            .with_key("a")
            .with_key("b")
            .with_tag("t")
            .with_message_group("g")
            .with_queue(3)
            .with_property("source", "web");
        let prepared = client().prepare_send("orders", &message).unwrap();
        let header = |name: &str| {
            prepared
                .headers
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(prepared.uri.path(), "/v1/topics/orders/messages");
        assert_eq!(header("weir-message-id"), "m-1");
        assert_eq!(header("weir-keys"), "a,b");
        assert_eq!(header("weir-tag"), "t");
        assert_eq!(header("weir-message-group"), "g");
        assert_eq!(header("weir-queue"), "3");
        assert_eq!(header("weir-prop-source"), "web");
        assert_eq!(header("content-type"), "application/octet-stream");
        assert!(
            prepared
                .headers
                .keys()
                .all(|name| !name.as_str().contains("delay"))
        );
        let (request, id) = prepared.for_send();
        assert_eq!(
            (
                request.headers["weir-message-id"].to_str().unwrap(),
                id.as_str()
            ),
            ("m-1", "m-1")
        );
    }

    #[test]
    fn each_send_of_a_message_prepared_without_id_gets_a_fresh_one() {
        let prepared = client()
            .prepare_send("t", &OutgoingMessage::new("b"))
            .unwrap();
        assert!(prepared.headers.get("weir-message-id").is_none());
        let (first, first_id) = prepared.for_send();
        let (second, second_id) = prepared.for_send();
        assert_eq!(first.headers["weir-message-id"], first_id.as_str());
        assert_eq!(second.headers["weir-message-id"], second_id.as_str());
        assert_ne!(first_id, second_id);
        assert_eq!(first_id.len(), 32);
    }

    #[test]
    fn raw_form_carries_the_delay_as_one_header() {
        let client = client();
        let cases = [
            (Delay::After(250), "weir-delay-ms", "250"),
            (
                Delay::At(1_764_000_000_000),
                "weir-deliver-at",
                "1764000000000",
            ),
            (Delay::Level(18), "weir-delay-level", "18"),
        ];
        for (delay, name, value) in cases {
            let message = OutgoingMessage::new("b").with_delay(delay);
            let prepared = client.prepare_send("t", &message).unwrap();
            assert_eq!(prepared.headers.get(name).unwrap(), value);
            let delay_headers = prepared
                .headers
                .keys()
                .filter(|name| name.as_str().contains("deliver") || name.as_str().contains("delay"))
                .count();
            assert_eq!(delay_headers, 1, "{delay:?}");
        }
    }

    #[test]
    fn raw_form_refuses_what_would_arrive_altered() {
        let client = client();
        for message in [
            OutgoingMessage::new("").with_key("a,b"),
            OutgoingMessage::new("").with_property("Source", "x"),
            OutgoingMessage::new("").with_tag("line\nbreak"),
        ] {
            let err = client.prepare_send("t", &message).unwrap_err();
            assert!(matches!(err, ClientError::InvalidMessage(_)), "{err}");
        }
    }
}
