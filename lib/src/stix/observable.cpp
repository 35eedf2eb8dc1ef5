// Recognising, checking and canonicalising observables (libidn2 for
// internationalised names, libpsl for public suffixes, inet_pton for IPs).
#include "ctishare/observable.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <libpsl.h>

#include <algorithm>
#include <cstdlib>

#include "ctishare/pattern.h"

namespace ctishare::stix {

namespace {

constexpr std::size_t kMaxUrl = 4096;
constexpr std::size_t kMaxValue = 4096;

Error invalid(std::string_view value, std::string_view why) {
  std::string shown(value.substr(0, 80));
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  if (value.size() > 80) shown += "...";
  return Error(ErrorCategory::data, quote(shown) + ": " + std::string(why));
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

const psl_ctx_t* psl() {
  static const psl_ctx_t* ctx = [] {
    const psl_ctx_t* latest = psl_latest(nullptr);
    return latest != nullptr ? latest : psl_builtin();
  }();
  return ctx;
}

// Canonical host name: A-labels, lower case, no trailing dot, LDH labels
// (underscores allowed below the top level, as real phishing hosts use them).
Result<std::string> canonical_domain(std::string_view input, std::string_view whole) {
  std::string name(input);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) return invalid(whole, "empty host name");
  const bool ascii = std::all_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (!ascii) {
    char* out = nullptr;
    int rc = idn2_to_ascii_8z(name.c_str(), &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
      // Names registered under IDNA2003 rules (e.g. with a dotless i) still
      // resolve; accept them the way browsers do.
      rc = idn2_to_ascii_8z(name.c_str(), &out, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
    }
    if (rc != IDN2_OK) {
      std::string why = "not a valid internationalised domain name (";
      why += idn2_strerror(rc);
      why += ")";
      return invalid(whole, why);
    }
    name = out;
    idn2_free(out);
  }
  for (char& c : name) c = lower(c);
  if (name.size() > 253) return invalid(whole, "domain name longer than 253 characters");
  std::size_t start = 0;
  int labels = 0;
  std::string_view last;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    std::string_view label(name.data() + start, dot - start);
    if (label.empty()) return invalid(whole, "empty label in domain name");
    if (label.size() > 63) return invalid(whole, "domain label longer than 63 characters");
    if (label.front() == '-' || label.back() == '-') return invalid(whole, "domain label starts or ends with '-'");
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        return invalid(whole, c == '*' ? "wildcards cannot be shared as indicators"
                                       : "character " + quote(std::string(1, c)) + " is not allowed in a domain name");
    last = label;
    ++labels;
    start = dot + 1;
  }
  if (psl_is_public_suffix2(psl(), name.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
    return invalid(whole, "a public suffix, not a domain that can be blocked");
  if (labels < 2) return invalid(whole, "a single label is not a domain that can be blocked");
  if (last.find('_') != std::string_view::npos || std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return invalid(whole, "invalid top-level domain");
  return name;
}

Result<std::string> canonical_ipv4(std::string_view v, std::string_view whole) {
  std::string addr(v);
  int prefix = -1;
  if (auto slash = addr.find('/'); slash != std::string::npos) {
    std::string_view p(addr.data() + slash + 1, addr.size() - slash - 1);
    if (p.empty() || p.size() > 2 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return invalid(whole, "invalid CIDR prefix length");
    prefix = std::atoi(std::string(p).c_str());
    if (prefix > 32) return invalid(whole, "IPv4 prefix length above 32");
    if (prefix < 8) return invalid(whole, "an IPv4 range wider than /8 is unsafe to block");
    addr.resize(slash);
  }
  in_addr a{};
  if (inet_pton(AF_INET, addr.c_str(), &a) != 1) return invalid(whole, "not a valid IPv4 address");
  if (prefix >= 0 && prefix < 32) {
    std::uint32_t host = ntohl(a.s_addr);
    std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    if ((host & ~mask) != 0) return invalid(whole, "the CIDR range has host bits set");
    return addr + "/" + std::to_string(prefix);
  }
  return addr;  // /32 is the address itself
}

Result<std::string> canonical_ipv6(std::string_view v, std::string_view whole) {
  std::string addr(v);
  if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
  int prefix = -1;
  if (auto slash = addr.find('/'); slash != std::string::npos) {
    std::string_view p(addr.data() + slash + 1, addr.size() - slash - 1);
    if (p.empty() || p.size() > 3 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return invalid(whole, "invalid CIDR prefix length");
    prefix = std::atoi(std::string(p).c_str());
    if (prefix > 128) return invalid(whole, "IPv6 prefix length above 128");
    if (prefix < 16) return invalid(whole, "an IPv6 range wider than /16 is unsafe to block");
    addr.resize(slash);
  }
  in6_addr a{};
  if (inet_pton(AF_INET6, addr.c_str(), &a) != 1) return invalid(whole, "not a valid IPv6 address");
  if (prefix >= 0 && prefix < 128) {
    for (int bit = prefix; bit < 128; ++bit)
      if ((a.s6_addr[bit / 8] >> (7 - bit % 8)) & 1) return invalid(whole, "the CIDR range has host bits set");
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a, buf, sizeof buf);
  std::string out(buf);
  if (prefix >= 0 && prefix < 128) out += "/" + std::to_string(prefix);
  return out;
}

Result<std::string> canonical_email(std::string_view v, std::string_view whole) {
  auto at = v.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == v.size()) return invalid(whole, "not a valid e-mail address");
  std::string_view local = v.substr(0, at);
  if (local.size() > 64) return invalid(whole, "e-mail local part longer than 64 characters");
  for (char c : local)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '<' || c == '>' || c == '"' || c == '(' || c == ')' || c == ',' ||
        c == ';' || c == ':' || c == '[' || c == ']' || c == '@' || c == '\\')
      return invalid(whole, "e-mail address with a display name or special characters; give the bare address");
  auto domain = canonical_domain(v.substr(at + 1), whole);
  if (!domain) return std::move(domain).error();
  return std::string(local) + "@" + *domain;
}

Result<std::string> canonical_url(std::string_view v, std::string_view whole) {
  if (v.size() > kMaxUrl) return invalid(whole, "URL longer than 4096 characters");
  auto colon = v.find("://");
  if (colon == std::string_view::npos) return invalid(whole, "URL without a scheme; write it with http:// or https://");
  std::string scheme = to_lower(v.substr(0, colon));
  if (scheme.empty() || !(scheme[0] >= 'a' && scheme[0] <= 'z') ||
      !std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
      }))
    return invalid(whole, "invalid URL scheme");
  if (scheme == "hxxp" || scheme == "hxxps") return invalid(whole, "defanged URL; refang it first");
  std::string_view rest = v.substr(colon + 3);
  std::size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  std::string userinfo;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    userinfo = std::string(authority.substr(0, at + 1));
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  std::string port;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return invalid(whole, "unterminated IPv6 literal in URL");
    port = std::string(host.substr(close + 1));
    host = host.substr(0, close + 1);
  } else if (auto c = host.rfind(':'); c != std::string_view::npos) {
    port = std::string(host.substr(c));
    host = host.substr(0, c);
  }
  if (!port.empty()) {
    if (port[0] != ':' || port.size() > 6 || !std::all_of(port.begin() + 1, port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return invalid(whole, "invalid port in URL");
    if (port.size() == 1) port.clear();
  }
  if (host.empty()) return invalid(whole, "URL without a host");
  std::string canon_host;
  if (host.front() == '[') {
    auto h = canonical_ipv6(host, whole);
    if (!h) return std::move(h).error();
    canon_host = "[" + *h + "]";
  } else {
    in_addr a{};
    std::string hs(host);
    if (inet_pton(AF_INET, hs.c_str(), &a) == 1) {
      canon_host = hs;
    } else {
      // A URL's host may be a name directly under a public suffix owner,
      // but not a public suffix itself; canonical_domain checks that.
      auto h = canonical_domain(host, whole);
      if (!h) return std::move(h).error();
      canon_host = *h;
    }
  }
  std::string out = scheme + "://" + userinfo + canon_host + port;
  // Characters outside ASCII in the path and query are percent-encoded (RFC 3986).
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : tail) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || c == ' ') {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string_view observable_type_name(ObservableType type) {
  switch (type) {
    case ObservableType::domain: return "domain";
    case ObservableType::url: return "url";
    case ObservableType::ipv4: return "ipv4";
    case ObservableType::ipv6: return "ipv6";
    case ObservableType::email: return "email";
    case ObservableType::md5: return "md5";
    case ObservableType::sha1: return "sha1";
    case ObservableType::sha256: return "sha256";
    case ObservableType::sha512: return "sha512";
  }
  return "domain";
}

std::string_view observable_sco_type(ObservableType type) {
  switch (type) {
    case ObservableType::domain: return "domain-name";
    case ObservableType::url: return "url";
    case ObservableType::ipv4: return "ipv4-addr";
    case ObservableType::ipv6: return "ipv6-addr";
    case ObservableType::email: return "email-addr";
    default: return "file";
  }
}

std::string_view observable_hash_algorithm(ObservableType type) {
  switch (type) {
    case ObservableType::md5: return "MD5";
    case ObservableType::sha1: return "SHA-1";
    case ObservableType::sha256: return "SHA-256";
    case ObservableType::sha512: return "SHA-512";
    default: return "";
  }
}

std::optional<ObservableType> parse_observable_type(std::string_view name, bool* any_hash) {
  // Lower-cased in a stack buffer: this runs once per input row.
  char buf[16];
  if (name.size() >= sizeof buf) return std::nullopt;
  for (std::size_t i = 0; i < name.size(); ++i) buf[i] = lower(name[i]);
  const std::string_view n(buf, name.size());
  if (any_hash != nullptr) *any_hash = false;
  if (n == "domain" || n == "domain-name" || n == "hostname") return ObservableType::domain;
  if (n == "url" || n == "uri") return ObservableType::url;
  if (n == "ipv4" || n == "ipv4-addr" || n == "ip") return ObservableType::ipv4;
  if (n == "ipv6" || n == "ipv6-addr") return ObservableType::ipv6;
  if (n == "email" || n == "email-addr" || n == "e-mail") return ObservableType::email;
  if (n == "md5") return ObservableType::md5;
  if (n == "sha1" || n == "sha-1") return ObservableType::sha1;
  if (n == "sha256" || n == "sha-256") return ObservableType::sha256;
  if (n == "sha512" || n == "sha-512") return ObservableType::sha512;
  if (n == "hash" || n == "file") {
    if (any_hash != nullptr) *any_hash = true;
    return ObservableType::sha256;
  }
  return std::nullopt;
}

Result<Observable> classify_observable(std::string_view value, std::optional<ObservableType> hint, bool hint_any_hash) {
  if (value.empty()) return Error(ErrorCategory::data, "empty value");
  if (value.size() > kMaxValue) return invalid(value, "value longer than 4096 characters");
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return invalid(value, "control character in value");
    if (c == ' ') return invalid(value, "space in value");
  }
  // Hashes: only hex digits, of a known length.
  auto hash_type = [&]() -> std::optional<ObservableType> {
    if (!is_hex(value)) return std::nullopt;
    switch (value.size()) {
      case 32: return ObservableType::md5;
      case 40: return ObservableType::sha1;
      case 64: return ObservableType::sha256;
      case 128: return ObservableType::sha512;
      default: return std::nullopt;
    }
  };
  ObservableType type{};
  if (hint) {
    const bool wants_hash = hint_any_hash || *hint == ObservableType::md5 || *hint == ObservableType::sha1 ||
                            *hint == ObservableType::sha256 || *hint == ObservableType::sha512;
    if (wants_hash) {
      auto h = hash_type();
      if (!h || (!hint_any_hash && *h != *hint))
        return invalid(value, "not a valid " + std::string(hint_any_hash ? "MD5, SHA-1, SHA-256 or SHA-512" : observable_type_name(*hint)) +
                                  " hash (hex digits of the right length)");
      type = *h;
    } else {
      type = *hint;
    }
  } else if (auto h = hash_type()) {
    type = *h;
  } else if (value.find("://") != std::string_view::npos) {
    type = ObservableType::url;
  } else if (value.find(':') != std::string_view::npos) {
    type = ObservableType::ipv6;
  } else if (value.find('@') != std::string_view::npos) {
    type = ObservableType::email;
  } else if (std::all_of(value.begin(), value.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '/'; })) {
    type = ObservableType::ipv4;
  } else if (value.find('/') != std::string_view::npos) {
    return invalid(value, "looks like a URL without a scheme; write it with http:// or https://");
  } else {
    type = ObservableType::domain;
  }
  Result<std::string> canon = std::string();
  switch (type) {
    case ObservableType::domain: canon = canonical_domain(value, value); break;
    case ObservableType::url: canon = canonical_url(value, value); break;
    case ObservableType::ipv4: canon = canonical_ipv4(value, value); break;
    case ObservableType::ipv6: canon = canonical_ipv6(value, value); break;
    case ObservableType::email: canon = canonical_email(value, value); break;
    default: canon = to_lower(value); break;
  }
  if (!canon) return std::move(canon).error();
  return Observable{type, std::move(*canon)};
}

std::string observable_pattern(const Observable& o) {
  std::string out;
  append_observable_pattern(out, o.type, o.value);
  return out;
}

void append_observable_pattern(std::string& out, ObservableType type, std::string_view value) {
  switch (type) {
    case ObservableType::domain:
    case ObservableType::url:
    case ObservableType::email:
      pattern::append_equality(out, observable_sco_type(type), "value", value);
      return;
    case ObservableType::ipv4:
    case ObservableType::ipv6:
      if (value.find('/') != std::string_view::npos) {
        // A range matches every address inside it (§9.5 ISSUBSET).
        pattern::Comparison c{{std::string(observable_sco_type(type)), {"value"}}, pattern::Operator::issubset, std::string(value)};
        out += pattern::to_string(pattern::Observation{{c}});
        return;
      }
      pattern::append_equality(out, observable_sco_type(type), "value", value);
      return;
    case ObservableType::md5:
    case ObservableType::sha1:
    case ObservableType::sha256:
    case ObservableType::sha512: {
      // A name with a hyphen is quoted in the path (§9.4): hashes.'SHA-256'.
      const std::string_view algorithm = observable_hash_algorithm(type);
      const bool quoted = algorithm.find('-') != std::string_view::npos;
      char path[32] = "hashes.";  // on the stack: this runs once per row
      std::size_t n = 7;
      if (quoted) path[n++] = '\'';
      algorithm.copy(path + n, algorithm.size());
      n += algorithm.size();
      if (quoted) path[n++] = '\'';
      pattern::append_equality(out, "file", std::string_view(path, n), value);
      return;
    }
  }
}

}  // namespace ctishare::stix
