//! The API's JSON shapes that are not shared with the client yet, and the conversions
//! from core types to the shared ones of `weir_wire` (which cannot name core types).

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use weir_core::message::MESSAGE_GROUP_PROPERTY;
use weir_core::topic::{QueueOffsets, TopicConfig, TopicDescription};
use weir_core::{
    CommittedOffset, DeadLetter, DeadLetterPage, Delivery, GroupConfig, GroupCounters,
    GroupDescription, GroupMode, HalfMessage, LagReport, MessageDraft, ProducerGroupConfig,
    ScheduledMessage, StartFrom, StoredMessage,
};
use weir_wire::message::{Body, CheckBack, Content, Half, Message, Pending, Scheduled};

use crate::ApiError;
use crate::delayed::{DelayRequest, Source};
use crate::headers::HALF;
use crate::send::{HalfOptions, Outgoing};

/// The namespace of the broker's own message properties.
const SYSTEM_PROPERTY_PREFIX: &str = "weir.";

/// A topic as the API shows it.
#[derive(Serialize)]
pub(crate) struct TopicJson<'a> {
    name: &'a str,
    queues: u32,
    created_ms: i64,
}

impl<'a> From<&'a TopicConfig> for TopicJson<'a> {
    fn from(topic: &'a TopicConfig) -> Self {
        Self {
            name: &topic.name,
            queues: topic.queues,
            created_ms: topic.created_ms,
        }
    }
}

/// A topic with its queue ranges.
#[derive(Serialize)]
pub(crate) struct TopicDescriptionJson<'a> {
    #[serde(flatten)]
    topic: TopicJson<'a>,
    queue_offsets: &'a [QueueOffsets],
    messages: u64,
}

impl<'a> From<&'a TopicDescription> for TopicDescriptionJson<'a> {
    fn from(description: &'a TopicDescription) -> Self {
        Self {
            topic: TopicJson::from(&description.config),
            queue_offsets: &description.queues,
            messages: description.messages(),
        }
    }
}

/// A message to send, in JSON form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendJson {
    body: Option<String>,
    body_base64: Option<String>,
    id: Option<String>,
    #[serde(default)]
    keys: Vec<String>,
    tag: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    message_group: Option<String>,
    queue: Option<u32>,
    born_ms: Option<i64>,
    delay_ms: Option<u64>,
    deliver_at: Option<u64>,
    delay_level: Option<u32>,
    transaction: Option<String>,
    producer_group: Option<String>,
    check_after_ms: Option<u64>,
}

impl SendJson {
    /// The send this JSON describes. `now` is the clock relative delays count from;
    /// `max_delay_ms` the longest delay allowed.
    pub(crate) fn into_outgoing(self, now: i64, max_delay_ms: u64) -> Result<Outgoing, ApiError> {
        let delay = DelayRequest {
            delay_ms: self.delay_ms,
            deliver_at: self.deliver_at,
            delay_level: self.delay_level,
        };
        let half = match self.transaction.as_deref() {
            Some(HALF) => Some(HalfOptions {
                producer_group: self.producer_group,
                check_after_ms: self.check_after_ms,
            }),
            Some(other) => {
                return Err(ApiError::invalid_argument(format!(
                    "transaction must be \"{HALF}\", got \"{other}\""
                )));
            }
            None if self.producer_group.is_some() || self.check_after_ms.is_some() => {
                return Err(ApiError::invalid_argument(format!(
                    "\"producer_group\" and \"check_after_ms\" go only with \"transaction\":\"{HALF}\""
                )));
            }
            None => None,
        };
        if half.is_some() && !delay.is_empty() {
            return Err(ApiError::invalid_argument(
                "a transactional message cannot also be delayed",
            ));
        }
        let deliver_at = delay.resolve(Source::Json, now, max_delay_ms)?;
        let body = match (self.body, self.body_base64) {
            (Some(text), None) => Bytes::from(text),
            (None, Some(encoded)) => {
                Bytes::from(BASE64.decode(encoded.as_bytes()).map_err(|err| {
                    ApiError::invalid_argument(format!("body_base64 is not base64: {err}"))
                })?)
            }
            (None, None) => {
                return Err(ApiError::invalid_argument(
                    "a message needs \"body\" or \"body_base64\"",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_argument(
                    "give either \"body\" or \"body_base64\", not both",
                ));
            }
        };
        let draft = MessageDraft {
            id: self.id,
            keys: self.keys,
            tag: self.tag,
            properties: self.properties.into_iter().collect(),
            message_group: self.message_group,
            queue: self.queue,
            born_ms: self.born_ms,
            deliver_at,
            body,
        };
        Ok(Outgoing { draft, half })
    }
}

/// What a stored message carries, as the API shows it: the part shared by stored
/// messages, deliveries and dead letters. The body is borrowed, not copied.
fn content(stored: &StoredMessage) -> Content<'_> {
    content_of(stored, false)
}

/// The content of a message that is not in its topic yet (a delayed message, a half
/// message): the broker's bookkeeping properties (`weir.*`, a namespace user properties
/// cannot use) are left out.
fn pending_content(stored: &StoredMessage) -> Content<'_> {
    content_of(stored, true)
}

fn content_of(stored: &StoredMessage, hide_system: bool) -> Content<'_> {
    let message = &stored.message;
    let mut properties = BTreeMap::new();
    let mut message_group = None;
    for (name, value) in &message.properties {
        if name == MESSAGE_GROUP_PROPERTY {
            message_group = Some(Cow::Borrowed(value.as_str()));
        } else if !(hide_system && name.starts_with(SYSTEM_PROPERTY_PREFIX)) {
            properties.insert(Cow::Borrowed(name.as_str()), Cow::Borrowed(value.as_str()));
        }
    }
    Content {
        keys: Cow::Borrowed(&message.keys),
        tag: message.tag.as_deref().map(Cow::Borrowed),
        message_group,
        properties,
        born_ms: message.born_ms,
        store_ms: stored.store_ms,
        body: Body::borrowed(&message.body),
    }
}

/// A stored message as the API shows it.
pub(crate) fn message(stored: &StoredMessage) -> Message<'_> {
    Message {
        id: Cow::Borrowed(&stored.message.id),
        topic: Cow::Borrowed(&stored.topic),
        queue: stored.queue,
        offset: stored.queue_offset,
        content: content(stored),
    }
}

/// The answer to a single send. A delayed message has no queue and offset yet: it gets
/// them when it is due; it answers `deliver_at` instead.
#[derive(Serialize)]
pub(crate) struct SendResultJson<'a> {
    pub(crate) id: &'a str,
    pub(crate) topic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) queue: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deliver_at: Option<i64>,
    pub(crate) status: &'static str,
}

/// The answer to a half (transactional) send.
#[derive(Serialize)]
pub(crate) struct HalfSendResultJson<'a> {
    pub(crate) id: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) transaction: &'a str,
    pub(crate) status: &'static str,
}

/// One message of a batch answer; as [`SendResultJson`], a delayed message answers
/// `deliver_at` instead of its queue and offset.
#[derive(Serialize)]
pub(crate) struct BatchItemJson<'a> {
    pub(crate) id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) queue: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deliver_at: Option<i64>,
}

/// The answer to a batch send.
#[derive(Serialize)]
pub(crate) struct BatchResultJson<'a> {
    pub(crate) topic: &'a str,
    pub(crate) status: &'static str,
    pub(crate) results: Vec<BatchItemJson<'a>>,
}

/// A consumer group as the API shows it.
#[derive(Serialize)]
pub(crate) struct GroupJson<'a> {
    name: &'a str,
    topic: &'a str,
    mode: GroupMode,
    fifo: bool,
    max_attempts: u32,
    invisible_ms: u64,
    backoff_ms: &'a [u64],
    filter: &'a str,
    from: StartFrom,
    created_ms: i64,
}

impl<'a> From<&'a GroupConfig> for GroupJson<'a> {
    fn from(config: &'a GroupConfig) -> Self {
        Self {
            name: &config.name,
            topic: &config.topic,
            mode: config.mode,
            fifo: config.fifo,
            max_attempts: config.max_attempts,
            invisible_ms: config.invisible_ms,
            backoff_ms: &config.backoff_ms,
            filter: &config.filter,
            from: config.from,
            created_ms: config.created_ms,
        }
    }
}

/// A group with its members, backlog and counters.
#[derive(Serialize)]
pub(crate) struct GroupDescriptionJson<'a> {
    #[serde(flatten)]
    group: GroupJson<'a>,
    members: &'a [String],
    lag: LagJson<'a>,
    counters: CountersJson,
    dead_letters: u64,
}

impl<'a> From<&'a GroupDescription> for GroupDescriptionJson<'a> {
    fn from(description: &'a GroupDescription) -> Self {
        Self {
            group: GroupJson::from(&description.config),
            members: &description.members,
            lag: LagJson::from(&description.lag),
            counters: CountersJson::from(description.counters),
            dead_letters: description.dead_letters,
        }
    }
}

/// Delivery counters of a group since the broker started.
#[derive(Serialize)]
pub(crate) struct CountersJson {
    delivered: u64,
    redelivered: u64,
    acked: u64,
    nacked: u64,
    dead_lettered: u64,
}

impl From<GroupCounters> for CountersJson {
    fn from(counters: GroupCounters) -> Self {
        Self {
            delivered: counters.delivered,
            redelivered: counters.redelivered,
            acked: counters.acked,
            nacked: counters.nacked,
            dead_lettered: counters.dead_lettered,
        }
    }
}

/// A group's backlog.
#[derive(Serialize)]
pub(crate) struct LagJson<'a> {
    group: &'a str,
    total: u64,
    oldest_age_ms: i64,
    queues: Vec<QueueLagJson>,
}

/// The backlog of one queue.
#[derive(Serialize)]
struct QueueLagJson {
    queue: u32,
    retry: bool,
    committed: u64,
    max_offset: u64,
    lag: u64,
    in_flight: u64,
    oldest_age_ms: i64,
}

impl<'a> From<&'a LagReport> for LagJson<'a> {
    fn from(report: &'a LagReport) -> Self {
        Self {
            group: &report.group,
            total: report.total,
            oldest_age_ms: report.oldest_age_ms,
            queues: report
                .queues
                .iter()
                .map(|q| QueueLagJson {
                    queue: q.queue,
                    retry: q.retry,
                    committed: q.committed,
                    max_offset: q.max_offset,
                    lag: q.lag,
                    in_flight: q.in_flight,
                    oldest_age_ms: q.oldest_age_ms,
                })
                .collect(),
        }
    }
}

/// One delivered message with its receipt handle.
pub(crate) fn delivery(delivery: &Delivery) -> weir_wire::message::Delivery<'_> {
    weir_wire::message::Delivery {
        id: Cow::Borrowed(&delivery.id),
        topic: Cow::Borrowed(&delivery.topic),
        queue: delivery.queue,
        offset: delivery.offset,
        content: content(&delivery.stored),
        receipt: Cow::Borrowed(&delivery.receipt),
        attempt: delivery.attempt,
        first_delivery_ms: delivery.first_delivery_ms,
        resent: delivery.resent,
    }
}

/// The committed offsets of a group, per queue.
#[derive(Serialize)]
pub(crate) struct OffsetsJson {
    queues: Vec<OffsetJson>,
}

#[derive(Serialize)]
struct OffsetJson {
    queue: u32,
    committed: u64,
}

impl From<&[CommittedOffset]> for OffsetsJson {
    fn from(offsets: &[CommittedOffset]) -> Self {
        Self {
            queues: offsets
                .iter()
                .map(|o| OffsetJson {
                    queue: o.queue,
                    committed: o.committed,
                })
                .collect(),
        }
    }
}

/// A message in a group's dead-letter queue.
pub(crate) fn dead_letter(dead: &DeadLetter) -> weir_wire::message::DeadLetter<'_> {
    weir_wire::message::DeadLetter {
        dlq_offset: dead.dlq_offset,
        id: Cow::Borrowed(&dead.id),
        original_id: Cow::Borrowed(&dead.original_id),
        topic: Cow::Borrowed(&dead.topic),
        queue: dead.queue,
        offset: dead.offset,
        attempts: dead.attempts,
        reason: Cow::Borrowed(&dead.reason),
        dead_ms: dead.dead_ms,
        content: content(&dead.stored),
    }
}

/// A page of dead letters.
pub(crate) fn dead_letter_page(page: &DeadLetterPage) -> weir_wire::message::DeadLetterPage<'_> {
    weir_wire::message::DeadLetterPage {
        dead_letters: page.dead_letters.iter().map(dead_letter).collect(),
        next_offset: page.next_offset,
        max_offset: page.max_offset,
    }
}

/// A delayed message that is not yet due, as `GET /v1/messages/{id}` shows it: no queue
/// and offset yet, its topic is the one it will be delivered to.
pub(crate) fn scheduled(scheduled: &ScheduledMessage) -> Scheduled<'_> {
    Scheduled {
        id: Cow::Borrowed(&scheduled.stored.message.id),
        topic: Cow::Borrowed(&scheduled.topic),
        state: Cow::Borrowed("scheduled"),
        deliver_at: scheduled.deliver_at,
        content: pending_content(&scheduled.stored),
    }
}

/// A half message with the state of its transaction, as the transaction list, the
/// producer group's checks and the check-back callback show it.
pub(crate) fn half(half: &HalfMessage) -> Half<'_> {
    Half {
        transaction: Cow::Borrowed(&half.transaction),
        topic: Cow::Borrowed(&half.topic),
        producer_group: half.producer_group.as_deref().map(Cow::Borrowed),
        checks: half.checks,
        parked: half.parked,
        id: Cow::Borrowed(&half.stored.message.id),
        content: pending_content(&half.stored),
    }
}

/// The body of a check-back callback: the transaction and its message.
pub(crate) fn check_back(half: &HalfMessage) -> CheckBack<'_> {
    CheckBack {
        transaction: Cow::Borrowed(&half.transaction),
        topic: Cow::Borrowed(&half.topic),
        producer_group: half.producer_group.as_deref().map(Cow::Borrowed),
        checks: half.checks,
        message: Pending {
            id: Cow::Borrowed(&half.stored.message.id),
            topic: Cow::Borrowed(&half.topic),
            content: pending_content(&half.stored),
        },
    }
}

/// A producer group as the API shows it.
#[derive(Serialize)]
pub(crate) struct ProducerGroupJson<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
    created_ms: i64,
}

impl<'a> From<&'a ProducerGroupConfig> for ProducerGroupJson<'a> {
    fn from(config: &'a ProducerGroupConfig) -> Self {
        Self {
            name: &config.name,
            callback_url: config.callback_url.as_deref(),
            created_ms: config.created_ms,
        }
    }
}
