//! One function per fuzz target, each the decoder's hook with the other side of its
//! format plugged in. The test suite's corpus replay (`tests/fuzz_corpus.rs`) includes
//! this file by path, so both run exactly these.

/// `record`: the commitlog record decoder.
pub fn record(data: &[u8]) {
    weir_store::fuzzing::record(data);
}

/// `batch`: the binary batch decoder (with the broker's default message limit) against
/// its encoder.
pub fn batch(data: &[u8]) {
    weir_wire::fuzzing::batch(data, weir_core::Limits::default().max_batch_messages);
}

/// `message_list`: the binary message-list decoder against its encoder.
pub fn message_list(data: &[u8]) {
    weir_wire::fuzzing::message_list(data);
}

/// `receipt`: receipt handles.
pub fn receipt(data: &[u8]) {
    weir_core::group::Receipt::fuzz(data);
}

/// `headers`: the `weir-*` headers of a raw send.
pub fn headers(data: &[u8]) {
    weir_api::fuzzing::headers(data);
}

/// `json_bodies`: every JSON request body, through the router.
pub fn json_bodies(data: &[u8]) {
    weir_api::fuzzing::json_bodies(data);
}

/// A target: its name and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by name, for the corpus replay and `scripts/fuzz`.
pub const ALL: &[Target] = &[
    ("record", record),
    ("batch", batch),
    ("message_list", message_list),
    ("receipt", receipt),
    ("headers", headers),
    ("json_bodies", json_bodies),
];
