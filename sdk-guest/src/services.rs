//! The host services that are single calls: the clock and publishing.

use crate::error::HostError;
use crate::imports;
use crate::message::Outgoing;

/// Milliseconds since the Unix epoch, by the broker's clock.
///
/// ```
/// assert!(weir_sdk::now_ms() > 1_600_000_000_000);
/// ```
pub fn now_ms() -> i64 {
    imports::now_ms()
}

/// Sends `message` through the broker; answers the new message's id.
///
/// Only consumer bindings granted publishing may publish. If the batch later fails and is
/// retried, the consumer publishes again: a consumer whose target must not see duplicates
/// gives the outgoing message a stable key and binds a dedup filter on the target topic.
///
/// # Errors
///
/// When publishing is not granted, the topic does not exist, or the broker cannot store
/// the message.
///
/// ```
/// use weir_sdk::{Outgoing, publish};
///
/// # fn demo() -> Result<(), weir_sdk::HostError> {
/// let id = publish(Outgoing::new("audit", "order 1001 shipped").key("order-1001"))?;
/// weir_sdk::log::debug(format!("published {id}"));
/// # Ok(())
/// # }
/// # demo().unwrap();
/// ```
pub fn publish(message: Outgoing) -> Result<String, HostError> {
    imports::publish(message).map_err(HostError::from)
}
