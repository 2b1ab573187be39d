"""The binding's key-value state, shared by its instances.

The broker keeps it in memory and writes a snapshot every 5 seconds and at shutdown: a
plugin must tolerate losing its most recent writes after a crash. Values are bytes; a
``str`` value is stored as UTF-8.
"""

from __future__ import annotations

from typing import Optional

from ._host import HOST, as_bytes, check_str, check_u64


def get(key: str) -> Optional[bytes]:
    """The value under ``key`` (``None`` when absent or expired)."""
    return HOST.state_get(check_str("a state key", key))


def set(key: str, value: bytes | str, ttl_ms: int = 0) -> None:
    """Writes ``value`` under ``key``, kept for ``ttl_ms`` (0: until deleted).

    Raises :class:`weir.HostError` when the binding's state quota would be exceeded.
    """
    HOST.state_set(check_str("a state key", key), as_bytes("a state value", value), check_u64("ttl_ms", ttl_ms))


def delete(key: str) -> None:
    """Deletes the value under ``key`` (absent: nothing happens)."""
    HOST.state_delete(check_str("a state key", key))
