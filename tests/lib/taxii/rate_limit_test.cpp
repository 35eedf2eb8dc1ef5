// Tests of ctishare/taxii/rate_limit.h: bursts, refusal with Retry-After,
// refill over injected time, independent keys, unlimited mode and the
// bound on memory.
#include "ctishare/taxii/rate_limit.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace ctishare::taxii;

namespace {

constexpr Micros kSecond = 1'000'000;
constexpr Micros kT0 = 1'772'366'400 * kSecond;  // 2026-03-01T12:00:00Z

}  // namespace

TEST_CASE("a burst is allowed, then refused with retry_after >= 1", "[rate_limit]") {
  RateLimiter limiter(2, 5);  // 2 per second, bursts of 5
  for (int i = 0; i < 5; ++i) {
    INFO(i);
    const auto d = limiter.take("alice", kT0);
    CHECK(d.allowed);
    CHECK(d.retry_after_seconds == 0);
  }
  const auto refused = limiter.take("alice", kT0);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after_seconds == 1);  // half a second, rounded up
  // Refusals spend nothing: the next token still comes at +0.5 s.
  CHECK_FALSE(limiter.take("alice", kT0 + kSecond / 4).allowed);
  CHECK(limiter.take("alice", kT0 + kSecond / 2).allowed);
  CHECK_FALSE(limiter.take("alice", kT0 + kSecond / 2).allowed);
}

TEST_CASE("buckets refill over time up to the burst", "[rate_limit]") {
  RateLimiter limiter(1, 3);
  for (int i = 0; i < 3; ++i) CHECK(limiter.take("k", kT0).allowed);
  CHECK_FALSE(limiter.take("k", kT0).allowed);
  CHECK(limiter.take("k", kT0 + kSecond).allowed);
  CHECK_FALSE(limiter.take("k", kT0 + kSecond).allowed);
  // A long rest refills only to the burst.
  const Micros later = kT0 + 3600 * kSecond;
  for (int i = 0; i < 3; ++i) CHECK(limiter.take("k", later).allowed);
  CHECK_FALSE(limiter.take("k", later).allowed);
}

TEST_CASE("retry_after rounds a slow rate up to whole seconds", "[rate_limit]") {
  RateLimiter limiter(0.1, 1);  // one per ten seconds
  CHECK(limiter.take("k", kT0).allowed);
  auto d = limiter.take("k", kT0);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_seconds == 10);
  d = limiter.take("k", kT0 + 7 * kSecond + 1);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_seconds == 3);
  CHECK(limiter.take("k", kT0 + 10 * kSecond).allowed);
}

TEST_CASE("separate keys have separate buckets", "[rate_limit]") {
  RateLimiter limiter(1, 2);
  CHECK(limiter.take("alice", kT0).allowed);
  CHECK(limiter.take("alice", kT0).allowed);
  CHECK_FALSE(limiter.take("alice", kT0).allowed);
  CHECK(limiter.take("bob", kT0).allowed);
  CHECK(limiter.take("bob", kT0).allowed);
  CHECK_FALSE(limiter.take("bob", kT0).allowed);
  CHECK(limiter.take("192.0.2.1", kT0).allowed);
  CHECK(limiter.size() == 3);
}

TEST_CASE("a rate <= 0 is unlimited and keeps no state", "[rate_limit]") {
  for (double rate : {0.0, -1.0}) {
    RateLimiter limiter(rate, 1);
    for (int i = 0; i < 1000; ++i) {
      const auto d = limiter.take("k" + std::to_string(i % 7), kT0);
      REQUIRE(d.allowed);
      REQUIRE(d.retry_after_seconds == 0);
    }
    CHECK(limiter.size() == 0);
  }
}

TEST_CASE("a burst below 1 still allows one request", "[rate_limit]") {
  RateLimiter limiter(1, 0);
  CHECK(limiter.take("k", kT0).allowed);
  CHECK_FALSE(limiter.take("k", kT0).allowed);
}

TEST_CASE("time going backwards refills nothing", "[rate_limit]") {
  RateLimiter limiter(1, 1);
  CHECK(limiter.take("k", kT0).allowed);
  CHECK_FALSE(limiter.take("k", kT0 - 3600 * kSecond).allowed);
  CHECK_FALSE(limiter.take("k", kT0 + kSecond / 2).allowed);
  CHECK(limiter.take("k", kT0 + kSecond).allowed);
}

TEST_CASE("memory is bounded: full buckets are forgotten, then the least recently used", "[rate_limit]") {
  RateLimiter limiter(1, 2, 100);
  for (int i = 0; i < 100; ++i) CHECK(limiter.take("old" + std::to_string(i), kT0).allowed);
  CHECK(limiter.size() == 100);
  // Two seconds on, every old bucket is full again and forgotten.
  CHECK(limiter.take("new", kT0 + 2 * kSecond).allowed);
  CHECK(limiter.size() == 1);

  // All active: the least recently used are dropped.
  RateLimiter busy(1, 2, 100);
  for (int i = 0; i < 100; ++i) busy.take("k" + std::to_string(i), kT0 + i);
  for (int i = 0; i < 100; ++i) busy.take("k" + std::to_string(i), kT0 + i);  // now empty buckets
  CHECK_FALSE(busy.take("k99", kT0 + 100).allowed);
  CHECK(busy.take("other", kT0 + 200).allowed);
  CHECK(busy.size() <= 100);
  CHECK_FALSE(busy.take("k99", kT0 + 300).allowed);  // recent: kept
  CHECK(busy.take("k0", kT0 + 300).allowed);         // oldest: dropped, starts afresh

  // Many distinct keys never grow it past the cap.
  RateLimiter flood(1, 1, 50);
  for (int i = 0; i < 10000; ++i) flood.take("ip" + std::to_string(i), kT0 + i);
  CHECK(flood.size() <= 50);
}

TEST_CASE("take is safe from many threads", "[rate_limit]") {
  RateLimiter limiter(1, 1000);
  std::vector<std::thread> threads;
  std::vector<int> allowed(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i)
        if (limiter.take("shared", kT0).allowed) ++allowed[static_cast<std::size_t>(t)];
    });
  for (auto& t : threads) t.join();
  CHECK(allowed[0] + allowed[1] + allowed[2] + allowed[3] == 1000);
}

TEST_CASE("a limiter can be moved", "[rate_limit]") {
  RateLimiter a(1, 1);
  CHECK(a.take("k", kT0).allowed);
  RateLimiter b = std::move(a);
  CHECK_FALSE(b.take("k", kT0).allowed);
}
