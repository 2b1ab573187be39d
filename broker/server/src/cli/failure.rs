//! Turns a failed broker call into an error message that says what failed and, for the
//! common mistakes, what to do next (a `hint:` line under the error): about topics,
//! consumer groups, producer groups, delayed messages, transactions, plugin modules and
//! bindings, and access tokens.

use weir_client::{ClientError, codes};

/// The error for `action` (for example "cannot describe group 'billing'") failing with
/// `err`, with hints that name `group`.
pub(crate) fn explain_group(err: ClientError, action: String, group: &str) -> anyhow::Error {
    match group_hint(&err, group).or_else(|| hint(&err, None)) {
        Some(hint) => anyhow::anyhow!("{action}: {err}\n  hint: {hint}"),
        None => anyhow::Error::new(err).context(action),
    }
}

/// The error for `action` (for example "cannot send to topic 'orders'") failing with `err`.
///
/// `topic` names the topic the command was about, for hints that mention it.
pub(crate) fn explain(err: ClientError, action: String, topic: Option<&str>) -> anyhow::Error {
    match hint(&err, topic) {
        Some(hint) => anyhow::anyhow!("{action}: {err}\n  hint: {hint}"),
        None => anyhow::Error::new(err).context(action),
    }
}

/// The error for `action` (for example "cannot commit transaction 'tx-1'") failing with
/// `err`, with hints that name `id`: the message or transaction the command was about.
pub(crate) fn explain_id(err: ClientError, action: String, id: &str) -> anyhow::Error {
    match id_hint(&err, id).or_else(|| hint(&err, None)) {
        Some(hint) => anyhow::anyhow!("{action}: {err}\n  hint: {hint}"),
        None => anyhow::Error::new(err).context(action),
    }
}

/// The error for `action` (for example "cannot push module 'ack'") failing with `err`,
/// with hints about modules, bindings and uploads.
pub(crate) fn explain_plugin(err: ClientError, action: String) -> anyhow::Error {
    match plugin_hint(&err).or_else(|| hint(&err, None)) {
        Some(hint) => anyhow::anyhow!("{action}: {err}\n  hint: {hint}"),
        None => anyhow::Error::new(err).context(action),
    }
}

fn hint(err: &ClientError, topic: Option<&str>) -> Option<String> {
    let topic = topic.unwrap_or("NAME");
    match err.code()? {
        codes::TOPIC_NOT_FOUND => Some(format!(
            "create it with `weir topic create {topic}`, or see the topics with `weir topic list`"
        )),
        codes::QUEUE_NOT_FOUND | codes::INVALID_QUEUE | codes::OFFSET_OUT_OF_RANGE => Some(
            format!("see the queues and their offsets with `weir topic describe {topic}`"),
        ),
        codes::DISK_FULL | codes::STORE_UNAVAILABLE => {
            Some("the broker refuses writes; its operator must act (see its log)".to_owned())
        }
        codes::PRODUCER_GROUP_NOT_FOUND => Some(
            "see the producer groups with `weir producer-group list`, or create it with \
             `weir producer-group put NAME`"
                .to_owned(),
        ),
        "NOT_SUPPORTED" => {
            Some("this broker version does not offer it; upgrade the broker".to_owned())
        }
        codes::UNAUTHORIZED => Some(
            "the broker wants an access token: pass --token TOKEN or set WEIR_TOKEN".to_owned(),
        ),
        codes::FORBIDDEN => Some(
            "the token lacks the role this needs (named above); use a token that has it".to_owned(),
        ),
        _ => None,
    }
}

fn plugin_hint(err: &ClientError) -> Option<String> {
    let text = match err.code()? {
        codes::MODULE_NOT_FOUND => {
            "see the modules with `weir module list`, or upload it with \
             `weir module push NAME FILE.wasm --world WORLD`"
        }
        codes::BINDING_NOT_FOUND => "see the bindings with `weir bind list`",
        codes::BINDING_EXISTS => {
            "change it by running the same command with --update, or remove it first with \
             `weir bind rm NAME`"
        }
        codes::WORLD_MISMATCH => {
            "a module keeps the world of its first upload, and a binding needs a module of its \
             kind (consumer, dedup-filter, tx-checker); see a module's world with \
             `weir module describe NAME`"
        }
        codes::NOT_A_COMPONENT => {
            "upload a WebAssembly component, as `cargo build --release --target wasm32-wasip2` \
             makes (a core module or another file is refused)"
        }
        codes::MISSING_EXPORT | codes::WRONG_SIGNATURE => {
            "the component does not export the world given by --world: check --world, and \
             that the plugin uses the matching export macro of weir-sdk (export_consumer!, \
             export_dedup_filter!, export_tx_checker!) with this broker's WIT version"
        }
        codes::UNSUPPORTED_IMPORT => {
            "plugins may import only the weir:plugin host interface and the WASI interfaces \
             the broker offers (see docs/plugins.md); remove the dependency that needs more"
        }
        codes::INVALID_WORLD => "--world is one of consumer, dedup-filter, tx-checker",
        codes::MODULE_TOO_LARGE => {
            "build in release with lto and strip (as `weir plugin new` projects do), or raise \
             `[plugins] max_module_bytes` in the broker's configuration"
        }
        codes::LIMIT_REACHED => {
            "remove module versions (`weir module rm NAME --version N`) or bindings \
             (`weir bind rm NAME`) that are no longer used"
        }
        codes::PLUGINS_DISABLED => "this broker runs without its plugin host",
        codes::GROUP_NOT_FOUND => {
            "create it with `weir group create NAME --topic TOPIC`, or see the groups with \
             `weir group list`"
        }
        _ => return None,
    };
    Some(text.to_owned())
}

fn id_hint(err: &ClientError, id: &str) -> Option<String> {
    match err.code()? {
        codes::NOT_SCHEDULED => Some(format!(
            "only a delayed message that is not yet due can be cancelled; see where it is \
             with `weir get --id {id}`"
        )),
        codes::TRANSACTION_NOT_FOUND => {
            Some("no undecided transaction has this id; see them with `weir tx pending`".to_owned())
        }
        codes::TRANSACTION_CONFLICT => Some(format!(
            "transaction '{id}' was already decided the other way, which cannot be undone"
        )),
        _ => None,
    }
}

fn group_hint(err: &ClientError, group: &str) -> Option<String> {
    match err.code()? {
        codes::GROUP_NOT_FOUND => Some(
            "create it with `weir group create NAME --topic TOPIC`, or see the groups with \
             `weir group list`"
                .to_owned(),
        ),
        codes::GROUP_EXISTS => Some(format!(
            "see its settings with `weir group describe {group}`, or delete it first with \
             `weir group delete {group}`"
        )),
        codes::CONSUMER_REQUIRED => {
            Some("a broadcasting group needs the consumer instance: add --consumer NAME".to_owned())
        }
        codes::DEAD_LETTER_NOT_FOUND => Some(format!(
            "see the dead letters and their ids with `weir dlq list {group}`"
        )),
        codes::RECEIPT_EXPIRED => Some(
            "the message became visible again before the ack; it will be delivered again"
                .to_owned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str, message: &str) -> ClientError {
        ClientError::Api {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn missing_topic_gets_a_hint() {
        let err = explain(
            api(404, "TOPIC_NOT_FOUND", "topic 'x' does not exist"),
            "cannot send to topic 'x'".into(),
            Some("x"),
        );
        assert_eq!(
            format!("{err:#}"),
            "cannot send to topic 'x': TOPIC_NOT_FOUND: topic 'x' does not exist (HTTP 404)\n  \
             hint: create it with `weir topic create x`, or see the topics with `weir topic list`"
        );
    }

    #[test]
    fn missing_group_gets_a_hint() {
        let err = explain_group(
            api(404, "GROUP_NOT_FOUND", "group 'g' does not exist"),
            "cannot describe group 'g'".into(),
            "g",
        );
        let text = format!("{err:#}");
        assert!(
            text.starts_with("cannot describe group 'g': GROUP_NOT_FOUND"),
            "{text}"
        );
        assert!(
            text.contains("hint: create it with `weir group create"),
            "{text}"
        );
        let err = explain_group(
            api(404, "TOPIC_NOT_FOUND", "topic 't' does not exist"),
            "cannot create group 'g'".into(),
            "g",
        );
        assert!(format!("{err:#}").contains("hint: create it with `weir topic create"));
    }

    #[test]
    fn transaction_and_cancel_errors_get_hints() {
        let err = explain_id(
            api(404, "NOT_SCHEDULED", "message 'm' is not scheduled"),
            "cannot cancel message 'm'".into(),
            "m",
        );
        assert!(format!("{err:#}").ends_with("see where it is with `weir get --id m`"));
        let err = explain_id(
            api(
                409,
                "TRANSACTION_CONFLICT",
                "transaction 't' was rolled back",
            ),
            "cannot commit transaction 't'".into(),
            "t",
        );
        assert!(format!("{err:#}").contains("hint: transaction 't' was already decided"));
        let err = explain_id(
            api(404, "TRANSACTION_NOT_FOUND", "no transaction 't'"),
            "cannot commit transaction 't'".into(),
            "t",
        );
        assert!(format!("{err:#}").contains("`weir tx pending`"));
        let err = explain(
            api(404, "PRODUCER_GROUP_NOT_FOUND", "no producer group 'p'"),
            "cannot describe producer group 'p'".into(),
            None,
        );
        assert!(format!("{err:#}").contains("`weir producer-group list`"));
    }

    #[test]
    fn plugin_and_token_errors_get_hints() {
        let err = explain_plugin(
            api(400, "NOT_A_COMPONENT", "not a component"),
            "cannot push module 'm'".into(),
        );
        assert!(format!("{err:#}").contains("hint: upload a WebAssembly component"));
        let err = explain_plugin(
            api(409, "BINDING_EXISTS", "binding 'b' exists"),
            "cannot bind 'b'".into(),
        );
        assert!(format!("{err:#}").contains("--update"));
        let err = explain_plugin(
            api(401, "UNAUTHORIZED", "a bearer token is required"),
            "cannot list the modules".into(),
        );
        assert!(format!("{err:#}").contains("--token TOKEN or set WEIR_TOKEN"));
        let err = explain(
            api(403, "FORBIDDEN", "the token 'app' lacks the admin role"),
            "cannot create topic 'x'".into(),
            Some("x"),
        );
        assert!(format!("{err:#}").contains("lacks the role"));
    }

    #[test]
    fn other_errors_keep_their_chain() {
        let err = explain(
            api(409, "TOPIC_EXISTS", "topic 'x' exists"),
            "cannot create".into(),
            None,
        );
        assert_eq!(
            format!("{err:#}"),
            "cannot create: TOPIC_EXISTS: topic 'x' exists (HTTP 409)"
        );
    }
}
