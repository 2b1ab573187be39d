/* component.c: the glue between weir.h and the generated bindings (gen/WORLD/), built only
 * for WebAssembly. build.sh defines one of WEIR_WORLD_CONSUMER, WEIR_WORLD_DEDUP_FILTER or
 * WEIR_WORLD_TX_CHECKER and puts that world's gen/ directory on the include path; every
 * world is generated as `weir_world`, so the host imports read the same in all three.
 *
 * Ownership, as the generated code has it: an export frees its arguments (here, once the
 * plugin has returned), and the generated post-return frees what an export returns, so
 * every returned string is a heap copy. An import's results are the caller's to free.
 */
#ifdef __wasm__

#include <stdlib.h>
#include <string.h>

#include "weir.h"
#include "weir_world.h"

/* The canonical ABI allocator, replacing the generated (weak) one: one byte more than
 * asked, set to NUL, so every string and list the broker hands in is NUL-terminated. */
__attribute__((__export_name__("cabi_realloc"))) void *cabi_realloc(void *ptr, size_t old_size,
                                                                    size_t align,
                                                                    size_t new_size) {
  (void)old_size;
  if (new_size == 0) return (void *)align;
  uint8_t *ret = realloc(ptr, new_size + 1);
  if (!ret) abort();
  ret[new_size] = 0;
  return ret;
}

static weir_str_t view(const weir_world_string_t *s) {
  weir_str_t str = {s->len ? (const char *)s->ptr : "", s->len};
  return str;
}

static weir_world_string_t borrow(const char *s) {
  weir_world_string_t str = {(uint8_t *)(s ? s : ""), s ? strlen(s) : 0};
  return str;
}

static void answer(weir_buf_t *out, const weir_world_string_t *s) {
  if (!out) return;
  weir_buf_clear(out);
  weir_buf_append(out, s->ptr, s->len);
}

/* Storage for the views of one call's messages: keys and properties. */
typedef struct views {
  weir_str_t *strs;
  weir_property_t *properties;
} views_t;

static void view_messages(const weir_plugin_types_message_t *in, size_t len, weir_message_t *out,
                          views_t *views) {
  size_t keys = 0, properties = 0;
  for (size_t i = 0; i < len; i++) {
    keys += in[i].keys.len;
    properties += in[i].properties.len;
  }
  views->strs = malloc((keys ? keys : 1) * sizeof *views->strs);
  views->properties = malloc((properties ? properties : 1) * sizeof *views->properties);
  if (!views->strs || !views->properties) abort();
  weir_str_t *key = views->strs;
  weir_property_t *property = views->properties;
  for (size_t i = 0; i < len; i++) {
    const weir_plugin_types_message_t *m = &in[i];
    weir_message_t *v = &out[i];
    v->id = view(&m->id);
    v->topic = view(&m->topic);
    v->queue = m->queue;
    v->offset = m->offset;
    v->keys = key;
    v->keys_len = m->keys.len;
    for (size_t k = 0; k < m->keys.len; k++) *key++ = view(&m->keys.ptr[k]);
    v->has_tag = m->tag.is_some;
    v->tag = m->tag.is_some ? view(&m->tag.val) : weir_str(NULL);
    v->has_message_group = m->message_group.is_some;
    v->message_group = m->message_group.is_some ? view(&m->message_group.val) : weir_str(NULL);
    v->properties = property;
    v->properties_len = m->properties.len;
    for (size_t p = 0; p < m->properties.len; p++) {
      property->name = view(&m->properties.ptr[p].f0);
      property->value = view(&m->properties.ptr[p].f1);
      property++;
    }
    v->body = m->body.len ? m->body.ptr : (const uint8_t *)"";
    v->body_len = m->body.len;
    v->born_ms = m->born_ms;
    v->attempt = m->attempt;
  }
}

static void free_views(views_t *views) {
  free(views->strs);
  free(views->properties);
}

/* ---- exports ---- */

#if defined(WEIR_WORLD_CONSUMER)
void exports_weir_plugin_consumer_handle(weir_world_string_t *config,
                                         exports_weir_plugin_consumer_list_message_t *batch,
                                         exports_weir_plugin_consumer_list_outcome_t *ret) {
  size_t len = batch->len;
  weir_message_t *messages = malloc((len ? len : 1) * sizeof *messages);
  weir_outcome_t *outcomes = calloc(len ? len : 1, sizeof *outcomes);
  ret->ptr = malloc((len ? len : 1) * sizeof *ret->ptr);
  if (!messages || !outcomes || !ret->ptr) abort();
  ret->len = len;
  views_t views;
  view_messages(batch->ptr, len, messages, &views);
  weir_consume_batch(view(config).ptr, messages, len, outcomes);
  for (size_t i = 0; i < len; i++) {
    exports_weir_plugin_consumer_outcome_t *o = &ret->ptr[i];
    switch (outcomes[i].kind) {
      case WEIR_RETRY:
        o->tag = EXPORTS_WEIR_PLUGIN_CONSUMER_OUTCOME_RETRY;
        o->val.retry = outcomes[i].retry_ms;
        break;
      case WEIR_DEAD_LETTER:
        /* The reason is already a heap string: post-return frees it. */
        o->tag = EXPORTS_WEIR_PLUGIN_CONSUMER_OUTCOME_DEAD_LETTER;
        if (outcomes[i].reason && outcomes[i].reason[0]) {
          o->val.dead_letter.ptr = (uint8_t *)outcomes[i].reason;
          o->val.dead_letter.len = strlen(outcomes[i].reason);
        } else {
          weir_outcome_free(&outcomes[i]);
          o->val.dead_letter.ptr = NULL;
          o->val.dead_letter.len = 0;
        }
        break;
      default:
        o->tag = EXPORTS_WEIR_PLUGIN_CONSUMER_OUTCOME_ACK;
        break;
    }
  }
  free_views(&views);
  free(messages);
  free(outcomes);
  exports_weir_plugin_consumer_list_message_free(batch);
  weir_world_string_free(config);
}
#endif

#if defined(WEIR_WORLD_DEDUP_FILTER)
bool exports_weir_plugin_dedup_filter_dedup_key(weir_world_string_t *config,
                                                exports_weir_plugin_dedup_filter_message_t *message,
                                                weir_world_string_t *ret) {
  weir_message_t m;
  views_t views;
  view_messages(message, 1, &m, &views);
  weir_buf_t key = WEIR_BUF_INIT;
  bool some = weir_dedup_key(view(config).ptr, &m, &key);
  if (some && key.len > 0) {
    ret->ptr = (uint8_t *)key.ptr; /* post-return frees it */
    ret->len = key.len;
  } else {
    weir_buf_free(&key);
    ret->ptr = NULL;
    ret->len = 0;
  }
  free_views(&views);
  exports_weir_plugin_dedup_filter_message_free(message);
  weir_world_string_free(config);
  return some;
}
#endif

#if defined(WEIR_WORLD_TX_CHECKER)
exports_weir_plugin_tx_checker_tx_state_t exports_weir_plugin_tx_checker_check(
    weir_world_string_t *config, exports_weir_plugin_tx_checker_message_t *half, uint32_t checks) {
  weir_message_t m;
  views_t views;
  view_messages(half, 1, &m, &views);
  weir_tx_state_t state = weir_tx_check(view(config).ptr, &m, checks);
  free_views(&views);
  exports_weir_plugin_tx_checker_message_free(half);
  weir_world_string_free(config);
  switch (state) {
    case WEIR_TX_COMMIT: return EXPORTS_WEIR_PLUGIN_TX_CHECKER_TX_STATE_COMMIT;
    case WEIR_TX_ROLLBACK: return EXPORTS_WEIR_PLUGIN_TX_CHECKER_TX_STATE_ROLLBACK;
    default: return EXPORTS_WEIR_PLUGIN_TX_CHECKER_TX_STATE_UNKNOWN;
  }
}
#endif

/* ---- host services ---- */

void weir_log_str(weir_level_t level, const char *text, size_t len) {
  weir_world_string_t message = {(uint8_t *)text, len};
  weir_plugin_host_log((weir_plugin_host_level_t)level, &message);
}

int64_t weir_now_ms(void) { return weir_plugin_host_now_ms(); }

bool weir_state_get(const char *key, weir_buf_t *value) {
  weir_world_string_t k = borrow(key);
  weir_world_list_u8_t ret;
  if (!weir_plugin_host_state_get(&k, &ret)) return false;
  weir_buf_clear(value);
  weir_buf_append(value, ret.ptr, ret.len);
  weir_world_list_u8_free(&ret);
  return true;
}

bool weir_state_set(const char *key, const void *value, size_t len, uint64_t ttl_ms,
                    weir_buf_t *error) {
  weir_world_string_t k = borrow(key);
  weir_world_list_u8_t v = {(uint8_t *)(len ? value : ""), len};
  weir_world_string_t err;
  if (weir_plugin_host_state_set(&k, &v, ttl_ms, &err)) return true;
  answer(error, &err);
  weir_world_string_free(&err);
  return false;
}

void weir_state_delete(const char *key) {
  weir_world_string_t k = borrow(key);
  weir_plugin_host_state_delete(&k);
}

bool weir_publish(const weir_outgoing_t *message, weir_buf_t *id, weir_buf_t *error) {
  /* Imports only borrow their arguments: the plugin's own memory is passed as it is. */
  weir_plugin_host_outgoing_t out;
  out.topic = borrow(message->topic);
  weir_world_string_t *keys = malloc((message->keys_len ? message->keys_len : 1) * sizeof *keys);
  weir_world_tuple2_string_string_t *properties =
      malloc((message->properties_len ? message->properties_len : 1) * sizeof *properties);
  if (!keys || !properties) abort();
  for (size_t i = 0; i < message->keys_len; i++) {
    keys[i].ptr = (uint8_t *)message->keys[i].ptr;
    keys[i].len = message->keys[i].len;
  }
  for (size_t i = 0; i < message->properties_len; i++) {
    properties[i].f0.ptr = (uint8_t *)message->properties[i].name.ptr;
    properties[i].f0.len = message->properties[i].name.len;
    properties[i].f1.ptr = (uint8_t *)message->properties[i].value.ptr;
    properties[i].f1.len = message->properties[i].value.len;
  }
  out.keys.ptr = keys;
  out.keys.len = message->keys_len;
  out.tag.is_some = message->tag != NULL;
  out.tag.val = borrow(message->tag);
  out.message_group.is_some = message->message_group != NULL;
  out.message_group.val = borrow(message->message_group);
  out.properties.ptr = properties;
  out.properties.len = message->properties_len;
  out.body.ptr = (uint8_t *)(message->body_len ? message->body : (const uint8_t *)"");
  out.body.len = message->body_len;
  weir_world_string_t ret, err;
  bool ok = weir_plugin_host_publish(&out, &ret, &err);
  free(keys);
  free(properties);
  if (ok) {
    answer(id, &ret);
    weir_world_string_free(&ret);
  } else {
    answer(error, &err);
    weir_world_string_free(&err);
  }
  return ok;
}

bool weir_http_request(const char *method, const char *url, const weir_header_t *headers,
                       size_t headers_len, const void *body, size_t body_len,
                       weir_http_response_t *response, weir_buf_t *error) {
  weir_world_string_t m = borrow(method), u = borrow(url);
  weir_world_tuple2_string_string_t *list =
      malloc((headers_len ? headers_len : 1) * sizeof *list);
  if (!list) abort();
  for (size_t i = 0; i < headers_len; i++) {
    list[i].f0 = borrow(headers[i].name);
    list[i].f1 = borrow(headers[i].value);
  }
  weir_world_list_tuple2_string_string_t h = {list, headers_len};
  weir_world_list_u8_t b = {(uint8_t *)(body_len ? body : ""), body_len};
  weir_world_tuple2_u16_list_u8_t ret;
  weir_world_string_t err;
  bool ok = weir_plugin_host_http_request(&m, &u, &h, &b, &ret, &err);
  free(list);
  if (ok) {
    response->status = ret.f0;
    weir_buf_clear(&response->body);
    weir_buf_append(&response->body, ret.f1.ptr, ret.f1.len);
    weir_world_list_u8_free(&ret.f1);
  } else {
    answer(error, &err);
    weir_world_string_free(&err);
  }
  return ok;
}

#endif
