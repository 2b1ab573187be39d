//! The consumer loop: receive a batch (long poll), run a handler on each message, then ack
//! the messages it handled and nack those it failed, one request each per batch.
//!
//! [`Consumer`] is built with [`Client::consumer`]; [`Consumer::run`] (or
//! [`Consumer::spawn`], on a task of its own) loops until a message count is reached
//! ([`Consumer::limit`]), a [`StopToken`] fires, or (with [`Consumer::stop_when_idle`]) a
//! receive comes back empty. Delivery is at least once: a message whose ack is lost (or
//! whose handler outlives its invisible time) comes again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::{Client, ClientError, ReceiveOptions, Received};

/// How long each receive waits for messages unless [`Consumer::wait_ms`] says otherwise.
const DEFAULT_WAIT_MS: u64 = 5_000;
/// The pause after an empty receive when the wait is 0, so that an idle loop does not spin.
const EMPTY_POLL_PAUSE: Duration = Duration::from_millis(100);

/// A signal that stops [`Consumer::run`] (and anything else that waits on it). Clones share
/// the signal; once stopped it stays stopped.
///
/// ```
/// use weir_client::StopToken;
///
/// let token = StopToken::new();
/// let for_the_loop = token.clone();
/// token.stop();
/// assert!(for_the_loop.is_stopped());
/// ```
#[derive(Debug, Clone)]
pub struct StopToken {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for StopToken {
    fn default() -> StopToken {
        StopToken::new()
    }
}

impl StopToken {
    /// A token not yet stopped.
    pub fn new() -> StopToken {
        StopToken {
            sender: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Fires the signal.
    pub fn stop(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the signal has fired.
    pub fn is_stopped(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once the signal has fired (at once if it already has). The future owns
    /// what it needs: it does not borrow the token.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.sender.subscribe();
        async move {
            if receiver.wait_for(|&stopped| stopped).await.is_err() {
                // Every token is gone: nothing can fire the signal any more.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// What a [`Consumer::run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    /// Messages given to the handler.
    pub handled: u64,
    /// Messages acked (after the handler returned `Ok`) and taken by the broker.
    pub acked: u64,
    /// Messages nacked (after the handler returned `Err`) and taken by the broker.
    pub nacked: u64,
    /// Messages whose handler returned `Err`.
    pub failed: u64,
    /// Acks and nacks the broker did not take, typically because the receipt expired:
    /// the message became visible again and will be (or was) delivered again.
    pub expired: u64,
    /// Receive requests made.
    pub receives: u64,
}

/// A consumer loop for one group; see [`Client::consumer`].
///
/// ```no_run
/// # async fn demo() -> Result<(), weir_client::ClientError> {
/// use weir_client::{Client, StopToken};
///
/// let client = Client::new("http://127.0.0.1:7700")?;
/// let stop = StopToken::new();
/// let stats = client
///     .consumer("billing")
///     .max(64)
///     .wait_ms(10_000)
///     .limit(1000)
///     .stop_token(stop.clone())
///     .run(async |message| {
///         println!("{}: {:?}", message.id, message.body_str());
///         Ok::<(), String>(())
///     })
///     .await?;
/// println!("handled {}, acked {}, nacked {}", stats.handled, stats.acked, stats.nacked);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Consumer {
    client: Client,
    group: String,
    options: ReceiveOptions,
    limit: Option<u64>,
    stop: Option<StopToken>,
    auto_ack: bool,
    nack_delay_ms: Option<u64>,
    stop_when_idle: bool,
}

impl Client {
    /// A consumer loop for `group`: batches of 32, receives waiting up to 5 s, acks and
    /// nacks on, no count limit, no stop token.
    pub fn consumer(&self, group: impl Into<String>) -> Consumer {
        Consumer {
            client: self.clone(),
            group: group.into(),
            options: ReceiveOptions {
                wait_ms: DEFAULT_WAIT_MS,
                ..ReceiveOptions::default()
            },
            limit: None,
            stop: None,
            auto_ack: true,
            nack_delay_ms: None,
            stop_when_idle: false,
        }
    }
}

impl Consumer {
    /// Receives at most `max` (1–1000) messages per request.
    pub fn max(mut self, max: u32) -> Consumer {
        self.options.max = max;
        self
    }

    /// Each receive waits up to `wait_ms` (at most 30 000, and below the client's
    /// request timeout) for a first message.
    pub fn wait_ms(mut self, wait_ms: u64) -> Consumer {
        self.options.wait_ms = wait_ms;
        self
    }

    /// Receives as consumer instance `name` (required by broadcasting groups).
    pub fn consumer_name(mut self, name: impl Into<String>) -> Consumer {
        self.options.consumer = Some(name.into());
        self
    }

    /// Received messages stay invisible to the group for `ms` (default: the group's).
    pub fn invisible_ms(mut self, ms: u64) -> Consumer {
        self.options.invisible_ms = Some(ms);
        self
    }

    /// Returns once `count` messages were handled; never receives more than that.
    pub fn limit(mut self, count: u64) -> Consumer {
        self.limit = Some(count);
        self
    }

    /// Returns when `token` fires. A receive in progress is abandoned (its messages, if
    /// any, become visible again after their invisible time); a batch being handled is
    /// finished and acked first.
    pub fn stop_token(mut self, token: StopToken) -> Consumer {
        self.stop = Some(token);
        self
    }

    /// Whether to ack and nack (default true). Without, handled messages stay in flight
    /// until their invisible time passes, then are delivered again: a way to peek.
    pub fn auto_ack(mut self, enabled: bool) -> Consumer {
        self.auto_ack = enabled;
        self
    }

    /// Redelivers failed messages after `ms` instead of the group's backoff.
    pub fn nack_delay_ms(mut self, ms: u64) -> Consumer {
        self.nack_delay_ms = Some(ms);
        self
    }

    /// Returns when a receive comes back empty (after waiting its `wait_ms`): drains the
    /// backlog, then stops.
    pub fn stop_when_idle(mut self, enabled: bool) -> Consumer {
        self.stop_when_idle = enabled;
        self
    }

    /// The group consumed.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Runs the loop: receive, call `handler` on each message in order, then ack those
    /// for which it returned `Ok` and nack those for which it returned `Err` (one request
    /// each per batch). Returns when the limit is reached, the stop token fires, or (with
    /// [`Consumer::stop_when_idle`]) a receive is empty.
    ///
    /// The handler may borrow and mutate local state (`async |message| { seen.push(..) }`).
    /// To run the loop on its own task, use [`Consumer::spawn`].
    ///
    /// # Errors
    ///
    /// The first failed receive, ack or nack ends the loop with its error. Messages
    /// handled but not acked then come again after their invisible time.
    pub async fn run<E, F>(self, mut handler: F) -> Result<ConsumerStats, ClientError>
    where
        F: AsyncFnMut(Received) -> Result<(), E>,
    {
        let mut stats = ConsumerStats::default();
        while let Some(batch) = self.next_batch(&mut stats).await? {
            let mut outcomes = Outcomes::with_capacity(batch.len());
            for message in batch {
                let receipt = message.receipt.clone();
                let handled = handler(message).await;
                outcomes.record(receipt, handled.is_ok(), &mut stats);
            }
            self.settle(outcomes, &mut stats).await?;
        }
        Ok(stats)
    }

    /// Runs the loop as [`Consumer::run`] does, on a task of its own. The handler returns
    /// a future that owns what it uses (`|message| async move { .. }`), so that the task
    /// can move between threads.
    pub fn spawn<E, F, Fut>(
        self,
        mut handler: F,
    ) -> tokio::task::JoinHandle<Result<ConsumerStats, ClientError>>
    where
        F: FnMut(Received) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
    {
        tokio::spawn(async move {
            let mut stats = ConsumerStats::default();
            while let Some(batch) = self.next_batch(&mut stats).await? {
                let mut outcomes = Outcomes::with_capacity(batch.len());
                for message in batch {
                    let receipt = message.receipt.clone();
                    let handled = handler(message).await;
                    outcomes.record(receipt, handled.is_ok(), &mut stats);
                }
                self.settle(outcomes, &mut stats).await?;
            }
            Ok(stats)
        })
    }

    /// The next non-empty batch to handle; `None` when the loop must end (limit reached,
    /// stop token fired, or an empty receive with [`Consumer::stop_when_idle`]).
    async fn next_batch(
        &self,
        stats: &mut ConsumerStats,
    ) -> Result<Option<Vec<Received>>, ClientError> {
        loop {
            let remaining = self.limit.map(|limit| limit.saturating_sub(stats.handled));
            if remaining == Some(0) || self.stop.as_ref().is_some_and(StopToken::is_stopped) {
                return Ok(None);
            }
            let mut options = self.options.clone();
            if let Some(remaining) = remaining {
                options.max = options
                    .max
                    .min(u32::try_from(remaining).unwrap_or(u32::MAX));
            }
            let receive = self.client.receive(&self.group, &options);
            let batch = match &self.stop {
                Some(stop) => tokio::select! {
                    biased;
                    () = stop.stopped() => return Ok(None),
                    batch = receive => batch?,
                },
                None => receive.await?,
            };
            stats.receives += 1;
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
            if self.stop_when_idle {
                return Ok(None);
            }
            if options.wait_ms == 0 {
                let pause = tokio::time::sleep(EMPTY_POLL_PAUSE);
                match &self.stop {
                    Some(stop) => tokio::select! {
                        () = stop.stopped() => return Ok(None),
                        () = pause => {}
                    },
                    None => pause.await,
                }
            }
        }
    }

    /// Acks and nacks a handled batch, one request each.
    async fn settle(
        &self,
        outcomes: Outcomes,
        stats: &mut ConsumerStats,
    ) -> Result<(), ClientError> {
        if !self.auto_ack {
            return Ok(());
        }
        if !outcomes.acks.is_empty() {
            let result = self.client.ack(&self.group, &outcomes.acks).await?;
            stats.acked += result.count as u64;
            stats.expired += result.failed.len() as u64;
        }
        if !outcomes.nacks.is_empty() {
            let result = self
                .client
                .nack(&self.group, &outcomes.nacks, self.nack_delay_ms)
                .await?;
            stats.nacked += result.count as u64;
            stats.expired += result.failed.len() as u64;
        }
        Ok(())
    }
}

/// The receipts of a handled batch, split by the handler's verdict.
struct Outcomes {
    acks: Vec<String>,
    nacks: Vec<String>,
}

impl Outcomes {
    fn with_capacity(capacity: usize) -> Outcomes {
        Outcomes {
            acks: Vec::with_capacity(capacity),
            nacks: Vec::new(),
        }
    }

    fn record(&mut self, receipt: String, ok: bool, stats: &mut ConsumerStats) {
        stats.handled += 1;
        if ok {
            self.acks.push(receipt);
        } else {
            stats.failed += 1;
            self.nacks.push(receipt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_token_wakes_waiters() {
        let token = StopToken::new();
        let waiter = tokio::spawn({
            let token = token.clone();
            async move { token.stopped().await }
        });
        assert!(!token.is_stopped());
        token.stop();
        waiter.await.unwrap();
        // Once stopped, waiting returns at once.
        token.stopped().await;
    }

    #[tokio::test]
    async fn a_stopped_consumer_returns_without_receiving() {
        // Nothing listens on port 1: any request would fail.
        let client = Client::new("http://127.0.0.1:1").unwrap();
        let token = StopToken::new();
        token.stop();
        let stats = client
            .consumer("g")
            .stop_token(token)
            .run(async |_| Ok::<(), ()>(()))
            .await
            .unwrap();
        assert_eq!(stats, ConsumerStats::default());
        let stats = client
            .consumer("g")
            .limit(0)
            .run(async |_| Ok::<(), ()>(()))
            .await
            .unwrap();
        assert_eq!(stats.receives, 0);
    }

    #[tokio::test]
    async fn the_loop_can_run_in_a_spawned_task() {
        let client = Client::new("http://127.0.0.1:1").unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let task = client.consumer("g").limit(1).spawn({
            let seen = seen.clone();
            move |message: Received| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(message.id);
                    Ok::<(), String>(())
                }
            }
        });
        let err = task.await.unwrap().unwrap_err();
        assert!(matches!(err, ClientError::Transport(_)), "{err}");
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_handler_may_borrow_local_state() {
        let client = Client::new("http://127.0.0.1:1").unwrap();
        let mut seen: Vec<String> = Vec::new();
        let result = client
            .consumer("g")
            .limit(1)
            .run(async |message| {
                seen.push(message.id);
                Ok::<(), String>(())
            })
            .await;
        assert!(result.is_err());
        assert!(seen.is_empty());
    }
}
