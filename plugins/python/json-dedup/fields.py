"""Field paths into a JSON document, and how the value found becomes a key.

A path is either dot-separated names, ``order.id``, where a segment made of digits
indexes an array (``items.0.sku``), or a JSON pointer (RFC 6901), ``/order/id``, for
names that contain dots. A string value is the key as it is; a number or boolean is its
JSON text; an object or array is its compact JSON text (object keys sorted), so equal
values give equal keys; ``null`` gives no key.

Bodies are read as the Rust plugin reads them: strict UTF-8 JSON (no BOM, no ``NaN``),
integers beyond 64 bits as floats, floats written in their shortest form (``1e+20``,
``1.5``, ``0.00001``, ``1e-7``), so both plugins give a body the same key.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Optional

class FieldPath:
    """A parsed field path: the segments from the document's root."""

    __slots__ = ("segments",)

    def __init__(self, segments: list[str]) -> None:
        self.segments = segments

    @classmethod
    def parse(cls, path: str) -> "FieldPath":
        """Parses a dotted path or a JSON pointer (``ValueError`` when it is neither)."""
        if path.startswith("/"):
            segments = [s.replace("~1", "/").replace("~0", "~") for s in path[1:].split("/")]
        else:
            segments = path.split(".")
            if not path or any(segment == "" for segment in segments):
                raise ValueError(f"{json.dumps(path)} is not a field path such as `order.id`")
        return cls(segments)

    def lookup(self, document: Any) -> Any:
        """The value at this path in ``document`` (``None`` when there is none, or it is
        ``null``)."""
        value = document
        for segment in self.segments:
            if isinstance(value, dict):
                value = value.get(segment)
            elif isinstance(value, list):
                index = _index(segment)
                value = value[index] if index is not None and index < len(value) else None
            else:
                return None
        return value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldPath) and self.segments == other.segments

    def __repr__(self) -> str:
        return f"FieldPath({self.segments!r})"


def _index(segment: str) -> Optional[int]:
    """An array index as Rust's ``usize`` parses it: ASCII digits, an optional ``+``."""
    digits = segment[1:] if segment.startswith("+") else segment
    if not digits or not all("0" <= c <= "9" for c in digits):
        return None
    return int(digits)


def _int(text: str) -> Any:
    value = int(text)
    if value == 0 and text.startswith("-"):
        return -0.0
    if -(1 << 63) <= value < (1 << 64):
        return value
    return _float(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {text}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(body: bytes) -> Any:
    """The JSON document of a body (``ValueError`` when it is not one)."""
    try:
        return json.loads(body.decode("utf-8"), parse_int=_int, parse_float=_float, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _float_text(value: float) -> str:
    """A float as serde_json (ryu) writes it: the shortest digits that read back."""
    if value != value or value in (float("inf"), float("-inf")):
        return "null"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    exponent += len(digits) - len(text)
    minus = "-" if sign else ""
    if text == "0":
        return minus + "0.0"
    point = len(text) + exponent  # where the decimal point goes, from the first digit
    if 0 <= exponent and point <= 16:
        return minus + text + "0" * exponent + ".0"
    if 0 < point <= 16:
        return minus + text[:point] + "." + text[point:]
    if -5 < point <= 0:
        return minus + "0." + "0" * -point + text
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    exponent = point - 1
    return f"{minus}{mantissa}e{'+' if exponent > 0 else ''}{exponent}"


def _json_text(value: Any) -> str:
    """Compact JSON text, object keys sorted, as serde_json writes a ``Value``."""
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _json_text(v) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, float):
        return _float_text(value)
    return json.dumps(value, ensure_ascii=False)


def key_text(value: Any) -> Optional[str]:
    """The key text of a value (``None`` for ``null``)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return _json_text(value)
