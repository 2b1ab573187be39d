//! Text from a plugin made safe to write into the broker's log, a binding's status or a
//! dead letter's reason: [`escape`] turns every character that could end a line, drive a
//! terminal or reorder what a reader sees into a visible escape, and cuts the result to a
//! bound. Everything a plugin says (log messages, trap texts with its stderr, reasons)
//! passes through it before it reaches a formatter.
//!
//! Escaped: every C0 control (U+0000 to U+001F, tab and newline included), DEL, every C1
//! control (U+0080 to U+009F, NEL and CSI among them), the line and paragraph separators
//! U+2028 and U+2029, and the bidi marks, embeddings, overrides and isolates (U+061C,
//! U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069). Newline, carriage return and tab
//! become `\n`, `\r`, `\t`; the others `\u{..}` in hex, as Rust writes them. A backslash
//! becomes `\\`, so that an escape in the output always stands for an escaped character
//! and never for text the plugin wrote.

use std::borrow::Cow;

/// What ends a cut text.
pub(crate) const CUT_MARKER: &str = "...";

/// Whether `c` is written as an escape.
fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\\'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every character of the module docs escaped, at most `max_bytes` bytes long
/// plus [`CUT_MARKER`] when it had to be cut (at a character, never inside an escape).
/// Borrows `text` when nothing needs escaping or cutting: the common case costs one scan.
pub(crate) fn escape(text: &str, max_bytes: usize) -> Cow<'_, str> {
    let first = text.char_indices().find(|&(_, c)| needs_escape(c));
    let Some((start, _)) = first else {
        if text.len() <= max_bytes {
            return Cow::Borrowed(text);
        }
        let mut cut = max_bytes;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        return Cow::Owned(format!("{}{CUT_MARKER}", &text[..cut]));
    };
    let mut out = String::with_capacity(text.len().min(max_bytes) + 16);
    let mut escaped = String::new();
    for (i, c) in text.char_indices() {
        let piece: &str = if i < start || !needs_escape(c) {
            let end = i + c.len_utf8();
            &text[i..end]
        } else {
            escaped.clear();
            push_escape(&mut escaped, c);
            &escaped
        };
        if out.len() + piece.len() > max_bytes {
            out.push_str(CUT_MARKER);
            return Cow::Owned(out);
        }
        out.push_str(piece);
    }
    Cow::Owned(out)
}

/// `escaped` (a text [`escape`] made) cut to at most `max_bytes` plus [`CUT_MARKER`],
/// between two escapes or characters, never inside one.
pub(crate) fn cut_escaped(escaped: &str, max_bytes: usize) -> Cow<'_, str> {
    if escaped.len() <= max_bytes {
        return Cow::Borrowed(escaped);
    }
    let mut end = 0;
    let mut rest = escaped;
    while let Some(c) = rest.chars().next() {
        let len = match c {
            '\\' if rest[1..].starts_with("u{") => rest.find('}').map_or(rest.len(), |i| i + 1),
            '\\' => 1 + rest[1..].chars().next().map_or(0, char::len_utf8),
            other => other.len_utf8(),
        };
        if end + len > max_bytes {
            break;
        }
        end += len;
        rest = &rest[len..];
    }
    Cow::Owned(format!("{}{CUT_MARKER}", &escaped[..end]))
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push_str("\\\\"),
        other => {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", u32::from(other));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORGED: &str = "2026-12-02T10:00:00.000000Z ERROR weir::serve: forged";

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            escape("order 1001 forwarded, größe ✓", 100),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn line_breaks_of_every_kind_are_escaped() {
        let cases = [
            ("a\nb", "a\\nb"),
            ("a\r\nb", "a\\r\\nb"),
            ("a\tb", "a\\tb"),
            ("a\u{85}b", "a\\u{85}b"),
            ("a\u{2028}b", "a\\u{2028}b"),
            ("a\u{2029}b", "a\\u{2029}b"),
            ("a\u{b}\u{c}b", "a\\u{b}\\u{c}b"),
        ];
        for (text, want) in cases {
            assert_eq!(escape(text, 100), want, "{text:?}");
        }
    }

    #[test]
    fn terminal_and_bidi_controls_are_escaped() {
        assert_eq!(
            escape("\u{1b}[31mred\u{1b}[0m", 100),
            "\\u{1b}[31mred\\u{1b}[0m"
        );
        assert_eq!(escape("\u{0}\u{7f}\u{9b}", 100), "\\u{0}\\u{7f}\\u{9b}");
        assert_eq!(
            escape("\u{202e}abc\u{202c}\u{2066}\u{2069}\u{200f}\u{61c}", 100),
            "\\u{202e}abc\\u{202c}\\u{2066}\\u{2069}\\u{200f}\\u{61c}"
        );
    }

    #[test]
    fn a_backslash_is_escaped_so_that_escapes_cannot_be_faked() {
        assert_eq!(escape("a\\nb", 100), "a\\\\nb");
        assert_ne!(escape("a\\nb", 100), escape("a\nb", 100));
    }

    #[test]
    fn no_forged_line_survives() {
        let text = format!("x\n{FORGED}\r\n{FORGED}\u{2028}{FORGED}\u{85}{FORGED}");
        let escaped = escape(&text, 10_000);
        assert_eq!(escaped.lines().count(), 1);
        assert!(
            escaped
                .chars()
                .all(|c| !c.is_control() && !needs_escape(c) || c == '\\')
        );
        assert_eq!(escaped.matches(FORGED).count(), 4);
    }

    #[test]
    fn long_text_is_cut_at_a_character_and_marked() {
        let text = "é".repeat(100);
        let cut = escape(&text, 11);
        assert_eq!(cut, format!("{}{CUT_MARKER}", "é".repeat(5)));
        let controls = "\n".repeat(100);
        // Escapes are never split.
        assert_eq!(escape(&controls, 5), format!("\\n\\n{CUT_MARKER}"));
        let large = format!("\n{FORGED}").repeat(20_000);
        let cut = escape(&large, 4096);
        assert!(cut.len() <= 4096 + CUT_MARKER.len());
        assert!(cut.ends_with(CUT_MARKER));
        assert_eq!(cut.lines().count(), 1);
    }

    #[test]
    fn escaped_text_is_cut_between_escapes() {
        let escaped = escape("ab\n\u{1b}\\é", 100);
        assert_eq!(escaped, "ab\\n\\u{1b}\\\\é");
        let cuts: Vec<String> = (0..=escaped.len())
            .map(|max| cut_escaped(&escaped, max).into_owned())
            .collect();
        for (max, cut) in cuts.iter().enumerate() {
            let kept = cut.strip_suffix(CUT_MARKER).unwrap_or(cut);
            assert!(kept.len() <= max, "{max}: {cut}");
            assert!(escaped.starts_with(kept), "{max}: {cut}");
        }
        assert_eq!(cuts[3], format!("ab{CUT_MARKER}"));
        assert_eq!(cuts[4], format!("ab\\n{CUT_MARKER}"));
        assert_eq!(cuts[9], format!("ab\\n{CUT_MARKER}"));
        assert_eq!(cuts[10], format!("ab\\n\\u{{1b}}{CUT_MARKER}"));
        assert_eq!(cuts[escaped.len()], escaped);
    }

    #[test]
    fn short_text_is_not_marked() {
        assert_eq!(escape("a\nb", 4), "a\\nb");
        assert_eq!(escape("abcd", 4), "abcd");
    }
}
