//! `weir dlq list|export|resend GROUP`: a group's dead-letter queue.
//!
//! `export` streams the whole queue as NDJSON (one dead letter per line, as the broker
//! sends it) to stdout or a file, with a progress bar on stderr when it is a terminal.

use std::fs::File;
use std::io::{BufWriter, ErrorKind, IsTerminal as _, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::ArgGroup;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use weir_client::{DeadLetter, DeadLetterPage};

use super::Connection;
use super::failure::explain_group;
use super::output::{self, Align, Table};

/// The widest body preview `weir dlq list` shows, in characters.
const BODY_PREVIEW_CHARS: usize = 40;

/// List, export and resend a group's dead letters.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum DlqCommand {
    /// List a page of a group's dead letters.
    List {
        /// The group name.
        group: String,
        /// The dead-letter offset to start at.
        #[arg(long, default_value_t = 0, value_name = "N")]
        offset: u64,
        /// At most this many dead letters (1–1000).
        #[arg(long, default_value_t = 100, value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..=1000))]
        max: u32,
    },
    /// Write all of a group's dead letters as NDJSON, one per line.
    Export {
        /// The group name.
        group: String,
        /// Write to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Send dead letters back to the group: one by id, or all.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
    Resend {
        /// The group name.
        group: String,
        /// The id of the dead letter to resend (see `weir dlq list`).
        id: Option<String>,
        /// Resend every dead letter (from --from-offset).
        #[arg(long)]
        all: bool,
        /// With --all: the dead-letter offset to start at [default: 0].
        // Not `requires = "all"`: a flag counts as present through its default.
        #[arg(long, value_name = "N", conflicts_with = "id")]
        from_offset: Option<u64>,
    },
}

/// `--json` output of `weir dlq export --output FILE`.
#[derive(Serialize)]
struct Exported<'a> {
    exported: u64,
    output: &'a str,
}

/// `--json` output of `weir dlq resend GROUP ID`.
#[derive(Serialize)]
struct ResentOne<'a> {
    resent: &'a str,
    id: &'a str,
}

/// `--json` output of `weir dlq resend GROUP --all`.
#[derive(Serialize)]
struct ResentAll {
    resent: u64,
}

/// Runs a `weir dlq` command.
pub(crate) async fn run(command: DlqCommand, connection: &Connection) -> anyhow::Result<()> {
    match command {
        DlqCommand::List { group, offset, max } => list(&group, offset, max, connection).await,
        DlqCommand::Export { group, output } => export(&group, output, connection).await,
        DlqCommand::Resend {
            group,
            id,
            all: _,
            from_offset,
        } => resend(&group, id.as_deref(), from_offset.unwrap_or(0), connection).await,
    }
}

async fn list(group: &str, offset: u64, max: u32, connection: &Connection) -> anyhow::Result<()> {
    let page = connection
        .client()?
        .dead_letters(group, offset, max)
        .await
        .map_err(|err| {
            explain_group(
                err,
                format!("cannot list the dead letters of group '{group}'"),
                group,
            )
        })?;
    if connection.json {
        return output::print_json(&page);
    }
    if page.dead_letters.is_empty() {
        if offset == 0 {
            eprintln!("group '{group}' has no dead letters");
        } else {
            eprintln!("group '{group}' has no dead letters from offset {offset}");
        }
        return Ok(());
    }
    if let Some(hint) = more_hint(group, &page) {
        eprintln!("{hint}");
    }
    output::print(&dead_letter_table(&page.dead_letters))
}

/// The hint printed when the page is not the last.
fn more_hint(group: &str, page: &DeadLetterPage) -> Option<String> {
    (page.next_offset < page.max_offset).then(|| {
        format!(
            "{} more; see them with `weir dlq list {group} --offset {}`",
            page.max_offset - page.next_offset,
            page.next_offset
        )
    })
}

fn dead_letter_table(letters: &[DeadLetter]) -> String {
    let mut table = Table::new(&[
        ("DLQ OFFSET", Align::Right),
        ("ID", Align::Left),
        ("ORIGINAL ID", Align::Left),
        ("QUEUE", Align::Right),
        ("OFFSET", Align::Right),
        ("ATTEMPTS", Align::Right),
        ("DEAD AT", Align::Left),
        ("REASON", Align::Left),
        ("BODY", Align::Left),
    ]);
    for letter in letters {
        table.row(vec![
            letter.dlq_offset.to_string(),
            letter.id.clone(),
            letter.original_id.clone(),
            letter.queue.to_string(),
            letter.offset.to_string(),
            letter.attempts.to_string(),
            output::utc_timestamp(u64::try_from(letter.dead_ms).unwrap_or(0)),
            letter.reason.clone(),
            shorten(&output::body_preview(&letter.body), BODY_PREVIEW_CHARS),
        ]);
    }
    table.render()
}

/// `text` cut to `max` characters, the cut marked with `…`.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

async fn export(group: &str, path: Option<PathBuf>, connection: &Connection) -> anyhow::Result<()> {
    let client = connection.client()?;
    let explain = |err| {
        explain_group(
            err,
            format!("cannot export the dead letters of group '{group}'"),
            group,
        )
    };
    // The count sizes the progress bar; it may grow while exporting.
    let total = client
        .describe_group(group)
        .await
        .map_err(explain)?
        .dead_letters;
    let mut export = client.export_dead_letters(group).await.map_err(explain)?;
    let mut sink: BufWriter<Box<dyn Write + Send>> = match &path {
        Some(path) => BufWriter::new(Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => BufWriter::new(Box::new(std::io::stdout())),
    };
    let stderr_is_terminal = std::io::stderr().is_terminal();
    // Lines on the terminal would tear the bar; show it when they go elsewhere.
    let hidden = !stderr_is_terminal || (path.is_none() && std::io::stdout().is_terminal());
    let bar = progress_bar(hidden, total);
    let destination = path
        .as_ref()
        .map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
    let mut exported = 0u64;
    let mut closed = false;
    while let Some(line) = export.next_line().await.map_err(explain)? {
        let written = sink.write_all(&line).and_then(|()| sink.write_all(b"\n"));
        if let Err(err) = written {
            if path.is_none() && err.kind() == ErrorKind::BrokenPipe {
                closed = true;
                break;
            }
            return Err(err).with_context(|| format!("cannot write to {destination}"));
        }
        exported += 1;
        if exported > bar.length().unwrap_or(0) {
            bar.set_length(exported);
        }
        bar.set_position(exported);
    }
    bar.finish_and_clear();
    if !closed {
        match sink.flush() {
            Err(err) if path.is_none() && err.kind() == ErrorKind::BrokenPipe => {}
            other => other.with_context(|| format!("cannot write to {destination}"))?,
        }
    }
    match &path {
        Some(_) if connection.json => output::print_json(&Exported {
            exported,
            output: &destination,
        }),
        Some(_) => output::print(&format!(
            "exported {exported} dead letter{} of group '{group}' to {destination}\n",
            if exported == 1 { "" } else { "s" }
        )),
        None => {
            if stderr_is_terminal && !closed {
                eprintln!(
                    "exported {exported} dead letter{} of group '{group}'",
                    if exported == 1 { "" } else { "s" }
                );
            }
            Ok(())
        }
    }
}

/// A bar over the dead letters exported; hidden when stderr is not a terminal.
fn progress_bar(hidden: bool, total: u64) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} dead letters ({per_sec})",
    ) {
        bar.set_style(style);
    }
    bar
}

async fn resend(
    group: &str,
    id: Option<&str>,
    from_offset: u64,
    connection: &Connection,
) -> anyhow::Result<()> {
    let client = connection.client()?;
    match id {
        Some(id) => {
            let new_id = client.resend_dead_letter(group, id).await.map_err(|err| {
                explain_group(
                    err,
                    format!("cannot resend dead letter '{id}' of group '{group}'"),
                    group,
                )
            })?;
            if connection.json {
                return output::print_json(&ResentOne {
                    resent: id,
                    id: &new_id,
                });
            }
            output::print(&format!(
                "resent dead letter {id} to group '{group}' as message {new_id}\n"
            ))
        }
        None => {
            let resent = client
                .resend_dead_letters(group, from_offset)
                .await
                .map_err(|err| {
                    explain_group(
                        err,
                        format!("cannot resend the dead letters of group '{group}'"),
                        group,
                    )
                })?;
            if connection.json {
                return output::print_json(&ResentAll { resent });
            }
            let plural = if resent == 1 { "" } else { "s" };
            output::print(&format!(
                "resent {resent} dead letter{plural} to group '{group}'\n"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: DlqCommand,
    }

    fn parse(args: &[&str]) -> Result<DlqCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("dlq").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    #[test]
    fn resend_takes_an_id_or_all() {
        assert!(matches!(
            parse(&["resend", "g", "01ABC"]).unwrap(),
            DlqCommand::Resend { id: Some(id), all: false, .. } if id == "01ABC"
        ));
        assert!(matches!(
            parse(&["resend", "g", "--all", "--from-offset", "4"]).unwrap(),
            DlqCommand::Resend {
                id: None,
                all: true,
                from_offset: Some(4),
                ..
            }
        ));
        assert!(
            parse(&["resend", "g"]).is_err(),
            "an id or --all is required"
        );
        assert!(parse(&["resend", "g", "01ABC", "--all"]).is_err());
        assert!(parse(&["resend", "g", "01ABC", "--from-offset", "2"]).is_err());
    }

    #[test]
    fn export_and_list_flags_parse() {
        assert!(matches!(
            parse(&["export", "g", "--output", "out.ndjson"]).unwrap(),
            DlqCommand::Export { output: Some(path), .. } if path.as_os_str() == "out.ndjson"
        ));
        assert!(matches!(
            parse(&["list", "g"]).unwrap(),
            DlqCommand::List {
                offset: 0,
                max: 100,
                ..
            }
        ));
        assert!(parse(&["list", "g", "--max", "0"]).is_err());
    }

    fn letter(body: &str) -> DeadLetter {
        serde_json::from_value(serde_json::json!({
            "dlq_offset": 0, "id": "D1", "original_id": "O1", "topic": "t", "queue": 1,
            "offset": 5, "attempts": 16, "reason": "max attempts", "dead_ms": 0,
            "body": body
        }))
        .unwrap()
    }

    #[test]
    fn list_shows_a_short_body() {
        let long = "x".repeat(100);
        let text = dead_letter_table(&[letter(&long)]);
        let last = text.lines().nth(1).unwrap();
        assert!(last.ends_with(&format!("{}…", "x".repeat(39))), "{last}");
        assert!(text.starts_with("DLQ OFFSET  ID  ORIGINAL ID  QUEUE  OFFSET  ATTEMPTS"));
    }

    #[test]
    fn more_pages_are_pointed_to() {
        let page = DeadLetterPage {
            dead_letters: vec![letter("a")],
            next_offset: 1,
            max_offset: 3,
        };
        assert_eq!(
            more_hint("g", &page).unwrap(),
            "2 more; see them with `weir dlq list g --offset 1`"
        );
        let last = DeadLetterPage {
            next_offset: 3,
            ..page
        };
        assert!(more_hint("g", &last).is_none());
    }
}
