// Request rate limits for taxii-serve: a token bucket per key (a user name,
// a client address), refilled continuously at a fixed rate up to a burst
// size. Pure bookkeeping with the time passed in, so tests run without
// waiting and the server decides what a key is and what to answer (429 with
// Retry-After).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "ctishare/taxii/store.h"  // Micros

namespace ctishare::taxii {

// Thread-safe. Memory is bounded: buckets that have refilled completely
// are forgotten (a fresh bucket is identical), and when more than
// `max_keys` keys are active at once the least recently used ones are
// dropped (those keys start again with a full burst).
class RateLimiter {
 public:
  // `requests_per_second` <= 0 (or not finite) means unlimited: take()
  // always allows and keeps no state. `burst` is the bucket size, how many
  // requests a quiet key may make at once; values below 1 are taken as 1.
  RateLimiter(double requests_per_second, double burst, std::size_t max_keys = 100000);
  ~RateLimiter();
  RateLimiter(RateLimiter&&) noexcept;
  RateLimiter& operator=(RateLimiter&&) noexcept;

  struct Decision {
    bool allowed = true;
    std::int64_t retry_after_seconds = 0;  // when refused: >= 1, the whole seconds until one request is allowed
  };

  // Spends one request of `key`'s bucket at time `now`. Time going backwards
  // (a clock step) refills nothing and is otherwise harmless.
  Decision take(std::string_view key, Micros now);

  // How many keys currently hold a bucket: for tests and metrics.
  std::size_t size() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ctishare::taxii
