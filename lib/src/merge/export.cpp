// The exporters: threat_master.csv for people and SIEM lookups, and the
// blocklists that enforce the decisions to block. Every blocklist writer
// re-checks each row with blockable() (defence in depth: the allowlist
// again, the value re-classified), so a bad row from the store or a hostile
// value can never reach a resolver or firewall. All output uses LF line
// ends, rows in the order given, nothing depending on the run.
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <unordered_set>

#include "../core/base64.h"
#include "ctishare/allowlist.h"
#include "ctishare/merge.h"

namespace ctishare::merge {
namespace {

// Writers hand the sink chunks of about this size, so huge lists never sit
// in memory twice and small ones go in one write.
constexpr std::size_t kChunk = 64 * 1024;

// Collects lines and passes them to the sink in chunks.
class LineWriter {
 public:
  explicit LineWriter(Sink& out) : out_(out) {}

  ctishare::Status line(std::string_view text) { return line({text}); }
  // The parts, joined, as one line (no temporary string per line).
  ctishare::Status line(std::initializer_list<std::string_view> parts) {
    for (std::string_view part : parts) buffer_.append(part);
    buffer_ += '\n';
    if (buffer_.size() >= kChunk) return flush();
    return {};
  }

  ctishare::Status flush() {
    if (buffer_.empty()) return {};
    ctishare::Status status = out_.write(buffer_);
    buffer_.clear();
    return status;
  }

 private:
  Sink& out_;
  std::string buffer_;
};

std::string join(const std::vector<std::string>& items, char separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// Appends one CSV record (cells through csv_cell) as a line.
ctishare::Status csv_record(LineWriter& out, std::initializer_list<std::string_view> cells, bool raw) {
  std::string record;
  bool first = true;
  for (std::string_view cell : cells) {
    if (!first) record += ',';
    first = false;
    record += csv_cell(cell, raw);
  }
  return out.line(record);
}

bool is_control_or_space(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

// The blockable values of the given type, in order.
std::vector<std::string_view> blockable_values(const std::vector<ListRow>& rows, const ExportOptions& options,
                                               stix::ObservableType type) {
  if (type == stix::ObservableType::domain && options.canonical != nullptr && options.blockable_domains_of == &rows)
    return options.blockable_domains;
  std::vector<std::string_view> out;
  for (const ListRow& row : rows)
    if (row.type == type && blockable(row, options)) out.push_back(row.value);
  // Reused only within a publication (options.canonical set: the rows are
  // fixed until it ends).
  if (type == stix::ObservableType::domain && options.canonical != nullptr) {
    options.blockable_domains = out;
    options.blockable_domains_of = &rows;
  }
  return out;
}

// The blockable domains a wildcard zone needs: those with no listed parent
// (any suffix at a label boundary), each once, in order.
std::vector<std::string_view> zone_roots(const std::vector<ListRow>& rows, const ExportOptions& options) {
  const std::vector<std::string_view> domains = blockable_values(rows, options, stix::ObservableType::domain);
  // The listed domains as an open-addressing set of their positions: one
  // allocation of 4 bytes a slot instead of a node per domain (150,000
  // domains took 70-120 ms to build and probe as nodes, most of it
  // allocating them and faulting their pages in).
  std::vector<std::uint32_t> slots(std::bit_ceil(2 * domains.size() + 1), 0);  // position + 1; 0: empty
  const std::size_t mask = slots.size() - 1;
  const std::hash<std::string_view> hash;
  const auto find = [&](std::string_view name) -> std::uint32_t& {
    std::size_t at = hash(name) & mask;
    while (slots[at] != 0 && domains[slots[at] - 1] != name) at = (at + 1) & mask;
    return slots[at];
  };
  for (std::size_t i = 0; i < domains.size(); ++i)
    if (std::uint32_t& slot = find(domains[i]); slot == 0) slot = static_cast<std::uint32_t>(i + 1);
  // Rows come sorted, so a repeat would be the previous domain; otherwise
  // a set remembers what was written.
  const bool sorted = std::is_sorted(domains.begin(), domains.end());
  std::unordered_set<std::string_view> written;
  std::vector<std::string_view> out;
  for (std::string_view domain : domains) {
    bool covered = false;
    for (std::size_t dot = domain.find('.'); dot != std::string_view::npos && !covered; dot = domain.find('.', dot + 1))
      covered = find(domain.substr(dot + 1)) != 0;
    if (covered) continue;
    if (sorted ? out.empty() || out.back() != domain : written.insert(domain).second) out.push_back(domain);
  }
  return out;
}

// Reused only within a publication (options.canonical set: the rows are
// fixed until it ends).
const std::vector<std::string_view>& cached_zone_roots(const std::vector<ListRow>& rows, const ExportOptions& options) {
  if (options.canonical == nullptr || options.zone_roots_of != &rows) {
    options.zone_roots = zone_roots(rows, options);
    options.zone_roots_of = &rows;
  }
  return options.zone_roots;
}

// Option values that end up inside a zone file or an ipset command: names
// only, so a bad configuration cannot inject records or commands.
bool is_name(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.'))
      return false;
  return true;
}

}  // namespace

// A score with at most two decimals and no trailing zeros: 70, 62.5, 33.33.
void append_number(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += '0';
    return;
  }
  // The usual case first: a hundredfold value near a whole number (scores
  // are rounded to 0.01, confidences are whole). Within 0.25 of it, the
  // exact value is within 0.35 of it too (|value| < 1e12 keeps the product's
  // error far below 0.1), so it is what "%.2f" rounds to.
  const double scaled = value * 100.0;
  if (std::fabs(scaled) < 1e12) {
    const double nearest = std::nearbyint(scaled);
    if (std::fabs(scaled - nearest) < 0.25) {
      auto n = static_cast<long long>(nearest);
      if (n < 0) {
        out += '-';
        n = -n;
      }
      char digits[24];
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n / 100);
      out.append(digits, end);
      const auto cents = static_cast<int>(n % 100);
      if (cents != 0) {
        out += '.';
        out += static_cast<char>('0' + cents / 10);
        if (cents % 10 != 0) out += static_cast<char>('0' + cents % 10);
      }
      return;
    }
  }
  char text[64];
  // Correctly rounded like printf's "%.2f", without its locale and
  // arbitrary-precision machinery.
  auto [end, ec] = std::to_chars(text, text + sizeof text, value, std::chars_format::fixed, 2);
  if (ec != std::errc()) {
    out += '0';
    return;
  }
  while (end[-1] == '0') --end;  // "90.50" -> "90.5", "90.00" -> "90."
  if (end[-1] == '.') --end;
  const std::string_view digits(text, static_cast<std::size_t>(end - text));
  out += digits == "-0" ? std::string_view("0") : digits;
}

std::string format_number(double value) {
  std::string out;
  append_number(out, value);
  return out;
}

std::string_view status_name(RowStatus status) {
  switch (status) {
    case RowStatus::active:
      return "active";
    case RowStatus::expired:
      return "expired";
    case RowStatus::revoked:
      return "revoked";
    case RowStatus::allowlisted:
      return "allowlisted";
    case RowStatus::suppressed:
      return "suppressed";
  }
  return "active";
}

// RFC 4180 cells. A cell a spreadsheet would read as a formula (= + - @,
// or a leading TAB or CR that some strip before looking) gets a leading
// single quote unless `raw`; then a cell with a comma, double quote, CR or
// LF is quoted, its quotes doubled.
namespace {

// Whether a cell holds a comma, a quote, CR or LF: sixteen bytes at a time
// (a million rows of reasons and ids go through here), the rest one by one.
bool needs_quotes(std::string_view text) {
  const auto special = [](char c) { return c == ',' || c == '"' || c == '\r' || c == '\n'; };
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"'), cr = _mm_set1_epi8('\r'),
                lf = _mm_set1_epi8('\n');
  for (; i + 16 <= text.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
    if (_mm_movemask_epi8(hit) != 0) return true;
  }
#endif
  return std::any_of(text.begin() + static_cast<std::ptrdiff_t>(i), text.end(), special);
}

}  // namespace

void append_csv_cell(std::string& out, std::string_view text, bool raw) {
  const bool neutralise = !raw && !text.empty() &&
                          (text.front() == '=' || text.front() == '+' || text.front() == '-' ||
                           text.front() == '@' || text.front() == '\t' || text.front() == '\r');
  const bool quote = needs_quotes(text);
  if (quote) out += '"';
  if (neutralise) out += '\'';
  if (!quote) {
    out.append(text);
    return;
  }
  // Runs between quotes copied whole, each quote doubled (a reason with
  // commas is quoted, and most quoted cells hold no quote at all).
  for (std::size_t from = 0;;) {
    const std::size_t q = text.find('"', from);
    if (q == std::string_view::npos) {
      out.append(text.substr(from));
      break;
    }
    out.append(text.substr(from, q + 1 - from));
    out += '"';
    from = q + 1;
  }
  out += '"';
}

std::string csv_cell(std::string_view text, bool raw) {
  std::string cell;
  append_csv_cell(cell, text, raw);
  return cell;
}

bool blockable(const ListRow& row, const ExportOptions& options, std::string* why) {
  const auto refuse = [why](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return false;
  };
  if (row.action != trust::Action::block) return refuse("action is " + std::string(trust::action_name(row.action)));
  if (row.status != RowStatus::active) return refuse("status is " + std::string(status_name(row.status)));
  if (std::any_of(row.value.begin(), row.value.end(), is_control_or_space))
    return refuse("the value holds spaces or control characters");
  if (options.canonical == nullptr || options.canonical->count(&row) == 0) {
    auto observable = stix::classify_observable(row.value, row.type);
    if (!observable) return refuse(observable.error().message());
    if (observable->type != row.type || observable->value != row.value)
      return refuse("the value is not in canonical form ('" + observable->value + "')");
  }
  if (row.type == stix::ObservableType::domain) {
    for (char c : row.value)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
        return refuse("the domain holds characters other than a-z 0-9 _ . -");
  }
  if (options.allowlist != nullptr) {
    if (const trust::AllowEntry* entry = options.allowlist->match(row.type, row.value, options.now))
      return refuse("allowlisted (" + std::string(trust::allow_type_name(entry->type)) + " " + entry->value + ": " +
                    entry->reason + ")");
  }
  return true;
}

bool canonical_row(const ListRow& row) {
  if (row.action != trust::Action::block || row.status != RowStatus::active) return false;
  auto observable = stix::classify_observable(row.value, row.type);
  return observable && observable->type == row.type && observable->value == row.value;
}

// threat_master.csv: a header row, then every row whatever its status:
//   value,type,action,status,score,producer_confidence,sources,source_tier,
//   first_seen,last_seen,valid_from,valid_until,reason,tlp,stix_ids
// Numbers with at most two decimals, lists joined with ';', every cell
// through csv_cell (spreadsheet-safe unless csv_raw).
std::string_view master_csv_header() {
  return "value,type,action,status,score,producer_confidence,sources,source_tier,first_seen,last_seen,valid_from,"
         "valid_until,reason,tlp,stix_ids\n";
}

void append_master_csv_row(std::string& out, const Row& row, const ExportOptions& options) {
  const bool raw = options.csv_raw;
  const auto cell = [&](std::string_view text) {
    append_csv_cell(out, text, raw);
    out += ',';
  };
  const auto list = [&](const std::vector<std::string>& items) {
    // Joined with ';' first: the cell's quoting and neutralising look at
    // the whole cell.
    if (items.size() == 1) return cell(items.front());
    std::string joined = join(items, ';');
    cell(joined);
  };
  cell(row.value);
  cell(stix::observable_type_name(row.type));
  cell(trust::action_name(row.action));
  cell(status_name(row.status));
  std::string number;
  for (double v : {row.score, row.producer_confidence}) {
    number.clear();
    append_number(number, v);
    cell(number);
  }
  list(row.sources);
  cell(row.source_tier);
  cell(row.first_seen);
  cell(row.last_seen);
  cell(row.valid_from);
  cell(row.valid_until);
  cell(row.reason);
  cell(row.tlp);
  list(row.stix_ids);
  out.back() = '\n';
}

ctishare::Status write_master_csv(Sink& out, const std::vector<Row>& rows, const ExportOptions& options) {
  std::string buffer(master_csv_header());
  for (const Row& row : rows) {
    append_master_csv_row(buffer, row, options);
    if (buffer.size() >= kChunk) {
      CTI_TRY_STATUS(out.write(buffer));
      buffer.clear();
    }
  }
  return out.write(buffer);
}

// domains.txt: one blockable domain per line (dnsmasq, Pi-hole, Squid and
// most proxies take this as it is).
ctishare::Status write_domain_list(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options) {
  LineWriter lines(out);
  for (std::string_view domain : blockable_values(rows, options, stix::ObservableType::domain))
    CTI_TRY_STATUS(lines.line(domain));
  return lines.flush();
}

// hosts: "0.0.0.0 <domain>" per blockable domain. No wildcards in hosts
// files, so a subdomain listed under a listed parent stays.
ctishare::Status write_hosts(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options) {
  LineWriter lines(out);
  for (std::string_view domain : blockable_values(rows, options, stix::ObservableType::domain))
    CTI_TRY_STATUS(lines.line({"0.0.0.0 ", domain}));
  return lines.flush();
}

// rpz.zone: a DNS Response Policy Zone (draft-vixie-dns-rpz) for BIND,
// PowerDNS, Knot or Unbound:
//   $TTL <ttl>
//   $ORIGIN <origin>.
//   @ SOA localhost. hostmaster.localhost. <serial> 3600 600 604800 <ttl>
//   @ NS localhost.
//   <domain> CNAME .
//   *.<domain> CNAME .
// "CNAME ." answers NXDOMAIN; the two records cover the domain and every
// subdomain, so a domain under a listed parent is left out. Names are
// relative to the origin. The TTL is short so removals leave caches fast.
ctishare::Status write_rpz(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options) {
  std::string_view origin = options.rpz_origin;
  if (!origin.empty() && origin.back() == '.') origin.remove_suffix(1);
  if (!is_name(origin) || origin.front() == '.' || origin.find("..") != std::string_view::npos)
    return Error(ErrorCategory::usage, "RPZ origin " + quote(origin) + " is not a domain name");
  const std::string ttl = std::to_string(options.rpz_ttl);
  LineWriter lines(out);
  CTI_TRY_STATUS(lines.line("$TTL " + ttl));
  CTI_TRY_STATUS(lines.line("$ORIGIN " + std::string(origin) + "."));
  CTI_TRY_STATUS(lines.line("@ SOA localhost. hostmaster.localhost. " + std::to_string(options.rpz_serial) +
                            " 3600 600 604800 " + ttl));
  CTI_TRY_STATUS(lines.line("@ NS localhost."));
  for (std::string_view domain : cached_zone_roots(rows, options)) {
    CTI_TRY_STATUS(lines.line({domain, " CNAME ."}));
    CTI_TRY_STATUS(lines.line({"*.", domain, " CNAME ."}));
  }
  return lines.flush();
}

// unbound.conf: an include file for Unbound,
//   server:
//       local-zone: "<domain>." always_nxdomain
// A local zone covers the domain and every subdomain, so a domain under a
// listed parent is left out.
ctishare::Status write_unbound(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options) {
  LineWriter lines(out);
  CTI_TRY_STATUS(lines.line("server:"));
  for (std::string_view domain : cached_zone_roots(rows, options))
    CTI_TRY_STATUS(lines.line({"    local-zone: \"", domain, ".\" always_nxdomain"}));
  return lines.flush();
}

// suricata-domains.lst: a Suricata dataset of type string (for
// "dns.query; dataset:isset,<name>,type string,load suricata-domains.lst"):
// each blockable domain base64-encoded (standard alphabet, padded), one per
// line.
ctishare::Status write_suricata_dataset(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options) {
  LineWriter lines(out);
  for (std::string_view domain : blockable_values(rows, options, stix::ObservableType::domain))
    CTI_TRY_STATUS(
        lines.line(detail::base64_encode(domain, detail::Base64Alphabet::standard, detail::Base64Padding::required)));
  return lines.flush();
}

// urls.txt: one blockable URL per line, for proxies and browser filters.
// A URL is never widened to its host: phishing pages on shared hosts must
// not take the whole site down.
ctishare::Status write_url_list(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options) {
  LineWriter lines(out);
  for (std::string_view url : blockable_values(rows, options, stix::ObservableType::url))
    CTI_TRY_STATUS(lines.line(url));
  return lines.flush();
}

// ipset.restore: input for "ipset restore". For IPv4, then IPv6:
//   create <name>-v4 hash:net family inet -exist
//   create <name>-v4-new hash:net family inet -exist
//   flush <name>-v4-new
//   add <name>-v4-new <address or network>
//   swap <name>-v4-new <name>-v4
//   destroy <name>-v4-new
// The new set is built aside and swapped in atomically. Both sets are
// always written, empty or not: swapping in an empty set is how the last
// removal reaches the firewall.
ctishare::Status write_ipset(Sink& out, const std::vector<ListRow>& rows, const ExportOptions& options) {
  const std::string& name = options.ipset_name;
  // ipset names are at most 31 characters; "-v4-new" takes 7 of them.
  if (!is_name(name) || name.size() > 24)
    return Error(ErrorCategory::usage, "ipset name " + quote(name) + " is not 1-24 letters, digits, '-', '_' or '.'");
  LineWriter lines(out);
  const struct {
    stix::ObservableType type;
    const char* suffix;
    const char* family;
  } families[] = {{stix::ObservableType::ipv4, "-v4", "inet"}, {stix::ObservableType::ipv6, "-v6", "inet6"}};
  for (const auto& f : families) {
    const std::string set = name + f.suffix, next = set + "-new";
    CTI_TRY_STATUS(lines.line("create " + set + " hash:net family " + f.family + " -exist"));
    CTI_TRY_STATUS(lines.line("create " + next + " hash:net family " + f.family + " -exist"));
    CTI_TRY_STATUS(lines.line("flush " + next));
    for (std::string_view value : blockable_values(rows, options, f.type))
      CTI_TRY_STATUS(lines.line({"add ", next, " ", value}));
    CTI_TRY_STATUS(lines.line("swap " + next + " " + set));
    CTI_TRY_STATUS(lines.line("destroy " + next));
  }
  return lines.flush();
}

// removed.csv: what left the blocklists this run, and why:
//   value,type,removed_at,status,reason
// Cells through csv_cell, like threat_master.csv.
ctishare::Status write_removed_csv(Sink& out, const std::vector<Removal>& removals, const ExportOptions& options) {
  LineWriter lines(out);
  CTI_TRY_STATUS(lines.line("value,type,removed_at,status,reason"));
  for (const Removal& r : removals)
    CTI_TRY_STATUS(csv_record(lines, {r.value, stix::observable_type_name(r.type), r.removed_at, r.status, r.reason},
                              options.csv_raw));
  return lines.flush();
}

const std::vector<OutputFile>& output_files() {
  static const std::vector<OutputFile> files = {
      {"threat_master.csv", nullptr, false},  // written by publish(), a row at a time
      {"domains.txt", write_domain_list, true},
      {"hosts", write_hosts, true},
      {"rpz.zone", write_rpz, true},
      {"unbound.conf", write_unbound, true},
      {"suricata-domains.lst", write_suricata_dataset, true},
      {"urls.txt", write_url_list, true},
      {"ipset.restore", write_ipset, true},
  };
  return files;
}

}  // namespace ctishare::merge
