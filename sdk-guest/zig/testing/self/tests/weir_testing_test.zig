//! Tests of weir_testing.zig, the Zig helpers over the C SDK's test double, through the
//! plugin of src/main.zig.
const std = @import("std");
const testing = @import("weir_testing.zig");

test "handle calls the plugin and the double records what it published" {
    testing.reset();
    defer testing.reset();
    const batch = [_]testing.Message{ testing.message("a", "one"), testing.message("b", "two") };
    var outcomes: [batch.len]testing.Outcome = undefined;
    testing.handle("audit", &batch, &outcomes);
    defer testing.free(&outcomes);
    try std.testing.expectEqual(testing.Kind.ack, testing.kind(outcomes[1]));
    try std.testing.expectEqualStrings("", testing.reason(outcomes[0]));
    try std.testing.expectEqual(2, testing.publishedCount());
    const sent = testing.published(1) orelse return error.NotPublished;
    try std.testing.expectEqualStrings("audit", testing.span(sent.topic));
    try std.testing.expectEqualStrings("two", testing.bytes(sent.body));
    try std.testing.expectEqualStrings("b", testing.publishedProperty(sent, "from") orelse "");
    try std.testing.expectEqual(null, testing.publishedProperty(sent, "to"));
    try std.testing.expectEqual(null, testing.published(2));
    try std.testing.expectEqual(0, testing.logCount());
}

test "a failing publish is retried and logged" {
    testing.reset();
    defer testing.reset();
    testing.failPublish("topic audit does not exist");
    const batch = [_]testing.Message{testing.message("a", "one")};
    var outcomes: [batch.len]testing.Outcome = undefined;
    testing.handle("audit", &batch, &outcomes);
    defer testing.free(&outcomes);
    try std.testing.expectEqual(testing.Kind.retry, testing.kind(outcomes[0]));
    try std.testing.expectEqual(250, outcomes[0].retry_ms);
    try std.testing.expectEqual(1, testing.logCount());
    try std.testing.expectEqualStrings("topic audit does not exist", testing.log(0).?);
    try std.testing.expectEqual(null, testing.log(1));
    testing.failPublish(null);
    testing.handle("audit", &batch, &outcomes);
    try std.testing.expectEqual(testing.Kind.ack, testing.kind(outcomes[0]));
}

test "dedup keys, check-backs, strings, state and the clock" {
    testing.reset();
    defer testing.reset();
    const properties = [_]testing.Property{testing.property("order", "o-9")};
    var m = testing.message("a", "x");
    try std.testing.expectEqual(null, testing.dedupKey("", &m));
    m.properties = &properties;
    m.properties_len = properties.len;
    try std.testing.expectEqualStrings("o-9", testing.dedupKey("", &m) orelse "(no key)");
    try std.testing.expectEqualStrings("a", testing.str(m.id));
    try std.testing.expectEqual(testing.TxState.unknown, testing.check("", &m, 1));
    try std.testing.expectEqual(testing.TxState.commit, testing.check("", &m, 2));
    const weir = @import("weir.zig");
    testing.setNowMs(1000);
    try std.testing.expectEqual(1000, weir.weir_now_ms());
    testing.failStateSet("quota");
    try std.testing.expect(!weir.weir_state_set("k", "v", 1, 0, null));
    testing.failStateSet(null);
    try std.testing.expect(weir.weir_state_set("k", "v", 1, 0, null));
}
