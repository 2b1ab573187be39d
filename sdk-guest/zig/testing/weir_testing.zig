//! weir_testing.zig: Zig helpers over the C SDK's in-memory host (weir_testing.h), for
//! native tests of a Zig plugin. `testing/run.sh` puts this file beside the project's
//! tests, with `weir.zig` translated natively from weir.h, weir_json.h and weir_testing.h
//! (so the whole C API of the double is in `weir` as well):
//!
//!   const std = @import("std");
//!   const weir = @import("weir.zig");
//!   const testing = @import("weir_testing.zig");
//!
//!   test "acks a message" {
//!       testing.reset();
//!       const batch = [_]testing.Message{testing.message("m-1", "hello")};
//!       var outcomes: [batch.len]testing.Outcome = undefined;
//!       testing.handle("audit", &batch, &outcomes);
//!       defer testing.free(&outcomes);
//!       try std.testing.expectEqual(testing.Kind.ack, testing.kind(outcomes[0]));
//!   }
//!
//! The plugin's exports (src/main.zig) are what handle, dedupKey and check call, as the
//! broker would. Strings answered here are borrowed from the double: valid until the next
//! call of the plugin or reset().
const std = @import("std");
const weir = @import("weir.zig");

pub const Message = weir.weir_message_t;
pub const Outcome = weir.weir_outcome_t;
pub const Property = weir.weir_property_t;

/// What an outcome tells the broker.
pub const Kind = enum(c_uint) {
    ack = weir.WEIR_ACK,
    retry = weir.WEIR_RETRY,
    dead_letter = weir.WEIR_DEAD_LETTER,
};

/// What a transaction checker answers.
pub const TxState = enum(c_uint) {
    commit = weir.WEIR_TX_COMMIT,
    rollback = weir.WEIR_TX_ROLLBACK,
    unknown = weir.WEIR_TX_UNKNOWN,
};

/// Forgets logs, state, published messages, HTTP calls and every setting.
pub fn reset() void {
    weir.weir_testing_reset();
}

/// Fixes the clock at `ms` (state expiry follows it).
pub fn setNowMs(ms: i64) void {
    weir.weir_testing_set_now_ms(ms);
}

/// A message with this id and body (topic "test", attempt 1, the rest empty). The strings
/// are borrowed: they must outlive the message.
pub fn message(id: [*:0]const u8, body: [*:0]const u8) Message {
    return weir.weir_testing_message(id, body);
}

/// A property for `Message.properties` (the strings are borrowed, as in `message`).
pub fn property(name: [*:0]const u8, value: [*:0]const u8) Property {
    return .{ .name = weir.weir_str(name), .value = weir.weir_str(value) };
}

/// Calls the plugin's weir_consume_batch as the broker would: one outcome per message of
/// `batch`, in order. Release the outcomes with `free`.
pub fn handle(config: [*:0]const u8, batch: []const Message, outcomes: []Outcome) void {
    std.debug.assert(outcomes.len == batch.len);
    weir.weir_testing_handle(config, batch.ptr, batch.len, outcomes.ptr);
}

/// Releases the reasons of outcomes.
pub fn free(outcomes: []Outcome) void {
    for (outcomes) |*outcome| weir.weir_outcome_free(outcome);
}

pub fn kind(outcome: Outcome) Kind {
    return @fromBackingInt(outcome.kind);
}

/// The dead-letter reason of an outcome ("" for the others).
pub fn reason(outcome: Outcome) []const u8 {
    return span(outcome.reason);
}

/// The plugin's dedup key of a message, or null: no key (never a duplicate).
pub fn dedupKey(config: [*:0]const u8, m: *const Message) ?[]const u8 {
    const key = weir.weir_testing_dedup_key(config, m);
    return if (key == null) null else std.mem.span(key);
}

/// The plugin's answer to the `checks`-th check-back of a half message.
pub fn check(config: [*:0]const u8, half: *const Message, checks: u32) TxState {
    return @fromBackingInt(weir.weir_testing_check(config, half, checks));
}

/// How many lines the plugin logged, and the text of the i-th (null past the end).
pub fn logCount() usize {
    return weir.weir_testing_log_count();
}
pub fn log(i: usize) ?[]const u8 {
    const line = weir.weir_testing_log(i);
    return if (line == null) null else span(line.*.text);
}

/// How many messages the plugin published, and the i-th (null past the end): its topic,
/// body and property values through `str`, `span` and `publishedProperty`.
pub fn publishedCount() usize {
    return weir.weir_testing_published_count();
}
pub fn published(i: usize) ?*const weir.weir_testing_outgoing_t {
    return weir.weir_testing_published(i);
}
pub fn publishedProperty(m: *const weir.weir_testing_outgoing_t, name: [*:0]const u8) ?[]const u8 {
    const value = weir.weir_testing_published_property(m, name);
    return if (value == null) null else std.mem.span(value);
}

/// Makes every following publish (state write) fail with `why`; null: succeed again.
pub fn failPublish(why: ?[*:0]const u8) void {
    weir.weir_testing_fail_publish(why);
}
pub fn failStateSet(why: ?[*:0]const u8) void {
    weir.weir_testing_fail_state_set(why);
}

/// The bytes of an SDK string or buffer, and of a C string (null gives "").
pub fn str(s: weir.weir_str_t) []const u8 {
    return if (s.ptr == null) "" else s.ptr[0..s.len];
}
pub fn bytes(buf: weir.weir_buf_t) []const u8 {
    return if (buf.ptr == null) "" else buf.ptr[0..buf.len];
}
pub fn span(text: [*c]const u8) []const u8 {
    return if (text == null) "" else std.mem.span(text);
}
