//! Retention: removing commitlog segments older than the configured age.
//!
//! The store decides which segments have expired; the core runs the deletion because it
//! must first re-write its own records that still matter (the newest topic-table
//! snapshot, a delivery-state snapshot, pending delayed messages, undecided half messages
//! and their ledgers) past the deletion boundary.

use crate::{Broker, CoreError};

impl Broker {
    /// Deletes expired segments; returns how many were removed.
    pub async fn run_retention(&self) -> Result<usize, CoreError> {
        let boundary = self.store().retention_boundary(crate::broker::now_ms());
        if boundary <= self.store().stats().min_position {
            return Ok(0);
        }
        if self.topics().snapshot_position() < boundary {
            self.topics().rewrite(self.store()).await?;
        }
        // Delivery state: a fresh snapshot makes every journal record before it unneeded.
        if self.groups().snapshot_position().await < boundary {
            self.groups().snapshot(self.store()).await?;
        }
        // Delayed messages wait past retention: move the pending ones ahead of the
        // boundary, then snapshot the schedule ledger.
        self.relocate_delayed(boundary)?;
        if self.delays().snapshot_position() < boundary {
            self.delays().snapshot(self.store())?;
        }
        self.relocate_transactions(boundary)?;
        if self.tx_state().snapshot_position() < boundary {
            self.tx_state().snapshot(self.store())?;
        }
        let deleted = self.store().delete_before(boundary)?;
        if deleted > 0 {
            tracing::info!(deleted, boundary, "retention removed expired segments");
        }
        Ok(deleted)
    }
}
