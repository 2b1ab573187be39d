"""The JSON body of a POST check: the same shape as the broker's own check-back callback
(``docs/scheduling.md``), so a service written for producer-group callbacks answers this
checker unchanged::

    {"transaction":"...","topic":"orders","checks":1,
     "message":{"id":"...","topic":"orders","keys":[],"properties":{},"born_ms":0,"body":"..."}}

A body that is not UTF-8 travels as ``body_base64`` instead of ``body``. The broker's
callback also carries ``producer_group`` and ``store_ms``, which a plugin does not see.
The text is what the Rust plugin sends: compact, properties by name (the last of a
repeated name wins), ``tag`` and ``message_group`` only when set.
"""

from __future__ import annotations

import base64
import json

import weir


def body(half: weir.Message, checks: int) -> bytes:
    """The body of a POST about ``half`` at its ``checks``-th check."""
    properties: dict[str, str] = {}
    for name, value in half.properties.items():
        properties[name] = value
    message: dict = {"id": half.id, "topic": half.topic, "keys": list(half.keys)}
    if half.tag is not None:
        message["tag"] = half.tag
    if half.message_group is not None:
        message["message_group"] = half.message_group
    message["properties"] = dict(sorted(properties.items()))
    message["born_ms"] = half.born_ms
    try:
        message["body"] = half.body.decode("utf-8")
    except UnicodeDecodeError:
        message["body_base64"] = base64.b64encode(half.body).decode("ascii")
    check_back = {"transaction": half.id, "topic": half.topic, "checks": checks, "message": message}
    return json.dumps(check_back, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
