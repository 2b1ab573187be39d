/* Native unit tests of json-dedup, against the SDK's test double. */
#include "json_dedup.h"
#include "weir_testing.h"

static const char *key(const char *config, const char *body) {
  weir_message_t m = weir_testing_message("m", body);
  return weir_testing_dedup_key(config, &m);
}

static void keys(void) {
  WEIR_CHECK_STR(key("order.id", "{\"order\":{\"id\":\"A-17\",\"total\":3}}"), "A-17");
  WEIR_CHECK_STR(key("{\"field\":\"order.id\"}", "{\"order\":{\"id\":17}}"), "17");
  WEIR_CHECK_STR(key("{\"fields\":[\"tenant\",\"order.id\"]}", "{\"tenant\":\"t1\",\"order\":{\"id\":9}}"),
                 "t1\x1f" "9");
  WEIR_CHECK_STR(key("{\"fields\":[\"tenant\",\"order.id\"]}", "{\"tenant\":\"t1\"}"), NULL);
  WEIR_CHECK_STR(key("id", "not json"), NULL);
  WEIR_CHECK_STR(key("id", "{\"other\":1}"), NULL);
  WEIR_CHECK_STR(key("id", "{\"id\":null}"), NULL);
  WEIR_CHECK_STR(key("id", "[1,2]"), NULL);
  const char *items = "{\"items\":[{\"sku\":\"x\"},{\"sku\":\"y\"}]}";
  WEIR_CHECK_STR(key("items.1.sku", items), "y");
  WEIR_CHECK_STR(key("/items/0/sku", items), "x");
  WEIR_CHECK_STR(key("/a~1b/c~0d", "{\"a/b\":{\"c~d\":1},\"x.y\":2}"), "1");
  WEIR_CHECK_STR(key("/x.y", "{\"a/b\":{\"c~d\":1},\"x.y\":2}"), "2");
  WEIR_CHECK_STR(key("x.y", "{\"a/b\":{\"c~d\":1},\"x.y\":2}"), NULL);
}

static void values_become_keys(void) {
  WEIR_CHECK_STR(key("v", "{\"v\":\"a\"}"), "a");
  WEIR_CHECK_STR(key("v", "{\"v\":1.5}"), "1.5");
  WEIR_CHECK_STR(key("v", "{\"v\":1e3}"), "1000.0");
  WEIR_CHECK_STR(key("v", "{\"v\":1e20}"), "1e20");
  WEIR_CHECK_STR(key("v", "{\"v\":0.0001}"), "0.0001");
  WEIR_CHECK_STR(key("v", "{\"v\":true}"), "true");
  WEIR_CHECK_STR(key("v", "{\"v\":{\"b\":1,\"a\":2}}"), "{\"a\":2,\"b\":1}");
  WEIR_CHECK_STR(key("v", "{\"v\":[\"x\\n\",{\"k\":1,\"k\":2}]}"), "[\"x\\n\",{\"k\":2}]");
  WEIR_CHECK_STR(key("v", "{\"v\":\"\\u00e9\\ud83d\\ude00\"}"), "\xc3\xa9\xf0\x9f\x98\x80");
}

static void hostile_bodies_are_refused_not_crashed(void) {
  weir_buf_t deep = WEIR_BUF_INIT;
  for (int i = 0; i < 100000; i++) weir_buf_append_char(&deep, '[');
  WEIR_CHECK_STR(key("0", deep.ptr), NULL);
  weir_buf_free(&deep);
  const char *bad[] = {"{\"v\":\"\\ud800\"}", "{\"v\":1e999}", "{\"v\":01}", "{\"v\":\"\x01\"}",
                       "{\"v\":1,}", "{\"v\":\"\xff\"}", "{\"v\":tru}", "{\"v\":\"x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) WEIR_CHECK_STR(key("v", bad[i]), NULL);
}

static void configs(void) {
  const char *bad[] = {"", "{\"fields\":[]}", "{\"field\":\"a\",\"fields\":[\"b\"]}",
                       "{\"feld\":\"a\"}", "a..b", "{not json"};
  weir_buf_t error = WEIR_BUF_INIT;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fields_t *f = fields_parse(bad[i], &error);
    WEIR_CHECK(f == NULL && error.len > 0);
  }
  const char *same[] = {"order.id", "{\"field\":\"order.id\"}", " {\"fields\":[\"order.id\"]} ",
                        "/order/id"};
  for (size_t i = 0; i < 4; i++) {
    fields_t *f = fields_parse(same[i], &error);
    WEIR_CHECK(f && f->len == 1 && f->paths[0].len == 2 &&
               weir_str_eq(f->paths[0].segments[0], "order") &&
               weir_str_eq(f->paths[0].segments[1], "id"));
    fields_free(f);
  }
  weir_buf_free(&error);
}

static void a_bad_config_gives_no_keys_and_logs_once(void) {
  weir_testing_reset();
  WEIR_CHECK_STR(key("{not json", "{\"id\":1}"), NULL);
  WEIR_CHECK_STR(key("{not json", "{\"id\":1}"), NULL);
  WEIR_CHECK(weir_testing_log_count() == 1);
}

int main(void) {
  keys();
  values_become_keys();
  hostile_bodies_are_refused_not_crashed();
  configs();
  a_bad_config_gives_no_keys_and_logs_once();
  weir_testing_reset();
  return weir_testing_summary();
}
