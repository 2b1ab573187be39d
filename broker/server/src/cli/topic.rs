//! `weir topic create|list|describe|delete`: topic administration.

use serde::Serialize;
use weir_client::Topic;

use super::Connection;
use super::failure::explain;
use super::output::{self, Align, Table};

/// Create, list, describe and delete topics.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum TopicCommand {
    /// Create a topic.
    Create {
        /// The topic name: 1–127 characters of A-Z a-z 0-9 _ -.
        name: String,
        /// How many queues (1–1024) [broker default: 8].
        #[arg(long, value_name = "N")]
        queues: Option<u32>,
        #[command(flatten)]
        connection: Connection,
    },
    /// List all topics.
    List {
        #[command(flatten)]
        connection: Connection,
    },
    /// Show a topic's queues and their offset ranges.
    Describe {
        /// The topic name.
        name: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Delete a topic.
    Delete {
        /// The topic name.
        name: String,
        #[command(flatten)]
        connection: Connection,
    },
}

/// `--json` output of `weir topic list`, in the shape of `GET /v1/topics`.
#[derive(Serialize)]
struct TopicList<'a> {
    topics: &'a [Topic],
}

/// `--json` output of `weir topic delete`.
#[derive(Serialize)]
struct Deleted<'a> {
    deleted: &'a str,
}

/// Runs a `weir topic` command.
pub(crate) async fn run(command: TopicCommand) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create {
            name,
            queues,
            connection,
        } => create(&name, queues, &connection).await,
        TopicCommand::List { connection } => list(&connection).await,
        TopicCommand::Describe { name, connection } => describe(&name, &connection).await,
        TopicCommand::Delete { name, connection } => delete(&name, &connection).await,
    }
}

async fn create(name: &str, queues: Option<u32>, connection: &Connection) -> anyhow::Result<()> {
    let topic = connection
        .client()?
        .create_topic(name, queues)
        .await
        .map_err(|err| explain(err, format!("cannot create topic '{name}'"), Some(name)))?;
    if connection.json {
        return output::print_json(&topic);
    }
    let plural = if topic.queues == 1 { "" } else { "s" };
    output::print(&format!(
        "created topic '{}' with {} queue{plural}\n",
        topic.name, topic.queues
    ))
}

async fn list(connection: &Connection) -> anyhow::Result<()> {
    let topics = connection
        .client()?
        .list_topics()
        .await
        .map_err(|err| explain(err, "cannot list topics".to_owned(), None))?;
    if connection.json {
        return output::print_json(&TopicList { topics: &topics });
    }
    if topics.is_empty() {
        eprintln!("no topics; create one with `weir topic create NAME`");
        return Ok(());
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("QUEUES", Align::Right),
        ("CREATED", Align::Left),
    ]);
    for topic in &topics {
        table.row(vec![
            topic.name.clone(),
            topic.queues.to_string(),
            output::utc_timestamp(topic.created_ms),
        ]);
    }
    output::print(&table.render())
}

async fn describe(name: &str, connection: &Connection) -> anyhow::Result<()> {
    let description = connection
        .client()?
        .describe_topic(name)
        .await
        .map_err(|err| explain(err, format!("cannot describe topic '{name}'"), Some(name)))?;
    if connection.json {
        return output::print_json(&description);
    }
    let mut text = format!(
        "topic     {}\nqueues    {}\ncreated   {}\nmessages  {}\n\n",
        description.name,
        description.queues,
        output::utc_timestamp(description.created_ms),
        description.messages,
    );
    let mut table = Table::new(&[
        ("QUEUE", Align::Right),
        ("MIN OFFSET", Align::Right),
        ("MAX OFFSET", Align::Right),
        ("MESSAGES", Align::Right),
    ]);
    for queue in &description.queue_offsets {
        table.row(vec![
            queue.queue.to_string(),
            queue.min_offset.to_string(),
            queue.max_offset.to_string(),
            queue.messages().to_string(),
        ]);
    }
    text.push_str(&table.render());
    output::print(&text)
}

async fn delete(name: &str, connection: &Connection) -> anyhow::Result<()> {
    connection
        .client()?
        .delete_topic(name)
        .await
        .map_err(|err| explain(err, format!("cannot delete topic '{name}'"), Some(name)))?;
    if connection.json {
        return output::print_json(&Deleted { deleted: name });
    }
    output::print(&format!("deleted topic '{name}'\n"))
}
