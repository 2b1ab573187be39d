//! `forwarder`, a Weir consumer: publishes each message of its group, transformed, to
//! another topic, and acks it once the publish succeeded.
//!
//! * `config`: the binding's config (`config::Config`): the target topic and the
//!   transformations;
//! * `transform`: what happens to a message on its way (`transform::forward`).
//!
//! A failed publish is retried (after `retry_ms`, or the group's backoff), or, from the
//! delivery attempt `dead_letter_after` on, dead-lettered with the failure as its reason.
//! The rest of the batch after a failure is retried without being published: that keeps
//! the order of a FIFO group's messages and spares a target that is failing. A config
//! that does not parse retries every message with the group's backoff (and is logged
//! once per instance): fixing the binding lets them through, and after the group's
//! maximum attempts they are dead-lettered, not lost.

mod config;
mod transform;

use weir_sdk::{Consumer, Message, Outcome};

/// The forwarding consumer.
pub struct Forwarder;

impl Consumer for Forwarder {
    fn handle(config: &str, batch: Vec<Message>) -> Vec<Outcome> {
        let config = config::parsed(config);
        let Ok(config) = config.as_ref() else {
            return vec![Outcome::RETRY_WITH_BACKOFF; batch.len()];
        };
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut failed = false;
        for message in batch {
            if failed {
                outcomes.push(Outcome::Retry(config.retry_ms));
                continue;
            }
            let id = message.id.clone();
            let attempt = message.attempt;
            match weir_sdk::publish(transform::forward(config, message)) {
                Ok(_) => outcomes.push(Outcome::Ack),
                Err(error) if config.gives_up_on(attempt) => {
                    let reason = format!(
                        "forwarder: publishing {id} to {} failed on attempt {attempt}: {error}",
                        config.to
                    );
                    weir_sdk::log::warn(format!("{reason}; dead-lettering"));
                    failed = true;
                    outcomes.push(Outcome::DeadLetter(reason));
                }
                Err(error) => {
                    weir_sdk::log::warn(format!(
                        "forwarder: publishing {id} to {} failed: {error}; retrying",
                        config.to
                    ));
                    failed = true;
                    outcomes.push(Outcome::Retry(config.retry_ms));
                }
            }
        }
        outcomes
    }
}

weir_sdk::export_consumer!(Forwarder);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::log::Level;
    use weir_sdk::testing;

    fn message(id: &str, body: &str) -> Message {
        Message {
            id: id.into(),
            topic: "orders".into(),
            body: body.as_bytes().to_vec(),
            attempt: 1,
            ..Message::default()
        }
    }

    #[test]
    fn forwards_and_acks_every_message() {
        testing::reset();
        let batch = vec![message("a", "one"), message("b", "two")];
        let config = r#"{"to":"orders-eu","add_properties":{"region":"eu"},"uppercase":true}"#;
        assert_eq!(
            Forwarder::handle(config, batch),
            [Outcome::Ack, Outcome::Ack]
        );
        let published = testing::published();
        assert_eq!(published.len(), 2);
        assert_eq!(published[0].topic, "orders-eu");
        assert_eq!(published[0].body, b"ONE");
        assert_eq!(published[1].properties, [("region".into(), "eu".into())]);
    }

    #[test]
    fn a_bare_topic_is_a_config() {
        testing::reset();
        assert_eq!(
            Forwarder::handle("audit", vec![message("a", "x")]),
            [Outcome::Ack]
        );
        assert_eq!(testing::published()[0].topic, "audit");
    }

    #[test]
    fn a_failed_publish_retries_it_and_the_rest_of_the_batch() {
        testing::reset();
        testing::fail_publish(Some("topic orders-eu does not exist"));
        let batch = vec![message("a", "1"), message("b", "2")];
        let config = r#"{"to":"orders-eu","retry_ms":500}"#;
        assert_eq!(
            Forwarder::handle(config, batch),
            [Outcome::Retry(500), Outcome::Retry(500)]
        );
        let logs = testing::logs();
        assert_eq!(logs.len(), 1, "one attempt, one warning: {logs:?}");
    }

    #[test]
    fn a_failed_publish_before_dead_letter_after_retries() {
        testing::reset();
        testing::fail_publish(Some("topic orders-eu does not exist"));
        let batch = vec![Message {
            attempt: 2,
            ..message("a", "1")
        }];
        let config = r#"{"to":"orders-eu","retry_ms":500,"dead_letter_after":3}"#;
        assert_eq!(Forwarder::handle(config, batch), [Outcome::Retry(500)]);
        let logs = testing::logs();
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert!(logs[0].1.ends_with("; retrying"), "{logs:?}");
    }

    #[test]
    fn a_failed_publish_from_dead_letter_after_dead_letters_it_and_retries_the_rest() {
        testing::reset();
        testing::fail_publish(Some("topic orders-eu does not exist"));
        let config = r#"{"to":"orders-eu","retry_ms":500,"dead_letter_after":3}"#;
        for attempt in [3, 4] {
            let batch = vec![
                Message {
                    attempt,
                    ..message("a", "1")
                },
                message("b", "2"),
                Message {
                    attempt: 7,
                    ..message("c", "3")
                },
            ];
            let reason = format!(
                "forwarder: publishing a to orders-eu failed on attempt {attempt}: \
                 topic orders-eu does not exist"
            );
            assert_eq!(
                Forwarder::handle(config, batch),
                [
                    Outcome::DeadLetter(reason.clone()),
                    Outcome::Retry(500),
                    Outcome::Retry(500)
                ]
            );
            let logs = testing::logs();
            assert_eq!(
                logs.last(),
                Some(&(Level::Warn, format!("{reason}; dead-lettering")))
            );
        }
        assert_eq!(testing::logs().len(), 2, "one publish a batch");
        assert!(testing::published().is_empty());
    }

    #[test]
    fn dead_letter_after_leaves_successful_publishes_alone() {
        testing::reset();
        let batch = vec![Message {
            attempt: 9,
            ..message("a", "1")
        }];
        let config = r#"{"to":"orders-eu","dead_letter_after":1}"#;
        assert_eq!(Forwarder::handle(config, batch), [Outcome::Ack]);
        assert_eq!(testing::published().len(), 1);
        assert!(testing::logs().is_empty());
    }

    #[test]
    fn a_bad_config_retries_everything_with_the_group_backoff() {
        testing::reset();
        let batch = vec![message("a", "1"), message("b", "2")];
        let outcomes = Forwarder::handle(r#"{"too":"x"}"#, batch);
        assert_eq!(
            outcomes,
            [Outcome::RETRY_WITH_BACKOFF, Outcome::RETRY_WITH_BACKOFF]
        );
        assert!(testing::published().is_empty());
    }
}
