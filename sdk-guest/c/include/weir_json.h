/* weir_json.h: a small JSON parser for configs and message bodies.
 *
 * Strict RFC 8259 (as serde_json): no comments, no trailing commas, no lone surrogates,
 * no control characters in strings, numbers that overflow a double are refused. Bounded:
 * nesting deeper than WEIR_JSON_MAX_DEPTH is refused, so hostile input cannot exhaust the
 * stack; memory is linear in the input's size. Duplicate object keys: the last wins (as
 * serde_json's Value), and weir_json_has_duplicates tells when a config should refuse
 * them.
 */
#ifndef WEIR_JSON_H
#define WEIR_JSON_H

#include "weir.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEIR_JSON_MAX_DEPTH 128

typedef enum weir_json_type {
  WEIR_JSON_NULL,
  WEIR_JSON_BOOL,
  WEIR_JSON_NUMBER,
  WEIR_JSON_STRING,
  WEIR_JSON_ARRAY,
  WEIR_JSON_OBJECT,
} weir_json_type_t;

/* A value: an index into its document. */
typedef struct weir_json_value {
  const struct weir_json *doc;
  size_t index;
} weir_json_value_t;

/* A parsed document (release with weir_json_free). */
typedef struct weir_json {
  struct weir_json_node *nodes;
  size_t len, cap;
  weir_buf_t strings;
} weir_json_t;

/* Parses `len` bytes; on failure answers false with a message in `error` (may be NULL). */
bool weir_json_parse(weir_json_t *doc, const char *text, size_t len, weir_buf_t *error);
void weir_json_free(weir_json_t *doc);

weir_json_value_t weir_json_root(const weir_json_t *doc);
weir_json_type_t weir_json_type(weir_json_value_t value);
/* Items of an array, members of an object (0 for the other types). */
size_t weir_json_len(weir_json_value_t value);
/* The i-th item of an array or the i-th member's value of an object. */
bool weir_json_at(weir_json_value_t value, size_t i, weir_json_value_t *out);
/* The i-th member's name of an object. */
weir_str_t weir_json_key_at(weir_json_value_t value, size_t i);
/* The member of an object named `name` (the last one when repeated). */
bool weir_json_get(weir_json_value_t value, const char *name, size_t name_len,
                   weir_json_value_t *out);
/* Whether an object has a member name twice. */
bool weir_json_has_duplicates(weir_json_value_t value);
/* A string's decoded text (NUL-terminated; may hold NULs of its own). */
weir_str_t weir_json_string(weir_json_value_t value);
bool weir_json_bool(weir_json_value_t value);
/* A number that is a non-negative integer within uint64_t. */
bool weir_json_u64(weir_json_value_t value, uint64_t *out);
/* A number as a double. */
double weir_json_double(weir_json_value_t value);
/* Appends the compact JSON text of a value, as serde_json prints it: object members
 * sorted by name (repeats collapsed, the last wins), integers as written, other numbers
 * in their shortest round-trip form (`1.5`, `1000.0`, `1e20`). */
void weir_json_write(weir_json_value_t value, weir_buf_t *out);

#ifdef __cplusplus
}
#endif

#endif
