//! The scheduling core: one timer service for everything time-based in the broker —
//! delayed delivery, retry backoff and invisibility expiry of consumer groups, and
//! transaction check-back.
//!
//! Timers live in a hierarchical [`wheel`] driven by one thread, `weir-timer`, which
//! sleeps until the next deadline (or until an earlier timer is added) and hands due
//! timers to the broker. The wheel itself is not persisted: what a timer stands for is
//! (a delayed message in the schedule topic, a delivery in the group journal, a half
//! message in the transaction topic), and recovery re-arms timers from there.
//!
//! Memory per pending timer: its deadline and a 16-byte [`Timer`], 24 bytes in a slot
//! vector of the wheel.

pub(crate) mod delayed;
pub(crate) mod ledger;
pub(crate) mod wheel;

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::Broker;
use crate::broker::now_ms;
use crate::group::state::Group;
use wheel::Wheel;

/// What a timer does when it fires.
#[derive(Clone)]
pub(crate) enum Timer {
    /// Something of a consumer group became due: an invisible time passed or a retry
    /// wait ended. The group sweeps its cursors.
    Group(Arc<Group>),
    /// A delayed message is due (the commitlog position of its schedule record).
    Delayed(u64),
    /// A transaction's check-back is due (its offset in the half-message queue).
    TxCheck(u64),
}

/// Callback receiving how late each timer fired.
pub(crate) type LatenessObserver = Arc<dyn Fn(Duration) + Send + Sync>;

struct State {
    wheel: Wheel<Timer>,
    /// Timers added with a deadline already past.
    due: Vec<(u64, Timer)>,
    /// The time the thread sleeps until (ms), `u64::MAX` when idle.
    sleeping_until: u64,
    stop: bool,
}

/// The timer service. Shared (in an `Arc`) between the broker and its thread.
pub(crate) struct Scheduler {
    state: Mutex<State>,
    wake: Condvar,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    observer: RwLock<Option<LatenessObserver>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

/// Longest the thread sleeps without a deadline, so that a stop is noticed.
const IDLE_WAIT: Duration = Duration::from_secs(1);

impl Scheduler {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                wheel: Wheel::new(now_ms().max(0) as u64),
                due: Vec::new(),
                sleeping_until: u64::MAX,
                stop: false,
            }),
            wake: Condvar::new(),
            thread: Mutex::new(None),
            observer: RwLock::new(None),
        }
    }

    /// Starts the timer thread, which fires timers into `broker` while it lives.
    pub(crate) fn start(self: &Arc<Self>, broker: Weak<Broker>) -> std::io::Result<()> {
        let scheduler = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("weir-timer".into())
            .spawn(move || run(&scheduler, &broker))?;
        *self.thread.lock() = Some(handle);
        Ok(())
    }

    /// Stops the timer thread and waits for it.
    pub(crate) fn stop(&self) {
        self.state.lock().stop = true;
        self.wake.notify_all();
        if let Some(handle) = self.thread.lock().take()
            && handle.thread().id() != std::thread::current().id()
        {
            let _ = handle.join();
        }
    }

    /// Adds a timer due at `due_ms` (ms since the epoch).
    pub(crate) fn add(&self, due_ms: i64, timer: Timer) {
        let due = due_ms.max(0) as u64;
        let mut state = self.state.lock();
        if let Err(timer) = state.wheel.insert(due, timer) {
            state.due.push((due, timer));
        }
        if due < state.sleeping_until {
            self.wake.notify_one();
        }
    }

    /// Pending timers.
    pub(crate) fn pending(&self) -> usize {
        let state = self.state.lock();
        state.wheel.len() + state.due.len()
    }

    /// Sets the lateness callback.
    pub(crate) fn set_observer(&self, observer: LatenessObserver) {
        *self.observer.write() = Some(observer);
    }
}

fn run(scheduler: &Scheduler, broker: &Weak<Broker>) {
    let mut fired: Vec<(u64, Timer)> = Vec::new();
    loop {
        {
            let mut state = scheduler.state.lock();
            loop {
                if state.stop || broker.strong_count() == 0 {
                    return;
                }
                let now = now_ms().max(0) as u64;
                let State { wheel, due, .. } = &mut *state;
                wheel.poll(now, &mut fired);
                fired.append(due);
                if !fired.is_empty() {
                    state.sleeping_until = u64::MAX;
                    break;
                }
                let until = state.wheel.next_deadline().unwrap_or(u64::MAX);
                let wait = Duration::from_millis(until.saturating_sub(now)).min(IDLE_WAIT);
                state.sleeping_until = until;
                scheduler.wake.wait_for(&mut state, wait);
            }
        }
        let Some(broker) = broker.upgrade() else {
            return;
        };
        let observer = scheduler.observer.read().clone();
        let now = now_ms();
        let mut delayed = Vec::new();
        for (due, timer) in fired.drain(..) {
            if let Some(observer) = &observer {
                observer(Duration::from_millis((now - due as i64).max(0) as u64));
            }
            match timer {
                Timer::Delayed(offset) => delayed.push(offset),
                timer => broker.fire(timer),
            }
        }
        if !delayed.is_empty()
            && let Err(err) = broker.fire_delayed(&delayed)
        {
            tracing::warn!(error = %err, "delivering delayed messages failed; trying again shortly");
            let retry = now_ms() + RETRY_FAILED_TIMER.as_millis() as i64;
            for offset in delayed {
                scheduler.add(retry, Timer::Delayed(offset));
            }
        }
    }
}

/// How long a timer whose work failed waits before it is tried again.
const RETRY_FAILED_TIMER: Duration = Duration::from_secs(1);

impl Broker {
    /// Carries out one due timer.
    fn fire(&self, timer: Timer) {
        let result = match &timer {
            Timer::Group(group) => self.sweep_group(group),
            Timer::Delayed(offset) => self.fire_delayed(&[*offset]),
            Timer::TxCheck(offset) => self.fire_tx_check(*offset),
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "a timer's work failed; trying again shortly");
            let retry = now_ms() + RETRY_FAILED_TIMER.as_millis() as i64;
            self.scheduler().add(retry, timer);
        }
    }

    /// Pending timers of every kind.
    pub fn pending_timers(&self) -> usize {
        self.scheduler().pending()
    }

    /// Sets a callback receiving how late each timer fired (for metrics).
    pub fn set_timer_lateness_observer(&self, observer: impl Fn(Duration) + Send + Sync + 'static) {
        self.scheduler().set_observer(Arc::new(observer));
    }
}
