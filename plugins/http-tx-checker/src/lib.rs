//! `http-tx-checker`, a Weir transaction checker: asks the producer's HTTP service for the
//! state of an undecided transaction, through the broker's `http-request`.
//!
//! * `config`: the binding's config (`config::Config`): URL template, method, headers;
//! * `template`: the URL template and its placeholders (`template::UrlTemplate`);
//! * `answer`: how a response maps to commit, rollback or unknown (`answer::state_of`);
//! * `callback`: the JSON body of a POST, the same as the broker's own check-back
//!   callback sends (`callback::body`).
//!
//! Anything but a clear answer is `unknown`: the broker asks again later. A config that
//! does not parse is logged once per instance and answers `unknown`.

mod answer;
mod callback;
mod config;
mod template;

use weir_sdk::{Message, TxChecker, TxState, http};

use crate::config::{Config, Method};

/// The checker.
pub struct HttpTxChecker;

impl TxChecker for HttpTxChecker {
    fn check(config: &str, half: &Message, checks: u32) -> TxState {
        let config = config::parsed(config);
        match config.as_ref() {
            Ok(config) => ask(config, half, checks),
            Err(_) => TxState::Unknown,
        }
    }
}

weir_sdk::export_tx_checker!(HttpTxChecker);

/// Asks the service about `half`'s transaction.
fn ask(config: &Config, half: &Message, checks: u32) -> TxState {
    let url = config.url.render(half, checks);
    let headers: Vec<(&str, &str)> = config
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let response = match config.method {
        Method::Get => http::get(&url, &headers),
        Method::Post => {
            let mut headers = headers;
            headers.push(("content-type", "application/json"));
            http::post(&url, &headers, &callback::body(half, checks))
        }
    };
    match response {
        Ok(response) => {
            let state = answer::state_of(&response, config.not_found);
            if state == TxState::Unknown {
                weir_sdk::log::debug(format!(
                    "http-tx-checker: {url} answered {} for transaction {}: unknown",
                    response.status, half.id
                ));
            }
            state
        }
        Err(error) => {
            weir_sdk::log::warn(format!(
                "http-tx-checker: asking {url} about transaction {} failed: {error}",
                half.id
            ));
            TxState::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::testing;

    fn half(id: &str) -> Message {
        Message {
            id: id.into(),
            topic: "orders".into(),
            keys: vec!["order-1".into()],
            body: b"{}".to_vec(),
            ..Message::default()
        }
    }

    #[test]
    fn a_get_maps_the_answer() {
        testing::reset();
        testing::on_http(|call| {
            Ok(match call.url.as_str() {
                "http://svc/tx/t1" => http::Response::new(200, "commit"),
                "http://svc/tx/t2" => http::Response::new(200, r#"{"state":"rollback"}"#),
                _ => http::Response::new(503, "busy"),
            })
        });
        let config = "http://svc/tx/{transaction}";
        assert_eq!(
            HttpTxChecker::check(config, &half("t1"), 0),
            TxState::Commit
        );
        assert_eq!(
            HttpTxChecker::check(config, &half("t2"), 0),
            TxState::Rollback
        );
        assert_eq!(
            HttpTxChecker::check(config, &half("t3"), 0),
            TxState::Unknown
        );
        assert!(
            testing::http_calls()
                .iter()
                .all(|call| call.method == "GET")
        );
    }

    #[test]
    fn a_post_sends_the_callback_body_and_headers() {
        testing::reset();
        testing::on_http(|call| {
            let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
            assert_eq!(body["transaction"], "t1");
            assert_eq!(body["checks"], 2);
            Ok(http::Response::new(200, r#"{"state":"commit"}"#))
        });
        let config = r#"{"url":"http://svc/check","method":"POST",
                         "headers":{"authorization":"Bearer s3cret"}}"#;
        assert_eq!(
            HttpTxChecker::check(config, &half("t1"), 2),
            TxState::Commit
        );
        let call = &testing::http_calls()[0];
        assert_eq!(call.method, "POST");
        assert!(
            call.headers
                .contains(&("authorization".into(), "Bearer s3cret".into()))
        );
        assert!(
            call.headers
                .contains(&("content-type".into(), "application/json".into()))
        );
    }

    #[test]
    fn failures_are_unknown_and_logged() {
        testing::reset();
        let config = "http://svc/tx/{transaction}";
        assert_eq!(
            HttpTxChecker::check(config, &half("t1"), 0),
            TxState::Unknown
        );
        assert_eq!(testing::logs().len(), 1);
        assert_eq!(
            HttpTxChecker::check("{bad", &half("t1"), 0),
            TxState::Unknown
        );
        assert_eq!(
            testing::http_calls().len(),
            1,
            "a bad config makes no request"
        );
    }
}
