//! Weir's HTTP ingress: turns HTTP requests into validated core calls and core results
//! into HTTP responses.
//!
//! It owns routing, request parsing (JSON bodies, `weir-*` headers, the binary batch
//! format), the mapping of every error to a status and a stable code, the OpenAPI
//! document, and the metrics endpoint. It must not decide anything about messages: that
//! is `weir-core`'s job.
//!
//! With [`App::with_auth`], requests need a bearer token whose roles allow the route
//! (see [`Auth`]).
//!
//! The [`App`] handles requests without a socket (routers are tested that way);
//! [`serve`] runs it on a listener with HTTP/1.1 and HTTP/2.

mod app;
mod auth;
mod body;
mod checkback;
pub mod connection;
mod delayed;
mod dlq;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod groups;
pub mod headers;
mod message_list;
mod metrics;
mod ops;
mod plugins;
mod query;
mod response;
mod routes;
mod send;
mod server;
mod topics;
mod transactions;
mod wire;

pub use app::{
    ApiLimits, App, MAX_CONTROL_BYTES, MAX_HEADER_BYTES, MAX_IGNORED_BODY_BYTES,
    MESSAGE_ENVELOPE_BYTES,
};
pub use auth::{Auth, AuthConfigError, MIN_SECRET_CHARS, TokenConfig};
pub use body::RequestBody;
pub use connection::{ConnectionCounts, ConnectionLimits, ConnectionStats};
pub use error::{ApiError, MAX_ERROR_MESSAGE_BYTES};
pub use metrics::Metrics;
pub use response::{ResponseBody, StreamAborted};
pub use routes::{Access, BodyLimit, ROUTES, RouteSpec};
pub use server::{serve, serve_with_limits};
