//! An async Rust client for the Weir broker's HTTP API (`docs/http-api.md`).
//!
//! [`Client`] talks to one broker over a pool of kept-alive HTTP/1.1 connections, or one
//! HTTP/2 (h2c) connection; it is cheap to clone. Each route of the API is one method
//! returning a typed answer or a [`ClientError`] that carries the broker's error code.
//!
//! # Modules
//!
//! * `client`: [`Client`], [`ClientBuilder`], request execution and timeouts;
//! * `topics`: topic administration and [`Topic`], [`TopicDescription`];
//! * `send`: sends (JSON, raw, batches) and their answers;
//! * `prepared`: [`PreparedSend`], requests built once and sent many times;
//! * `read`: reads by id, key and offset, health and metrics;
//! * `message`: [`OutgoingMessage`] and the received [`Message`];
//! * [`batch`]: the binary batch encoder ([`EncodedBatch`]);
//! * `error`: [`ClientError`].
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

pub mod batch;
mod client;
mod endpoint;
mod error;
mod message;
mod prepared;
mod read;
mod send;
mod topics;

pub use batch::EncodedBatch;
pub use client::{Client, ClientBuilder};
pub use error::{ClientError, TransportError};
pub use message::{Message, OutgoingMessage};
pub use prepared::PreparedSend;
pub use read::{Health, ReadResult};
pub use send::{BatchEntry, BatchResult, SendResult, SendStatus};
pub use topics::{QueueOffsets, Topic, TopicDescription};
