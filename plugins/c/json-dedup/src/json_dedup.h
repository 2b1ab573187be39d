/* json_dedup.h: the config of the json-dedup filter: the field paths of the key.
 *
 * Accepted: a bare path `order.id` (a segment of digits indexes an array), a JSON pointer
 * `/order/id`, `{"field": "order.id"}` or `{"fields": ["tenant", "order.id"]}`. */
#ifndef JSON_DEDUP_H
#define JSON_DEDUP_H

#include "weir.h"
#include "weir_json.h"

typedef struct path {
  weir_str_t *segments;
  size_t len;
} path_t;

typedef struct fields {
  path_t *paths;
  size_t len;
  weir_buf_t storage;
} fields_t;

/* Parses a config; NULL with the reason in `error` when it is invalid. */
fields_t *fields_parse(const char *text, weir_buf_t *error);
void fields_free(fields_t *fields);
/* Appends the key of `body` under `fields`; false when it has none. */
bool key_of(const fields_t *fields, const uint8_t *body, size_t len, weir_buf_t *key);

#endif
