//! `weir group create|describe|list|delete|reset`: consumer group administration.

use std::fmt::Write as _;

use anyhow::bail;
use weir_client::{Group, GroupDescription, NewGroup, ResetRequest};
use weir_wire::group::{GroupList, OffsetList};

use super::Connection;
use super::failure::explain_group;
use super::lag::lag_table;
use super::output::{self, Align, Table};

/// Create, describe, list, delete and reset consumer groups.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum GroupCommand {
    /// Create a consumer group on a topic.
    Create(CreateArgs),
    /// Show a group's settings, members, backlog and counters.
    Describe {
        /// The group name.
        name: String,
        /// Show the backlog of this consumer instance (broadcasting groups).
        #[arg(long, value_name = "NAME")]
        consumer: Option<String>,
    },
    /// List the groups.
    List {
        /// Only the groups of this topic.
        #[arg(long, value_name = "TOPIC")]
        topic: Option<String>,
    },
    /// Delete a group with its progress and delivery state.
    Delete {
        /// The group name.
        name: String,
    },
    /// Move a group's offsets: replay from the start or a time, or skip the backlog.
    Reset(ResetArgs),
}

/// Who gets a message.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Each message goes to one member of the group.
    Clustering,
    /// Every consumer instance gets every message.
    Broadcasting,
}

/// Where a new group starts.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartFrom {
    /// Only messages sent from now on.
    Latest,
    /// Everything still stored.
    Earliest,
}

/// Create a consumer group on a topic.
#[derive(clap::Args, Debug)]
pub(crate) struct CreateArgs {
    /// The group name: 1–127 characters of A-Z a-z 0-9 _ -.
    name: String,
    /// The topic the group consumes.
    #[arg(long, value_name = "TOPIC")]
    topic: String,
    /// Who gets a message [broker default: clustering].
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Deliver messages of one message group one at a time, in order.
    #[arg(long)]
    fifo: bool,
    /// Deliveries before a message goes to the dead-letter queue [broker default: 16].
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
    /// How long a received message stays invisible to the group [broker default: 60000].
    #[arg(long, value_name = "MS")]
    invisible_ms: Option<u64>,
    /// The wait before each redelivery, by attempt, comma-separated; the last repeats
    /// [broker default: 10s 30s 1m 2m ... 2h].
    #[arg(long, value_name = "MS,MS,...", value_delimiter = ',')]
    backoff_ms: Vec<u64>,
    /// Deliver only messages with these tags: `*` or `a||b` [broker default: *].
    #[arg(long, value_name = "FILTER")]
    filter: Option<String>,
    /// Where consumption starts [broker default: latest].
    #[arg(long, value_enum)]
    from: Option<StartFrom>,
}

/// Where a reset moves the offsets.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetTo {
    /// The oldest stored message.
    Earliest,
    /// Past the newest message: skip the backlog.
    Latest,
    /// The first message stored at or after --timestamp-ms.
    Timestamp,
    /// --offset (usually with --queue).
    Offset,
}

/// Move a group's offsets.
#[derive(clap::Args, Debug)]
pub(crate) struct ResetArgs {
    /// The group name.
    name: String,
    /// Where to move the offsets.
    #[arg(long, value_enum)]
    to: ResetTo,
    /// With --to timestamp: ms since the Unix epoch.
    #[arg(long, value_name = "MS", required_if_eq("to", "timestamp"))]
    timestamp_ms: Option<i64>,
    /// With --to offset: the offset to deliver next.
    #[arg(long, value_name = "N", required_if_eq("to", "offset"))]
    offset: Option<u64>,
    /// Reset this queue only [default: all queues].
    #[arg(long, value_name = "Q")]
    queue: Option<u32>,
    /// Reset the progress of this consumer instance (broadcasting groups).
    #[arg(long, value_name = "NAME")]
    consumer: Option<String>,
}

/// Runs a `weir group` command.
pub(crate) async fn run(command: GroupCommand, connection: &Connection) -> anyhow::Result<()> {
    match command {
        GroupCommand::Create(args) => create(args, connection).await,
        GroupCommand::Describe { name, consumer } => {
            describe(&name, consumer.as_deref(), connection).await
        }
        GroupCommand::List { topic } => list(topic.as_deref(), connection).await,
        GroupCommand::Delete { name } => delete(&name, connection).await,
        GroupCommand::Reset(args) => reset(args, connection).await,
    }
}

impl CreateArgs {
    /// The group to ask the broker for.
    fn new_group(&self) -> NewGroup {
        NewGroup {
            name: self.name.clone(),
            topic: self.topic.clone(),
            mode: self.mode.map(|mode| match mode {
                Mode::Clustering => "clustering".to_owned(),
                Mode::Broadcasting => "broadcasting".to_owned(),
            }),
            fifo: self.fifo.then_some(true),
            max_attempts: self.max_attempts,
            invisible_ms: self.invisible_ms,
            backoff_ms: (!self.backoff_ms.is_empty()).then(|| self.backoff_ms.clone()),
            filter: self.filter.clone(),
            from: self.from.map(|from| match from {
                StartFrom::Latest => "latest".to_owned(),
                StartFrom::Earliest => "earliest".to_owned(),
            }),
        }
    }
}

impl ResetArgs {
    /// The reset to ask the broker for.
    fn request(&self) -> anyhow::Result<ResetRequest> {
        if self.timestamp_ms.is_some() && self.to != ResetTo::Timestamp {
            bail!("--timestamp-ms goes with --to timestamp only");
        }
        if self.offset.is_some() && self.to != ResetTo::Offset {
            bail!("--offset goes with --to offset only");
        }
        let mut request = match (self.to, self.timestamp_ms, self.offset) {
            (ResetTo::Earliest, ..) => ResetRequest::earliest(),
            (ResetTo::Latest, ..) => ResetRequest::latest(),
            (ResetTo::Timestamp, Some(ms), _) => ResetRequest::timestamp(ms),
            (ResetTo::Offset, _, Some(offset)) => ResetRequest::offset(offset),
            (ResetTo::Timestamp, None, _) => bail!("--to timestamp needs --timestamp-ms"),
            (ResetTo::Offset, _, None) => bail!("--to offset needs --offset"),
        };
        request.queue = self.queue;
        request.consumer = self.consumer.clone();
        Ok(request)
    }
}

async fn create(args: CreateArgs, connection: &Connection) -> anyhow::Result<()> {
    let name = &args.name;
    let group = connection
        .client()?
        .create_group(&args.new_group())
        .await
        .map_err(|err| explain_group(err, format!("cannot create group '{name}'"), name))?;
    if connection.json {
        return output::print_json(&group);
    }
    let fifo = if group.fifo { ", FIFO" } else { "" };
    output::print(&format!(
        "created group '{}' on topic '{}' ({}{fifo}, from {})\n",
        group.name, group.topic, group.mode, group.from
    ))
}

async fn describe(
    name: &str,
    consumer: Option<&str>,
    connection: &Connection,
) -> anyhow::Result<()> {
    let description = connection
        .client()?
        .describe_group_for(name, consumer)
        .await
        .map_err(|err| explain_group(err, format!("cannot describe group '{name}'"), name))?;
    if connection.json {
        return output::print_json(&description);
    }
    output::print(&render_description(&description))
}

/// `weir group describe` as text: settings, state, then the backlog per queue.
fn render_description(description: &GroupDescription) -> String {
    let group = &description.group;
    let backoff: Vec<String> = group
        .backoff_ms
        .iter()
        .map(|&ms| output::duration_ms(ms))
        .collect();
    let mut rows: Vec<(&str, String)> = vec![
        ("group", group.name.clone()),
        ("topic", group.topic.clone()),
        ("mode", group.mode.clone()),
        ("fifo", yes_no(group.fifo).to_owned()),
        ("max attempts", group.max_attempts.to_string()),
        ("invisible", output::duration_ms(group.invisible_ms)),
        ("backoff", backoff.join(", ")),
        ("filter", group.filter.clone()),
        ("from", group.from.clone()),
        ("created", output::utc_time(group.created_ms)),
    ];
    if group.mode == "broadcasting" || !description.members.is_empty() {
        let members = if description.members.is_empty() {
            "none yet".to_owned()
        } else {
            description.members.join(", ")
        };
        rows.push(("members", members));
    }
    rows.push((
        "lag",
        format!(
            "{} (oldest {})",
            description.lag.total,
            age(description.lag.oldest_age_ms)
        ),
    ));
    rows.push(("dead letters", description.dead_letters.to_string()));
    let counters = &description.counters;
    rows.push((
        "counters",
        format!(
            "delivered {}, redelivered {}, acked {}, nacked {}, dead-lettered {}",
            counters.delivered,
            counters.redelivered,
            counters.acked,
            counters.nacked,
            counters.dead_lettered
        ),
    ));
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let mut text = String::new();
    for (label, value) in rows {
        let _ = writeln!(text, "{label:<width$}  {value}");
    }
    text.push('\n');
    text.push_str(&lag_table(&description.lag));
    text
}

async fn list(topic: Option<&str>, connection: &Connection) -> anyhow::Result<()> {
    let groups = connection
        .client()?
        .list_groups(topic)
        .await
        .map_err(|err| super::failure::explain(err, "cannot list groups".to_owned(), topic))?;
    let hint = match topic {
        Some(topic) => format!(
            "topic '{topic}' has no groups; create one with `weir group create NAME --topic {topic}`"
        ),
        None => "no groups; create one with `weir group create NAME --topic TOPIC`".to_owned(),
    };
    output::print_list(
        connection.json,
        &GroupList { groups },
        |list| &list.groups,
        &hint,
        group_table,
    )
}

fn group_table(groups: &[Group]) -> String {
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("TOPIC", Align::Left),
        ("MODE", Align::Left),
        ("FIFO", Align::Left),
        ("MAX ATTEMPTS", Align::Right),
        ("FILTER", Align::Left),
        ("CREATED", Align::Left),
    ]);
    for group in groups {
        table.row(vec![
            group.name.clone(),
            group.topic.clone(),
            group.mode.clone(),
            yes_no(group.fifo).to_owned(),
            group.max_attempts.to_string(),
            group.filter.clone(),
            output::utc_time(group.created_ms),
        ]);
    }
    table.render()
}

async fn delete(name: &str, connection: &Connection) -> anyhow::Result<()> {
    connection
        .client()?
        .delete_group(name)
        .await
        .map_err(|err| explain_group(err, format!("cannot delete group '{name}'"), name))?;
    output::print_deleted(connection.json, "group", name)
}

async fn reset(args: ResetArgs, connection: &Connection) -> anyhow::Result<()> {
    let request = args.request()?;
    let name = &args.name;
    let offsets = connection
        .client()?
        .reset_group(name, &request)
        .await
        .map_err(|err| explain_group(err, format!("cannot reset group '{name}'"), name))?;
    if connection.json {
        return output::print_json(&OffsetList { queues: offsets });
    }
    let target = match (args.to, request.timestamp_ms, request.offset) {
        (ResetTo::Timestamp, Some(ms), _) => format!(
            "the first message stored from {} on",
            output::utc_timestamp(u64::try_from(ms).unwrap_or(0))
        ),
        (ResetTo::Offset, _, Some(offset)) => format!("offset {offset}"),
        (ResetTo::Earliest, ..) => "earliest".to_owned(),
        _ => "latest".to_owned(),
    };
    let mut text = format!("reset group '{name}' to {target}\n");
    let mut table = Table::new(&[("QUEUE", Align::Right), ("COMMITTED", Align::Right)]);
    for offset in &offsets {
        table.row(vec![offset.queue.to_string(), offset.committed.to_string()]);
    }
    text.push_str(&table.render());
    output::print(&text)
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// An age in ms as text; `-` for none.
pub(crate) fn age(ms: i64) -> String {
    match u64::try_from(ms) {
        Ok(0) | Err(_) => "-".to_owned(),
        Ok(ms) => output::duration_ms(ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: GroupCommand,
    }

    fn parse(args: &[&str]) -> Result<GroupCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("group").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    #[test]
    fn create_flags_become_the_request() {
        let GroupCommand::Create(args) = parse(&[
            "create",
            "billing",
            "--topic",
            "orders",
            "--mode",
            "broadcasting",
            "--fifo",
            "--max-attempts",
            "3",
            "--invisible-ms",
            "5000",
            "--backoff-ms",
            "1000,2000,4000",
            "--filter",
            "a||b",
            "--from",
            "earliest",
        ])
        .unwrap() else {
            panic!("expected create");
        };
        let group = args.new_group();
        assert_eq!(
            group,
            NewGroup::new("billing", "orders")
                .mode("broadcasting")
                .fifo(true)
                .max_attempts(3)
                .invisible_ms(5000)
                .backoff_ms(vec![1000, 2000, 4000])
                .filter("a||b")
                .from("earliest")
        );
    }

    #[test]
    fn create_leaves_unset_flags_to_the_broker() {
        let GroupCommand::Create(args) = parse(&["create", "g", "--topic", "t"]).unwrap() else {
            panic!("expected create");
        };
        assert_eq!(args.new_group(), NewGroup::new("g", "t"));
        assert!(parse(&["create", "g"]).is_err(), "--topic is required");
        assert!(parse(&["create", "g", "--topic", "t", "--mode", "fanout"]).is_err());
        assert!(parse(&["create", "g", "--topic", "t", "--backoff-ms", "1,x"]).is_err());
    }

    fn reset_request(args: &[&str]) -> anyhow::Result<ResetRequest> {
        let mut all = vec!["reset", "g"];
        all.extend_from_slice(args);
        match parse(&all)? {
            GroupCommand::Reset(args) => args.request(),
            _ => panic!("expected reset"),
        }
    }

    #[test]
    fn reset_flags_become_the_request() {
        assert_eq!(
            reset_request(&["--to", "earliest"]).unwrap(),
            ResetRequest::earliest()
        );
        assert_eq!(
            reset_request(&["--to", "timestamp", "--timestamp-ms", "1700000000000"]).unwrap(),
            ResetRequest::timestamp(1_700_000_000_000)
        );
        assert_eq!(
            reset_request(&["--to", "offset", "--offset", "7", "--queue", "2"]).unwrap(),
            ResetRequest::offset(7).queue(2)
        );
        assert_eq!(
            reset_request(&["--to", "latest", "--consumer", "c1"]).unwrap(),
            ResetRequest::latest().consumer("c1")
        );
    }

    #[test]
    fn reset_refuses_mismatched_flags() {
        assert!(reset_request(&["--to", "timestamp"]).is_err());
        assert!(reset_request(&["--to", "offset"]).is_err());
        let err = reset_request(&["--to", "earliest", "--offset", "3"]).unwrap_err();
        assert_eq!(err.to_string(), "--offset goes with --to offset only");
        assert!(reset_request(&["--to", "latest", "--timestamp-ms", "3"]).is_err());
        assert!(reset_request(&[]).is_err(), "--to is required");
    }

    fn description() -> GroupDescription {
        serde_json::from_value(serde_json::json!({
            "name": "billing", "topic": "orders", "mode": "clustering", "fifo": true,
            "max_attempts": 16, "invisible_ms": 60000, "backoff_ms": [10000, 30000, 60000],
            "filter": "*", "from": "latest", "created_ms": 0, "members": [],
            "lag": {"group": "billing", "total": 7, "oldest_age_ms": 1500, "queues": [
                {"queue": 0, "retry": false, "committed": 3, "max_offset": 10, "lag": 7,
                 "in_flight": 2, "oldest_age_ms": 1500},
                {"queue": 0, "retry": true, "committed": 0, "max_offset": 0, "lag": 0,
                 "in_flight": 0, "oldest_age_ms": 0}]},
            "counters": {"delivered": 5, "redelivered": 1, "acked": 3, "nacked": 1,
                         "dead_lettered": 0},
            "dead_letters": 2
        }))
        .unwrap()
    }

    #[test]
    fn description_renders_settings_then_backlog() {
        let text = render_description(&description());
        let expected = "\
group         billing
topic         orders
mode          clustering
fifo          yes
max attempts  16
invisible     1 min
backoff       10 s, 30 s, 1 min
filter        *
from          latest
created       1970-01-01T00:00:00.000Z
lag           7 (oldest 1.5 s)
dead letters  2
counters      delivered 5, redelivered 1, acked 3, nacked 1, dead-lettered 0

QUEUE  COMMITTED  MAX OFFSET  LAG  IN FLIGHT  OLDEST
    0          3          10    7          2   1.5 s
retry          0           0    0          0       -
";
        assert_eq!(text, expected);
    }

    #[test]
    fn list_renders_one_row_per_group() {
        let group = description().group;
        let text = group_table(&[group]);
        assert_eq!(
            text,
            "NAME     TOPIC   MODE        FIFO  MAX ATTEMPTS  FILTER  CREATED\n\
             billing  orders  clustering  yes             16  *       1970-01-01T00:00:00.000Z\n"
        );
    }
}
