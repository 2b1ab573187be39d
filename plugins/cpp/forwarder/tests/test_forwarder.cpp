// Native unit tests of the C++ forwarder, against the SDK's test double.
#include "forwarder.hpp"
#include "weir_testing.h"

static weir::Message message(const char *id, const char *body) {
  weir::Message m{weir_testing_message(id, body)};
  m.weir_message_t::topic = weir_str("orders");
  return m;
}

int main() {
  {
    weir_testing_reset();
    weir::Message batch[] = {message("a", "one"), message("b", "two")};
    weir_outcome_t out[2];
    weir_testing_handle(R"({"to":"orders-eu","add_properties":{"region":"eu"},"uppercase":true})", batch, 2, out);
    WEIR_CHECK(out[0].kind == WEIR_ACK && out[1].kind == WEIR_ACK);
    WEIR_CHECK(weir_testing_published_count() == 2);
    WEIR_CHECK_STR(weir_testing_published(0)->topic, "orders-eu");
    WEIR_CHECK_STR(weir_testing_published(0)->body.ptr, "ONE");
    WEIR_CHECK_STR(weir_testing_published_property(weir_testing_published(1), "region"), "eu");
  }
  {
    weir_testing_reset();
    weir_testing_fail_publish("topic orders-eu does not exist");
    weir::Message batch[] = {message("a", "1"), message("b", "2")};
    weir_outcome_t out[2];
    weir_testing_handle(R"({"to":"orders-eu","retry_ms":500})", batch, 2, out);
    WEIR_CHECK(out[0].kind == WEIR_RETRY && out[0].retry_ms == 500 && out[1].retry_ms == 500);
    WEIR_CHECK(weir_testing_log_count() == 1);
  }
  {
    // Before `dead_letter_after`, a failed publish retries.
    weir_testing_reset();
    weir_testing_fail_publish("topic orders-eu does not exist");
    weir::Message batch[] = {message("a", "1")};
    batch[0].attempt = 2;
    weir_outcome_t out[1];
    weir_testing_handle(R"({"to":"orders-eu","retry_ms":500,"dead_letter_after":3})", batch, 1, out);
    WEIR_CHECK(out[0].kind == WEIR_RETRY && out[0].retry_ms == 500);
    WEIR_CHECK(weir_testing_log_count() == 1);
    WEIR_CHECK(std::string_view(weir_testing_log(0)->text).ends_with("; retrying"));
  }
  {
    // From `dead_letter_after` on, it dead-letters the message and retries the rest unpublished.
    weir_testing_reset();
    weir_testing_fail_publish("topic orders-eu does not exist");
    for (uint32_t attempt : {3u, 4u}) {
      weir::Message batch[] = {message("a", "1"), message("b", "2"), message("c", "3")};
      batch[0].attempt = attempt;
      batch[2].attempt = 7;
      weir_outcome_t out[3];
      weir_testing_handle(R"({"to":"orders-eu","retry_ms":500,"dead_letter_after":3})", batch, 3, out);
      std::string reason = "forwarder: publishing a to orders-eu failed on attempt " + std::to_string(attempt) +
                           ": topic orders-eu does not exist";
      WEIR_CHECK(out[0].kind == WEIR_DEAD_LETTER);
      WEIR_CHECK_STR(out[0].reason, reason.c_str());
      WEIR_CHECK(out[1].kind == WEIR_RETRY && out[1].retry_ms == 500);
      WEIR_CHECK(out[2].kind == WEIR_RETRY && out[2].retry_ms == 500);
      const weir_testing_log_t *last = weir_testing_log(weir_testing_log_count() - 1);
      WEIR_CHECK(last->level == WEIR_WARN);
      std::string line = reason + "; dead-lettering";
      WEIR_CHECK_STR(last->text, line.c_str());
      for (auto &outcome : out) weir_outcome_free(&outcome);
    }
    WEIR_CHECK(weir_testing_log_count() == 2); // one publish a batch
    WEIR_CHECK(weir_testing_published_count() == 0);
  }
  {
    // A successful publish is acked whatever the attempt.
    weir_testing_reset();
    weir::Message batch[] = {message("a", "1")};
    batch[0].attempt = 9;
    weir_outcome_t out[1];
    weir_testing_handle(R"({"to":"orders-eu","dead_letter_after":1})", batch, 1, out);
    WEIR_CHECK(out[0].kind == WEIR_ACK);
    WEIR_CHECK(weir_testing_published_count() == 1 && weir_testing_log_count() == 0);
  }
  {
    weir_testing_reset();
    weir::Message batch[] = {message("a", "1")};
    weir_outcome_t out[1];
    weir_testing_handle(R"({"too":"x"})", batch, 1, out);
    WEIR_CHECK(out[0].kind == WEIR_RETRY && out[0].retry_ms == 0);
    WEIR_CHECK(weir_testing_published_count() == 0);
  }
  {
    std::string error;
    for (const char *bad : {"", R"({"to":" "})", R"({"to":"t","upercase":true})", R"({"to":"t","retry_ms":-1})",
                            R"({"to":"t","dead_letter_after":0})", R"({"to":"t","dead_letter_after":-1})",
                            R"({"to":"t","dead_letter_after":1.5})", R"({"to":"t","dead_letter_after":"3"})",
                            R"({"to":"t","dead_letter_after":true})",
                            R"({"to":"t","dead_letter_after":4294967296})"})
      WEIR_CHECK(!parse_config(bad, error));
    auto full = parse_config(R"({"to":"t"})", error);
    WEIR_CHECK(full && full->to == "t" && parse_config("t", error)->to == "t");
    WEIR_CHECK(!full->dead_letter_after && !parse_config("t", error)->dead_letter_after);
    auto after = parse_config(R"({"to":"t","dead_letter_after":3})", error);
    WEIR_CHECK(after && after->dead_letter_after == 3u);
    WEIR_CHECK(!after->gives_up_on(2) && after->gives_up_on(3) && after->gives_up_on(4));
    auto null = parse_config(R"({"to":"t","dead_letter_after":null})", error);
    WEIR_CHECK(null && !null->dead_letter_after && !null->gives_up_on(UINT32_MAX));
  }
  {
    std::string error;
    auto config = parse_config(R"({"to":"eu","add_properties":{"region":"eu","kind":"new"},
        "remove_properties":["internal"],"tag":"fwd","uppercase":true,"origin_property":"from"})", error);
    WEIR_CHECK(config.has_value());
    weir_str_t keys[] = {weir_str("k")};
    weir_property_t props[] = {{weir_str("kind"), weir_str("old")}, {weir_str("internal"), weir_str("x")}};
    weir::Message m = message("m-1", "gr\xc3\xbc\xc3\x9f" "e");
    m.keys = keys, m.keys_len = 1, m.has_tag = true, m.weir_message_t::tag = weir_str("old");
    m.has_message_group = true, m.message_group = weir_str("g");
    m.properties = props, m.properties_len = 2;
    auto out = forward(*config, m);
    WEIR_CHECK(out.topic == "eu" && out.keys == std::vector<std::string>{"k"});
    WEIR_CHECK(out.tag == "fwd" && out.message_group == "g");
    using P = std::vector<std::pair<std::string, std::string>>;
    WEIR_CHECK((out.properties == P{{"kind", "new"}, {"region", "eu"}, {"from", "m-1"}}));
    WEIR_CHECK(out.body == "GR\xc3\x9c" "SSE");
    weir::Message binary = message("x", "\xff" "a");
    WEIR_CHECK(forward(*config, binary).body == "\xff" "a");
  }
  weir_testing_reset();
  return weir_testing_summary();
}
