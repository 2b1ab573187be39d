"""The binding's config: where to forward, and what to change on the way.

Either a bare topic name (``orders-eu``), or a JSON object::

    {
      "to": "orders-eu",
      "add_properties": {"region": "eu"},
      "remove_properties": ["internal"],
      "tag": "eu",
      "uppercase": false,
      "origin_property": "forwarded-from",
      "retry_ms": 0,
      "dead_letter_after": 5
    }

Only ``to`` is required; unknown or repeated fields are refused, as are values of the
wrong type (``retry_ms`` is a whole number of milliseconds, 0 or more;
``dead_letter_after`` a delivery attempt, 1 or more, or null for none).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

# Unicode White_Space, which is what the Rust plugins trim (str.strip() would also
# strip U+001C..U+001F).
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1


@dataclass(frozen=True)
class Config:
    #: The topic to publish to.
    to: str
    #: Properties to set, replacing values of the same name (applied in name order).
    add_properties: dict = field(default_factory=dict)
    #: Properties to drop.
    remove_properties: tuple = ()
    #: A tag replacing the message's (None: keep the message's tag).
    tag: Optional[str] = None
    #: Upper-case the body, when it is UTF-8 text (other bodies pass unchanged).
    uppercase: bool = False
    #: A property that records the id of the original message (None: not recorded).
    origin_property: Optional[str] = None
    #: How long to wait before retrying after a failed publish, in ms (0: the group's
    #: backoff).
    retry_ms: int = 0
    #: From which delivery attempt a failed publish dead-letters the message instead of
    #: retrying it (None: never, the group's maximum attempts decide).
    dead_letter_after: Optional[int] = None

    def gives_up_on(self, attempt: int) -> bool:
        """Whether a failed publish on delivery ``attempt`` gives the message up."""
        return self.dead_letter_after is not None and attempt >= self.dead_letter_after


class ConfigError(ValueError):
    pass


class _Object(dict):
    """A JSON object that remembers a name it saw twice (the last value wins)."""

    duplicate: Optional[str] = None


def _object(pairs: list) -> _Object:
    obj = _Object()
    for name, value in pairs:
        if name in obj and obj.duplicate is None:
            obj.duplicate = name
        obj[name] = value
    return obj


def _no_constants(name: str) -> Any:
    raise ConfigError(f"{name} is not JSON")


def _string(name: str, value: Any, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"`{name}` must be a string")
    return value


def parse(config: str) -> Config:
    """Parses a config string (``ConfigError`` when it is not valid)."""
    config = config.strip(WHITESPACE)
    if not config.startswith("{"):
        parsed = Config(to=config)
    else:
        try:
            fields = json.loads(config, object_pairs_hook=_object, parse_constant=_no_constants)
        except ConfigError:
            raise
        except ValueError as error:
            raise ConfigError(str(error)) from None
        # Only the config's own fields may not repeat (the last of add_properties wins).
        if fields.duplicate is not None:
            raise ConfigError(f"duplicate field `{fields.duplicate}`")
        parsed = _from_json(fields)
    if not parsed.to.strip(WHITESPACE):
        raise ConfigError("`to` must name a topic")
    return parsed


def _from_json(fields: dict) -> Config:
    unknown = sorted(set(fields) - set(Config.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"unknown field `{unknown[0]}`")
    if "to" not in fields:
        raise ConfigError("missing field `to`")
    add = fields.get("add_properties", {})
    if not isinstance(add, dict) or not all(isinstance(v, str) for v in add.values()):
        raise ConfigError("`add_properties` must be an object of strings")
    remove = fields.get("remove_properties", [])
    if not isinstance(remove, list) or not all(isinstance(v, str) for v in remove):
        raise ConfigError("`remove_properties` must be a list of strings")
    uppercase = fields.get("uppercase", False)
    if not isinstance(uppercase, bool):
        raise ConfigError("`uppercase` must be a boolean")
    retry_ms = fields.get("retry_ms", 0)
    if isinstance(retry_ms, bool) or not isinstance(retry_ms, int) or not 0 <= retry_ms <= U64_MAX:
        raise ConfigError("`retry_ms` must be a whole number of milliseconds, 0 or more")
    dead_letter_after = fields.get("dead_letter_after")
    if dead_letter_after is not None and (
        isinstance(dead_letter_after, bool)
        or not isinstance(dead_letter_after, int)
        or not 1 <= dead_letter_after <= U32_MAX
    ):
        raise ConfigError("`dead_letter_after` must be a delivery attempt, 1 or more")
    return Config(
        to=_string("to", fields["to"]),
        add_properties=dict(add),
        remove_properties=tuple(remove),
        tag=_string("tag", fields.get("tag"), optional=True),
        uppercase=uppercase,
        origin_property=_string("origin_property", fields.get("origin_property"), optional=True),
        retry_ms=retry_ms,
        dead_letter_after=dead_letter_after,
    )
