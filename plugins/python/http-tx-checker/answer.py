"""How the service's answer maps to a transaction state.

A 2xx answer whose body is ``commit`` or ``rollback`` (any case, surrounding whitespace
ignored), or a JSON object ``{"state": "commit" | "rollback" | "unknown"}`` (what the
broker's producer-group callbacks answer), decides the transaction. A 404 is the
config's ``not_found`` choice. Everything else is unknown.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import weir

from config import WHITESPACE

_WORDS = {"commit": weir.TxState.COMMIT, "rollback": weir.TxState.ROLLBACK}


class _NotAnAnswer(ValueError):
    pass


def _object(pairs: list) -> dict:
    names = [name for name, _ in pairs]
    if names.count("state") > 1:
        raise _NotAnAnswer("duplicate field `state`")
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise _NotAnAnswer(f"{name} is not JSON")


def _json_state(text: str) -> Optional[str]:
    """The ``state`` of a JSON answer, or ``None`` when the text is not one."""
    try:
        document = json.loads(text, object_pairs_hook=_object, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return None
    if isinstance(document, dict) and isinstance(document.get("state"), str):
        return document["state"]
    return None


def state_of(status: int, body: bytes, not_found: weir.TxState) -> weir.TxState:
    """The transaction state an answer of ``status`` with ``body`` says."""
    if status == 404:
        return not_found
    if not 200 <= status < 300:
        return weir.TxState.UNKNOWN
    try:
        text = body.decode("utf-8").strip(WHITESPACE)
    except UnicodeDecodeError:
        return weir.TxState.UNKNOWN
    word = _json_state(text)
    if word is None:
        word = text
    # ASCII case only, as the Rust plugin compares.
    word = word.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")
    return _WORDS.get(word, weir.TxState.UNKNOWN)
