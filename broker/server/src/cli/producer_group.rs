//! `weir producer-group put|describe|list|delete`: producer group administration (who
//! the broker asks about undecided transactions, and where).

use weir_client::ProducerGroup;
use weir_wire::transaction::ProducerGroupList;

use super::Connection;
use super::failure::explain;
use super::output::{self, Align, Table};

/// Create or replace, describe, list and delete producer groups.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ProducerGroupCommand {
    /// Create or replace a producer group.
    Put {
        /// The group name: 1–127 characters of A-Z a-z 0-9 _ -.
        name: String,
        /// POST check-backs to this http:// URL, which answers
        /// {"state":"commit"|"rollback"|"unknown"} [default: none; producers answer with
        /// `weir tx checks`].
        #[arg(long, value_name = "URL")]
        callback_url: Option<String>,
    },
    /// Show a producer group.
    Describe {
        /// The group name.
        name: String,
    },
    /// List the producer groups.
    List,
    /// Delete a producer group; its transactions stay and can still be decided.
    Delete {
        /// The group name.
        name: String,
    },
}

/// Runs a `weir producer-group` command.
pub(crate) async fn run(
    command: ProducerGroupCommand,
    connection: &Connection,
) -> anyhow::Result<()> {
    match command {
        ProducerGroupCommand::Put { name, callback_url } => {
            let group = connection
                .client()?
                .put_producer_group(&name, callback_url.as_deref())
                .await
                .map_err(|err| {
                    explain(err, format!("cannot save producer group '{name}'"), None)
                })?;
            if connection.json {
                return output::print_json(&group);
            }
            output::print(&saved_line(&group))
        }
        ProducerGroupCommand::Describe { name } => {
            let group = connection
                .client()?
                .producer_group(&name)
                .await
                .map_err(|err| {
                    explain(
                        err,
                        format!("cannot describe producer group '{name}'"),
                        None,
                    )
                })?;
            if connection.json {
                return output::print_json(&group);
            }
            output::print(&table(std::slice::from_ref(&group)))
        }
        ProducerGroupCommand::List => {
            let groups = connection
                .client()?
                .producer_groups()
                .await
                .map_err(|err| explain(err, "cannot list the producer groups".to_owned(), None))?;
            output::print_list(
                connection.json,
                &ProducerGroupList {
                    producer_groups: groups,
                },
                |list| &list.producer_groups,
                "no producer group; create one with `weir producer-group put NAME`",
                table,
            )
        }
        ProducerGroupCommand::Delete { name } => {
            connection
                .client()?
                .delete_producer_group(&name)
                .await
                .map_err(|err| {
                    explain(err, format!("cannot delete producer group '{name}'"), None)
                })?;
            output::print_deleted(connection.json, "producer group", &name)
        }
    }
}

/// What `put` did, and how check-backs will reach the producers.
fn saved_line(group: &ProducerGroup) -> String {
    match &group.callback_url {
        Some(url) => format!(
            "saved producer group '{}': check-backs are POSTed to {url}\n",
            group.name
        ),
        None => format!(
            "saved producer group '{name}': no callback URL, producers answer check-backs \
             polled with `weir tx checks --producer-group {name}`\n",
            name = group.name
        ),
    }
}

fn table(groups: &[ProducerGroup]) -> String {
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("CALLBACK URL", Align::Left),
        ("CREATED", Align::Left),
    ]);
    for group in groups {
        table.row(vec![
            group.name.clone(),
            group.callback_url.clone().unwrap_or_else(|| "-".to_owned()),
            output::utc_time(group.created_ms),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, url: Option<&str>) -> ProducerGroup {
        ProducerGroup {
            name: name.into(),
            callback_url: url.map(Into::into),
            created_ms: 1_764_000_000_000,
        }
    }

    #[test]
    fn table_lists_name_callback_and_creation() {
        let groups = [
            group("shop", Some("http://127.0.0.1:9000/check")),
            group("b", None),
        ];
        assert_eq!(
            table(&groups),
            "NAME  CALLBACK URL                 CREATED\n\
             shop  http://127.0.0.1:9000/check  2025-11-24T16:00:00.000Z\n\
             b     -                            2025-11-24T16:00:00.000Z\n"
        );
    }

    #[test]
    fn saved_line_says_how_checks_arrive() {
        assert!(saved_line(&group("a", Some("http://x/c"))).contains("POSTed to http://x/c"));
        assert!(saved_line(&group("a", None)).contains("`weir tx checks --producer-group a`"));
    }
}
