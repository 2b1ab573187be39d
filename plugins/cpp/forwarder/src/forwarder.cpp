// forwarder, a Weir consumer: publishes each message of its group, transformed, to another
// topic, and acks it once the publish succeeded. A failed publish retries it and the rest
// of the batch (unpublished), or, from the delivery attempt `dead_letter_after` on,
// dead-letters it with the failure as its reason (the rest is still retried); a config
// that does not parse retries everything with the group's backoff and is logged once per
// instance.
#include "forwarder.hpp"

#include <algorithm>
#include <cstdint>

namespace {

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

bool optional_string(const weir::json::Value &v, const char *name, std::optional<std::string> &out,
                     std::string &error) {
  if (v.is_null()) return true;
  if (!v.is_string()) {
    error = std::string("`") + name + "` must be a string";
    return false;
  }
  out = std::string(v.string());
  return true;
}

} // namespace

std::optional<Config> parse_config(std::string_view text, std::string &error) {
  text = trim(text);
  Config config;
  if (text.empty() || text.front() != '{') {
    config.to = std::string(text);
  } else {
    auto doc = weir::json::Document::parse(text, &error);
    if (!doc) return std::nullopt;
    auto root = doc->root();
    if (!root.is_object()) return error = "the config must be an object", std::nullopt;
    if (root.has_duplicates()) return error = "a field is given twice", std::nullopt;
    bool has_to = false;
    for (size_t i = 0; i < root.size(); i++) {
      std::string_view name = root.key_at(i);
      auto v = *root.at(i);
      if (name == "to") {
        if (!v.is_string()) return error = "`to` must be a string", std::nullopt;
        config.to = std::string(v.string());
        has_to = true;
      } else if (name == "add_properties") {
        if (!v.is_object()) return error = "`add_properties` must be an object of strings", std::nullopt;
        for (size_t k = 0; k < v.size(); k++) {
          auto value = *v.at(k);
          if (!value.is_string()) return error = "`add_properties` must be an object of strings", std::nullopt;
          config.add_properties[std::string(v.key_at(k))] = std::string(value.string());
        }
      } else if (name == "remove_properties") {
        if (!v.is_array()) return error = "`remove_properties` must be an array of strings", std::nullopt;
        for (size_t k = 0; k < v.size(); k++) {
          auto item = *v.at(k);
          if (!item.is_string()) return error = "`remove_properties` must be an array of strings", std::nullopt;
          config.remove_properties.emplace_back(item.string());
        }
      } else if (name == "tag") {
        if (!optional_string(v, "tag", config.tag, error)) return std::nullopt;
      } else if (name == "origin_property") {
        if (!optional_string(v, "origin_property", config.origin_property, error)) return std::nullopt;
      } else if (name == "uppercase") {
        if (!v.is_bool()) return error = "`uppercase` must be true or false", std::nullopt;
        config.uppercase = v.boolean();
      } else if (name == "retry_ms") {
        auto ms = v.u64();
        if (!ms) return error = "`retry_ms` must be a non-negative integer", std::nullopt;
        config.retry_ms = *ms;
      } else if (name == "dead_letter_after") {
        if (v.is_null()) continue;
        auto after = v.u64();
        if (!after || *after < 1 || *after > UINT32_MAX)
          return error = "`dead_letter_after` must be a delivery attempt, 1 or more", std::nullopt;
        config.dead_letter_after = static_cast<uint32_t>(*after);
      } else {
        return error = "unknown field `" + std::string(name) + "`", std::nullopt;
      }
    }
    if (!has_to) return error = "missing field `to`", std::nullopt;
  }
  if (trim(config.to).empty()) return error = "`to` must name a topic", std::nullopt;
  return config;
}

weir::Outgoing forward(const Config &config, const weir::Message &m) {
  weir::Outgoing out = weir::Outgoing::from(m, config.to);
  std::erase_if(out.properties, [&](const auto &p) {
    return std::find(config.remove_properties.begin(), config.remove_properties.end(), p.first) !=
           config.remove_properties.end();
  });
  for (const auto &[name, value] : config.add_properties) out.property(name, value);
  if (config.origin_property) out.property(*config.origin_property, m.id());
  if (config.tag) out.tag = config.tag;
  if (config.uppercase) {
    if (auto upper = weir::utf8_upper(out.body)) out.body = std::move(*upper);
  }
  return out;
}

namespace {

weir::ConfigCache<std::optional<Config>> cache;

const std::optional<Config> &parsed(std::string_view text) {
  return cache.get(text, [](std::string_view text) {
    std::string error;
    auto config = parse_config(text, error);
    if (!config) {
      weir::log::error("forwarder: invalid config \"" + std::string(text) + "\": " + error +
                       "; messages are retried");
    }
    return config;
  });
}

} // namespace

struct Forwarder {
  static std::vector<weir::Outcome> handle(std::string_view text, std::span<const weir::Message> batch) {
    const auto &config = parsed(text);
    if (!config) return std::vector<weir::Outcome>(batch.size(), weir::Outcome::retry(0));
    std::vector<weir::Outcome> outcomes;
    outcomes.reserve(batch.size());
    bool failed = false;
    for (const auto &m : batch) {
      if (failed) {
        outcomes.push_back(weir::Outcome::retry(config->retry_ms));
        continue;
      }
      auto sent = weir::publish(forward(*config, m));
      if (sent) {
        outcomes.push_back(weir::Outcome::ack());
      } else if (config->gives_up_on(m.attempt)) {
        std::string reason = "forwarder: publishing " + std::string(m.id()) + " to " + config->to +
                             " failed on attempt " + std::to_string(m.attempt) + ": " + sent.error;
        weir::log::warn(reason + "; dead-lettering");
        failed = true;
        outcomes.push_back(weir::Outcome::dead_letter(std::move(reason)));
      } else {
        weir::log::warn("forwarder: publishing " + std::string(m.id()) + " to " + config->to +
                        " failed: " + sent.error + "; retrying");
        failed = true;
        outcomes.push_back(weir::Outcome::retry(config->retry_ms));
      }
    }
    return outcomes;
  }
};
WEIR_EXPORT_CONSUMER(Forwarder)
