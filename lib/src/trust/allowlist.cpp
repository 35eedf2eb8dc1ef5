// The allowlist: CSV entries, canonical forms, and matching.
#include "ctishare/allowlist.h"

#include <arpa/inet.h>

#include <algorithm>

#include "ctishare/file.h"
#include "ctishare/pattern_parser.h"

namespace ctishare::trust {
namespace {

// One CSV record (RFC 4180: quoted fields may hold commas, quotes doubled,
// line breaks). Returns false at the end of the text.
bool next_record(std::string_view text, std::size_t& pos, std::vector<std::string>& fields, std::size_t& line,
                 std::string& error) {
  fields.clear();
  if (pos >= text.size()) return false;
  std::string field;
  bool quoted = false, was_quoted = false;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          field += '"';
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
      break;
    } else {
      field += c;
    }
  }
  if (quoted) {
    error = "a quoted field is not closed";
    return false;
  }
  fields.push_back(std::move(field));
  return true;
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Parses "address" or "address/bits" into the entry's network fields.
bool parse_network(std::string_view text, AllowEntry& e) {
  std::string addr(text);
  int bits = -1;
  if (auto slash = addr.find('/'); slash != std::string::npos) {
    const std::string b = addr.substr(slash + 1);
    if (b.empty() || b.size() > 3 || !std::all_of(b.begin(), b.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    bits = std::stoi(b);
    addr.resize(slash);
  }
  e.network.fill(0);
  if (inet_pton(AF_INET, addr.c_str(), e.network.data()) == 1) {
    e.v6 = false;
    if (bits < 0) bits = 32;
    if (bits > 32) return false;
  } else if (inet_pton(AF_INET6, addr.c_str(), e.network.data()) == 1) {
    e.v6 = true;
    if (bits < 0) bits = 128;
    if (bits > 128) return false;
  } else {
    return false;
  }
  e.bits = bits;
  return true;
}

// An address's first `bits` bits, as bytes (the last one masked): the key
// of the networks of that length.
std::string network_key(const std::array<std::uint8_t, 16>& addr, int bits) {
  std::string key(reinterpret_cast<const char*>(addr.data()), static_cast<std::size_t>((bits + 7) / 8));
  if (bits % 8 != 0) key.back() = static_cast<char>(addr[key.size() - 1] & (0xFF << (8 - bits % 8)));
  return key;
}

// The host of a canonical URL ("https://host:port/path" → "host"), brackets
// of IPv6 literals removed: a part of `url`.
std::string_view url_host(std::string_view url) {
  auto start = url.find("://");
  if (start == std::string_view::npos) return {};
  start += 3;
  auto end = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    return authority.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
  }
  if (auto colon = authority.rfind(':'); colon != std::string_view::npos) authority = authority.substr(0, colon);
  return authority;
}

}  // namespace

std::string_view allow_type_name(AllowEntry::Type type) {
  switch (type) {
    case AllowEntry::Type::host:
      return "host";
    case AllowEntry::Type::domain:
      return "domain";
    case AllowEntry::Type::cidr:
      return "cidr";
    case AllowEntry::Type::url_prefix:
      return "url-prefix";
  }
  return "host";
}

Result<Allowlist> Allowlist::load(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::move(text).error();
  return parse(*text, path);
}

Result<Allowlist> Allowlist::parse(std::string_view text, const std::string& origin) {
  Allowlist out;
  out.origin_ = origin;
  std::size_t pos = 0, line = 1;
  std::vector<std::string> fields;
  std::string error;
  const auto fail = [&](std::size_t at, const std::string& what) {
    return Error(ErrorCategory::data, quote(origin) + ": line " + std::to_string(at) + ": " + what);
  };
  if (text.starts_with("\xEF\xBB\xBF")) pos = 3;  // a spreadsheet's BOM
  if (!next_record(text, pos, fields, line, error) || fields.size() != 4 || trim(fields[0]) != "type" ||
      trim(fields[1]) != "value" || trim(fields[2]) != "reason" || trim(fields[3]) != "expires")
    return fail(1, error.empty() ? "the header must be: type,value,reason,expires" : error);
  for (;;) {
    const std::size_t at = ++line;
    if (!next_record(text, pos, fields, line, error)) {
      if (!error.empty()) return fail(at, error);
      break;
    }
    if (fields.size() == 1 && trim(fields[0]).empty()) continue;  // blank line
    if (fields.size() != 4)
      return fail(at, std::to_string(fields.size()) + " fields; expected type,value,reason,expires");
    AllowEntry e;
    e.line = at;
    const std::string type = trim(fields[0]), value = trim(fields[1]);
    e.reason = trim(fields[2]);
    if (e.reason.empty()) return fail(at, "an entry needs a reason (who asked, and why)");
    if (const std::string expires = trim(fields[3]); !expires.empty()) {
      auto t = Timestamp::parse(expires);
      if (!t) return fail(at, "expires " + quote(expires) + " is not a timestamp (YYYY-MM-DDTHH:MM:SSZ)");
      e.expires = *t;
    }
    if (type == "host" || type == "domain") {
      e.type = type == "host" ? AllowEntry::Type::host : AllowEntry::Type::domain;
      auto o = stix::classify_observable(value, stix::ObservableType::domain);
      if (!o) return fail(at, quote(value) + ": " + o.error().message());
      e.value = o->value;
    } else if (type == "cidr") {
      e.type = AllowEntry::Type::cidr;
      if (!parse_network(value, e)) return fail(at, quote(value) + " is not an IPv4 or IPv6 network (address/bits)");
      e.value = value;
    } else if (type == "url-prefix") {
      e.type = AllowEntry::Type::url_prefix;
      auto o = stix::classify_observable(value, stix::ObservableType::url);
      if (!o) return fail(at, quote(value) + ": " + o.error().message());
      e.value = o->value;
    } else {
      return fail(at, "unknown type " + quote(type) + "; one of host, domain, cidr, url-prefix");
    }
    out.entries_.push_back(std::move(e));
  }
  out.index();
  return out;
}

namespace {

std::size_t label_count(std::string_view name) {
  return 1 + static_cast<std::size_t>(std::count(name.begin(), name.end(), '.'));
}

std::string_view last_label(std::string_view name) {
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

}  // namespace

void Allowlist::index() {
  by_name_.clear();
  by_parent_.clear();
  name_labels_min_ = name_labels_max_ = 0;
  name_last_labels_.clear();
  by_url_host_.clear();
  networks_.clear();
  prefixes_.clear();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const AllowEntry& e = entries_[i];
    switch (e.type) {
      case AllowEntry::Type::domain:
        by_parent_[e.value].push_back(i);
        [[fallthrough]];
      case AllowEntry::Type::host: {
        by_name_[e.value].push_back(i);
        const std::size_t labels = label_count(e.value);
        name_labels_min_ = name_labels_max_ == 0 ? labels : std::min(name_labels_min_, labels);
        name_labels_max_ = std::max(name_labels_max_, labels);
        name_last_labels_.emplace_back(last_label(e.value));
        break;
      }
      case AllowEntry::Type::cidr: {
        auto group = std::find_if(networks_.begin(), networks_.end(),
                                  [&](const NetworkGroup& g) { return g.v6 == e.v6 && g.bits == e.bits; });
        if (group == networks_.end()) group = networks_.insert(networks_.end(), NetworkGroup{e.v6, e.bits, {}});
        group->by_network[network_key(e.network, e.bits)].push_back(i);
        break;
      }
      case AllowEntry::Type::url_prefix: {
        // A prefix that holds its whole host (a '/', '?' or '#' after it)
        // only covers URLs on that host: found by it. Any other is walked.
        const auto start = e.value.find("://");
        if (start != std::string::npos && e.value.find_first_of("/?#", start + 3) != std::string::npos) {
          by_url_host_[std::string(url_host(e.value))].push_back(i);
        } else {
          prefixes_.push_back(i);
        }
        break;
      }
    }
  }
  std::sort(name_last_labels_.begin(), name_last_labels_.end());
  name_last_labels_.erase(std::unique(name_last_labels_.begin(), name_last_labels_.end()), name_last_labels_.end());
}

const AllowEntry* Allowlist::match(const stix::Observable& o, const Timestamp& now) const {
  return match(o.type, o.value, now);
}

const AllowEntry* Allowlist::match(stix::ObservableType type, std::string_view value, const Timestamp& now) const {
  using T = stix::ObservableType;
  if (entries_.empty()) return nullptr;
  // The first entry in file order that covers the value and is live.
  const AllowEntry* first = nullptr;
  const auto consider = [&](std::size_t i) {
    const AllowEntry& e = entries_[i];
    if ((first == nullptr || &e < first) && !(e.expires && *e.expires <= now)) first = &e;
  };
  const auto look_up = [&](const NameIndex& index, std::string_view name) {
    if (auto it = index.find(name); it != index.end())
      for (std::size_t i : it->second) consider(i);
  };
  std::string_view host;
  if (type == T::domain) host = value;
  if (type == T::url) host = url_host(value);
  // A name (or parent) can only be an entry's when it ends in an entry's
  // last label and has as many labels as some entry.
  if (!host.empty() && name_labels_max_ != 0 &&
      std::binary_search(name_last_labels_.begin(), name_last_labels_.end(), last_label(host))) {
    std::size_t labels = label_count(host);
    if (labels >= name_labels_min_ && labels <= name_labels_max_)
      look_up(by_name_, host);  // host and domain entries: the name itself
    for (auto dot = host.find('.'); dot != std::string_view::npos && --labels >= name_labels_min_;
         dot = host.find('.', dot + 1))
      if (labels <= name_labels_max_) look_up(by_parent_, host.substr(dot + 1));  // domain entries: a parent
  }
  // An address, or a URL's host that is an address literal: parsed once.
  // A range is covered when its network lies inside the entry and is no
  // wider: its first bits, for each length no longer than its own.
  const std::string_view address = type == T::ipv4 || type == T::ipv6 ? value : type == T::url ? host : "";
  if (AllowEntry probe; !networks_.empty() && !address.empty() && parse_network(address, probe)) {
    for (const NetworkGroup& g : networks_)
      if (g.v6 == probe.v6 && g.bits <= probe.bits) look_up(g.by_network, network_key(probe.network, g.bits));
  }
  if (type == T::url) {
    if (auto it = by_url_host_.find(host); it != by_url_host_.end())
      for (std::size_t i : it->second)
        if (value.starts_with(entries_[i].value)) consider(i);
    // The other prefixes, in file order while one could still come first.
    for (std::size_t i : prefixes_) {
      if (first != nullptr && &entries_[i] > first) break;
      if (value.starts_with(entries_[i].value)) consider(i);
    }
  }
  return first;
}

std::vector<stix::Observable> observables_of_pattern(std::string_view text, std::vector<std::string>* refused) {
  std::vector<stix::Observable> out;
  stix::pattern::ParsedPattern p;
  stix::pattern::ParseError error;
  if (!stix::pattern::parse(text, p, error)) return out;
  using Op = stix::pattern::TestOperator;
  for (const auto& t : p.tests) {
    if (t.negated || (t.op != Op::equal && t.op != Op::in && t.op != Op::issubset)) continue;
    const std::string_view type = p.text(t.path.type);
    const auto steps = p.steps_of(t);
    // [<sco>:value = …] of the types that have a value, and
    // [file:hashes.'<algorithm>' = …] of the hash types.
    const bool value_path = steps.size() == 1 && p.text(steps[0].name) == "value";
    const bool hash_path = steps.size() == 2 && type == "file" && p.text(steps[0].name) == "hashes";
    std::optional<stix::ObservableType> hint;
    for (int i = 0; i <= static_cast<int>(stix::ObservableType::sha512) && !hint && (value_path || hash_path); ++i) {
      const auto candidate = static_cast<stix::ObservableType>(i);
      const std::string_view algorithm = stix::observable_hash_algorithm(candidate);
      if (value_path ? algorithm.empty() && stix::observable_sco_type(candidate) == type
                     : !algorithm.empty() && p.text(steps[1].name) == algorithm)
        hint = candidate;
    }
    if (!hint) continue;
    for (const auto& literal : p.literals_of(t)) {
      if (literal.kind != stix::pattern::LiteralKind::string) continue;
      if (auto o = stix::classify_observable(p.text(literal.text), hint))
        out.push_back(std::move(*o));
      else if (refused != nullptr)
        refused->push_back(o.error().message());
    }
  }
  return out;
}

const AllowEntry* Allowlist::match_pattern(std::string_view pattern, const Timestamp& now) const {
  if (entries_.empty()) return nullptr;
  for (const auto& o : observables_of_pattern(pattern))
    if (const AllowEntry* e = match(o, now)) return e;
  return nullptr;
}

}  // namespace ctishare::trust
