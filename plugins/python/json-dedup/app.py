"""``json-dedup``, a Weir dedup filter: the dedup key of a message is the value of one or
more fields of its JSON body, named by the binding's config.

* ``config``: the binding's config string, parsed once per instance and config;
* ``fields``: field paths, and how a value becomes a key.

A body that is not JSON, or lacks a field, has no key: the broker never treats it as a
duplicate. A config that does not parse is logged once per instance and gives no keys
either, so a mistake in a binding lets messages through rather than dropping them.
"""

from __future__ import annotations

import json
from typing import Optional

import weir

import config as configs
from fields import FieldPath, key_text, parse_body

#: Joins the values of several fields: U+001F, the unit separator, which JSON strings
#: escape, so that ["a","b|c"] and ["a|b","c"] never collide.
SEPARATOR = "\x1f"


class JsonDedup(weir.DedupFilter):
    def __init__(self) -> None:
        self.configs = weir.ConfigCache(self.parse)

    @staticmethod
    def parse(config: str) -> Optional[list[FieldPath]]:
        try:
            return configs.parse(config)
        except configs.ConfigError as error:
            weir.log.error(f"json-dedup: invalid config {json.dumps(config)}: {error}; no message gets a key")
            return None

    def dedup_key(self, config: str, message: weir.Message) -> Optional[str]:
        paths = self.configs.get(config)
        if paths is None:
            return None
        return key_of(paths, message.body)


def key_of(paths: list[FieldPath], body: bytes) -> Optional[str]:
    """The key of a body: the field's value, or the values of several fields joined by
    ``SEPARATOR``; ``None`` when the body is not JSON or a field is missing or null."""
    try:
        document = parse_body(body)
    except ValueError:
        return None
    parts = []
    for path in paths:
        text = key_text(path.lookup(document))
        if text is None:
            return None
        parts.append(text)
    key = SEPARATOR.join(parts)
    try:
        # A lone surrogate escape ("\ud800") is not text the broker can take (and the
        # Rust plugin refuses such a body).
        key.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return key


weir.export_dedup_filter(JsonDedup)
