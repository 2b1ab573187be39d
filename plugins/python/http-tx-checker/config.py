"""The binding's config: whom to ask, and how.

Either a bare URL template (``http://127.0.0.1:9000/tx/{transaction}``, asked with GET),
or a JSON object::

    {
      "url": "http://orders.internal:9000/tx/{transaction}",
      "method": "GET",
      "headers": {"authorization": "Bearer s3cret"},
      "not_found": "unknown"
    }

Only ``url`` is required (see ``template`` for its placeholders); ``method`` is ``GET``
or ``POST``, ``not_found`` (what a 404 means) ``unknown`` or ``rollback``. Unknown or
repeated fields are refused, as are values of the wrong type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import weir

from template import TemplateError, UrlTemplate

# Unicode White_Space, which is what the Rust plugins trim (str.strip() would also
# strip U+001C..U+001F).
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

METHODS = ("GET", "POST")
NOT_FOUND = {"unknown": weir.TxState.UNKNOWN, "rollback": weir.TxState.ROLLBACK}
FIELDS = ("url", "method", "headers", "not_found")


@dataclass(frozen=True)
class Config:
    #: Where to ask.
    url: UrlTemplate
    #: How to ask: ``GET`` of the URL, or ``POST`` of the check-back body (``callback``).
    method: str = "GET"
    #: Headers sent with every request.
    headers: dict = field(default_factory=dict)
    #: What a 404 from the service means: nothing (ask again later, the safe choice
    #: while the service may lag behind) or a transaction it never recorded.
    not_found: weir.TxState = weir.TxState.UNKNOWN


class ConfigError(ValueError):
    pass


class _Object(dict):
    """A JSON object that remembers a name it saw twice (the last value wins)."""

    duplicate = None


def _object(pairs: list) -> _Object:
    obj = _Object()
    for name, value in pairs:
        if name in obj and obj.duplicate is None:
            obj.duplicate = name
        obj[name] = value
    return obj


def _no_constants(name: str) -> Any:
    raise ConfigError(f"{name} is not JSON")


def parse(config: str) -> Config:
    """Parses a config string (``ConfigError`` when it is not valid)."""
    config = config.strip(WHITESPACE)
    if not config.startswith("{"):
        return Config(url=_template(config))
    try:
        fields = json.loads(config, object_pairs_hook=_object, parse_constant=_no_constants)
    except ConfigError:
        raise
    except (ValueError, RecursionError) as error:
        raise ConfigError(str(error)) from None
    # Only the config's own fields may not repeat (the last of a repeated header wins).
    if fields.duplicate is not None:
        raise ConfigError(f"duplicate field `{fields.duplicate}`")
    unknown = [name for name in fields if name not in FIELDS]
    if unknown:
        raise ConfigError(f"unknown field `{unknown[0]}`, expected one of `url`, `method`, `headers`, `not_found`")
    if "url" not in fields:
        raise ConfigError("missing field `url`")
    url = fields["url"]
    if not isinstance(url, str):
        raise ConfigError("`url` must be a string")
    method = fields.get("method", "GET")
    if method not in METHODS:
        raise ConfigError(f"`method` must be \"GET\" or \"POST\", not {json.dumps(method)}")
    headers = fields.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ConfigError("`headers` must be an object of strings")
    not_found = fields.get("not_found", "unknown")
    if not isinstance(not_found, str) or not_found not in NOT_FOUND:
        raise ConfigError(f"`not_found` must be \"unknown\" or \"rollback\", not {json.dumps(not_found)}")
    return Config(url=_template(url), method=method, headers=dict(headers), not_found=NOT_FOUND[not_found])


def _template(url: str) -> UrlTemplate:
    try:
        return UrlTemplate.parse(url)
    except TemplateError as error:
        raise ConfigError(str(error)) from None
