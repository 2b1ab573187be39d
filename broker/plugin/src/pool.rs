//! The threads plugin calls run on: a fixed pool whose threads run at a lower scheduling
//! priority than the broker's own ([`CallPriority`]).
//!
//! A plugin that burns CPU until its deadline, or a busy consumer plugin, then only gets
//! the CPU the broker's threads leave idle: sends, receives and the store of other topics
//! keep their pace. Every call into a plugin (consumer batches, dedup keys, check-backs)
//! goes through [`CallPool::run`], except consumer batches at [`CallPriority::Normal`],
//! which run in place on the runtime's worker thread (no hand-off to another thread). The pool has
//! [`call_threads`](crate::PluginHostConfig::call_threads) threads; more calls than that
//! wait for a free thread, so plugins together never occupy more threads than that.
//!
//! On Linux priorities are per thread; elsewhere the threads keep the broker's priority
//! (and a warning says so).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, mpsc};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::PluginError;

/// The scheduling priority of plugin call threads, next to the broker's threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallPriority {
    /// Linux `SCHED_IDLE`: plugin calls run on CPU time the broker leaves idle, and a
    /// broker thread that wakes up takes the CPU from them at once. A plugin spinning
    /// until its deadline does not measurably slow other topics; on a machine the broker
    /// keeps fully busy, plugin calls slow down (and may reach their deadlines).
    #[default]
    Idle,
    /// Nice value 10 above the broker's: plugins get about a tenth of a CPU the broker
    /// also wants.
    Low,
    /// The broker's own priority. Consumer batches then run in place on the runtime's
    /// worker threads (which spares two thread wake-ups per batch: the fastest, with no
    /// protection of other topics from a plugin's CPU use beyond its deadline).
    Normal,
}

impl std::str::FromStr for CallPriority {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "idle" => Ok(CallPriority::Idle),
            "low" => Ok(CallPriority::Low),
            "normal" => Ok(CallPriority::Normal),
            other => Err(format!(
                "unknown call priority '{other}': expected idle, low or normal"
            )),
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The pool. Its threads end when it is dropped.
pub(crate) struct CallPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for CallPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallPool").finish_non_exhaustive()
    }
}

impl CallPool {
    /// Starts `threads` threads at `priority`.
    pub(crate) fn new(threads: usize, priority: CallPriority) -> Result<Self, PluginError> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("weir-plugin-{n}"))
                .spawn(move || {
                    if let Err(err) = priority::set(priority) {
                        tracing::warn!(error = %err, ?priority, "cannot lower the priority of a plugin thread");
                    }
                    loop {
                        let job = receiver.lock().recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| PluginError::io("starting a plugin call thread", e))?;
        }
        Ok(Self {
            jobs: Mutex::new(sender),
        })
    }

    /// Runs `f` on a pool thread and answers its result, or the text of its panic.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, String> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(AssertUnwindSafe(f))
                .map_err(|panic| panic_text(panic.as_ref()));
            let _ = answer.send(result);
        });
        if self.jobs.lock().send(job).is_err() {
            return Err("the plugin call threads have stopped".to_string());
        }
        answered
            .await
            .unwrap_or_else(|_| Err("the plugin call was dropped".to_string()))
    }
}

/// The message of a panic payload.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod priority {
    use super::CallPriority;

    /// Nice increment of [`CallPriority::Low`].
    const LOW_NICE: i32 = 10;

    /// Sets the calling thread's priority.
    pub(super) fn set(priority: CallPriority) -> std::io::Result<()> {
        // SAFETY: plain system calls; the only pointer is to a live local. On Linux
        // priorities belong to the thread named by its id. (A nice value of -1 reads like
        // an error; it only makes the target one step off.)
        let result = unsafe {
            let thread = libc::gettid();
            match priority {
                CallPriority::Normal => 0,
                CallPriority::Low => {
                    let current = libc::getpriority(libc::PRIO_PROCESS, thread as libc::id_t);
                    let target = current.saturating_add(LOW_NICE).min(19).max(current);
                    libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, target)
                }
                CallPriority::Idle => {
                    let param = libc::sched_param { sched_priority: 0 };
                    libc::sched_setscheduler(thread, libc::SCHED_IDLE, &param)
                }
            }
        };
        if result == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// The calling thread's nice value and scheduling policy.
    #[cfg(test)]
    pub(super) fn current() -> (i32, i32) {
        // SAFETY: as above.
        unsafe {
            let thread = libc::gettid();
            (
                libc::getpriority(libc::PRIO_PROCESS, thread as libc::id_t),
                libc::sched_getscheduler(thread),
            )
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod priority {
    pub(super) fn set(_priority: super::CallPriority) -> std::io::Result<()> {
        Err(std::io::Error::other(
            "per-thread priorities are only set on Linux",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_run_on_lower_priority_threads_and_panics_are_answered() {
        let base = priority::current();
        let idle = CallPool::new(2, CallPriority::Idle).unwrap();
        let (name, (_, policy)) = idle
            .run(|| {
                (
                    std::thread::current().name().map(str::to_string),
                    priority::current(),
                )
            })
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("weir-plugin-"));
        assert_eq!(policy, libc::SCHED_IDLE);
        let low = CallPool::new(1, CallPriority::Low).unwrap();
        let (nice, policy) = low.run(priority::current).await.unwrap();
        assert_eq!((nice, policy), ((base.0 + 10).min(19), base.1));
        assert_eq!(
            priority::current(),
            base,
            "the caller's priority is unchanged"
        );

        let panicked = idle.run(|| -> u32 { panic!("boom") }).await;
        assert_eq!(panicked, Err("boom".to_string()));
        assert_eq!(
            idle.run(|| 2 + 2).await,
            Ok(4),
            "the thread survived the panic"
        );
    }
}
