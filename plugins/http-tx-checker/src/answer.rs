//! How the service's response maps to a transaction state.
//!
//! A 2xx response whose body is `commit` or `rollback` (any case, surrounding whitespace
//! ignored), or a JSON object `{"state": "commit" | "rollback" | "unknown"}` (what the
//! broker's producer-group callbacks answer), decides the transaction. A 404 is
//! [`NotFound`]'s choice. Everything else is unknown.

use serde::Deserialize;
use weir_sdk::TxState;
use weir_sdk::http::Response;

use crate::config::NotFound;

/// The JSON answer form.
#[derive(Deserialize)]
struct StateAnswer {
    state: String,
}

/// The transaction state a response says.
pub(crate) fn state_of(response: &Response, not_found: NotFound) -> TxState {
    if response.status == 404 {
        return match not_found {
            NotFound::Unknown => TxState::Unknown,
            NotFound::Rollback => TxState::Rollback,
        };
    }
    if !response.is_success() {
        return TxState::Unknown;
    }
    let Some(text) = response.text().map(str::trim) else {
        return TxState::Unknown;
    };
    let word = match serde_json::from_str::<StateAnswer>(text) {
        Ok(answer) => answer.state,
        Err(_) => text.to_owned(),
    };
    match word.to_ascii_lowercase().as_str() {
        "commit" => TxState::Commit,
        "rollback" => TxState::Rollback,
        _ => TxState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: u16, body: &str) -> TxState {
        state_of(&Response::new(status, body), NotFound::Unknown)
    }

    #[test]
    fn plain_words_and_json_decide() {
        assert_eq!(state(200, "commit"), TxState::Commit);
        assert_eq!(state(200, " ROLLBACK\n"), TxState::Rollback);
        assert_eq!(state(204, r#"{"state":"commit"}"#), TxState::Commit);
        assert_eq!(state(200, r#"{"state":"unknown"}"#), TxState::Unknown);
    }

    #[test]
    fn anything_else_is_unknown() {
        assert_eq!(state(200, "maybe"), TxState::Unknown);
        assert_eq!(state(200, ""), TxState::Unknown);
        assert_eq!(state(500, "commit"), TxState::Unknown);
        assert_eq!(state(302, "commit"), TxState::Unknown);
        assert_eq!(
            state_of(&Response::new(200, vec![0xff]), NotFound::Unknown),
            TxState::Unknown
        );
    }

    #[test]
    fn not_found_is_configurable() {
        assert_eq!(state(404, ""), TxState::Unknown);
        assert_eq!(
            state_of(&Response::new(404, ""), NotFound::Rollback),
            TxState::Rollback
        );
    }
}
