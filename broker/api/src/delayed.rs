//! Delayed messages at the ingress: what a send asks for (a relative delay, an absolute
//! time or one of RocketMQ's 18 delay levels) resolved into the absolute delivery time
//! the core schedules by, and the cancel route.
//!
//! A send names its delay in headers (`weir-delay-ms`, `weir-deliver-at`,
//! `weir-delay-level`) or in its JSON object (`"delay_ms"`, `"deliver_at"`,
//! `"delay_level"`); at most one of the three. Relative delays count from the moment the
//! request is parsed, on the broker's clock. The core refuses delivery times further
//! away than its maximum delay; a relative delay over it is refused here already, so that
//! the answer does not depend on how long the request took to reach the core.

use http::StatusCode;
use serde::Serialize;

use crate::app::{HttpResponse, json};
use crate::headers::{DELAY_LEVEL, DELAY_MS, DELIVER_AT};
use crate::{ApiError, App};

/// Where a send's attributes came from: decides the names errors use and their codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// `weir-*` request headers.
    Headers,
    /// The fields of a JSON message object.
    Json,
}

impl Source {
    /// The names of the relative, absolute and level forms.
    fn names(self) -> [&'static str; 3] {
        match self {
            Source::Headers => [DELAY_MS, DELIVER_AT, DELAY_LEVEL],
            Source::Json => ["delay_ms", "deliver_at", "delay_level"],
        }
    }

    /// A malformed request: `INVALID_HEADER` for headers, `INVALID_ARGUMENT` for JSON
    /// (where the type errors are already `INVALID_JSON`).
    pub(crate) fn malformed(self, message: String) -> ApiError {
        match self {
            Source::Headers => ApiError::invalid_header(message),
            Source::Json => ApiError::invalid_argument(message),
        }
    }
}

/// The delay a send asks for, as given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DelayRequest {
    /// Deliver this many ms from now.
    pub(crate) delay_ms: Option<u64>,
    /// Deliver at this time, ms since the epoch.
    pub(crate) deliver_at: Option<u64>,
    /// Deliver after RocketMQ delay level 1..=18.
    pub(crate) delay_level: Option<u32>,
}

impl DelayRequest {
    /// Whether the send asks for no delay at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.delay_ms.is_none() && self.deliver_at.is_none() && self.delay_level.is_none()
    }

    /// The absolute delivery time (ms since the epoch), `None` for an immediate send.
    ///
    /// More than one form is malformed; a relative delay over `max_delay_ms`, a level
    /// outside 1..=18 or a time beyond the representable range are `INVALID_ARGUMENT`.
    /// A time in the past is kept: the core delivers it at once.
    pub(crate) fn resolve(
        &self,
        source: Source,
        now: i64,
        max_delay_ms: u64,
    ) -> Result<Option<i64>, ApiError> {
        let [relative, absolute, level] = source.names();
        let given = [
            self.delay_ms.is_some(),
            self.deliver_at.is_some(),
            self.delay_level.is_some(),
        ];
        if given.iter().filter(|&&g| g).count() > 1 {
            return Err(source.malformed(format!(
                "give only one of {relative}, {absolute} and {level}"
            )));
        }
        let after = |ms: u64| now.saturating_add(i64::try_from(ms).unwrap_or(i64::MAX));
        if let Some(ms) = self.delay_ms {
            if ms > max_delay_ms {
                return Err(ApiError::invalid_argument(format!(
                    "{relative} of {ms} ms is over the maximum delay of {max_delay_ms} ms"
                )));
            }
            return Ok(Some(after(ms)));
        }
        if let Some(at) = self.deliver_at {
            return i64::try_from(at).map(Some).map_err(|_| {
                ApiError::invalid_argument(format!(
                    "{absolute} must be a time in ms since the epoch, got {at}"
                ))
            });
        }
        if let Some(n) = self.delay_level {
            let ms = weir_core::message::delay_level_ms(n).map_err(|_| {
                ApiError::invalid_argument(format!("{level} must be 1 to 18, got {n}"))
            })?;
            return Ok(Some(after(ms)));
        }
        Ok(None)
    }
}

/// Milliseconds since the Unix epoch, on the broker's clock.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The answer to a cancel.
#[derive(Serialize)]
struct CancelledJson<'a> {
    id: &'a str,
    topic: &'a str,
    deliver_at: i64,
    state: &'static str,
}

/// Cancels a delayed message that is not yet due; `404 NOT_SCHEDULED` otherwise (already
/// delivered, cancelled before, or never delayed).
pub(crate) async fn cancel(app: &App, id: &str) -> Result<HttpResponse, ApiError> {
    let scheduled = app.broker.cancel_delayed(id).await?;
    Ok(json(
        StatusCode::OK,
        &CancelledJson {
            id: &scheduled.stored.message.id,
            topic: &scheduled.topic,
            deliver_at: scheduled.deliver_at,
            state: "cancelled",
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 40 * 24 * 3_600_000;

    fn resolve(request: DelayRequest) -> Result<Option<i64>, ApiError> {
        request.resolve(Source::Headers, 1_000, MAX)
    }

    #[test]
    fn each_form_resolves_to_an_absolute_time() {
        assert_eq!(resolve(DelayRequest::default()), Ok(None));
        let relative = DelayRequest {
            delay_ms: Some(500),
            ..DelayRequest::default()
        };
        assert_eq!(resolve(relative), Ok(Some(1_500)));
        let absolute = DelayRequest {
            deliver_at: Some(7),
            ..DelayRequest::default()
        };
        assert_eq!(resolve(absolute), Ok(Some(7)));
        let level = DelayRequest {
            delay_level: Some(3),
            ..DelayRequest::default()
        };
        assert_eq!(resolve(level), Ok(Some(11_000)));
    }

    #[test]
    fn conflicts_and_out_of_range_values_are_refused() {
        let both = DelayRequest {
            delay_ms: Some(1),
            delay_level: Some(1),
            ..DelayRequest::default()
        };
        assert_eq!(resolve(both).unwrap_err().code, "INVALID_HEADER");
        assert_eq!(
            both.resolve(Source::Json, 0, MAX).unwrap_err().code,
            "INVALID_ARGUMENT"
        );
        for bad in [
            DelayRequest {
                delay_ms: Some(MAX + 1),
                ..DelayRequest::default()
            },
            DelayRequest {
                delay_level: Some(0),
                ..DelayRequest::default()
            },
            DelayRequest {
                delay_level: Some(19),
                ..DelayRequest::default()
            },
            DelayRequest {
                deliver_at: Some(u64::MAX),
                ..DelayRequest::default()
            },
        ] {
            assert_eq!(
                resolve(bad).unwrap_err().code,
                "INVALID_ARGUMENT",
                "{bad:?}"
            );
        }
    }
}
