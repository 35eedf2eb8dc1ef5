// The allowlist: what must never be blocked (the bank's own sites, its
// payment processor, a partner's mail relay), each entry with the reason
// and an optional expiry. It vetoes in trust-score and again in every
// exporter. The file is CSV (RFC 4180) with a header row:
//
//   type,value,reason,expires
//   domain,bank.example,our own web sites,
//   host,login.partner.example,partner SSO,2027-01-31T00:00:00Z
//   cidr,192.0.2.0/24,our address space,
//   url-prefix,https://docs.example/shared/,shared documents,
//
// Types: host (exactly this host), domain (this host and every subdomain),
// cidr (an IPv4 or IPv6 network), url-prefix (URLs that start with it).
// Hosts are compared in canonical form (lower case, A-labels, no trailing
// dot), so "Bank.Example." and "bank.example" are the same entry. An empty
// expires never expires; an expired entry no longer vetoes.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ctishare/observable.h"
#include "ctishare/result.h"
#include "ctishare/time.h"

namespace ctishare::trust {

struct AllowEntry {
  enum class Type { host, domain, cidr, url_prefix };
  Type type = Type::host;
  std::string value;   // canonical: host name, "address/bits", or URL prefix
  std::string reason;
  std::optional<Timestamp> expires;
  std::size_t line = 0;  // in the file, for messages
  // cidr: the network
  bool v6 = false;
  std::array<std::uint8_t, 16> network{};
  int bits = 0;
};

std::string_view allow_type_name(AllowEntry::Type type);  // "host", "domain", "cidr", "url-prefix"

class Allowlist {
 public:
  Allowlist() = default;
  // Reads the CSV file. Errors (data, 65): a missing or wrong header, a row
  // with the wrong number of fields, an unknown type, a value that is not
  // one of its type (naming the line); no_input (66) for a missing file.
  static Result<Allowlist> load(const std::string& path);
  static Result<Allowlist> parse(std::string_view text, const std::string& origin);

  // The first entry, live at `now`, that covers the observable (domains
  // and URL hosts by host/domain entries, IP addresses and URL hosts that
  // are IP literals by cidr entries, URLs by url-prefix entries); nullptr
  // when none does. `observable` must be canonical (classify_observable).
  const AllowEntry* match(const stix::Observable& observable, const Timestamp& now) const;
  // The same for a canonical value of a known type, without copying it
  // (feed-merge asks for every row and every blocklist entry).
  const AllowEntry* match(stix::ObservableType type, std::string_view value, const Timestamp& now) const;

  // The first live entry covering any value a STIX pattern compares with
  // '=' or IN (domain-name, url, ipv4-addr, ipv6-addr values; ISSUBSET
  // ranges by their network address); nullptr when none does.
  const AllowEntry* match_pattern(std::string_view pattern, const Timestamp& now) const;

  const std::string& origin() const noexcept { return origin_; }
  std::size_t size() const noexcept { return entries_.size(); }
  const std::vector<AllowEntry>& entries() const noexcept { return entries_; }

 private:
  std::string origin_;
  std::vector<AllowEntry> entries_;
  // Where match() looks, as positions in entries_ in file order: host and
  // domain entries by their name, domain entries again as the parent of
  // the names under them, url-prefix entries that hold a whole host by
  // that host, cidr entries by family and length and then by network, so
  // a lookup costs a few hash probes per label or prefix length however
  // long the list (a bank's allowlist holds thousands of its own and its
  // partners' names and ranges); other prefixes are walked.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept { return std::hash<std::string_view>{}(name); }
  };
  using NameIndex = std::unordered_map<std::string, std::vector<std::size_t>, NameHash, std::equal_to<>>;
  NameIndex by_name_, by_parent_, by_url_host_;
  // What every host and domain entry's name has in common, so most names
  // that no entry covers are refused before any probe: the fewest and
  // most labels of those names, and their last labels.
  std::size_t name_labels_min_ = 0, name_labels_max_ = 0;
  std::vector<std::string> name_last_labels_;  // sorted, each once
  struct NetworkGroup {
    bool v6 = false;
    int bits = 0;
    NameIndex by_network;  // the network's first bits, as bytes
  };
  std::vector<NetworkGroup> networks_;
  std::vector<std::size_t> prefixes_;
  void index();
};

// The observables a pattern names with '=' or IN (and IP ranges with
// ISSUBSET): domain names, URLs, IP addresses, e-mail addresses and file
// hashes (MD5, SHA-1, SHA-256, SHA-512), canonicalised. Values that do not classify are left out, and
// when `refused` is given, why each was is added to it (e.g. "'co.uk' is a
// public suffix, not a domain that can be blocked").
std::vector<stix::Observable> observables_of_pattern(std::string_view pattern,
                                                     std::vector<std::string>* refused = nullptr);

}  // namespace ctishare::trust
