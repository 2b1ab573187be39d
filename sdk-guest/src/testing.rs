//! A stand-in for the broker, for testing plugins natively with `cargo test`.
//!
//! Built for any target other than `wasm32`, the SDK's host services ([`log`](crate::log),
//! [`now_ms`](crate::now_ms), [`state`](crate::state), [`publish`](crate::publish),
//! [`http`](crate::http)) talk to this in-memory double instead of the broker. Each
//! thread has its own, so the tests of a crate (one thread each) do not see each other;
//! [`reset`] starts afresh within a test.
//!
//! By default the clock is the system clock, state is unlimited, publishing succeeds
//! (answering ids `test-1`, `test-2`, ...) and every HTTP request fails as not allowed.
//!
//! ```
//! use weir_sdk::{Outgoing, http, testing};
//!
//! testing::reset();
//! testing::set_now_ms(1_000);
//! testing::on_http(|call| match call.url.as_str() {
//!     "http://svc/tx/1" => Ok(http::Response::new(200, "commit")),
//!     _ => Ok(http::Response::new(404, "")),
//! });
//!
//! // ... call the plugin's `handle`, `dedup_key` or `check` ...
//! weir_sdk::publish(Outgoing::new("audit", "x")).unwrap();
//! let answer = http::get("http://svc/tx/1", &[]).unwrap();
//!
//! assert_eq!(answer.text(), Some("commit"));
//! assert_eq!(testing::published()[0].topic, "audit");
//! assert_eq!(testing::http_calls()[0].method, "GET");
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::http::Response;
use crate::log::Level;
use crate::message::Outgoing;

/// An HTTP request a plugin made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    /// `GET` or `POST`.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Answers the plugin's HTTP requests: a response, or the error message of a failure.
type HttpHandler = Rc<dyn Fn(&HttpCall) -> Result<Response, String>>;

/// The double's state on one thread.
#[derive(Default)]
struct FakeHost {
    now_ms: Option<i64>,
    logs: Vec<(Level, String)>,
    /// Values and the time they expire at, if any.
    state: BTreeMap<String, (Vec<u8>, Option<i64>)>,
    state_error: Option<String>,
    published: Vec<Outgoing>,
    publish_error: Option<String>,
    http: Option<HttpHandler>,
    http_calls: Vec<HttpCall>,
}

thread_local! {
    static HOST: RefCell<FakeHost> = RefCell::default();
}

fn with<R>(f: impl FnOnce(&mut FakeHost) -> R) -> R {
    HOST.with(|host| f(&mut host.borrow_mut()))
}

/// Forgets everything: logs, state, published messages, HTTP calls and every setting.
pub fn reset() {
    with(|host| *host = FakeHost::default());
}

/// Fixes the clock at `ms` since the Unix epoch (state expiry follows it).
pub fn set_now_ms(ms: i64) {
    with(|host| host.now_ms = Some(ms));
}

/// The lines logged so far, oldest first.
pub fn logs() -> Vec<(Level, String)> {
    with(|host| host.logs.clone())
}

/// The messages published so far, oldest first.
pub fn published() -> Vec<Outgoing> {
    with(|host| host.published.clone())
}

/// Makes every following publish fail with `reason` (`None`: succeed again).
pub fn fail_publish(reason: Option<&str>) {
    with(|host| host.publish_error = reason.map(str::to_owned));
}

/// Makes every following state write fail with `reason`, as a full quota would (`None`:
/// succeed again).
pub fn fail_state_set(reason: Option<&str>) {
    with(|host| host.state_error = reason.map(str::to_owned));
}

/// Answers the following HTTP requests with `handler`.
pub fn on_http(handler: impl Fn(&HttpCall) -> Result<Response, String> + 'static) {
    with(|host| host.http = Some(Rc::new(handler)));
}

/// The HTTP requests made so far, oldest first.
pub fn http_calls() -> Vec<HttpCall> {
    with(|host| host.http_calls.clone())
}

/// The host functions of [`crate::imports`] on native targets.
pub(crate) mod host {
    use super::{HttpCall, with};
    use crate::log::Level;
    use crate::message::Outgoing;

    pub(crate) fn log(level: Level, message: &str) {
        with(|host| host.logs.push((level, message.to_owned())));
    }

    pub(crate) fn now_ms() -> i64 {
        with(|host| host.now_ms).unwrap_or_else(system_now_ms)
    }

    fn system_now_ms() -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }

    pub(crate) fn state_get(key: &str) -> Option<Vec<u8>> {
        let now = now_ms();
        with(|host| match host.state.get(key) {
            Some((_, Some(expires))) if *expires <= now => {
                host.state.remove(key);
                None
            }
            Some((value, _)) => Some(value.clone()),
            None => None,
        })
    }

    pub(crate) fn state_set(key: &str, value: &[u8], ttl_ms: u64) -> Result<(), String> {
        let now = now_ms();
        with(|host| {
            if let Some(reason) = &host.state_error {
                return Err(reason.clone());
            }
            let expires =
                (ttl_ms > 0).then(|| now.saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX)));
            host.state.insert(key.to_owned(), (value.to_vec(), expires));
            Ok(())
        })
    }

    pub(crate) fn state_delete(key: &str) {
        with(|host| host.state.remove(key));
    }

    pub(crate) fn publish(message: Outgoing) -> Result<String, String> {
        with(|host| {
            if let Some(reason) = &host.publish_error {
                return Err(reason.clone());
            }
            host.published.push(message);
            Ok(format!("test-{}", host.published.len()))
        })
    }

    pub(crate) fn http_request(
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let call = HttpCall {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: headers.to_vec(),
            body: body.to_vec(),
        };
        // The handler runs outside the borrow, so it may use the double itself.
        let handler = with(|host| {
            host.http_calls.push(call.clone());
            host.http.clone()
        });
        match handler {
            Some(handler) => handler(&call).map(|response| (response.status, response.body)),
            None => Err(format!("{url} is not on the binding's allowlist")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state;

    #[test]
    fn state_expires_with_the_clock() {
        reset();
        set_now_ms(1_000);
        state::set("k", b"v", 500).unwrap();
        set_now_ms(1_499);
        assert_eq!(state::get("k").as_deref(), Some(&b"v"[..]));
        set_now_ms(1_500);
        assert_eq!(state::get("k"), None);
    }

    #[test]
    fn a_zero_ttl_keeps_the_value_until_deleted() {
        reset();
        set_now_ms(0);
        state::set("k", b"v", 0).unwrap();
        set_now_ms(i64::MAX);
        assert!(state::get("k").is_some());
        state::delete("k");
        assert_eq!(state::get("k"), None);
    }

    #[test]
    fn failures_are_host_errors() {
        reset();
        fail_publish(Some("publishing is not granted"));
        let error = crate::publish(Outgoing::new("t", "b")).unwrap_err();
        assert_eq!(error.message(), "publishing is not granted");
        fail_state_set(Some("quota"));
        assert!(state::set("k", b"v", 0).is_err());
        assert!(crate::http::get("http://x/", &[]).is_err());
    }
}
