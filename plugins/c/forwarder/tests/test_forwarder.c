/* Native unit tests of the forwarder, against the SDK's test double. */
#include <stdlib.h>

#include "forwarder.h"
#include "weir_testing.h"

static weir_message_t message(const char *id, const char *body) {
  weir_message_t m = weir_testing_message(id, body);
  m.topic = weir_str("orders");
  return m;
}

static void forwards_and_acks_every_message(void) {
  weir_testing_reset();
  weir_message_t batch[] = {message("a", "one"), message("b", "two")};
  weir_outcome_t out[2];
  weir_testing_handle("{\"to\":\"orders-eu\",\"add_properties\":{\"region\":\"eu\"},\"uppercase\":true}",
                      batch, 2, out);
  WEIR_CHECK(out[0].kind == WEIR_ACK && out[1].kind == WEIR_ACK);
  WEIR_CHECK(weir_testing_published_count() == 2);
  WEIR_CHECK_STR(weir_testing_published(0)->topic, "orders-eu");
  WEIR_CHECK_STR(weir_testing_published(0)->body.ptr, "ONE");
  WEIR_CHECK(weir_testing_published(1)->properties_len == 1);
  WEIR_CHECK_STR(weir_testing_published_property(weir_testing_published(1), "region"), "eu");
}

static void a_bare_topic_is_a_config(void) {
  weir_testing_reset();
  weir_message_t m = message("a", "x");
  weir_outcome_t out;
  weir_testing_handle("audit", &m, 1, &out);
  WEIR_CHECK(out.kind == WEIR_ACK);
  WEIR_CHECK_STR(weir_testing_published(0)->topic, "audit");
}

static void a_failed_publish_retries_it_and_the_rest_of_the_batch(void) {
  weir_testing_reset();
  weir_testing_fail_publish("topic orders-eu does not exist");
  weir_message_t batch[] = {message("a", "1"), message("b", "2")};
  weir_outcome_t out[2];
  weir_testing_handle("{\"to\":\"orders-eu\",\"retry_ms\":500}", batch, 2, out);
  WEIR_CHECK(out[0].kind == WEIR_RETRY && out[0].retry_ms == 500);
  WEIR_CHECK(out[1].kind == WEIR_RETRY && out[1].retry_ms == 500);
  WEIR_CHECK(weir_testing_log_count() == 1);
}

static void a_failed_publish_before_dead_letter_after_retries(void) {
  weir_testing_reset();
  weir_testing_fail_publish("topic orders-eu does not exist");
  weir_message_t m = message("a", "1");
  m.attempt = 2;
  const char *config = "{\"to\":\"orders-eu\",\"retry_ms\":500,\"dead_letter_after\":3}";
  weir_outcome_t out;
  weir_testing_handle(config, &m, 1, &out);
  WEIR_CHECK(out.kind == WEIR_RETRY && out.retry_ms == 500);
  WEIR_CHECK(weir_testing_log_count() == 1);
  const char *line = weir_testing_log(0)->text;
  WEIR_CHECK(strlen(line) > 10 && strcmp(line + strlen(line) - 10, "; retrying") == 0);
}

static void a_failed_publish_from_dead_letter_after_dead_letters_it_and_retries_the_rest(void) {
  weir_testing_reset();
  weir_testing_fail_publish("topic orders-eu does not exist");
  const char *config = "{\"to\":\"orders-eu\",\"retry_ms\":500,\"dead_letter_after\":3}";
  const uint32_t attempts[] = {3, 4};
  for (size_t a = 0; a < 2; a++) {
    weir_message_t batch[] = {message("a", "1"), message("b", "2"), message("c", "3")};
    batch[0].attempt = attempts[a];
    batch[2].attempt = 7;
    weir_outcome_t out[3];
    weir_testing_handle(config, batch, 3, out);
    char reason[128], line[160];
    snprintf(reason, sizeof reason,
             "forwarder: publishing a to orders-eu failed on attempt %u: "
             "topic orders-eu does not exist",
             (unsigned)attempts[a]);
    snprintf(line, sizeof line, "%s; dead-lettering", reason);
    WEIR_CHECK(out[0].kind == WEIR_DEAD_LETTER);
    WEIR_CHECK_STR(out[0].reason, reason);
    WEIR_CHECK(out[1].kind == WEIR_RETRY && out[1].retry_ms == 500);
    WEIR_CHECK(out[2].kind == WEIR_RETRY && out[2].retry_ms == 500);
    const weir_testing_log_t *last = weir_testing_log(weir_testing_log_count() - 1);
    WEIR_CHECK(last->level == WEIR_WARN);
    WEIR_CHECK_STR(last->text, line);
    for (size_t i = 0; i < 3; i++) weir_outcome_free(&out[i]);
  }
  WEIR_CHECK(weir_testing_log_count() == 2); /* one publish a batch */
  WEIR_CHECK(weir_testing_published_count() == 0);
}

static void dead_letter_after_leaves_successful_publishes_alone(void) {
  weir_testing_reset();
  weir_message_t m = message("a", "1");
  m.attempt = 9;
  weir_outcome_t out;
  weir_testing_handle("{\"to\":\"orders-eu\",\"dead_letter_after\":1}", &m, 1, &out);
  WEIR_CHECK(out.kind == WEIR_ACK);
  WEIR_CHECK(weir_testing_published_count() == 1);
  WEIR_CHECK(weir_testing_log_count() == 0);
}

static void a_bad_config_retries_everything_with_the_group_backoff(void) {
  weir_testing_reset();
  weir_message_t batch[] = {message("a", "1"), message("b", "2")};
  weir_outcome_t out[2];
  weir_testing_handle("{\"too\":\"x\"}", batch, 2, out);
  WEIR_CHECK(out[0].kind == WEIR_RETRY && out[0].retry_ms == 0);
  WEIR_CHECK(out[1].kind == WEIR_RETRY && out[1].retry_ms == 0);
  WEIR_CHECK(weir_testing_published_count() == 0);
  WEIR_CHECK(weir_testing_log_count() == 1);
}

static void only_to_is_required(void) {
  weir_buf_t error = WEIR_BUF_INIT;
  config_t *full = config_parse("{\"to\":\"t\"}", &error);
  config_t *bare = config_parse("t", &error);
  WEIR_CHECK(full && bare);
  WEIR_CHECK_STR(full->to, bare->to);
  WEIR_CHECK(!full->uppercase && full->retry_ms == 0 && !full->tag && !full->origin_property);
  WEIR_CHECK(full->dead_letter_after == 0 && bare->dead_letter_after == 0);
  config_free(full);
  config_free(bare);
  weir_buf_free(&error);
}

static void dead_letter_after_is_an_attempt_from_1(void) {
  weir_buf_t error = WEIR_BUF_INIT;
  config_t *c = config_parse("{\"to\":\"t\",\"dead_letter_after\":3}", &error);
  WEIR_CHECK(c && c->dead_letter_after == 3);
  config_free(c);
  c = config_parse("{\"to\":\"t\",\"dead_letter_after\":4294967295}", &error);
  WEIR_CHECK(c && c->dead_letter_after == UINT32_MAX);
  config_free(c);
  c = config_parse("{\"to\":\"t\",\"dead_letter_after\":null}", &error);
  WEIR_CHECK(c && c->dead_letter_after == 0);
  config_free(c);
  weir_buf_free(&error);
}

static void bad_configs_are_refused(void) {
  const char *bad[] = {"", "{\"to\":\" \"}", "{\"to\":\"t\",\"upercase\":true}",
                       "{\"to\":\"t\",\"retry_ms\":-1}", "{\"to\":\"t\",\"to\":\"u\"}",
                       "{\"to\":1}", "{\"to\":\"t\"", "{\"to\":\"t\",\"retry_ms\":1.5}",
                       "{\"to\":\"t\",\"dead_letter_after\":0}",
                       "{\"to\":\"t\",\"dead_letter_after\":-1}",
                       "{\"to\":\"t\",\"dead_letter_after\":1.5}",
                       "{\"to\":\"t\",\"dead_letter_after\":\"3\"}",
                       "{\"to\":\"t\",\"dead_letter_after\":true}",
                       "{\"to\":\"t\",\"dead_letter_after\":4294967296}"};
  weir_buf_t error = WEIR_BUF_INIT;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    config_t *c = config_parse(bad[i], &error);
    WEIR_CHECK(c == NULL);
    WEIR_CHECK(error.len > 0);
    config_free(c);
  }
  weir_buf_free(&error);
}

static void applies_every_change(void) {
  weir_buf_t error = WEIR_BUF_INIT;
  config_t *c = config_parse(
      "{\"to\":\"eu\",\"add_properties\":{\"region\":\"eu\",\"kind\":\"new\"},"
      "\"remove_properties\":[\"internal\"],\"tag\":\"fwd\",\"uppercase\":true,"
      "\"origin_property\":\"from\"}",
      &error);
  WEIR_CHECK(c != NULL);
  weir_str_t keys[] = {weir_str("k")};
  weir_property_t props[] = {{weir_str("kind"), weir_str("old")},
                             {weir_str("internal"), weir_str("x")}};
  weir_message_t m = weir_testing_message("m-1", "gr\xc3\xbc\xc3\x9f" "e");
  m.keys = keys, m.keys_len = 1;
  m.has_tag = true, m.tag = weir_str("old");
  m.has_message_group = true, m.message_group = weir_str("g");
  m.properties = props, m.properties_len = 2;
  forwarded_t f;
  forward(c, &m, &f);
  WEIR_CHECK_STR(f.out.topic, "eu");
  WEIR_CHECK(f.out.keys_len == 1 && weir_str_eq(f.out.keys[0], "k"));
  WEIR_CHECK_STR(f.out.tag, "fwd");
  WEIR_CHECK_STR(f.out.message_group, "g");
  WEIR_CHECK(f.out.properties_len == 3);
  const char *expected[][2] = {{"kind", "new"}, {"region", "eu"}, {"from", "m-1"}};
  for (size_t i = 0; i < 3 && i < f.out.properties_len; i++) {
    WEIR_CHECK(weir_str_eq(f.out.properties[i].name, expected[i][0]));
    WEIR_CHECK(weir_str_eq(f.out.properties[i].value, expected[i][1]));
  }
  WEIR_CHECK(f.out.body_len == 7 && memcmp(f.out.body, "GR\xc3\x9c" "SSE", 7) == 0);
  forward_free(&f);
  config_free(c);
  weir_buf_free(&error);
}

static void binary_bodies_pass_unchanged(void) {
  weir_buf_t error = WEIR_BUF_INIT;
  config_t *c = config_parse("{\"to\":\"t\",\"uppercase\":true}", &error);
  weir_message_t m = weir_testing_message("x", "\xff" "a");
  forwarded_t f;
  forward(c, &m, &f);
  WEIR_CHECK(f.out.body_len == 2 && f.out.body[0] == 0xff && f.out.body[1] == 'a');
  forward_free(&f);
  config_free(c);
  weir_buf_free(&error);
}

int main(void) {
  forwards_and_acks_every_message();
  a_bare_topic_is_a_config();
  a_failed_publish_retries_it_and_the_rest_of_the_batch();
  a_failed_publish_before_dead_letter_after_retries();
  a_failed_publish_from_dead_letter_after_dead_letters_it_and_retries_the_rest();
  dead_letter_after_leaves_successful_publishes_alone();
  a_bad_config_retries_everything_with_the_group_backoff();
  only_to_is_required();
  dead_letter_after_is_an_attempt_from_1();
  bad_configs_are_refused();
  applies_every_change();
  binary_bodies_pass_unchanged();
  weir_testing_reset();
  return weir_testing_summary();
}
