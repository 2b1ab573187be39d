//! What the benches share before and around a run: making sure the topic and group
//! exist, waiting for Ctrl-C, and reading durations given in seconds.

use std::time::Duration;

use weir_client::{Client, NewGroup, codes};

use crate::cli::failure::{explain, explain_group};

/// Creates the topic unless it exists.
pub(super) async fn ensure_topic(client: &Client, topic: &str, queues: u32) -> anyhow::Result<()> {
    match client.describe_topic(topic).await {
        Ok(_) => return Ok(()),
        Err(err) if err.code() == Some(codes::TOPIC_NOT_FOUND) => {}
        Err(err) => {
            return Err(explain(
                err,
                format!("cannot look up topic '{topic}'"),
                Some(topic),
            ));
        }
    }
    match client.create_topic(topic, Some(queues)).await {
        // Another bench may have created it meanwhile.
        Err(err) if err.code() != Some(codes::TOPIC_EXISTS) => Err(explain(
            err,
            format!("cannot create topic '{topic}'"),
            Some(topic),
        )),
        _ => Ok(()),
    }
}

/// Creates the group on `topic` unless it exists, starting from `from` (`earliest` or
/// `latest`); refuses a group of that name on another topic.
pub(super) async fn ensure_group(
    client: &Client,
    group: &str,
    topic: &str,
    from: &str,
) -> anyhow::Result<()> {
    match client.describe_group(group).await {
        Ok(existing) if existing.topic == topic => return Ok(()),
        Ok(existing) => anyhow::bail!(
            "group '{group}' consumes topic '{}', not '{topic}'; choose another --group",
            existing.topic
        ),
        Err(err) if err.code() == Some(codes::GROUP_NOT_FOUND) => {}
        Err(err) => {
            return Err(explain_group(
                err,
                format!("cannot look up group '{group}'"),
                group,
            ));
        }
    }
    match client
        .create_group(&NewGroup::new(group, topic).from(from))
        .await
    {
        Err(err) if err.code() != Some(codes::GROUP_EXISTS) => Err(explain_group(
            err,
            format!("cannot create group '{group}'"),
            group,
        )),
        _ => Ok(()),
    }
}

/// Resolves on Ctrl-C; never, when the signal cannot be listened for.
pub(super) async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// `secs` as a duration; an error naming `flag` when it is negative or not a number.
pub(super) fn seconds(flag: &str, secs: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| anyhow::anyhow!("{flag} must be a number of seconds ≥ 0, not {secs}"))
}
