"""The classes componentize-py exports, one per world: each converts the WIT values to
the SDK's, calls the plugin class the app registered, checks its answer and converts
it back.

The build's entry module imports the app (which registers its class) and then takes
the export class of its world from here, e.g. ``Consumer = consumer_export()``. This
module imports the generated bindings, so it only loads inside a component build.

An exception of the plugin is logged (at error level, with its traceback) and raised
again: the call traps, as a panic does in a Rust plugin, and the broker fails the call
(a consumer's batch is retried).
"""

from __future__ import annotations

import traceback
from typing import Any

from . import log
from ._message import Message, _Delivered
from ._plugin import _ACK, _SNAKE, REGISTERED, Consumer, DedupFilter, Outcome, TxChecker, TxState


def _registered(base: type) -> type:
    cls = REGISTERED.get(base)
    if cls is None:
        raise RuntimeError(
            f"the app exports no {base.__name__}: define a subclass of weir.{base.__name__} "
            f"and register it with weir.export_{_SNAKE[base]}(YourClass)"
        )
    return cls


class _Plugin:
    """The app's object, created on the first call of an instance (not at build time,
    when the host cannot be called yet)."""

    def __init__(self, base: type) -> None:
        self._cls = _registered(base)
        self._object: Any = None

    def get(self) -> Any:
        if self._object is None:
            self._object = self._cls()
        return self._object


def _deliver_messages() -> None:
    """Makes the bindings lift the WIT message record into ``weir.Message`` objects
    (``_Delivered``) rather than their own dataclass, so a message needs no conversion.
    componentize-py looks the record's class up in the bindings module after importing
    the app, i.e. after this ran (at build time, when the entry module is imported)."""
    from wit_world.imports import types

    types.Message = _Delivered


def _message(message: Any) -> Message:
    """The SDK's message of one the bindings lifted (itself, when they lifted it as one)."""
    if message.__class__ is _Delivered:
        return message
    return Message._from_wit(message)


def _fail(what: str, error: BaseException) -> None:
    detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        log.error(f"{what} raised {type(error).__name__}: {error}\n{detail}")
    except BaseException:
        pass


def consumer_export() -> type:
    from wit_world.exports import consumer as wit

    _deliver_messages()
    plugin = _Plugin(Consumer)
    ack = wit.Outcome_Ack()

    def convert(outcome: Any) -> Any:
        if not isinstance(outcome, Outcome):
            raise TypeError(f"handle must answer weir.Outcome values, not {type(outcome).__name__}")
        if outcome.kind == Outcome.ACK:
            return ack
        if outcome.kind == Outcome.RETRY:
            return wit.Outcome_Retry(outcome.value)
        return wit.Outcome_DeadLetter(outcome.value)

    class ConsumerExport:
        def handle(self, config: str, batch: list) -> list:
            try:
                if batch and batch[0].__class__ is not _Delivered:
                    batch = [Message._from_wit(message) for message in batch]
                outcomes = plugin.get().handle(config, batch)
                # The common answer, every message acked: one C-level pass (the
                # identity test of list.count) instead of a conversion per outcome.
                if outcomes.__class__ is list and outcomes.count(_ACK) == len(outcomes):
                    return [ack] * len(outcomes)
                return [convert(outcome) for outcome in outcomes]
            except BaseException as error:
                _fail("handle", error)
                raise

    return ConsumerExport


def dedup_filter_export() -> type:
    _deliver_messages()
    plugin = _Plugin(DedupFilter)

    class DedupFilterExport:
        def dedup_key(self, config: str, message: Any) -> Any:
            try:
                key = plugin.get().dedup_key(config, _message(message))
                if key is not None and not isinstance(key, str):
                    raise TypeError(f"dedup_key must answer a str or None, not {type(key).__name__}")
                return key
            except BaseException as error:
                _fail("dedup_key", error)
                raise

    return DedupFilterExport


def tx_checker_export() -> type:
    from wit_world.exports import tx_checker as wit

    _deliver_messages()
    plugin = _Plugin(TxChecker)
    states = {
        TxState.COMMIT: wit.TxState.COMMIT,
        TxState.ROLLBACK: wit.TxState.ROLLBACK,
        TxState.UNKNOWN: wit.TxState.UNKNOWN,
    }

    class TxCheckerExport:
        def check(self, config: str, half: Any, checks: int) -> Any:
            try:
                state = plugin.get().check(config, _message(half), checks)
                if not isinstance(state, TxState):
                    raise TypeError(f"check must answer a weir.TxState, not {type(state).__name__}")
                return states[state]
            except BaseException as error:
                _fail("check", error)
                raise

    return TxCheckerExport
