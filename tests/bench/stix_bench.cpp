// Micro-benchmarks of the library's hot paths (Google Benchmark). Speed is
// measured here and in scripts/bench, never asserted in tests.
#include <benchmark/benchmark.h>

#include <sstream>

#include "ctishare/bundle.h"
#include "ctishare/json.h"
#include "ctishare/object.h"
#include "ctishare/observable.h"
#include "ctishare/pattern_parser.h"
#include "ctishare/time.h"
#include "ctishare/uuid.h"

namespace {

using namespace ctishare;

const std::string kIndicator =
    R"({"type":"indicator","spec_version":"2.1","id":"indicator--3779ba4f-c5a4-4468-a868-52c7d2f5ce54",)"
    R"("created_by_ref":"identity--c5c7ba2c-5140-4fce-a027-d7583dbb0bea","created":"2026-11-29T18:19:12.288Z",)"
    R"("modified":"2026-11-29T18:19:12.288Z","name":"secure-login.net","description":"Detected domain secure-login.net",)"
    R"("indicator_types":["malicious-activity"],"pattern":"[domain-name:value = 'secure-login.net']","pattern_type":"stix",)"
    R"("pattern_version":"2.1","valid_from":"2026-11-29T18:19:12.288Z","valid_until":"2026-12-29T18:19:12.288Z",)"
    R"("labels":["phishing","threat-intel"],"confidence":92,"object_marking_refs":["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]})";

void BM_JsonParseIndicator(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(json::parse(kIndicator));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kIndicator.size()));
}
BENCHMARK(BM_JsonParseIndicator);

void BM_JsonWriteIndicator(benchmark::State& state) {
  auto v = *json::parse(kIndicator);
  std::string out;
  for (auto _ : state) {
    out.clear();
    json::write(v, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JsonWriteIndicator);

void BM_ReadBundleStreaming(benchmark::State& state) {
  std::string bundle = R"({"type":"bundle","id":"bundle--3779ba4f-c5a4-4468-a868-52c7d2f5ce54","objects":[)";
  for (int i = 0; i < 10000; ++i) {
    if (i != 0) bundle += ",\n";
    bundle += kIndicator;
  }
  bundle += "]}";
  for (auto _ : state) {
    std::istringstream in(bundle);
    std::size_t n = 0;
    auto s = stix::read_objects(in, {}, [&](stix::Object&&, const stix::Origin&) -> Status {
      ++n;
      return {};
    });
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * 10000);
}
BENCHMARK(BM_ReadBundleStreaming)->Unit(benchmark::kMillisecond);

void BM_DeterministicScoId(benchmark::State& state) {
  auto sco = *json::parse(R"({"type":"domain-name","value":"secure-login.net"})");
  for (auto _ : state) benchmark::DoNotOptimize(stix::deterministic_sco_id(sco));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DeterministicScoId);

void BM_ClassifyDomain(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(stix::classify_observable("Secure-Login.example.net."));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClassifyDomain);

void BM_ClassifyUrl(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(stix::classify_observable("http://secure-login.net/account/verify?session=8812"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClassifyUrl);

void BM_TimestampParse(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Timestamp::parse("2026-11-29T18:19:12.288Z"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimestampParse);

void BM_UuidV4(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Uuid::v4());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UuidV4);

// Parse + semantic check of an indicator pattern, reusing the parsed tree and
// the issue list as a validator does (target: >= 1M simple patterns/s).
void PatternParseCheck(benchmark::State& state, std::string_view text) {
  stix::pattern::ParsedPattern parsed;
  stix::pattern::ParseError error;
  std::vector<stix::pattern::Issue> issues;
  for (auto _ : state) {
    issues.clear();
    const bool ok = stix::pattern::parse(text, parsed, error);
    if (ok) stix::pattern::check(parsed, issues);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(issues.data());
  }
  if (!issues.empty() || !error.message.empty()) state.SkipWithError("the benchmark pattern is not clean");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}

void BM_PatternParseCheck(benchmark::State& state) {
  PatternParseCheck(state, "[domain-name:value = 'secure-login.example']");
}
BENCHMARK(BM_PatternParseCheck);

void BM_PatternParseCheckComplex(benchmark::State& state) {
  PatternParseCheck(state,
                    "([file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' "
                    "OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND "
                    "[network-traffic:dst_ref.value ISSUBSET '198.51.100.0/24' AND network-traffic:dst_port IN "
                    "(443, 8443) AND network-traffic:extensions.'http-request-ext'.request_method = 'post'] "
                    "REPEATS 3 TIMES) FOLLOWEDBY [process:command_line MATCHES '(?i)powershell.+-enc' AND "
                    "process:image_ref.name LIKE '%.exe'] WITHIN 600 SECONDS START t'2026-01-01T00:00:00Z' "
                    "STOP t'2026-12-31T23:59:59.999Z'");
}
BENCHMARK(BM_PatternParseCheckComplex);

}  // namespace

BENCHMARK_MAIN();
