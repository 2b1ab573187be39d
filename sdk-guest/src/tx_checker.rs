//! The transaction-checker role: [`TxChecker`], [`TxState`] and [`export_tx_checker!`](crate::export_tx_checker).
//!
//! When a transaction's producer has not committed or rolled back its half message in
//! time, the broker asks the checkers bound to the producer group or topic. A checker
//! usually asks the producer's own service, with [`http`](crate::http). `Unknown` leaves
//! the transaction undecided: the broker asks again after its check interval, and parks
//! it after its maximum number of checks.

use std::marker::PhantomData;

use crate::bindings::tx_checker::exports::weir::plugin::tx_checker as wit;
use crate::bindings::types;
use crate::message::Message;

/// A transaction-checker plugin: decides undecided transactions.
///
/// The type is never constructed; the broker calls the associated function. Export it
/// with [`export_tx_checker!`](crate::export_tx_checker).
pub trait TxChecker {
    /// The state of the transaction of `half` (its [`id`](Message::id) is the transaction
    /// id); `checks` is how many check-backs came before this one.
    fn check(config: &str, half: &Message, checks: u32) -> TxState;
}

/// A checker's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxState {
    /// Deliver the message to its topic.
    Commit,
    /// Discard the message.
    Rollback,
    /// Not known yet: ask again later.
    Unknown,
}

impl From<TxState> for wit::TxState {
    fn from(state: TxState) -> Self {
        match state {
            TxState::Commit => Self::Commit,
            TxState::Rollback => Self::Rollback,
            TxState::Unknown => Self::Unknown,
        }
    }
}

/// Implements the generated export trait for any [`TxChecker`]; named by
/// [`export_tx_checker!`](crate::export_tx_checker).
#[doc(hidden)]
pub struct TxCheckerExport<T>(PhantomData<T>);

impl<T: TxChecker> wit::Guest for TxCheckerExport<T> {
    fn check(config: String, half: types::Message, checks: u32) -> wit::TxState {
        T::check(&config, &Message::from(half), checks).into()
    }
}

/// Makes a [`TxChecker`] the export of this crate's component (the `tx-checker-plugin`
/// world). One export macro per crate, as for
/// [`export_consumer!`](crate::export_consumer).
///
/// ```standalone_crate
/// use weir_sdk::{Message, TxChecker, TxState};
///
/// /// Commits transactions whose producer marked them `final`, rolls back the rest after
/// /// three checks.
/// struct FinalOrNothing;
///
/// impl TxChecker for FinalOrNothing {
///     fn check(_config: &str, half: &Message, checks: u32) -> TxState {
///         match (half.property("final"), checks) {
///             (Some("true"), _) => TxState::Commit,
///             (_, 3..) => TxState::Rollback,
///             _ => TxState::Unknown,
///         }
///     }
/// }
///
/// weir_sdk::export_tx_checker!(FinalOrNothing);
/// # fn main() {
/// #     assert_eq!(FinalOrNothing::check("", &Message::default(), 0), TxState::Unknown);
/// # }
/// ```
#[macro_export]
macro_rules! export_tx_checker {
    ($ty:ty) => {
        #[doc(hidden)]
        type __WeirTxCheckerExport = $crate::__private::TxCheckerExport<$ty>;
        $crate::__private::tx_checker::export_tx_checker_world!(
            __WeirTxCheckerExport with_types_in $crate::__private::tx_checker
        );
    };
}
