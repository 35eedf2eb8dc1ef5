// Tests of ctishare/audit.h: the hash-chained audit log's writer and
// verifier, including the edits, deletions, reorderings and torn writes the
// chain exists to reveal, two writers sharing one file, the ids digest, and
// the checkpoint that reveals lines removed from the end.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "ctishare/audit.h"
#include "ctishare/json.h"
#include "support/temp_dir.h"

using namespace ctishare;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using ctishare::test::slurp;
using ctishare::test::spit;
using ctishare::test::TempDir;

namespace {

FixedClock fixed_clock() { return FixedClock(*Timestamp::parse("2026-03-01T12:00:00.123Z")); }

// A clock the test moves by hand.
class ManualClock final : public Clock {
 public:
  Timestamp now() const override {
    return Timestamp::from_unix(seconds_, static_cast<std::uint32_t>(millis_ * 1'000'000), 3);
  }
  void advance_millis(std::int64_t ms) {
    millis_ += ms;
    seconds_ += millis_ / 1000;
    millis_ %= 1000;
    if (millis_ < 0) {
      millis_ += 1000;
      --seconds_;
    }
  }

 private:
  std::int64_t seconds_ = 1772366400;  // 2026-03-01T12:00:00Z
  std::int64_t millis_ = 0;
};

std::string hex(const std::array<std::uint8_t, 32>& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (auto b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

audit::Event event(int n) {
  audit::Event e;
  e.tool = "taxii-serve";
  e.actor = "bank-a";
  e.action = "objects.add";
  e.target = "https://taxii.example/api1/";
  e.collection = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
  e.objects = n;
  e.result = "202";
  e.remote = "192.0.2.7";
  e.detail = "request " + std::to_string(n);
  return e;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Writes `n` records to a new log at `path`.
void write_log(const std::string& path, int n) {
  const FixedClock clock = fixed_clock();
  auto log = audit::AuditLog::open(path, clock);
  REQUIRE(log);
  for (int i = 1; i <= n; ++i) REQUIRE(log->append(event(i)));
}

audit::VerifyReport verify(const std::string& path) {
  auto report = audit::verify_log(path);
  REQUIRE(report);
  return *report;
}

audit::VerifyReport verify(const std::string& path, const audit::VerifyOptions& options) {
  auto report = audit::verify_log(path, options);
  REQUIRE(report);
  return *report;
}

// The record hash member of a line.
std::string hash_member(const std::string& line) {
  auto doc = json::parse(line);
  REQUIRE(doc);
  return std::string(*doc->find_string("hash"));
}

// A line with its hash recomputed after an edit (what a forger does).
std::string rehash(std::string line) {
  line.erase(line.find(",\"hash\":"));
  return line + ",\"hash\":\"" + hex(detail::sha256(line)) + "\"}";
}

struct CheckpointFile {
  std::int64_t seq = 0;
  std::string hash;
  std::string time;
};

// Reads <path>.checkpoint; seq 0 when there is none.
CheckpointFile read_checkpoint(const std::string& log_path) {
  const std::string text = slurp(log_path + ".checkpoint");
  CheckpointFile cp;
  if (text.empty()) return cp;
  REQUIRE(text.back() == '\n');
  REQUIRE(std::count(text.begin(), text.end(), '\n') == 1);
  auto doc = json::parse(text);
  REQUIRE(doc);
  REQUIRE(doc->is_object());
  CHECK(doc->as_object().size() == 3);
  cp.seq = *doc->find("seq")->as_int64();
  cp.hash = std::string(*doc->find_string("hash"));
  cp.time = std::string(*doc->find_string("time"));
  return cp;
}

// The names of the files in a directory.
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("records round-trip and verify", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 3);
  const auto lines = lines_of(slurp(path));
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[0],
             StartsWith("{\"seq\":1,\"time\":\"2026-03-01T12:00:00.123000Z\",\"tool\":\"taxii-serve\","
                        "\"actor\":\"bank-a\",\"action\":\"objects.add\",\"target\":\"https://taxii.example/api1/\","
                        "\"collection\":\"91a7b528-80eb-42ed-a74d-c6fbd5a26116\",\"objects\":1,\"result\":\"202\","
                        "\"remote\":\"192.0.2.7\",\"detail\":\"request 1\",\"ids\":\"\","
                        "\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"hash\":\""));
  // Each line parses as JSON, and prev/hash are what the format says.
  std::string prev(64, '0');
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto doc = json::parse(lines[i]);
    REQUIRE(doc);
    CHECK(*doc->find("seq")->as_int64() == static_cast<std::int64_t>(i + 1));
    CHECK(*doc->find_string("prev") == prev);
    const auto cut = lines[i].find(",\"hash\":");
    const auto digest = detail::sha256(std::string_view(lines[i]).substr(0, cut));
    std::string hex;
    for (auto b : digest) {
      static constexpr char kHex[] = "0123456789abcdef";
      hex += kHex[b >> 4];
      hex += kHex[b & 0xF];
    }
    CHECK(*doc->find_string("hash") == hex);
    prev.clear();
    for (auto b : detail::sha256(lines[i])) {
      static constexpr char kHex[] = "0123456789abcdef";
      prev += kHex[b >> 4];
      prev += kHex[b & 0xF];
    }
  }
  const auto report = verify(path);
  CHECK(report.ok);
  CHECK(report.records == 3);
  CHECK(report.bad_line == 0);
  CHECK(report.recovered_lines.empty());
}

TEST_CASE("an empty log verifies with no records", "[audit]") {
  TempDir dir;
  const std::string path = dir.file("audit.jsonl", "");
  const auto report = verify(path);
  CHECK(report.ok);
  CHECK(report.records == 0);
}

TEST_CASE("reopening a log continues its chain", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 2);
  write_log(path, 2);
  const auto report = verify(path);
  CHECK(report.ok);
  CHECK(report.records == 4);
  CHECK_THAT(lines_of(slurp(path))[3], StartsWith("{\"seq\":4,"));
}

TEST_CASE("control characters, quotes and bad UTF-8 cannot break a line", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  const FixedClock clock = fixed_clock();
  auto log = audit::AuditLog::open(path, clock);
  REQUIRE(log);
  audit::Event e = event(1);
  e.actor = "eve\"},{\"seq\":99";
  e.detail =
      std::string("line1\nline2\r\x1b[31mred\t\\ \x7f \xc2\x85 \xe2\x80\xa8 \xe2\x80\xae x \xff\xfe caf\xc3\xa9");
  e.target = std::string(10000, 'a');
  REQUIRE(log->append(e));
  const std::string text = slurp(path);
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == 1);
  CHECK(std::none_of(text.begin(), text.end() - 1, [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
  CHECK_THAT(lines[0], Contains("\"actor\":\"eve\\\"},{\\\"seq\\\":99\""));
  CHECK_THAT(lines[0], Contains("line1\\u000aline2\\u000d\\u001b[31mred\\u0009\\\\ \\u007f \\u0085 \\u2028 \\u202e x "
                                "\\ufffd\\ufffd caf\xc3\xa9"));
  auto doc = json::parse(lines[0]);
  REQUIRE(doc);
  CHECK(*doc->find_string("actor") == e.actor);
  const auto target = *doc->find_string("target");
  CHECK(target.size() == audit::kMaxFieldBytes);
  CHECK_THAT(std::string(target), Catch::EndsWith("aaa..."));
  CHECK(verify(path).ok);
}

TEST_CASE("an edited middle line is found at that line", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 5);
  auto lines = lines_of(slurp(path));
  const auto at = lines[2].find("\"objects\":3");
  REQUIRE(at != std::string::npos);
  lines[2].replace(at, 11, "\"objects\":0");
  spit(path, join(lines));
  const auto report = verify(path);
  CHECK_FALSE(report.ok);
  CHECK(report.bad_line == 3);
  CHECK(report.records == 2);
  CHECK_THAT(report.problem, Contains("hash does not match the record (edited?)"));
}

TEST_CASE("an edit with a recomputed hash is found at the next line", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 4);
  auto lines = lines_of(slurp(path));
  // Re-create line 2 with other content but a correct hash of its own.
  const std::string prev = lines[1].substr(lines[1].find(",\"prev\":\"") + 9, 64);
  TempDir other;
  {
    const FixedClock clock = fixed_clock();
    auto log = audit::AuditLog::open(other / "x.jsonl", clock);
    REQUIRE(log);
    REQUIRE(log->append(event(1)));
  }
  std::string forged = lines_of(slurp(other / "x.jsonl"))[0];
  CHECK_FALSE(forged == lines[1]);
  forged.replace(forged.find("{\"seq\":1"), 8, "{\"seq\":2");
  forged.replace(forged.find(",\"prev\":\"") + 9, 64, prev);
  forged.erase(forged.find(",\"hash\":"));
  std::string hex;
  for (auto b : detail::sha256(forged)) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex += kHex[b >> 4];
    hex += kHex[b & 0xF];
  }
  lines[1] = forged + ",\"hash\":\"" + hex + "\"}";
  spit(path, join(lines));
  const auto report = verify(path);
  CHECK_FALSE(report.ok);
  CHECK(report.bad_line == 3);
  CHECK_THAT(report.problem, Contains("prev does not match"));
}

TEST_CASE("an edited last line is found", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 3);
  auto lines = lines_of(slurp(path));
  lines[2].replace(lines[2].find("bank-a"), 6, "bank-b");
  spit(path, join(lines));
  const auto report = verify(path);
  CHECK_FALSE(report.ok);
  CHECK(report.bad_line == 3);
  CHECK_THAT(report.problem, Contains("hash does not match"));
}

TEST_CASE("a deleted line is found", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 4);
  auto lines = lines_of(slurp(path));
  SECTION("in the middle") {
    lines.erase(lines.begin() + 1);
    spit(path, join(lines));
    const auto report = verify(path);
    CHECK_FALSE(report.ok);
    CHECK(report.bad_line == 2);
    CHECK_THAT(report.problem, Contains("seq 3 where 2 was expected"));
  }
  SECTION("at the start") {
    lines.erase(lines.begin());
    spit(path, join(lines));
    const auto report = verify(path);
    CHECK_FALSE(report.ok);
    CHECK(report.bad_line == 1);
  }
  SECTION("with the later seq numbers rewritten") {
    lines.erase(lines.begin() + 1);
    for (std::size_t i = 1; i < lines.size(); ++i) lines[i].replace(0, 9, "{\"seq\":" + std::to_string(i + 1) + ",");
    spit(path, join(lines));
    const auto report = verify(path);
    CHECK_FALSE(report.ok);
    CHECK(report.bad_line == 2);
    CHECK_THAT(report.problem, Contains("hash does not match"));
  }
}

TEST_CASE("reordered lines are found", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 4);
  auto lines = lines_of(slurp(path));
  std::swap(lines[1], lines[2]);
  spit(path, join(lines));
  const auto report = verify(path);
  CHECK_FALSE(report.ok);
  CHECK(report.bad_line == 2);
  CHECK_THAT(report.problem, Contains("seq 3 where 2 was expected"));
}

TEST_CASE("an inserted copy of a line is found", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 3);
  auto lines = lines_of(slurp(path));
  lines.insert(lines.begin() + 2, lines[1]);
  spit(path, join(lines));
  const auto report = verify(path);
  CHECK_FALSE(report.ok);
  CHECK(report.bad_line == 3);
}

TEST_CASE("a torn last line fails until a writer recovers it", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 3);
  std::string text = slurp(path);
  const auto lines = lines_of(text);
  // A crash in the middle of writing record 4: half a line, no newline.
  const std::string torn = lines[2].substr(0, 40);
  spit(path, text + torn);

  auto report = verify(path);
  CHECK_FALSE(report.ok);
  CHECK(report.bad_line == 4);
  CHECK(report.records == 3);
  CHECK_THAT(report.problem, Contains("last line has no newline"));

  SECTION("the next append recovers it") {
    write_log(path, 1);
    const auto after = lines_of(slurp(path));
    REQUIRE(after.size() == 6);
    CHECK(after[3] == torn);
    CHECK_THAT(after[4], StartsWith("{\"seq\":4,"));
    CHECK_THAT(after[4], Contains("\"action\":\"audit.recover\""));
    CHECK_THAT(after[5], StartsWith("{\"seq\":5,"));
    report = verify(path);
    CHECK(report.ok);
    CHECK(report.records == 5);
    CHECK(report.recovered_lines == std::vector<std::size_t>{4});
  }
  SECTION("a writer that already knew the file still notices") {
    const FixedClock clock = fixed_clock();
    auto log = audit::AuditLog::open(path, clock);
    REQUIRE(log);
    REQUIRE(log->append(event(4)));               // recovers the torn line
    spit(path, slurp(path) + "{\"seq\":7,\"ti");  // another crash
    REQUIRE(log->append(event(5)));
    report = verify(path);
    CHECK(report.ok);
    CHECK(report.recovered_lines.size() == 2);
    CHECK(report.records == 7);
  }
  SECTION("an edited torn line is found") {
    write_log(path, 1);
    auto after = lines_of(slurp(path));
    after[3][10] = after[3][10] == 'x' ? 'y' : 'x';
    spit(path, join(after));
    report = verify(path);
    CHECK_FALSE(report.ok);
    CHECK(report.bad_line == 4);
  }
}

TEST_CASE("a whole file that is one torn line is recovered", "[audit]") {
  TempDir dir;
  const std::string path = dir.file("audit.jsonl", std::string("{\"seq\":1,\0\0\0", 12));
  write_log(path, 2);
  const auto report = verify(path);
  CHECK(report.ok);
  CHECK(report.records == 3);
  CHECK(report.recovered_lines == std::vector<std::size_t>{1});
}

TEST_CASE("a last record without its newline is reported", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 2);
  std::string text = slurp(path);
  text.pop_back();
  spit(path, text);
  auto report = verify(path);
  CHECK_FALSE(report.ok);
  CHECK(report.bad_line == 2);
  write_log(path, 1);
  report = verify(path);
  CHECK(report.ok);
  CHECK(report.recovered_lines == std::vector<std::size_t>{2});
}

TEST_CASE("two writers on one file keep one chain", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  const FixedClock clock = fixed_clock();
  auto server = audit::AuditLog::open(path, clock, audit::SyncPolicy::on_request);
  auto cron = audit::AuditLog::open(path, clock);
  REQUIRE(server);
  REQUIRE(cron);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(server->append(event(i)));
    if (i % 3 == 0) REQUIRE(cron->append(event(100 + i)));
  }
  REQUIRE(server->sync());
  auto report = verify(path);
  CHECK(report.ok);
  CHECK(report.records == 14);

  SECTION("and from threads at once") {
    // Catch2 assertions are not thread-safe: count failures instead.
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (auto* log : {&*server, &*cron}) {
      threads.emplace_back([log, &failures] {
        for (int i = 0; i < 50; ++i)
          if (!log->append(event(i))) ++failures;
      });
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
    report = verify(path);
    CHECK(report.ok);
    CHECK(report.records == 114);
  }
}

TEST_CASE("a rotated log is continued in a new file", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  const FixedClock clock = fixed_clock();
  auto log = audit::AuditLog::open(path, clock, audit::SyncPolicy::on_request);
  REQUIRE(log);
  REQUIRE(log->append(event(1)));
  REQUIRE(log->append(event(2)));
  REQUIRE(std::rename(path.c_str(), (path + ".1").c_str()) == 0);
  REQUIRE(log->append(event(3)));
  REQUIRE(log->sync());
  CHECK(verify(path + ".1").records == 2);
  const auto report = verify(path);
  CHECK(report.ok);
  CHECK(report.records == 1);
  CHECK_THAT(slurp(path), StartsWith("{\"seq\":1,"));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
}

TEST_CASE("a new log has mode 0600 and an existing one keeps its mode", "[audit]") {
  TempDir dir;
  const mode_t old = ::umask(0);
  const std::string path = dir / "audit.jsonl";
  write_log(path, 1);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  write_log(path, 1);
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  ::umask(old);
}

TEST_CASE("opening a log fails cleanly", "[audit]") {
  TempDir dir;
  const FixedClock clock = fixed_clock();
  SECTION("missing parent directory") {
    auto log = audit::AuditLog::open(dir / "no-such-dir/audit.jsonl", clock);
    REQUIRE_FALSE(log);
    CHECK(log.error().category() == ErrorCategory::cannot_create);
    CHECK_THAT(log.error().message(),
               Contains("no-such-dir/audit.jsonl': cannot create audit log: no such file or directory"));
  }
  SECTION("a directory") {
    auto log = audit::AuditLog::open(dir.path(), clock);
    REQUIRE_FALSE(log);
    CHECK(log.error().category() == ErrorCategory::cannot_create);
  }
}

TEST_CASE("verifying a missing or malformed file", "[audit]") {
  TempDir dir;
  SECTION("missing") {
    auto report = audit::verify_log(dir / "none.jsonl");
    REQUIRE_FALSE(report);
    CHECK(report.error().category() == ErrorCategory::no_input);
  }
  SECTION("not a log") {
    auto report = audit::verify_log(dir.file("x.jsonl", "{\"type\":\"bundle\"}\n"));
    REQUIRE(report);
    CHECK_FALSE(report->ok);
    CHECK(report->bad_line == 1);
    CHECK_THAT(report->problem, Contains("not an audit record"));
  }
  SECTION("an empty line") {
    const std::string path = dir / "audit.jsonl";
    write_log(path, 2);
    auto lines = lines_of(slurp(path));
    spit(path, lines[0] + "\n\n" + lines[1] + "\n");
    auto report = audit::verify_log(path);
    REQUIRE(report);
    CHECK(report->bad_line == 2);
    CHECK(report->problem == "empty line");
  }
}

TEST_CASE("the default log location follows CLI.md", "[audit]") {
  Config config;
  config.state_dir = "/var/lib/ctishare";
  ::unsetenv("CTISHARE_AUDIT_LOG");
  CHECK(audit::default_log_path(config) == "/var/lib/ctishare/audit.jsonl");
  config.audit_log = "/var/log/ctishare/audit.jsonl";
  CHECK(audit::default_log_path(config) == "/var/log/ctishare/audit.jsonl");
  ::setenv("CTISHARE_AUDIT_LOG", "/tmp/a.jsonl", 1);
  CHECK(audit::default_log_path(config) == "/tmp/a.jsonl");
  ::unsetenv("CTISHARE_AUDIT_LOG");
}

// ---------------------------------------------------------------- ids digest

TEST_CASE("the ids digest is a sorted, order-independent SHA-256", "[audit]") {
  CHECK(audit::ids_digest({}).empty());
  const std::string a = "indicator--0b4f5e4e-5c9e-4b2e-8b8e-0e5c8f1a2b3c";
  const std::string b = "malware--7d3f9e1a-2b4c-4d5e-8f6a-1b2c3d4e5f60";
  const std::string digest = audit::ids_digest({{b, "2026-03-01T00:00:00.000Z"}, {a, "2026-02-01T00:00:00.000Z"}});
  // The documented construction: sorted "id|version\n" lines.
  CHECK(digest ==
        "sha256:" + hex(detail::sha256(a + "|2026-02-01T00:00:00.000Z\n" + b + "|2026-03-01T00:00:00.000Z\n")));
  CHECK(digest.size() == 7 + 64);
  CHECK(audit::ids_digest({{a, "2026-02-01T00:00:00.000Z"}, {b, "2026-03-01T00:00:00.000Z"}}) == digest);
  // Another version of the same object, or another set, is another digest.
  CHECK(audit::ids_digest({{a, "2026-02-01T00:00:00.001Z"}, {b, "2026-03-01T00:00:00.000Z"}}) != digest);
  CHECK(audit::ids_digest({{a, "2026-02-01T00:00:00.000Z"}}) != digest);
  // Sorting is by id first, then version.
  CHECK(audit::ids_digest({{a, "2"}, {a, "1"}}) == "sha256:" + hex(detail::sha256(a + "|1\n" + a + "|2\n")));
  CHECK(audit::ids_digest({{a, ""}}) == "sha256:" + hex(detail::sha256(a + "|\n")));
  // Of views (taxii-pull's many objects): the same digest.
  CHECK(audit::ids_digest_views({{b, "2026-03-01T00:00:00.000Z"}, {a, "2026-02-01T00:00:00.000Z"}}) == digest);
  CHECK(audit::ids_digest_views({}).empty());
}

// The documented digest, by std::sort of the pairs.
static std::string reference_ids_digest(std::vector<std::pair<std::string, std::string>> pairs) {
  std::sort(pairs.begin(), pairs.end());
  std::string text;
  for (const auto& [id, version] : pairs) text += id + "|" + version + "\n";
  return "sha256:" + hex(detail::sha256(text));
}

TEST_CASE("the ids digest sorts large sets exactly as a sort of the pairs would", "[audit]") {
  // Thousands of pairs, so the digest's own sort goes eight bytes at a time
  // through every case it has: ids of several types (shared prefixes of
  // several lengths), ids that are prefixes of others, bytes from 0x80
  // (unsigned order), NUL bytes and the zeros a short id is padded with,
  // one id in many versions, and ids identical to the last byte.
  std::uint64_t state = 0x2545F4914F6CDD1DULL;
  const auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const std::vector<std::string> types = {"indicator--", "relationship--", "relation", "attack-pattern--", "x", ""};
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < 6000; ++i) {
    std::string id = types[next() % types.size()];
    const std::size_t length = next() % 4 == 0 ? next() % 20 : 36;
    for (std::size_t k = 0; k < length; ++k) {
      const std::uint64_t r = next() % 64;
      id += r == 0 ? '\0' : r == 1 ? '\xC3' : static_cast<char>("0123456789abcdef"[r % 16]);
    }
    if (next() % 8 == 0 && !pairs.empty()) id = pairs[next() % pairs.size()].first;         // another version
    if (next() % 16 == 0 && !pairs.empty()) id = pairs[next() % pairs.size()].first + "0";  // a longer twin
    pairs.emplace_back(id, std::to_string(next() % 5));
  }
  for (int i = 0; i < 40; ++i) pairs.emplace_back("indicator--00000000", std::to_string(i));
  for (int i = 0; i < 40; ++i) pairs.emplace_back(std::string("indicator--00000000\0", 20), std::to_string(i));
  const std::string expected = reference_ids_digest(pairs);
  CHECK(audit::ids_digest(pairs) == expected);
  std::reverse(pairs.begin(), pairs.end());
  CHECK(audit::ids_digest(pairs) == expected);
  // A set of one id's versions only, and a set of one pair repeated.
  std::vector<std::pair<std::string, std::string>> versions;
  for (int i = 0; i < 100; ++i) versions.emplace_back("indicator--x", std::to_string(99 - i));
  CHECK(audit::ids_digest(versions) == reference_ids_digest(versions));
  CHECK(audit::ids_digest(std::vector<std::pair<std::string, std::string>>(50, {"a", "b"})) ==
        reference_ids_digest(std::vector<std::pair<std::string, std::string>>(50, {"a", "b"})));
}

TEST_CASE("the ids member round-trips between detail and prev", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  const FixedClock clock = fixed_clock();
  auto log = audit::AuditLog::open(path, clock);
  REQUIRE(log);
  audit::Event e = event(2);
  e.ids = audit::ids_digest({{"indicator--a", "1"}, {"indicator--b", "1"}});
  REQUIRE(log->append(e));
  REQUIRE(log->append(event(3)));
  const auto lines = lines_of(slurp(path));
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], Contains("\"detail\":\"request 2\",\"ids\":\"" + e.ids + "\",\"prev\":\""));
  CHECK_THAT(lines[1], Contains("\"detail\":\"request 3\",\"ids\":\"\",\"prev\":\""));
  auto doc = json::parse(lines[0]);
  REQUIRE(doc);
  CHECK(*doc->find_string("ids") == e.ids);
  CHECK(verify(path).ok);
}

TEST_CASE("a record without a string ids member is not an audit record", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 2);
  auto lines = lines_of(slurp(path));
  SECTION("missing, as in the format before it") {
    const auto at = lines[1].find(",\"ids\":\"\"");
    REQUIRE(at != std::string::npos);
    lines[1] = rehash(lines[1].erase(at, 9));
  }
  SECTION("a number") { lines[1] = rehash(lines[1].replace(lines[1].find("\"ids\":\"\""), 8, "\"ids\":0")); }
  SECTION("after prev") {
    const auto at = lines[1].find(",\"ids\":\"\"");
    lines[1].erase(at, 9);
    lines[1].insert(lines[1].find(",\"hash\":"), ",\"ids\":\"\"");
    lines[1] = rehash(lines[1]);
  }
  spit(path, join(lines));
  const auto report = verify(path, audit::VerifyOptions{.checkpoint = "", .no_checkpoint = true});
  CHECK_FALSE(report.ok);
  CHECK(report.bad_line == 2);
  CHECK_THAT(report.problem, StartsWith("not an audit record: member"));
}

// ---------------------------------------------------------------- checkpoint

TEST_CASE("every_record appends keep the checkpoint at the last record", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  const FixedClock clock = fixed_clock();
  auto log = audit::AuditLog::open(path, clock);
  REQUIRE(log);
  CHECK(read_checkpoint(path).seq == 0);  // none before the first record
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(log->append(event(i)));
    const auto lines = lines_of(slurp(path));
    const auto cp = read_checkpoint(path);
    CHECK(cp.seq == i);
    CHECK(cp.hash == hash_member(lines.back()));
    CHECK(cp.time == "2026-03-01T12:00:00.123000Z");
  }
  struct stat st {};
  REQUIRE(::stat((path + ".checkpoint").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  // No temporary file is left behind.
  CHECK(files_in(dir.path()) == std::vector<std::string>{"audit.jsonl", "audit.jsonl.checkpoint"});
  const auto report = verify(path);
  CHECK(report.ok);
  CHECK(report.checkpoint_used == path + ".checkpoint");
  CHECK(report.checkpoint_seq == 3);
}

TEST_CASE("lines removed from the end are found through the checkpoint", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 5);
  auto lines = lines_of(slurp(path));
  SECTION("two records") {
    lines.resize(3);
    spit(path, join(lines));
    auto report = verify(path);
    CHECK_FALSE(report.ok);
    CHECK(report.records == 3);
    CHECK(report.bad_line == 4);
    CHECK(report.problem == "the log ends at record 3 but its checkpoint names record 5 (truncated?)");
    CHECK(report.checkpoint_used == path + ".checkpoint");
    // The chain alone cannot tell.
    report = verify(path, audit::VerifyOptions{.checkpoint = "", .no_checkpoint = true});
    CHECK(report.ok);
    CHECK(report.records == 3);
    CHECK(report.checkpoint_used.empty());
  }
  SECTION("every record") {
    spit(path, "");
    const auto report = verify(path);
    CHECK_FALSE(report.ok);
    CHECK(report.bad_line == 1);
    CHECK(report.problem == "the log ends at record 0 but its checkpoint names record 5 (truncated?)");
  }
  SECTION("then appended to by a writer that did not know") {
    // A copy of the checkpoint kept elsewhere still names the lost record 5.
    const std::string copy = dir.file("copy.checkpoint", slurp(path + ".checkpoint"));
    lines.resize(3);
    spit(path, join(lines));
    write_log(path, 1);  // record 4 again, and a new checkpoint beside the log
    CHECK(verify(path).ok);
    const auto report = verify(path, audit::VerifyOptions{.checkpoint = copy, .no_checkpoint = false});
    CHECK_FALSE(report.ok);
    CHECK(report.bad_line == 5);
    CHECK(report.problem == "the log ends at record 4 but its checkpoint names record 5 (truncated?)");
    CHECK(report.checkpoint_used == copy);
  }
}

TEST_CASE("a rewritten chain is found through the checkpoint", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 4);
  auto lines = lines_of(slurp(path));
  // The forger edits record 3 and recomputes the hashes of 3 and 4.
  lines[2].replace(lines[2].find("bank-a"), 6, "bank-b");
  lines[2] = rehash(lines[2]);
  lines[3].replace(lines[3].find(",\"prev\":\"") + 9, 64, hex(detail::sha256(lines[2])));
  lines[3] = rehash(lines[3]);
  spit(path, join(lines));
  CHECK(verify(path, audit::VerifyOptions{.checkpoint = "", .no_checkpoint = true}).ok);
  const auto report = verify(path);
  CHECK_FALSE(report.ok);
  CHECK(report.bad_line == 4);
  CHECK(report.records == 3);
  CHECK(report.problem == "record 4 does not match the checkpoint (rewritten?)");
}

TEST_CASE("a checkpoint behind the log is fine", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 3);
  const std::string old = slurp(path + ".checkpoint");
  write_log(path, 2);
  CHECK(read_checkpoint(path).seq == 5);
  spit(path + ".checkpoint", old);
  auto report = verify(path);
  CHECK(report.ok);
  CHECK(report.records == 5);
  CHECK(report.checkpoint_seq == 3);
  // The same through an explicit file, which replaces the log's own.
  const std::string copy = dir.file("elsewhere.checkpoint", old);
  spit(path + ".checkpoint", "garbage\n");
  report = verify(path, audit::VerifyOptions{.checkpoint = copy, .no_checkpoint = false});
  CHECK(report.ok);
  CHECK(report.checkpoint_used == copy);
  CHECK(report.checkpoint_seq == 3);
}

TEST_CASE("on_request checkpoints are written at most once a second", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  ManualClock clock;
  {
    auto log = audit::AuditLog::open(path, clock, audit::SyncPolicy::on_request);
    REQUIRE(log);
    // The first record of a new file is synced and checkpointed at once.
    REQUIRE(log->append(event(1)));
    CHECK(read_checkpoint(path).seq == 1);
    // Later ones wait for sync(), and sync() for a second to pass.
    REQUIRE(log->append(event(2)));
    CHECK(read_checkpoint(path).seq == 1);
    clock.advance_millis(500);
    REQUIRE(log->sync());
    CHECK(read_checkpoint(path).seq == 1);
    REQUIRE(log->append(event(3)));
    clock.advance_millis(499);
    REQUIRE(log->sync());
    CHECK(read_checkpoint(path).seq == 1);
    clock.advance_millis(1);
    // Nothing left to sync, but the checkpoint is behind: written now.
    REQUIRE(log->sync());
    auto cp = read_checkpoint(path);
    CHECK(cp.seq == 3);
    CHECK(cp.hash == hash_member(lines_of(slurp(path))[2]));
    CHECK(cp.time == "2026-03-01T12:00:01.000000Z");
    REQUIRE(log->append(event(4)));
    REQUIRE(log->sync());
    CHECK(read_checkpoint(path).seq == 3);
    // A clock that went backwards does not stop checkpoints.
    clock.advance_millis(-5000);
    REQUIRE(log->sync());
    CHECK(read_checkpoint(path).seq == 4);
    REQUIRE(log->append(event(5)));
    REQUIRE(log->sync());
    CHECK(read_checkpoint(path).seq == 4);
  }
  // Closing the log checkpoints its last record.
  const auto cp = read_checkpoint(path);
  CHECK(cp.seq == 5);
  CHECK(cp.hash == hash_member(lines_of(slurp(path))[4]));
  CHECK(verify(path).ok);
}

TEST_CASE("after rotation the checkpoint describes the new file", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  ManualClock clock;
  auto server = audit::AuditLog::open(path, clock, audit::SyncPolicy::on_request);
  REQUIRE(server);
  REQUIRE(server->append(event(1)));
  REQUIRE(server->append(event(2)));
  clock.advance_millis(2000);
  REQUIRE(server->sync());
  CHECK(read_checkpoint(path).seq == 2);

  SECTION("started by the same writer") {
    REQUIRE(std::rename(path.c_str(), (path + ".1").c_str()) == 0);
    REQUIRE(server->append(event(3)));  // seq 1 of the new file, checkpointed at once
    const auto cp = read_checkpoint(path);
    CHECK(cp.seq == 1);
    CHECK(cp.hash == hash_member(lines_of(slurp(path))[0]));
  }
  SECTION("started by another writer while this one holds the old file") {
    REQUIRE(server->append(event(3)));  // seq 3 of the old file, not yet synced
    REQUIRE(std::rename(path.c_str(), (path + ".1").c_str()) == 0);
    {
      auto cron = audit::AuditLog::open(path, clock);
      REQUIRE(cron);
      REQUIRE(cron->append(event(100)));
    }
    CHECK(read_checkpoint(path).seq == 1);
    // Neither the server's sync nor its closing may describe the old file
    // in the new file's checkpoint.
    clock.advance_millis(2000);
    REQUIRE(server->sync());
    CHECK(read_checkpoint(path).seq == 1);
    server = audit::AuditLog::open(dir / "other.jsonl", clock);  // closes the old writer
    REQUIRE(server);
    const auto cp = read_checkpoint(path);
    CHECK(cp.seq == 1);
    CHECK(cp.hash == hash_member(lines_of(slurp(path))[0]));
    CHECK(verify(path + ".1").records == 3);
  }
  const auto report = verify(path);
  CHECK(report.ok);
  CHECK(report.checkpoint_seq == 1);
  // The rotated file has no checkpoint of its own.
  CHECK(verify(path + ".1").checkpoint_used.empty());
}

TEST_CASE("a checkpoint that cannot be written fails the append, not the record", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 1);
  REQUIRE(::unlink((path + ".checkpoint").c_str()) == 0);
  REQUIRE(::mkdir((path + ".checkpoint").c_str(), 0700) == 0);
  const FixedClock clock = fixed_clock();
  auto log = audit::AuditLog::open(path, clock);
  REQUIRE(log);
  auto s = log->append(event(2));
  REQUIRE_FALSE(s);
  CHECK(s.error().category() == ErrorCategory::io);
  CHECK_THAT(s.error().message(), Contains("audit.jsonl.checkpoint': cannot write audit checkpoint"));
  const auto report = verify(path, audit::VerifyOptions{.checkpoint = "", .no_checkpoint = true});
  CHECK(report.ok);
  CHECK(report.records == 2);
  CHECK(files_in(dir.path()) == std::vector<std::string>{"audit.jsonl", "audit.jsonl.checkpoint"});
}

TEST_CASE("a checkpoint file that is not one is a data error", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 2);
  const std::string cp = path + ".checkpoint";
  const std::string hash = read_checkpoint(path).hash;
  std::string text;
  std::string why;
  SECTION("not JSON") { text = "seq=2\n", why = "not an audit checkpoint: "; }
  SECTION("a missing member") { text = "{\"seq\":2,\"hash\":\"" + hash + "\"}\n", why = "expected {"; }
  SECTION("an extra member") {
    text = "{\"seq\":2,\"hash\":\"" + hash + "\",\"time\":\"2026-03-01T12:00:00Z\",\"x\":1}\n", why = "expected {";
  }
  SECTION("seq 0") {
    text = "{\"seq\":0,\"hash\":\"" + hash + "\",\"time\":\"2026-03-01T12:00:00Z\"}\n";
    why = "seq is not a positive integer";
  }
  SECTION("seq a string") {
    text = "{\"seq\":\"2\",\"hash\":\"" + hash + "\",\"time\":\"2026-03-01T12:00:00Z\"}\n";
    why = "seq is not a positive integer";
  }
  SECTION("a short hash") {
    text = "{\"seq\":2,\"hash\":\"" + hash.substr(1) + "\",\"time\":\"2026-03-01T12:00:00Z\"}\n";
    why = "hash is not a SHA-256 in hex";
  }
  SECTION("a bad time") {
    text = "{\"seq\":2,\"hash\":\"" + hash + "\",\"time\":\"yesterday\"}\n", why = "time is not an RFC 3339";
  }
  SECTION("two lines") {
    const std::string one = "{\"seq\":2,\"hash\":\"" + hash + "\",\"time\":\"2026-03-01T12:00:00Z\"}\n";
    text = one + one, why = "more than one line";
  }
  SECTION("huge") { text = std::string(100000, ' '), why = "longer than 4096 bytes"; }
  SECTION("empty") { text = "", why = "not an audit checkpoint: "; }
  spit(cp, text);
  auto report = audit::verify_log(path);
  REQUIRE_FALSE(report);
  CHECK(report.error().category() == ErrorCategory::data);
  CHECK_THAT(report.error().message(), StartsWith("'" + cp + "': not an audit checkpoint: "));
  CHECK_THAT(report.error().message(), Contains(why));
  // --no-checkpoint still checks the chain.
  CHECK(verify(path, audit::VerifyOptions{.checkpoint = "", .no_checkpoint = true}).ok);
}

TEST_CASE("a named checkpoint must exist", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 1);
  auto report = audit::verify_log(path, audit::VerifyOptions{.checkpoint = dir / "none", .no_checkpoint = false});
  REQUIRE_FALSE(report);
  CHECK(report.error().category() == ErrorCategory::no_input);
  CHECK_THAT(report.error().message(), Contains("none'"));
  // A log without a checkpoint of its own is checked by its chain alone.
  REQUIRE(::unlink((path + ".checkpoint").c_str()) == 0);
  const auto plain = verify(path);
  CHECK(plain.ok);
  CHECK(plain.checkpoint_used.empty());
  CHECK(plain.checkpoint_seq == 0);
}
