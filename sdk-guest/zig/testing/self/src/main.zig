//! A plugin of every world at once, for the tests of weir_testing.zig: it forwards each
//! message to the topic named by the config (retrying it when publishing fails), keys
//! messages by their "order" property and commits transactions once checked twice.
const std = @import("std");
const weir = @import("weir.zig");

export fn weir_consume_batch(
    config: [*c]const u8,
    batch: [*c]const weir.weir_message_t,
    len: usize,
    outcomes: [*c]weir.weir_outcome_t,
) void {
    for (0..len) |i| {
        const m = &batch[i];
        const properties = [_]weir.weir_property_t{.{ .name = weir.weir_str("from"), .value = m.id }};
        const out = weir.weir_outgoing_t{
            .topic = config,
            .properties = &properties,
            .properties_len = properties.len,
            .body = m.body,
            .body_len = m.body_len,
        };
        var error_text = std.mem.zeroes(weir.weir_buf_t);
        defer weir.weir_buf_free(&error_text);
        if (weir.weir_publish(&out, null, &error_text)) {
            outcomes[i] = weir.weir_ack();
        } else {
            weir.weir_log_str(weir.WEIR_WARN, error_text.ptr, error_text.len);
            outcomes[i] = weir.weir_retry(250);
        }
    }
}

export fn weir_dedup_key(
    config: [*c]const u8,
    message: [*c]const weir.weir_message_t,
    key: [*c]weir.weir_buf_t,
) bool {
    _ = config;
    const value = weir.weir_message_property(message, "order");
    if (value == null) return false;
    weir.weir_buf_append(key, value.*.ptr, value.*.len);
    return true;
}

export fn weir_tx_check(
    config: [*c]const u8,
    half: [*c]const weir.weir_message_t,
    checks: u32,
) weir.weir_tx_state_t {
    _ = config;
    _ = half;
    return if (checks >= 2) weir.WEIR_TX_COMMIT else weir.WEIR_TX_UNKNOWN;
}

test "a test in the plugin's own source runs too" {
    try std.testing.expect(weir.weir_str_eq(weir.weir_str("x"), "x"));
}
