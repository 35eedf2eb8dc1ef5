// Micro-benchmarks of the library's hot paths (Google Benchmark). Speed is
// measured here and in scripts/bench, never asserted in tests.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "ctishare/allowlist.h"
#include "ctishare/bundle.h"
#include "ctishare/json.h"
#include "ctishare/merge.h"
#include "ctishare/object.h"
#include "ctishare/observable.h"
#include "ctishare/pattern_parser.h"
#include "ctishare/taxii/store.h"
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

// An allowlist the size of a bank's (2,000 of its own domains, 500
// partner hosts, 50 networks, 50 URL prefixes), asked about a subdomain it
// does not cover: what feed-merge asks for every row.
const trust::Allowlist& bank_allowlist() {
  static const trust::Allowlist list = [] {
    std::string text = "type,value,reason,expires\n";
    for (int i = 0; i < 2000; ++i) text += "domain,own-site-" + std::to_string(i) + ".bank.example,ours,\n";
    for (int i = 0; i < 500; ++i) text += "host,www.partner-" + std::to_string(i) + ".example,partner,\n";
    for (int i = 0; i < 50; ++i) text += "cidr,10." + std::to_string(i) + ".0.0/16,ours,\n";
    for (int i = 0; i < 50; ++i) text += "url-prefix,https://cdn-" + std::to_string(i) + ".example/s/,cdn,\n";
    return *trust::Allowlist::parse(text, "bench");
  }();
  return list;
}

void BM_AllowlistMatch(benchmark::State& state, stix::ObservableType type, std::string_view value) {
  const auto& list = bank_allowlist();
  const Timestamp now = *Timestamp::parse("2026-12-01T00:00:00Z");
  for (auto _ : state) benchmark::DoNotOptimize(list.match(type, value, now));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_AllowlistMatch, domain, stix::ObservableType::domain, "login.secure-verify.phish.example");
BENCHMARK_CAPTURE(BM_AllowlistMatch, url, stix::ObservableType::url, "https://login.phish.example/a/b?c=d");
// A name under a top-level label no entry ends in: refused before any probe.
BENCHMARK_CAPTURE(BM_AllowlistMatch, other_tld, stix::ObservableType::domain, "login.secure-verify.phish.com");

// One row of threat_master.csv as feed-merge writes a million: a phishing
// domain reported by one source (no cell needs quotes but the reason's).
void BM_MasterCsvRow(benchmark::State& state) {
  merge::Row row;
  row.type = stix::ObservableType::domain;
  row.value = "login-secure-verify.phish.example";
  row.action = trust::Action::review;
  row.status = merge::RowStatus::active;
  row.score = 56.12;
  row.producer_confidence = 92;
  row.sources = {"partner-b"};
  row.source_tier = "partner";
  row.first_seen = row.last_seen = row.valid_from = "2026-12-01T04:20:00.000Z";
  row.valid_until = "2026-12-31T04:20:00.000Z";
  row.reason = "score 56.12 between the review threshold 30 and the block threshold 70";
  row.tlp = "amber";
  row.stix_ids = {"indicator--00000ac2-c0d7-45fe-a8cf-d2039b80ce5b"};
  merge::ExportOptions options;
  std::string out;
  for (auto _ : state) {
    out.clear();
    merge::append_master_csv_row(out, row, options);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MasterCsvRow);

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

// A scratch directory for a benchmark's store, removed with it.
class BenchDir {
 public:
  BenchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ctishare-bench.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  bool ok() const { return !path_.empty(); }

 private:
  std::string path_;
};

// kIndicator under the n-th id, as the TAXII handler would hand it to the store.
taxii::NewObject bench_indicator(std::int64_t n) {
  char id[64];
  std::snprintf(id, sizeof id, "indicator--00000000-0000-4000-8000-%012lld", static_cast<long long>(n));
  taxii::NewObject o;
  o.id = id;
  o.version = "2026-11-29T18:19:12.288Z";
  o.spec_version = "2.1";
  o.type = "indicator";
  o.json = kIndicator;
  o.json.replace(o.json.find("indicator--3779ba4f-c5a4-4468-a868-52c7d2f5ce54"), 48, id);
  return o;
}

const std::string kBenchCollection = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";

// Ingest in batches of 1,000 into a file store (WAL, synchronous=FULL: one
// fsync per batch). Target: >= 50,000 objects/s.
void BM_SqliteStoreAdd(benchmark::State& state) {
  BenchDir dir;
  auto store = dir.ok() ? taxii::open_sqlite_store(dir.file("store.db")) : Error(ErrorCategory::io, "mkdtemp");
  if (!store) {
    state.SkipWithError(store.error().message().c_str());
    return;
  }
  std::int64_t next = 0;
  std::vector<taxii::NewObject> batch;
  for (auto _ : state) {
    state.PauseTiming();
    batch.clear();
    for (int i = 0; i < 1000; ++i) batch.push_back(bench_indicator(next++));
    state.ResumeTiming();
    auto r = (*store)->add(kBenchCollection, batch);
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_SqliteStoreAdd)->Unit(benchmark::kMillisecond)->UseRealTime();

// A file store holding one collection of 100,000 indicators, built once
// for the query benchmarks; null when it cannot be built.
taxii::Store* hundred_thousand_store() {
  static BenchDir dir;
  static std::unique_ptr<taxii::Store> store = []() -> std::unique_ptr<taxii::Store> {
    if (!dir.ok()) return nullptr;
    auto opened = taxii::open_sqlite_store(dir.file("store.db"));
    if (!opened) return nullptr;
    std::vector<taxii::NewObject> batch;
    for (std::int64_t n = 0; n < 100'000; ++n) {
      batch.push_back(bench_indicator(n));
      if (batch.size() == 1000) {
        if (!(*opened)->add(kBenchCollection, batch)) return nullptr;
        batch.clear();
      }
    }
    return std::move(*opened);
  }();
  return store.get();
}

// One limit=100 page (default filters: each object's last version, latest
// spec_version) from a 100,000-object collection, walking it page by page.
void BM_SqliteStoreQueryPage(benchmark::State& state) {
  taxii::Store* store = hundred_thousand_store();
  if (store == nullptr) {
    state.SkipWithError("cannot build the 100,000-object store");
    return;
  }
  taxii::Query q;
  q.collection = kBenchCollection;
  q.limit = 100;
  std::int64_t objects = 0;
  for (auto _ : state) {
    auto page = store->query(q);
    if (!page) {
      state.SkipWithError(page.error().message().c_str());
      break;
    }
    objects += static_cast<std::int64_t>(page->objects.size());
    q.position = page->more ? std::optional<taxii::Micros>(page->objects.back().date_added) : std::nullopt;
  }
  state.SetItemsProcessed(objects);
}
BENCHMARK(BM_SqliteStoreQueryPage)->Unit(benchmark::kMicrosecond);

// GET …/objects/{id}/: match[id] with one id in the same collection (must
// seek, not scan 100,000 rows).
void BM_SqliteStoreQueryId(benchmark::State& state) {
  taxii::Store* store = hundred_thousand_store();
  if (store == nullptr) {
    state.SkipWithError("cannot build the 100,000-object store");
    return;
  }
  std::int64_t n = 0;
  for (auto _ : state) {
    taxii::Query q;
    q.collection = kBenchCollection;
    q.ids = {bench_indicator(n * 7919 % 100'000).id};
    ++n;
    auto page = store->query(q);
    if (!page || page->objects.size() != 1) {
      state.SkipWithError("match[id] did not find its object");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SqliteStoreQueryId)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
