//! Human-readable and JSON rendering shared by the client commands: aligned tables,
//! UTC timestamps, one-line body previews, and writing to stdout.
//!
//! Output is built as a `String` and written once; a closed stdout (`weir get ... | head`)
//! ends the command quietly instead of panicking.

use std::fmt::Write as _;
use std::io::{ErrorKind, Write as _};

use anyhow::Context as _;
use serde::Serialize;

/// How a table column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A text table whose columns are padded to their widest cell.
pub(crate) struct Table {
    headers: Vec<&'static str>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these `(header, alignment)` columns.
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            headers: columns.iter().map(|(header, _)| *header).collect(),
            aligns: columns.iter().map(|(_, align)| *align).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it has one cell per column.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    /// The table as lines of text, header first, columns two spaces apart.
    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (column, cell) in cells.iter().enumerate() {
                let width = widths.get(column).copied().unwrap_or(0);
                if column > 0 {
                    line.push_str("  ");
                }
                match self.aligns.get(column) {
                    Some(Align::Right) => {
                        let _ = write!(line, "{cell:>width$}");
                    }
                    _ => {
                        let _ = write!(line, "{cell:<width$}");
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Formats ms since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub(crate) fn utc_timestamp(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Formats a signed time in ms since the Unix epoch as [`utc_timestamp`] does; times
/// before 1970 (which the broker never reports) show as the epoch.
pub(crate) fn utc_time(ms: i64) -> String {
    utc_timestamp(u64::try_from(ms).unwrap_or(0))
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// A duration in ms, short and readable: `250 ms`, `1.5 s`, `30 s`, `2 min`, `1 h`,
/// `1 h 30 min`.
pub(crate) fn duration_ms(ms: u64) -> String {
    const SECOND: u64 = 1000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    if ms < SECOND {
        format!("{ms} ms")
    } else if ms < MINUTE {
        if ms.is_multiple_of(SECOND) {
            format!("{} s", ms / SECOND)
        } else {
            format!("{:.1} s", ms as f64 / SECOND as f64)
        }
    } else if ms < HOUR {
        match (ms / MINUTE, ms % MINUTE / SECOND) {
            (minutes, 0) => format!("{minutes} min"),
            (minutes, seconds) => format!("{minutes} min {seconds} s"),
        }
    } else {
        match (ms / HOUR, ms % HOUR / MINUTE) {
            (hours, 0) => format!("{hours} h"),
            (hours, minutes) => format!("{hours} h {minutes} min"),
        }
    }
}

/// A size in bytes, short and readable: `512 B`, `12.3 KiB`, `4.0 MiB`, `1.5 GiB`.
pub(crate) fn size_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let value = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if value < KIB * KIB {
        format!("{:.1} KiB", value / KIB)
    } else if value < KIB * KIB * KIB {
        format!("{:.1} MiB", value / (KIB * KIB))
    } else {
        format!("{:.1} GiB", value / (KIB * KIB * KIB))
    }
}

/// `label  value` lines with the values aligned, as `describe` commands print.
pub(crate) fn fields(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (label, value) in rows {
        let _ = writeln!(text, "{label:<width$}  {value}");
    }
    text
}

/// `text` on one line and at most `max` characters, cut with `...`.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let flat = body_preview(text.as_bytes());
    if flat.chars().count() <= max {
        return flat;
    }
    let kept: String = flat.chars().take(max.saturating_sub(3)).collect();
    format!("{kept}...")
}

/// A body on one line: its text when UTF-8 (control characters escaped), else its size.
pub(crate) fn body_preview(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) => {
            let mut out = String::with_capacity(text.len());
            for c in text.chars() {
                match c {
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\\' => out.push_str("\\\\"),
                    c if c.is_control() => {
                        let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                    }
                    c => out.push(c),
                }
            }
            out
        }
        Err(_) => format!("<{} bytes, not UTF-8>", body.len()),
    }
}

/// Writes `text` to stdout. A closed pipe is not an error: the reader has seen enough.
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

/// Writes `value` to stdout as one pretty-printed JSON document.
pub(crate) fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut text =
        serde_json::to_string_pretty(value).context("cannot encode the output as JSON")?;
    text.push('\n');
    print(&text)
}

/// Prints what a delete command removed: with `--json`, `{"deleted": NAME}`; else a line
/// naming the `kind` of thing and its name.
pub(crate) fn print_deleted(json: bool, kind: &str, name: &str) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Deleted<'a> {
        deleted: &'a str,
    }
    if json {
        return print_json(&Deleted { deleted: name });
    }
    print(&format!("deleted {kind} '{name}'\n"))
}

/// Prints what a listing command found: with `--json` (`json`), `document`, the broker's
/// answer; else `render` of its `items`, or, when there are none, `hint` on stderr, which
/// says how to make one and leaves stdout empty for scripts.
pub(crate) fn print_list<T: Serialize, I>(
    json: bool,
    document: &T,
    items: fn(&T) -> &[I],
    hint: &str,
    render: impl FnOnce(&[I]) -> String,
) -> anyhow::Result<()> {
    if json {
        return print_json(document);
    }
    let items = items(document);
    if items.is_empty() {
        eprintln!("{hint}");
        return Ok(());
    }
    print(&render(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_timestamp(1_764_000_000_001), "2025-11-24T16:00:00.001Z");
        assert_eq!(utc_timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn table_columns_are_aligned() {
        let mut table = Table::new(&[("NAME", Align::Left), ("QUEUES", Align::Right)]);
        table.row(vec!["orders".into(), "8".into()]);
        table.row(vec!["a".into(), "1024".into()]);
        assert_eq!(
            table.render(),
            "NAME    QUEUES\norders       8\na         1024\n"
        );
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(duration_ms(0), "0 ms");
        assert_eq!(duration_ms(999), "999 ms");
        assert_eq!(duration_ms(1500), "1.5 s");
        assert_eq!(duration_ms(30_000), "30 s");
        assert_eq!(duration_ms(120_000), "2 min");
        assert_eq!(duration_ms(90_000), "1 min 30 s");
        assert_eq!(duration_ms(3_600_000), "1 h");
        assert_eq!(duration_ms(5_400_000), "1 h 30 min");
    }

    #[test]
    fn sizes_are_short() {
        assert_eq!(size_bytes(512), "512 B");
        assert_eq!(size_bytes(12_595), "12.3 KiB");
        assert_eq!(size_bytes(4 * 1024 * 1024), "4.0 MiB");
        assert_eq!(size_bytes(3 << 29), "1.5 GiB");
    }

    #[test]
    fn fields_are_aligned_and_long_text_is_cut() {
        assert_eq!(
            fields(&[("name", "a".into()), ("world", "b".into())]),
            "name   a\nworld  b\n"
        );
        assert_eq!(one_line("a\nb", 10), "a\\nb");
        assert_eq!(one_line("abcdefghijkl", 8), "abcde...");
    }

    #[test]
    fn body_preview_keeps_messages_on_one_line() {
        assert_eq!(body_preview(b"a\nb\tc\x07"), "a\\nb\\tc\\u{7}");
        assert_eq!(body_preview(&[0xff, 0xfe]), "<2 bytes, not UTF-8>");
    }
}
