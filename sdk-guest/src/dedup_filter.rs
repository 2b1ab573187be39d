//! The dedup-filter role: [`DedupFilter`] and [`export_dedup_filter!`](crate::export_dedup_filter).
//!
//! A dedup filter names the business identity of a message. The broker keeps the table of
//! keys seen within the binding's window (check-and-set with a TTL) and drops, or does
//! not deliver, a message whose key it has seen; the plugin only computes the key. It is
//! called once per message, on the send path (topic bindings) or before delivery (group
//! bindings), so it should be quick and must not call slow host services.

use std::marker::PhantomData;

use crate::bindings::dedup_filter::exports::weir::plugin::dedup_filter as wit;
use crate::bindings::types;
use crate::message::Message;

/// A dedup-filter plugin: computes the dedup key of a message.
///
/// The type is never constructed; the broker calls the associated function. Export it
/// with [`export_dedup_filter!`](crate::export_dedup_filter).
pub trait DedupFilter {
    /// The dedup key of `message` under the binding's `config`; `None` means the message
    /// is never a duplicate.
    fn dedup_key(config: &str, message: &Message) -> Option<String>;
}

/// Implements the generated export trait for any [`DedupFilter`]; named by
/// [`export_dedup_filter!`](crate::export_dedup_filter).
#[doc(hidden)]
pub struct DedupFilterExport<T>(PhantomData<T>);

impl<T: DedupFilter> wit::Guest for DedupFilterExport<T> {
    fn dedup_key(config: String, message: types::Message) -> Option<String> {
        T::dedup_key(&config, &Message::from(message))
    }
}

/// Makes a [`DedupFilter`] the export of this crate's component (the
/// `dedup-filter-plugin` world). One export macro per crate, as for
/// [`export_consumer!`](crate::export_consumer).
///
/// ```standalone_crate
/// use weir_sdk::{DedupFilter, Message};
///
/// /// Two messages with the same first key are duplicates.
/// struct FirstKey;
///
/// impl DedupFilter for FirstKey {
///     fn dedup_key(_config: &str, message: &Message) -> Option<String> {
///         message.keys.first().cloned()
///     }
/// }
///
/// weir_sdk::export_dedup_filter!(FirstKey);
/// # fn main() {
/// #     let message = Message { keys: vec!["order-7".into()], ..Message::default() };
/// #     assert_eq!(FirstKey::dedup_key("", &message).as_deref(), Some("order-7"));
/// # }
/// ```
#[macro_export]
macro_rules! export_dedup_filter {
    ($ty:ty) => {
        #[doc(hidden)]
        type __WeirDedupFilterExport = $crate::__private::DedupFilterExport<$ty>;
        $crate::__private::dedup_filter::export_dedup_filter_world!(
            __WeirDedupFilterExport with_types_in $crate::__private::dedup_filter
        );
    };
}
