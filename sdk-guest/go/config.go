package weir

import "sync"

// ConfigCache keeps the parsed form of the last config string an instance saw, so a
// plugin parses its binding's config once, not once per call, and again only when the
// string changes (a binding updated in place).
//
// Usually T holds the parse error too, so that a config that does not parse is reported
// once (in parse) and remembered as bad until it changes:
//
//	type parsed struct {
//		topic string
//		err   error
//	}
//
//	var cache weir.ConfigCache[parsed]
//
//	func topic(config string) (string, error) {
//		p := cache.Get(config, func(config string) parsed {
//			if config == "" {
//				weir.Log(weir.LevelError, "the config must name a topic")
//				return parsed{err: errors.New("no topic")}
//			}
//			return parsed{topic: config}
//		})
//		return p.topic, p.err
//	}
//
// The zero value is an empty cache. It is safe for concurrent use.
type ConfigCache[T any] struct {
	mu     sync.Mutex
	seen   string
	filled bool
	parsed T
}

// Get answers the parsed form of config: the cached one when config is the string seen
// last, else parse(config), which replaces it.
func (c *ConfigCache[T]) Get(config string, parse func(config string) T) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.filled && c.seen == config {
		return c.parsed
	}
	c.parsed = parse(config)
	c.seen = config
	c.filled = true
	return c.parsed
}
