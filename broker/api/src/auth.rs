//! Access control: bearer tokens with roles, and the permission each route's
//! [`Access`] (in the route table) means for a request.
//!
//! A token has a name (for logs and error messages; never the secret), a secret, and
//! roles: `admin` (everything), `produce` on topic patterns (sends to those topics, and
//! with any produce role, transaction commit/rollback and check-back polls), `consume`
//! on topic patterns (reads of those topics, group creation on them, everything a
//! consumer does with the groups of those topics). Any valid token may list and
//! describe topics and groups and read `/metrics`; `GET /healthz` and the OpenAPI
//! document need no token.
//!
//! Secrets are kept as SHA-256 digests and compared without an early exit, against every
//! configured token, so that the time a check takes says nothing about how much of a
//! secret a guess got right.
//!
//! Routes that name a group or a message are checked against the topic it belongs to,
//! looked up in the broker. When it does not exist, any role of the kind suffices and the
//! handler answers `404`; nothing is done.

use std::fmt;

use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use weir_core::{Broker, CoreError};
use weir_wire::codes;

use crate::ApiError;
use crate::routes::Access;

/// Shortest secret accepted: 16 characters keep guessing out of reach even for secrets
/// typed by people.
pub const MIN_SECRET_CHARS: usize = 16;

/// A token as configured.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// For logs and error messages.
    pub name: String,
    /// The bearer secret.
    pub secret: String,
    /// Everything is allowed.
    pub admin: bool,
    /// Topic patterns it may send to (`*` matches any run of characters).
    pub produce: Vec<String>,
    /// Topic patterns it may read and consume.
    pub consume: Vec<String>,
}

impl fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .field("admin", &self.admin)
            .field("produce", &self.produce)
            .field("consume", &self.consume)
            .finish_non_exhaustive()
    }
}

/// Why a token configuration was refused. Tokens are numbered from 0 in the order given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthConfigError {
    /// A token without a name.
    #[error("auth.tokens[{index}].name is empty: give every token a name")]
    EmptyName {
        /// The token's position.
        index: usize,
    },
    /// Two tokens with one name.
    #[error(
        "auth.tokens[{index}].name '{name}' is also the name of auth.tokens[{first}]: names must be unique"
    )]
    DuplicateName {
        /// The token's position.
        index: usize,
        /// The earlier token with the name.
        first: usize,
        /// The name.
        name: String,
    },
    /// A secret under [`MIN_SECRET_CHARS`].
    #[error(
        "auth.tokens[{index}].token (of '{name}') has {chars} characters: at least {MIN_SECRET_CHARS} are needed"
    )]
    ShortSecret {
        /// The token's position.
        index: usize,
        /// Its name.
        name: String,
        /// The secret's length.
        chars: usize,
    },
    /// Two tokens with one secret.
    #[error(
        "auth.tokens[{index}].token (of '{name}') is also the token of auth.tokens[{first}]: every token needs its own secret"
    )]
    DuplicateSecret {
        /// The token's position.
        index: usize,
        /// The earlier token with the secret.
        first: usize,
        /// Its name.
        name: String,
    },
    /// An empty topic pattern.
    #[error(
        "auth.tokens[{index}].{role}[{position}] (of '{name}') is empty: give a topic name or pattern such as \"orders*\""
    )]
    EmptyPattern {
        /// The token's position.
        index: usize,
        /// Its name.
        name: String,
        /// `produce` or `consume`.
        role: &'static str,
        /// The pattern's position in the list.
        position: usize,
    },
}

/// The tokens the API accepts. Built from [`TokenConfig`]s with [`Auth::new`] and given
/// to [`App::with_auth`](crate::App::with_auth).
pub struct Auth {
    tokens: Vec<Token>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field(
                "tokens",
                &self.tokens.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A validated token: its secret only as a digest.
struct Token {
    name: String,
    digest: [u8; 32],
    admin: bool,
    produce: Vec<String>,
    consume: Vec<String>,
}

/// What a route needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Permission {
    /// Nothing: no token needed.
    Public,
    /// Any valid token.
    Authenticated,
    /// The admin role.
    Admin,
    /// The produce role on a topic.
    Produce(String),
    /// Any produce role.
    AnyProduce,
    /// The produce role on the target topic of a delayed message, by id.
    ProduceDelayed(String),
    /// The consume role on a topic.
    Consume(String),
    /// The consume role on a group's topic.
    ConsumeGroup(String),
    /// The consume role on a message's topic, by id.
    ConsumeMessage(String),
    /// The consume role on the topic named by the JSON body's `topic` field (group
    /// creation); the caller reads the body and calls [`consume_topic_in_body`].
    ConsumeTopicInBody,
}

impl Permission {
    /// The permission a route with `access` needs, given its path parameters (the route
    /// table, [`crate::routes::ROUTES`], is the one place access is decided).
    pub(crate) fn of(access: Access, params: &[String]) -> Permission {
        let first = || params.first().cloned().unwrap_or_default();
        match access {
            Access::Public => Permission::Public,
            Access::Authenticated => Permission::Authenticated,
            Access::Admin => Permission::Admin,
            Access::Produce => Permission::Produce(first()),
            Access::AnyProduce => Permission::AnyProduce,
            Access::ProduceDelayed => Permission::ProduceDelayed(first()),
            Access::Consume => Permission::Consume(first()),
            Access::ConsumeGroup => Permission::ConsumeGroup(first()),
            Access::ConsumeMessage => Permission::ConsumeMessage(first()),
            Access::ConsumeTopicInBody => Permission::ConsumeTopicInBody,
        }
    }
}

/// The permission to create a group from its request body: consume on the body's
/// `topic`, or any consume role when the body does not name one (the handler then
/// refuses it as invalid).
pub(crate) fn consume_topic_in_body(body: &[u8]) -> Permission {
    #[derive(Deserialize)]
    struct TopicField {
        topic: String,
    }
    match serde_json::from_slice::<TopicField>(body) {
        Ok(field) => Permission::Consume(field.topic),
        Err(_) => Permission::ConsumeTopicInBody,
    }
}

/// A role that holds topic patterns.
#[derive(Clone, Copy, Debug)]
enum Role {
    Produce,
    Consume,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Produce => "produce",
            Role::Consume => "consume",
        }
    }
}

impl Auth {
    /// Validates tokens: non-empty unique names, secrets of at least
    /// [`MIN_SECRET_CHARS`] characters that no two tokens share, non-empty patterns.
    pub fn new(tokens: Vec<TokenConfig>) -> Result<Self, AuthConfigError> {
        let mut validated: Vec<Token> = Vec::with_capacity(tokens.len());
        for (index, config) in tokens.into_iter().enumerate() {
            if config.name.is_empty() {
                return Err(AuthConfigError::EmptyName { index });
            }
            if let Some(first) = validated.iter().position(|t| t.name == config.name) {
                return Err(AuthConfigError::DuplicateName {
                    index,
                    first,
                    name: config.name,
                });
            }
            let chars = config.secret.chars().count();
            if chars < MIN_SECRET_CHARS {
                return Err(AuthConfigError::ShortSecret {
                    index,
                    name: config.name,
                    chars,
                });
            }
            let digest = digest(config.secret.as_bytes());
            if let Some(first) = validated.iter().position(|t| t.digest == digest) {
                return Err(AuthConfigError::DuplicateSecret {
                    index,
                    first,
                    name: config.name,
                });
            }
            for (role, patterns) in [("produce", &config.produce), ("consume", &config.consume)] {
                if let Some(position) = patterns.iter().position(String::is_empty) {
                    return Err(AuthConfigError::EmptyPattern {
                        index,
                        name: config.name,
                        role,
                        position,
                    });
                }
            }
            validated.push(Token {
                name: config.name,
                digest,
                admin: config.admin,
                produce: config.produce,
                consume: config.consume,
            });
        }
        Ok(Self { tokens: validated })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no tokens (then every request is refused but the public ones).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token of a request's `Authorization: Bearer` header, or `401 UNAUTHORIZED`.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<Caller<'_>, ApiError> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(unauthorized(
                "this broker needs a token: send Authorization: Bearer <token>",
            ));
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, secret)| secret.trim());
        let Some(secret) = secret else {
            return Err(unauthorized(
                "the Authorization header must be Bearer <token>",
            ));
        };
        let presented = digest(secret.as_bytes());
        // Every token is compared, each over its whole digest.
        let mut found = None;
        for token in &self.tokens {
            if same_digest(&token.digest, &presented) {
                found = Some(token);
            }
        }
        found
            .map(|token| Caller { token })
            .ok_or_else(|| unauthorized("unknown token"))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Compares two digests in time independent of where they differ.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
}

/// The token a request came with.
#[derive(Clone, Copy)]
pub(crate) struct Caller<'a> {
    token: &'a Token,
}

impl Caller<'_> {
    /// `Ok` when the token holds `permission`, else `403 FORBIDDEN` naming the role
    /// needed. Groups and messages are looked up in `broker` for their topic.
    pub(crate) fn allow(&self, permission: &Permission, broker: &Broker) -> Result<(), ApiError> {
        if self.token.admin {
            return Ok(());
        }
        match permission {
            Permission::Public | Permission::Authenticated => Ok(()),
            Permission::Admin => Err(forbidden(&self.token.name, "the admin role")),
            Permission::Produce(topic) => self.on_topic(Role::Produce, Some(topic)),
            Permission::AnyProduce => self.on_topic(Role::Produce, None),
            Permission::ProduceDelayed(id) => {
                let topic = broker.scheduled_message(id).ok().map(|s| s.topic);
                self.on_topic(Role::Produce, topic.as_deref())
            }
            Permission::Consume(topic) => self.on_topic(Role::Consume, Some(topic)),
            Permission::ConsumeGroup(group) => {
                let topic = broker.group_topic(group).ok();
                self.on_topic(Role::Consume, topic.as_deref())
            }
            Permission::ConsumeMessage(id) => {
                let topic = match broker.get_by_id(id) {
                    Ok(message) => Some(message.topic),
                    Err(CoreError::MessageNotFound(_)) => {
                        broker.scheduled_message(id).ok().map(|s| s.topic)
                    }
                    Err(_) => None,
                };
                self.on_topic(Role::Consume, topic.as_deref())
            }
            Permission::ConsumeTopicInBody => self.on_topic(Role::Consume, None),
        }
    }

    /// `role` on `topic`; on no topic (it was not found), any `role`.
    fn on_topic(&self, role: Role, topic: Option<&str>) -> Result<(), ApiError> {
        let patterns = match role {
            Role::Produce => &self.token.produce,
            Role::Consume => &self.token.consume,
        };
        let allowed = match topic {
            Some(topic) => patterns
                .iter()
                .any(|pattern| matches_pattern(pattern, topic)),
            None => !patterns.is_empty(),
        };
        if allowed {
            return Ok(());
        }
        let needed = match topic {
            Some(topic) => format!("the {} role on topic '{topic}'", role.name()),
            None => format!("a {} role", role.name()),
        };
        Err(forbidden(&self.token.name, &needed))
    }
}

fn forbidden(token: &str, needed: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        codes::FORBIDDEN,
        format!("token '{token}' may not do this: it needs {needed}"),
    )
}

/// Whether `topic` matches `pattern`, where `*` matches any run of characters (the
/// empty one included) and every other character itself.
pub(crate) fn matches_pattern(pattern: &str, topic: &str) -> bool {
    let (pattern, topic) = (pattern.as_bytes(), topic.as_bytes());
    let (mut p, mut t) = (0, 0);
    // The last star seen and the topic position it was tried at: on a mismatch the
    // star takes one more character. Each step advances `t` or the star's position, so
    // this ends after at most pattern × topic steps.
    let mut star: Option<(usize, usize)> = None;
    while t < topic.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == topic[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::match_route;
    use http::Method;

    fn token(name: &str, secret: &str) -> TokenConfig {
        TokenConfig {
            name: name.into(),
            secret: secret.into(),
            admin: false,
            produce: vec![],
            consume: vec![],
        }
    }

    #[test]
    fn patterns_match_runs_of_characters() {
        for (pattern, topic, expected) in [
            ("orders", "orders", true),
            ("orders", "orders2", false),
            ("orders*", "orders", true),
            ("orders*", "orders.eu", true),
            ("orders.*", "orders", false),
            ("*", "anything", true),
            ("*.eu", "orders.eu", true),
            ("*.eu", "orders.us", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("**", "", true),
            ("o", "", false),
        ] {
            assert_eq!(
                matches_pattern(pattern, topic),
                expected,
                "{pattern} ~ {topic}"
            );
        }
    }

    #[test]
    fn token_configurations_are_validated() {
        let ok = "0123456789abcdef";
        assert_eq!(Auth::new(vec![token("a", ok)]).map(|a| a.len()), Ok(1));
        let cases = [
            (vec![token("", ok)], AuthConfigError::EmptyName { index: 0 }),
            (
                vec![token("a", ok), token("a", "fedcba9876543210")],
                AuthConfigError::DuplicateName {
                    index: 1,
                    first: 0,
                    name: "a".into(),
                },
            ),
            (
                vec![token("a", "short")],
                AuthConfigError::ShortSecret {
                    index: 0,
                    name: "a".into(),
                    chars: 5,
                },
            ),
            (
                vec![token("a", ok), token("b", ok)],
                AuthConfigError::DuplicateSecret {
                    index: 1,
                    first: 0,
                    name: "b".into(),
                },
            ),
        ];
        for (tokens, expected) in cases {
            assert_eq!(Auth::new(tokens).map(|a| a.len()), Err(expected));
        }
        let mut empty = token("a", ok);
        empty.consume = vec!["x".into(), String::new()];
        let err = Auth::new(vec![empty]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "auth.tokens[0].consume[1] (of 'a') is empty: give a topic name or pattern such as \"orders*\""
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let config = token("a", "0123456789abcdef");
        assert!(!format!("{config:?}").contains("0123"));
        let auth = Auth::new(vec![config]).unwrap();
        assert!(!format!("{auth:?}").contains("0123"));
    }

    #[test]
    fn every_route_has_its_permission() {
        let cases = [
            ("GET", "/healthz", Permission::Public),
            ("GET", "/v1/openapi.json", Permission::Public),
            ("GET", "/metrics", Permission::Authenticated),
            ("GET", "/v1/topics/t", Permission::Authenticated),
            ("POST", "/v1/topics", Permission::Admin),
            ("PATCH", "/v1/topics/t", Permission::Admin),
            (
                "POST",
                "/v1/topics/t/messages",
                Permission::Produce("t".into()),
            ),
            ("POST", "/v1/transactions/x/commit", Permission::AnyProduce),
            (
                "GET",
                "/v1/producer-groups/p/checks",
                Permission::AnyProduce,
            ),
            ("GET", "/v1/producer-groups/p", Permission::Admin),
            ("POST", "/v1/transactions/x/resume", Permission::Admin),
            (
                "GET",
                "/v1/topics/t/messages",
                Permission::Consume("t".into()),
            ),
            (
                "GET",
                "/v1/messages/m",
                Permission::ConsumeMessage("m".into()),
            ),
            (
                "POST",
                "/v1/messages/m/cancel",
                Permission::ProduceDelayed("m".into()),
            ),
            ("POST", "/v1/groups", Permission::ConsumeTopicInBody),
            (
                "POST",
                "/v1/groups/g/receive",
                Permission::ConsumeGroup("g".into()),
            ),
            (
                "GET",
                "/v1/groups/g/dlq:export",
                Permission::ConsumeGroup("g".into()),
            ),
            ("POST", "/v1/groups/g/dlq:resend", Permission::Admin),
            ("POST", "/v1/groups/g/reset", Permission::Admin),
            ("DELETE", "/v1/groups/g", Permission::Admin),
            ("PUT", "/v1/modules/m", Permission::Admin),
            ("POST", "/v1/bindings/b/pause", Permission::Admin),
            ("GET", "/v1/status", Permission::Admin),
        ];
        for (method, path, expected) in cases {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let matched = match_route(&method, path).unwrap();
            assert_eq!(
                Permission::of(matched.route.access, &matched.params),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn group_creation_is_checked_against_the_body_topic() {
        assert_eq!(
            consume_topic_in_body(br#"{"name":"g","topic":"orders"}"#),
            Permission::Consume("orders".into())
        );
        assert_eq!(
            consume_topic_in_body(b"{not json"),
            Permission::ConsumeTopicInBody
        );
    }
}
