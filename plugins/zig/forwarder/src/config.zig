//! The forwarder's config: the topic to publish to, and what to change on the way.
//!
//! Either a bare topic name (`orders-eu`) or a JSON object:
//!
//!     {"to": "orders-eu", "add_properties": {"region": "eu"},
//!      "remove_properties": ["internal"], "tag": "eu", "uppercase": false,
//!      "origin_property": "forwarded-from", "retry_ms": 0, "dead_letter_after": 5}
//!
//! Only `to` is required. Unknown fields, fields given twice and values of the wrong type
//! are refused, with the reason in a `Diagnostic`.
const std = @import("std");
const Allocator = std.mem.Allocator;
const weir = @import("weir.zig");

pub const Property = struct {
    name: [:0]const u8,
    value: [:0]const u8,
};

pub const Config = struct {
    /// The topic to publish to.
    to: [:0]const u8,
    /// Properties to set, replacing values of the same name: sorted by name, each once.
    add_properties: []const Property = &.{},
    /// Properties to drop (before `add_properties` apply).
    remove_properties: []const []const u8 = &.{},
    /// A tag replacing the message's (null: keep the message's).
    tag: ?[:0]const u8 = null,
    /// Upper-case the body when it is UTF-8 text (other bodies pass unchanged).
    uppercase: bool = false,
    /// A property recording the original message's id (null: not recorded).
    origin_property: ?[:0]const u8 = null,
    /// Delay before retrying after a failed publish, in ms (0: the group's backoff).
    retry_ms: u64 = 0,
    /// The delivery attempt (from 1) from which a failed publish dead-letters the message
    /// instead of retrying it (null: never, the group's maximum attempts apply).
    dead_letter_after: ?u64 = null,
    /// What the slices above point into.
    arena: std.heap.ArenaAllocator.State = .init,

    pub const Error = error{ InvalidConfig, OutOfMemory };

    /// Parses a config. On `error.InvalidConfig` the reason is in `diagnostic`.
    pub fn parse(gpa: Allocator, text: []const u8, diagnostic: *Diagnostic) Error!Config {
        var arena = std.heap.ArenaAllocator.init(gpa);
        errdefer arena.deinit();
        var parser: Parser = .{ .arena = arena.allocator(), .gpa = gpa, .diagnostic = diagnostic };
        var config = try parser.config(std.mem.trim(u8, text, whitespace));
        config.arena = arena.state;
        return config;
    }

    pub fn deinit(config: *Config, gpa: Allocator) void {
        config.arena.promote(gpa).deinit();
        config.* = undefined;
    }
};

/// Why a config was refused.
pub const Diagnostic = struct {
    message: std.ArrayList(u8) = .empty,

    pub fn deinit(diagnostic: *Diagnostic, gpa: Allocator) void {
        diagnostic.message.deinit(gpa);
    }
};

const whitespace = " \t\n\r";

const Field = enum {
    to,
    add_properties,
    remove_properties,
    tag,
    uppercase,
    origin_property,
    retry_ms,
    dead_letter_after,
};

const JsonType = enum(c_uint) { null, bool, number, string, array, object };

fn typeOf(value: weir.weir_json_value_t) JsonType {
    return @fromBackingInt(@intCast(weir.weir_json_type(value)));
}

fn slice(s: weir.weir_str_t) []const u8 {
    return if (s.len == 0) "" else s.ptr[0..s.len];
}

const Parser = struct {
    arena: Allocator,
    gpa: Allocator,
    diagnostic: *Diagnostic,

    /// Refuses the config, the reason being `parts` joined.
    fn fail(p: *Parser, parts: []const []const u8) Config.Error {
        p.diagnostic.message.clearRetainingCapacity();
        for (parts) |part| try p.diagnostic.message.appendSlice(p.gpa, part);
        return error.InvalidConfig;
    }

    fn config(p: *Parser, text: []const u8) Config.Error!Config {
        const parsed: Config = if (text.len > 0 and text[0] == '{')
            try p.object(text)
        else
            .{ .to = try p.arena.dupeSentinel(u8, text, 0) };
        if (std.mem.trim(u8, parsed.to, whitespace).len == 0) return p.fail(&.{"`to` must name a topic"});
        return parsed;
    }

    fn object(p: *Parser, text: []const u8) Config.Error!Config {
        var doc: weir.weir_json_t = undefined;
        var json_error: weir.weir_buf_t = .{};
        defer weir.weir_buf_free(&json_error);
        if (!weir.weir_json_parse(&doc, text.ptr, text.len, &json_error)) {
            return p.fail(&.{std.mem.span(weir.weir_buf_cstr(&json_error))});
        }
        defer weir.weir_json_free(&doc);
        const root = weir.weir_json_root(&doc);
        if (typeOf(root) != .object) return p.fail(&.{"the config must be an object"});
        if (weir.weir_json_has_duplicates(root)) return p.fail(&.{"a field is given twice"});

        var parsed: Config = .{ .to = "" };
        var has_to = false;
        for (0..weir.weir_json_len(root)) |i| {
            const name = slice(weir.weir_json_key_at(root, i));
            var value: weir.weir_json_value_t = undefined;
            _ = weir.weir_json_at(root, i, &value);
            const field = std.meta.stringToEnum(Field, name) orelse
                return p.fail(&.{ "unknown field `", name, "`" });
            switch (field) {
                .to => {
                    parsed.to = try p.string(value, "`to` must be a string");
                    has_to = true;
                },
                .add_properties => parsed.add_properties = try p.properties(value),
                .remove_properties => parsed.remove_properties = try p.names(value),
                .tag => parsed.tag = try p.optionalString(value, "`tag` must be a string"),
                .origin_property => parsed.origin_property =
                    try p.optionalString(value, "`origin_property` must be a string"),
                .uppercase => parsed.uppercase = switch (typeOf(value)) {
                    .bool => weir.weir_json_bool(value),
                    else => return p.fail(&.{"`uppercase` must be true or false"}),
                },
                .retry_ms => parsed.retry_ms = unsigned(value) orelse
                    return p.fail(&.{"`retry_ms` must be a non-negative integer"}),
                .dead_letter_after => parsed.dead_letter_after = try p.attempt(value),
            }
        }
        if (!has_to) return p.fail(&.{"missing field `to`"});
        return parsed;
    }

    /// `dead_letter_after`: an attempt number from 1, or null for never.
    fn attempt(p: *Parser, value: weir.weir_json_value_t) Config.Error!?u64 {
        if (typeOf(value) == .null) return null;
        if (unsigned(value)) |n| if (n >= 1) return n;
        return p.fail(&.{"`dead_letter_after` must be a positive integer"});
    }

    fn string(p: *Parser, value: weir.weir_json_value_t, refusal: []const u8) Config.Error![:0]const u8 {
        if (typeOf(value) != .string) return p.fail(&.{refusal});
        return p.arena.dupeSentinel(u8, slice(weir.weir_json_string(value)), 0);
    }

    fn optionalString(p: *Parser, value: weir.weir_json_value_t, refusal: []const u8) Config.Error!?[:0]const u8 {
        if (typeOf(value) == .null) return null;
        return try p.string(value, refusal);
    }

    /// `add_properties`: a repeated name keeps its last value, as in a map; the result is
    /// sorted by name, the order a map iterates in (insertion sort: a config has a few).
    fn properties(p: *Parser, value: weir.weir_json_value_t) Config.Error![]const Property {
        const refusal = "`add_properties` must be an object of strings";
        if (typeOf(value) != .object) return p.fail(&.{refusal});
        var list: std.ArrayList(Property) = .empty;
        members: for (0..weir.weir_json_len(value)) |i| {
            var member: weir.weir_json_value_t = undefined;
            _ = weir.weir_json_at(value, i, &member);
            const property: Property = .{
                .name = try p.arena.dupeSentinel(u8, slice(weir.weir_json_key_at(value, i)), 0),
                .value = try p.string(member, refusal),
            };
            for (list.items) |*kept| {
                if (std.mem.eql(u8, kept.name, property.name)) {
                    kept.value = property.value;
                    continue :members;
                }
            }
            try list.append(p.arena, property);
        }
        std.sort.insertion(Property, list.items, {}, struct {
            fn lessThan(_: void, a: Property, b: Property) bool {
                return std.mem.lessThan(u8, a.name, b.name);
            }
        }.lessThan);
        return list.items;
    }

    fn names(p: *Parser, value: weir.weir_json_value_t) Config.Error![]const []const u8 {
        const refusal = "`remove_properties` must be an array of strings";
        if (typeOf(value) != .array) return p.fail(&.{refusal});
        const list = try p.arena.alloc([]const u8, weir.weir_json_len(value));
        for (list, 0..) |*name, i| {
            var item: weir.weir_json_value_t = undefined;
            _ = weir.weir_json_at(value, i, &item);
            name.* = try p.string(item, refusal);
        }
        return list;
    }
};

/// A JSON number that is a non-negative integer within u64, or null.
fn unsigned(value: weir.weir_json_value_t) ?u64 {
    var n: u64 = undefined;
    return if (weir.weir_json_u64(value, &n)) n else null;
}

const testing = std.testing;

fn parseOk(text: []const u8) !Config {
    var diagnostic: Diagnostic = .{};
    defer diagnostic.deinit(testing.allocator);
    return Config.parse(testing.allocator, text, &diagnostic) catch |err| {
        std.debug.print("{s}: {s}\n", .{ text, diagnostic.message.items });
        return err;
    };
}

fn expectRefused(text: []const u8, reason: []const u8) !void {
    var diagnostic: Diagnostic = .{};
    defer diagnostic.deinit(testing.allocator);
    try testing.expectError(error.InvalidConfig, Config.parse(testing.allocator, text, &diagnostic));
    try testing.expectEqualStrings(reason, diagnostic.message.items);
}

test "only `to` is required" {
    var full = try parseOk("{\"to\":\"t\"}");
    defer full.deinit(testing.allocator);
    var bare = try parseOk(" t\n");
    defer bare.deinit(testing.allocator);
    for ([_]Config{ full, bare }) |config| {
        try testing.expectEqualStrings("t", config.to);
        try testing.expect(!config.uppercase);
        try testing.expectEqual(0, config.retry_ms);
        try testing.expectEqual(null, config.tag);
        try testing.expectEqual(null, config.origin_property);
        try testing.expectEqual(null, config.dead_letter_after);
        try testing.expectEqual(0, config.add_properties.len);
        try testing.expectEqual(0, config.remove_properties.len);
    }
}

test "every field" {
    var config = try parseOk(
        \\{"to":"eu","add_properties":{"region":"eu","kind":"new","region":"EU"},
        \\ "remove_properties":["internal","debug"],"tag":"fwd","uppercase":true,
        \\ "origin_property":"from","retry_ms":250,"dead_letter_after":3}
    );
    defer config.deinit(testing.allocator);
    try testing.expectEqualStrings("eu", config.to);
    try testing.expectEqual(2, config.add_properties.len);
    try testing.expectEqualStrings("kind", config.add_properties[0].name);
    try testing.expectEqualStrings("new", config.add_properties[0].value);
    try testing.expectEqualStrings("region", config.add_properties[1].name);
    try testing.expectEqualStrings("EU", config.add_properties[1].value);
    try testing.expectEqual(2, config.remove_properties.len);
    try testing.expectEqualStrings("debug", config.remove_properties[1]);
    try testing.expectEqualStrings("fwd", config.tag.?);
    try testing.expect(config.uppercase);
    try testing.expectEqualStrings("from", config.origin_property.?);
    try testing.expectEqual(250, config.retry_ms);
    try testing.expectEqual(3, config.dead_letter_after.?);
}

test "null leaves tag, origin_property and dead_letter_after unset" {
    var config = try parseOk("{\"to\":\"t\",\"tag\":null,\"origin_property\":null,\"dead_letter_after\":null}");
    defer config.deinit(testing.allocator);
    try testing.expectEqual(null, config.tag);
    try testing.expectEqual(null, config.origin_property);
    try testing.expectEqual(null, config.dead_letter_after);
}

test "dead_letter_after is a positive integer" {
    var one = try parseOk("{\"to\":\"t\",\"dead_letter_after\":1}");
    defer one.deinit(testing.allocator);
    try testing.expectEqual(1, one.dead_letter_after.?);
    const reason = "`dead_letter_after` must be a positive integer";
    for ([_][]const u8{ "0", "-1", "-0", "1.5", "1e2", "\"3\"", "true", "[3]", "{}" }) |bad| {
        const text = try std.fmt.allocPrint(testing.allocator, "{{\"to\":\"t\",\"dead_letter_after\":{s}}}", .{bad});
        defer testing.allocator.free(text);
        try expectRefused(text, reason);
    }
}

test "bad configs are refused" {
    try expectRefused("", "`to` must name a topic");
    try expectRefused("  \n", "`to` must name a topic");
    try expectRefused("{\"to\":\" \"}", "`to` must name a topic");
    try expectRefused("{\"to\":\"t\",\"upercase\":true}", "unknown field `upercase`");
    try expectRefused("{\"to\":\"t\",\"retry_ms\":-1}", "`retry_ms` must be a non-negative integer");
    try expectRefused("{\"to\":\"t\",\"retry_ms\":1.5}", "`retry_ms` must be a non-negative integer");
    try expectRefused("{\"to\":\"t\",\"to\":\"u\"}", "a field is given twice");
    try expectRefused("{\"to\":1}", "`to` must be a string");
    try expectRefused("{\"to\":null}", "`to` must be a string");
    try expectRefused("{\"tag\":\"x\"}", "missing field `to`");
    try expectRefused("{\"to\":\"t\",\"uppercase\":1}", "`uppercase` must be true or false");
    try expectRefused("{\"to\":\"t\",\"add_properties\":{\"a\":1}}", "`add_properties` must be an object of strings");
    try expectRefused("{\"to\":\"t\",\"add_properties\":[]}", "`add_properties` must be an object of strings");
    try expectRefused("{\"to\":\"t\",\"remove_properties\":[1]}", "`remove_properties` must be an array of strings");
    try expectRefused("{\"to\":\"t\",\"tag\":7}", "`tag` must be a string");
    var diagnostic: Diagnostic = .{};
    defer diagnostic.deinit(testing.allocator);
    for ([_][]const u8{ "{\"to\":\"t\"", "{\"to\":\"t\",}", "{\"to\":\"t\"} x" }) |bad| {
        try testing.expectError(error.InvalidConfig, Config.parse(testing.allocator, bad, &diagnostic));
        try testing.expect(diagnostic.message.items.len > 0);
    }
}
