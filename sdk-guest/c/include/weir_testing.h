/* weir_testing.h: a stand-in for the broker, to unit-test plugin logic natively.
 *
 * Compile the plugin's sources with the SDK's src/ files and testing/testing.c using the
 * machine's own compiler (gcc or clang, no WebAssembly): the host services of weir.h then
 * talk to this in-memory double. By default the clock is the system clock, state is
 * unlimited, publishing succeeds (answering ids test-1, test-2, ...) and every HTTP
 * request fails as not allowed. weir_testing_reset starts afresh.
 *
 *   weir_testing_reset();
 *   weir_message_t m = weir_testing_message("m-1", "{\"id\":1}");
 *   weir_outcome_t out;
 *   weir_testing_handle("audit", &m, 1, &out);
 *   WEIR_CHECK(out.kind == WEIR_ACK);
 *   WEIR_CHECK_STR(weir_testing_published(0)->topic, "audit");
 *   return weir_testing_summary();
 */
#ifndef WEIR_TESTING_H
#define WEIR_TESTING_H

#include <stdio.h>
#include <string.h>

#include "weir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Forgets logs, state, published messages, HTTP calls and every setting. */
void weir_testing_reset(void);
/* Fixes the clock at `ms` (state expiry follows it). */
void weir_testing_set_now_ms(int64_t ms);

/* A logged line. */
typedef struct weir_testing_log {
  weir_level_t level;
  char *text;
} weir_testing_log_t;
size_t weir_testing_log_count(void);
const weir_testing_log_t *weir_testing_log(size_t i);

/* A published message, as copied by the double. */
typedef struct weir_testing_outgoing {
  char *topic;
  char **keys;
  size_t keys_len;
  char *tag;           /* NULL: none */
  char *message_group; /* NULL: none */
  weir_header_t *properties; /* name, value */
  size_t properties_len;
  weir_buf_t body;
} weir_testing_outgoing_t;
size_t weir_testing_published_count(void);
const weir_testing_outgoing_t *weir_testing_published(size_t i);
/* The value of a published message's property, or NULL. */
const char *weir_testing_published_property(const weir_testing_outgoing_t *m, const char *name);

/* Makes every following publish (state write) fail with `reason`; NULL: succeed again. */
void weir_testing_fail_publish(const char *reason);
void weir_testing_fail_state_set(const char *reason);

/* An HTTP request the plugin made. */
typedef struct weir_testing_http_call {
  char *method;
  char *url;
  weir_header_t *headers;
  size_t headers_len;
  weir_buf_t body;
} weir_testing_http_call_t;
/* Answers a request: true with `status` and `body`, or false with `error`. */
typedef bool (*weir_testing_http_fn)(const weir_testing_http_call_t *call, void *ctx,
                                     uint16_t *status, weir_buf_t *body, weir_buf_t *error);
void weir_testing_on_http(weir_testing_http_fn handler, void *ctx);
size_t weir_testing_http_call_count(void);
const weir_testing_http_call_t *weir_testing_http_call(size_t i);

/* A message with this id and body (topic "test", attempt 1, the rest empty). The strings
 * are borrowed: they must outlive the message. */
weir_message_t weir_testing_message(const char *id, const char *body);

/* Call the plugin as the broker would. Outcomes are released with weir_outcome_free. */
void weir_testing_handle(const char *config, const weir_message_t *batch, size_t len,
                         weir_outcome_t *outcomes);
/* The dedup key (NULL: none); the string is valid until the next call. */
const char *weir_testing_dedup_key(const char *config, const weir_message_t *message);
weir_tx_state_t weir_testing_check(const char *config, const weir_message_t *half,
                                   uint32_t checks);

/* A minimal test harness: checks count failures, weir_testing_summary prints them and
 * answers main's exit status. */
extern int weir_testing_failures;
extern int weir_testing_checks;
#define WEIR_CHECK(cond)                                                            \
  do {                                                                              \
    weir_testing_checks++;                                                          \
    if (!(cond)) {                                                                  \
      weir_testing_failures++;                                                      \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
    }                                                                               \
  } while (0)
#define WEIR_CHECK_STR(actual, expected)                                            \
  do {                                                                              \
    const char *weir_a_ = (actual), *weir_e_ = (expected);                          \
    weir_testing_checks++;                                                          \
    if (!weir_a_ || !weir_e_ ? weir_a_ != weir_e_ : strcmp(weir_a_, weir_e_) != 0) { \
      weir_testing_failures++;                                                      \
      fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
              #actual, weir_a_ ? weir_a_ : "(null)", weir_e_ ? weir_e_ : "(null)"); \
    }                                                                               \
  } while (0)
int weir_testing_summary(void);

#ifdef __cplusplus
}
#endif

#endif
