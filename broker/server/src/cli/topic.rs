//! `weir topic create|list|describe|delete|add-queues`: topic administration.

use std::str::FromStr;

use anyhow::bail;
use weir_client::Topic;
use weir_wire::topic::TopicList;

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
    },
    /// List all topics.
    List,
    /// Show a topic's queues and their offset ranges.
    Describe {
        /// The topic name.
        name: String,
    },
    /// Delete a topic.
    Delete {
        /// The topic name.
        name: String,
    },
    /// Grow a topic to more queues (queues are never removed).
    AddQueues {
        /// The topic name.
        name: String,
        /// The new total number of queues, or `+N` to add N to the current count.
        #[arg(value_name = "N|+N", allow_hyphen_values = false)]
        queues: QueueCount,
    },
}

/// The queue count `weir topic add-queues` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueCount {
    /// This many queues in all.
    Total(u32),
    /// This many more than the topic has.
    More(u32),
}

impl FromStr for QueueCount {
    type Err = String;

    fn from_str(text: &str) -> Result<QueueCount, String> {
        let (more, digits) = match text.strip_prefix('+') {
            Some(digits) => (true, digits),
            None => (false, text),
        };
        let count: u32 = digits
            .parse()
            .map_err(|_| format!("'{text}' is not a queue count (N or +N)"))?;
        if count == 0 {
            return Err("the queue count must be at least 1".to_owned());
        }
        Ok(if more {
            QueueCount::More(count)
        } else {
            QueueCount::Total(count)
        })
    }
}

/// Runs a `weir topic` command.
pub(crate) async fn run(command: TopicCommand, connection: &Connection) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create { name, queues } => create(&name, queues, connection).await,
        TopicCommand::List => list(connection).await,
        TopicCommand::Describe { name } => describe(&name, connection).await,
        TopicCommand::Delete { name } => delete(&name, connection).await,
        TopicCommand::AddQueues { name, queues } => add_queues(&name, queues, connection).await,
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
    output::print_list(
        connection.json,
        &TopicList { topics },
        |list| &list.topics,
        "no topics; create one with `weir topic create NAME`",
        topic_table,
    )
}

fn topic_table(topics: &[Topic]) -> String {
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("QUEUES", Align::Right),
        ("CREATED", Align::Left),
    ]);
    for topic in topics {
        table.row(vec![
            topic.name.clone(),
            topic.queues.to_string(),
            output::utc_time(topic.created_ms),
        ]);
    }
    table.render()
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
        output::utc_time(description.created_ms),
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
    output::print_deleted(connection.json, "topic", name)
}

async fn add_queues(name: &str, count: QueueCount, connection: &Connection) -> anyhow::Result<()> {
    let client = connection.client()?;
    let explain_add = |err| {
        explain(
            err,
            format!("cannot add queues to topic '{name}'"),
            Some(name),
        )
    };
    let before = client
        .describe_topic(name)
        .await
        .map_err(|err| explain(err, format!("cannot describe topic '{name}'"), Some(name)))?
        .queues;
    let total = match count {
        QueueCount::Total(total) => total,
        QueueCount::More(more) => match before.checked_add(more) {
            Some(total) => total,
            None => bail!("topic '{name}' has {before} queues; {more} more is too many"),
        },
    };
    let topic = client.add_queues(name, total).await.map_err(explain_add)?;
    if connection.json {
        return output::print_json(&topic);
    }
    let plural = if topic.queues == 1 { "" } else { "s" };
    output::print(&format!(
        "topic '{}' now has {} queue{plural} (was {before})\n",
        topic.name, topic.queues
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_count_is_a_total_or_an_increment() {
        assert_eq!("8".parse(), Ok(QueueCount::Total(8)));
        assert_eq!("+2".parse(), Ok(QueueCount::More(2)));
        assert!("0".parse::<QueueCount>().is_err());
        assert!("+0".parse::<QueueCount>().is_err());
        assert!("-1".parse::<QueueCount>().is_err());
        assert!("x".parse::<QueueCount>().is_err());
    }
}
