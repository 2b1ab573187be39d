// forwarder.hpp: the forwarder's config and the transformation of a message.
//
// The config is a bare topic name (`orders-eu`) or a JSON object with `to` (required),
// `add_properties`, `remove_properties`, `tag`, `uppercase`, `origin_property`, `retry_ms`
// and `dead_letter_after`; unknown fields are refused.
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
  std::optional<uint32_t> dead_letter_after; // the attempt from which a failed publish dead-letters

  /// Whether a failed publish on delivery `attempt` gives the message up.
  bool gives_up_on(uint32_t attempt) const { return dead_letter_after && attempt >= *dead_letter_after; }
};

/// The parsed config, or nullopt with the reason in `error`.
std::optional<Config> parse_config(std::string_view text, std::string &error);
/// The message to publish for `m`.
weir::Outgoing forward(const Config &config, const weir::Message &m);
