//! A hierarchical timing wheel with millisecond resolution.
//!
//! Six levels of 64 slots: level `l` slots are `64^l` ms wide, so the wheel spans
//! `64^6` ms (about 2.2 years) ahead of its current time; anything further waits in an
//! overflow list until it comes within the span. A timer is filed at the level of the
//! highest 6-bit digit in which its deadline differs from the wheel's current time, so
//! it is re-filed (cascaded) at most once per level on its way down to level 0, where it
//! fires. Insert is O(1); firing costs O(1) amortised per timer plus one bitmap scan per
//! level per poll.
//!
//! Memory: a pending timer is its deadline (8 bytes) and its item, in a `Vec` of its
//! slot; there is no per-timer allocation.

/// Bits per level: 64 slots.
const BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << BITS;
/// Number of levels.
const LEVELS: usize = 6;
/// Deadlines past this distance from now are filed in the last level.
const MAX_SPAN: u64 = 1 << (BITS as usize * LEVELS);

struct Level<T> {
    slots: Vec<Vec<(u64, T)>>,
    /// Bit `i` is set when slot `i` holds a timer.
    occupied: u64,
}

impl<T> Level<T> {
    fn new() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            occupied: 0,
        }
    }
}

/// Timers with an item each, fired in deadline order at millisecond resolution.
pub(crate) struct Wheel<T> {
    /// The wheel's current time: every timer at or before it has fired.
    elapsed: u64,
    levels: Vec<Level<T>>,
    /// Timers beyond the span.
    overflow: Vec<(u64, T)>,
    len: usize,
}

impl<T> std::fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

fn level_for(elapsed: u64, when: u64) -> usize {
    // Within the span, the highest differing digit is below the top level's, except
    // across a wrap of the top level, which its ring handles.
    let masked = ((elapsed ^ when) | (SLOTS as u64 - 1)).min(MAX_SPAN - 1);
    let significant = 63 - masked.leading_zeros();
    (significant / BITS) as usize
}

fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (level as u32 * BITS)) as usize) & (SLOTS - 1)
}

impl<T> Wheel<T> {
    /// An empty wheel whose current time is `now` (ms).
    pub(crate) fn new(now: u64) -> Self {
        Self {
            elapsed: now,
            levels: (0..LEVELS).map(|_| Level::new()).collect(),
            overflow: Vec::new(),
            len: 0,
        }
    }

    /// Pending timers.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Files a timer. A deadline at or before the wheel's current time is handed back
    /// to fire at once.
    pub(crate) fn insert(&mut self, when: u64, item: T) -> Result<(), T> {
        if when <= self.elapsed {
            return Err(item);
        }
        if when - self.elapsed >= MAX_SPAN {
            self.overflow.push((when, item));
        } else {
            self.file(when, item);
        }
        self.len += 1;
        Ok(())
    }

    fn file(&mut self, when: u64, item: T) {
        let level = level_for(self.elapsed, when);
        let slot = slot_for(when, level);
        let level = &mut self.levels[level];
        level.slots[slot].push((when, item));
        level.occupied |= 1 << slot;
    }

    /// The earliest time a timer may fire (a lower bound for timers beyond the span).
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        let overflow = self
            .overflow
            .iter()
            .map(|(when, _)| when - (MAX_SPAN - 1))
            .min();
        match (self.next_slot().map(|(_, _, deadline)| deadline), overflow) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The first occupied slot at or after the current position, lowest level first,
    /// with the time its slot starts.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        for (index, level) in self.levels.iter().enumerate() {
            if level.occupied == 0 {
                continue;
            }
            let shift = index as u32 * BITS;
            let width = 1u64 << shift;
            let position = slot_for(self.elapsed, index);
            // Slots are a ring: rotate so the current position is bit 0.
            let rotated = level.occupied.rotate_right(position as u32);
            let distance = rotated.trailing_zeros() as usize;
            let slot = (position + distance) % SLOTS;
            let level_range = width * SLOTS as u64;
            let level_start = self.elapsed & !(level_range - 1);
            let mut deadline = level_start + slot as u64 * width;
            if slot < position {
                deadline += level_range;
            }
            return Some((index, slot, deadline.max(self.elapsed)));
        }
        None
    }

    /// Advances the wheel to `now`, pushing every timer due at or before it onto `fired`
    /// (in deadline order within each slot).
    pub(crate) fn poll(&mut self, now: u64, fired: &mut Vec<(u64, T)>) {
        self.admit_overflow(now, fired);
        while let Some((level, slot, deadline)) = self.next_slot() {
            if deadline > now {
                break;
            }
            self.elapsed = self.elapsed.max(deadline);
            let entries = std::mem::take(&mut self.levels[level].slots[slot]);
            self.levels[level].occupied &= !(1 << slot);
            for (when, item) in entries {
                if when <= now {
                    self.len -= 1;
                    fired.push((when, item));
                } else {
                    // Cascade: re-file relative to the new current time.
                    self.file(when, item);
                }
            }
        }
        self.elapsed = self.elapsed.max(now);
        self.admit_overflow(now, fired);
    }

    /// Files overflow timers that came within the span; fires those already due.
    fn admit_overflow(&mut self, now: u64, fired: &mut Vec<(u64, T)>) {
        if self.overflow.is_empty() {
            return;
        }
        for (when, item) in std::mem::take(&mut self.overflow) {
            if when <= now {
                self.len -= 1;
                fired.push((when, item));
            } else if when - self.elapsed < MAX_SPAN {
                self.file(when, item);
            } else {
                self.overflow.push((when, item));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(wheel: &mut Wheel<u32>, now: u64) -> Vec<(u64, u32)> {
        let mut fired = Vec::new();
        wheel.poll(now, &mut fired);
        fired
    }

    #[test]
    fn timers_fire_at_their_deadline_not_before() {
        let mut wheel = Wheel::new(1_000);
        for (i, delay) in [1u64, 63, 64, 65, 4095, 4096, 300_000, 86_400_000]
            .iter()
            .enumerate()
        {
            wheel.insert(1_000 + delay, i as u32).unwrap();
        }
        assert_eq!(wheel.len(), 8);
        assert!(drain(&mut wheel, 1_000).is_empty());
        assert_eq!(drain(&mut wheel, 1_001), vec![(1_001, 0)]);
        assert!(drain(&mut wheel, 1_062).is_empty());
        assert_eq!(drain(&mut wheel, 1_063), vec![(1_063, 1)]);
        assert_eq!(drain(&mut wheel, 1_065), vec![(1_064, 2), (1_065, 3)]);
        assert!(drain(&mut wheel, 5_094).is_empty());
        assert_eq!(drain(&mut wheel, 5_096).len(), 2);
        assert_eq!(drain(&mut wheel, 301_000), vec![(301_000, 6)]);
        assert_eq!(wheel.next_deadline().map(|d| d <= 86_401_000), Some(true));
        assert_eq!(drain(&mut wheel, 86_401_000), vec![(86_401_000, 7)]);
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn past_deadlines_are_handed_back() {
        let mut wheel = Wheel::new(500);
        assert_eq!(wheel.insert(500, 1), Err(1));
        assert_eq!(wheel.insert(10, 2), Err(2));
    }

    #[test]
    fn deadlines_beyond_the_span_still_fire() {
        let mut wheel = Wheel::new(0);
        let far = MAX_SPAN * 3 + 17;
        wheel.insert(far, 9).unwrap();
        assert!(drain(&mut wheel, far - 1).is_empty());
        assert_eq!(drain(&mut wheel, far), vec![(far, 9)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Against a sorted list: every timer fires exactly once, at the first poll at
        /// or after its deadline, never before.
        #[test]
        fn matches_a_sorted_model(
            start in prop_oneof![0u64..1_000_000_000, (MAX_SPAN - 6_000_000)..(MAX_SPAN + 10)],
            delays in proptest::collection::vec(1u64..5_000_000, 1..200),
            steps in proptest::collection::vec(1u64..200_000, 1..200),
        ) {
            let mut wheel = Wheel::new(start);
            for (i, delay) in delays.iter().enumerate() {
                wheel.insert(start + delay, i as u32).unwrap();
            }
            let mut now = start;
            let mut fired_all = Vec::new();
            for step in steps.iter().chain(std::iter::once(&5_000_000)) {
                let before = now;
                now += step;
                let mut fired = Vec::new();
                wheel.poll(now, &mut fired);
                for (when, item) in fired {
                    prop_assert!(when <= now, "fired early");
                    prop_assert!(when > before, "fired late: due {} polled {} then {}", when, before, now);
                    prop_assert_eq!(when, start + delays[item as usize]);
                    fired_all.push(item);
                }
            }
            fired_all.sort_unstable();
            prop_assert_eq!(fired_all, (0..delays.len() as u32).collect::<Vec<_>>());
            prop_assert_eq!(wheel.len(), 0);
        }
    }
}
