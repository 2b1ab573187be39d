// What happens to a message on its way to the target topic.
//
// Keys, message group, properties and body travel unchanged, then the config's changes
// apply in this order: properties removed, properties added (replacing), the origin
// property, the tag, the body upper-cased (when it is UTF-8 text).

import { utf8Encode } from 'weir';

/** The Outgoing to publish for `message` under `config`. */
export function forward(config, message) {
  const outgoing = message.toOutgoing(config.to);
  outgoing.properties = outgoing.properties.filter(
    ([name]) => !config.removeProperties.includes(name),
  );
  for (const [name, value] of config.addProperties) outgoing.property(name, value);
  if (config.originProperty !== undefined) outgoing.property(config.originProperty, message.id);
  if (config.tag !== undefined) outgoing.tag = config.tag;
  if (config.uppercase) {
    const text = outgoing.text();
    if (text !== undefined) outgoing.body = utf8Encode(text.toUpperCase());
  }
  return outgoing;
}
