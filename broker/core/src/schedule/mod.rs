//! The scheduling core: one timer service for everything time-based in the broker.

pub(crate) mod wheel;
