// json_dedup.hpp: the field paths of json-dedup's key, parsed from the binding's config:
// `order.id`, `/order/id` (a JSON pointer), `{"field": "order.id"}` or
// `{"fields": ["tenant", "order.id"]}`.
#pragma once

#include "weir.hpp"

using Path = std::vector<std::string>;

/// The paths of a config, or nullopt with the reason in `error`.
std::optional<std::vector<Path>> parse_fields(std::string_view text, std::string &error);
/// The key of a body under `fields` (nullopt: none).
std::optional<std::string> key_of(const std::vector<Path> &fields, std::string_view body);
