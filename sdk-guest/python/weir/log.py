"""The broker's log: ``weir.log.info("...")`` writes a line tagged with the binding."""

from __future__ import annotations

from enum import IntEnum

from ._host import HOST


class Level(IntEnum):
    """Log levels, as the WIT ``level`` enum orders them."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


def write(level: Level, message: object) -> None:
    """Writes ``message`` (``str()`` of it) at ``level``."""
    HOST.log(Level(level), str(message))


def trace(message: object) -> None:
    write(Level.TRACE, message)


def debug(message: object) -> None:
    write(Level.DEBUG, message)


def info(message: object) -> None:
    write(Level.INFO, message)


def warn(message: object) -> None:
    write(Level.WARN, message)


def error(message: object) -> None:
    write(Level.ERROR, message)
