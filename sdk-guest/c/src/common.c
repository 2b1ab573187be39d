/* common.c: the parts of the SDK that are the same in the component and in native tests:
 * strings and buffers, outcomes, log formatting, the config cache, UTF-8 and the default
 * batch form of a consumer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir.h"
#include "upper_table.h"

static void *checked_realloc(void *ptr, size_t size) {
  void *grown = realloc(ptr, size);
  if (grown == NULL) abort();
  return grown;
}

weir_str_t weir_str(const char *s) {
  weir_str_t str = {s ? s : "", s ? strlen(s) : 0};
  return str;
}

bool weir_str_eq(weir_str_t s, const char *c) {
  size_t len = strlen(c);
  return s.len == len && memcmp(s.ptr, c, len) == 0;
}

static void buf_reserve(weir_buf_t *buf, size_t extra) {
  if (extra > SIZE_MAX - buf->len - 1) abort();
  size_t need = buf->len + extra + 1;
  if (need <= buf->cap) return;
  size_t cap = buf->cap ? buf->cap : 16;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  buf->ptr = checked_realloc(buf->ptr, cap);
  buf->cap = cap;
}

void weir_buf_append(weir_buf_t *buf, const void *bytes, size_t len) {
  buf_reserve(buf, len);
  if (len) memcpy(buf->ptr + buf->len, bytes, len);
  buf->len += len;
  buf->ptr[buf->len] = '\0';
}

void weir_buf_append_str(weir_buf_t *buf, const char *s) { weir_buf_append(buf, s, strlen(s)); }

void weir_buf_append_char(weir_buf_t *buf, char c) { weir_buf_append(buf, &c, 1); }

static void buf_vprintf(weir_buf_t *buf, const char *fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int needed = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (needed < 0) return;
  buf_reserve(buf, (size_t)needed);
  vsnprintf(buf->ptr + buf->len, (size_t)needed + 1, fmt, args);
  buf->len += (size_t)needed;
}

void weir_buf_printf(weir_buf_t *buf, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  buf_vprintf(buf, fmt, args);
  va_end(args);
}

void weir_buf_clear(weir_buf_t *buf) {
  buf->len = 0;
  if (buf->ptr) buf->ptr[0] = '\0';
}

void weir_buf_free(weir_buf_t *buf) {
  free(buf->ptr);
  buf->ptr = NULL;
  buf->len = buf->cap = 0;
}

const char *weir_buf_cstr(const weir_buf_t *buf) { return buf->ptr ? buf->ptr : ""; }

const weir_str_t *weir_message_property(const weir_message_t *m, const char *name) {
  for (size_t i = 0; i < m->properties_len; i++) {
    if (weir_str_eq(m->properties[i].name, name)) return &m->properties[i].value;
  }
  return NULL;
}

weir_outcome_t weir_ack(void) {
  weir_outcome_t outcome = {WEIR_ACK, 0, NULL};
  return outcome;
}

weir_outcome_t weir_retry(uint64_t ms) {
  weir_outcome_t outcome = {WEIR_RETRY, ms, NULL};
  return outcome;
}

weir_outcome_t weir_dead_letter(const char *fmt, ...) {
  weir_buf_t reason = WEIR_BUF_INIT;
  va_list args;
  va_start(args, fmt);
  buf_vprintf(&reason, fmt, args);
  va_end(args);
  weir_outcome_t outcome = {WEIR_DEAD_LETTER, 0, reason.ptr};
  return outcome;
}

void weir_outcome_free(weir_outcome_t *outcome) {
  free(outcome->reason);
  outcome->reason = NULL;
}

void weir_vlog(weir_level_t level, const char *fmt, va_list args) {
  weir_buf_t line = WEIR_BUF_INIT;
  buf_vprintf(&line, fmt, args);
  weir_log_str(level, weir_buf_cstr(&line), line.len);
  weir_buf_free(&line);
}

void weir_log(weir_level_t level, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  weir_vlog(level, fmt, args);
  va_end(args);
}

bool weir_http_get(const char *url, const weir_header_t *headers, size_t headers_len,
                   weir_http_response_t *response, weir_buf_t *error) {
  return weir_http_request("GET", url, headers, headers_len, NULL, 0, response, error);
}

bool weir_http_post(const char *url, const weir_header_t *headers, size_t headers_len,
                    const void *body, size_t body_len, weir_http_response_t *response,
                    weir_buf_t *error) {
  return weir_http_request("POST", url, headers, headers_len, body, body_len, response, error);
}

void weir_http_response_free(weir_http_response_t *response) {
  weir_buf_free(&response->body);
  response->status = 0;
}

void *weir_config_cached(weir_config_cache_t *cache, const char *config,
                         void *(*parse)(const char *config), void (*drop)(void *parsed)) {
  if (cache->filled && strcmp(cache->config, config) == 0) return cache->parsed;
  if (cache->filled) {
    if (drop) drop(cache->parsed);
    free(cache->config);
    cache->filled = false;
  }
  size_t len = strlen(config);
  cache->config = checked_realloc(NULL, len + 1);
  memcpy(cache->config, config, len + 1);
  cache->parsed = parse(config);
  cache->filled = true;
  return cache->parsed;
}

/* The code point at text[*at], advancing *at; -1 when the bytes there are not UTF-8. */
static int32_t utf8_next(const uint8_t *text, size_t len, size_t *at) {
  size_t i = *at;
  uint8_t b = text[i];
  int32_t cp;
  size_t n;
  int32_t min;
  if (b < 0x80) {
    *at = i + 1;
    return b;
  } else if ((b & 0xE0) == 0xC0) {
    cp = b & 0x1F, n = 1, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    cp = b & 0x0F, n = 2, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    cp = b & 0x07, n = 3, min = 0x10000;
  } else {
    return -1;
  }
  if (len - i <= n) return -1;
  for (size_t k = 1; k <= n; k++) {
    uint8_t c = text[i + k];
    if ((c & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return -1;
  *at = i + n + 1;
  return cp;
}

bool weir_utf8_valid(const uint8_t *text, size_t len) {
  size_t at = 0;
  while (at < len) {
    if (utf8_next(text, len, &at) < 0) return false;
  }
  return true;
}

static void utf8_put(weir_buf_t *out, uint32_t cp) {
  char bytes[4];
  size_t n;
  if (cp < 0x80) {
    bytes[0] = (char)cp, n = 1;
  } else if (cp < 0x800) {
    bytes[0] = (char)(0xC0 | (cp >> 6)), bytes[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
  } else if (cp < 0x10000) {
    bytes[0] = (char)(0xE0 | (cp >> 12)), bytes[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    bytes[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
  } else {
    bytes[0] = (char)(0xF0 | (cp >> 18)), bytes[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    bytes[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), bytes[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
  }
  weir_buf_append(out, bytes, n);
}

static void upper_put(weir_buf_t *out, uint32_t cp) {
  if (cp < 0x80) {
    utf8_put(out, cp >= 'a' && cp <= 'z' ? cp - 32 : cp);
    return;
  }
  for (size_t i = 0; i < sizeof WEIR_UPPER_MULTI / sizeof WEIR_UPPER_MULTI[0]; i++) {
    if (WEIR_UPPER_MULTI[i].cp == cp) {
      for (size_t k = 0; k < 3 && WEIR_UPPER_MULTI[i].upper[k]; k++) {
        utf8_put(out, WEIR_UPPER_MULTI[i].upper[k]);
      }
      return;
    }
  }
  /* The runs are sorted by first code point: find the last run starting at or before cp. */
  size_t lo = 0, hi = sizeof WEIR_UPPER_RUNS / sizeof WEIR_UPPER_RUNS[0];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (WEIR_UPPER_RUNS[mid].first <= cp) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0) {
    uint32_t first = WEIR_UPPER_RUNS[lo - 1].first;
    uint32_t stride = WEIR_UPPER_RUNS[lo - 1].stride;
    uint32_t offset = cp - first;
    if (offset % stride == 0 && offset / stride < WEIR_UPPER_RUNS[lo - 1].count) {
      utf8_put(out, (uint32_t)((int32_t)cp + WEIR_UPPER_RUNS[lo - 1].delta));
      return;
    }
  }
  utf8_put(out, cp);
}

bool weir_utf8_upper(const uint8_t *text, size_t len, weir_buf_t *out) {
  if (!weir_utf8_valid(text, len)) return false;
  size_t at = 0;
  while (at < len) upper_put(out, (uint32_t)utf8_next(text, len, &at));
  return true;
}

/* The default batch form of a consumer: weir_consume for each message. A plugin that
 * defines weir_consume_batch replaces it. */
__attribute__((weak)) weir_outcome_t weir_consume(const char *config, const weir_message_t *message);

__attribute__((weak)) void weir_consume_batch(const char *config, const weir_message_t *batch,
                                              size_t len, weir_outcome_t *outcomes) {
  for (size_t i = 0; i < len; i++) {
    outcomes[i] = weir_consume ? weir_consume(config, &batch[i])
                               : weir_dead_letter("the plugin defines neither weir_consume "
                                                  "nor weir_consume_batch");
  }
}
