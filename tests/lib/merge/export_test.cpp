// The exporters: CSV cells (quoting, formula neutralising), threat_master.csv
// and removed.csv, which rows may reach a blocklist, and the exact text of
// every blocklist format.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <string>

#include "ctishare/allowlist.h"
#include "ctishare/merge.h"

using namespace ctishare;
using namespace ctishare::merge;

namespace {

using stix::ObservableType;

Timestamp at(const char* text) { return *Timestamp::parse(text); }

Row row(ObservableType type, std::string value, trust::Action action = trust::Action::block,
        RowStatus status = RowStatus::active) {
  Row r;
  r.type = type;
  r.value = std::move(value);
  r.action = action;
  r.status = status;
  return r;
}

Row domain(std::string value) { return row(ObservableType::domain, std::move(value)); }

using Writer = ctishare::Status (*)(Sink&, const std::vector<ListRow>&, const ExportOptions&);

// A blocklist writer's output for `rows` (what it reads of them).
std::string render(Writer write, const std::vector<Row>& rows, const ExportOptions& options) {
  const std::vector<ListRow> listed(rows.begin(), rows.end());
  StringSink sink;
  const ctishare::Status status = write(sink, listed, options);
  REQUIRE(status);
  return sink.text();
}

std::string render_master(const std::vector<Row>& rows, const ExportOptions& options) {
  StringSink sink;
  const ctishare::Status status = write_master_csv(sink, rows, options);
  REQUIRE(status);
  return sink.text();
}

// The records of a CSV text (RFC 4180: line breaks inside quotes do not end one).
std::size_t csv_records(std::string_view text) {
  std::size_t records = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    if (c == '\n' && !quoted) ++records;
  }
  return records;
}

// A sink that fails on every write, like a full disk.
class FailingSink final : public Sink {
 public:
  ctishare::Status write(std::string_view) override {
    return Error(ErrorCategory::io, "'out': No space left on device");
  }
};

// A mix of what the store holds: only evil.example, its subdomain, the URL
// and the two addresses may reach a blocklist.
struct Fixture {
  trust::Allowlist allowlist;
  ExportOptions options;
  std::vector<Row> rows;

  Fixture() {
    auto a = trust::Allowlist::parse(
        "type,value,reason,expires\n"
        "domain,bank.example,our own sites,\n"
        "cidr,192.0.2.0/24,our range,\n",
        "allow.csv");
    REQUIRE(a);
    allowlist = std::move(*a);
    options.allowlist = &allowlist;
    options.now = at("2026-11-30T00:00:00Z");
    options.rpz_serial = 2026113001;
    options.rpz_ttl = 60;
    rows = {
        domain("evil.example"),
        row(ObservableType::domain, "review.example", trust::Action::review),
        row(ObservableType::domain, "revoked.example", trust::Action::block, RowStatus::revoked),
        domain("www.bank.example"),  // block, active, but allowlisted again here
        domain("login.evil.example"),
        row(ObservableType::url, "https://shared.example/phish/login"),
        row(ObservableType::ipv4, "198.51.100.7"),
        row(ObservableType::ipv4, "192.0.2.5"),  // allowlisted range
        row(ObservableType::ipv6, "2001:db8:1::/48"),
        row(ObservableType::domain, "observe.example", trust::Action::observe),
    };
  }
};

const std::vector<std::string> kHostile = {
    "evil.example\n@ NS attacker.", "co.uk", "a;b.example", "Evil.Example", "evil.example.", "bad example"};

}  // namespace

TEST_CASE("format_number: at most two decimals, rounded as printf rounds, no trailing zeros", "[merge][export]") {
  CHECK(format_number(70) == "70");
  CHECK(format_number(62.5) == "62.5");
  CHECK(format_number(0.8) == "0.8");
  CHECK(format_number(99.999) == "100");
  CHECK(format_number(0.004) == "0");
  CHECK(format_number(-0.001) == "0");  // never "-0"
  CHECK(format_number(std::nan("")) == "0");
  std::string appended = "score ";
  append_number(appended, 71.25);
  CHECK(appended == "score 71.25");
  // Every hundredth from 0 to 100, and the values halfway between, as
  // "%.2f" then trimmed would give them.
  for (int i = 0; i <= 20000; ++i) {
    const double v = i / 200.0;
    char text[64];
    std::snprintf(text, sizeof text, "%.2f", v);
    std::string want(text);
    while (want.back() == '0') want.pop_back();
    if (want.back() == '.') want.pop_back();
    INFO(v);
    REQUIRE(format_number(v) == want);
  }
}

TEST_CASE("format_number: random values, near and far from a tie, as printf gives them", "[merge][export]") {
  // The short way (a hundredfold value near a whole number) and the long
  // way (to_chars) must agree with "%.2f" everywhere, negative values too.
  std::mt19937_64 random(20261130);
  std::uniform_real_distribution<double> wide(-1e6, 1e6), unit(0.0, 1.0);
  const auto want = [](double v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.2f", v);
    std::string w(text);
    while (w.back() == '0') w.pop_back();
    if (w.back() == '.') w.pop_back();
    return w == "-0" ? std::string("0") : w;
  };
  for (int i = 0; i < 200000; ++i) {
    double v = 0;
    switch (i % 4) {
      case 0: v = wide(random); break;
      case 1: v = std::round(wide(random) * 100) / 100; break;          // a score
      case 2: v = (std::floor(wide(random)) + 0.005) + (unit(random) - 0.5) * 1e-9; break;  // next to a tie
      default: v = unit(random) * 1e13 * (unit(random) < 0.5 ? -1 : 1); break;  // past the short way
    }
    INFO(v);
    REQUIRE(format_number(v) == want(v));
  }
}

TEST_CASE("csv_cell: RFC 4180 quoting", "[merge][export]") {
  // Long cells: a quoting character at every position of the first 40.
  for (std::size_t at = 0; at < 40; ++at) {
    for (char c : {',', '"', '\r', '\n'}) {
      std::string text(40, 'x');
      text[at] = c;
      INFO(at << " " << static_cast<int>(c));
      CHECK(csv_cell(text, true).front() == '"');
    }
    CHECK(csv_cell(std::string(at, 'x'), true) == std::string(at, 'x'));
  }
  CHECK(csv_cell("plain", false) == "plain");
  CHECK(csv_cell("", false) == "");
  CHECK(csv_cell("a,b", false) == "\"a,b\"");
  CHECK(csv_cell("say \"hi\"", false) == "\"say \"\"hi\"\"\"");
  CHECK(csv_cell("two\nlines", false) == "\"two\nlines\"");
  CHECK(csv_cell("cr\rhere", false) == "\"cr\rhere\"");
  CHECK(csv_cell("it's", false) == "it's");
  CHECK(csv_cell("\"", false) == "\"\"\"\"");
  CHECK(csv_cell("\"\"", false) == "\"\"\"\"\"\"");
  CHECK(csv_cell("\"a", false) == "\"\"\"a\"");
  CHECK(csv_cell("a\"", false) == "\"a\"\"\"");
}

TEST_CASE("csv_cell agrees with RFC 4180 spelled out, on random cells", "[merge][export]") {
  // The rule one character at a time: quote a cell holding , " CR or LF,
  // double each quote; a leading = + - @ TAB CR gets an apostrophe.
  const auto reference = [](const std::string& text, bool raw) {
    const bool neutralise = !raw && !text.empty() && std::string("=+-@\t\r").find(text.front()) != std::string::npos;
    const bool quote = text.find_first_of(",\"\r\n") != std::string::npos;
    std::string out = quote ? "\"" : "";
    if (neutralise) out += '\'';
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quote ? out + "\"" : out;
  };
  std::mt19937 random(20261201);
  const std::string alphabet = "ab,\"\r\n=+ ;";
  for (int i = 0; i < 20000; ++i) {
    std::string text(random() % 40, ' ');
    for (char& c : text) c = alphabet[random() % alphabet.size()];
    INFO(text);
    for (bool raw : {false, true}) CHECK(csv_cell(text, raw) == reference(text, raw));
  }
}

TEST_CASE("csv_cell: cells a spreadsheet would run as formulas are neutralised", "[merge][export]") {
  CHECK(csv_cell("=cmd|' /C calc'!A0", false) == "'=cmd|' /C calc'!A0");
  CHECK(csv_cell("+1+1", false) == "'+1+1");
  CHECK(csv_cell("-2+3", false) == "'-2+3");
  CHECK(csv_cell("@SUM(A1)", false) == "'@SUM(A1)");
  CHECK(csv_cell("\t=1", false) == "'\t=1");
  CHECK(csv_cell("\r=1", false) == "\"'\r=1\"");  // then quoted for the CR
  CHECK(csv_cell("=HYPERLINK(\"x\",\"y\")", false) == "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
  CHECK(csv_cell("a=1", false) == "a=1");  // only the first character counts
  CHECK(csv_cell("'already", false) == "'already");
}

TEST_CASE("csv_cell: raw mode keeps the text, still quoted", "[merge][export]") {
  CHECK(csv_cell("=cmd|' /C calc'!A0", true) == "=cmd|' /C calc'!A0");
  CHECK(csv_cell("-5", true) == "-5");
  CHECK(csv_cell("=1,2", true) == "\"=1,2\"");
  CHECK(csv_cell("=1,2", false) == "\"'=1,2\"");
}

TEST_CASE("status_name: every status", "[merge][export]") {
  CHECK(status_name(RowStatus::active) == "active");
  CHECK(status_name(RowStatus::expired) == "expired");
  CHECK(status_name(RowStatus::revoked) == "revoked");
  CHECK(status_name(RowStatus::allowlisted) == "allowlisted");
  CHECK(status_name(RowStatus::suppressed) == "suppressed");
}

TEST_CASE("write_master_csv: header, every row, numbers, lists and hostile cells", "[merge][export]") {
  Row a = domain("evil.example");
  a.score = 70;
  a.producer_confidence = 62.5;
  a.sources = {"cert-tw", "misp"};
  a.source_tier = "government";
  a.first_seen = "2026-11-01T00:00:00.000Z";
  a.last_seen = "2026-11-02T00:00:00.000Z";
  a.valid_from = "2026-11-01T00:00:00Z";
  a.reason = "score 70, \"trusted\"\nsecond line";
  a.tlp = "amber";
  a.stix_ids = {"indicator--1", "indicator--2"};
  Row b = row(ObservableType::url, "https://x.example/a", trust::Action::observe, RowStatus::revoked);
  b.score = 33.333;
  b.producer_confidence = 0;
  b.reason = "=cmd|' /C calc'!A0";
  b.valid_until = "2026-12-01T00:00:00Z";

  ExportOptions options;
  const std::string header =
      "value,type,action,status,score,producer_confidence,sources,source_tier,first_seen,last_seen,valid_from,"
      "valid_until,reason,tlp,stix_ids\n";
  const std::string line_a =
      "evil.example,domain,block,active,70,62.5,cert-tw;misp,government,2026-11-01T00:00:00.000Z,"
      "2026-11-02T00:00:00.000Z,2026-11-01T00:00:00Z,,\"score 70, \"\"trusted\"\"\nsecond line\",amber,"
      "indicator--1;indicator--2\n";
  const std::string text = render_master({a, b}, options);
  CHECK(text ==
        header + line_a +
            "https://x.example/a,url,observe,revoked,33.33,0,,,,,,2026-12-01T00:00:00Z,'=cmd|' /C calc'!A0,,\n");
  CHECK(csv_records(text) == 3);  // the reason with comma, quote and newline stays one record

  options.csv_raw = true;
  CHECK(render_master({b}, options) ==
        header + "https://x.example/a,url,observe,revoked,33.33,0,,,,,,2026-12-01T00:00:00Z,=cmd|' /C calc'!A0,,\n");

  CHECK(render_master({}, options) == header);
}

TEST_CASE("write_master_csv: scores with at most two decimals, no trailing zeros", "[merge][export]") {
  const auto score_cell = [](double score) {
    Row r = domain("evil.example");
    r.score = score;
    const std::string text = render_master({r}, ExportOptions{});
    std::string line = text.substr(text.find('\n') + 1);
    for (int column = 0; column < 4; ++column) line.erase(0, line.find(',') + 1);
    return line.substr(0, line.find(','));
  };
  CHECK(score_cell(70) == "70");
  CHECK(score_cell(62.5) == "62.5");
  CHECK(score_cell(62.50001) == "62.5");
  CHECK(score_cell(0.005) == "0.01");
  CHECK(score_cell(99.999) == "100");
  CHECK(score_cell(0) == "0");
  CHECK(score_cell(100) == "100");
}

TEST_CASE("write_removed_csv: header and one record per removal", "[merge][export]") {
  Removal r;
  r.type = ObservableType::domain;
  r.value = "evil.example";
  r.removed_at = "2026-11-30T00:00:00Z";
  r.status = "revoked";
  r.reason = "revoked by producer, \"false positive\"";
  Removal gone;
  gone.type = ObservableType::ipv4;
  gone.value = "198.51.100.7";
  gone.removed_at = "2026-11-30T00:00:00Z";
  gone.reason = "@no longer named";
  ExportOptions options;
  StringSink empty;
  REQUIRE(write_removed_csv(empty, {}, options));
  CHECK(empty.text() == "value,type,removed_at,status,reason\n");
  StringSink sink;
  REQUIRE(write_removed_csv(sink, {r, gone}, options));
  CHECK(sink.text() ==
        "value,type,removed_at,status,reason\n"
        "evil.example,domain,2026-11-30T00:00:00Z,revoked,\"revoked by producer, \"\"false positive\"\"\"\n"
        "198.51.100.7,ipv4,2026-11-30T00:00:00Z,,'@no longer named\n");
  options.csv_raw = true;
  StringSink raw;
  REQUIRE(write_removed_csv(raw, {gone}, options));
  CHECK(raw.text() ==
        "value,type,removed_at,status,reason\n198.51.100.7,ipv4,2026-11-30T00:00:00Z,,@no longer named\n");
}

TEST_CASE("blockable: only block, active, canonical, not allowlisted", "[merge][export]") {
  const Fixture f;
  std::string why;
  CHECK(blockable(domain("evil.example"), f.options, &why));
  CHECK(blockable(row(ObservableType::url, "https://shared.example/phish/login"), f.options));
  CHECK(blockable(row(ObservableType::ipv6, "2001:db8:1::/48"), f.options));

  CHECK_FALSE(blockable(row(ObservableType::domain, "review.example", trust::Action::review), f.options, &why));
  CHECK(why == "action is review");
  CHECK_FALSE(
      blockable(row(ObservableType::domain, "x.example", trust::Action::block, RowStatus::revoked), f.options, &why));
  CHECK(why == "status is revoked");
  CHECK_FALSE(blockable(row(ObservableType::domain, "x.example", trust::Action::block, RowStatus::allowlisted),
                        f.options, &why));
  CHECK(why == "status is allowlisted");
  CHECK_FALSE(blockable(domain("www.bank.example"), f.options, &why));
  CHECK(why.find("allowlisted") != std::string::npos);
  CHECK(why.find("our own sites") != std::string::npos);
  CHECK_FALSE(blockable(row(ObservableType::ipv4, "192.0.2.5"), f.options, &why));
  CHECK(why.find("our range") != std::string::npos);

  CHECK_FALSE(blockable(domain("co.uk"), f.options, &why));
  CHECK(why.find("public suffix") != std::string::npos);
  CHECK_FALSE(blockable(domain("evil.example\n@ NS attacker."), f.options, &why));
  CHECK(why.find('\n') == std::string::npos);
  CHECK_FALSE(blockable(domain("a;b.example"), f.options, &why));
  CHECK_FALSE(blockable(domain("Evil.Example"), f.options, &why));
  CHECK(why.find("canonical") != std::string::npos);
  CHECK_FALSE(blockable(domain("evil.example."), f.options, &why));
  CHECK_FALSE(blockable(row(ObservableType::domain, "https://evil.example/"), f.options, &why));  // wrong type
  CHECK_FALSE(blockable(row(ObservableType::ipv4, "0.0.0.0/0"), f.options, &why));                // too wide

  // Without an allowlist nothing is vetoed; an expired entry no longer vetoes.
  ExportOptions open = f.options;
  open.allowlist = nullptr;
  CHECK(blockable(domain("www.bank.example"), open));
  auto expiring =
      trust::Allowlist::parse("type,value,reason,expires\ndomain,bank.example,x,2026-11-01T00:00:00Z\n", "a");
  REQUIRE(expiring);
  open.allowlist = &*expiring;
  CHECK(blockable(domain("www.bank.example"), open));
  open.now = at("2026-10-01T00:00:00Z");
  CHECK_FALSE(blockable(domain("www.bank.example"), open));
}

TEST_CASE("write_domain_list and write_hosts: blockable domains only, in order", "[merge][export]") {
  const Fixture f;
  CHECK(render(write_domain_list, f.rows, f.options) == "evil.example\nlogin.evil.example\n");
  CHECK(render(write_hosts, f.rows, f.options) == "0.0.0.0 evil.example\n0.0.0.0 login.evil.example\n");
  CHECK(render(write_domain_list, {}, f.options).empty());
}

TEST_CASE("write_rpz: SOA with serial and TTL, two records per domain, children of listed parents left out",
          "[merge][export]") {
  Fixture f;
  f.rows.push_back(domain("notevil.example"));  // a suffix in text, not at a label boundary: kept
  f.rows.push_back(domain("a.b.c.evil.example"));
  CHECK(render(write_rpz, f.rows, f.options) ==
        "$TTL 60\n"
        "$ORIGIN rpz.ctishare.local.\n"
        "@ SOA localhost. hostmaster.localhost. 2026113001 3600 600 604800 60\n"
        "@ NS localhost.\n"
        "evil.example CNAME .\n"
        "*.evil.example CNAME .\n"
        "notevil.example CNAME .\n"
        "*.notevil.example CNAME .\n");

  // The child alone is listed when its parent is not blockable.
  ExportOptions o = f.options;
  o.rpz_origin = "rpz.bank.example.";  // a trailing dot is accepted
  o.rpz_ttl = 300;
  o.rpz_serial = 7;
  const std::vector<Row> rows = {row(ObservableType::domain, "evil.example", trust::Action::review),
                                 domain("login.evil.example")};
  CHECK(render(write_rpz, rows, o) ==
        "$TTL 300\n"
        "$ORIGIN rpz.bank.example.\n"
        "@ SOA localhost. hostmaster.localhost. 7 3600 600 604800 300\n"
        "@ NS localhost.\n"
        "login.evil.example CNAME .\n"
        "*.login.evil.example CNAME .\n");

  // An empty zone is still a valid zone.
  CHECK(render(write_rpz, {}, o) ==
        "$TTL 300\n$ORIGIN rpz.bank.example.\n@ SOA localhost. hostmaster.localhost. 7 3600 600 604800 300\n"
        "@ NS localhost.\n");

  // An origin that would inject records is refused.
  o.rpz_origin = "rpz.example.\n@ NS attacker.";
  StringSink sink;
  auto status = write_rpz(sink, std::vector<ListRow>(rows.begin(), rows.end()), o);
  REQUIRE_FALSE(status);
  CHECK(status.error().category() == ErrorCategory::usage);
  CHECK(sink.text().empty());
}

TEST_CASE("write_unbound: one always_nxdomain local zone per domain, children of listed parents left out",
          "[merge][export]") {
  Fixture f;
  f.rows.push_back(domain("evil.example"));  // a duplicate is written once
  CHECK(render(write_unbound, f.rows, f.options) ==
        "server:\n"
        "    local-zone: \"evil.example.\" always_nxdomain\n");
  CHECK(render(write_unbound, {}, f.options) == "server:\n");
}

TEST_CASE("write_unbound: thousands of domains, nested and not, as a walk over their parents finds them",
          "[merge][export]") {
  // Parents, children and grandchildren of them, and look-alikes that are
  // not children ("xsite3.example" beside "site3.example").
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i) {
    const std::string site = "site" + std::to_string(i) + ".example";
    if (i % 3 != 1) names.push_back(site);
    if (i % 2 == 0) names.push_back("login." + site);
    if (i % 5 == 0) names.push_back("a.b." + site);
    if (i % 7 == 0) names.push_back("x" + site);
  }
  std::sort(names.begin(), names.end());
  std::vector<Row> rows;
  for (const auto& n : names) rows.push_back(domain(n));
  const std::set<std::string> listed(names.begin(), names.end());
  std::string expected = "server:\n";
  for (const auto& n : names) {
    bool covered = false;
    for (auto dot = n.find('.'); dot != std::string::npos && !covered; dot = n.find('.', dot + 1))
      covered = listed.count(n.substr(dot + 1)) != 0;
    if (!covered) expected += "    local-zone: \"" + n + ".\" always_nxdomain\n";
  }
  ExportOptions options;
  options.now = at("2026-11-30T00:00:00Z");
  const std::string text = render(write_unbound, rows, options);
  CHECK(text == expected);
  CHECK(text.find("\"login.site0.example.\"") == std::string::npos);  // under a listed parent
  CHECK(text.find("\"login.site4.example.\"") != std::string::npos);  // its parent is not listed
  CHECK(text.find("\"xsite0.example.\"") != std::string::npos);       // not a child of site0.example
}

TEST_CASE("write_suricata_dataset: base64 of each blockable domain", "[merge][export]") {
  const Fixture f;
  // "evil.example" is 12 bytes (no padding); "login.evil.example" 18 (none); "ab.example" 10 (padded).
  CHECK(render(write_suricata_dataset, f.rows, f.options) == "ZXZpbC5leGFtcGxl\nbG9naW4uZXZpbC5leGFtcGxl\n");
  CHECK(render(write_suricata_dataset, {domain("ab.example")}, f.options) == "YWIuZXhhbXBsZQ==\n");
}

TEST_CASE("write_url_list: blockable URLs, never their host", "[merge][export]") {
  Fixture f;
  f.rows.push_back(row(ObservableType::url, "https://review.example/x", trust::Action::review));
  f.rows.push_back(row(ObservableType::url, "https://www.bank.example/login"));  // allowlisted host
  CHECK(render(write_url_list, f.rows, f.options) == "https://shared.example/phish/login\n");
}

TEST_CASE("write_ipset: both families swapped in, CIDR kept, allowlisted addresses out", "[merge][export]") {
  const Fixture f;
  CHECK(render(write_ipset, f.rows, f.options) ==
        "create ctishare-block-v4 hash:net family inet -exist\n"
        "create ctishare-block-v4-new hash:net family inet -exist\n"
        "flush ctishare-block-v4-new\n"
        "add ctishare-block-v4-new 198.51.100.7\n"
        "swap ctishare-block-v4-new ctishare-block-v4\n"
        "destroy ctishare-block-v4-new\n"
        "create ctishare-block-v6 hash:net family inet6 -exist\n"
        "create ctishare-block-v6-new hash:net family inet6 -exist\n"
        "flush ctishare-block-v6-new\n"
        "add ctishare-block-v6-new 2001:db8:1::/48\n"
        "swap ctishare-block-v6-new ctishare-block-v6\n"
        "destroy ctishare-block-v6-new\n");
}

TEST_CASE("write_ipset: empty sets are still swapped in, so removals reach the firewall", "[merge][export]") {
  ExportOptions o;
  o.ipset_name = "cti";
  const std::vector<Row> rows = {row(ObservableType::ipv4, "198.51.100.7", trust::Action::observe),
                                 row(ObservableType::ipv6, "2001:db8::1", trust::Action::block, RowStatus::expired)};
  CHECK(render(write_ipset, rows, o) ==
        "create cti-v4 hash:net family inet -exist\n"
        "create cti-v4-new hash:net family inet -exist\n"
        "flush cti-v4-new\n"
        "swap cti-v4-new cti-v4\n"
        "destroy cti-v4-new\n"
        "create cti-v6 hash:net family inet6 -exist\n"
        "create cti-v6-new hash:net family inet6 -exist\n"
        "flush cti-v6-new\n"
        "swap cti-v6-new cti-v6\n"
        "destroy cti-v6-new\n");

  for (const char* bad : {"", "a b", "x;flush", "name-that-is-far-too-long-for-ipset"}) {
    o.ipset_name = bad;
    StringSink sink;
    auto status = write_ipset(sink, std::vector<ListRow>(rows.begin(), rows.end()), o);
    CHECK_FALSE(status);
    CHECK(sink.text().empty());
  }
}

TEST_CASE("blocklists: a hostile or unblockable value never appears in any of them", "[merge][export]") {
  Fixture f;
  for (const std::string& value : kHostile) f.rows.push_back(domain(value));
  f.rows.push_back(row(ObservableType::url, "https://evil.example/\n@ NS attacker."));
  f.rows.push_back(row(ObservableType::ipv4, "198.51.100.8\nflush x"));
  for (const OutputFile& file : output_files()) {
    if (!file.blocklist) continue;
    INFO(file.name);
    const std::string text = render(file.write, f.rows, f.options);
    CHECK(text.find("attacker") == std::string::npos);
    CHECK(text.find("co.uk") == std::string::npos);
    CHECK(text.find("a;b") == std::string::npos);
    CHECK(text.find("Evil") == std::string::npos);
    CHECK(text.find("bad example") == std::string::npos);
    CHECK(text.find("evil.example.\n") == std::string::npos);
    CHECK(text.find("flush x") == std::string::npos);
    CHECK(text.find("bank.example") == std::string::npos);
    CHECK(text.find("review.example") == std::string::npos);
    CHECK(text.find("revoked.example") == std::string::npos);
  }
  // The blocklists are exactly what they were without the hostile rows.
  const Fixture clean;
  for (const OutputFile& file : output_files()) {
    INFO(file.name);
    if (file.blocklist) CHECK(render(file.write, f.rows, f.options) == render(file.write, clean.rows, clean.options));
  }
  // threat_master.csv keeps every row (neutralised), so "why is X not blocked" has an answer.
  const std::string master = render_master(f.rows, f.options);
  CHECK(csv_records(master) == 1 + f.rows.size());
  CHECK(master.find("\"evil.example\n@ NS attacker.\"") != std::string::npos);
}

TEST_CASE("output_files: every output, in order, the master CSV not a blocklist", "[merge][export]") {
  const auto& files = output_files();
  REQUIRE(files.size() == 8);
  const std::vector<std::string_view> names = {"threat_master.csv", "domains.txt",  "hosts",
                                               "rpz.zone",          "unbound.conf", "suricata-domains.lst",
                                               "urls.txt",          "ipset.restore"};
  for (std::size_t i = 0; i < files.size(); ++i) {
    CHECK(files[i].name == names[i]);
    CHECK(files[i].blocklist == (i != 0));
  }
  CHECK(files[0].write == nullptr);
  CHECK(files[3].write == &write_rpz);
  CHECK(files[7].write == &write_ipset);
}

TEST_CASE("writers: a failing sink's error comes back", "[merge][export]") {
  const Fixture f;
  const std::vector<ListRow> listed(f.rows.begin(), f.rows.end());
  for (const OutputFile& file : output_files()) {
    if (!file.blocklist) continue;
    INFO(file.name);
    FailingSink sink;
    auto status = file.write(sink, listed, f.options);
    REQUIRE_FALSE(status);
    CHECK(status.error().category() == ErrorCategory::io);
  }
  FailingSink master;
  auto written = write_master_csv(master, f.rows, f.options);
  REQUIRE_FALSE(written);
  CHECK(written.error().category() == ErrorCategory::io);
  FailingSink sink;
  auto status = write_removed_csv(sink, {}, f.options);
  REQUIRE_FALSE(status);
  CHECK(status.error().category() == ErrorCategory::io);
}
