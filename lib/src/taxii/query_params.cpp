// Query-string parsing for the TAXII handler; see query_params.h.
#include "taxii/query_params.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace ctishare::taxii::detail {

namespace {

Error bad(std::string message) { return Error(ErrorCategory::data, std::move(message)); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits a comma-separated list; empty items are malformed (SPEC 2: a list
// has at least one value; "a,,b" names nothing).
Result<std::vector<std::string>> split_list(std::string_view name, std::string_view value) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = value.find(',', start);
    const std::string_view item = value.substr(start, comma == std::string_view::npos ? comma : comma - start);
    if (item.empty()) return bad(std::string(name) + " has an empty item");
    items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return items;
}

Result<VersionMatch> parse_versions(std::string_view value) {
  auto items = split_list("match[version]", value);
  if (!items) return std::move(items).error();
  VersionMatch m;
  m.last = false;
  std::vector<Timestamp> seen_instants;
  for (const std::string& item : *items) {
    if (item == "all") {
      if (items->size() != 1) return bad("match[version]=all cannot be combined with other values");
      m.all = true;
    } else if (item == "first" || item == "last") {
      bool& flag = item == "first" ? m.first : m.last;
      if (flag) return bad("match[version] names '" + item + "' twice");
      flag = true;
    } else {
      auto t = Timestamp::parse(item);
      if (!t) return bad("match[version] value '" + item.substr(0, 64) + "' is not first, last, all or a timestamp");
      // Repeats are judged by instant: "…:00Z" and "…:00.000Z" name the same version.
      if (std::find(seen_instants.begin(), seen_instants.end(), *t) != seen_instants.end())
        return bad("match[version] names '" + item + "' twice");
      seen_instants.push_back(*t);
      m.exact.push_back(item);
    }
  }
  return m;
}

std::string joined_sorted(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

}  // namespace

Result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) return bad("malformed percent-encoding");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Micros to_micros(const Timestamp& t) { return t.unix_seconds() * 1'000'000 + static_cast<Micros>(t.nanos() / 1000); }

std::string format_micros(Micros micros) {
  Micros seconds = micros / 1'000'000;
  Micros rest = micros % 1'000'000;
  if (rest < 0) {  // floor, for instants before 1970
    rest += 1'000'000;
    --seconds;
  }
  return Timestamp::from_unix(seconds, static_cast<std::uint32_t>(rest * 1000), 6).to_string();
}

Result<QueryParams> parse_query(std::string_view query, std::size_t max_page_size) {
  QueryParams p;
  std::set<std::string> seen;
  std::size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    const std::size_t amp = query.find('&', start);
    const std::string_view pair = query.substr(start, amp == std::string_view::npos ? amp : amp - start);
    start = amp == std::string_view::npos ? query.size() + 1 : amp + 1;
    if (pair.empty()) continue;  // "a=1&&b=2": nothing there to be malformed
    const std::size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    if (!name) return std::move(name).error();
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!value) return std::move(value).error();
    const std::string& n = *name;
    const std::string& v = *value;
    const bool known = n == "added_after" || n == "limit" || n == "next" || n == "match[id]" || n == "match[type]" ||
                       n == "match[version]" || n == "match[spec_version]";
    if (!known) continue;
    if (!seen.insert(n).second) return bad(n + " is given more than once");
    if (v.empty()) return bad(n + " has no value");
    if (n == "added_after") {
      auto t = Timestamp::parse(v);
      if (!t) return bad("added_after is not a timestamp: " + t.error().message());
      p.added_after = to_micros(*t);
    } else if (n == "limit") {
      // Digits only: no sign, no spaces, no hex; too large is capped, not refused.
      if (!std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return bad("limit is not a positive integer");
      std::uint64_t l = 0;
      const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), l);
      if (ec == std::errc::result_out_of_range)
        l = UINT64_MAX;
      else if (ec != std::errc() || ptr != v.data() + v.size())
        return bad("limit is not a positive integer");
      if (l == 0) return bad("limit must be greater than 0");
      p.limit = static_cast<std::size_t>(std::min<std::uint64_t>(l, max_page_size));
    } else if (n == "next") {
      p.next = v;
    } else if (n == "match[version]") {
      auto m = parse_versions(v);
      if (!m) return std::move(m).error();
      p.versions = std::move(*m);
    } else {
      auto items = split_list(n, v);
      if (!items) return std::move(items).error();
      std::set<std::string> unique(items->begin(), items->end());
      if (unique.size() != items->size()) return bad(n + " names a value twice");
      if (n == "match[id]")
        p.ids = std::move(*items);
      else if (n == "match[type]")
        p.types = std::move(*items);
      else
        p.spec_versions = std::move(*items);
    }
  }
  // Canonical form for next tokens: each line "name=value", values as parsed.
  // The page size is not part of it: the token's position is a date_added,
  // so a client may change limit between pages without losing or repeating
  // anything — and the reference client (taxii2-client's as_pages) does,
  // whenever a page comes back shorter than it asked.
  std::string& c = p.canonical;
  if (p.added_after) c += "added_after=" + std::to_string(*p.added_after) + "\n";
  if (p.ids) c += "match[id]=" + joined_sorted(*p.ids) + "\n";
  if (p.types) c += "match[type]=" + joined_sorted(*p.types) + "\n";
  if (p.spec_versions) c += "match[spec_version]=" + joined_sorted(*p.spec_versions) + "\n";
  if (p.versions) {
    std::vector<std::string> v = p.versions->exact;
    if (p.versions->all) v.push_back("all");
    if (p.versions->first) v.push_back("first");
    if (p.versions->last) v.push_back("last");
    c += "match[version]=" + joined_sorted(std::move(v)) + "\n";
  }
  return p;
}

}  // namespace ctishare::taxii::detail
