"""``http-tx-checker``, a Weir transaction checker: asks the producer's HTTP service for
the state of an undecided transaction, with Python's own HTTP client
(``urllib.request``), which the SDK sends over ``wasi:http`` in the component.

* ``config``: the binding's config (``config.Config``): URL template, method, headers;
* ``template``: the URL template and its placeholders (``template.UrlTemplate``);
* ``answer``: how an answer maps to commit, rollback or unknown (``answer.state_of``);
* ``callback``: the JSON body of a POST, the same as the broker's own check-back
  callback sends (``callback.body``).

Anything but a clear answer is unknown: the broker asks again later. A config that does
not parse is logged once per instance and answers unknown.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Optional

import weir

import callback
import config as configs
from answer import state_of

#: How long a request may take, in seconds (the broker applies its own limit, 10 s and
#: the call's deadline, in the component).
TIMEOUT_S = 10


class HttpTxChecker(weir.TxChecker):
    def __init__(self) -> None:
        self.configs = weir.ConfigCache(self.parse)

    @staticmethod
    def parse(config: str) -> Optional[configs.Config]:
        try:
            return configs.parse(config)
        except configs.ConfigError as error:
            weir.log.error(
                f"http-tx-checker: invalid config {json.dumps(config)}: {error}; every transaction stays unknown"
            )
            return None

    def check(self, config: str, half: weir.Message, checks: int) -> weir.TxState:
        parsed = self.configs.get(config)
        if parsed is None:
            return weir.TxState.UNKNOWN
        return ask(parsed, half, checks)


def ask(config: configs.Config, half: weir.Message, checks: int) -> weir.TxState:
    """Asks the service about ``half``'s transaction."""
    url = config.url.render(half, checks)
    headers = dict(config.headers)
    data = None
    if config.method == "POST":
        headers["content-type"] = "application/json"
        data = callback.body(half, checks)
    try:
        request = urllib.request.Request(url, data=data, headers=headers, method=config.method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            # A status that is not 2xx: an answer all the same.
            try:
                status, body = error.code, error.read()
            finally:
                error.close()
    except Exception as error:  # no answer: refused, unreachable, cut short, bad header...
        weir.log.warn(f"http-tx-checker: asking {url} about transaction {half.id} failed: {error}")
        return weir.TxState.UNKNOWN
    state = state_of(status, body, config.not_found)
    if state is weir.TxState.UNKNOWN:
        weir.log.debug(f"http-tx-checker: {url} answered {status} for transaction {half.id}: unknown")
    return state


weir.export_tx_checker(HttpTxChecker)
