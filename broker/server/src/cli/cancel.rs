//! `weir cancel ID`: cancel a delayed message that is not yet due.

use weir_client::Cancelled;

use super::Connection;
use super::failure::explain_id;
use super::output;

/// Cancel a delayed message that is not yet due: it will never be delivered.
#[derive(clap::Args, Debug)]
pub(crate) struct CancelArgs {
    /// The id of the delayed message.
    id: String,
}

/// Runs `weir cancel`.
pub(crate) async fn run(args: CancelArgs, connection: &Connection) -> anyhow::Result<()> {
    let id = &args.id;
    let cancelled = connection
        .client()?
        .cancel(id)
        .await
        .map_err(|err| explain_id(err, format!("cannot cancel message '{id}'"), id))?;
    if connection.json {
        return output::print_json(&cancelled);
    }
    output::print(&cancelled_line(&cancelled))
}

fn cancelled_line(cancelled: &Cancelled) -> String {
    format!(
        "cancelled id={} topic={} (was due {})\n",
        cancelled.id,
        cancelled.topic,
        output::utc_time(cancelled.deliver_at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_line_names_the_due_time() {
        let cancelled: Cancelled = serde_json::from_str(
            r#"{"id":"m","topic":"t","deliver_at":1764000000001,"state":"cancelled"}"#,
        )
        .unwrap();
        assert_eq!(
            cancelled_line(&cancelled),
            "cancelled id=m topic=t (was due 2025-11-24T16:00:00.001Z)\n"
        );
    }
}
