//! Connection hygiene: the timeouts, caps and limits that keep idle, slow or hostile
//! clients from holding the broker's sockets and file descriptors.
//!
//! - [`limits`]: every limit, named, with its default and reason;
//! - [`registry`]: the open connections, their activity, the descriptor-aware cap and
//!   eviction of the longest idle connection at it;
//! - [`io`]: the socket wrapper that reports traffic and gives hyper's own parse-error
//!   answers a JSON body;
//! - [`request_body`]: request bodies under a pause timeout and a minimum rate.
//!
//! The server loop (`crate::server`) wires them together per connection.

pub(crate) mod io;
pub(crate) mod limits;
pub(crate) mod metrics;
pub(crate) mod registry;
pub(crate) mod request_body;

pub use limits::*;
pub use registry::{ConnectionCounts, ConnectionStats, raise_fd_limit};
pub use request_body::BodyTimeout;
