"""The binding's config: which fields make the dedup key.

Accepted forms:

* a bare field path: ``order.id`` (or a JSON pointer, ``/order/id``);
* a JSON object with one path, ``{"field": "order.id"}``, or several, ``{"fields":
  ["tenant", "order.id"]}``.
"""

from __future__ import annotations

import json
from typing import Any

from fields import FieldPath

# Unicode White_Space, which is what the Rust plugins trim.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class ConfigError(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise ConfigError(f"{name} is not JSON")


def _object(pairs: list) -> dict:
    names = set()
    for name, _ in pairs:
        if name in names:
            raise ConfigError(f"duplicate field `{name}`")
        names.add(name)
    return dict(pairs)


def parse(config: str) -> list[FieldPath]:
    """The field paths of a config string, at least one (``ConfigError`` otherwise)."""
    config = config.strip(WHITESPACE)
    if config.startswith("{"):
        try:
            document = json.loads(config, object_pairs_hook=_object, parse_constant=_no_constant)
        except ConfigError:
            raise
        except ValueError as error:
            raise ConfigError(str(error)) from None
        unknown = sorted(set(document) - {"field", "fields"})
        if unknown:
            raise ConfigError(f"unknown field `{unknown[0]}`, expected `field` or `fields`")
        field, fields = document.get("field"), document.get("fields")
        if field is not None and not isinstance(field, str):
            raise ConfigError("`field` must be a string")
        if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
            raise ConfigError("`fields` must be a list of strings")
        if field is not None and fields is None:
            paths = [field]
        elif field is None and fields:
            paths = fields
        else:
            raise ConfigError("give exactly one of `field` and a non-empty `fields`")
    else:
        paths = [config]
    try:
        return [FieldPath.parse(path) for path in paths]
    except ValueError as error:
        raise ConfigError(str(error)) from None
