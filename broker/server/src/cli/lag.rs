//! `weir lag GROUP`: a group's backlog per queue, and the backlog table `weir group
//! describe` shows too.

use weir_client::Lag;

use super::Connection;
use super::failure::explain_group;
use super::group::age;
use super::output::{self, Align, Table};

/// Show a group's backlog per queue.
#[derive(clap::Args, Debug)]
pub(crate) struct LagArgs {
    /// The group name.
    group: String,
    /// The backlog of this consumer instance (broadcasting groups).
    #[arg(long, value_name = "NAME")]
    consumer: Option<String>,
}

/// Runs `weir lag`.
pub(crate) async fn run(args: LagArgs, connection: &Connection) -> anyhow::Result<()> {
    let group = &args.group;
    let lag = connection
        .client()?
        .lag(group, args.consumer.as_deref())
        .await
        .map_err(|err| {
            explain_group(err, format!("cannot get the lag of group '{group}'"), group)
        })?;
    if connection.json {
        return output::print_json(&lag);
    }
    output::print(&render(&lag))
}

/// The summary line, then the table.
fn render(lag: &Lag) -> String {
    let plural = if lag.total == 1 { "" } else { "s" };
    let mut text = format!(
        "group '{}': {} message{plural} behind, oldest {}\n\n",
        lag.group,
        lag.total,
        age(lag.oldest_age_ms)
    );
    text.push_str(&lag_table(lag));
    text
}

/// The backlog per queue; the group's retry queue shows as `retry`.
pub(crate) fn lag_table(lag: &Lag) -> String {
    let mut table = Table::new(&[
        ("QUEUE", Align::Right),
        ("COMMITTED", Align::Right),
        ("MAX OFFSET", Align::Right),
        ("LAG", Align::Right),
        ("IN FLIGHT", Align::Right),
        ("OLDEST", Align::Right),
    ]);
    for queue in &lag.queues {
        let name = if queue.retry {
            "retry".to_owned()
        } else {
            queue.queue.to_string()
        };
        table.row(vec![
            name,
            queue.committed.to_string(),
            queue.max_offset.to_string(),
            queue.lag.to_string(),
            queue.in_flight.to_string(),
            age(queue.oldest_age_ms),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_renders_a_summary_and_a_table() {
        let lag: Lag = serde_json::from_str(
            r#"{"group":"g","total":1,"oldest_age_ms":250,"queues":[
                {"queue":0,"retry":false,"committed":4,"max_offset":5,"lag":1,"in_flight":0,
                 "oldest_age_ms":250}]}"#,
        )
        .unwrap();
        assert_eq!(
            render(&lag),
            "group 'g': 1 message behind, oldest 250 ms\n\n\
             QUEUE  COMMITTED  MAX OFFSET  LAG  IN FLIGHT  OLDEST\n\
             \x20   0          4           5    1          0  250 ms\n"
        );
    }
}
