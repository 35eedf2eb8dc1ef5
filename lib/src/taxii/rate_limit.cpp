// Token buckets; see rate_limit.h. One mutex over one hash map: a take() is
// a lookup and a few floating-point operations, far below the cost of the
// request it guards, so thousands of requests per second do not contend.
// Buckets are swept when the map reaches its cap or once a minute (of the
// callers' time), so the sweep's O(n) cost is spread over many takes.
#include "ctishare/taxii/rate_limit.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ctishare::taxii {

namespace {

constexpr Micros kSweepInterval = 60'000'000;

struct Bucket {
  double tokens = 0;
  Micros last = 0;  // when `tokens` was last brought up to date
};

// Lets the map be searched with a string_view (no allocation per take).
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
};

}  // namespace

struct RateLimiter::State {
  double rate = 0;  // tokens per microsecond
  double burst = 1;
  std::size_t max_keys = 0;
  mutable std::mutex mutex;
  std::unordered_map<std::string, Bucket, KeyHash, std::equal_to<>> buckets;
  Micros last_sweep = 0;

  double refilled(const Bucket& b, Micros now) const {
    if (now <= b.last) return b.tokens;
    return std::min(burst, b.tokens + static_cast<double>(now - b.last) * rate);
  }

  // Drops every bucket that is full again, then, if still over the cap, the
  // least recently used tenth so the next sweep is not right behind.
  void sweep(Micros now) {
    last_sweep = now;
    std::erase_if(buckets, [&](const auto& entry) { return refilled(entry.second, now) >= burst; });
    if (buckets.size() < max_keys) return;
    std::vector<Micros> lasts;
    lasts.reserve(buckets.size());
    for (const auto& entry : buckets) lasts.push_back(entry.second.last);
    const std::size_t drop = std::max<std::size_t>(1, buckets.size() / 10);
    std::nth_element(lasts.begin(), lasts.begin() + static_cast<std::ptrdiff_t>(drop - 1), lasts.end());
    const Micros cutoff = lasts[drop - 1];
    std::erase_if(buckets, [&](const auto& entry) { return entry.second.last <= cutoff; });
  }
};

RateLimiter::RateLimiter(double requests_per_second, double burst, std::size_t max_keys)
    : state_(std::make_unique<State>()) {
  if (std::isfinite(requests_per_second) && requests_per_second > 0) state_->rate = requests_per_second / 1e6;
  state_->burst = std::isfinite(burst) && burst > 1 ? burst : 1;
  state_->max_keys = std::max<std::size_t>(1, max_keys);
}

RateLimiter::~RateLimiter() = default;
RateLimiter::RateLimiter(RateLimiter&&) noexcept = default;
RateLimiter& RateLimiter::operator=(RateLimiter&&) noexcept = default;

RateLimiter::Decision RateLimiter::take(std::string_view key, Micros now) {
  State& s = *state_;
  if (s.rate <= 0) return {};
  std::lock_guard lock(s.mutex);
  if (now - s.last_sweep >= kSweepInterval || now < s.last_sweep) s.sweep(now);
  auto it = s.buckets.find(key);
  if (it == s.buckets.end()) {
    if (s.buckets.size() >= s.max_keys) s.sweep(now);
    it = s.buckets.emplace(std::string(key), Bucket{s.burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = s.refilled(b, now);
  b.last = std::max(b.last, now);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return {};
  }
  const double wait_micros = (1 - b.tokens) / s.rate;
  const auto seconds = static_cast<std::int64_t>(std::ceil(wait_micros / 1e6));
  return {false, std::max<std::int64_t>(1, seconds)};
}

std::size_t RateLimiter::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->buckets.size();
}

}  // namespace ctishare::taxii
