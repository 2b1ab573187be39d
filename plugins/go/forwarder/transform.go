package main

// What happens to a message on its way to the target topic.
//
// Keys, message group, properties and body travel unchanged, then the config's changes
// apply in this order: properties removed, properties added (replacing, in the order of
// their names), the origin property, the tag, the body upper-cased.

import (
	"slices"
	"sort"
	"unicode/utf8"

	"weir"
)

// forward answers the message to publish for message under config.
func forward(config config, message weir.Message) weir.Outgoing {
	outgoing := message.ToOutgoing(config.to)
	outgoing.Properties = slices.DeleteFunc(outgoing.Properties, func(property weir.Property) bool {
		return slices.Contains(config.removeProperties, property.Name)
	})
	names := make([]string, 0, len(config.addProperties))
	for name := range config.addProperties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		outgoing = outgoing.WithProperty(name, config.addProperties[name])
	}
	if config.originProperty != nil {
		outgoing = outgoing.WithProperty(*config.originProperty, message.ID)
	}
	if config.tag != nil {
		outgoing = outgoing.WithTag(*config.tag)
	}
	if config.uppercase && utf8.Valid(outgoing.Body) {
		outgoing.Body = []byte(toUpper(string(outgoing.Body)))
	}
	return outgoing
}
