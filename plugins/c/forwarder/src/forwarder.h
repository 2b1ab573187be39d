/* forwarder.h: the parsed config of the forwarder, and the transformation of a message.
 *
 * The config is a bare topic name (`orders-eu`) or a JSON object:
 *   {"to": "orders-eu", "add_properties": {"region": "eu"}, "remove_properties": ["internal"],
 *    "tag": "eu", "uppercase": false, "origin_property": "forwarded-from", "retry_ms": 0,
 *    "dead_letter_after": 5}
 * Only `to` is required; unknown fields are refused. */
#ifndef FORWARDER_H
#define FORWARDER_H

#include "weir.h"

typedef struct config {
  char *to;
  weir_property_t *add; /* sorted by name, each name once */
  size_t add_len;
  weir_str_t *remove;
  size_t remove_len;
  char *tag;             /* NULL: keep the message's */
  bool uppercase;
  char *origin_property; /* NULL: not recorded */
  uint64_t retry_ms;
  uint32_t dead_letter_after; /* 0: never (the group's maximum attempts decide) */
  /* what the strings above point into */
  weir_buf_t storage;
} config_t;

/* Parses a config; NULL with the reason in `error` when it is invalid. */
config_t *config_parse(const char *text, weir_buf_t *error);
void config_free(config_t *config);

/* The message to publish for `m`; release with forward_free. */
typedef struct forwarded {
  weir_outgoing_t out;
  weir_property_t *properties;
  weir_buf_t body;
  weir_buf_t tag;
} forwarded_t;
void forward(const config_t *config, const weir_message_t *m, forwarded_t *f);
void forward_free(forwarded_t *f);

#endif
