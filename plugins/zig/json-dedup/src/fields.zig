//! The config of json-dedup: the field paths whose values make a message's key, and the
//! key of a body under them.
//!
//! Accepted: a bare path `order.id` (a segment of digits indexes an array), a JSON pointer
//! `/order/id` (RFC 6901, for names containing dots), `{"field": "order.id"}` or
//! `{"fields": ["tenant", "order.id"]}`.
const std = @import("std");
const Allocator = std.mem.Allocator;
const weir = @import("weir.zig");

/// A path: the names (or array indexes) to follow from the body's root.
pub const Path = []const []const u8;

pub const Fields = struct {
    /// One path per field, in the config's order.
    paths: []const Path,
    /// What the slices above point into.
    arena: std.heap.ArenaAllocator.State = .init,

    pub const Error = error{ InvalidConfig, OutOfMemory };

    /// Parses a config. On `error.InvalidConfig` the reason is in `diagnostic`.
    pub fn parse(gpa: Allocator, text: []const u8, diagnostic: *Diagnostic) Error!Fields {
        var arena = std.heap.ArenaAllocator.init(gpa);
        errdefer arena.deinit();
        var parser: Parser = .{ .arena = arena.allocator(), .gpa = gpa, .diagnostic = diagnostic };
        var fields: Fields = .{ .paths = try parser.config(std.mem.trim(u8, text, " \t\n\r")) };
        fields.arena = arena.state;
        return fields;
    }

    pub fn deinit(fields: *Fields, gpa: Allocator) void {
        fields.arena.promote(gpa).deinit();
        fields.* = undefined;
    }

    /// Appends the key of `body` to `key` and answers true, or answers false when the body
    /// has none: it is not JSON, or lacks a field, or has it null. A string value is the key
    /// as it is; another value is its compact JSON text with sorted keys; several fields
    /// are joined by U+001F.
    pub fn keyOf(fields: Fields, body: []const u8, key: *weir.weir_buf_t) bool {
        var doc: weir.weir_json_t = undefined;
        if (!weir.weir_json_parse(&doc, body.ptr, body.len, null)) return false;
        defer weir.weir_json_free(&doc);
        for (fields.paths, 0..) |path, i| {
            const value = lookup(path, weir.weir_json_root(&doc)) orelse return false;
            if (typeOf(value) == .null) return false;
            if (i > 0) weir.weir_buf_append_char(key, 0x1f);
            switch (typeOf(value)) {
                .string => {
                    const s = weir.weir_json_string(value);
                    weir.weir_buf_append(key, s.ptr, s.len);
                },
                else => weir.weir_json_write(value, key),
            }
        }
        return true;
    }
};

/// Why a config was refused.
pub const Diagnostic = struct {
    message: std.ArrayList(u8) = .empty,

    pub fn deinit(diagnostic: *Diagnostic, gpa: Allocator) void {
        diagnostic.message.deinit(gpa);
    }
};

const JsonType = enum(c_uint) { null, bool, number, string, array, object };

fn typeOf(value: weir.weir_json_value_t) JsonType {
    return @fromBackingInt(@intCast(weir.weir_json_type(value)));
}

fn slice(s: weir.weir_str_t) []const u8 {
    return if (s.len == 0) "" else s.ptr[0..s.len];
}

fn member(value: weir.weir_json_value_t, i: usize) weir.weir_json_value_t {
    var out: weir.weir_json_value_t = undefined;
    _ = weir.weir_json_at(value, i, &out);
    return out;
}

/// The value at `path` under `value`, if any.
fn lookup(path: Path, value: weir.weir_json_value_t) ?weir.weir_json_value_t {
    var at = value;
    for (path) |segment| {
        var next: weir.weir_json_value_t = undefined;
        const found = switch (typeOf(at)) {
            .object => weir.weir_json_get(at, segment.ptr, segment.len, &next),
            .array => if (index(segment)) |i| weir.weir_json_at(at, i, &next) else false,
            else => false,
        };
        if (!found) return null;
        at = next;
    }
    return at;
}

/// An array index as Rust's usize parses it: an optional '+', then digits.
fn index(segment: []const u8) ?usize {
    const digits = if (std.mem.startsWith(u8, segment, "+")) segment[1..] else segment;
    if (digits.len == 0) return null;
    var value: usize = 0;
    for (digits) |c| {
        if (c < '0' or c > '9') return null;
        value = std.math.mul(usize, value, 10) catch return null;
        value = std.math.add(usize, value, c - '0') catch return null;
    }
    return value;
}

const Parser = struct {
    arena: Allocator,
    gpa: Allocator,
    diagnostic: *Diagnostic,

    /// Refuses the config, the reason being `parts` joined.
    fn fail(p: *Parser, parts: []const []const u8) Fields.Error {
        p.diagnostic.message.clearRetainingCapacity();
        for (parts) |part| try p.diagnostic.message.appendSlice(p.gpa, part);
        return error.InvalidConfig;
    }

    fn config(p: *Parser, text: []const u8) Fields.Error![]const Path {
        if (text.len == 0 or text[0] != '{') {
            const paths = try p.arena.alloc(Path, 1);
            paths[0] = try p.path(text);
            return paths;
        }
        var doc: weir.weir_json_t = undefined;
        var json_error: weir.weir_buf_t = .{};
        defer weir.weir_buf_free(&json_error);
        if (!weir.weir_json_parse(&doc, text.ptr, text.len, &json_error)) {
            return p.fail(&.{std.mem.span(weir.weir_buf_cstr(&json_error))});
        }
        defer weir.weir_json_free(&doc);
        const root = weir.weir_json_root(&doc);
        if (typeOf(root) != .object) return p.fail(&.{"the config must be a path or an object"});
        if (weir.weir_json_has_duplicates(root)) return p.fail(&.{"a field is given twice"});

        var field: ?weir.weir_json_value_t = null;
        var fields: ?weir.weir_json_value_t = null;
        for (0..weir.weir_json_len(root)) |i| {
            const name = slice(weir.weir_json_key_at(root, i));
            const value = member(root, i);
            const given = if (typeOf(value) == .null) null else value;
            if (std.mem.eql(u8, name, "field")) {
                field = given;
            } else if (std.mem.eql(u8, name, "fields")) {
                fields = given;
            } else {
                return p.fail(&.{ "unknown field `", name, "`, expected `field` or `fields`" });
            }
        }
        if (fields) |list| {
            if (typeOf(list) != .array) return p.fail(&.{"`fields` must be an array of strings"});
        }
        if (field) |one| {
            if (fields == null) {
                const paths = try p.arena.alloc(Path, 1);
                paths[0] = try p.jsonPath(one, "`field`");
                return paths;
            }
        } else if (fields) |list| {
            if (weir.weir_json_len(list) > 0) {
                const paths = try p.arena.alloc(Path, weir.weir_json_len(list));
                for (paths, 0..) |*each, i| each.* = try p.jsonPath(member(list, i), "each of `fields`");
                return paths;
            }
        }
        return p.fail(&.{"give exactly one of `field` and a non-empty `fields`"});
    }

    fn jsonPath(p: *Parser, value: weir.weir_json_value_t, what: []const u8) Fields.Error!Path {
        if (typeOf(value) != .string) return p.fail(&.{ what, " must be a string" });
        return p.path(slice(weir.weir_json_string(value)));
    }

    /// A JSON pointer (`/a/b`, with `~1` for '/' and `~0` for '~') or a dotted path
    /// (`a.b`, no empty segment), copied into the arena.
    fn path(p: *Parser, text: []const u8) Fields.Error!Path {
        var segments: std.ArrayList([]const u8) = .empty;
        if (std.mem.startsWith(u8, text, "/")) {
            var parts = std.mem.splitScalar(u8, text[1..], '/');
            while (parts.next()) |part| try segments.append(p.arena, try p.unescape(part));
        } else {
            var parts = std.mem.splitScalar(u8, text, '.');
            while (parts.next()) |part| {
                if (part.len == 0) return p.fail(&.{ "\"", text, "\" is not a field path such as `order.id`" });
                try segments.append(p.arena, try p.arena.dupe(u8, part));
            }
        }
        return segments.items;
    }

    /// A JSON pointer's segment, `~1` and `~0` decoded.
    fn unescape(p: *Parser, part: []const u8) Allocator.Error![]const u8 {
        if (std.mem.indexOfScalar(u8, part, '~') == null) return p.arena.dupe(u8, part);
        var out: std.ArrayList(u8) = try .initCapacity(p.arena, part.len);
        var i: usize = 0;
        while (i < part.len) : (i += 1) {
            if (part[i] == '~' and i + 1 < part.len and (part[i + 1] == '1' or part[i + 1] == '0')) {
                out.appendAssumeCapacity(if (part[i + 1] == '1') '/' else '~');
                i += 1;
            } else {
                out.appendAssumeCapacity(part[i]);
            }
        }
        return out.items;
    }
};

const testing = std.testing;

fn parseOk(text: []const u8) !Fields {
    var diagnostic: Diagnostic = .{};
    defer diagnostic.deinit(testing.allocator);
    return Fields.parse(testing.allocator, text, &diagnostic);
}

fn expectRefused(text: []const u8, reason: ?[]const u8) !void {
    var diagnostic: Diagnostic = .{};
    defer diagnostic.deinit(testing.allocator);
    try testing.expectError(error.InvalidConfig, Fields.parse(testing.allocator, text, &diagnostic));
    if (reason) |expected| {
        try testing.expectEqualStrings(expected, diagnostic.message.items);
    } else {
        try testing.expect(diagnostic.message.items.len > 0);
    }
}

test "configs that name the same field" {
    for ([_][]const u8{ "order.id", "{\"field\":\"order.id\"}", " {\"fields\":[\"order.id\"]} ", "/order/id", "{\"field\":\"order.id\",\"fields\":null}" }) |text| {
        var fields = try parseOk(text);
        defer fields.deinit(testing.allocator);
        try testing.expectEqual(1, fields.paths.len);
        try testing.expectEqual(2, fields.paths[0].len);
        try testing.expectEqualStrings("order", fields.paths[0][0]);
        try testing.expectEqualStrings("id", fields.paths[0][1]);
    }
}

test "several fields, in order" {
    var fields = try parseOk("{\"fields\":[\"tenant\",\"/a~1b/c~0d/~2\"]}");
    defer fields.deinit(testing.allocator);
    try testing.expectEqual(2, fields.paths.len);
    try testing.expectEqualStrings("tenant", fields.paths[0][0]);
    try testing.expectEqual(3, fields.paths[1].len);
    try testing.expectEqualStrings("a/b", fields.paths[1][0]);
    try testing.expectEqualStrings("c~d", fields.paths[1][1]);
    try testing.expectEqualStrings("~2", fields.paths[1][2]);
}

test "bad configs are refused" {
    try expectRefused("", "\"\" is not a field path such as `order.id`");
    try expectRefused("a..b", "\"a..b\" is not a field path such as `order.id`");
    try expectRefused("{\"fields\":[]}", "give exactly one of `field` and a non-empty `fields`");
    try expectRefused("{\"field\":\"a\",\"fields\":[\"b\"]}", "give exactly one of `field` and a non-empty `fields`");
    try expectRefused("{}", "give exactly one of `field` and a non-empty `fields`");
    try expectRefused("{\"feld\":\"a\"}", "unknown field `feld`, expected `field` or `fields`");
    try expectRefused("{\"field\":\"a\",\"field\":\"b\"}", "a field is given twice");
    try expectRefused("{\"field\":1}", "`field` must be a string");
    try expectRefused("{\"fields\":\"a\"}", "`fields` must be an array of strings");
    try expectRefused("{\"fields\":[\"a\",2]}", "each of `fields` must be a string");
    try expectRefused("{\"fields\":[\"a\",\"b.\"]}", "\"b.\" is not a field path such as `order.id`");
    try expectRefused("{not json", null);
}

test "array indexes" {
    try testing.expectEqual(17, index("17"));
    try testing.expectEqual(3, index("+3"));
    try testing.expectEqual(null, index("+"));
    try testing.expectEqual(null, index(""));
    try testing.expectEqual(null, index("-1"));
    try testing.expectEqual(null, index("1a"));
    try testing.expectEqual(null, index("99999999999999999999999"));
}
