// ack-all: a consumer that acks every message (for benchmarks).
#include "weir.hpp"

struct AckAll {
  static std::vector<weir::Outcome> handle(std::string_view, std::span<const weir::Message> batch) {
    return std::vector<weir::Outcome>(batch.size(), weir::Outcome::ack());
  }
};
WEIR_EXPORT_CONSUMER(AckAll)
