/* json-dedup, a Weir dedup filter: the dedup key of a message is the value of one or more
 * fields of its JSON body, named by the binding's config.
 *
 * A string value is the key as it is; a number or boolean is its JSON text; an object or
 * array is its compact JSON text with sorted keys; `null`, a missing field or a body that
 * is not JSON gives no key. Several fields are joined by U+001F. A config that does not
 * parse is logged once per instance and gives no keys. */
#include <stdlib.h>
#include <string.h>

#include "json_dedup.h"

/* A path as (offset, length) pairs into the storage, resolved once it stops growing. */
typedef struct span {
  size_t at, len;
} span_t;

typedef struct draft {
  span_t *spans;     /* every segment of every path */
  size_t spans_len;
  size_t *counts;    /* segments per path */
  size_t paths_len;
} draft_t;

static bool add_path(fields_t *f, draft_t *d, const char *path, size_t len, weir_buf_t *error) {
  bool pointer = len > 0 && path[0] == '/';
  size_t start = d->spans_len;
  const char *p = pointer ? path + 1 : path;
  const char *end = path + len;
  char separator = pointer ? '/' : '.';
  for (;;) {
    const char *stop = p;
    while (stop < end && *stop != separator) stop++;
    size_t at = f->storage.len;
    for (const char *c = p; c < stop; c++) {
      if (pointer && *c == '~' && c + 1 < stop && (c[1] == '1' || c[1] == '0')) {
        weir_buf_append_char(&f->storage, c[1] == '1' ? '/' : '~');
        c++;
      } else {
        weir_buf_append_char(&f->storage, *c);
      }
    }
    size_t seg_len = f->storage.len - at;
    weir_buf_append_char(&f->storage, '\0');
    if (!pointer && stop == p) {
      weir_buf_printf(error, "\"%.*s\" is not a field path such as `order.id`", (int)len, path);
      d->spans_len = start;
      return false;
    }
    d->spans = realloc(d->spans, (d->spans_len + 1) * sizeof *d->spans);
    if (!d->spans) abort();
    d->spans[d->spans_len].at = at;
    d->spans[d->spans_len++].len = seg_len;
    if (stop >= end) break;
    p = stop + 1;
  }
  d->counts = realloc(d->counts, (d->paths_len + 1) * sizeof *d->counts);
  if (!d->counts) abort();
  d->counts[d->paths_len++] = d->spans_len - start;
  return true;
}

static bool add_json_path(fields_t *f, draft_t *d, weir_json_value_t v, const char *what,
                          weir_buf_t *error) {
  if (weir_json_type(v) != WEIR_JSON_STRING) {
    weir_buf_printf(error, "%s must be a string", what);
    return false;
  }
  weir_str_t s = weir_json_string(v);
  return add_path(f, d, s.ptr, s.len, error);
}

fields_t *fields_parse(const char *text, weir_buf_t *error) {
  while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r') text++;
  size_t len = strlen(text);
  while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n' ||
                 text[len - 1] == '\r')) {
    len--;
  }
  weir_buf_clear(error);
  fields_t *f = calloc(1, sizeof *f);
  draft_t d = {NULL, 0, NULL, 0};
  if (!f) abort();
  bool ok = true;
  if (len == 0) {
    weir_buf_append_str(error, "\"\" is not a field path such as `order.id`");
    ok = false;
  } else if (text[0] != '{') {
    ok = add_path(f, &d, text, len, error);
  } else {
    weir_json_t doc;
    if (!weir_json_parse(&doc, text, len, error)) {
      ok = false;
    } else {
      weir_json_value_t root = weir_json_root(&doc), field, fields;
      bool has_field = false, has_fields = false;
      if (weir_json_type(root) != WEIR_JSON_OBJECT) {
        weir_buf_append_str(error, "the config must be a path or an object");
        ok = false;
      } else if (weir_json_has_duplicates(root)) {
        weir_buf_append_str(error, "a field is given twice");
        ok = false;
      }
      for (size_t i = 0; ok && i < weir_json_len(root); i++) {
        weir_str_t name = weir_json_key_at(root, i);
        weir_json_value_t v;
        weir_json_at(root, i, &v);
        bool null = weir_json_type(v) == WEIR_JSON_NULL;
        if (weir_str_eq(name, "field")) {
          if (!null) field = v, has_field = true;
        } else if (weir_str_eq(name, "fields")) {
          if (!null) fields = v, has_fields = true;
        } else {
          weir_buf_printf(error, "unknown field `%s`, expected `field` or `fields`", name.ptr);
          ok = false;
        }
      }
      if (ok && has_fields && weir_json_type(fields) != WEIR_JSON_ARRAY) {
        weir_buf_append_str(error, "`fields` must be an array of strings");
        ok = false;
      }
      if (ok && has_field && !has_fields) {
        ok = add_json_path(f, &d, field, "`field`", error);
      } else if (ok && has_fields && !has_field && weir_json_len(fields) > 0) {
        for (size_t i = 0; ok && i < weir_json_len(fields); i++) {
          weir_json_value_t item;
          weir_json_at(fields, i, &item);
          ok = add_json_path(f, &d, item, "each of `fields`", error);
        }
      } else if (ok) {
        weir_buf_append_str(error, "give exactly one of `field` and a non-empty `fields`");
        ok = false;
      }
      weir_json_free(&doc);
    }
  }
  if (ok) {
    f->paths = calloc(d.paths_len ? d.paths_len : 1, sizeof *f->paths);
    weir_str_t *segments = calloc(d.spans_len ? d.spans_len : 1, sizeof *segments);
    if (!f->paths || !segments) abort();
    for (size_t i = 0; i < d.spans_len; i++) {
      segments[i].ptr = f->storage.ptr + d.spans[i].at;
      segments[i].len = d.spans[i].len;
    }
    size_t at = 0;
    for (size_t i = 0; i < d.paths_len; i++) {
      f->paths[i].segments = segments + at;
      f->paths[i].len = d.counts[i];
      at += d.counts[i];
    }
    f->len = d.paths_len;
  }
  free(d.spans);
  free(d.counts);
  if (!ok) {
    fields_free(f);
    return NULL;
  }
  return f;
}

void fields_free(fields_t *f) {
  if (!f) return;
  if (f->paths) free(f->paths[0].segments);
  free(f->paths);
  weir_buf_free(&f->storage);
  free(f);
}

/* An array index as Rust's usize parses it: an optional '+', then digits. */
static bool index_of(weir_str_t segment, size_t *out) {
  const char *p = segment.ptr, *end = segment.ptr + segment.len;
  if (p < end && *p == '+') p++;
  if (p == end) return false;
  size_t value = 0;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9') return false;
    size_t digit = (size_t)(*p - '0');
    if (value > (SIZE_MAX - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

static bool lookup(const path_t *path, weir_json_value_t value, weir_json_value_t *out) {
  for (size_t i = 0; i < path->len; i++) {
    weir_str_t segment = path->segments[i];
    size_t index;
    switch (weir_json_type(value)) {
      case WEIR_JSON_OBJECT:
        if (!weir_json_get(value, segment.ptr, segment.len, &value)) return false;
        break;
      case WEIR_JSON_ARRAY:
        if (!index_of(segment, &index) || !weir_json_at(value, index, &value)) return false;
        break;
      default: return false;
    }
  }
  *out = value;
  return true;
}

bool key_of(const fields_t *fields, const uint8_t *body, size_t len, weir_buf_t *key) {
  weir_json_t doc;
  if (!weir_json_parse(&doc, (const char *)body, len, NULL)) return false;
  bool some = true;
  for (size_t i = 0; some && i < fields->len; i++) {
    weir_json_value_t value;
    if (!lookup(&fields->paths[i], weir_json_root(&doc), &value) ||
        weir_json_type(value) == WEIR_JSON_NULL) {
      some = false;
      break;
    }
    if (i > 0) weir_buf_append_char(key, '\x1f');
    if (weir_json_type(value) == WEIR_JSON_STRING) {
      weir_str_t s = weir_json_string(value);
      weir_buf_append(key, s.ptr, s.len);
    } else {
      weir_json_write(value, key);
    }
  }
  weir_json_free(&doc);
  return some;
}

static void *parse_and_log(const char *text) {
  weir_buf_t error = WEIR_BUF_INIT;
  fields_t *fields = fields_parse(text, &error);
  if (!fields) {
    weir_log_error("json-dedup: invalid config \"%s\": %s; no message gets a key", text,
                   weir_buf_cstr(&error));
  }
  weir_buf_free(&error);
  return fields;
}

static void drop(void *fields) { fields_free(fields); }

static weir_config_cache_t cache = WEIR_CONFIG_CACHE_INIT;

bool weir_dedup_key(const char *config, const weir_message_t *message, weir_buf_t *key) {
  const fields_t *fields = weir_config_cached(&cache, config, parse_and_log, drop);
  if (!fields) return false;
  if (key_of(fields, message->body, message->body_len, key)) return true;
  weir_buf_clear(key);
  return false;
}
