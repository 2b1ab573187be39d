// json-dedup, a Weir dedup filter: the key of a message is the value of one or more fields
// of its JSON body. A string is the key as it is, a number or boolean its JSON text, an
// object or array its compact JSON with sorted keys; null, a missing field or a body that
// is not JSON gives no key. Several fields are joined by U+001F. A config that does not
// parse is logged once per instance and gives no keys.
#include "json_dedup.hpp"

#include <algorithm>

namespace {

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<Path> parse_path(std::string_view path, std::string &error) {
  Path segments;
  bool pointer = !path.empty() && path.front() == '/';
  std::string_view rest = pointer ? path.substr(1) : path;
  char separator = pointer ? '/' : '.';
  for (;;) {
    size_t stop = rest.find(separator);
    std::string_view raw = rest.substr(0, stop);
    std::string segment;
    for (size_t i = 0; i < raw.size(); i++) {
      if (pointer && raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '1' || raw[i + 1] == '0')) {
        segment += raw[++i] == '1' ? '/' : '~';
      } else {
        segment += raw[i];
      }
    }
    segments.push_back(std::move(segment));
    if (stop == std::string_view::npos) break;
    rest = rest.substr(stop + 1);
  }
  if (path.empty() || (!pointer && std::any_of(segments.begin(), segments.end(),
                                               [](const std::string &s) { return s.empty(); }))) {
    error = "\"" + std::string(path) + "\" is not a field path such as `order.id`";
    return std::nullopt;
  }
  return segments;
}

std::optional<size_t> index_of(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  size_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    size_t digit = static_cast<size_t>(c - '0');
    if (value > (SIZE_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<weir::json::Value> lookup(const Path &path, weir::json::Value value) {
  for (const auto &segment : path) {
    std::optional<weir::json::Value> next;
    if (value.is_object()) next = value.get(segment);
    else if (value.is_array()) {
      if (auto i = index_of(segment)) next = value.at(*i);
    }
    if (!next) return std::nullopt;
    value = *next;
  }
  return value;
}

} // namespace

std::optional<std::vector<Path>> parse_fields(std::string_view text, std::string &error) {
  text = trim(text);
  std::vector<std::string> paths;
  if (text.empty() || text.front() != '{') {
    paths.emplace_back(text);
  } else {
    auto doc = weir::json::Document::parse(text, &error);
    if (!doc) return std::nullopt;
    auto root = doc->root();
    if (!root.is_object()) return error = "the config must be a path or an object", std::nullopt;
    if (root.has_duplicates()) return error = "a field is given twice", std::nullopt;
    std::optional<weir::json::Value> field, fields;
    for (size_t i = 0; i < root.size(); i++) {
      auto name = root.key_at(i);
      auto v = *root.at(i);
      if (name == "field") {
        if (!v.is_null()) field = v;
      } else if (name == "fields") {
        if (!v.is_null()) fields = v;
      } else {
        return error = "unknown field `" + std::string(name) + "`, expected `field` or `fields`", std::nullopt;
      }
    }
    if (fields && !fields->is_array()) return error = "`fields` must be an array of strings", std::nullopt;
    if (field && !fields) {
      if (!field->is_string()) return error = "`field` must be a string", std::nullopt;
      paths.emplace_back(field->string());
    } else if (fields && !field && fields->size() > 0) {
      for (size_t i = 0; i < fields->size(); i++) {
        auto item = *fields->at(i);
        if (!item.is_string()) return error = "each of `fields` must be a string", std::nullopt;
        paths.emplace_back(item.string());
      }
    } else {
      return error = "give exactly one of `field` and a non-empty `fields`", std::nullopt;
    }
  }
  std::vector<Path> parsed;
  for (const auto &path : paths) {
    auto p = parse_path(path, error);
    if (!p) return std::nullopt;
    parsed.push_back(std::move(*p));
  }
  return parsed;
}

std::optional<std::string> key_of(const std::vector<Path> &fields, std::string_view body) {
  auto doc = weir::json::Document::parse(body);
  if (!doc) return std::nullopt;
  std::string key;
  for (size_t i = 0; i < fields.size(); i++) {
    auto value = lookup(fields[i], doc->root());
    if (!value || value->is_null()) return std::nullopt;
    if (i > 0) key += '\x1f';
    key += value->is_string() ? std::string(value->string()) : value->dump();
  }
  return key;
}

namespace {
weir::ConfigCache<std::optional<std::vector<Path>>> cache;
}

struct JsonDedup {
  static std::optional<std::string> dedup_key(std::string_view text, const weir::Message &m) {
    const auto &fields = cache.get(text, [](std::string_view text) {
      std::string error;
      auto fields = parse_fields(text, error);
      if (!fields) {
        weir::log::error("json-dedup: invalid config \"" + std::string(text) + "\": " + error +
                         "; no message gets a key");
      }
      return fields;
    });
    if (!fields) return std::nullopt;
    return key_of(*fields, m.text());
  }
};
WEIR_EXPORT_DEDUP_FILTER(JsonDedup)
