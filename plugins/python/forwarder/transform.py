"""What happens to a message on its way to the target topic.

Keys, message group, properties and body travel unchanged, then the config's changes
apply in this order: properties removed, properties added (replacing), the origin
property, the tag, the body upper-cased.
"""

from __future__ import annotations

import weir

from config import Config


def forward(config: Config, message: weir.Message) -> weir.Outgoing:
    """The message to publish for ``message`` under ``config``."""
    outgoing = message.to_outgoing(config.to)
    for name in config.remove_properties:
        outgoing.properties.remove(name)
    for name, value in sorted(config.add_properties.items()):
        outgoing.properties[name] = value
    if config.origin_property is not None:
        outgoing.properties[config.origin_property] = message.id
    if config.tag is not None:
        outgoing.tag = config.tag
    if config.uppercase:
        try:
            outgoing.body = outgoing.text().upper().encode("utf-8")
        except UnicodeDecodeError:
            pass
    return outgoing
