//! `forwarder`, a Weir consumer: publishes each message of its group, transformed, to
//! another topic, and acks it once the publish succeeded.
//!
//! * `config`: the binding's config (`config::Config`): the target topic and the
//!   transformations;
//! * `transform`: what happens to a message on its way (`transform::forward`).
//!
//! A failed publish is retried (after `retry_ms`, or the group's backoff). The rest of the
//! batch after a failure is retried without being published: that keeps the order of a
//! FIFO group's messages and spares a target that is failing. A config that does not
//! parse retries every message with the group's backoff (and is logged once per
//! instance): fixing the binding lets them through, and after the group's maximum
//! attempts they are dead-lettered, not lost.

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
            match weir_sdk::publish(transform::forward(config, message)) {
                Ok(_) => outcomes.push(Outcome::Ack),
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
    use weir_sdk::testing;

    fn message(id: &str, body: &str) -> Message {
        Message {
            id: id.into(),
            topic: "orders".into(),
            body: body.as_bytes().to_vec(),
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
