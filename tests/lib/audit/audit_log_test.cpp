// Tests of ctishare/audit.h: the hash-chained audit log's writer and
// verifier, including the edits, deletions, reorderings and torn writes the
// chain exists to reveal, and two writers sharing one file.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
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

}  // namespace

TEST_CASE("records round-trip and verify", "[audit]") {
  TempDir dir;
  const std::string path = dir / "audit.jsonl";
  write_log(path, 3);
  const auto lines = lines_of(slurp(path));
  REQUIRE(lines.size() == 3);
  CHECK_THAT(
      lines[0],
      StartsWith("{\"seq\":1,\"time\":\"2026-03-01T12:00:00.123000Z\",\"tool\":\"taxii-serve\","
                 "\"actor\":\"bank-a\",\"action\":\"objects.add\",\"target\":\"https://taxii.example/api1/\","
                 "\"collection\":\"91a7b528-80eb-42ed-a74d-c6fbd5a26116\",\"objects\":1,\"result\":\"202\","
                 "\"remote\":\"192.0.2.7\",\"detail\":\"request "
                 "1\",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"hash\":\""));
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
