//! forwarder, a Weir consumer in Zig over the C SDK: publishes each message of its group,
//! transformed, to another topic, and acks it once the publish succeeded.
//!
//! * `config.zig`: the binding's config, the target topic and the changes;
//! * `transform.zig`: what happens to a message on its way.
//!
//! A failed publish is retried (after `retry_ms`, or the group's backoff), and so is the
//! rest of the batch, without being published: that keeps the order of a FIFO group and
//! spares a failing target. With `dead_letter_after`, a message whose publish fails on that
//! delivery attempt or a later one is dead-lettered instead of retried (the rest of the
//! batch is still retried). A config that does not parse retries every message with the
//! group's backoff and is logged once per instance.
const std = @import("std");
const weir = @import("weir.zig");
const config_zig = @import("config.zig");
const transform = @import("transform.zig");
const Config = config_zig.Config;

const gpa = std.heap.c_allocator;

/// The parsed config, kept while the binding's config stays the same.
var cache: weir.weir_config_cache_t = .{};

export fn weir_consume_batch(
    text: [*c]const u8,
    batch: [*c]const weir.weir_message_t,
    len: usize,
    outcomes: [*c]weir.weir_outcome_t,
) void {
    if (len == 0) return;
    const parsed = weir.weir_config_cached(&cache, text, parseAndLog, drop);
    const config: ?*const Config = @ptrCast(@alignCast(parsed));
    consume(config, batch[0..len], outcomes[0..len]);
}

fn consume(config: ?*const Config, batch: []const weir.weir_message_t, outcomes: []weir.weir_outcome_t) void {
    const c = config orelse {
        @memset(outcomes, weir.weir_retry(0));
        return;
    };
    var arena = std.heap.ArenaAllocator.init(gpa);
    defer arena.deinit();
    var failed = false;
    for (batch, outcomes) |*message, *outcome| {
        if (failed) {
            outcome.* = weir.weir_retry(c.retry_ms);
            continue;
        }
        _ = arena.reset(.retain_capacity);
        outcome.* = publish(arena.allocator(), c, message);
        failed = outcome.kind != weir.WEIR_ACK;
    }
}

/// Publishes one message: ack, or after a failure retry (dead-letter from the config's
/// `dead_letter_after` attempt on).
fn publish(arena: std.mem.Allocator, config: *const Config, message: *const weir.weir_message_t) weir.weir_outcome_t {
    const out = transform.forward(arena, config, message) catch outOfMemory();
    var failure: weir.weir_buf_t = .{};
    defer weir.weir_buf_free(&failure);
    if (weir.weir_publish(&out, null, &failure)) return weir.weir_ack();

    const id = message.id.ptr[0..message.id.len];
    const reason = std.mem.span(weir.weir_buf_cstr(&failure));
    if (config.dead_letter_after) |after| {
        if (message.attempt >= after) {
            const why = std.fmt.allocPrintSentinel(
                arena,
                "forwarder: publishing {s} to {s} failed on attempt {d}: {s}",
                .{ id, config.to, message.attempt, reason },
                0,
            ) catch outOfMemory();
            log(weir.WEIR_WARN, "{s}; dead-lettering", .{why});
            return weir.weir_dead_letter("%s", why.ptr);
        }
    }
    log(weir.WEIR_WARN, "forwarder: publishing {s} to {s} failed: {s}; retrying", .{ id, config.to, reason });
    return weir.weir_retry(config.retry_ms);
}

/// The parsed config, or null when it is invalid (logged once per config).
fn parseAndLog(text: [*c]const u8) callconv(.c) ?*anyopaque {
    const source = std.mem.span(text);
    var diagnostic: config_zig.Diagnostic = .{};
    defer diagnostic.deinit(gpa);
    const parsed = Config.parse(gpa, source, &diagnostic) catch |err| switch (err) {
        error.InvalidConfig => {
            log(weir.WEIR_ERROR, "forwarder: invalid config \"{s}\": {s}; messages are retried", .{ source, diagnostic.message.items });
            return null;
        },
        error.OutOfMemory => outOfMemory(),
    };
    const config = gpa.create(Config) catch outOfMemory();
    config.* = parsed;
    return config;
}

fn drop(parsed: ?*anyopaque) callconv(.c) void {
    const config: *Config = @ptrCast(@alignCast(parsed orelse return));
    config.deinit(gpa);
    gpa.destroy(config);
}

/// A line in the broker's log.
fn log(level: weir.weir_level_t, comptime format: []const u8, args: anytype) void {
    const line = std.fmt.allocPrint(gpa, format, args) catch outOfMemory();
    defer gpa.free(line);
    weir.weir_log_str(level, line.ptr, line.len);
}

fn outOfMemory() noreturn {
    @panic("forwarder: out of memory");
}

/// A panic puts its message in the broker's log and traps, which fails the call (the
/// broker retries the batch); the default handler would bring a whole stderr writer.
pub const panic = std.debug.FullPanic(struct {
    fn trap(message: []const u8, _: ?usize) noreturn {
        weir.weir_log_str(weir.WEIR_ERROR, message.ptr, message.len);
        @trap();
    }
}.trap);

test {
    _ = config_zig;
    _ = transform;
}

const testing = std.testing;

fn testMessage(id: [*:0]const u8, body: [*:0]const u8) weir.weir_message_t {
    var m = weir.weir_testing_message(id, body);
    m.topic = weir.weir_str("orders");
    return m;
}

fn onAttempt(id: [*:0]const u8, n: u32) weir.weir_message_t {
    var m = testMessage(id, "x");
    m.attempt = n;
    return m;
}

/// Calls the plugin as the broker would.
fn handle(comptime n: usize, config: [*:0]const u8, batch: *const [n]weir.weir_message_t) [n]weir.weir_outcome_t {
    var outcomes: [n]weir.weir_outcome_t = undefined;
    weir.weir_testing_handle(config, batch, n, &outcomes);
    return outcomes;
}

fn free(outcomes: []weir.weir_outcome_t) void {
    for (outcomes) |*outcome| weir.weir_outcome_free(outcome);
}

fn expectAck(outcome: weir.weir_outcome_t) !void {
    try testing.expectEqual(weir.WEIR_ACK, @as(c_int, @intCast(outcome.kind)));
}

fn expectRetry(ms: u64, outcome: weir.weir_outcome_t) !void {
    try testing.expectEqual(weir.WEIR_RETRY, @as(c_int, @intCast(outcome.kind)));
    try testing.expectEqual(ms, outcome.retry_ms);
}

fn expectDeadLetter(reason: []const u8, outcome: weir.weir_outcome_t) !void {
    try testing.expectEqual(weir.WEIR_DEAD_LETTER, @as(c_int, @intCast(outcome.kind)));
    try testing.expectEqualStrings(reason, std.mem.span(outcome.reason));
}

fn published(i: usize) *const weir.weir_testing_outgoing_t {
    return weir.weir_testing_published(i);
}

fn expectLog(i: usize, level: c_int, text: []const u8) !void {
    const line = weir.weir_testing_log(i);
    try testing.expectEqual(level, @as(c_int, @intCast(line.*.level)));
    try testing.expectEqualStrings(text, std.mem.span(line.*.text));
}

test "forwards and acks every message" {
    weir.weir_testing_reset();
    var out = handle(2, "{\"to\":\"orders-eu\",\"add_properties\":{\"region\":\"eu\"},\"uppercase\":true}", &.{
        testMessage("a", "one"),
        testMessage("b", "two"),
    });
    defer free(&out);
    try expectAck(out[0]);
    try expectAck(out[1]);
    try testing.expectEqual(2, weir.weir_testing_published_count());
    try testing.expectEqualStrings("orders-eu", std.mem.span(published(0).topic));
    try testing.expectEqualStrings("ONE", std.mem.span(weir.weir_buf_cstr(&published(0).body)));
    try testing.expectEqual(1, published(1).properties_len);
    try testing.expectEqualStrings("eu", std.mem.span(weir.weir_testing_published_property(published(1), "region")));
    try testing.expectEqual(0, weir.weir_testing_log_count());
}

test "a bare topic is a config" {
    weir.weir_testing_reset();
    var out = handle(1, "audit", &.{testMessage("a", "x")});
    defer free(&out);
    try expectAck(out[0]);
    try testing.expectEqualStrings("audit", std.mem.span(published(0).topic));
}

test "a failed publish retries it and the rest of the batch" {
    weir.weir_testing_reset();
    weir.weir_testing_fail_publish("topic orders-eu does not exist");
    var out = handle(2, "{\"to\":\"orders-eu\",\"retry_ms\":500}", &.{ testMessage("a", "1"), testMessage("b", "2") });
    defer free(&out);
    try expectRetry(500, out[0]);
    try expectRetry(500, out[1]);
    try testing.expectEqual(1, weir.weir_testing_log_count());
    try expectLog(0, weir.WEIR_WARN, "forwarder: publishing a to orders-eu failed: topic orders-eu does not exist; retrying");
}

test "a bad config retries everything with the group backoff, logged once" {
    weir.weir_testing_reset();
    for (0..2) |_| {
        var out = handle(2, "{\"too\":\"x\"}", &.{ testMessage("a", "1"), testMessage("b", "2") });
        defer free(&out);
        try expectRetry(0, out[0]);
        try expectRetry(0, out[1]);
    }
    try testing.expectEqual(0, weir.weir_testing_published_count());
    try testing.expectEqual(1, weir.weir_testing_log_count());
    try expectLog(0, weir.WEIR_ERROR, "forwarder: invalid config \"{\"too\":\"x\"}\": unknown field `too`; messages are retried");
}

test "fixing the config lets messages through" {
    weir.weir_testing_reset();
    var before = handle(1, "{\"to\":\"\"}", &.{testMessage("a", "1")});
    defer free(&before);
    try expectRetry(0, before[0]);
    var after = handle(1, "{\"to\":\"audit\"}", &.{testMessage("a", "1")});
    defer free(&after);
    try expectAck(after[0]);
    try testing.expectEqual(1, weir.weir_testing_published_count());
}

const dead_letter_config = "{\"to\":\"orders-eu\",\"retry_ms\":500,\"dead_letter_after\":3}";

test "dead_letter_after: a failed publish on that attempt dead-letters, the rest of the batch is retried" {
    weir.weir_testing_reset();
    weir.weir_testing_fail_publish("topic orders-eu does not exist");
    var out = handle(2, dead_letter_config, &.{ onAttempt("a", 3), onAttempt("b", 7) });
    defer free(&out);
    const reason = "forwarder: publishing a to orders-eu failed on attempt 3: topic orders-eu does not exist";
    try expectDeadLetter(reason, out[0]);
    try expectRetry(500, out[1]);
    try testing.expectEqual(1, weir.weir_testing_log_count());
    try expectLog(0, weir.WEIR_WARN, reason ++ "; dead-lettering");
}

test "dead_letter_after: earlier attempts are retried" {
    weir.weir_testing_reset();
    weir.weir_testing_fail_publish("no route");
    var out = handle(2, dead_letter_config, &.{ onAttempt("a", 2), onAttempt("b", 9) });
    defer free(&out);
    try expectRetry(500, out[0]);
    try expectRetry(500, out[1]);
    try expectLog(0, weir.WEIR_WARN, "forwarder: publishing a to orders-eu failed: no route; retrying");
}

test "dead_letter_after: later attempts dead-letter too, and 1 gives up at once" {
    weir.weir_testing_reset();
    weir.weir_testing_fail_publish("no route");
    var late = handle(1, dead_letter_config, &.{onAttempt("a", 12)});
    defer free(&late);
    try expectDeadLetter("forwarder: publishing a to orders-eu failed on attempt 12: no route", late[0]);
    var first = handle(1, "{\"to\":\"t\",\"dead_letter_after\":1}", &.{onAttempt("b", 1)});
    defer free(&first);
    try expectDeadLetter("forwarder: publishing b to t failed on attempt 1: no route", first[0]);
}

test "dead_letter_after: messages after a dead-lettered one are not published" {
    weir.weir_testing_reset();
    var ok = handle(1, dead_letter_config, &.{onAttempt("a", 5)});
    defer free(&ok);
    try expectAck(ok[0]);
    try testing.expectEqual(1, weir.weir_testing_published_count());
    weir.weir_testing_fail_publish("full");
    var out = handle(3, dead_letter_config, &.{ onAttempt("b", 4), onAttempt("c", 1), onAttempt("d", 4) });
    defer free(&out);
    try expectDeadLetter("forwarder: publishing b to orders-eu failed on attempt 4: full", out[0]);
    try expectRetry(500, out[1]);
    try expectRetry(500, out[2]);
    try testing.expectEqual(1, weir.weir_testing_log_count());
    weir.weir_testing_fail_publish(null);
    var again = handle(1, dead_letter_config, &.{onAttempt("c", 2)});
    defer free(&again);
    try expectAck(again[0]);
    try testing.expectEqual(2, weir.weir_testing_published_count());
}

test "without dead_letter_after (or with null) a failed publish is always retried" {
    weir.weir_testing_reset();
    weir.weir_testing_fail_publish("no route");
    for ([_][*:0]const u8{ "orders-eu", "{\"to\":\"orders-eu\"}", "{\"to\":\"orders-eu\",\"dead_letter_after\":null}" }) |config| {
        var out = handle(1, config, &.{onAttempt("a", 1000)});
        defer free(&out);
        try expectRetry(0, out[0]);
    }
}

test "a bad dead_letter_after is refused like any bad field" {
    weir.weir_testing_reset();
    var out = handle(1, "{\"to\":\"t\",\"dead_letter_after\":0}", &.{onAttempt("a", 1)});
    defer free(&out);
    try expectRetry(0, out[0]);
    try testing.expectEqual(0, weir.weir_testing_published_count());
    try expectLog(0, weir.WEIR_ERROR, "forwarder: invalid config \"{\"to\":\"t\",\"dead_letter_after\":0}\": `dead_letter_after` must be a positive integer; messages are retried");
}
