// weir.hpp: the C++ SDK for Weir plugins, header-only over the C SDK (weir.h).
//
// A plugin is a struct with the static function of its world, exported by one macro:
//
//   struct Audit {
//     static std::vector<weir::Outcome> handle(std::string_view config,
//                                              std::span<const weir::Message> batch);
//   };
//   WEIR_EXPORT_CONSUMER(Audit)
//
//   struct Dedup {   // dedup-filter-plugin
//     static std::optional<std::string> dedup_key(std::string_view config, const weir::Message &m);
//   };
//   WEIR_EXPORT_DEDUP_FILTER(Dedup)
//
//   struct Checker { // tx-checker-plugin
//     static weir::TxState check(std::string_view config, const weir::Message &half, uint32_t checks);
//   };
//   WEIR_EXPORT_TX_CHECKER(Checker)
//
// Messages are borrowed views (valid during the call); everything the plugin hands back is
// copied by the SDK, so std::string values and literals are equally fine. Builds without
// exceptions (-fno-exceptions): failures are values (weir::Result).
#ifndef WEIR_HPP
#define WEIR_HPP

#include <cstdarg>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir.h"
#include "weir_json.h"

namespace weir {

inline std::string_view view(weir_str_t s) { return {s.ptr, s.len}; }

/// A message as the broker hands it (a view: valid during the call).
struct Message : weir_message_t {
  std::string_view id() const { return view(weir_message_t::id); }
  std::string_view topic() const { return view(weir_message_t::topic); }
  std::optional<std::string_view> tag() const {
    return has_tag ? std::optional(view(weir_message_t::tag)) : std::nullopt;
  }
  std::optional<std::string_view> group() const {
    return has_message_group ? std::optional(view(message_group)) : std::nullopt;
  }
  std::span<const weir_str_t> key_list() const { return {keys, keys_len}; }
  std::span<const weir_property_t> property_list() const { return {properties, properties_len}; }
  /// The first property of that name.
  std::optional<std::string_view> property(std::string_view name) const {
    for (const auto &p : property_list())
      if (view(p.name) == name) return view(p.value);
    return std::nullopt;
  }
  std::span<const uint8_t> bytes() const { return {body, body_len}; }
  std::string_view text() const { return {reinterpret_cast<const char *>(body), body_len}; }
};
static_assert(sizeof(Message) == sizeof(weir_message_t));

/// What happens to one message.
struct Outcome {
  weir_outcome_kind_t kind = WEIR_ACK;
  uint64_t retry_ms = 0;
  std::string reason;
  static Outcome ack() { return {}; }
  /// 0: the group's backoff.
  static Outcome retry(uint64_t ms) { return {WEIR_RETRY, ms, {}}; }
  static Outcome dead_letter(std::string reason) { return {WEIR_DEAD_LETTER, 0, std::move(reason)}; }
  bool operator==(const Outcome &) const = default;
};

enum class TxState { Commit = WEIR_TX_COMMIT, Rollback = WEIR_TX_ROLLBACK, Unknown = WEIR_TX_UNKNOWN };

/// A value or the broker's error message.
template <typename T> struct Result {
  std::optional<T> value;
  std::string error;
  explicit operator bool() const { return value.has_value(); }
};
template <> struct Result<void> {
  bool ok = false;
  std::string error;
  explicit operator bool() const { return ok; }
};

namespace detail {
inline std::string take(weir_buf_t &buf) {
  std::string s(weir_buf_cstr(&buf), buf.len);
  weir_buf_free(&buf);
  return s;
}
} // namespace detail

namespace log {
inline void write(weir_level_t level, std::string_view text) { weir_log_str(level, text.data(), text.size()); }
inline void trace(std::string_view text) { write(WEIR_TRACE, text); }
inline void debug(std::string_view text) { write(WEIR_DEBUG, text); }
inline void info(std::string_view text) { write(WEIR_INFO, text); }
inline void warn(std::string_view text) { write(WEIR_WARN, text); }
inline void error(std::string_view text) { write(WEIR_ERROR, text); }
} // namespace log

/// Milliseconds since the Unix epoch.
inline int64_t now_ms() { return weir_now_ms(); }

namespace state {
inline std::optional<std::string> get(const std::string &key) {
  weir_buf_t value = WEIR_BUF_INIT;
  if (!weir_state_get(key.c_str(), &value)) return std::nullopt;
  return detail::take(value);
}
/// ttl_ms 0: until deleted.
inline Result<void> set(const std::string &key, std::string_view value, uint64_t ttl_ms = 0) {
  weir_buf_t error = WEIR_BUF_INIT;
  bool ok = weir_state_set(key.c_str(), value.data(), value.size(), ttl_ms, &error);
  return {ok, detail::take(error)};
}
inline void remove(const std::string &key) { weir_state_delete(key.c_str()); }
} // namespace state

/// A message to publish.
struct Outgoing {
  std::string topic;
  std::vector<std::string> keys;
  std::optional<std::string> tag;
  std::optional<std::string> message_group;
  std::vector<std::pair<std::string, std::string>> properties;
  std::string body;

  /// A message to `topic` with m's keys, tag, group, properties and body.
  static Outgoing from(const Message &m, std::string topic) {
    Outgoing out{std::move(topic), {}, {}, {}, {}, std::string(m.text())};
    for (auto k : m.key_list()) out.keys.emplace_back(view(k));
    if (auto t = m.tag()) out.tag = std::string(*t);
    if (auto g = m.group()) out.message_group = std::string(*g);
    for (auto &p : m.property_list()) out.properties.emplace_back(view(p.name), view(p.value));
    return out;
  }
  /// Sets a property, replacing the first of the same name.
  Outgoing &property(std::string_view name, std::string_view value) {
    for (auto &p : properties)
      if (p.first == name) {
        p.second = value;
        return *this;
      }
    properties.emplace_back(name, value);
    return *this;
  }
};

/// Sends a message; answers its id.
inline Result<std::string> publish(const Outgoing &m) {
  std::vector<weir_str_t> keys;
  for (auto &k : m.keys) keys.push_back({k.c_str(), k.size()});
  std::vector<weir_property_t> props;
  for (auto &[n, v] : m.properties) props.push_back({{n.c_str(), n.size()}, {v.c_str(), v.size()}});
  weir_outgoing_t out{m.topic.c_str(), keys.data(), keys.size(),
                      m.tag ? m.tag->c_str() : nullptr,
                      m.message_group ? m.message_group->c_str() : nullptr,
                      props.data(), props.size(),
                      reinterpret_cast<const uint8_t *>(m.body.data()), m.body.size()};
  weir_buf_t id = WEIR_BUF_INIT, error = WEIR_BUF_INIT;
  bool ok = weir_publish(&out, &id, &error);
  Result<std::string> r;
  if (ok) r.value = detail::take(id);
  else weir_buf_free(&id);
  r.error = detail::take(error);
  return r;
}

namespace http {
struct Response {
  uint16_t status = 0;
  std::string body;
};
using Headers = std::vector<std::pair<std::string, std::string>>;
inline Result<Response> request(const std::string &method, const std::string &url, const Headers &headers,
                                std::string_view body) {
  std::vector<weir_header_t> h;
  for (auto &[n, v] : headers) h.push_back({n.c_str(), v.c_str()});
  weir_http_response_t response{0, WEIR_BUF_INIT};
  weir_buf_t error = WEIR_BUF_INIT;
  Result<Response> r;
  if (weir_http_request(method.c_str(), url.c_str(), h.data(), h.size(), body.data(), body.size(), &response,
                        &error)) {
    r.value = Response{response.status, detail::take(response.body)};
  }
  weir_http_response_free(&response);
  r.error = detail::take(error);
  return r;
}
inline Result<Response> get(const std::string &url, const Headers &headers = {}) {
  return request("GET", url, headers, {});
}
inline Result<Response> post(const std::string &url, const Headers &headers, std::string_view body) {
  return request("POST", url, headers, body);
}
} // namespace http

/// The parsed form of a binding's config, kept while the config string stays the same.
template <typename T> class ConfigCache {
public:
  template <typename Parse> const T &get(std::string_view config, Parse parse) {
    if (!entry_ || entry_->first != config) entry_.emplace(std::string(config), parse(config));
    return entry_->second;
  }

private:
  std::optional<std::pair<std::string, T>> entry_;
};

/// Upper-cases UTF-8 text (full Unicode mapping); nullopt when it is not UTF-8.
inline std::optional<std::string> utf8_upper(std::string_view text) {
  weir_buf_t out = WEIR_BUF_INIT;
  if (!weir_utf8_upper(reinterpret_cast<const uint8_t *>(text.data()), text.size(), &out)) {
    weir_buf_free(&out);
    return std::nullopt;
  }
  return detail::take(out);
}

/// JSON (the C SDK's bounded parser), with RAII.
namespace json {
class Value {
public:
  explicit Value(weir_json_value_t v) : v_(v) {}
  weir_json_type_t type() const { return weir_json_type(v_); }
  bool is_null() const { return type() == WEIR_JSON_NULL; }
  bool is_string() const { return type() == WEIR_JSON_STRING; }
  bool is_object() const { return type() == WEIR_JSON_OBJECT; }
  bool is_array() const { return type() == WEIR_JSON_ARRAY; }
  bool is_bool() const { return type() == WEIR_JSON_BOOL; }
  size_t size() const { return weir_json_len(v_); }
  std::optional<Value> at(size_t i) const {
    weir_json_value_t out;
    return weir_json_at(v_, i, &out) ? std::optional(Value(out)) : std::nullopt;
  }
  std::string_view key_at(size_t i) const { return view(weir_json_key_at(v_, i)); }
  std::optional<Value> get(std::string_view name) const {
    weir_json_value_t out;
    return weir_json_get(v_, name.data(), name.size(), &out) ? std::optional(Value(out)) : std::nullopt;
  }
  bool has_duplicates() const { return weir_json_has_duplicates(v_); }
  std::string_view string() const { return view(weir_json_string(v_)); }
  bool boolean() const { return weir_json_bool(v_); }
  std::optional<uint64_t> u64() const {
    uint64_t out;
    return weir_json_u64(v_, &out) ? std::optional(out) : std::nullopt;
  }
  /// Compact JSON text, object members sorted (serde_json's form).
  std::string dump() const {
    weir_buf_t out = WEIR_BUF_INIT;
    weir_json_write(v_, &out);
    return detail::take(out);
  }

private:
  weir_json_value_t v_;
};

class Document {
public:
  /// Parses text; on failure, nullopt and the reason in `error` when given.
  static std::optional<Document> parse(std::string_view text, std::string *error = nullptr) {
    Document doc;
    weir_buf_t e = WEIR_BUF_INIT;
    bool ok = weir_json_parse(&doc.doc_, text.data(), text.size(), &e);
    if (error) *error = weir_buf_cstr(&e);
    weir_buf_free(&e);
    if (!ok) return std::nullopt;
    doc.parsed_ = true;
    return doc;
  }
  Document(Document &&other) noexcept : doc_(other.doc_), parsed_(other.parsed_) { other.parsed_ = false; }
  Document &operator=(Document &&) = delete;
  Document(const Document &) = delete;
  ~Document() {
    if (parsed_) weir_json_free(&doc_);
  }
  Value root() const { return Value(weir_json_root(&doc_)); }

private:
  Document() = default;
  weir_json_t doc_{};
  bool parsed_ = false;
};
} // namespace json

} // namespace weir

/// Exports a consumer: T::handle(std::string_view, std::span<const weir::Message>) ->
/// std::vector<weir::Outcome>. A list of the wrong length fails the batch, as the broker does.
#define WEIR_EXPORT_CONSUMER(T)                                                                     \
  extern "C" void weir_consume_batch(const char *config, const weir_message_t *batch, size_t len,   \
                                     weir_outcome_t *outcomes) {                                    \
    std::vector<weir::Outcome> out =                                                                \
        T::handle(config, std::span<const weir::Message>(static_cast<const weir::Message *>(batch), len)); \
    for (size_t i = 0; i < len; i++) {                                                              \
      if (i >= out.size()) {                                                                        \
        outcomes[i] = weir_retry(0);                                                                \
        continue;                                                                                   \
      }                                                                                             \
      if (out[i].kind == WEIR_DEAD_LETTER) outcomes[i] = weir_dead_letter("%s", out[i].reason.c_str()); \
      else if (out[i].kind == WEIR_RETRY) outcomes[i] = weir_retry(out[i].retry_ms);                \
      else outcomes[i] = weir_ack();                                                                \
    }                                                                                               \
  }

/// Exports a dedup filter: T::dedup_key(std::string_view, const weir::Message &) ->
/// std::optional<std::string>.
#define WEIR_EXPORT_DEDUP_FILTER(T)                                                                 \
  extern "C" bool weir_dedup_key(const char *config, const weir_message_t *message, weir_buf_t *key) { \
    std::optional<std::string> k = T::dedup_key(config, *static_cast<const weir::Message *>(message)); \
    if (!k) return false;                                                                           \
    weir_buf_append(key, k->data(), k->size());                                                     \
    return true;                                                                                    \
  }

/// Exports a transaction checker: T::check(std::string_view, const weir::Message &, uint32_t)
/// -> weir::TxState.
#define WEIR_EXPORT_TX_CHECKER(T)                                                                   \
  extern "C" weir_tx_state_t weir_tx_check(const char *config, const weir_message_t *half,          \
                                           uint32_t checks) {                                       \
    return static_cast<weir_tx_state_t>(T::check(config, *static_cast<const weir::Message *>(half), checks)); \
  }

#endif
