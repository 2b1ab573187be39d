//! What happens to a message on its way to the target topic.
//!
//! Keys, message group, properties and body travel unchanged, then the config's changes
//! apply in this order: properties removed, properties added (replacing the first of the
//! same name, or appended), the origin property, the tag, the body upper-cased.
const std = @import("std");
const Allocator = std.mem.Allocator;
const weir = @import("weir.zig");
const Config = @import("config.zig").Config;

/// The message to publish for `message` under `config`. It points into `arena`, `config`
/// and `message`, which must outlive the publish.
pub fn forward(arena: Allocator, config: *const Config, message: *const weir.weir_message_t) Allocator.Error!weir.weir_outgoing_t {
    const most = message.properties_len + config.add_properties.len + 1;
    var properties: std.ArrayList(weir.weir_property_t) = try .initCapacity(arena, most);
    for (many(message.properties, message.properties_len)) |property| {
        if (!contains(config.remove_properties, slice(property.name))) {
            properties.appendAssumeCapacity(property);
        }
    }
    for (config.add_properties) |property| set(&properties, str(property.name), str(property.value));
    if (config.origin_property) |name| set(&properties, str(name), message.id);

    var body = many(message.body, message.body_len);
    if (config.uppercase) {
        var upper: weir.weir_buf_t = .{};
        defer weir.weir_buf_free(&upper);
        if (weir.weir_utf8_upper(body.ptr, body.len, &upper) and upper.len > 0) {
            body = try arena.dupe(u8, upper.ptr[0..upper.len]);
        }
    }

    return .{
        .topic = config.to.ptr,
        .keys = message.keys,
        .keys_len = message.keys_len,
        .tag = if (config.tag) |tag| tag.ptr else if (message.has_tag) message.tag.ptr else null,
        .message_group = if (message.has_message_group) message.message_group.ptr else null,
        .properties = properties.items.ptr,
        .properties_len = properties.items.len,
        .body = body.ptr,
        .body_len = body.len,
    };
}

/// Sets a property: replaces the value of the first of the same name, or appends it.
fn set(properties: *std.ArrayList(weir.weir_property_t), name: weir.weir_str_t, value: weir.weir_str_t) void {
    for (properties.items) |*property| {
        if (std.mem.eql(u8, slice(property.name), slice(name))) {
            property.value = value;
            return;
        }
    }
    properties.appendAssumeCapacity(.{ .name = name, .value = value });
}

fn contains(names: []const []const u8, name: []const u8) bool {
    for (names) |candidate| {
        if (std.mem.eql(u8, candidate, name)) return true;
    }
    return false;
}

/// The `len` items at `ptr`, a C pointer that may be null when `len` is 0.
fn many(ptr: anytype, len: usize) []const @TypeOf(ptr[0]) {
    return if (len == 0) &.{} else ptr[0..len];
}

fn slice(s: weir.weir_str_t) []const u8 {
    return many(s.ptr, s.len);
}

fn str(s: [:0]const u8) weir.weir_str_t {
    return .{ .ptr = s.ptr, .len = s.len };
}

const testing = std.testing;
const Diagnostic = @import("config.zig").Diagnostic;

fn parse(text: []const u8) !Config {
    var diagnostic: Diagnostic = .{};
    defer diagnostic.deinit(testing.allocator);
    return Config.parse(testing.allocator, text, &diagnostic);
}

fn expectProperties(expected: []const [2][]const u8, out: weir.weir_outgoing_t) !void {
    try testing.expectEqual(expected.len, out.properties_len);
    for (expected, out.properties[0..out.properties_len]) |pair, property| {
        try testing.expectEqualStrings(pair[0], slice(property.name));
        try testing.expectEqualStrings(pair[1], slice(property.value));
    }
}

test "applies every change" {
    var config = try parse(
        \\{"to":"eu","add_properties":{"region":"eu","kind":"new"},
        \\ "remove_properties":["internal"],"tag":"fwd","uppercase":true,
        \\ "origin_property":"from"}
    );
    defer config.deinit(testing.allocator);
    const keys = [_]weir.weir_str_t{weir.weir_str("k")};
    const properties = [_]weir.weir_property_t{
        .{ .name = weir.weir_str("kind"), .value = weir.weir_str("old") },
        .{ .name = weir.weir_str("internal"), .value = weir.weir_str("x") },
    };
    var message = weir.weir_testing_message("m-1", "grüße");
    message.keys = &keys;
    message.keys_len = keys.len;
    message.has_tag = true;
    message.tag = weir.weir_str("old");
    message.has_message_group = true;
    message.message_group = weir.weir_str("g");
    message.properties = &properties;
    message.properties_len = properties.len;

    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const out = try forward(arena.allocator(), &config, &message);
    try testing.expectEqualStrings("eu", std.mem.span(out.topic));
    try testing.expectEqual(1, out.keys_len);
    try testing.expectEqualStrings("k", slice(out.keys[0]));
    try testing.expectEqualStrings("fwd", std.mem.span(out.tag));
    try testing.expectEqualStrings("g", std.mem.span(out.message_group));
    try expectProperties(&.{ .{ "kind", "new" }, .{ "region", "eu" }, .{ "from", "m-1" } }, out);
    try testing.expectEqualStrings("GRÜSSE", out.body[0..out.body_len]);
}

test "without changes, everything travels as it came" {
    var config = try parse("audit");
    defer config.deinit(testing.allocator);
    const properties = [_]weir.weir_property_t{
        .{ .name = weir.weir_str("a"), .value = weir.weir_str("1") },
        .{ .name = weir.weir_str("a"), .value = weir.weir_str("2") },
    };
    var message = weir.weir_testing_message("m-1", "body");
    message.has_tag = true;
    message.tag = weir.weir_str("t");
    message.properties = &properties;
    message.properties_len = properties.len;

    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const out = try forward(arena.allocator(), &config, &message);
    try testing.expectEqualStrings("audit", std.mem.span(out.topic));
    try testing.expectEqualStrings("t", std.mem.span(out.tag));
    try testing.expect(out.message_group == null);
    try expectProperties(&.{ .{ "a", "1" }, .{ "a", "2" } }, out);
    try testing.expectEqualStrings("body", out.body[0..out.body_len]);

    message.has_tag = false;
    try testing.expect((try forward(arena.allocator(), &config, &message)).tag == null);
}

test "binary bodies pass unchanged" {
    var config = try parse("{\"to\":\"t\",\"uppercase\":true}");
    defer config.deinit(testing.allocator);
    const message = weir.weir_testing_message("x", "\xffa");
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const out = try forward(arena.allocator(), &config, &message);
    try testing.expectEqualSlices(u8, "\xffa", out.body[0..out.body_len]);
}
