/* testing.c: the in-memory host of weir_testing.h, for native unit tests. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir_testing.h"

int weir_testing_failures;
int weir_testing_checks;

typedef struct entry {
  char *key;
  weir_buf_t value;
  bool expires;
  int64_t expires_at;
} entry_t;

static struct {
  bool fixed_clock;
  int64_t now_ms;
  weir_testing_log_t *logs;
  size_t logs_len;
  entry_t *state;
  size_t state_len;
  char *state_error;
  weir_testing_outgoing_t *published;
  size_t published_len;
  char *publish_error;
  weir_testing_http_fn http;
  void *http_ctx;
  weir_testing_http_call_t *calls;
  size_t calls_len;
  weir_buf_t key;
} host;

static char *dup_n(const char *s, size_t len) {
  char *copy = malloc(len + 1);
  if (!copy) abort();
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

static char *dup_or_null(const char *s) { return s ? dup_n(s, strlen(s)) : NULL; }

static void *grow(void *items, size_t len, size_t size) {
  void *grown = realloc(items, (len + 1) * size);
  if (!grown) abort();
  return grown;
}

static void set_answer(weir_buf_t *out, const char *text) {
  if (!out) return;
  weir_buf_clear(out);
  weir_buf_append_str(out, text);
}

void weir_testing_reset(void) {
  for (size_t i = 0; i < host.logs_len; i++) free(host.logs[i].text);
  for (size_t i = 0; i < host.state_len; i++) {
    free(host.state[i].key);
    weir_buf_free(&host.state[i].value);
  }
  for (size_t i = 0; i < host.published_len; i++) {
    weir_testing_outgoing_t *m = &host.published[i];
    free(m->topic);
    for (size_t k = 0; k < m->keys_len; k++) free(m->keys[k]);
    free(m->keys);
    free(m->tag);
    free(m->message_group);
    for (size_t p = 0; p < m->properties_len; p++) {
      free((char *)m->properties[p].name);
      free((char *)m->properties[p].value);
    }
    free(m->properties);
    weir_buf_free(&m->body);
  }
  for (size_t i = 0; i < host.calls_len; i++) {
    weir_testing_http_call_t *c = &host.calls[i];
    free(c->method);
    free(c->url);
    for (size_t h = 0; h < c->headers_len; h++) {
      free((char *)c->headers[h].name);
      free((char *)c->headers[h].value);
    }
    free(c->headers);
    weir_buf_free(&c->body);
  }
  free(host.logs);
  free(host.state);
  free(host.published);
  free(host.calls);
  free(host.state_error);
  free(host.publish_error);
  weir_buf_free(&host.key);
  memset(&host, 0, sizeof host);
}

void weir_testing_set_now_ms(int64_t ms) {
  host.fixed_clock = true;
  host.now_ms = ms;
}

size_t weir_testing_log_count(void) { return host.logs_len; }
const weir_testing_log_t *weir_testing_log(size_t i) {
  return i < host.logs_len ? &host.logs[i] : NULL;
}
size_t weir_testing_published_count(void) { return host.published_len; }
const weir_testing_outgoing_t *weir_testing_published(size_t i) {
  return i < host.published_len ? &host.published[i] : NULL;
}
const char *weir_testing_published_property(const weir_testing_outgoing_t *m, const char *name) {
  for (size_t i = 0; m && i < m->properties_len; i++) {
    if (strcmp(m->properties[i].name, name) == 0) return m->properties[i].value;
  }
  return NULL;
}

void weir_testing_fail_publish(const char *reason) {
  free(host.publish_error);
  host.publish_error = dup_or_null(reason);
}

void weir_testing_fail_state_set(const char *reason) {
  free(host.state_error);
  host.state_error = dup_or_null(reason);
}

void weir_testing_on_http(weir_testing_http_fn handler, void *ctx) {
  host.http = handler;
  host.http_ctx = ctx;
}
size_t weir_testing_http_call_count(void) { return host.calls_len; }
const weir_testing_http_call_t *weir_testing_http_call(size_t i) {
  return i < host.calls_len ? &host.calls[i] : NULL;
}

weir_message_t weir_testing_message(const char *id, const char *body) {
  weir_message_t m;
  memset(&m, 0, sizeof m);
  m.id = weir_str(id);
  m.topic = weir_str("test");
  m.tag = weir_str(NULL);
  m.message_group = weir_str(NULL);
  m.body = (const uint8_t *)(body ? body : "");
  m.body_len = body ? strlen(body) : 0;
  m.attempt = 1;
  return m;
}

void weir_testing_handle(const char *config, const weir_message_t *batch, size_t len,
                         weir_outcome_t *outcomes) {
  memset(outcomes, 0, len * sizeof *outcomes);
  weir_consume_batch(config, batch, len, outcomes);
}

/* Weak, so a test binary of a consumer links without a dedup filter or a checker. */
__attribute__((weak)) bool weir_dedup_key(const char *config, const weir_message_t *message,
                                          weir_buf_t *key);
__attribute__((weak)) weir_tx_state_t weir_tx_check(const char *config,
                                                    const weir_message_t *half, uint32_t checks);

const char *weir_testing_dedup_key(const char *config, const weir_message_t *message) {
  weir_buf_clear(&host.key);
  if (!weir_dedup_key || !weir_dedup_key(config, message, &host.key)) return NULL;
  return weir_buf_cstr(&host.key);
}

weir_tx_state_t weir_testing_check(const char *config, const weir_message_t *half,
                                   uint32_t checks) {
  return weir_tx_check ? weir_tx_check(config, half, checks) : WEIR_TX_UNKNOWN;
}

int weir_testing_summary(void) {
  if (weir_testing_failures) {
    fprintf(stderr, "%d of %d checks failed\n", weir_testing_failures, weir_testing_checks);
    return 1;
  }
  printf("%d checks passed\n", weir_testing_checks);
  return 0;
}

/* ---- the host services of weir.h ---- */

void weir_log_str(weir_level_t level, const char *text, size_t len) {
  host.logs = grow(host.logs, host.logs_len, sizeof *host.logs);
  host.logs[host.logs_len].level = level;
  host.logs[host.logs_len].text = dup_n(text, len);
  host.logs_len++;
}

int64_t weir_now_ms(void) {
  if (host.fixed_clock) return host.now_ms;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static entry_t *find(const char *key) {
  for (size_t i = 0; i < host.state_len; i++) {
    if (strcmp(host.state[i].key, key) == 0) return &host.state[i];
  }
  return NULL;
}

static void remove_entry(entry_t *e) {
  free(e->key);
  weir_buf_free(&e->value);
  *e = host.state[--host.state_len];
}

bool weir_state_get(const char *key, weir_buf_t *value) {
  entry_t *e = find(key);
  if (!e) return false;
  if (e->expires && e->expires_at <= weir_now_ms()) {
    remove_entry(e);
    return false;
  }
  weir_buf_clear(value);
  weir_buf_append(value, e->value.ptr, e->value.len);
  return true;
}

bool weir_state_set(const char *key, const void *value, size_t len, uint64_t ttl_ms,
                    weir_buf_t *error) {
  if (host.state_error) {
    set_answer(error, host.state_error);
    return false;
  }
  entry_t *e = find(key);
  if (!e) {
    host.state = grow(host.state, host.state_len, sizeof *host.state);
    e = &host.state[host.state_len++];
    memset(e, 0, sizeof *e);
    e->key = dup_or_null(key);
  }
  weir_buf_clear(&e->value);
  weir_buf_append(&e->value, value, len);
  e->expires = ttl_ms > 0;
  int64_t now = weir_now_ms();
  e->expires_at = ttl_ms > (uint64_t)(INT64_MAX - now) ? INT64_MAX : now + (int64_t)ttl_ms;
  return true;
}

void weir_state_delete(const char *key) {
  entry_t *e = find(key);
  if (e) remove_entry(e);
}

bool weir_publish(const weir_outgoing_t *message, weir_buf_t *id, weir_buf_t *error) {
  if (host.publish_error) {
    set_answer(error, host.publish_error);
    return false;
  }
  host.published = grow(host.published, host.published_len, sizeof *host.published);
  weir_testing_outgoing_t *m = &host.published[host.published_len++];
  memset(m, 0, sizeof *m);
  m->topic = dup_or_null(message->topic);
  m->keys = malloc((message->keys_len + 1) * sizeof *m->keys);
  for (size_t i = 0; i < message->keys_len; i++) {
    m->keys[i] = dup_n(message->keys[i].ptr, message->keys[i].len);
  }
  m->keys_len = message->keys_len;
  m->tag = dup_or_null(message->tag);
  m->message_group = dup_or_null(message->message_group);
  m->properties = malloc((message->properties_len + 1) * sizeof *m->properties);
  for (size_t i = 0; i < message->properties_len; i++) {
    m->properties[i].name =
        dup_n(message->properties[i].name.ptr, message->properties[i].name.len);
    m->properties[i].value =
        dup_n(message->properties[i].value.ptr, message->properties[i].value.len);
  }
  m->properties_len = message->properties_len;
  weir_buf_append(&m->body, message->body, message->body_len);
  if (id) {
    weir_buf_clear(id);
    weir_buf_printf(id, "test-%zu", host.published_len);
  }
  return true;
}

bool weir_http_request(const char *method, const char *url, const weir_header_t *headers,
                       size_t headers_len, const void *body, size_t body_len,
                       weir_http_response_t *response, weir_buf_t *error) {
  host.calls = grow(host.calls, host.calls_len, sizeof *host.calls);
  weir_testing_http_call_t *c = &host.calls[host.calls_len++];
  memset(c, 0, sizeof *c);
  c->method = dup_or_null(method);
  c->url = dup_or_null(url);
  c->headers = malloc((headers_len + 1) * sizeof *c->headers);
  for (size_t i = 0; i < headers_len; i++) {
    c->headers[i].name = dup_or_null(headers[i].name);
    c->headers[i].value = dup_or_null(headers[i].value);
  }
  c->headers_len = headers_len;
  weir_buf_append(&c->body, body, body_len);
  if (!host.http) {
    if (error) {
      weir_buf_clear(error);
      weir_buf_printf(error, "%s is not on the binding's allowlist", url);
    }
    return false;
  }
  weir_buf_t err = WEIR_BUF_INIT;
  weir_buf_clear(&response->body);
  bool ok = host.http(c, host.http_ctx, &response->status, &response->body, &err);
  if (!ok) set_answer(error, weir_buf_cstr(&err));
  weir_buf_free(&err);
  return ok;
}
