//! ack-all: a consumer that acks every message (for benchmarks), in Zig over the C SDK.
const weir = @import("weir.zig");

export fn weir_consume_batch(
    config: [*c]const u8,
    batch: [*c]const weir.weir_message_t,
    len: usize,
    outcomes: [*c]weir.weir_outcome_t,
) void {
    _ = config;
    _ = batch;
    for (0..len) |i| outcomes[i] = weir.weir_ack();
}
