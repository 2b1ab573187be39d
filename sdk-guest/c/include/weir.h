/* weir.h: the C SDK for Weir plugins (WebAssembly components of `weir:plugin@0.1.0`).
 *
 * A plugin implements the function of its world, and nothing else:
 *
 *   consumer-plugin      weir_consume (one message) or weir_consume_batch (a batch)
 *   dedup-filter-plugin  weir_dedup_key
 *   tx-checker-plugin    weir_tx_check
 *
 * and calls the broker's services as plain functions (weir_log_*, weir_now_ms,
 * weir_state_*, weir_publish, weir_http_*). The SDK does the canonical ABI: the generated
 * bindings under gen/ are never touched by a plugin.
 *
 * Memory rules (the whole of them):
 *
 *  - What the SDK hands you is borrowed: a message, its strings and its body, and the
 *    config, live until your function returns. Copy what you keep.
 *  - Every string the SDK hands you is NUL-terminated *and* has a length (weir_str_t);
 *    a string may contain a NUL of its own, so trust `len` when that matters.
 *  - What you hand the SDK stays yours: weir_dead_letter(reason), weir_publish(message),
 *    weir_state_set(key, value) and the rest copy what they need, so literals, stack
 *    buffers and your own heap blocks are all fine. (The canonical ABI frees what a
 *    plugin returns, which is why the SDK copies rather than returning your pointers.)
 *  - What the SDK answers into a weir_buf_t is yours to keep, and to release with
 *    weir_buf_free. A weir_outcome_t holds a copy of its reason: the SDK releases it once
 *    it has returned the outcome to the broker (in native tests, weir_outcome_free).
 *
 * Everything runs on one thread: an instance handles one call at a time.
 */
#ifndef WEIR_H
#define WEIR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- strings and buffers ---------------------------------------------------------- */

/* A borrowed string: `ptr` points at `len` bytes followed by a NUL. */
typedef struct weir_str {
  const char *ptr;
  size_t len;
} weir_str_t;

/* A string of a C string (NULL gives the empty string). */
weir_str_t weir_str(const char *s);
/* Whether `s` holds exactly the C string `c`. */
bool weir_str_eq(weir_str_t s, const char *c);

/* A growable byte buffer, always NUL-terminated once it holds anything. Start from
 * WEIR_BUF_INIT (or zeroes); release with weir_buf_free. */
typedef struct weir_buf {
  char *ptr;
  size_t len;
  size_t cap;
} weir_buf_t;
#define WEIR_BUF_INIT {NULL, 0, 0}

void weir_buf_append(weir_buf_t *buf, const void *bytes, size_t len);
void weir_buf_append_str(weir_buf_t *buf, const char *s);
void weir_buf_append_char(weir_buf_t *buf, char c);
void weir_buf_printf(weir_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void weir_buf_clear(weir_buf_t *buf);
void weir_buf_free(weir_buf_t *buf);
/* The contents as a C string ("" when empty; valid until the buffer changes). */
const char *weir_buf_cstr(const weir_buf_t *buf);

/* ---- messages ------------------------------------------------------------------------ */

/* A user property. */
typedef struct weir_property {
  weir_str_t name;
  weir_str_t value;
} weir_property_t;

/* A message as the broker hands it to a plugin (borrowed: see the memory rules). */
typedef struct weir_message {
  weir_str_t id;       /* the message id */
  weir_str_t topic;    /* the topic it was sent to */
  uint32_t queue;      /* its queue in that topic */
  uint64_t offset;     /* its offset in that queue */
  const weir_str_t *keys; /* business keys */
  size_t keys_len;
  bool has_tag;        /* the tag, if any (`tag` is "" otherwise) */
  weir_str_t tag;
  bool has_message_group; /* the message group (sharding key), if any */
  weir_str_t message_group;
  const weir_property_t *properties; /* user properties, in order */
  size_t properties_len;
  const uint8_t *body; /* the payload (followed by a NUL, not counted in body_len) */
  size_t body_len;
  int64_t born_ms;     /* when the producer created it, ms since the Unix epoch */
  uint32_t attempt;    /* which delivery this is to the consumer, from 1 */
} weir_message_t;

/* The value of the message's first property named `name`, or NULL. */
const weir_str_t *weir_message_property(const weir_message_t *m, const char *name);

/* A message to publish. Every pointer is yours and only read during weir_publish. */
typedef struct weir_outgoing {
  const char *topic;
  const weir_str_t *keys;
  size_t keys_len;
  const char *tag;           /* NULL: no tag */
  const char *message_group; /* NULL: no group */
  const weir_property_t *properties;
  size_t properties_len;
  const uint8_t *body;
  size_t body_len;
} weir_outgoing_t;

/* ---- what a consumer answers ----------------------------------------------------------- */

typedef enum weir_outcome_kind {
  WEIR_ACK = 0,         /* done: ack it */
  WEIR_RETRY = 1,       /* deliver it again after retry_ms (0: the group's backoff) */
  WEIR_DEAD_LETTER = 2, /* give up: dead-letter it with `reason` */
} weir_outcome_kind_t;

typedef struct weir_outcome {
  weir_outcome_kind_t kind;
  uint64_t retry_ms;
  char *reason; /* the SDK's copy (WEIR_DEAD_LETTER only) */
} weir_outcome_t;

weir_outcome_t weir_ack(void);
/* Retry after `ms` milliseconds; 0 leaves the delay to the group's backoff. */
weir_outcome_t weir_retry(uint64_t ms);
/* Dead-letter with a copy of `reason` (printf-style). */
weir_outcome_t weir_dead_letter(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Releases an outcome's reason (the SDK does this for outcomes it returns). */
void weir_outcome_free(weir_outcome_t *outcome);

/* ---- the functions a plugin implements ------------------------------------------------ */

/* consumer-plugin: define one of the two. The batch form fills `outcomes[0..len)`; the
 * SDK's default batch form calls weir_consume for each message in order. */
weir_outcome_t weir_consume(const char *config, const weir_message_t *message);
void weir_consume_batch(const char *config, const weir_message_t *batch, size_t len,
                        weir_outcome_t *outcomes);

/* dedup-filter-plugin: append the dedup key of `message` to `key` (empty on entry) and
 * answer true, or answer false: no key, never a duplicate. */
bool weir_dedup_key(const char *config, const weir_message_t *message, weir_buf_t *key);

/* tx-checker-plugin: the state of the transaction of a half message (`checks`:
 * check-backs so far). */
typedef enum weir_tx_state {
  WEIR_TX_COMMIT = 0,
  WEIR_TX_ROLLBACK = 1,
  WEIR_TX_UNKNOWN = 2,
} weir_tx_state_t;
weir_tx_state_t weir_tx_check(const char *config, const weir_message_t *half, uint32_t checks);

/* ---- host services ----------------------------------------------------------------------- */

typedef enum weir_level {
  WEIR_TRACE = 0,
  WEIR_DEBUG = 1,
  WEIR_INFO = 2,
  WEIR_WARN = 3,
  WEIR_ERROR = 4,
} weir_level_t;

/* A line in the broker's log, tagged with the binding (printf-style). */
void weir_log(weir_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void weir_vlog(weir_level_t level, const char *fmt, va_list args);
#define weir_log_trace(...) weir_log(WEIR_TRACE, __VA_ARGS__)
#define weir_log_debug(...) weir_log(WEIR_DEBUG, __VA_ARGS__)
#define weir_log_info(...) weir_log(WEIR_INFO, __VA_ARGS__)
#define weir_log_warn(...) weir_log(WEIR_WARN, __VA_ARGS__)
#define weir_log_error(...) weir_log(WEIR_ERROR, __VA_ARGS__)
/* The same with a string that is not a format. */
void weir_log_str(weir_level_t level, const char *text, size_t len);

/* Milliseconds since the Unix epoch. */
int64_t weir_now_ms(void);

/* The binding's state. weir_state_get puts the value in `value` (replacing its contents)
 * and answers true, or answers false when the key is absent or expired. weir_state_set
 * keeps the value for `ttl_ms` (0: until deleted); it fails when the binding's quota would
 * be exceeded, answering false with the reason in `error` (which may be NULL). */
bool weir_state_get(const char *key, weir_buf_t *value);
bool weir_state_set(const char *key, const void *value, size_t len, uint64_t ttl_ms,
                    weir_buf_t *error);
void weir_state_delete(const char *key);

/* Sends a message (consumer bindings granted publishing). On success answers true with
 * the new message's id in `id`; on failure false with the reason in `error`. Either buffer
 * may be NULL; their contents are replaced. */
bool weir_publish(const weir_outgoing_t *message, weir_buf_t *id, weir_buf_t *error);

/* HTTP to a URL on the binding's allowlist. */
typedef struct weir_header {
  const char *name;
  const char *value;
} weir_header_t;
typedef struct weir_http_response {
  uint16_t status;
  weir_buf_t body; /* yours: weir_http_response_free */
} weir_http_response_t;
bool weir_http_get(const char *url, const weir_header_t *headers, size_t headers_len,
                   weir_http_response_t *response, weir_buf_t *error);
bool weir_http_post(const char *url, const weir_header_t *headers, size_t headers_len,
                    const void *body, size_t body_len, weir_http_response_t *response,
                    weir_buf_t *error);
bool weir_http_request(const char *method, const char *url, const weir_header_t *headers,
                       size_t headers_len, const void *body, size_t body_len,
                       weir_http_response_t *response, weir_buf_t *error);
void weir_http_response_free(weir_http_response_t *response);

/* ---- helpers ----------------------------------------------------------------------------- */

/* A parsed config, kept while the config string stays the same: the broker passes the
 * same config to every call of a binding, so a plugin parses it once per instance.
 * `parse` answers the parsed form (any pointer, NULL included), `drop` releases it. */
typedef struct weir_config_cache {
  char *config;
  void *parsed;
  bool filled;
} weir_config_cache_t;
#define WEIR_CONFIG_CACHE_INIT {NULL, NULL, false}
void *weir_config_cached(weir_config_cache_t *cache, const char *config,
                         void *(*parse)(const char *config), void (*drop)(void *parsed));

/* Appends the upper-case form of UTF-8 text to `out` (full Unicode case mapping, so "ß"
 * becomes "SS") and answers true, or answers false, leaving `out` as it was, when the
 * bytes are not UTF-8. */
bool weir_utf8_upper(const uint8_t *text, size_t len, weir_buf_t *out);
/* Whether the bytes are UTF-8. */
bool weir_utf8_valid(const uint8_t *text, size_t len);

#ifdef __cplusplus
}
#endif

#endif
