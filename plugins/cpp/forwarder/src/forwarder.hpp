// forwarder.hpp: the forwarder's config and the transformation of a message.
//
// The config is a bare topic name (`orders-eu`) or a JSON object with `to` (required),
// `add_properties`, `remove_properties`, `tag`, `uppercase`, `origin_property` and
// `retry_ms`; unknown fields are refused.
#pragma once

#include <map>

#include "weir.hpp"

struct Config {
  std::string to;
  std::map<std::string, std::string> add_properties; // applied in name order
  std::vector<std::string> remove_properties;
  std::optional<std::string> tag;
  bool uppercase = false;
  std::optional<std::string> origin_property;
  uint64_t retry_ms = 0;
};

/// The parsed config, or nullopt with the reason in `error`.
std::optional<Config> parse_config(std::string_view text, std::string &error);
/// The message to publish for `m`.
weir::Outgoing forward(const Config &config, const weir::Message &m);
