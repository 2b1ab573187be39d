//! json-dedup, a Weir dedup filter in Zig over the C SDK: the dedup key of a message is the
//! value of one or more fields of its JSON body, named by the binding's config
//! (`fields.zig`).
//!
//! A string value is the key as it is; a number or boolean is its JSON text; an object or
//! array is its compact JSON text with sorted keys; `null`, a missing field or a body that
//! is not JSON gives no key. Several fields are joined by U+001F. A config that does not
//! parse is logged once per instance and gives no keys: a broken binding lets messages
//! through rather than dropping them.
const std = @import("std");
const weir = @import("weir.zig");
const fields_zig = @import("fields.zig");
const Fields = fields_zig.Fields;

const gpa = std.heap.c_allocator;

/// The parsed config, kept while the binding's config stays the same.
var cache: weir.weir_config_cache_t = .{};

export fn weir_dedup_key(
    text: [*c]const u8,
    message: [*c]const weir.weir_message_t,
    key: [*c]weir.weir_buf_t,
) bool {
    const parsed = weir.weir_config_cached(&cache, text, parseAndLog, drop);
    const fields: *const Fields = @ptrCast(@alignCast(parsed orelse return false));
    const body = if (message.*.body_len == 0) "" else message.*.body[0..message.*.body_len];
    if (fields.keyOf(body, key)) return true;
    weir.weir_buf_clear(key);
    return false;
}

/// The parsed config, or null when it is invalid (logged once per config).
fn parseAndLog(text: [*c]const u8) callconv(.c) ?*anyopaque {
    const source = std.mem.span(text);
    var diagnostic: fields_zig.Diagnostic = .{};
    defer diagnostic.deinit(gpa);
    const parsed = Fields.parse(gpa, source, &diagnostic) catch |err| switch (err) {
        error.InvalidConfig => {
            const line = std.fmt.allocPrint(gpa, "json-dedup: invalid config \"{s}\": {s}; no message gets a key", .{ source, diagnostic.message.items }) catch outOfMemory();
            defer gpa.free(line);
            weir.weir_log_str(weir.WEIR_ERROR, line.ptr, line.len);
            return null;
        },
        error.OutOfMemory => outOfMemory(),
    };
    const fields = gpa.create(Fields) catch outOfMemory();
    fields.* = parsed;
    return fields;
}

fn drop(parsed: ?*anyopaque) callconv(.c) void {
    const fields: *Fields = @ptrCast(@alignCast(parsed orelse return));
    fields.deinit(gpa);
    gpa.destroy(fields);
}

fn outOfMemory() noreturn {
    @panic("json-dedup: out of memory");
}

/// A panic puts its message in the broker's log and traps, which fails the call; the
/// default handler would bring a whole stderr writer.
pub const panic = std.debug.FullPanic(struct {
    fn trap(message: []const u8, _: ?usize) noreturn {
        weir.weir_log_str(weir.WEIR_ERROR, message.ptr, message.len);
        @trap();
    }
}.trap);

test {
    _ = fields_zig;
}

const testing = std.testing;

/// The key the filter gives a body under a config, as the broker would ask for it.
fn keyOf(config: [*:0]const u8, body: [*:0]const u8) ?[]const u8 {
    const message = weir.weir_testing_message("m", body);
    const found = weir.weir_testing_dedup_key(config, &message);
    return if (found == null) null else std.mem.span(found);
}

fn expectKey(expected: ?[]const u8, config: [*:0]const u8, body: [*:0]const u8) !void {
    const actual = keyOf(config, body);
    if (expected) |e| {
        if (actual) |a| return testing.expectEqualStrings(e, a);
        std.debug.print("{s} under {s}: no key, expected \"{s}\"\n", .{ body, config, e });
        return error.TestExpectedEqual;
    }
    if (actual) |a| {
        std.debug.print("{s} under {s}: key \"{s}\", expected none\n", .{ body, config, a });
        return error.TestExpectedEqual;
    }
}

test "keys" {
    try expectKey("A-17", "order.id", "{\"order\":{\"id\":\"A-17\",\"total\":3}}");
    try expectKey("17", "{\"field\":\"order.id\"}", "{\"order\":{\"id\":17}}");
    try expectKey("17", "order.id", "{\"order\":{\"id\":\"17\"}}");
    try expectKey("t1\x1f9", "{\"fields\":[\"tenant\",\"order.id\"]}", "{\"tenant\":\"t1\",\"order\":{\"id\":9}}");
    try expectKey(null, "{\"fields\":[\"tenant\",\"order.id\"]}", "{\"tenant\":\"t1\"}");
    try expectKey(null, "{\"fields\":[\"tenant\",\"order.id\"]}", "{\"tenant\":\"t1\",\"order\":{\"id\":null}}");
    try expectKey(null, "id", "not json");
    try expectKey(null, "id", "");
    try expectKey(null, "id", "{\"other\":1}");
    try expectKey(null, "id", "{\"id\":null}");
    try expectKey(null, "id", "[1,2]");
    const items = "{\"items\":[{\"sku\":\"x\"},{\"sku\":\"y\"}]}";
    try expectKey("y", "items.1.sku", items);
    try expectKey("x", "/items/0/sku", items);
    try expectKey("x", "items.+0.sku", items);
    try expectKey(null, "items.2.sku", items);
    try expectKey(null, "items.first.sku", items);
    const escaped = "{\"a/b\":{\"c~d\":1},\"x.y\":2}";
    try expectKey("1", "/a~1b/c~0d", escaped);
    try expectKey("2", "/x.y", escaped);
    try expectKey(null, "x.y", escaped);
}

test "values become keys" {
    try expectKey("a", "v", "{\"v\":\"a\"}");
    try expectKey("1.5", "v", "{\"v\":1.5}");
    try expectKey("1000.0", "v", "{\"v\":1e3}");
    try expectKey("1e20", "v", "{\"v\":1e20}");
    try expectKey("0.0001", "v", "{\"v\":0.0001}");
    try expectKey("true", "v", "{\"v\":true}");
    try expectKey("{\"a\":2,\"b\":1}", "v", "{\"v\":{\"b\":1,\"a\":2}}");
    try expectKey("[\"x\\n\",{\"k\":2}]", "v", "{\"v\":[\"x\\n\",{\"k\":1,\"k\":2}]}");
    try expectKey("é😀", "v", "{\"v\":\"\\u00e9\\ud83d\\ude00\"}");
}

test "hostile bodies are refused, not crashed on" {
    const deep = try testing.allocator.allocSentinel(u8, 100_000, 0);
    defer testing.allocator.free(deep);
    @memset(deep, '[');
    try expectKey(null, "0", deep);
    for ([_][*:0]const u8{ "{\"v\":\"\\ud800\"}", "{\"v\":1e999}", "{\"v\":01}", "{\"v\":\"\x01\"}", "{\"v\":1,}", "{\"v\":\"\xff\"}", "{\"v\":tru}", "{\"v\":\"x" }) |body| {
        try expectKey(null, "v", body);
    }
}

test "a bad config gives no keys and is logged once" {
    weir.weir_testing_reset();
    try expectKey(null, "{not json", "{\"id\":1}");
    try expectKey(null, "{not json", "{\"id\":1}");
    try testing.expectEqual(1, weir.weir_testing_log_count());
    const line = weir.weir_testing_log(0);
    try testing.expectEqual(weir.WEIR_ERROR, @as(c_int, @intCast(line.*.level)));
    try testing.expectStringStartsWith(std.mem.span(line.*.text), "json-dedup: invalid config \"{not json\": ");
    try testing.expectStringEndsWith(std.mem.span(line.*.text), "; no message gets a key");
}

test "fixing the config gives keys again" {
    weir.weir_testing_reset();
    try expectKey(null, "{\"feld\":\"id\"}", "{\"id\":1}");
    try expectKey("1", "{\"field\":\"id\"}", "{\"id\":1}");
    try testing.expectEqual(1, weir.weir_testing_log_count());
    try testing.expectEqualStrings(
        "json-dedup: invalid config \"{\"feld\":\"id\"}\": unknown field `feld`, expected `field` or `fields`; no message gets a key",
        std.mem.span(weir.weir_testing_log(0).*.text),
    );
}
