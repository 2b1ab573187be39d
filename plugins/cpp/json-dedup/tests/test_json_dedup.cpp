// Native unit tests of the C++ json-dedup, against the SDK's test double.
#include "json_dedup.hpp"
#include "weir_testing.h"

static const char *key(const char *config, const char *body) {
  weir_message_t m = weir_testing_message("m", body);
  return weir_testing_dedup_key(config, &m);
}

int main() {
  WEIR_CHECK_STR(key("order.id", R"({"order":{"id":"A-17","total":3}})"), "A-17");
  WEIR_CHECK_STR(key(R"({"field":"order.id"})", R"({"order":{"id":17}})"), "17");
  WEIR_CHECK_STR(key(R"({"fields":["tenant","order.id"]})", R"({"tenant":"t1","order":{"id":9}})"), "t1\x1f" "9");
  WEIR_CHECK_STR(key(R"({"fields":["tenant","order.id"]})", R"({"tenant":"t1"})"), nullptr);
  WEIR_CHECK_STR(key("id", "not json"), nullptr);
  WEIR_CHECK_STR(key("id", R"({"id":null})"), nullptr);
  WEIR_CHECK_STR(key("id", "[1,2]"), nullptr);
  WEIR_CHECK_STR(key("items.1.sku", R"({"items":[{"sku":"x"},{"sku":"y"}]})"), "y");
  WEIR_CHECK_STR(key("/items/0/sku", R"({"items":[{"sku":"x"},{"sku":"y"}]})"), "x");
  WEIR_CHECK_STR(key("/a~1b/c~0d", R"({"a/b":{"c~d":1}})"), "1");
  WEIR_CHECK_STR(key("v", R"({"v":{"b":1,"a":2}})"), R"({"a":2,"b":1})");
  WEIR_CHECK_STR(key("v", R"({"v":1.5})"), "1.5");
  std::string error;
  for (const char *bad : {"", R"({"fields":[]})", R"({"field":"a","fields":["b"]})", R"({"feld":"a"})", "a..b"})
    WEIR_CHECK(!parse_fields(bad, error));
  WEIR_CHECK((parse_fields("/order/id", error) == std::vector<Path>{{"order", "id"}}));
  weir_testing_reset();
  WEIR_CHECK_STR(key("{not json", R"({"id":1})"), nullptr);
  WEIR_CHECK_STR(key("{not json", R"({"id":1})"), nullptr);
  WEIR_CHECK(weir_testing_log_count() == 1);
  weir_testing_reset();
  return weir_testing_summary();
}
