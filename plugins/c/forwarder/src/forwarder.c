/* forwarder, a Weir consumer: publishes each message of its group, transformed, to another
 * topic, and acks it once the publish succeeded.
 *
 * A failed publish is retried (after `retry_ms`, or the group's backoff), or, from the
 * delivery attempt `dead_letter_after` on, dead-lettered with the failure as its reason.
 * The rest of the batch is retried too, without being published: that keeps the order of
 * a FIFO group and spares a failing target. A config that does not parse retries every
 * message with the group's backoff and is logged once per instance. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "forwarder.h"
#include "weir_json.h"

/* Strings are first collected as offsets into `storage`, then turned into pointers once it
 * stops growing. */
typedef struct pending {
  size_t at, len;
} pending_t;

static size_t keep(config_t *c, const char *s, size_t len) {
  size_t at = c->storage.len;
  weir_buf_append(&c->storage, s, len);
  weir_buf_append_char(&c->storage, '\0');
  return at;
}

static bool string_field(weir_json_value_t v, const char *name, weir_buf_t *error) {
  if (weir_json_type(v) == WEIR_JSON_STRING) return true;
  weir_buf_printf(error, "`%s` must be a string", name);
  return false;
}


static const char *sort_storage;
static int compare_names(const void *a, const void *b) {
  const pending_t *x = a, *y = b;
  int c = strcmp(sort_storage + x[0].at, sort_storage + y[0].at);
  return c ? c : (x[0].len > y[0].len) - (x[0].len < y[0].len);
}

config_t *config_parse(const char *text, weir_buf_t *error) {
  while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r') text++;
  size_t len = strlen(text);
  while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n' ||
                 text[len - 1] == '\r')) {
    len--;
  }
  config_t *c = calloc(1, sizeof *c);
  if (!c) abort();
  weir_buf_clear(error);
  size_t to = 0, tag = 0, origin = 0;
  bool has_tag = false, has_origin = false;
  /* name offset, value offset (add) / name offset (remove); `len` holds the order */
  pending_t *add = NULL, *remove = NULL;
  size_t add_len = 0, remove_len = 0;
  weir_json_t doc;
  bool json = len > 0 && text[0] == '{';
  if (!json) {
    to = keep(c, text, len);
  } else {
    if (!weir_json_parse(&doc, text, len, error)) goto invalid;
    weir_json_value_t root = weir_json_root(&doc);
    if (weir_json_type(root) != WEIR_JSON_OBJECT) {
      weir_buf_append_str(error, "the config must be an object");
      goto invalid_doc;
    }
    if (weir_json_has_duplicates(root)) {
      weir_buf_append_str(error, "a field is given twice");
      goto invalid_doc;
    }
    bool has_to = false;
    for (size_t i = 0; i < weir_json_len(root); i++) {
      weir_str_t name = weir_json_key_at(root, i);
      weir_json_value_t v;
      weir_json_at(root, i, &v);
      weir_json_type_t type = weir_json_type(v);
      if (weir_str_eq(name, "to")) {
        if (!string_field(v, "to", error)) goto invalid_doc;
        weir_str_t s = weir_json_string(v);
        to = keep(c, s.ptr, s.len);
        has_to = true;
      } else if (weir_str_eq(name, "add_properties")) {
        if (type != WEIR_JSON_OBJECT) {
          weir_buf_append_str(error, "`add_properties` must be an object of strings");
          goto invalid_doc;
        }
        size_t n = weir_json_len(v);
        add = calloc(n ? n * 2 : 1, sizeof *add);
        for (size_t k = 0; k < n; k++) {
          weir_json_value_t value;
          weir_json_at(v, k, &value);
          if (!string_field(value, "add_properties", error)) goto invalid_doc;
          weir_str_t key = weir_json_key_at(v, k), s = weir_json_string(value);
          /* A repeated name: the last value wins, as in a map. */
          size_t slot = add_len;
          for (size_t e = 0; e < add_len; e++) {
            if (strcmp(c->storage.ptr + add[2 * e].at, key.ptr) == 0) slot = e;
          }
          add[2 * slot].at = keep(c, key.ptr, key.len);
          add[2 * slot].len = slot;
          add[2 * slot + 1].at = keep(c, s.ptr, s.len);
          add[2 * slot + 1].len = s.len;
          if (slot == add_len) add_len++;
        }
      } else if (weir_str_eq(name, "remove_properties")) {
        if (type != WEIR_JSON_ARRAY) {
          weir_buf_append_str(error, "`remove_properties` must be an array of strings");
          goto invalid_doc;
        }
        size_t n = weir_json_len(v);
        remove = calloc(n ? n : 1, sizeof *remove);
        for (size_t k = 0; k < n; k++) {
          weir_json_value_t item;
          weir_json_at(v, k, &item);
          if (!string_field(item, "remove_properties", error)) goto invalid_doc;
          weir_str_t s = weir_json_string(item);
          remove[remove_len].at = keep(c, s.ptr, s.len);
          remove[remove_len++].len = s.len;
        }
      } else if (weir_str_eq(name, "tag") || weir_str_eq(name, "origin_property")) {
        bool is_tag = weir_str_eq(name, "tag");
        if (type == WEIR_JSON_NULL) continue;
        if (!string_field(v, is_tag ? "tag" : "origin_property", error)) goto invalid_doc;
        weir_str_t s = weir_json_string(v);
        if (is_tag) tag = keep(c, s.ptr, s.len), has_tag = true;
        else origin = keep(c, s.ptr, s.len), has_origin = true;
      } else if (weir_str_eq(name, "uppercase")) {
        if (type != WEIR_JSON_BOOL) {
          weir_buf_append_str(error, "`uppercase` must be true or false");
          goto invalid_doc;
        }
        c->uppercase = weir_json_bool(v);
      } else if (weir_str_eq(name, "retry_ms")) {
        if (!weir_json_u64(v, &c->retry_ms)) {
          weir_buf_append_str(error, "`retry_ms` must be a non-negative integer");
          goto invalid_doc;
        }
      } else if (weir_str_eq(name, "dead_letter_after")) {
        if (type == WEIR_JSON_NULL) continue;
        uint64_t after;
        if (!weir_json_u64(v, &after) || after < 1 || after > UINT32_MAX) {
          weir_buf_append_str(error, "`dead_letter_after` must be a delivery attempt, 1 or more");
          goto invalid_doc;
        }
        c->dead_letter_after = (uint32_t)after;
      } else {
        weir_buf_printf(error, "unknown field `%s`", name.ptr);
        goto invalid_doc;
      }
    }
    weir_json_free(&doc);
    if (!has_to) {
      weir_buf_append_str(error, "missing field `to`");
      goto invalid;
    }
  }
  /* `to` must name a topic. */
  const char *t = c->storage.ptr ? c->storage.ptr + to : "";
  while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
  if (*t == '\0') {
    weir_buf_append_str(error, "`to` must name a topic");
    goto invalid;
  }
  /* Pointers, now that the storage is complete. */
  const char *base = c->storage.ptr;
  c->to = (char *)base + to;
  c->tag = has_tag ? (char *)base + tag : NULL;
  c->origin_property = has_origin ? (char *)base + origin : NULL;
  /* add_properties in name order (a map's), as pairs of pending entries */
  pending_t *pairs = calloc(add_len ? add_len : 1, 2 * sizeof *pairs);
  for (size_t i = 0; i < add_len; i++) pairs[2 * i] = add[2 * i], pairs[2 * i + 1] = add[2 * i + 1];
  sort_storage = base;
  qsort(pairs, add_len, 2 * sizeof *pairs, compare_names);
  c->add = calloc(add_len ? add_len : 1, sizeof *c->add);
  for (size_t i = 0; i < add_len; i++) {
    c->add[i].name = weir_str(base + pairs[2 * i].at);
    c->add[i].value.ptr = base + pairs[2 * i + 1].at;
    c->add[i].value.len = pairs[2 * i + 1].len;
  }
  c->add_len = add_len;
  free(pairs);
  c->remove = calloc(remove_len ? remove_len : 1, sizeof *c->remove);
  for (size_t i = 0; i < remove_len; i++) {
    c->remove[i].ptr = base + remove[i].at;
    c->remove[i].len = remove[i].len;
  }
  c->remove_len = remove_len;
  free(add);
  free(remove);
  return c;

invalid_doc:
  weir_json_free(&doc);
invalid:
  free(add);
  free(remove);
  config_free(c);
  return NULL;
}

void config_free(config_t *c) {
  if (!c) return;
  free(c->add);
  free(c->remove);
  weir_buf_free(&c->storage);
  free(c);
}

static bool same(weir_str_t a, weir_str_t b) {
  return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

void forward(const config_t *config, const weir_message_t *m, forwarded_t *f) {
  memset(f, 0, sizeof *f);
  size_t most = m->properties_len + config->add_len + 1;
  f->properties = calloc(most, sizeof *f->properties);
  if (!f->properties) abort();
  size_t n = 0;
  for (size_t i = 0; i < m->properties_len; i++) {
    bool removed = false;
    for (size_t r = 0; r < config->remove_len; r++) {
      if (same(m->properties[i].name, config->remove[r])) removed = true;
    }
    if (!removed) f->properties[n++] = m->properties[i];
  }
  /* Set a property: replace the first of the same name, or append. */
  weir_property_t origin = {weir_str(config->origin_property), m->id};
  for (size_t a = 0; a <= config->add_len; a++) {
    const weir_property_t *p = a < config->add_len ? &config->add[a] : &origin;
    if (a == config->add_len && !config->origin_property) break;
    size_t slot = n;
    for (size_t i = 0; i < n; i++) {
      if (same(f->properties[i].name, p->name)) {
        slot = i;
        break;
      }
    }
    f->properties[slot] = *p;
    if (slot == n) n++;
  }
  f->out.topic = config->to;
  f->out.keys = m->keys;
  f->out.keys_len = m->keys_len;
  if (config->tag) {
    f->out.tag = config->tag;
  } else if (m->has_tag) {
    weir_buf_append(&f->tag, m->tag.ptr, m->tag.len);
    f->out.tag = weir_buf_cstr(&f->tag);
  }
  f->out.message_group = m->has_message_group ? m->message_group.ptr : NULL;
  f->out.properties = f->properties;
  f->out.properties_len = n;
  f->out.body = m->body;
  f->out.body_len = m->body_len;
  if (config->uppercase && weir_utf8_upper(m->body, m->body_len, &f->body)) {
    f->out.body = (const uint8_t *)weir_buf_cstr(&f->body);
    f->out.body_len = f->body.len;
  }
}

void forward_free(forwarded_t *f) {
  free(f->properties);
  weir_buf_free(&f->body);
  weir_buf_free(&f->tag);
}

/* The parsed config, or NULL when it is invalid (logged once per config). */
static void *parse_and_log(const char *text) {
  weir_buf_t error = WEIR_BUF_INIT;
  config_t *config = config_parse(text, &error);
  if (!config) {
    weir_log_error("forwarder: invalid config \"%s\": %s; messages are retried", text,
                   weir_buf_cstr(&error));
  }
  weir_buf_free(&error);
  return config;
}

static void drop(void *config) { config_free(config); }

static weir_config_cache_t cache = WEIR_CONFIG_CACHE_INIT;

void weir_consume_batch(const char *text, const weir_message_t *batch, size_t len,
                        weir_outcome_t *outcomes) {
  const config_t *config = weir_config_cached(&cache, text, parse_and_log, drop);
  if (!config) {
    for (size_t i = 0; i < len; i++) outcomes[i] = weir_retry(0);
    return;
  }
  bool failed = false;
  weir_buf_t error = WEIR_BUF_INIT;
  for (size_t i = 0; i < len; i++) {
    if (failed) {
      outcomes[i] = weir_retry(config->retry_ms);
      continue;
    }
    forwarded_t f;
    forward(config, &batch[i], &f);
    if (weir_publish(&f.out, NULL, &error)) {
      outcomes[i] = weir_ack();
    } else if (config->dead_letter_after && batch[i].attempt >= config->dead_letter_after) {
      outcomes[i] = weir_dead_letter(
          "forwarder: publishing %s to %s failed on attempt %" PRIu32 ": %s", batch[i].id.ptr,
          config->to, batch[i].attempt, weir_buf_cstr(&error));
      weir_log_warn("%s; dead-lettering", outcomes[i].reason);
      failed = true;
    } else {
      weir_log_warn("forwarder: publishing %s to %s failed: %s; retrying", batch[i].id.ptr,
                    config->to, weir_buf_cstr(&error));
      failed = true;
      outcomes[i] = weir_retry(config->retry_ms);
    }
    forward_free(&f);
  }
  weir_buf_free(&error);
}
