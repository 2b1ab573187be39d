package weir

// Message is a message as the broker hands it to a plugin.
//
// For a transaction checker, the message is the half message of the transaction and its
// ID is the transaction id; it has no queue and offset yet (both 0).
type Message struct {
	// ID is the message id (the producer's, when it chose one).
	ID string
	// Topic is the topic it was sent to.
	Topic string
	// Queue is its queue in that topic.
	Queue uint32
	// Offset is its offset in that queue.
	Offset uint64
	// Keys are its business keys.
	Keys []string
	// Tag is the tag, nil when it has none.
	Tag *string
	// MessageGroup is the message group (sharding key of FIFO delivery), nil when none.
	MessageGroup *string
	// Properties are the user properties, in order.
	Properties []Property
	// Body is the payload.
	Body []byte
	// BornMs is when the producer created it, ms since the Unix epoch.
	BornMs int64
	// Attempt is which delivery this is to the consumer, from 1 (0 outside consumers).
	Attempt uint32
}

// Property is a user property of a message: a name and a value.
type Property struct {
	Name  string
	Value string
}

// Property answers the value of the first property called name.
func (m *Message) Property(name string) (string, bool) {
	for _, property := range m.Properties {
		if property.Name == name {
			return property.Value, true
		}
	}
	return "", false
}

// BodyText answers the body as text, when it is valid UTF-8.
func (m *Message) BodyText() (string, bool) {
	return textOf(m.Body)
}

// ToOutgoing answers an Outgoing message to topic with this message's keys, tag,
// message group, properties and body (copied: changing one does not change the other).
func (m *Message) ToOutgoing(topic string) Outgoing {
	return Outgoing{
		Topic:        topic,
		Keys:         append([]string(nil), m.Keys...),
		Tag:          copyString(m.Tag),
		MessageGroup: copyString(m.MessageGroup),
		Properties:   append([]Property(nil), m.Properties...),
		Body:         append([]byte(nil), m.Body...),
	}
}

// Outgoing is a message a consumer publishes with Publish.
type Outgoing struct {
	// Topic is the topic to send to.
	Topic string
	// Keys are business keys.
	Keys []string
	// Tag is the tag, nil for none.
	Tag *string
	// MessageGroup is the message group, nil for none.
	MessageGroup *string
	// Properties are user properties.
	Properties []Property
	// Body is the payload.
	Body []byte
}

// NewOutgoing answers a message to topic carrying body, without keys, tag, group or
// properties.
func NewOutgoing(topic string, body []byte) Outgoing {
	return Outgoing{Topic: topic, Body: body}
}

// WithKey answers the message with one more business key.
func (o Outgoing) WithKey(key string) Outgoing {
	o.Keys = append(append([]string(nil), o.Keys...), key)
	return o
}

// WithTag answers the message with its tag set.
func (o Outgoing) WithTag(tag string) Outgoing {
	o.Tag = &tag
	return o
}

// WithMessageGroup answers the message with its message group set.
func (o Outgoing) WithMessageGroup(group string) Outgoing {
	o.MessageGroup = &group
	return o
}

// WithProperty answers the message with a user property set, replacing an earlier value
// of the same name.
func (o Outgoing) WithProperty(name, value string) Outgoing {
	properties := append([]Property(nil), o.Properties...)
	for i := range properties {
		if properties[i].Name == name {
			properties[i].Value = value
			o.Properties = properties
			return o
		}
	}
	o.Properties = append(properties, Property{Name: name, Value: value})
	return o
}

// String answers a pointer to a copy of s, for the optional fields (Tag, MessageGroup).
func String(s string) *string {
	return &s
}

func copyString(s *string) *string {
	if s == nil {
		return nil
	}
	return String(*s)
}

// clone answers a deep copy, so that the caller's later changes do not reach it.
func (o Outgoing) clone() Outgoing {
	o.Keys = append([]string(nil), o.Keys...)
	o.Tag = copyString(o.Tag)
	o.MessageGroup = copyString(o.MessageGroup)
	o.Properties = append([]Property(nil), o.Properties...)
	o.Body = append([]byte(nil), o.Body...)
	return o
}
