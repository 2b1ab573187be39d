/* Native tests of the SDK itself: the test double, buffers, UTF-8 and JSON. */
#include "weir_json.h"
#include "weir_testing.h"

static void state_expires_with_the_clock(void) {
  weir_testing_reset();
  weir_buf_t v = WEIR_BUF_INIT;
  weir_testing_set_now_ms(1000);
  WEIR_CHECK(weir_state_set("k", "v", 1, 500, NULL));
  weir_testing_set_now_ms(1499);
  WEIR_CHECK(weir_state_get("k", &v) && v.len == 1 && v.ptr[0] == 'v');
  weir_testing_set_now_ms(1500);
  WEIR_CHECK(!weir_state_get("k", &v));
  WEIR_CHECK(weir_state_set("k", "v", 1, 0, NULL));
  weir_testing_set_now_ms(INT64_MAX);
  WEIR_CHECK(weir_state_get("k", &v));
  weir_state_delete("k");
  WEIR_CHECK(!weir_state_get("k", &v));
  weir_buf_free(&v);
}

static void failures_are_host_errors(void) {
  weir_testing_reset();
  weir_buf_t error = WEIR_BUF_INIT;
  weir_testing_fail_publish("publishing is not granted");
  weir_outgoing_t m = {.topic = "t", .body = (const uint8_t *)"b", .body_len = 1};
  WEIR_CHECK(!weir_publish(&m, NULL, &error));
  WEIR_CHECK_STR(weir_buf_cstr(&error), "publishing is not granted");
  weir_testing_fail_state_set("quota");
  WEIR_CHECK(!weir_state_set("k", "v", 1, 0, &error));
  weir_http_response_t response = {0, WEIR_BUF_INIT};
  WEIR_CHECK(!weir_http_get("http://x/", NULL, 0, &response, &error));
  WEIR_CHECK(weir_testing_http_call_count() == 1);
  WEIR_CHECK_STR(weir_testing_http_call(0)->method, "GET");
  weir_log_info("n=%d", 3);
  WEIR_CHECK_STR(weir_testing_log(0)->text, "n=3");
  weir_outcome_t dead = weir_dead_letter("bad %s", "body");
  WEIR_CHECK(dead.kind == WEIR_DEAD_LETTER);
  WEIR_CHECK_STR(dead.reason, "bad body");
  weir_outcome_free(&dead);
  weir_http_response_free(&response);
  weir_buf_free(&error);
}

static bool answer(const weir_testing_http_call_t *call, void *ctx, uint16_t *status,
                   weir_buf_t *body, weir_buf_t *error) {
  *status = 200;
  weir_buf_append_str(body, (const char *)ctx);
  return true;
}

static void http_is_scripted(void) {
  weir_testing_reset();
  weir_testing_on_http(answer, "commit");
  weir_http_response_t response = {0, WEIR_BUF_INIT};
  weir_header_t h = {"x-id", "1"};
  WEIR_CHECK(weir_http_post("http://svc/tx/1", &h, 1, "q", 1, &response, NULL));
  WEIR_CHECK(response.status == 200);
  WEIR_CHECK_STR(weir_buf_cstr(&response.body), "commit");
  WEIR_CHECK_STR(weir_testing_http_call(0)->headers[0].name, "x-id");
  weir_http_response_free(&response);
}

static void upper_case_is_full_unicode(void) {
  weir_buf_t out = WEIR_BUF_INIT;
  WEIR_CHECK(weir_utf8_upper((const uint8_t *)"stra\xc3\x9f" "e \xc3\xa9t\xc3\xa9", 13, &out));
  WEIR_CHECK_STR(weir_buf_cstr(&out), "STRASSE \xc3\x89T\xc3\x89");
  weir_buf_clear(&out);
  WEIR_CHECK(weir_utf8_upper((const uint8_t *)"\xce\xb1\xcf\x89 \xd0\xb6", 7, &out));
  WEIR_CHECK_STR(weir_buf_cstr(&out), "\xce\x91\xce\xa9 \xd0\x96");
  WEIR_CHECK(!weir_utf8_upper((const uint8_t *)"\xed\xa0\x80", 3, &out)); /* a surrogate */
  WEIR_CHECK(!weir_utf8_valid((const uint8_t *)"\xc0\xaf", 2));          /* overlong */
  weir_buf_free(&out);
}

static void json_round_trips(void) {
  const char *cases[][2] = {
      {" {\"b\" : [1, -2, 3.25, null, false], \"a\":\"\\\"\\u0001\"} ", "{\"a\":\"\\\"\\u0001\",\"b\":[1,-2,3.25,null,false]}"},
      {"18446744073709551616", "1.8446744073709552e19"},
      {"-9223372036854775808", "-9223372036854775808"},
      {"123456789012345678", "123456789012345678"},
      {"0.1", "0.1"},
      {"1E-7", "1e-7"},
      {"2.5e+2", "250.0"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    weir_json_t doc;
    weir_buf_t out = WEIR_BUF_INIT;
    WEIR_CHECK(weir_json_parse(&doc, cases[i][0], strlen(cases[i][0]), NULL));
    weir_json_write(weir_json_root(&doc), &out);
    WEIR_CHECK_STR(weir_buf_cstr(&out), cases[i][1]);
    weir_json_free(&doc);
    weir_buf_free(&out);
  }
  weir_buf_t error = WEIR_BUF_INIT;
  weir_json_t doc;
  WEIR_CHECK(!weir_json_parse(&doc, "[1] x", 5, &error));
  WEIR_CHECK(error.len > 0);
  weir_buf_free(&error);
}

/* Random near-JSON: the parser refuses or accepts, and what it prints parses again. */
static void json_survives_noise(void) {
  const char alphabet[] = "{}[]\":,0123456789.eE+-tfnrulase\\/u ab\xc3\xa9\xff\x01";
  unsigned seed = 1;
  char buf[64];
  for (int iter = 0; iter < 50000; iter++) {
    seed = seed * 1103515245u + 12345u;
    size_t len = (seed >> 16) % sizeof buf;
    for (size_t i = 0; i < len; i++) {
      seed = seed * 1103515245u + 12345u;
      buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
    }
    weir_json_t doc;
    if (!weir_json_parse(&doc, buf, len, NULL)) continue;
    weir_buf_t out = WEIR_BUF_INIT;
    weir_json_write(weir_json_root(&doc), &out);
    weir_json_t again;
    bool reparsed = weir_json_parse(&again, out.ptr, out.len, NULL);
    WEIR_CHECK(reparsed);
    if (reparsed) weir_json_free(&again);
    weir_buf_free(&out);
    weir_json_free(&doc);
  }
}

int main(void) {
  json_survives_noise();
  state_expires_with_the_clock();
  failures_are_host_errors();
  http_is_scripted();
  upper_case_is_full_unicode();
  json_round_trips();
  weir_testing_reset();
  return weir_testing_summary();
}
