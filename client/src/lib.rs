//! An async Rust client for the Weir broker's HTTP API (`docs/http-api.md`).
//!
//! [`Client`] talks to one broker over a pool of kept-alive HTTP/1.1 connections, or one
//! HTTP/2 (h2c) connection; it is cheap to clone. Each route of the API is one method
//! returning a typed answer or a [`ClientError`] that carries the broker's error code.
//!
//! # Modules
//!
//! * `client`: [`Client`], [`ClientBuilder`], request execution, timeouts and the access
//!   token ([`ClientBuilder::token`], [`Client::with_token`]);
//! * `topics`: topic administration and [`Topic`], [`TopicDescription`];
//! * `send`: sends (JSON, raw, batches) and their answers, delayed ones included
//!   ([`SendOutcome`]);
//! * `delayed`: a message's state by id ([`MessageInfo`]) and cancelling a delayed one;
//! * `transactions`: half sends, commit, rollback, resume, the undecided transactions and
//!   the producers' check-back poll ([`HalfSent`], [`Transaction`]);
//! * `producer_groups`: who is asked about undecided transactions ([`ProducerGroup`]);
//! * `prepared`: [`PreparedSend`], requests built once and sent many times;
//! * `read`: reads by id, key and offset, health and metrics;
//! * `groups`: consumer groups: administration, receive, ack and nack, offsets and lag,
//!   dead letters ([`NewGroup`], [`Received`], [`DeadLetter`], ...), and
//!   [`Client::add_queues`];
//! * `plugins`: WebAssembly modules and their bindings, pause and resume, the broker's
//!   status ([`PluginWorld`], [`ModuleInfo`], [`BindingRequest`], [`BindingStatus`],
//!   [`BrokerStatus`], ...);
//! * `consumer`: the consumer loop ([`Consumer`]): receive, handle, ack or nack;
//! * `message`: [`OutgoingMessage`] (with its [`Delay`]) and the received [`Message`];
//! * [`batch`]: the binary batch encoder ([`EncodedBatch`]);
//! * `error`: [`ClientError`]; [`codes`] names the broker's error codes it carries;
//! * `message_id`: [`new_message_id`], the ids given to messages before their first attempt;
//! * `retry`: [`RetryPolicy`] and what is retried;
//! * `async_send`: tracked and async sends ([`SendHandle`], [`SendReceipt`],
//!   [`SendError`], [`BrokerCopy`]).
//!
//! # Producers
//!
//! Every message is given an id before its send's first attempt (unless it has one), in
//! single sends, JSON batches and binary batches alike, and sends are retried with capped
//! exponential backoff and jitter under the client's [`RetryPolicy`] (default: 3 attempts,
//! 100 ms doubling to 2 s): connection failures, timeouts, `5xx` but `507`, `408`, `429` and
//! `503` (honouring a bounded `Retry-After`), and the not-durable statuses
//! `FLUSH_DISK_TIMEOUT`, `FLUSH_SLAVE_TIMEOUT`, `SLAVE_NOT_AVAILABLE`. Other `4xx` are not
//! retried. A retry carries the same ids, and the broker answers it from the stored copy,
//! so a message is stored once however many attempts it took. Reads are retried too;
//! every other call (administration, acks, half sends, ...) is tried once.
//!
//! [`Client::send_async`] starts a send and returns a [`SendHandle`], a future of its
//! outcome, so a producer can keep many in flight; the outcome says how many attempts were
//! made, and a [`SendError`] says whether the broker has the message after all
//! ([`BrokerCopy`]: stored, not stored, or unknown), which the client asks the broker by
//! id after the last failed attempt. `docs/producers.md` has the whole contract.
//!
//! ```no_run
//! # async fn demo() -> Result<(), weir_client::ClientError> {
//! use std::time::Duration;
//! use weir_client::{BrokerCopy, Client, OutgoingMessage, RetryPolicy};
//!
//! let client = Client::builder("http://127.0.0.1:7700")
//!     .retry(RetryPolicy { max_attempts: 5, max_backoff: Duration::from_secs(1), ..RetryPolicy::default() })
//!     .build()?;
//! let handle = client.send_async("orders", OutgoingMessage::new("hello"));
//! match handle.await {
//!     Ok(receipt) => println!("stored {:?} after {} attempts", receipt.id(), receipt.attempts),
//!     Err(err) => match err.broker_copy() {
//!         BrokerCopy::Stored(stored) => println!("stored after all at offset {}", stored.offset),
//!         BrokerCopy::NotStored => eprintln!("{err}: send it again"),
//!         BrokerCopy::Unknown(_) => eprintln!("{err}: send it again with id {}", err.id()),
//!     },
//! }
//! # Ok(()) }
//! ```
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), weir_client::ClientError> {
//! use weir_client::{Client, OutgoingMessage};
//!
//! let client = Client::builder("http://127.0.0.1:7700").http2(true).build()?;
//! let sent = client.send("orders", &OutgoingMessage::new("hello").with_tag("created")).await?;
//! let read = client.read_queue("orders", sent.queue, sent.offset, Some(1)).await?;
//! assert_eq!(read.messages[0].id, sent.id);
//! # Ok(()) }
//! ```
//!
//! Consuming through a group:
//!
//! ```no_run
//! # async fn demo() -> Result<(), weir_client::ClientError> {
//! use weir_client::{Client, NewGroup, ReceiveOptions};
//!
//! let client = Client::new("http://127.0.0.1:7700")?;
//! client.create_group(&NewGroup::new("billing", "orders").from("earliest")).await?;
//! let batch = client.receive("billing", &ReceiveOptions::new(10, 5000)).await?;
//! let receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
//! client.ack("billing", &receipts).await?;
//! # Ok(()) }
//! ```

mod async_send;
pub mod batch;
mod client;
mod consumer;
mod delayed;
mod endpoint;
mod error;
mod groups;
mod message;
mod message_id;
mod message_list;
mod plugins;
mod prepared;
mod producer_groups;
mod read;
mod retry;
mod send;
mod topics;
mod transactions;

pub use async_send::{BrokerCopy, SendError, SendHandle, SendReceipt, StoredMessage};
pub use batch::EncodedBatch;
pub use client::{Client, ClientBuilder};
pub use consumer::{Consumer, ConsumerStats, StopToken};
pub use delayed::{Cancelled, MessageInfo, MessageState};
pub use error::{ClientError, TransportError};
pub use groups::{
    AckResult, CommittedOffset, DeadLetter, DeadLetterExport, DeadLetterPage, Group, GroupCounters,
    GroupDescription, Lag, NewGroup, QueueLag, ReceiptError, ReceiveOptions, Received,
    ResetRequest,
};
pub use message::{Delay, Message, OutgoingMessage};
pub use message_id::new_message_id;
pub use plugins::{
    BindingConfig, BindingMetrics, BindingRequest, BindingStatus, BindingTarget, BrokerStatus,
    Grants, MODULE_UPLOAD_TIMEOUT, Module, ModuleInfo, ModuleStatus, ModuleUpload, PluginWorld,
    RunState, TargetSpec,
};
pub use prepared::PreparedSend;
pub use producer_groups::ProducerGroup;
pub use read::{Health, ReadResult};
pub use retry::{
    DEFAULT_BACKOFF_MULTIPLIER, DEFAULT_INITIAL_BACKOFF, DEFAULT_LOOKUP_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_BACKOFF, DEFAULT_MAX_RETRY_AFTER, MAX_ATTEMPTS_LIMIT,
    RetryPolicy,
};
pub use send::{BatchEntry, BatchResult, ScheduledSend, SendOutcome, SendResult, SendStatus};
pub use topics::{QueueOffsets, Topic, TopicDescription};
pub use transactions::{Check, HalfSent, Transaction, TransactionOutcome, TransactionState};
/// The broker's stable error codes, as [`ClientError::code`] returns them.
pub use weir_wire::codes;
