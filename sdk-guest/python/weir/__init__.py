"""Weir's SDK for plugins written in Python.

A plugin is one class for its world, registered with the matching ``export_*`` call::

    import weir

    class Audit(weir.Consumer):
        def handle(self, config, batch):
            for message in batch:
                weir.publish(message.to_outgoing(config))
            return [weir.Outcome.ack()] * len(batch)

    weir.export_consumer(Audit)

The host services are plain functions: :mod:`weir.log`, :func:`now_ms`,
:mod:`weir.state`, :func:`publish`, :mod:`weir.http`. Run natively (``python -m
unittest``), they talk to the in-memory double of :mod:`weir.testing` instead of the
broker.

Inside a component, ``urllib.request.urlopen`` also works, over ``wasi:http`` (see
:mod:`weir.wasi_http`): the SDK installs its opener once the plugin imports
``urllib.request``.
"""

from . import http, log, state
from ._host import HostError
from ._message import Message, Outgoing, Properties
from ._plugin import (
    ConfigCache,
    Consumer,
    DedupFilter,
    Outcome,
    TxChecker,
    TxState,
    export_consumer,
    export_dedup_filter,
    export_tx_checker,
)
from ._services import now_ms, publish

__all__ = [
    "ConfigCache",
    "Consumer",
    "DedupFilter",
    "HostError",
    "Message",
    "Outcome",
    "Outgoing",
    "Properties",
    "TxChecker",
    "TxState",
    "export_consumer",
    "export_dedup_filter",
    "export_tx_checker",
    "http",
    "log",
    "now_ms",
    "publish",
    "state",
]

from . import _host

if _host.IN_COMPONENT:
    from . import _urllib

    _urllib.arm()
