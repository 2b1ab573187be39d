//! Loading precompiled components: the one place in the plugin host that uses `unsafe`.
//!
//! Wasmtime trusts a precompiled artifact completely (it is native code plus metadata),
//! so it must come from us. [`VerifiedArtifact`] can only be built from bytes whose
//! SHA-256 matches the hash the registry recorded when this host compiled and wrote
//! them, and loading takes those very bytes from memory, so nothing can change them
//! between the check and the load.
#![allow(unsafe_code)]

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::artifacts::sha256_hex;

/// Bytes of a precompiled artifact whose hash matched the registry's record.
pub(crate) struct VerifiedArtifact(Vec<u8>);

impl VerifiedArtifact {
    /// Checks `bytes` against the hash recorded when the artifact was written.
    pub(crate) fn check(bytes: Vec<u8>, expected_sha256: &str) -> Option<Self> {
        (sha256_hex(&bytes) == expected_sha256).then_some(Self(bytes))
    }

    /// Loads the component without compiling. Fails (safely) when the artifact was made
    /// by another wasmtime version or engine configuration.
    pub(crate) fn load(&self, engine: &Engine) -> wasmtime::Result<Component> {
        // SAFETY: `Component::deserialize` requires bytes produced by `serialize` of a
        // compatible engine and not tampered with. These bytes were produced by this
        // host's `Component::serialize`, written only by this host under the module
        // directory (named by content hash, through a temporary file and an atomic
        // rename), and their SHA-256 was checked against the hash recorded in the
        // commitlog at write time just before this call, on this in-memory copy.
        // Version and configuration mismatches are detected by wasmtime and returned as
        // errors.
        unsafe { Component::deserialize(engine, &self.0) }
    }
}
