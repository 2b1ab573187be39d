//! Epochs: which master wrote which part of the commitlog.
//!
//! Each promotion starts a new epoch, numbered above every earlier one, at the log
//! position where the new master's first record goes. A replica keeps the history of
//! the epochs its log holds; comparing it with the master's tells how much of the
//! replica's log the master also has ([`consistent_point`]). A replica never accepts
//! records of an epoch lower than its newest (fencing a stale master).

/// One epoch: its number and the commitlog position its first record went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch {
    /// The epoch number; later masters have higher ones.
    pub number: u64,
    /// Where in the commitlog the epoch begins.
    pub start: u64,
}

/// Why an epoch history is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// An epoch whose number is not above the previous one's.
    #[error("epoch {number} follows epoch {previous}: epoch numbers must grow")]
    NumberNotGrowing {
        /// The previous epoch's number.
        previous: u64,
        /// The offending epoch's number.
        number: u64,
    },
    /// An epoch starting before the previous one.
    #[error("epoch {number} starts at {start}, before the previous epoch's start {previous_start}")]
    StartGoingBack {
        /// The offending epoch's number.
        number: u64,
        /// Its start.
        start: u64,
        /// The previous epoch's start.
        previous_start: u64,
    },
}

/// A validated history: epochs in order, numbers strictly growing, starts never going
/// back (two epochs may start at the same position when one wrote nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochHistory {
    epochs: Vec<Epoch>,
}

impl EpochHistory {
    /// A history from its epochs, oldest first.
    ///
    /// # Errors
    ///
    /// [`HistoryError`] when the numbers do not grow or a start goes back.
    pub fn new(epochs: Vec<Epoch>) -> Result<Self, HistoryError> {
        for pair in epochs.windows(2) {
            let (previous, next) = (pair[0], pair[1]);
            if next.number <= previous.number {
                return Err(HistoryError::NumberNotGrowing {
                    previous: previous.number,
                    number: next.number,
                });
            }
            if next.start < previous.start {
                return Err(HistoryError::StartGoingBack {
                    number: next.number,
                    start: next.start,
                    previous_start: previous.start,
                });
            }
        }
        Ok(Self { epochs })
    }

    /// The epochs, oldest first.
    pub fn epochs(&self) -> &[Epoch] {
        &self.epochs
    }

    /// The newest epoch, if any.
    pub fn current(&self) -> Option<Epoch> {
        self.epochs.last().copied()
    }

    /// Starts epoch `number` at `start`.
    ///
    /// # Errors
    ///
    /// [`HistoryError`] when `number` is not above the current epoch's or `start` is
    /// before its start.
    pub fn begin(&mut self, number: u64, start: u64) -> Result<(), HistoryError> {
        let next = Epoch { number, start };
        if let Some(current) = self.current() {
            if number <= current.number {
                return Err(HistoryError::NumberNotGrowing {
                    previous: current.number,
                    number,
                });
            }
            if start < current.start {
                return Err(HistoryError::StartGoingBack {
                    number,
                    start,
                    previous_start: current.start,
                });
            }
        }
        self.epochs.push(next);
        Ok(())
    }

    /// Where epoch `number` ends in a log of `end` bytes written under this history:
    /// the next epoch's start, or `end` for the newest. `None` if it is not in the
    /// history.
    fn end_of(&self, number: u64, end: u64) -> Option<u64> {
        let at = self.epochs.iter().position(|e| e.number == number)?;
        Some(self.epochs.get(at + 1).map_or(end, |next| next.start))
    }

    /// Forgets the epochs that begin at or after `position` (after the log is cut
    /// there), keeping the one that covers it.
    pub fn truncate(&mut self, position: u64) {
        while self
            .epochs
            .last()
            .is_some_and(|e| e.start >= position && self.epochs.len() > 1)
        {
            self.epochs.pop();
        }
    }
}

/// How much of a replica's log the master also has: the position up to which the two
/// logs were written under the same epochs, so hold the same bytes.
///
/// For each epoch the replica holds, newest first, that the master's history also has
/// with the same start: the replica's part of it ends at the next replica epoch (or
/// `replica_end`), the master's at the next master epoch (or `master_end`); the logs
/// agree up to the smaller. With no epoch in common the logs agree on nothing: 0.
/// The replica cuts its log at the answer (a no-op when it is `replica_end`) and
/// follows from there.
pub fn consistent_point(
    master: &EpochHistory,
    master_end: u64,
    replica: &EpochHistory,
    replica_end: u64,
) -> u64 {
    for epoch in replica.epochs().iter().rev() {
        let in_master = master
            .epochs()
            .iter()
            .any(|m| m.number == epoch.number && m.start == epoch.start);
        if !in_master {
            continue;
        }
        let replica_part = replica
            .end_of(epoch.number, replica_end)
            .unwrap_or(epoch.start);
        let master_part = master
            .end_of(epoch.number, master_end)
            .unwrap_or(epoch.start);
        return replica_part.min(master_part).max(epoch.start);
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn history(pairs: &[(u64, u64)]) -> EpochHistory {
        EpochHistory::new(
            pairs
                .iter()
                .map(|&(number, start)| Epoch { number, start })
                .collect(),
        )
        .expect("a valid history")
    }

    #[test]
    fn histories_must_grow() {
        assert_eq!(
            EpochHistory::new(vec![
                Epoch {
                    number: 2,
                    start: 0
                },
                Epoch {
                    number: 2,
                    start: 5
                }
            ]),
            Err(HistoryError::NumberNotGrowing {
                previous: 2,
                number: 2
            })
        );
        assert!(matches!(
            EpochHistory::new(vec![
                Epoch {
                    number: 1,
                    start: 9
                },
                Epoch {
                    number: 2,
                    start: 5
                }
            ]),
            Err(HistoryError::StartGoingBack { number: 2, .. })
        ));
        let mut h = history(&[(1, 0)]);
        assert!(h.begin(1, 10).is_err());
        assert!(h.begin(3, 10).is_ok());
        assert_eq!(
            h.current(),
            Some(Epoch {
                number: 3,
                start: 10
            })
        );
    }

    #[test]
    fn a_replica_behind_in_the_same_epoch_keeps_everything() {
        let master = history(&[(1, 0)]);
        assert_eq!(consistent_point(&master, 1_000, &master, 400), 400);
    }

    #[test]
    fn a_replica_that_was_master_cuts_what_the_new_master_never_had() {
        // The old master wrote epoch 1 to 1000; the slave had 700 of it when promoted
        // with epoch 2 at 700 and wrote on to 900.
        let new_master = history(&[(1, 0), (2, 700)]);
        let old_master = history(&[(1, 0)]);
        assert_eq!(consistent_point(&new_master, 900, &old_master, 1_000), 700);
    }

    #[test]
    fn a_replica_ahead_of_a_master_in_the_same_epoch_is_cut_to_the_master() {
        let master = history(&[(1, 0), (3, 500)]);
        let replica = history(&[(1, 0), (3, 500)]);
        assert_eq!(consistent_point(&master, 600, &replica, 800), 600);
    }

    #[test]
    fn histories_with_nothing_in_common_agree_on_nothing() {
        assert_eq!(
            consistent_point(&history(&[(2, 0)]), 100, &history(&[(1, 0)]), 100),
            0
        );
        assert_eq!(
            consistent_point(&history(&[(1, 0)]), 100, &EpochHistory::default(), 0),
            0
        );
    }

    #[test]
    fn truncating_drops_the_epochs_after_the_cut() {
        let mut h = history(&[(1, 0), (2, 700), (4, 900)]);
        h.truncate(800);
        assert_eq!(h.epochs(), history(&[(1, 0), (2, 700)]).epochs());
        h.truncate(0);
        assert_eq!(h.epochs(), history(&[(1, 0)]).epochs());
    }

    /// A log modelled as the epoch that wrote each byte: a replica's log and a master's
    /// share a prefix, then each goes on under its own epochs.
    fn written(history: &EpochHistory, end: u64) -> Vec<u64> {
        (0..end)
            .map(|at| {
                history
                    .epochs()
                    .iter()
                    .rev()
                    .find(|e| e.start <= at)
                    .map_or(0, |e| e.number)
            })
            .collect()
    }

    proptest! {
        /// Whatever way two logs diverged, the consistent point is a position where both
        /// logs were written by the same epochs all the way from 0, and no later one is.
        #[test]
        fn the_consistent_point_is_the_longest_common_prefix(
            shared in prop::collection::vec(1u64..20, 1..4),
            master_more in prop::collection::vec(1u64..20, 0..3),
            replica_more in prop::collection::vec(1u64..20, 0..3),
            master_tail in 0u64..20,
            replica_tail in 0u64..20,
        ) {
            // Shared epochs 1..=k, each `len` bytes; each log then has more of epoch k
            // (its tail: both copies of epoch k's master's stream), then epochs of its
            // own, the master's numbered above the replica's (the later master).
            let mut base = Vec::new();
            let mut at = 0;
            for (i, len) in shared.iter().enumerate() {
                base.push(Epoch { number: i as u64 + 1, start: at });
                at += len;
            }
            let fork = at;
            let k = shared.len() as u64;
            let mut replica = base.clone();
            let mut replica_end = fork + replica_tail;
            for (i, len) in replica_more.iter().enumerate() {
                replica.push(Epoch { number: k + 1 + i as u64, start: replica_end });
                replica_end += len;
            }
            let mut master = base;
            let mut master_end = fork + master_tail;
            for (i, len) in master_more.iter().enumerate() {
                master.push(Epoch { number: k + 10 + i as u64, start: master_end });
                master_end += len;
            }
            let master = EpochHistory::new(master).unwrap();
            let replica = EpochHistory::new(replica).unwrap();
            let point = consistent_point(&master, master_end, &replica, replica_end);
            let m = written(&master, master_end);
            let r = written(&replica, replica_end);
            let common = m.iter().zip(&r).take_while(|(a, b)| a == b).count() as u64;
            prop_assert_eq!(point, common);
        }
    }
}
