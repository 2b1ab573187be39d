//! The conversions from core types to the API's JSON shapes, which `weir_wire` owns
//! (and which cannot name core types), and the one shape not shared with the client:
//! producer groups.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;
use weir_core::message::MESSAGE_GROUP_PROPERTY;
use weir_core::topic::{TopicConfig, TopicDescription};
use weir_core::{
    CommittedOffset, DeadLetter, DeadLetterPage, Delivery, GroupConfig, GroupDescription,
    HalfMessage, LagReport, MessageDraft, ProducerGroupConfig, ScheduledMessage, SendStatus,
    SentMessage, StoredMessage,
};
use weir_wire::message::{Body, CheckBack, Content, Half, Message, Pending, Scheduled};
use weir_wire::send::{HALF, SendRequest};
use weir_wire::transaction::ProducerGroup;
use weir_wire::{group, send, topic};

use crate::ApiError;
use crate::delayed::{DelayRequest, Source};
use crate::send::{HalfOptions, Outgoing};

/// The namespace of the broker's own message properties.
const SYSTEM_PROPERTY_PREFIX: &str = "weir.";

/// A topic as the API shows it.
pub(crate) fn topic(config: &TopicConfig) -> topic::Topic {
    topic::Topic {
        name: config.name.clone(),
        queues: config.queues,
        created_ms: config.created_ms,
    }
}

/// A topic with its queue ranges.
pub(crate) fn topic_description(description: &TopicDescription) -> topic::TopicDescription {
    topic::TopicDescription {
        topic: topic(&description.config),
        queue_offsets: description
            .queues
            .iter()
            .map(|q| topic::QueueOffsets {
                queue: q.queue,
                min_offset: q.min_offset,
                max_offset: q.max_offset,
            })
            .collect(),
        messages: description.messages(),
    }
}

/// The send a JSON message describes. `now` is the clock relative delays count from;
/// `max_delay_ms` the longest delay allowed.
pub(crate) fn outgoing(
    mut request: SendRequest<'_>,
    now: i64,
    max_delay_ms: u64,
) -> Result<Outgoing, ApiError> {
    let deliver_at = match request.deliver_at.map(u64::try_from) {
        Some(Err(_)) => {
            return Err(ApiError::invalid_argument(
                "deliver_at is a time in ms since the Unix epoch; it cannot be negative",
            ));
        }
        Some(Ok(at)) => Some(at),
        None => None,
    };
    let delay = DelayRequest {
        delay_ms: request.delay_ms,
        deliver_at,
        delay_level: request.delay_level,
    };
    let half = match request.transaction.as_deref() {
        Some(HALF) => Some(HalfOptions {
            producer_group: request.producer_group.take().map(Cow::into_owned),
            check_after_ms: request.check_after_ms,
        }),
        Some(other) => {
            return Err(ApiError::invalid_argument(format!(
                "transaction must be \"{HALF}\", got \"{other}\""
            )));
        }
        None if request.producer_group.is_some() || request.check_after_ms.is_some() => {
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
    let body = request
        .take_body()
        .map_err(|err| ApiError::invalid_argument(err.to_string()))?;
    let draft = MessageDraft {
        id: request.id.map(Cow::into_owned),
        keys: request.keys.into_owned(),
        tag: request.tag.map(Cow::into_owned),
        properties: request
            .properties
            .into_iter()
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect(),
        message_group: request.message_group.map(Cow::into_owned),
        queue: request.queue,
        born_ms: request.born_ms,
        deliver_at,
        body: Bytes::from(body),
    };
    Ok(Outgoing { draft, half })
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

/// A send status as the API names it.
pub(crate) fn send_status(status: SendStatus) -> send::SendStatus {
    match status {
        SendStatus::Ok => send::SendStatus::SendOk,
        SendStatus::FlushDiskTimeout => send::SendStatus::FlushDiskTimeout,
    }
}

/// Where one sent message went: its queue and offset, or, while scheduled, when it will
/// be delivered.
pub(crate) fn batch_item(sent: &SentMessage) -> send::BatchItem<'_> {
    let placed = sent.deliver_at.is_none();
    send::BatchItem {
        id: Cow::Borrowed(&sent.id),
        queue: placed.then_some(sent.queue),
        offset: placed.then_some(sent.offset),
        deliver_at: sent.deliver_at,
    }
}

/// The name serde gives a unit variant of a core enum (`"clustering"`, `"latest"`).
fn variant_name(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// A consumer group as the API shows it.
pub(crate) fn group(config: &GroupConfig) -> group::Group {
    group::Group {
        name: config.name.clone(),
        topic: config.topic.clone(),
        mode: variant_name(config.mode),
        fifo: config.fifo,
        max_attempts: config.max_attempts,
        invisible_ms: config.invisible_ms,
        backoff_ms: config.backoff_ms.clone(),
        filter: config.filter.clone(),
        from: variant_name(config.from),
        created_ms: config.created_ms,
    }
}

/// A group with its members, backlog and counters.
pub(crate) fn group_description(description: &GroupDescription) -> group::GroupDescription {
    let counters = description.counters;
    group::GroupDescription {
        group: group(&description.config),
        members: description.members.clone(),
        lag: lag(&description.lag),
        counters: group::GroupCounters {
            delivered: counters.delivered,
            redelivered: counters.redelivered,
            acked: counters.acked,
            nacked: counters.nacked,
            dead_lettered: counters.dead_lettered,
        },
        dead_letters: description.dead_letters,
    }
}

/// A group's backlog.
pub(crate) fn lag(report: &LagReport) -> group::Lag {
    group::Lag {
        group: report.group.clone(),
        total: report.total,
        oldest_age_ms: report.oldest_age_ms,
        queues: report
            .queues
            .iter()
            .map(|q| group::QueueLag {
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
pub(crate) fn offsets(offsets: &[CommittedOffset]) -> group::OffsetList {
    group::OffsetList {
        queues: offsets
            .iter()
            .map(|o| group::CommittedOffset {
                queue: o.queue,
                committed: o.committed,
            })
            .collect(),
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
pub(crate) fn producer_group(config: &ProducerGroupConfig) -> ProducerGroup {
    ProducerGroup {
        name: config.name.clone(),
        callback_url: config.callback_url.clone(),
        created_ms: config.created_ms,
    }
}
