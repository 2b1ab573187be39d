//! The progress bar of the benches: drawn on stderr, redrawn on a timer from the workers'
//! shared counters (never from the workers themselves, which stay cheap).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::report;

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(200);

/// A bar on stderr over the run's time (`total`, warm-up included), or over the measured
/// message count in `--count` mode; a no-op bar when `hidden`.
pub(super) fn bar(hidden: bool, count: Option<u64>, total: Duration) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let (length, template) = match count {
        Some(count) => (
            count,
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
        ),
        None => (
            u64::try_from(total.as_millis()).unwrap_or(u64::MAX),
            "{spinner} [{elapsed_precise}] {wide_bar} {msg}",
        ),
    };
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Redraws the bar until aborted: position, and the measured rate so far.
///
/// `counters` reads the messages and errors measured so far; measuring starts at
/// `measure_from`.
pub(super) async fn tick(
    bar: ProgressBar,
    counters: impl Fn() -> (u64, u64),
    measure_from: Instant,
    by_count: bool,
) {
    let started = Instant::now();
    let mut interval = tokio::time::interval(TICK);
    loop {
        interval.tick().await;
        let now = Instant::now();
        let (messages, errors) = counters();
        if by_count {
            bar.set_position(messages);
        } else {
            bar.set_position(u64::try_from((now - started).as_millis()).unwrap_or(u64::MAX));
        }
        if now < measure_from {
            bar.set_message("warming up");
        } else {
            let rate = report::rate(messages as f64, now - measure_from);
            bar.set_message(format!("{rate:.0} msgs/s, {errors} errors"));
        }
    }
}
