//! `weir tx commit|rollback|resume|pending|checks`: decide transactions, list the
//! undecided ones, and answer check-backs by hand.
//!
//! `weir tx checks` takes the check-backs waiting for a producer group, as a producer
//! would: the broker hands each out once, and asks again at its next check interval if
//! no decision follows.

use std::fmt::Write as _;
use std::time::Duration;

use weir_client::{Check, Transaction, TransactionOutcome, TransactionState};
use weir_wire::transaction::{CheckList, TransactionList};

use super::Connection;
use super::failure::{explain, explain_id};
use super::group::age;
use super::output::{self, Align, Table};
use super::times;

/// The broker's limit on a check-back poll's wait.
const MAX_WAIT_MS: u64 = 30_000;
/// Margin of the request timeout over the wait, for the answer to travel.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(10);

/// Decide transactions, list the undecided ones, and answer check-backs.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum TxCommand {
    /// Commit a transaction: its message is delivered to its topic.
    Commit(Decide),
    /// Roll a transaction back: its message is discarded.
    Rollback(Decide),
    /// Start the check-backs of an undecided (typically parked) transaction again.
    Resume(Decide),
    /// List the undecided transactions, oldest first.
    Pending {
        /// At most this many (1–1000) [broker default: 100].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        max: Option<u32>,
    },
    /// Take the check-backs waiting for a producer group and print them; decide each
    /// with `weir tx commit` or `weir tx rollback`.
    Checks {
        /// The producer group asked.
        #[arg(long, value_name = "NAME")]
        producer_group: String,
        /// Wait up to this long for a first check-back (at most 30000).
        #[arg(long, value_name = "MS", default_value_t = 0,
              value_parser = clap::value_parser!(u64).range(0..=30_000))]
        wait_ms: u64,
        /// At most this many (1–1000) [broker default: 32].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        max: Option<u32>,
    },
}

/// The transaction a decision is about.
#[derive(clap::Args, Debug)]
pub(crate) struct Decide {
    /// The transaction id (printed by `weir send --transaction`).
    transaction: String,
}

/// Runs a `weir tx` command.
pub(crate) async fn run(command: TxCommand, connection: &Connection) -> anyhow::Result<()> {
    match command {
        TxCommand::Commit(args) => decide(args, Decision::Commit, connection).await,
        TxCommand::Rollback(args) => decide(args, Decision::Rollback, connection).await,
        TxCommand::Resume(args) => decide(args, Decision::Resume, connection).await,
        TxCommand::Pending { max } => pending(max, connection).await,
        TxCommand::Checks {
            producer_group,
            wait_ms,
            max,
        } => checks(&producer_group, wait_ms, max, connection).await,
    }
}

/// What `weir tx commit|rollback|resume` asks of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Commit,
    Rollback,
    Resume,
}

async fn decide(args: Decide, decision: Decision, connection: &Connection) -> anyhow::Result<()> {
    let client = connection.client()?;
    let tx = &args.transaction;
    let (outcome, verb) = match decision {
        Decision::Commit => (client.commit(tx).await, "commit"),
        Decision::Rollback => (client.rollback(tx).await, "roll back"),
        Decision::Resume => (client.resume_transaction(tx).await, "resume"),
    };
    let outcome =
        outcome.map_err(|err| explain_id(err, format!("cannot {verb} transaction '{tx}'"), tx))?;
    if connection.json {
        return output::print_json(&outcome);
    }
    output::print(&outcome_line(&outcome))
}

fn outcome_line(outcome: &TransactionOutcome) -> String {
    let tx = &outcome.transaction;
    match outcome.state {
        TransactionState::Committed => format!("committed transaction {tx}\n"),
        TransactionState::RolledBack => format!("rolled back transaction {tx}\n"),
        TransactionState::Resumed => format!("resumed the check-backs of transaction {tx}\n"),
        TransactionState::Unknown => {
            format!("transaction {tx}: the broker reported a state this client does not know\n")
        }
    }
}

async fn pending(max: Option<u32>, connection: &Connection) -> anyhow::Result<()> {
    let transactions = connection
        .client()?
        .transactions(max)
        .await
        .map_err(|err| explain(err, "cannot list the transactions".to_owned(), None))?;
    output::print_list(
        connection.json,
        &TransactionList { transactions },
        |list| &list.transactions,
        "no undecided transaction",
        |transactions| pending_table(transactions, times::now_ms()),
    )
}

/// One row per undecided transaction; the age counts from the half send to `now`.
fn pending_table(transactions: &[Transaction], now: i64) -> String {
    let mut table = Table::new(&[
        ("TRANSACTION", Align::Left),
        ("TOPIC", Align::Left),
        ("PRODUCER GROUP", Align::Left),
        ("CHECKS", Align::Right),
        ("PARKED", Align::Left),
        ("AGE", Align::Right),
    ]);
    for tx in transactions {
        table.row(vec![
            tx.transaction.clone(),
            tx.topic().to_owned(),
            tx.producer_group.clone().unwrap_or_else(|| "-".to_owned()),
            tx.checks.to_string(),
            if tx.parked { "yes" } else { "no" }.to_owned(),
            age(age_ms(tx, now)),
        ]);
    }
    table.render()
}

async fn checks(
    producer_group: &str,
    wait_ms: u64,
    max: Option<u32>,
    connection: &Connection,
) -> anyhow::Result<()> {
    let wait_ms = wait_ms.min(MAX_WAIT_MS);
    let client = connection.client_with(|builder| {
        builder.timeout(Some(Duration::from_millis(wait_ms) + TIMEOUT_MARGIN))
    })?;
    let checks = client
        .poll_checks(producer_group, max, Some(wait_ms))
        .await
        .map_err(|err| {
            explain(
                err,
                format!("cannot poll the check-backs of producer group '{producer_group}'"),
                None,
            )
        })?;
    if connection.json {
        return output::print_json(&CheckList { checks });
    }
    if checks.is_empty() {
        eprintln!("no check-back is waiting for producer group '{producer_group}'");
        return Ok(());
    }
    let now = times::now_ms();
    let mut text = String::new();
    for check in &checks {
        text.push_str(&check_line(check, now));
        text.push('\n');
    }
    output::print(&text)?;
    eprintln!(
        "decide each with `weir tx commit TX` or `weir tx rollback TX`; undecided ones are \
         asked again at the next check interval"
    );
    Ok(())
}

/// A check-back on one line: the transaction, what it is about, then the body.
fn check_line(check: &Check, now: i64) -> String {
    let message = &check.message;
    let mut line = format!(
        "{} topic={} checks={} age={}",
        check.transaction,
        check.topic(),
        check.checks,
        age(age_ms(check, now)),
    );
    if !message.keys.is_empty() {
        let _ = write!(line, " keys={}", message.keys.join(","));
    }
    if let Some(tag) = &message.tag {
        let _ = write!(line, " tag={tag}");
    }
    for (name, value) in &message.properties {
        let _ = write!(line, " prop.{name}={value}");
    }
    let _ = write!(line, " body: {}", output::body_preview(&message.body));
    line
}

/// How long ago the half message was sent.
fn age_ms(tx: &Transaction, now: i64) -> i64 {
    now.saturating_sub(i64::try_from(tx.message.store_ms).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: TxCommand,
    }

    fn transaction(tx: &str, group: Option<&str>, checks: u32, parked: bool) -> Transaction {
        serde_json::from_value(serde_json::json!({
            "transaction": tx, "topic": "orders", "producer_group": group, "checks": checks,
            "parked": parked, "id": tx, "keys": ["k"], "tag": "created", "properties": {},
            "born_ms": 1_764_000_000_000_i64, "store_ms": 1_764_000_000_000_i64,
            "body": "order\n7"}))
        .unwrap()
    }

    #[test]
    fn pending_table_shows_group_checks_parking_and_age() {
        let rows = [
            transaction("tx-1", Some("shop"), 15, true),
            transaction("tx-22", None, 0, false),
        ];
        assert_eq!(
            pending_table(&rows, 1_764_000_090_000),
            "TRANSACTION  TOPIC   PRODUCER GROUP  CHECKS  PARKED         AGE\n\
             tx-1         orders  shop                15  yes     1 min 30 s\n\
             tx-22        orders  -                    0  no      1 min 30 s\n"
        );
    }

    #[test]
    fn check_line_ends_with_the_body() {
        let check = transaction("tx-1", Some("shop"), 2, false);
        assert_eq!(
            check_line(&check, 1_764_000_000_500),
            "tx-1 topic=orders checks=2 age=500 ms keys=k tag=created body: order\\n7"
        );
    }

    #[test]
    fn outcome_lines_say_what_happened() {
        let outcome = |state| TransactionOutcome {
            transaction: "t".into(),
            state,
        };
        assert_eq!(
            outcome_line(&outcome(TransactionState::Committed)),
            "committed transaction t\n"
        );
        assert_eq!(
            outcome_line(&outcome(TransactionState::RolledBack)),
            "rolled back transaction t\n"
        );
        assert_eq!(
            outcome_line(&outcome(TransactionState::Resumed)),
            "resumed the check-backs of transaction t\n"
        );
    }

    #[test]
    fn checks_need_a_producer_group_and_bound_the_wait() {
        assert!(Cli::try_parse_from(["weir", "checks"]).is_err());
        assert!(
            Cli::try_parse_from([
                "weir",
                "checks",
                "--producer-group",
                "p",
                "--wait-ms",
                "30001"
            ])
            .is_err()
        );
        let Cli {
            command: TxCommand::Checks { wait_ms, max, .. },
        } = Cli::try_parse_from(["weir", "checks", "--producer-group", "p"]).unwrap()
        else {
            panic!("expected checks");
        };
        assert_eq!((wait_ms, max), (0, None));
        assert!(Cli::try_parse_from(["weir", "pending", "--max", "0"]).is_err());
    }
}
