//! The consumer role: [`Consumer`], its [`Outcome`]s, and [`export_consumer!`](crate::export_consumer).
//!
//! A consumer binding attaches a module to a (topic, consumer group). The broker receives
//! batches for the group and calls [`Consumer::handle`] with each one; the plugin answers
//! one [`Outcome`] per message, in order. A panic, a timeout, or a list of the wrong
//! length fails the whole batch: the broker retries its messages, then dead-letters them
//! after the group's maximum attempts.

use std::marker::PhantomData;

use crate::bindings::consumer::exports::weir::plugin::consumer as wit;
use crate::bindings::types;
use crate::message::Message;

/// A consumer plugin: handles batches of messages of its group.
///
/// The type is never constructed: the broker calls the associated function, possibly on
/// several instances at once (the binding's concurrency), so anything to remember across
/// batches belongs in [`state`](crate::state).
///
/// Export it with [`export_consumer!`](crate::export_consumer).
pub trait Consumer {
    /// Handles `batch`, answering one [`Outcome`] per message, in order. `config` is the
    /// binding's configuration string, the same for every call.
    fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome>;
}

/// What happens to one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: the broker acks it.
    Ack,
    /// Failed: deliver it again after this many milliseconds (0: the group's backoff).
    /// After the group's maximum attempts it is dead-lettered instead.
    Retry(u64),
    /// Give up: move it to the group's dead-letter queue with this reason.
    DeadLetter(String),
}

impl Outcome {
    /// Retry after the group's backoff for this attempt.
    pub const RETRY_WITH_BACKOFF: Outcome = Outcome::Retry(0);

    /// Dead-letters with `reason`.
    pub fn dead_letter(reason: impl Into<String>) -> Self {
        Self::DeadLetter(reason.into())
    }
}

impl From<Outcome> for wit::Outcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Ack => Self::Ack,
            Outcome::Retry(delay_ms) => Self::Retry(delay_ms),
            Outcome::DeadLetter(reason) => Self::DeadLetter(reason),
        }
    }
}

/// Implements the generated export trait for any [`Consumer`]; named by
/// [`export_consumer!`](crate::export_consumer).
#[doc(hidden)]
pub struct ConsumerExport<T>(PhantomData<T>);

impl<T: Consumer> wit::Guest for ConsumerExport<T> {
    fn handle(config: String, batch: Vec<types::Message>) -> Vec<wit::Outcome> {
        let batch = batch.into_iter().map(Message::from).collect();
        T::handle(&config, batch)
            .into_iter()
            .map(wit::Outcome::from)
            .collect()
    }
}

/// Makes a [`Consumer`] the export of this crate's component (the `consumer-plugin`
/// world).
///
/// Use it once, in a `cdylib` crate built for `wasm32-wasip2`. A component exports one
/// world, so a crate uses one of [`export_consumer!`](crate::export_consumer),
/// [`export_dedup_filter!`](crate::export_dedup_filter) and
/// [`export_tx_checker!`](crate::export_tx_checker).
///
/// ```standalone_crate
/// use weir_sdk::{Consumer, Message, Outcome};
///
/// /// Acks messages that have a body, dead-letters empty ones.
/// struct RejectEmpty;
///
/// impl Consumer for RejectEmpty {
///     fn handle(_config: &str, batch: Vec<Message>) -> Vec<Outcome> {
///         batch
///             .iter()
///             .map(|message| match message.body.is_empty() {
///                 true => Outcome::dead_letter("empty body"),
///                 false => Outcome::Ack,
///             })
///             .collect()
///     }
/// }
///
/// weir_sdk::export_consumer!(RejectEmpty);
/// # fn main() {
/// #     let batch = vec![Message::default()];
/// #     assert_eq!(RejectEmpty::handle("", batch), [Outcome::dead_letter("empty body")]);
/// # }
/// ```
#[macro_export]
macro_rules! export_consumer {
    ($ty:ty) => {
        #[doc(hidden)]
        type __WeirConsumerExport = $crate::__private::ConsumerExport<$ty>;
        $crate::__private::consumer::export_consumer_world!(
            __WeirConsumerExport with_types_in $crate::__private::consumer
        );
    };
}
