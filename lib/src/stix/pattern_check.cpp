// Semantic checks of parsed STIX patterns: what §6 and §9 require beyond
// the grammar. Every check is a forward walk over the arena of the parsed
// pattern (children come before parents), so nothing recurses and the work
// is linear in the size of the pattern; the only superlinear step is the
// compilation of MATCHES expressions, which PCRE2 bounds itself.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <bit>
#include <string>
#include <unordered_map>

#include "ctishare/object.h"
#include "ctishare/pattern_parser.h"
#include "stix/schema.h"

namespace ctishare::stix::pattern {

namespace {

using schema::Kind;
using schema::ObjectSchema;
using schema::Property;

// ---------------------------------------------------------------------------
// Tables

// The common properties every SCO may have (§3.2, §6).
const ObjectSchema& common_sco_properties() {
  static const ObjectSchema s{
      "sco-common",
      {{.name = "type", .kind = Kind::string},
       {.name = "id", .kind = Kind::identifier},
       {.name = "spec_version", .kind = Kind::string},
       {.name = "object_marking_refs", .kind = Kind::identifier_list, .targets = {"marking-definition"}},
       {.name = "granular_markings", .kind = Kind::granular_markings},
       {.name = "defanged", .kind = Kind::boolean},
       {.name = "extensions", .kind = Kind::extensions}}};
  return s;
}

// The SCO types of §6 by name.
const ObjectSchema* find_sco(std::string_view type) {
  static const auto index = [] {
    std::unordered_map<std::string_view, const ObjectSchema*> m;
    for (const auto& s : schema::sco_types()) m.emplace(s.name, &s);
    return m;
  }();
  const auto it = index.find(type);
  return it == index.end() ? nullptr : it->second;
}

// The spec-defined types that are not SCOs (§4, §5, §7, §8), from the type
// registry of object.h.
bool is_non_sco_type(std::string_view type) {
  const ObjectKind kind = kind_of(type);
  return kind != ObjectKind::sco && kind != ObjectKind::unknown && type.rfind("x-", 0) != 0;
}

// Names people write for SCO types.
struct Alias {
  std::string_view alias;
  std::string_view type;
};
constexpr std::array<Alias, 27> kTypeAliases = {{
    {"domain", "domain-name"},
    {"hostname", "domain-name"},
    {"host", "domain-name"},
    {"fqdn", "domain-name"},
    {"ip", "ipv4-addr"},
    {"ipv4", "ipv4-addr"},
    {"ipv6", "ipv6-addr"},
    {"ip-addr", "ipv4-addr"},
    {"ipv4-address", "ipv4-addr"},
    {"ipv6-address", "ipv6-addr"},
    {"email", "email-addr"},
    {"email-address", "email-addr"},
    {"mac", "mac-addr"},
    {"mac-address", "mac-addr"},
    {"x509", "x509-certificate"},
    {"certificate", "x509-certificate"},
    {"registry", "windows-registry-key"},
    {"registry-key", "windows-registry-key"},
    {"user", "user-account"},
    {"account", "user-account"},
    {"as", "autonomous-system"},
    {"asn", "autonomous-system"},
    {"uri", "url"},
    {"hash", "file"},
    {"filename", "file"},
    {"network", "network-traffic"},
    {"traffic", "network-traffic"},
}};

// Levenshtein distance, or a large number for long strings.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  constexpr std::size_t kMax = 64;
  if (a.size() > kMax || b.size() > kMax) return kMax;
  std::array<std::size_t, kMax + 1> prev{}, cur{};
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    prev = cur;
  }
  return prev[b.size()];
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// The standard SCO type an unknown type most likely meant, or "".
std::string_view close_sco_type(std::string_view type) {
  for (const auto& a : kTypeAliases)
    if (iequals(a.alias, type)) return a.type;
  std::string_view best;
  std::size_t best_distance = 3;
  for (const auto& s : schema::sco_types()) {
    if (iequals(s.name, type)) return s.name;
    const std::size_t d = edit_distance(type, s.name);
    if (type.size() >= 4 && d < best_distance) {
      best = s.name;
      best_distance = d;
    }
  }
  if (!best.empty()) return best;
  // "registry-key" of "windows-registry-key", "name" of "domain-name"...
  for (const auto& s : schema::sco_types()) {
    const std::string_view n = s.name;
    if (n.size() > type.size() && type.size() >= 3 &&
        ((n.substr(0, type.size()) == type && n[type.size()] == '-') ||
         (n.substr(n.size() - type.size()) == type && n[n.size() - type.size() - 1] == '-')))
      return n;
  }
  return {};
}

// Hash algorithms: the names of hash-algorithm-ov (§10.7) and a few older
// ones (STIX 2.0 hash-algorithm-ov), with the value format they need.
enum class HashFormat : std::uint8_t { hex, ssdeep, tlsh, none };
struct HashAlgorithm {
  std::string_view name;        // as the vocabulary writes it
  std::string_view normalized;  // upper case, no '-' or '_'
  bool in_vocabulary;           // a STIX 2.1 hash-algorithm-ov value
  HashFormat format;
  std::size_t hex_digits;
};
constexpr std::array<HashAlgorithm, 15> kHashAlgorithms = {{
    {"MD5", "MD5", true, HashFormat::hex, 32},
    {"SHA-1", "SHA1", true, HashFormat::hex, 40},
    {"SHA-256", "SHA256", true, HashFormat::hex, 64},
    {"SHA-512", "SHA512", true, HashFormat::hex, 128},
    {"SHA3-256", "SHA3256", true, HashFormat::hex, 64},
    {"SHA3-512", "SHA3512", true, HashFormat::hex, 128},
    {"SSDEEP", "SSDEEP", true, HashFormat::ssdeep, 0},
    {"TLSH", "TLSH", true, HashFormat::tlsh, 0},
    {"SHA-224", "SHA224", false, HashFormat::hex, 56},
    {"SHA-384", "SHA384", false, HashFormat::hex, 96},
    {"SHA3-224", "SHA3224", false, HashFormat::hex, 56},
    {"SHA3-384", "SHA3384", false, HashFormat::hex, 96},
    {"RIPEMD-160", "RIPEMD160", false, HashFormat::hex, 40},
    {"WHIRLPOOL", "WHIRLPOOL", false, HashFormat::hex, 128},
    {"MD6", "MD6", false, HashFormat::none, 0},
}};

const HashAlgorithm* find_hash_algorithm(std::string_view name) {
  char buf[32];
  std::size_t n = 0;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    if (n == sizeof buf) return nullptr;
    buf[n++] = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  }
  const std::string_view normalized(buf, n);
  for (const auto& h : kHashAlgorithms)
    if (h.normalized == normalized) return &h;
  return nullptr;
}

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool all_hex(std::string_view s) { return std::all_of(s.begin(), s.end(), is_hex_digit); }

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// ssdeep: "<blocksize>:<hash>:<hash>", both hashes base64 characters (the
// first at most 64, the second at most 32 by the ssdeep format, allowed up
// to 64), optionally followed by ',"<file name>"'.
bool valid_ssdeep(std::string_view v) {
  const std::size_t c1 = v.find(':');
  if (c1 == 0 || c1 == std::string_view::npos) return false;
  for (std::size_t i = 0; i < c1; ++i)
    if (v[i] < '0' || v[i] > '9') return false;
  const std::size_t c2 = v.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return false;
  std::size_t end = v.find(',', c2 + 1);
  if (end == std::string_view::npos) end = v.size();
  const std::string_view h1 = v.substr(c1 + 1, c2 - c1 - 1);
  const std::string_view h2 = v.substr(c2 + 1, end - c2 - 1);
  if (h1.size() > 64 || h2.size() > 64) return false;
  return std::all_of(h1.begin(), h1.end(), is_base64_char) && std::all_of(h2.begin(), h2.end(), is_base64_char);
}

// TLSH: 35 bytes as 70 hex digits (§10.7), optionally with the "T1"
// version prefix of TLSH 4; the 3-byte-checksum form has 74.
bool valid_tlsh(std::string_view v) {
  if (v.size() >= 2 && (v[0] == 'T' || v[0] == 't') && v[1] == '1') v.remove_prefix(2);
  return (v.size() == 70 || v.size() == 74) && all_hex(v);
}

std::string hash_format_text(const HashAlgorithm& h) {
  switch (h.format) {
    case HashFormat::hex:
      return std::to_string(h.hex_digits) + " hex digits";
    case HashFormat::ssdeep:
      return "blocksize:hash:hash";
    case HashFormat::tlsh:
      return "70 hex digits, optionally after 'T1'";
    case HashFormat::none:
      break;
  }
  return {};
}

bool valid_hash(const HashAlgorithm& h, std::string_view v) {
  switch (h.format) {
    case HashFormat::hex:
      return v.size() == h.hex_digits && all_hex(v);
    case HashFormat::ssdeep:
      return valid_ssdeep(v);
    case HashFormat::tlsh:
      return valid_tlsh(v);
    case HashFormat::none:
      return true;
  }
  return true;
}

// An IPv4 or IPv6 address, optionally with a CIDR prefix: 4 or 6, or 0.
int ip_family(std::string_view v) {
  const std::size_t slash = v.find('/');
  const std::string_view addr = v.substr(0, slash);
  if (addr.empty() || addr.size() >= 64) return 0;
  char buf[64];
  std::copy(addr.begin(), addr.end(), buf);
  buf[addr.size()] = '\0';
  unsigned char out[16];
  int family = 0;
  if (inet_pton(AF_INET, buf, out) == 1) {
    family = 4;
  } else if (inet_pton(AF_INET6, buf, out) == 1) {
    family = 6;
  } else {
    return 0;
  }
  if (slash == std::string_view::npos) return family;
  const std::string_view prefix = v.substr(slash + 1);
  if (prefix.empty() || prefix.size() > 3 || (prefix.size() > 1 && prefix[0] == '0')) return 0;
  int p = 0;
  for (char c : prefix) {
    if (c < '0' || c > '9') return 0;
    p = p * 10 + (c - '0');
  }
  return p <= (family == 4 ? 32 : 128) ? family : 0;
}

// Whether every code point of UTF-8 `s` is below U+0100 (§9.6.4).
bool fits_bytes(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) continue;
    if (c != 0xc2 && c != 0xc3) return false;
    ++i;
  }
  return true;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::string:
      return "a string";
    case Kind::string_list:
      return "a list of strings";
    case Kind::integer:
      return "an integer";
    case Kind::number:
      return "a number";
    case Kind::boolean:
      return "a boolean";
    case Kind::timestamp:
    case Kind::timestamp_ms:
      return "a timestamp";
    case Kind::identifier:
      return "a reference";
    case Kind::identifier_list:
      return "a list of references";
    case Kind::open_vocab:
      return "a vocabulary string";
    case Kind::open_vocab_list:
      return "a list of vocabulary strings";
    case Kind::enumeration:
      return "an enumeration string";
    case Kind::enumeration_list:
      return "a list of enumeration strings";
    case Kind::dictionary:
      return "a dictionary";
    case Kind::hashes:
      return "a hashes dictionary";
    case Kind::binary:
      return "binary data";
    case Kind::hex:
      return "hex data";
    case Kind::external_references:
      return "a list of external references";
    case Kind::kill_chain_phases:
      return "a list of kill chain phases";
    case Kind::granular_markings:
      return "a list of granular markings";
    case Kind::extensions:
      return "an extensions dictionary";
    case Kind::object:
      return "an object";
    case Kind::object_list:
      return "a list of objects";
    case Kind::scalar:
      return "a string or an integer";
    case Kind::language:
      return "a language tag";
    case Kind::language_list:
      return "a list of language tags";
    case Kind::any:
      break;
  }
  return "a value";
}

const char* literal_name(LiteralKind k) {
  switch (k) {
    case LiteralKind::string:
      return "a string";
    case LiteralKind::integer:
      return "an integer";
    case LiteralKind::floating:
      return "a float";
    case LiteralKind::boolean:
      return "a boolean";
    case LiteralKind::binary:
      return "a binary constant";
    case LiteralKind::hex:
      return "a hex constant";
    case LiteralKind::timestamp:
      return "a timestamp";
  }
  return "a constant";
}

bool is_list_kind(Kind k) {
  switch (k) {
    case Kind::string_list:
    case Kind::identifier_list:
    case Kind::open_vocab_list:
    case Kind::enumeration_list:
    case Kind::language_list:
    case Kind::object_list:
    case Kind::external_references:
    case Kind::kill_chain_phases:
    case Kind::granular_markings:
      return true;
    default:
      return false;
  }
}

// The kind of one item of a list kind.
Kind element_kind(Kind k) {
  switch (k) {
    case Kind::string_list:
      return Kind::string;
    case Kind::identifier_list:
      return Kind::identifier;
    case Kind::open_vocab_list:
      return Kind::open_vocab;
    case Kind::enumeration_list:
      return Kind::enumeration;
    case Kind::language_list:
      return Kind::language;
    case Kind::object_list:
      return Kind::object;
    default:
      return Kind::any;
  }
}

bool is_string_kind(Kind k) {
  return k == Kind::string || k == Kind::open_vocab || k == Kind::enumeration || k == Kind::language;
}
bool is_binary_kind(Kind k) { return k == Kind::binary || k == Kind::hex; }
bool is_numeric_literal(LiteralKind k) { return k == LiteralKind::integer || k == LiteralKind::floating; }

std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '\'';
  // Names and values come from the pattern: keep messages one line and short.
  std::size_t n = 0;
  for (char c : s) {
    if (++n > 80) {
      out += "...";
      break;
    }
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  out += '\'';
  return out;
}

// SCO properties STIX 2.0 had under another name.
struct Renamed {
  std::string_view owner;
  std::string_view old_name;
  std::string_view new_name;
};
constexpr std::array<Renamed, 9> kRenamed = {{
    {"file", "created", "ctime"},
    {"file", "modified", "mtime"},
    {"file", "accessed", "atime"},
    {"directory", "created", "ctime"},
    {"directory", "modified", "mtime"},
    {"directory", "accessed", "atime"},
    {"process", "created", "created_time"},
    {"user-account", "password_last_changed", "credential_last_changed"},
    {"windows-registry-key", "modified", "modified_time"},
}};

// ---------------------------------------------------------------------------
// Path resolution

// What an object path leads to, as far as the tables know.
struct Leaf {
  bool known = false;       // the path resolved to a property of a spec-defined structure
  Kind kind = Kind::any;    // kind of the value compared (an item's kind after an index)
  bool whole_list = false;  // a list property without an index step
  const Property* property = nullptr;
  std::string_view owner;               // the structure the property belongs to ("file", "archive-ext"...)
  const HashAlgorithm* hash = nullptr;  // a value of hashes.<algorithm>
  bool is_hash_value = false;
  std::string_view hash_name;
  bool ipv4_value = false;  // the value property of ipv4-addr
  bool ipv6_value = false;
};

class Checker {
 public:
  Checker(const ParsedPattern& p, std::vector<Issue>& issues) : p_(p), issues_(issues) {}

  void run() {
    const std::size_t first_issue = issues_.size();
    for (const Test& t : p_.tests) check_test(t);
    check_same_type();
    check_qualifiers();
    std::stable_sort(issues_.begin() + static_cast<std::ptrdiff_t>(first_issue), issues_.end(),
                     [](const Issue& a, const Issue& b) { return a.column < b.column; });
  }

 private:
  void add(IssueKind kind, std::size_t column, std::string message) {
    issues_.push_back(Issue{kind, column, std::move(message)});
  }

  // --- one comparison ------------------------------------------------------

  void check_test(const Test& t) {
    const std::string_view type = p_.text(t.path.type);
    Leaf leaf;
    const ObjectSchema* sco = find_sco(type);
    if (sco != nullptr) {
      leaf = resolve(t, *sco);
    } else {
      check_type_name(t, type);
    }
    if (t.op == TestOperator::exists) return;
    const auto lits = p_.literals_of(t);
    if (t.op == TestOperator::in) check_in_set(lits);
    if (t.op == TestOperator::matches) check_regex(lits[0], leaf);
    if (t.op == TestOperator::issubset || t.op == TestOperator::issuperset) check_ip_set(t, lits[0], leaf, sco);
    if (leaf.is_hash_value) check_hash(t, lits, leaf);
    if (leaf.known) check_literal_kinds(t, lits, leaf);
  }

  void check_type_name(const Test& t, std::string_view type) {
    bool format = type.size() >= 3 && type.size() <= 250 && type[0] >= 'a' && type[0] <= 'z';
    for (char c : type) format = format && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    if (!format) {
      std::string m = "invalid object type " + quoted(type);
      const ObjectSchema* folded = nullptr;
      for (const auto& s : schema::sco_types())
        if (iequals(s.name, type)) folded = &s;
      if (folded != nullptr) {
        m += " (type names are lower case: " + quoted(folded->name) + ")";
      } else {
        m += " (type names are 3-250 characters of a-z, 0-9 and '-', starting with a letter)";
      }
      add(IssueKind::error, t.path.column, std::move(m));
      return;
    }
    if (is_non_sco_type(type)) {
      add(IssueKind::error, t.path.column,
          quoted(type) + " is not a cyber-observable type (patterns match SCOs of section 6)");
      return;
    }
    std::string m = "unknown object type " + quoted(type);
    const std::string_view close = suggestions_left_ > 0 ? close_sco_type(type) : std::string_view();
    if (suggestions_left_ > 0) --suggestions_left_;
    if (!close.empty()) {
      m += " (a custom type? " + quoted(close) + " is the STIX type)";
    } else {
      m += " (not a STIX cyber-observable type; a custom type?)";
    }
    add(IssueKind::custom_object, t.path.column, std::move(m));
  }

  // Up to this many schemas a path step can be in (the targets of a reference).
  static constexpr std::size_t kMaxCandidates = 8;
  struct Candidates {
    std::array<const ObjectSchema*, kMaxCandidates> schema{};
    std::size_t size = 0;
    bool sco = false;  // top-level SCO schemas: the common SCO properties apply too
    void set(const ObjectSchema* s, bool is_sco) {
      schema[0] = s;
      size = 1;
      sco = is_sco;
    }
  };

  // Finds `name` in the candidates; keeps only the candidates that have it.
  const Property* lookup(Candidates& c, std::string_view name, std::string_view& owner) {
    const Property* found = nullptr;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < c.size; ++i) {
      const Property* p = schema::find_property(*c.schema[i], name);
      if (p == nullptr) continue;
      if (found == nullptr) {
        found = p;
        owner = c.schema[i]->name;
      }
      c.schema[kept++] = c.schema[i];
    }
    if (found != nullptr) {
      c.size = kept;
      return found;
    }
    if (c.sco) {
      const Property* p = schema::find_property(common_sco_properties(), name);
      if (p != nullptr) owner = c.size != 0 ? c.schema[0]->name : std::string_view("sco");
      return p;
    }
    return nullptr;
  }

  static std::string_view renamed_property(const Candidates& c, std::string_view name) {
    for (std::size_t i = 0; i < c.size; ++i)
      for (const auto& r : kRenamed)
        if (r.owner == c.schema[i]->name && r.old_name == name) return r.new_name;
    return {};
  }

  std::string owner_names(const Candidates& c) const {
    std::string out;
    for (std::size_t i = 0; i < c.size; ++i) {
      if (i != 0) out += i + 1 == c.size ? " or " : ", ";
      out += quoted(c.schema[i]->name);
    }
    return out;
  }

  void unknown_property(const PathStep& step, std::string_view name, const Candidates& c) {
    std::string m = "unknown property " + quoted(name) + " of " + owner_names(c);
    // A close name among the candidates' properties.
    std::string_view best;
    std::size_t best_distance = 3;
    for (std::size_t i = 0; i < c.size && suggestions_left_ > 0; ++i) {
      for (const auto& prop : c.schema[i]->properties) {
        const std::size_t d = iequals(prop.name, name) ? 0 : edit_distance(name, prop.name);
        if (d < best_distance) {
          best = prop.name;
          best_distance = d;
        }
      }
    }
    if (suggestions_left_ > 0) --suggestions_left_;
    const std::string_view renamed = renamed_property(c, name);
    if (!renamed.empty()) {
      m += " (a STIX 2.0 name; STIX 2.1 has " + quoted(renamed) + ")";
    } else if (!best.empty() && name.size() >= 3) {
      m += " (did you mean " + quoted(best) + "?)";
    } else if (find_hash_algorithm(name) != nullptr) {
      m += " (hashes are written hashes.'SHA-256', hashes.MD5...)";
    } else {
      m += " (a custom property?)";
    }
    add(IssueKind::custom_property, step.column, std::move(m));
  }

  Leaf resolve(const Test& t, const ObjectSchema& sco) {
    Leaf leaf;
    const auto steps = p_.steps_of(t);
    Candidates c;
    c.set(&sco, true);
    std::string_view owner;
    const std::string_view first = p_.text(steps[0].name);
    const Property* prop = lookup(c, first, owner);
    if (prop == nullptr) {
      unknown_property(steps[0], first, c);
      return leaf;
    }
    bool item = false;  // prop is a list and an index step took one item
    for (std::size_t k = 1; k < steps.size(); ++k) {
      const PathStep& s = steps[k];
      const bool list = is_list_kind(prop->kind);
      if (list && !item) {
        if (s.kind == StepKind::property) return leaf;  // a name on a whole list: never resolves
        item = true;
        continue;
      }
      if (s.kind != StepKind::property) {
        if (prop->kind == Kind::dictionary || prop->kind == Kind::any) return leaf;
        add(IssueKind::custom_property, s.column,
            quoted(prop->name) + " of " + quoted(owner) + " is " + kind_name(prop->kind) + ", not a list");
        return leaf;
      }
      const std::string_view name = p_.text(s.name);
      const Kind value_kind = item ? element_kind(prop->kind) : prop->kind;
      switch (value_kind) {
        case Kind::hashes: {
          if (k + 1 != steps.size()) return leaf;
          leaf.is_hash_value = true;
          leaf.hash_name = name;
          leaf.hash = find_hash_algorithm(name);
          check_hash_name(s, name, leaf.hash);
          return leaf;
        }
        case Kind::extensions: {
          const ObjectSchema* ext = nullptr;
          for (std::size_t i = 0; i < c.size && ext == nullptr; ++i)
            ext = schema::find_extension(c.schema[i]->name, name);
          if (ext == nullptr) {
            if (name.substr(0, 22) != "extension-definition--")
              add(IssueKind::custom_property, s.column,
                  "unknown extension " + quoted(name) + " of " + owner_names(c) +
                      " (not a predefined extension; custom extensions are keyed by an extension-definition id)");
            return leaf;
          }
          c.set(ext, false);
          owner = ext->name;
          if (++k == steps.size()) {
            leaf.known = true;
            leaf.kind = Kind::object;
            return leaf;
          }
          const PathStep& next = steps[k];
          if (next.kind != StepKind::property) return leaf;
          const std::string_view next_name = p_.text(next.name);
          prop = lookup(c, next_name, owner);
          if (prop == nullptr) {
            unknown_property(next, next_name, c);
            return leaf;
          }
          item = false;
          continue;
        }
        case Kind::object:
          if (prop->nested == nullptr) return leaf;
          c.set(prop->nested, false);
          break;
        case Kind::identifier: {
          Candidates targets;
          for (std::string_view target : prop->targets) {
            const ObjectSchema* ts = find_sco(target);
            if (ts != nullptr && targets.size < kMaxCandidates) targets.schema[targets.size++] = ts;
          }
          if (targets.size != prop->targets.size() || targets.size == 0) {
            // Any SCO (or a kind such as "@sco"): only the common properties are known.
            if (schema::find_property(common_sco_properties(), name) == nullptr) return leaf;
            targets.size = 0;
          }
          targets.sco = true;
          c = targets;
          break;
        }
        case Kind::dictionary:
        case Kind::any:
        case Kind::external_references:
        case Kind::kill_chain_phases:
        case Kind::granular_markings:
        case Kind::object_list:
          return leaf;
        default:
          add(IssueKind::custom_property, s.column,
              quoted(prop->name) + " of " + quoted(owner) + " is " + kind_name(value_kind) + " and has no property " +
                  quoted(name));
          return leaf;
      }
      const Property* next = lookup(c, name, owner);
      if (next == nullptr) {
        if (c.size != 0) unknown_property(s, name, c);
        return leaf;
      }
      prop = next;
      item = false;
    }
    leaf.known = true;
    leaf.property = prop;
    leaf.owner = owner;
    if (is_list_kind(prop->kind) && !item) {
      leaf.whole_list = true;
      leaf.kind = prop->kind;
    } else {
      leaf.kind = item ? element_kind(prop->kind) : prop->kind;
    }
    leaf.ipv4_value = prop->name == "value" && owner == "ipv4-addr";
    leaf.ipv6_value = prop->name == "value" && owner == "ipv6-addr";
    // A reference to several types (network-traffic:src_ref.value) may be
    // either address type.
    for (std::size_t i = 0; i < c.size && prop->name == "value"; ++i) {
      leaf.ipv4_value = leaf.ipv4_value || c.schema[i]->name == "ipv4-addr";
      leaf.ipv6_value = leaf.ipv6_value || c.schema[i]->name == "ipv6-addr";
    }
    return leaf;
  }

  void check_hash_name(const PathStep& s, std::string_view name, const HashAlgorithm* h) {
    if (h != nullptr && h->in_vocabulary && h->name == name) return;
    std::string m = "hash algorithm " + quoted(name) + " is not in hash-algorithm-ov";
    if (h != nullptr && h->in_vocabulary) m += " (the name is " + quoted(h->name) + ")";
    add(IssueKind::custom_property, s.column, std::move(m));
  }

  void check_hash(const Test& t, std::span<const Literal> lits, const Leaf& leaf) {
    if (t.op != TestOperator::equal && t.op != TestOperator::not_equal && t.op != TestOperator::in) return;
    for (const Literal& l : lits) {
      if (l.kind != LiteralKind::string) {
        add(IssueKind::literal_type, l.column,
            "a hash value is a string; " + std::string(literal_name(l.kind)) + " never matches it");
        return;
      }
      if (leaf.hash == nullptr) continue;
      const std::string_view v = p_.text(l.text);
      if (!valid_hash(*leaf.hash, v))
        add(IssueKind::error, l.column,
            quoted(v) + " is not a valid " + std::string(leaf.hash->name) + " hash (" + hash_format_text(*leaf.hash) +
                ")");
    }
  }

  void check_in_set(std::span<const Literal> lits) {
    for (std::size_t i = 1; i < lits.size(); ++i) {
      const bool same =
          lits[i].kind == lits[0].kind || (is_numeric_literal(lits[i].kind) && is_numeric_literal(lits[0].kind));
      if (!same) {
        add(IssueKind::error, lits[i].column,
            "the constants of an IN set must be of one type: " + std::string(literal_name(lits[i].kind)) + " after " +
                literal_name(lits[0].kind));
        return;
      }
    }
  }

  void check_regex(const Literal& l, const Leaf& leaf) {
    const std::string_view re = p_.text(l.text);
    // §9.6.1: DOTALL always; UNICODE off for binary properties.
    std::uint32_t options = PCRE2_DOTALL;
    if (!(leaf.known && is_binary_kind(leaf.kind))) options |= PCRE2_UTF;
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* compiled =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(), options, &code, &offset, nullptr);
    if (compiled != nullptr) {
      pcre2_code_free(compiled);
      return;
    }
    PCRE2_UCHAR buf[256];
    const int n = pcre2_get_error_message(code, buf, sizeof buf);
    std::string m = "invalid regular expression: ";
    m += n > 0 ? std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n))
               : std::string("error ") + std::to_string(code);
    m += " at offset " + std::to_string(offset);
    add(IssueKind::error, l.column, std::move(m));
  }

  void check_ip_set(const Test& t, const Literal& l, const Leaf& leaf, const ObjectSchema* sco) {
    const std::string_view op = t.op == TestOperator::issubset ? "ISSUBSET" : "ISSUPERSET";
    const int family = ip_family(p_.text(l.text));
    if (family == 0) {
      add(IssueKind::error, l.column,
          "the constant of " + std::string(op) + " must be an IPv4 or IPv6 address or CIDR block, not " +
              quoted(p_.text(l.text)));
      return;
    }
    if (sco == nullptr) return;  // a custom type: its properties are unknown
    if (leaf.known && !leaf.ipv4_value && !leaf.ipv6_value) {
      add(IssueKind::error, t.op_column,
          "the path of " + std::string(op) + " must be the value of an ipv4-addr or ipv6-addr, not " +
              quoted(leaf.property != nullptr ? leaf.property->name : std::string_view("this path")) + " of " +
              quoted(leaf.owner));
      return;
    }
    if (leaf.known && ((family == 4 && !leaf.ipv4_value) || (family == 6 && !leaf.ipv6_value)))
      add(IssueKind::error, l.column,
          std::string("an IPv") + (family == 4 ? "4" : "6") + " constant cannot be compared with the value of " +
              (leaf.ipv4_value ? "an ipv4-addr" : "an ipv6-addr"));
  }

  void check_literal_kinds(const Test& t, std::span<const Literal> lits, const Leaf& leaf) {
    if (leaf.property == nullptr) return;
    // Built only when there is something to report (this is the hot path).
    const auto where = [&] { return quoted(leaf.property->name) + " of " + quoted(leaf.owner); };
    if (leaf.whole_list) {
      add(IssueKind::literal_type, t.op_column,
          where() + " is " + kind_name(leaf.kind) + "; compare its items with " + std::string(leaf.property->name) +
              "[*]");
      return;
    }
    const Kind k = leaf.kind;
    const bool judged = is_string_kind(k) || k == Kind::integer || k == Kind::number || k == Kind::boolean ||
                        k == Kind::timestamp || k == Kind::timestamp_ms || is_binary_kind(k);
    if (!judged) return;
    switch (t.op) {
      case TestOperator::less:
      case TestOperator::less_equal:
      case TestOperator::greater:
      case TestOperator::greater_equal:
        if (k == Kind::boolean) {
          add(IssueKind::literal_type, t.op_column, where() + " is a boolean and cannot be ordered");
          return;
        }
        break;
      case TestOperator::like:
      case TestOperator::matches:
        if (!is_string_kind(k) && !(t.op == TestOperator::matches && is_binary_kind(k))) {
          add(IssueKind::literal_type, t.op_column,
              where() + " is " + kind_name(k) + "; " + (t.op == TestOperator::like ? "LIKE" : "MATCHES") +
                  " compares strings");
        }
        return;
      case TestOperator::issubset:
      case TestOperator::issuperset:
      case TestOperator::exists:
        return;
      default:
        break;
    }
    for (const Literal& l : lits) {
      bool ok = true;
      if (is_string_kind(k)) {
        ok = l.kind == LiteralKind::string;
      } else if (k == Kind::integer || k == Kind::number) {
        ok = is_numeric_literal(l.kind);
      } else if (k == Kind::boolean) {
        ok = l.kind == LiteralKind::boolean;
      } else if (k == Kind::timestamp || k == Kind::timestamp_ms) {
        ok = l.kind == LiteralKind::timestamp;
      } else if (is_binary_kind(k)) {
        ok = l.kind == LiteralKind::binary || l.kind == LiteralKind::hex ||
             (l.kind == LiteralKind::string && fits_bytes(p_.text(l.text)));
        if (!ok && l.kind == LiteralKind::string) {
          add(IssueKind::literal_type, l.column,
              where() + " is " + kind_name(k) + "; a string with code points above U+00FF never matches it");
          return;
        }
      }
      if (!ok) {
        std::string m = where() + " is " + kind_name(k) + "; " + literal_name(l.kind) + " never matches it";
        if ((k == Kind::timestamp || k == Kind::timestamp_ms) && l.kind == LiteralKind::string) m += " (use t'...')";
        add(IssueKind::literal_type, l.column, std::move(m));
        return;
      }
      if (k == Kind::integer && l.kind == LiteralKind::integer &&
          (t.op == TestOperator::equal || t.op == TestOperator::in || t.op == TestOperator::not_equal) &&
          (l.integer < leaf.property->min || l.integer > leaf.property->max)) {
        constexpr std::int64_t kStixMax = (std::int64_t{1} << 53) - 1;  // §2.10
        std::string m = "value " + std::to_string(l.integer) + " is outside the range of " + where() + " (";
        if (leaf.property->max != kStixMax) {
          m += std::to_string(leaf.property->min) + " to " + std::to_string(leaf.property->max);
        } else if (leaf.property->min != -kStixMax) {
          m += std::to_string(leaf.property->min) + " or more";
        } else {
          m += "STIX integers are 54-bit";
        }
        m += ')';
        add(IssueKind::literal_type, l.column, std::move(m));
        return;
      }
    }
  }

  // --- one object type per AND (§9.5) -----------------------------------

  void check_same_type() {
    const std::size_t n = p_.comparisons.size();
    if (n < 3) return;  // an AND needs two tests and its own node
    // A bit per distinct object type (the first 64; later ones match any).
    std::array<std::string_view, 64> types;
    std::size_t type_count = 0;
    auto type_bit = [&](std::string_view type) -> std::uint64_t {
      for (std::size_t i = 0; i < type_count; ++i)
        if (types[i] == type) return std::uint64_t{1} << i;
      if (type_count == types.size()) return ~std::uint64_t{0};
      types[type_count] = type;
      return std::uint64_t{1} << type_count++;
    };
    auto type_name = [&](std::uint64_t mask) { return types[static_cast<std::size_t>(std::countr_zero(mask))]; };
    std::array<std::uint64_t, 128> small{};
    std::vector<std::uint64_t> large;
    std::uint64_t* mask = small.data();
    if (n > small.size()) {
      large.resize(n);
      mask = large.data();
    }
    for (std::size_t i = 0; i < n; ++i) {
      const ComparisonNode& c = p_.comparisons[i];
      if (c.kind == ComparisonKind::test) {
        mask[i] = type_bit(p_.text(p_.tests[c.test].path.type));
        continue;
      }
      const auto ops = p_.operands_of(c);
      std::uint64_t m = mask[ops[0]];
      for (std::size_t k = 1; k < ops.size(); ++k) {
        const std::uint64_t o = mask[ops[k]];
        if (c.kind == ComparisonKind::or_) {
          m |= o;
        } else if ((m & o) == 0) {
          const ComparisonNode& operand = p_.comparisons[ops[k]];
          add(IssueKind::error, operand.column,
              "comparisons joined by AND must be on one object type (" + quoted(type_name(o)) + " after " +
                  quoted(type_name(m)) + "); join different types with OR");
          m |= o;  // reported: do not report the same clash again higher up
        } else {
          m &= o;
        }
      }
      mask[i] = m;
    }
  }

  // --- qualifiers ----------------------------------------------------------

  void check_qualifiers() {
    for (const Qualifier& q : p_.qualifiers) {
      const Literal& l = p_.literals[q.literal];
      switch (q.kind) {
        case QualifierKind::within:
          if (l.number <= 0)
            add(IssueKind::error, l.column, "the WITHIN window must be a positive number of seconds, not 0");
          break;
        case QualifierKind::repeats:
          if (l.integer <= 0) add(IssueKind::error, l.column, "the REPEATS count must be a positive integer, not 0");
          break;
        case QualifierKind::start_stop: {
          const Literal& stop = p_.literals[q.literal + 1];
          if (!(l.timestamp < stop.timestamp))
            add(IssueKind::error, l.column,
                "the START time t'" + std::string(p_.text(l.text)) + "' is not before the STOP time t'" +
                    std::string(p_.text(stop.text)) + "'");
          break;
        }
      }
    }
  }

  const ParsedPattern& p_;
  std::vector<Issue>& issues_;
  // Close-name suggestions cost an edit distance per known name; a pattern
  // of many unknown names gets them for the first few only.
  int suggestions_left_ = 16;
};

}  // namespace

std::string_view to_string(IssueKind kind) {
  switch (kind) {
    case IssueKind::error:
      return "error";
    case IssueKind::custom_object:
      return "custom-object";
    case IssueKind::custom_property:
      return "custom-property";
    case IssueKind::literal_type:
      return "literal-type";
  }
  return "error";
}

void check(const ParsedPattern& pattern, std::vector<Issue>& issues) {
  if (pattern.root == kNoNode) return;
  Checker(pattern, issues).run();
}

std::vector<Issue> check(const ParsedPattern& pattern) {
  std::vector<Issue> issues;
  check(pattern, issues);
  return issues;
}

std::vector<Issue> parse_and_check(std::string_view text, const ParseOptions& options) {
  ParsedPattern p;
  ParseError e;
  std::vector<Issue> issues;
  if (!parse(text, p, e, options)) {
    issues.push_back(Issue{IssueKind::error, e.column, std::move(e.message)});
    return issues;
  }
  check(p, issues);
  return issues;
}

bool has_errors(const std::vector<Issue>& issues) {
  return std::any_of(issues.begin(), issues.end(), [](const Issue& i) { return i.kind == IssueKind::error; });
}

}  // namespace ctishare::stix::pattern
