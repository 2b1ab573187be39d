/* ack-all: a consumer that acks every message (for benchmarks). */
#include "weir.h"

weir_outcome_t weir_consume(const char *config, const weir_message_t *message) {
  (void)config;
  (void)message;
  return weir_ack();
}
