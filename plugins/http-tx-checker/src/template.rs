//! URL templates: `http://127.0.0.1:9000/tx/{transaction}`.
//!
//! Placeholders, each replaced by a percent-encoded value of the half message:
//!
//! | placeholder | value |
//! | --- | --- |
//! | `{transaction}` or `{id}` | the transaction id (the half message's id) |
//! | `{topic}` | the topic the message is for |
//! | `{key}` | its first business key (empty when it has none) |
//! | `{tag}` | its tag (empty when it has none) |
//! | `{checks}` | how many check-backs came before this one |
//!
//! `{{` and `}}` stand for literal braces. The template must be an `http://` or
//! `https://` URL; whether the broker lets the request through is the binding's
//! allowlist's decision.

use std::fmt::Write as _;

use weir_sdk::Message;

/// A parsed URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlTemplate(Vec<Part>);

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Transaction,
    Topic,
    Key,
    Tag,
    Checks,
}

impl UrlTemplate {
    /// Parses a template.
    pub(crate) fn parse(template: &str) -> Result<Self, String> {
        if !(template.starts_with("http://") || template.starts_with("https://")) {
            return Err(format!("{template:?} is not an http:// or https:// URL"));
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = template.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.as_str().starts_with('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.as_str().starts_with('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = chars.as_str();
                    let end = rest
                        .find('}')
                        .ok_or_else(|| format!("unclosed `{{` in {template:?}"))?;
                    let part = match &rest[..end] {
                        "transaction" | "id" => Part::Transaction,
                        "topic" => Part::Topic,
                        "key" => Part::Key,
                        "tag" => Part::Tag,
                        "checks" => Part::Checks,
                        other => return Err(format!("unknown placeholder `{{{other}}}`")),
                    };
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(part);
                    chars = rest[end + 1..].chars();
                }
                '}' => return Err(format!("unmatched `}}` in {template:?}")),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self(parts))
    }

    /// The URL for `half` at its `checks`-th check.
    pub(crate) fn render(&self, half: &Message, checks: u32) -> String {
        let mut url = String::new();
        for part in &self.0 {
            match part {
                Part::Literal(text) => url.push_str(text),
                Part::Transaction => encode(&mut url, &half.id),
                Part::Topic => encode(&mut url, &half.topic),
                Part::Key => encode(&mut url, half.keys.first().map_or("", String::as_str)),
                Part::Tag => encode(&mut url, half.tag.as_deref().unwrap_or("")),
                Part::Checks => {
                    let _ = write!(url, "{checks}");
                }
            }
        }
        url
    }
}

/// Appends `value` percent-encoded: everything but RFC 3986's unreserved characters.
fn encode(url: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            let _ = write!(url, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_encoded() {
        let template =
            UrlTemplate::parse("http://svc/{topic}/tx/{transaction}?k={key}&n={checks}&t={tag}")
                .unwrap();
        let half = Message {
            id: "01J/x y".into(),
            topic: "orders".into(),
            keys: vec!["ä&b".into()],
            ..Message::default()
        };
        assert_eq!(
            template.render(&half, 3),
            "http://svc/orders/tx/01J%2Fx%20y?k=%C3%A4%26b&n=3&t="
        );
    }

    #[test]
    fn doubled_braces_are_literal() {
        let template = UrlTemplate::parse("http://svc/{{id}}/{id}").unwrap();
        let half = Message {
            id: "7".into(),
            ..Message::default()
        };
        assert_eq!(template.render(&half, 0), "http://svc/{id}/7");
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(UrlTemplate::parse("svc/tx/{id}").is_err());
        assert!(UrlTemplate::parse("http://svc/{id").is_err());
        assert!(UrlTemplate::parse("http://svc/id}").is_err());
        assert!(UrlTemplate::parse("http://svc/{when}").is_err());
    }
}
