//! Transactional messages: half messages invisible to consumers until the producer
//! commits, discarded on rollback, and checked back when no decision comes.
//!
//! A half message is stored in queue 0 of [`HALF_TOPIC`] under its message id, which is
//! also the transaction id. `commit` appends it to its topic with the same id and records
//! the outcome in the topic's [`Ledger`]; `rollback` only records the outcome. Both are
//! idempotent, and durable like any state change (the ledger is in the commitlog).
//!
//! Without a decision within `check_after_ms` (default 6 s), the timer service asks the
//! registered [`TransactionChecker`]s in order (a WebAssembly checker, then the producer
//! group's callback URL); an answer of commit or rollback is applied. When none knows,
//! the check is queued for the producer group's long poll, and asked again every check
//! interval (default 30 s). After the maximum number of checks (default 15) the
//! transaction is parked: it stays in [`list`](crate::Broker::transactions) as parked
//! until it is resumed, committed or rolled back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use weir_store::{Message, StoredMessage};

use crate::broker::now_ms;
use crate::limits::{MAX_RECEIVE_MESSAGES, check_range, check_wait};
use crate::message::property;
use crate::schedule::Timer;
use crate::schedule::ledger::{ENTRY_QUEUE, FIRST_STEP_KIND, Ledger, LedgerEvent};
use crate::topic::ProducerGroupConfig;
use crate::{Broker, CoreError, MessageDraft, SendStatus};

/// The system topic holding half messages.
pub const HALF_TOPIC: &str = "%SYS%half";
/// The topic a half message belongs to.
const TARGET_TOPIC: &str = "weir.tx.topic";
/// The producer group that sent it.
const PRODUCER_GROUP: &str = "weir.tx.producer-group";
/// When the first check-back is due, ms after the send.
const CHECK_AFTER: &str = "weir.tx.check-after-ms";
/// A queue pinned by the producer.
const TARGET_QUEUE: &str = "weir.tx.queue";

/// Outcome: committed.
const COMMITTED: u8 = 1;
/// Outcome: rolled back.
const ROLLED_BACK: u8 = 2;
/// Outcome: copied further up the half queue (ahead of retention).
const MOVED: u8 = 3;
/// Step: a check-back was made (value: checks so far).
const CHECKED: u8 = FIRST_STEP_KIND;
/// Step: the maximum of checks was reached.
const PARKED: u8 = FIRST_STEP_KIND + 1;
/// Step: a parked transaction was resumed.
const RESUMED: u8 = FIRST_STEP_KIND + 2;

/// What a checker says about a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxState {
    /// Make it visible.
    Commit,
    /// Discard it.
    Rollback,
    /// Not decided yet: ask again later.
    Unknown,
}

/// Answers check-backs. Implemented by the plugin host (a WebAssembly checker) and the
/// HTTP ingress (a producer group's callback URL).
pub trait TransactionChecker: Send + Sync {
    /// The state of the transaction of `half`.
    fn check<'a>(
        &'a self,
        half: &'a HalfMessage,
    ) -> std::pin::Pin<Box<dyn Future<Output = TxState> + Send + 'a>>;
}

/// A half message with what the broker knows of its transaction.
#[derive(Clone, Debug)]
pub struct HalfMessage {
    /// The transaction id (the message id).
    pub transaction: String,
    /// The topic it belongs to.
    pub topic: String,
    /// The producer group that sent it, if it named one.
    pub producer_group: Option<String>,
    /// Check-backs made so far.
    pub checks: u32,
    /// Whether it reached the maximum of checks and waits to be resumed.
    pub parked: bool,
    /// The stored half message.
    pub stored: StoredMessage,
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// Visible in its topic.
    Committed,
    /// Discarded.
    RolledBack,
}

/// Check-back settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxSettings {
    /// First check-back after this long without a decision (default 6 s).
    pub check_after: Duration,
    /// Then every this long (default 30 s).
    pub check_interval: Duration,
    /// Park the transaction after this many checks (default 15).
    pub max_checks: u32,
}

impl Default for TxSettings {
    fn default() -> Self {
        Self {
            check_after: Duration::from_secs(6),
            check_interval: Duration::from_secs(30),
            max_checks: 15,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
struct Pending {
    checks: u32,
    parked: bool,
}

/// Undecided transactions and the checkers.
pub(crate) struct Transactions {
    ledger: Ledger,
    pending: Mutex<HashMap<u64, Pending>>,
    checkers: RwLock<Vec<Arc<dyn TransactionChecker>>>,
    /// Per producer group, transactions waiting for a producer's answer.
    asks: Mutex<HashMap<String, VecDeque<u64>>>,
    asked: Notify,
    settings: TxSettings,
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for Transactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transactions")
            .field("pending", &self.pending.lock().len())
            .finish_non_exhaustive()
    }
}

impl Transactions {
    pub(crate) fn recover(
        store: &weir_store::Store,
        settings: TxSettings,
    ) -> Result<Self, CoreError> {
        let mut pending: HashMap<u64, Pending> = HashMap::new();
        let ledger = Ledger::recover(store, HALF_TOPIC, |snapshot, event| {
            if let Some(value) = snapshot
                && let Ok(saved) = serde_json::from_value::<Vec<(u64, Pending)>>(value)
            {
                pending = saved.into_iter().collect();
            }
            if let Some(event) = event {
                let entry = pending.entry(event.offset).or_default();
                match event.kind {
                    CHECKED => entry.checks = event.value as u32,
                    PARKED => entry.parked = true,
                    RESUMED => *entry = Pending::default(),
                    _ => {}
                }
            }
        })?;
        pending.retain(|&offset, _| ledger.outcome(offset).is_none());
        Ok(Self {
            ledger,
            pending: Mutex::new(pending),
            checkers: RwLock::new(Vec::new()),
            asks: Mutex::new(HashMap::new()),
            asked: Notify::new(),
            settings,
            runtime: tokio::runtime::Handle::try_current().ok(),
        })
    }

    pub(crate) fn snapshot(&self, store: &weir_store::Store) -> Result<u64, CoreError> {
        let pending: Vec<(u64, Pending)> =
            self.pending.lock().iter().map(|(&o, &p)| (o, p)).collect();
        let value = serde_json::to_value(pending)
            .map_err(|e| CoreError::InvalidArgument(format!("transaction snapshot: {e}")))?;
        self.ledger.snapshot(store, value)
    }

    pub(crate) fn snapshot_position(&self) -> u64 {
        self.ledger.snapshot_position()
    }
}

impl Broker {
    /// Re-arms the check-backs of undecided transactions (at start).
    pub(crate) fn arm_transactions(&self) -> Result<(), CoreError> {
        let tx = self.tx_state();
        let now = now_ms();
        let mut count = 0;
        tx.ledger.for_each_pending(self.store(), |record| {
            let state = *tx.pending.lock().entry(record.queue_offset).or_default();
            count += 1;
            if !state.parked {
                let due = (record.store_ms + check_after(&record.message, &tx.settings)).max(now);
                self.scheduler()
                    .add(due, Timer::TxCheck(record.queue_offset));
            }
        })?;
        if count > 0 {
            tracing::info!(undecided = count, "transactions re-armed");
        }
        Ok(())
    }

    /// Adds a checker asked at check-back, after the ones added before.
    pub fn add_transaction_checker(&self, checker: Arc<dyn TransactionChecker>) {
        self.tx_state().checkers.write().push(checker);
    }

    /// Sends a half message: stored, invisible to consumers until committed. Returns the
    /// transaction id (the message id) and the durability status.
    pub async fn send_half(
        &self,
        topic: &str,
        draft: MessageDraft,
        producer_group: Option<&str>,
        check_after_ms: Option<u64>,
    ) -> Result<(String, SendStatus), CoreError> {
        let live = self.live_topic(topic)?;
        draft.validate(self.limits())?;
        if draft.deliver_at.is_some() {
            return Err(CoreError::InvalidArgument(
                "a transactional message cannot also be delayed".to_string(),
            ));
        }
        if let Some(queue) = draft.queue
            && queue >= live.config.queues
        {
            return Err(CoreError::InvalidQueue {
                topic: topic.to_string(),
                queue,
                queues: live.config.queues,
            });
        }
        if let Some(ms) = check_after_ms
            && ms > crate::limits::MAX_INVISIBLE_MS
        {
            return Err(CoreError::InvalidArgument(format!(
                "check-after of {ms} ms is over the limit of {} ms",
                crate::limits::MAX_INVISIBLE_MS
            )));
        }
        if let Some(group) = producer_group {
            crate::topic::TopicName::parse(group).map_err(|_| {
                CoreError::InvalidArgument(format!("invalid producer group name '{group}'"))
            })?;
        }
        let now = now_ms();
        let pinned = draft.queue;
        if let Some(id) = &draft.id
            && self.store().lookup_id_in(HALF_TOPIC, id)?.is_some()
        {
            // A retried half send: the first one stands.
            return Ok((id.clone(), SendStatus::Ok));
        }
        let mut message = self.message_of(draft, now);
        message
            .properties
            .push((TARGET_TOPIC.to_string(), topic.to_string()));
        if let Some(group) = producer_group {
            message
                .properties
                .push((PRODUCER_GROUP.to_string(), group.to_string()));
        }
        if let Some(ms) = check_after_ms {
            message
                .properties
                .push((CHECK_AFTER.to_string(), ms.to_string()));
        }
        if let Some(queue) = pinned {
            message
                .properties
                .push((TARGET_QUEUE.to_string(), queue.to_string()));
        }
        let id = message.id.clone();
        let due = now + check_after(&message, &self.tx_state().settings);
        let outcome = self.store().append(HALF_TOPIC, &[(ENTRY_QUEUE, message)])?;
        let offset = outcome.appended.first().map_or(0, |a| a.queue_offset);
        self.tx_state()
            .pending
            .lock()
            .insert(offset, Pending::default());
        self.scheduler().add(due, Timer::TxCheck(offset));
        let status = self.durable_status(outcome.end).await?;
        Ok((id, status))
    }

    /// Commits a transaction: its message becomes visible in its topic under its id.
    /// Committing again is not an error; committing a rolled-back one is.
    pub async fn commit(&self, transaction: &str) -> Result<TxOutcome, CoreError> {
        self.decide(transaction, TxOutcome::Committed).await
    }

    /// Rolls a transaction back: its message is never delivered.
    pub async fn rollback(&self, transaction: &str) -> Result<TxOutcome, CoreError> {
        self.decide(transaction, TxOutcome::RolledBack).await
    }

    async fn decide(&self, transaction: &str, wanted: TxOutcome) -> Result<TxOutcome, CoreError> {
        let end = self.apply_decision(transaction, wanted)?;
        self.wait_durable(end).await?;
        Ok(wanted)
    }

    fn apply_decision(&self, transaction: &str, wanted: TxOutcome) -> Result<u64, CoreError> {
        let not_found = || CoreError::TransactionNotFound(transaction.to_string());
        crate::message::validate_message_id(transaction).map_err(|_| not_found())?;
        let half = self
            .store()
            .lookup_id_in(HALF_TOPIC, transaction)?
            .ok_or_else(not_found)?;
        let tx = self.tx_state();
        let topic = property(&half.message, TARGET_TOPIC)
            .unwrap_or_default()
            .to_string();
        // Serialise decisions on the pending table.
        let mut pending = tx.pending.lock();
        let done = match tx.ledger.outcome(half.queue_offset) {
            Some(COMMITTED) => Some(TxOutcome::Committed),
            Some(ROLLED_BACK) => Some(TxOutcome::RolledBack),
            Some(_) => Some(self.committed_copy(&topic, transaction, &half)?),
            None => None,
        };
        if let Some(done) = done {
            if done == wanted {
                return Ok(0);
            }
            return Err(CoreError::TransactionConflict {
                transaction: transaction.to_string(),
                state: match done {
                    TxOutcome::Committed => "committed",
                    TxOutcome::RolledBack => "rolled back",
                },
            });
        }
        let kind = match wanted {
            TxOutcome::Committed => {
                // A copy written just before a crash (outcome not yet recorded) counts.
                if self.committed_copy(&topic, transaction, &half)? != TxOutcome::Committed {
                    self.deliver_half(&topic, &half.message)?;
                }
                COMMITTED
            }
            TxOutcome::RolledBack => ROLLED_BACK,
        };
        let end = tx.ledger.record(
            self.store(),
            &[LedgerEvent {
                kind,
                offset: half.queue_offset,
                value: 0,
            }],
        )?;
        pending.remove(&half.queue_offset);
        drop(pending);
        if kind == COMMITTED {
            self.groups().notify_topic(&topic);
        }
        Ok(end)
    }

    /// Whether the topic holds the committed copy of a half message.
    fn committed_copy(
        &self,
        topic: &str,
        transaction: &str,
        half: &StoredMessage,
    ) -> Result<TxOutcome, CoreError> {
        Ok(match self.store().lookup_id_in(topic, transaction)? {
            Some(copy) if copy.position > half.position => TxOutcome::Committed,
            _ => TxOutcome::RolledBack,
        })
    }

    fn deliver_half(&self, topic: &str, half: &Message) -> Result<(), CoreError> {
        let queue = self.live_topic(topic)?.queue_for_stored(half, TARGET_QUEUE);
        let message = Message {
            properties: half
                .properties
                .iter()
                .filter(|(n, _)| !n.starts_with("weir.tx."))
                .cloned()
                .collect(),
            ..half.clone()
        };
        self.store().append(topic, &[(queue, message)])?;
        Ok(())
    }

    /// The check-back timer of the half message at `offset` fired.
    pub(crate) fn fire_tx_check(&self, offset: u64) -> Result<(), CoreError> {
        let tx = self.tx_state();
        if tx.ledger.outcome(offset).is_some() {
            return Ok(());
        }
        let Some(record) = self
            .store()
            .read_queue(HALF_TOPIC, ENTRY_QUEUE, offset, 1)?
            .into_iter()
            .next()
            .filter(|r| r.queue_offset == offset)
        else {
            return Ok(());
        };
        let checks = {
            let mut pending = tx.pending.lock();
            let entry = pending.entry(offset).or_default();
            if entry.parked {
                return Ok(());
            }
            if entry.checks >= tx.settings.max_checks {
                entry.parked = true;
                drop(pending);
                tx.ledger.record(
                    self.store(),
                    &[LedgerEvent {
                        kind: PARKED,
                        offset,
                        value: 0,
                    }],
                )?;
                tracing::warn!(
                    transaction = record.message.id,
                    checks = tx.settings.max_checks,
                    "transaction undecided after the maximum of check-backs; parked until resumed"
                );
                return Ok(());
            }
            entry.checks += 1;
            entry.checks
        };
        tx.ledger.record(
            self.store(),
            &[LedgerEvent {
                kind: CHECKED,
                offset,
                value: u64::from(checks),
            }],
        )?;
        // Ask again after the interval unless an answer comes first.
        self.scheduler().add(
            now_ms() + tx.settings.check_interval.as_millis() as i64,
            Timer::TxCheck(offset),
        );
        let half = self.half_of(record, checks, false);
        let checkers = tx.checkers.read().clone();
        let Some(runtime) = tx.runtime.clone() else {
            self.ask_producers(&half, offset);
            return Ok(());
        };
        let Some(broker) = self.me() else {
            return Ok(());
        };
        runtime.spawn(async move {
            for checker in checkers {
                let state = checker.check(&half).await;
                let outcome = match state {
                    TxState::Commit => TxOutcome::Committed,
                    TxState::Rollback => TxOutcome::RolledBack,
                    TxState::Unknown => continue,
                };
                match broker.decide(&half.transaction, outcome).await {
                    Ok(_) | Err(CoreError::TransactionConflict { .. }) => {}
                    Err(err) => tracing::warn!(error = %err, "applying a check-back answer failed"),
                }
                return;
            }
            broker.ask_producers(&half, offset);
        });
        Ok(())
    }

    fn half_of(&self, stored: StoredMessage, checks: u32, parked: bool) -> HalfMessage {
        HalfMessage {
            transaction: stored.message.id.clone(),
            topic: property(&stored.message, TARGET_TOPIC)
                .unwrap_or_default()
                .to_string(),
            producer_group: property(&stored.message, PRODUCER_GROUP).map(str::to_string),
            checks,
            parked,
            stored,
        }
    }

    /// Queues a check for the producers of the transaction's group (long poll).
    fn ask_producers(&self, half: &HalfMessage, offset: u64) {
        let tx = self.tx_state();
        let group = half.producer_group.clone().unwrap_or_default();
        let mut asks = tx.asks.lock();
        let queue = asks.entry(group).or_default();
        if !queue.contains(&offset) {
            queue.push_back(offset);
        }
        drop(asks);
        tx.asked.notify_waiters();
    }

    /// Check-backs waiting for a producer of `producer_group` (long poll up to `wait`,
    /// at most [`MAX_RECEIVE_WAIT_MS`](crate::limits::MAX_RECEIVE_WAIT_MS); 1 to
    /// [`MAX_RECEIVE_MESSAGES`] of them). Producers answer with [`commit`](Self::commit)
    /// or [`rollback`](Self::rollback).
    pub async fn poll_checks(
        &self,
        producer_group: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<HalfMessage>, CoreError> {
        check_range("max", max, 1, MAX_RECEIVE_MESSAGES)?;
        check_wait(wait)?;
        let tx = self.tx_state();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = tx.asked.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let offsets: Vec<u64> = {
                let mut asks = tx.asks.lock();
                let queue = asks.entry(producer_group.to_string()).or_default();
                let n = queue.len().min(max);
                queue.drain(..n).collect()
            };
            let mut found = Vec::new();
            for offset in offsets {
                if tx.ledger.outcome(offset).is_some() {
                    continue;
                }
                if let Some(record) = self
                    .store()
                    .read_queue(HALF_TOPIC, ENTRY_QUEUE, offset, 1)?
                    .into_iter()
                    .next()
                {
                    let state = tx.pending.lock().get(&offset).copied().unwrap_or_default();
                    found.push(self.half_of(record, state.checks, state.parked));
                }
            }
            if !found.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(found);
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Undecided transactions (parked ones included), oldest first, at most `max` (1 to
    /// the read limit, [`Limits::max_read_messages`](crate::Limits::max_read_messages)).
    pub fn transactions(&self, max: usize) -> Result<Vec<HalfMessage>, CoreError> {
        check_range("max", max, 1, self.limits().max_read_messages)?;
        let tx = self.tx_state();
        let mut found = Vec::new();
        let mut result = Ok(());
        tx.ledger
            .for_each_pending(self.store(), |record| {
                if found.len() < max {
                    let state = tx
                        .pending
                        .lock()
                        .get(&record.queue_offset)
                        .copied()
                        .unwrap_or_default();
                    found.push(self.half_of(record, state.checks, state.parked));
                }
            })
            .unwrap_or_else(|e| result = Err(e));
        result.map(|()| found)
    }

    /// How many transactions are undecided (parked ones included).
    pub fn undecided_transactions(&self) -> usize {
        self.tx_state().pending.lock().len()
    }

    /// Resumes check-backs of a parked transaction.
    pub async fn resume_transaction(&self, transaction: &str) -> Result<(), CoreError> {
        let not_found = || CoreError::TransactionNotFound(transaction.to_string());
        crate::message::validate_message_id(transaction).map_err(|_| not_found())?;
        let half = self
            .store()
            .lookup_id_in(HALF_TOPIC, transaction)?
            .ok_or_else(not_found)?;
        let tx = self.tx_state();
        if tx.ledger.outcome(half.queue_offset).is_some() {
            return Err(not_found());
        }
        tx.pending
            .lock()
            .insert(half.queue_offset, Pending::default());
        let end = tx.ledger.record(
            self.store(),
            &[LedgerEvent {
                kind: RESUMED,
                offset: half.queue_offset,
                value: 0,
            }],
        )?;
        self.scheduler()
            .add(now_ms(), Timer::TxCheck(half.queue_offset));
        self.wait_durable(end).await
    }
}

impl Broker {
    /// Copies undecided half messages stored below `boundary` further up the half queue,
    /// so that retention can delete their segments.
    pub(crate) fn relocate_transactions(&self, boundary: u64) -> Result<(), CoreError> {
        let tx = self.tx_state();
        let mut moved = Vec::new();
        tx.ledger.for_each_pending(self.store(), |record| {
            if record.position < boundary {
                moved.push(record);
            }
        })?;
        if moved.is_empty() {
            return Ok(());
        }
        let batch: Vec<(u32, Message)> = moved
            .iter()
            .map(|r| (ENTRY_QUEUE, r.message.clone()))
            .collect();
        let outcome = self.store().append(HALF_TOPIC, &batch)?;
        let events: Vec<LedgerEvent> = moved
            .iter()
            .map(|r| LedgerEvent {
                kind: MOVED,
                offset: r.queue_offset,
                value: 0,
            })
            .collect();
        let mut pending = tx.pending.lock();
        let retry = now_ms() + tx.settings.check_interval.as_millis() as i64;
        for (old, new) in moved.iter().zip(&outcome.appended) {
            let state = pending.remove(&old.queue_offset).unwrap_or_default();
            pending.insert(new.queue_offset, state);
            if !state.parked {
                self.scheduler()
                    .add(retry, Timer::TxCheck(new.queue_offset));
            }
        }
        drop(pending);
        tx.ledger.record(self.store(), &events)?;
        tracing::info!(
            moved = events.len(),
            "undecided transactions moved ahead of retention"
        );
        Ok(())
    }
}

impl Broker {
    /// Creates or replaces a producer group (its check-back callback). Durable when it
    /// returns.
    pub async fn put_producer_group(
        &self,
        name: &str,
        callback_url: Option<String>,
    ) -> Result<ProducerGroupConfig, CoreError> {
        crate::topic::TopicName::parse(name).map_err(|_| {
            CoreError::InvalidArgument(format!(
                "invalid producer group name '{name}': 1 to 127 characters of A-Z a-z 0-9 _ -"
            ))
        })?;
        if let Some(url) = &callback_url
            && (!url.starts_with("http://") || url.len() > MAX_CALLBACK_URL_BYTES)
        {
            return Err(CoreError::InvalidArgument(format!(
                "callback_url must be an http:// URL of at most {MAX_CALLBACK_URL_BYTES} bytes"
            )));
        }
        let config = ProducerGroupConfig {
            name: name.to_string(),
            callback_url,
            created_ms: now_ms(),
        };
        self.topics().put_producer_group(self.store(), config).await
    }

    /// All producer groups.
    pub fn producer_groups(&self) -> Vec<ProducerGroupConfig> {
        self.topics().list_producer_groups()
    }

    /// One producer group.
    pub fn producer_group(&self, name: &str) -> Result<ProducerGroupConfig, CoreError> {
        self.topics()
            .producer_group(name)
            .ok_or_else(|| CoreError::ProducerGroupNotFound(name.to_string()))
    }

    /// Deletes a producer group. Durable when it returns.
    pub async fn delete_producer_group(&self, name: &str) -> Result<(), CoreError> {
        self.topics()
            .delete_producer_group(self.store(), name)
            .await
    }
}

/// Longest producer group callback URL.
pub const MAX_CALLBACK_URL_BYTES: usize = 2048;

fn check_after(message: &Message, settings: &TxSettings) -> i64 {
    property(message, CHECK_AFTER)
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(settings.check_after.as_millis() as i64)
}
