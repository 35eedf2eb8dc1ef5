// STIX 2.1 validation: one pass over each object against the property
// tables of schema.h, the common properties of its kind (§3.2), the rules
// between properties, and, across objects, the versioning rules of §3.6.
#include "ctishare/validate.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <istream>
#include <unordered_map>
#include <unordered_set>

#include "ctishare/file.h"
#include "ctishare/marking.h"
#include "ctishare/object.h"
#include "ctishare/time.h"
#include "ctishare/uuid.h"
#include "stix/pattern_validation.h"
#include "stix/schema.h"
#include "stix/vocabulary.h"

namespace ctishare::stix {

namespace {

using schema::Kind;
using schema::ObjectSchema;
using schema::Property;

// The checks this file raises, looked up once.
struct Checks {
  const Check* json = find_check("E001");
  const Check* not_stix = find_check("E002");
  const Check* bundle = find_check("E003");
  const Check* missing = find_check("E010");
  const Check* type = find_check("E011");
  const Check* empty = find_check("E012");
  const Check* identifier = find_check("E013");
  const Check* timestamp = find_check("E014");
  const Check* precision = find_check("E015");
  const Check* order = find_check("E016");
  const Check* range = find_check("E017");
  const Check* name = find_check("E018");
  const Check* reserved = find_check("E019");
  const Check* not_applicable = find_check("E020");
  const Check* enumeration = find_check("E021");
  const Check* reference = find_check("E022");
  const Check* hash = find_check("E023");
  const Check* encoding = find_check("E024");
  const Check* marking = find_check("E025");
  const Check* selector = find_check("E026");
  const Check* pattern = find_check("E027");
  const Check* constraint = find_check("E028");
  const Check* spec_version = find_check("E029");
  const Check* extension = find_check("E030");
  const Check* external_reference = find_check("E031");
  const Check* language = find_check("E032");
  const Check* value = find_check("E033");
  const Check* version_conflict = find_check("E040");
  const Check* after_revocation = find_check("E041");
  const Check* created_changed = find_check("E042");
  const Check* is_family = find_check("E050");
  const Check* custom_prefix = find_check("W101");
  const Check* uuid = find_check("W103");
  const Check* vocab_format = find_check("W111");
  const Check* kill_chain = find_check("W121");
  const Check* relationship_type = find_check("W202");
  const Check* duplicate = find_check("W203");
  const Check* hash_algo = find_check("W241");
  const Check* extref_hashes = find_check("W302");
  const Check* deprecated = find_check("W304");
  const Check* extensions_use = find_check("W401");
  const Check* sco_id = find_check("W501");
  const Check* version_order = find_check("W502");
  const Check* pattern_custom = find_check("W503");
  const Check* spec_2_0 = find_check("W504");
  const Check* tlp1 = find_check("W505");
  const Check* pattern_literal = find_check("W506");
  const Check* unchecked_extension = find_check("W507");
};

const Checks& checks() {
  static const Checks c;
  return c;
}

constexpr std::string_view kTlp2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

// --- small predicates --------------------------------------------------

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// §3.1 / §11.1: 3-250 characters of [a-z0-9_], starting with a letter.
bool valid_property_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 250 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_lower_alnum(c) || c == '_'; });
}

// §3.1 / §11.2 / §7.3: 3-250 characters of [a-z0-9-], starting with a
// letter, no "--".
bool valid_type_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 250 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  if (name.find("--") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// Open-vocabulary values outside the list SHOULD be lower case with hyphens.
bool lower_hyphenated(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// §2.3: dictionary keys are ASCII [a-zA-Z0-9_-], at most 250 characters.
bool valid_dictionary_key(std::string_view key) {
  if (key.empty() || key.size() > 250) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-'; });
}

bool is_reserved(std::string_view name) {
  return name == "severity" || name == "username" || name == "phone_number" || name == "action";
}

// RFC 5646, in the shape that matters here: a primary subtag of 2-8 letters
// (or the "x" / "i" singletons), then subtags of 1-8 letters or digits.
bool valid_language_tag(std::string_view tag) {
  std::size_t start = 0;
  bool first = true;
  while (start <= tag.size()) {
    std::size_t end = tag.find('-', start);
    if (end == std::string_view::npos) end = tag.size();
    std::string_view sub = tag.substr(start, end - start);
    if (sub.empty() || sub.size() > 8) return false;
    if (first) {
      if (!std::all_of(sub.begin(), sub.end(), is_alpha)) return false;
      if (sub.size() == 1 && sub != "x" && sub != "i" && sub != "X" && sub != "I") return false;
    } else if (!std::all_of(sub.begin(), sub.end(), [](char c) { return is_alpha(c) || (c >= '0' && c <= '9'); })) {
      return false;
    }
    first = false;
    if (end == tag.size()) break;
    start = end + 1;
  }
  return !tag.empty();
}

bool is_hex(std::string_view s, bool lower_only) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (!lower_only && c >= 'A' && c <= 'F');
  });
}

bool valid_base64(std::string_view s) {
  if (s.size() % 4 != 0) return false;
  std::size_t pad = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return false;  // data after padding
    if (!(is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '/')) return false;
  }
  return pad <= 2;
}

// The expected length of a hash value in hex digits, by algorithm name as
// hashing-algorithm-ov writes it; 0 when the format is not a plain length.
std::size_t hex_hash_length(std::string_view algorithm) {
  if (algorithm == "MD5") return 32;
  if (algorithm == "SHA-1") return 40;
  if (algorithm == "SHA-256" || algorithm == "SHA3-256") return 64;
  if (algorithm == "SHA-512" || algorithm == "SHA3-512") return 128;
  return 0;
}

// "indicator--…" -> "indicator"; "" when there is no "--".
std::string_view id_type(std::string_view id) {
  auto sep = id.find("--");
  return sep == std::string_view::npos ? std::string_view{} : id.substr(0, sep);
}

std::string describe(const json::Value& v) {
  switch (v.kind()) {
    case json::Value::Kind::null: return "null";
    case json::Value::Kind::boolean: return "a boolean";
    case json::Value::Kind::number: return "a number";
    case json::Value::Kind::string: return "a string";
    case json::Value::Kind::array: return "a list";
    case json::Value::Kind::object: return "an object";
  }
  return "a value";
}

std::string shorten(std::string_view s) {
  constexpr std::size_t kMax = 80;
  if (s.size() <= kMax) return quote(s);
  std::size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  return quote(std::string(s.substr(0, cut)) + "…");
}

// The value formats §6 requires of SCO "value" (and registry "key")
// properties; an empty string means the value fits.
std::string ip_problem(std::string_view v, bool v6) {
  std::string addr(v.substr(0, v.find('/')));
  unsigned char buf[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), buf) != 1)
    return std::string("not an IPv") + (v6 ? "6" : "4") + " address or CIDR block";
  if (auto slash = v.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = v.substr(slash + 1);
    const int max = v6 ? 128 : 32;
    if (prefix.empty() || prefix.size() > 3 || !std::all_of(prefix.begin(), prefix.end(), ::isdigit) ||
        std::stoi(std::string(prefix)) > max)
      return "the CIDR prefix must be 0-" + std::to_string(max);
  }
  return {};
}

std::string value_problem(std::string_view type, std::string_view v) {
  auto printable = [](std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  };
  if (type == "ipv4-addr") return ip_problem(v, false);
  if (type == "ipv6-addr") return ip_problem(v, true);
  if (type == "mac-addr") {
    bool ok = v.size() == 17;
    for (std::size_t i = 0; ok && i < v.size(); ++i)
      ok = i % 3 == 2 ? v[i] == ':' : ((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f'));
    return ok ? std::string{} : "not a colon-delimited lower-case MAC-48 address with leading zeros (§6.10)";
  }
  if (type == "domain-name") {
    // RFC 1034 / RFC 5890: dot-separated labels of 1-63 octets, at most 253
    // in all; no spaces, slashes, "@" or other URL and address syntax.
    std::string_view d = v;
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    if (d.empty() || d.size() > 253 || !printable(d)) return "not a domain name (RFC 1034)";
    std::size_t start = 0;
    while (start <= d.size()) {
      std::size_t end = d.find('.', start);
      if (end == std::string_view::npos) end = d.size();
      std::string_view label = d.substr(start, end - start);
      if (label.empty() || label.size() > 63) return "not a domain name (labels are 1-63 octets, RFC 1034)";
      if (std::any_of(label.begin(), label.end(), [](char c) {
            return c == ' ' || c == '/' || c == '@' || c == ':' || c == '?' || c == '#' || c == '\\' || c == '%';
          }))
        return "not a domain name (RFC 1034)";
      if (end == d.size()) break;
      start = end + 1;
    }
    return {};
  }
  if (type == "url") {
    // RFC 3986: a scheme (a letter, then letters, digits, + - .) and ":".
    auto colon = v.find(':');
    if (colon == std::string_view::npos || colon == 0 || !is_alpha(v[0]) ||
        !std::all_of(v.begin(), v.begin() + static_cast<long>(colon), [](char c) {
          return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        }) || !printable(v) || v.find(' ') != std::string_view::npos)
      return "not a URL (RFC 3986: scheme, ':', no spaces or control characters)";
    return {};
  }
  if (type == "email-addr") {
    if (v.find('<') != std::string_view::npos || v.find('>') != std::string_view::npos)
      return "value must be the bare address; a display name goes in display_name (§6.5)";
    auto at = v.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == v.size() || !printable(v) || v.find(' ') != std::string_view::npos)
      return "not an e-mail address (RFC 5322 addr-spec)";
    return {};
  }
  return {};
}

std::string registry_key_problem(std::string_view key) {
  // §6.17: the hive is written out in full, e.g. HKEY_LOCAL_MACHINE, not HKLM.
  std::string_view hive = key.substr(0, key.find('\\'));
  std::string upper(hive);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::unordered_set<std::string_view> abbreviations = {"HKLM", "HKCU", "HKCR", "HKU", "HKCC", "HKPD"};
  if (abbreviations.count(upper) > 0) return "the hive must be written in full (HKEY_…), not " + quote(hive) + " (§6.17)";
  return {};
}

// --- common properties (§3.2) ------------------------------------------

Property common(std::string_view name, Kind kind, bool required = false, std::vector<std::string_view> targets = {}) {
  return {.name = name, .kind = kind, .required = required, .targets = std::move(targets)};
}

const ObjectSchema& sdo_common() {
  static const ObjectSchema s{
      "common",
      {common("type", Kind::string, true), common("spec_version", Kind::string), common("id", Kind::string, true),
       common("created_by_ref", Kind::identifier, false, {"identity"}),
       common("created", Kind::timestamp_ms, true), common("modified", Kind::timestamp_ms, true),
       common("revoked", Kind::boolean), common("labels", Kind::string_list),
       {.name = "confidence", .kind = Kind::integer, .min = 0, .max = 100}, common("lang", Kind::language),
       common("external_references", Kind::external_references),
       common("object_marking_refs", Kind::identifier_list, false, {"marking-definition"}),
       common("granular_markings", Kind::granular_markings), common("extensions", Kind::extensions)}};
  return s;
}

const ObjectSchema& sco_common() {
  static const ObjectSchema s{
      "common",
      {common("type", Kind::string, true), common("spec_version", Kind::string), common("id", Kind::string, true),
       common("object_marking_refs", Kind::identifier_list, false, {"marking-definition"}),
       common("granular_markings", Kind::granular_markings), common("defanged", Kind::boolean),
       common("extensions", Kind::extensions), common("created", Kind::timestamp_ms),
       common("modified", Kind::timestamp_ms), common("revoked", Kind::boolean)}};
  return s;
}

const ObjectSchema& marking_common() {
  static const ObjectSchema s{
      "common",
      {common("type", Kind::string, true), common("spec_version", Kind::string), common("id", Kind::string, true),
       common("created_by_ref", Kind::identifier, false, {"identity"}), common("created", Kind::timestamp_ms, true),
       common("external_references", Kind::external_references),
       common("object_marking_refs", Kind::identifier_list, false, {"marking-definition"}),
       common("granular_markings", Kind::granular_markings), common("extensions", Kind::extensions)}};
  return s;
}

// Common properties a kind of object must not carry.
bool not_applicable(ObjectKind kind, std::string_view type, std::string_view name) {
  // created, modified and revoked are not listed: §3.6 lets a producer
  // version an SCO (with an id outside the STIX UUIDv5 namespace).
  static const std::unordered_set<std::string_view> sco = {"created_by_ref", "labels", "confidence", "lang",
                                                           "external_references"};
  static const std::unordered_set<std::string_view> marking = {"modified", "revoked", "labels", "confidence", "lang",
                                                               "defanged"};
  if (kind == ObjectKind::sco) return sco.count(name) > 0;
  static const std::unordered_set<std::string_view> bundle = {
      "created_by_ref", "created", "modified", "revoked", "labels", "confidence", "lang", "external_references",
      "object_marking_refs", "granular_markings", "extensions", "defanged"};
  if (kind == ObjectKind::bundle) return bundle.count(name) > 0;
  if (type == "marking-definition") return marking.count(name) > 0;
  if (type == "language-content") return name == "lang" || name == "defanged";
  if (type == "extension-definition") return name == "confidence" || name == "lang" || name == "extensions" || name == "defanged";
  return name == "defanged";
}

// --- cross-version state (§3.6) ----------------------------------------

// One version, as far as the versioning rules need it. Times are compared
// as (seconds, nanoseconds); digits beyond nanoseconds are not told apart.
struct VersionKey {
  std::int64_t seconds = 0;
  std::uint32_t nanos = 0;
  friend bool operator==(const VersionKey&, const VersionKey&) = default;
  friend bool operator<(const VersionKey& a, const VersionKey& b) {
    return a.seconds != b.seconds ? a.seconds < b.seconds : a.nanos < b.nanos;
  }
};

struct VersionRecord {
  VersionKey modified;
  std::uint64_t content = 0;
  bool revoked = false;
};

// Per id: the latest version seen, the identity of created/created_by_ref,
// and flags so each cross-version problem is reported once. Ids with more
// than one version keep every version in `history`.
struct IdState {
  VersionRecord latest;
  std::uint64_t origin = 0;  // hash of created + created_by_ref
  std::uint32_t versions = 0;
  std::uint32_t type = 0;    // hash of the object type the UUID was first seen with
  bool reported_order = false;
  bool reported_revocation = false;
  bool reported_origin = false;
};

// Change detection within one run, not security: a collision only turns an
// E040 into a W203, so the fast library hash is enough.
std::uint64_t hash64(std::string_view data) { return std::hash<std::string_view>{}(data); }

// A hash of a value's content as write() would show it (kinds, text, order),
// made from its strings directly: serialising every member of every object
// only to hash it cost taxii-serve about 4% of its CPU per object ingested.
std::uint64_t value_hash(const json::Value& v) {
  const auto combine = [](std::uint64_t h, std::uint64_t x) { return ((h ^ x) * 0x9E3779B97F4A7C15ULL) ^ (h >> 31); };
  switch (v.kind()) {
    case json::Value::Kind::null:
      return 1;
    case json::Value::Kind::boolean:
      return v.as_bool() ? 2 : 3;
    case json::Value::Kind::number:
      return combine(4, hash64(v.as_number().text));
    case json::Value::Kind::string:
      return combine(5, hash64(v.as_string()));
    case json::Value::Kind::array: {
      std::uint64_t h = 6;
      for (const json::Value& e : v.as_array()) h = combine(h, value_hash(e));
      return combine(h, v.as_array().size());
    }
    case json::Value::Kind::object: {
      std::uint64_t h = 7;
      for (const auto& [name, e] : v.as_object()) h = combine(combine(h, hash64(name)), value_hash(e));
      return combine(h, v.as_object().size());
    }
  }
  return 0;
}

}  // namespace

// --- the validator -------------------------------------------------------

struct Validator::Impl {
  ValidateOptions options;
  FindingSink sink;
  std::unordered_set<const Check*> ignored;
  std::unordered_set<const Check*> enabled;  // empty: every warning
  std::uint64_t object_count = 0, error_count = 0, warning_count = 0;

  std::unordered_map<std::uint64_t, IdState> ids;
  std::unordered_map<std::uint64_t, std::vector<VersionRecord>> history;

  // The object being validated.
  std::string_view file;
  std::uint64_t line = 0;
  std::string_view object_id;
  std::string_view object_type;
  ObjectKind kind = ObjectKind::unknown;
  bool toplevel_extension = false;  // a toplevel-property-extension is in use
  bool custom_type = false;         // a type the specification does not define
  std::string path;                 // property path of the value being checked
  std::string scratch;

  void report(const Check* check, std::string message) {
    if (check == nullptr || ignored.count(check) > 0) return;
    Severity severity = check->severity;
    if (severity == Severity::warning) {
      if (!enabled.empty() && enabled.count(check) == 0) return;
      if (options.strict) severity = Severity::error;
    }
    (severity == Severity::error ? error_count : warning_count)++;
    if (!sink) return;
    Finding f;
    f.check = check;
    f.severity = severity;
    f.file = std::string(file);
    f.line = line;
    f.object_id = std::string(object_id);
    f.property = path;
    f.message = std::move(message);
    sink(f);
  }

  // RAII extension of `path` for nested values.
  struct Step {
    Impl& v;
    std::size_t size;
    Step(Impl& impl, std::string_view name) : v(impl), size(impl.path.size()) {
      if (!v.path.empty()) v.path += '.';
      v.path += name;
    }
    Step(Impl& impl, std::size_t index) : v(impl), size(impl.path.size()) {
      v.path += '[';
      v.path += std::to_string(index);
      v.path += ']';
    }
    ~Step() { v.path.resize(size); }
    Step(const Step&) = delete;
    Step& operator=(const Step&) = delete;
  };

  // --- values ---

  bool expect(const json::Value& v, json::Value::Kind kind, std::string_view what) {
    if (v.kind() == kind) return true;
    report(checks().type, "expected " + std::string(what) + ", found " + describe(v));
    return false;
  }

  // A non-empty list; false (reported) otherwise.
  bool expect_list(const json::Value& v) {
    if (!expect(v, json::Value::Kind::array, "a list")) return false;
    if (v.as_array().empty()) {
      report(checks().empty, "a list must not be empty (§2.12)");
      return false;
    }
    return true;
  }

  std::optional<Timestamp> check_timestamp(const json::Value& v, bool millis) {
    if (!expect(v, json::Value::Kind::string, "a timestamp string")) return std::nullopt;
    auto t = Timestamp::parse(v.as_string());
    if (!t) {
      report(checks().timestamp, t.error().message());
      return std::nullopt;
    }
    if (millis && t->precision() < 3)
      report(checks().precision, quote(v.as_string()) + " has less than millisecond precision (§3.2)");
    return std::move(t).value();
  }

  bool target_allowed(std::string_view target_type, const std::vector<std::string_view>& targets) {
    if (targets.empty()) return true;
    ObjectKind k = kind_of(target_type);
    for (auto t : targets) {
      if (t == target_type) return true;
      if (t == "@sdo" && (k == ObjectKind::sdo || k == ObjectKind::unknown)) return true;
      if (t == "@sco" && (k == ObjectKind::sco || k == ObjectKind::unknown)) return true;
      if (t == "@object" && k != ObjectKind::bundle) return true;
    }
    return false;
  }

  void check_identifier(const json::Value& v, const std::vector<std::string_view>& targets) {
    if (!expect(v, json::Value::Kind::string, "an identifier string")) return;
    auto id = Identifier::parse(v.as_string());
    if (!id) {
      report(checks().identifier, id.error().message());
      return;
    }
    if (!id->uuid.is_rfc4122()) {
      report(checks().identifier, quote(v.as_string()) + ": the UUID is not an RFC 4122 UUID (§2.9)");
      return;
    }
    if (!target_allowed(id->type, targets)) {
      std::string allowed;
      for (auto t : targets) {
        if (!allowed.empty()) allowed += ", ";
        allowed += t == "@sdo" ? "an SDO" : t == "@sco" ? "an SCO" : std::string(t);
      }
      report(checks().reference, "must refer to " + allowed + ", not " + quote(id->type));
    }
  }

  void check_vocab(const json::Value& v, std::string_view name, bool closed) {
    if (!expect(v, json::Value::Kind::string, "a string")) return;
    const vocab::Vocabulary* vocabulary = vocab::find(name);
    if (vocabulary == nullptr || vocab::contains(*vocabulary, v.as_string())) return;
    if (closed || vocabulary->closed) {
      report(checks().enumeration, quote(v.as_string()) + " is not a value of " + std::string(name));
      return;
    }
    const Check* check = vocabulary->check.code.empty() ? nullptr : find_check(vocabulary->check.code);
    report(check, quote(v.as_string()) + " is not in " + std::string(name));
    if (!lower_hyphenated(v.as_string()))
      report(checks().vocab_format, quote(v.as_string()) + " should be lower case with hyphens");
  }

  // Dictionary keys keep their case: several SCO dictionaries (e-mail and
  // HTTP headers, EXIF tags, environment variables) MUST keep the original
  // names, so upper case is not flagged.
  void check_dictionary(const json::Value& v, Kind values) {
    if (!expect(v, json::Value::Kind::object, "a dictionary")) return;
    if (v.as_object().empty()) {
      report(checks().empty, "a dictionary must not be empty (§2.3)");
      return;
    }
    for (const auto& [key, value] : v.as_object()) {
      Step s(*this, key);
      if (!valid_dictionary_key(key))
        report(checks().name, "dictionary key " + shorten(key) + " must be 1-250 characters of [a-zA-Z0-9_-] (§2.3)");
      if (values != Kind::any) check_value(Property{.name = key, .kind = values}, value, v);
    }
  }

  void check_language(const json::Value& v) {
    if (expect(v, json::Value::Kind::string, "a language tag") && !valid_language_tag(v.as_string()))
      report(checks().language, quote(v.as_string()) + " is not an RFC 5646 language tag");
  }

  void check_hashes(const json::Value& v) {
    if (!expect(v, json::Value::Kind::object, "a hashes dictionary")) return;
    if (v.as_object().empty()) {
      report(checks().empty, "hashes must not be empty (§2.7)");
      return;
    }
    const vocab::Vocabulary* algorithms = vocab::find("hashing-algorithm-ov");
    for (const auto& [algorithm, value] : v.as_object()) {
      Step s(*this, algorithm);
      if (algorithm.size() < 3 || algorithm.size() > 250 || !valid_dictionary_key(algorithm)) {
        report(checks().hash, "hash name " + shorten(algorithm) + " must be 3-250 characters of [a-zA-Z0-9_-] (§2.7)");
        continue;
      }
      if (!expect(value, json::Value::Kind::string, "a string")) continue;
      const std::string& h = value.as_string();
      if (std::size_t length = hex_hash_length(algorithm)) {
        if (h.size() != length || !is_hex(h, false))
          report(checks().hash, shorten(h) + " is not a " + algorithm + " value (" + std::to_string(length) +
                                    " hex digits)");
      } else if (algorithm == "SSDEEP") {
        // blocksize:hash:hash
        auto c1 = h.find(':');
        auto c2 = c1 == std::string::npos ? c1 : h.find(':', c1 + 1);
        if (c1 == 0 || c2 == std::string::npos || !std::all_of(h.begin(), h.begin() + static_cast<long>(c1), ::isdigit))
          report(checks().hash, shorten(h) + " is not an SSDEEP value (blocksize:hash:hash)");
      } else if (algorithm == "TLSH") {
        std::string_view t = h;
        if (t.rfind("T1", 0) == 0) t.remove_prefix(2);
        if (t.size() != 70 || !is_hex(t, false)) report(checks().hash, shorten(h) + " is not a TLSH value (70 hex digits)");
      } else if (algorithms != nullptr && !vocab::contains(*algorithms, algorithm)) {
        report(checks().hash_algo, "hash name " + quote(algorithm) + " is not in hashing-algorithm-ov");
      }
    }
  }

  void check_external_references(const json::Value& v) {
    if (!expect_list(v)) return;
    std::size_t i = 0;
    for (const auto& item : v.as_array()) {
      Step s(*this, i++);
      if (!expect(item, json::Value::Kind::object, "an external reference")) continue;
      const json::Value* source = item.find("source_name");
      if (source == nullptr) {
        report(checks().external_reference, "source_name is required (§2.5)");
      } else {
        Step n(*this, "source_name");
        expect(*source, json::Value::Kind::string, "a string");
      }
      if (item.find("description") == nullptr && item.find("url") == nullptr && item.find("external_id") == nullptr)
        report(checks().external_reference, "at least one of description, url, external_id is required (§2.5)");
      for (std::string_view p : {"description", "url", "external_id"}) {
        if (const json::Value* f = item.find(p)) {
          Step n(*this, p);
          expect(*f, json::Value::Kind::string, "a string");
        }
      }
      if (const json::Value* hashes = item.find("hashes")) {
        Step n(*this, "hashes");
        check_hashes(*hashes);
      } else if (item.find("url") != nullptr) {
        report(checks().extref_hashes, "an external reference with a url should have hashes (§2.5)");
      }
    }
  }

  void check_kill_chain_phases(const json::Value& v) {
    if (!expect_list(v)) return;
    std::size_t i = 0;
    for (const auto& item : v.as_array()) {
      Step s(*this, i++);
      if (!expect(item, json::Value::Kind::object, "a kill-chain-phase")) continue;
      for (std::string_view p : {"kill_chain_name", "phase_name"}) {
        const json::Value* f = item.find(p);
        if (f == nullptr) {
          report(checks().missing, std::string(p) + " is required (§2.11)");
          continue;
        }
        Step n(*this, p);
        if (expect(*f, json::Value::Kind::string, "a string") && !lower_hyphenated(f->as_string()))
          report(checks().kill_chain, quote(f->as_string()) + " should be lower case with hyphens (§2.11)");
      }
    }
  }

  void check_granular_markings(const json::Value& v, const json::Value& object) {
    if (!expect_list(v)) return;
    std::size_t i = 0;
    for (const auto& item : v.as_array()) {
      Step s(*this, i++);
      if (!expect(item, json::Value::Kind::object, "a granular marking")) continue;
      const json::Value* ref = item.find("marking_ref");
      const json::Value* lang = item.find("lang");
      if ((ref == nullptr) == (lang == nullptr))
        report(checks().constraint, "a granular marking needs exactly one of marking_ref and lang (§7.2.3)");
      if (ref != nullptr) {
        Step n(*this, "marking_ref");
        check_identifier(*ref, {"marking-definition"});
        if (ref->is_string() && ref->as_string() == object_id)
          report(checks().marking, "a marking definition must not mark itself (§7.2.3)");
      }
      if (lang != nullptr && expect(*lang, json::Value::Kind::string, "a string") && !valid_language_tag(lang->as_string()))
        report(checks().language, quote(lang->as_string()) + " is not an RFC 5646 language tag");
      const json::Value* selectors = item.find("selectors");
      if (selectors == nullptr) {
        report(checks().missing, "selectors is required (§7.2.3)");
        continue;
      }
      Step n(*this, "selectors");
      if (!expect_list(*selectors)) continue;
      for (const auto& selector : selectors->as_array()) {
        if (!expect(selector, json::Value::Kind::string, "a selector string")) continue;
        if (!selector_matches(object, selector.as_string()))
          report(checks().selector, "selector " + shorten(selector.as_string()) + " does not select content of the object");
      }
    }
  }

  // §7.2.3.1: a dot-separated path of property names, dictionary keys and
  // [n] list indexes that must point at content present in the object.
  static bool selector_matches(const json::Value& object, std::string_view selector) {
    const json::Value* at = &object;
    if (selector.empty()) return false;
    std::size_t start = 0;
    while (true) {
      std::size_t end = selector.find('.', start);
      if (end == std::string_view::npos) end = selector.size();
      std::string_view step = selector.substr(start, end - start);
      if (step.empty()) return false;
      if (step.front() == '[') {
        if (step.size() < 3 || step.back() != ']' || !at->is_array()) return false;
        std::uint64_t index = 0;
        for (char c : step.substr(1, step.size() - 2)) {
          if (c < '0' || c > '9' || index > (1ULL << 40)) return false;
          index = index * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (index >= at->as_array().size()) return false;
        at = &at->as_array()[index];
      } else {
        if (!at->is_object()) return false;
        at = at->find(step);
        if (at == nullptr) return false;
      }
      if (end == selector.size()) return true;
      start = end + 1;
    }
  }

  void check_extensions(const json::Value& v) {
    if (!expect(v, json::Value::Kind::object, "an extensions dictionary")) return;
    if (v.as_object().empty()) {
      report(checks().empty, "extensions must not be empty (§3.2)");
      return;
    }
    for (const auto& [name, extension] : v.as_object()) {
      Step s(*this, name);
      if (!expect(extension, json::Value::Kind::object, "an extension object")) continue;
      if (name.rfind("extension-definition--", 0) == 0) {
        auto id = Identifier::parse(name);
        if (!id || !id->uuid.is_rfc4122()) {
          report(checks().extension, "extension key " + shorten(name) + " is not an extension-definition id");
          continue;
        }
        const json::Value* type = extension.find("extension_type");
        if (type == nullptr) {
          report(checks().extension, "extension_type is required for an extension-definition extension (§7.3)");
        } else {
          Step t(*this, "extension_type");
          check_vocab(*type, "extension-type-enum", true);
        }
        if (name == kTlp2Extension) {
          const json::Value* level = extension.find("tlp_2_0");
          static const std::unordered_set<std::string_view> levels = {"clear", "green", "amber", "amber+strict", "red"};
          if (level == nullptr || !level->is_string() || levels.count(level->as_string()) == 0)
            report(checks().marking, "the TLP 2.0 extension needs tlp_2_0: clear, green, amber, amber+strict or red");
        } else {
          report(checks().unchecked_extension, "extension " + name + " cannot be checked here (no schema)");
        }
        continue;
      }
      const ObjectSchema* predefined = kind == ObjectKind::sco ? schema::find_extension(object_type, name) : nullptr;
      if (predefined != nullptr) {
        if (extension.as_object().empty())
          report(checks().constraint, "a predefined extension needs at least one property (§6)");
        check_members(extension, *predefined, nullptr);
        continue;
      }
      // Deprecated custom SCO extensions (§11.3): [a-z0-9-], ending in -ext.
      if (!valid_type_name(name) || name.size() < 5 || name.compare(name.size() - 4, 4, "-ext") != 0) {
        report(checks().extension, "extension name " + shorten(name) + " must be an extension-definition id or "
                                   "[a-z0-9-] ending in -ext (§7.3, §11.3)");
      } else {
        report(checks().unchecked_extension, "extension " + name + " cannot be checked here (no schema)");
      }
    }
  }

  void check_value(const Property& p, const json::Value& v, const json::Value& object) {
    using JK = json::Value::Kind;
    switch (p.kind) {
      case Kind::any:
        return;
      case Kind::string:
        expect(v, JK::string, "a string");
        return;
      case Kind::string_list:
        if (!expect_list(v)) return;
        for (std::size_t i = 0; i < v.as_array().size(); ++i) {
          Step s(*this, i);
          expect(v.as_array()[i], JK::string, "a string");
        }
        return;
      case Kind::integer: {
        if (!expect(v, JK::number, "an integer")) return;
        auto i = v.as_int64();
        if (!i) {
          report(checks().type, "expected an integer, found " + v.as_number().text);
          return;
        }
        if (*i < p.min || *i > p.max)
          report(checks().range, std::to_string(*i) + " is outside " + std::to_string(p.min) + ".." + std::to_string(p.max));
        return;
      }
      case Kind::number:
        expect(v, JK::number, "a number");
        return;
      case Kind::boolean:
        expect(v, JK::boolean, "a boolean");
        return;
      case Kind::timestamp:
      case Kind::timestamp_ms:
        check_timestamp(v, p.kind == Kind::timestamp_ms);
        return;
      case Kind::identifier:
        check_identifier(v, p.targets);
        return;
      case Kind::identifier_list:
        if (!expect_list(v)) return;
        for (std::size_t i = 0; i < v.as_array().size(); ++i) {
          Step s(*this, i);
          check_identifier(v.as_array()[i], p.targets);
        }
        return;
      case Kind::open_vocab:
      case Kind::enumeration:
        check_vocab(v, p.vocab, p.kind == Kind::enumeration);
        return;
      case Kind::open_vocab_list:
      case Kind::enumeration_list:
        if (!expect_list(v)) return;
        for (std::size_t i = 0; i < v.as_array().size(); ++i) {
          Step s(*this, i);
          check_vocab(v.as_array()[i], p.vocab, p.kind == Kind::enumeration_list);
        }
        return;
      case Kind::dictionary:
        check_dictionary(v, p.values);
        return;
      case Kind::scalar:
        if (!v.is_string() && !(v.is_number() && v.as_int64()))
          report(checks().type, "expected a string or an integer, found " + describe(v));
        return;
      case Kind::language:
        check_language(v);
        return;
      case Kind::language_list:
        if (!expect_list(v)) return;
        for (std::size_t i = 0; i < v.as_array().size(); ++i) {
          Step s(*this, i);
          check_language(v.as_array()[i]);
        }
        return;
      case Kind::hashes:
        check_hashes(v);
        return;
      case Kind::binary:
        if (expect(v, JK::string, "a base64 string") && !valid_base64(v.as_string()))
          report(checks().encoding, shorten(v.as_string()) + " is not base64 (§2.1)");
        return;
      case Kind::hex:
        if (expect(v, JK::string, "a hex string") &&
            (v.as_string().size() % 2 != 0 || !is_hex(v.as_string(), true)))
          report(checks().encoding, shorten(v.as_string()) + " is not an even number of lower-case hex digits (§2.8)");
        return;
      case Kind::external_references:
        check_external_references(v);
        return;
      case Kind::kill_chain_phases:
        check_kill_chain_phases(v);
        return;
      case Kind::granular_markings:
        check_granular_markings(v, object);
        return;
      case Kind::extensions:
        check_extensions(v);
        return;
      case Kind::object:
        if (!expect(v, JK::object, "an object")) return;
        if (p.nested != nullptr) check_nested(v, *p.nested);
        return;
      case Kind::object_list:
        if (!expect_list(v)) return;
        for (std::size_t i = 0; i < v.as_array().size(); ++i) {
          Step s(*this, i);
          if (expect(v.as_array()[i], JK::object, "an object") && p.nested != nullptr)
            check_nested(v.as_array()[i], *p.nested);
        }
        return;
    }
  }

  // A structure the spec defines inside an object (§6: MIME parts, registry
  // values, PE headers...): each needs at least one property.
  void check_nested(const json::Value& v, const ObjectSchema& nested) {
    if (v.as_object().empty()) report(checks().constraint, "at least one property is required (§6)");
    check_members(v, nested, nullptr);
    if (nested.name == "email-mime-part-type")
      constraint(v.find("body") != nullptr || v.find("body_raw_ref") != nullptr,
                 "a MIME part needs one of body and body_raw_ref (§6.6.2)");
  }

  // Checks every member of `object` against `own` (and, for top-level
  // objects, `common`), then the required ones. Members neither table knows
  // are custom properties.
  void check_members(const json::Value& object, const ObjectSchema& own, const ObjectSchema* common) {
    for (const auto& [name, value] : object.as_object()) {
      if (name.size() > 4 && name.compare(name.size() - 4, 4, "_enc") == 0 &&
          object.find(std::string_view(name).substr(0, name.size() - 4)) == nullptr) {
        Step s(*this, name);
        report(checks().constraint, name + " must not be present without " + name.substr(0, name.size() - 4) + " (§3.1)");
      }
      if (common != nullptr && not_applicable(kind, object_type, name)) {
        Step s(*this, name);
        report(checks().not_applicable, quote(name) + " is not a property of " + describe_kind());
        continue;
      }
      const Property* p = schema::find_property(own, name);
      if (p == nullptr && common != nullptr) p = schema::find_property(*common, name);
      Step s(*this, name);
      if (p != nullptr) {
        if (common != nullptr && p->name != "type" && p->name != "id" && p->name != "spec_version")
          check_value(*p, value, object);
        else if (common == nullptr)
          check_value(*p, value, object);
        continue;
      }
      check_custom_property(name);
    }
    for (const ObjectSchema* table : {common, &own}) {
      if (table == nullptr) continue;
      for (const auto& p : table->properties) {
        if (p.required && object.find(p.name) == nullptr) report(checks().missing, std::string(p.name) + " is required");
      }
    }
  }

  void check_custom_property(std::string_view name) {
    if (is_reserved(name)) {
      report(checks().reserved, quote(name) + " is a reserved property name (§3.8)");
    } else if (common_property_elsewhere(name)) {
      report(checks().not_applicable, quote(name) + " is not a property of " + describe_kind());
    } else if (!valid_property_name(name)) {
      report(checks().name, "property name " + shorten(name) + " must be 3-250 characters of [a-z0-9_] starting with a letter (§3.1)");
    } else if (name.rfind("x_", 0) != 0 && !toplevel_extension && !custom_type && path.find('.') == std::string::npos) {
      report(checks().custom_prefix, "custom property " + quote(name) + " should start with x_ (§11.1)");
    }
  }

  bool common_property_elsewhere(std::string_view name) const {
    if (path.find('.') != std::string::npos || path.find('[') != std::string::npos) return false;  // nested
    return not_applicable(kind, object_type, name);
  }

  std::string describe_kind() const {
    switch (kind) {
      case ObjectKind::sco: return "an SCO (§3.2)";
      case ObjectKind::meta: return "a " + std::string(object_type) + " (§3.2)";
      default: return "this object (§3.2)";
    }
  }

  // --- rules between properties ---

  std::optional<Timestamp> time_of(const json::Value& object, std::string_view name) {
    const json::Value* v = object.find(name);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    auto t = Timestamp::parse(v->as_string());
    if (!t) return std::nullopt;
    return std::move(t).value();
  }

  void order(const json::Value& object, std::string_view first, std::string_view last, bool strict) {
    auto a = time_of(object, first);
    auto b = time_of(object, last);
    if (!a || !b) return;
    if (strict ? !(*a < *b) : *b < *a) {
      Step s(*this, last);
      report(checks().order, std::string(last) + " " + b->to_string() + " must be " + (strict ? "later than " : "no earlier than ") +
                                 std::string(first) + " " + a->to_string());
    }
  }

  bool has(const json::Value& object, std::string_view name) { return object.find(name) != nullptr; }

  void constraint(bool ok, std::string message) {
    if (!ok) report(checks().constraint, std::move(message));
  }

  void check_rules(const json::Value& o) {
    const std::string_view t = object_type;
    if (kind == ObjectKind::sco && !custom_type) {
      if (auto v = o.find_string("value")) {
        if (std::string problem = value_problem(t, *v); !problem.empty()) {
          Step s(*this, "value");
          report(checks().value, shorten(*v) + ": " + problem);
        }
      }
      if (auto key = o.find_string("key"); key && t == "windows-registry-key") {
        if (std::string problem = registry_key_problem(*key); !problem.empty()) {
          Step s(*this, "key");
          report(checks().value, problem);
        }
      }
    }
    if (kind == ObjectKind::sdo || kind == ObjectKind::sro || t == "language-content" || t == "extension-definition")
      order(o, "created", "modified", false);
    if (t == "campaign" || t == "infrastructure" || t == "intrusion-set" || t == "malware" || t == "threat-actor" ||
        t == "sighting")
      order(o, "first_seen", "last_seen", false);
    if (t == "indicator") {
      order(o, "valid_from", "valid_until", true);
      check_indicator_pattern(o);
    } else if (t == "observed-data") {
      order(o, "first_observed", "last_observed", false);
      constraint(has(o, "object_refs") != has(o, "objects"), "exactly one of object_refs and objects is required (§4.14)");
      if (has(o, "objects")) report(checks().deprecated, "objects is deprecated; use object_refs (§4.14)");
      if (const json::Value* refs = o.find("object_refs"); refs != nullptr && refs->is_array() && !refs->as_array().empty()) {
        bool sco = false;
        for (const auto& r : refs->as_array())
          sco |= r.is_string() && kind_of(id_type(r.as_string())) != ObjectKind::sro && id_type(r.as_string()) != "relationship";
        constraint(sco, "object_refs must refer to at least one SCO (§4.14)");
      }
    } else if (t == "relationship") {
      order(o, "start_time", "stop_time", true);
      check_relationship(o);
    } else if (t == "location") {
      const bool lat = has(o, "latitude"), lon = has(o, "longitude");
      constraint(has(o, "region") || has(o, "country") || (lat && lon),
                 "one of region, country, or latitude with longitude is required (§4.10)");
      constraint(lat == lon, "latitude and longitude go together (§4.10)");
      constraint(!has(o, "precision") || (lat && lon), "precision requires latitude and longitude (§4.10)");
      check_number_range(o, "latitude", -90, 90);
      check_number_range(o, "longitude", -180, 180);
    } else if (t == "malware") {
      const json::Value* family = o.find("is_family");
      if (family == nullptr)
        report(checks().is_family, "is_family is required by the STIX 2.1 schema (optional in the Errata 01 text)");
      else if (family->is_bool() && family->as_bool())
        constraint(has(o, "name"), "name is required when is_family is true (§4.11)");
    } else if (t == "malware-analysis") {
      constraint(has(o, "result") || has(o, "analysis_sco_refs"), "one of result and analysis_sco_refs is required (§4.12)");
    } else if (t == "marking-definition") {
      check_marking_definition(o);
    } else if (t == "language-content") {
      // §7.1: the keys of contents are RFC 5646 language tags.
      if (const json::Value* contents = o.find("contents"); contents != nullptr && contents->is_object()) {
        Step s(*this, "contents");
        if (contents->as_object().empty()) report(checks().empty, "contents must not be empty (§7.1)");
        for (const auto& [tag, value] : contents->as_object()) {
          if (!valid_language_tag(tag)) report(checks().language, quote(tag) + " is not an RFC 5646 language tag (§7.1)");
          else if (!value.is_object()) report(checks().type, quote(tag) + ": expected an object, found " + describe(value));
        }
      }
    } else if (t == "extension-definition") {
      if (has(o, "extension_properties")) {
        const json::Value* types = o.find("extension_types");
        bool toplevel = false;
        if (types != nullptr && types->is_array())
          for (const auto& x : types->as_array()) toplevel |= x.is_string() && x.as_string() == "toplevel-property-extension";
        constraint(toplevel, "extension_properties is only for toplevel-property-extension (§7.3)");
      }
      if (!has(o, "created_by_ref")) report(checks().missing, "created_by_ref is required on an extension-definition (§7.3)");
    } else if (t == "artifact") {
      constraint(has(o, "payload_bin") != has(o, "url"), "exactly one of payload_bin and url is required (§6.1)");
      constraint(!has(o, "url") || has(o, "hashes"), "hashes is required with url (§6.1)");
      constraint(!has(o, "decryption_key") || has(o, "encryption_algorithm"),
                 "decryption_key requires encryption_algorithm (§6.1)");
    } else if (t == "email-message") {
      const json::Value* multipart = o.find("is_multipart");
      if (multipart != nullptr && multipart->is_bool()) {
        constraint(!(multipart->as_bool() && has(o, "body")), "body must not be present when is_multipart is true (§6.6)");
        constraint(!(!multipart->as_bool() && has(o, "body_multipart")),
                   "body_multipart must not be present when is_multipart is false (§6.6)");
      }
    } else if (t == "file") {
      constraint(has(o, "hashes") || has(o, "name"), "one of hashes and name is required (§6.7)");
      if (const json::Value* ext = o.find("extensions"); ext != nullptr && ext->is_object()) {
        if (const json::Value* pe = ext->find("windows-pebinary-ext"); pe != nullptr && pe->is_object()) {
          Step s(*this, "extensions.windows-pebinary-ext");
          constraint(pe->find("pe_type") == nullptr || pe->as_object().size() >= 2,
                     "windows-pebinary-ext needs at least one property besides pe_type (§6.7.6)");
        }
      }
    } else if (t == "network-traffic") {
      constraint(has(o, "src_ref") || has(o, "dst_ref"), "one of src_ref and dst_ref is required (§6.12)");
      const json::Value* active = o.find("is_active");
      constraint(!(active != nullptr && active->is_bool() && active->as_bool() && has(o, "end")),
                 "end must not be present when is_active is true (§6.12)");
      order(o, "start", "end", false);
    } else if (t == "process" || t == "user-account" || t == "windows-registry-key" || t == "x509-certificate") {
      bool own = false;
      for (const auto& [name, value] : o.as_object())
        own |= !(name == "type" || name == "id" || name == "spec_version" || name == "object_marking_refs" ||
                 name == "granular_markings" || name == "defanged" || name == "extensions");
      if (t == "process" || t == "user-account") own |= has(o, "extensions");
      constraint(own, "at least one property of the " + std::string(t) + " object is required (§6)");
    }
    if (const json::Value* refs = o.find("object_marking_refs"); refs != nullptr && refs->is_array()) {
      for (const auto& r : refs->as_array()) {
        if (!r.is_string()) continue;
        if (r.as_string() == object_id) report(checks().marking, "a marking definition must not mark itself (§7.2.2)");
        if (is_tlp1_id(r.as_string()))
          report(checks().tlp1, "TLP 1.0 marking " + r.as_string() + "; TLP 2.0 is current (FIRST TLP 2.0)");
      }
    }
  }

  static bool is_tlp1_id(std::string_view id) {
    auto tlp = tlp_of_marking_id(id);
    return tlp && tlp1_marking_id(*tlp) == id;
  }

  void check_number_range(const json::Value& o, std::string_view name, double lo, double hi) {
    const json::Value* v = o.find(name);
    if (v == nullptr || !v->is_number()) return;
    auto d = v->as_double();
    if (d && (*d < lo || *d > hi)) {
      Step s(*this, name);
      report(checks().range, v->as_number().text + " is outside " + std::to_string(static_cast<int>(lo)) + ".." +
                                 std::to_string(static_cast<int>(hi)));
    }
  }

  // §7.2.1.4 and the TLP 2.0 extension: only the canonical TLP marking
  // definitions may exist, so an object with a TLP id must be that object
  // (level and created), and a TLP level must come with its canonical id.
  void check_marking_definition(const json::Value& o) {
    const json::Value* type = o.find("definition_type");
    const json::Value* definition = o.find("definition");
    if (!has(o, "extensions"))
      constraint(type != nullptr && definition != nullptr,
                 "definition_type and definition are required when extensions is absent (§7.2.1)");
    if (type != nullptr || definition != nullptr)
      report(checks().deprecated, "definition_type and definition are deprecated; use an extension (§7.2.1)");
    std::string_view tlp1_level;  // the TLP 1.0 level the object claims
    if (type != nullptr && type->is_string() && definition != nullptr && definition->is_object()) {
      if (type->as_string() == "statement") {
        Step s(*this, "definition");
        const json::Value* statement = definition->find("statement");
        if (statement == nullptr) report(checks().missing, "statement is required (§7.2.1.3)");
        else if (!statement->is_string()) report(checks().type, "statement: expected a string");
      } else if (type->as_string() == "tlp") {
        auto level = definition->find_string("tlp");
        if (level && (*level == "white" || *level == "green" || *level == "amber" || *level == "red")) tlp1_level = *level;
        else report(checks().marking, "a TLP 1.0 marking needs definition.tlp of white, green, amber or red (§7.2.1.4)");
      }
    }
    std::string_view tlp2_level;
    if (const json::Value* ext = o.find("extensions"); ext != nullptr && ext->is_object()) {
      if (const json::Value* tlp2 = ext->find(kTlp2Extension); tlp2 != nullptr && tlp2->is_object())
        tlp2_level = tlp2->find_string("tlp_2_0").value_or("");
    }
    const auto claimed1 = tlp1_level.empty() ? std::nullopt : parse_tlp(tlp1_level);
    const auto claimed2 = tlp2_level.empty() ? std::nullopt : parse_tlp(tlp2_level);
    const auto by_id = tlp_of_marking_id(object_id);
    const bool id_is_tlp1 = is_tlp1_id(object_id);
    auto created = time_of(o, "created");
    if (claimed1) {
      std::string_view canonical = tlp1_marking_id(*claimed1);
      if (object_id != canonical)
        report(checks().marking, "only the canonical TLP 1.0 marking definitions may exist; TLP:" + std::string(tlp1_level) +
                                     " is " + std::string(canonical) + " (§7.2.1.4)");
    } else if (claimed2) {
      std::string_view canonical = tlp2_marking_id(*claimed2);
      if (object_id != canonical)
        report(checks().marking, "TLP 2.0 " + std::string(tlp2_level) + " is " + std::string(canonical) + ", not " +
                                     std::string(object_id));
    } else if (by_id) {
      report(checks().marking, std::string(object_id) + " is the id of a canonical TLP marking; no other marking may use it");
      return;
    }
    if (by_id && created) {
      const char* expected = id_is_tlp1 ? "2017-01-20T00:00:00.000Z" : "2022-10-01T00:00:00.000Z";
      if (!(*created == *Timestamp::parse(expected)))
        report(checks().marking, "the canonical TLP marking " + std::string(object_id) + " has created " + expected);
    }
  }

  void check_relationship(const json::Value& o) {
    auto rel = o.find_string("relationship_type");
    auto src = o.find_string("source_ref");
    auto dst = o.find_string("target_ref");
    if (rel) {
      Step s(*this, "relationship_type");
      if (!lower_hyphenated(*rel) || rel->size() < 3 || rel->size() > 250)
        report(checks().name, "relationship_type " + shorten(*rel) + " must be 3-250 characters of [a-z0-9-] (§5.1)");
    }
    for (auto [name, ref] : {std::pair{"source_ref", src}, std::pair{"target_ref", dst}}) {
      if (!ref) continue;
      ObjectKind k = kind_of(id_type(*ref));
      if (k == ObjectKind::sro || k == ObjectKind::meta || k == ObjectKind::bundle) {
        Step s(*this, name);
        report(checks().reference, "must refer to an SDO or SCO, not " + quote(id_type(*ref)) + " (§5.1)");
      }
    }
    if (rel && src && dst && !vocab::is_spec_relationship(id_type(*src), *rel, id_type(*dst))) {
      const bool custom = kind_of(id_type(*src)) == ObjectKind::unknown || kind_of(id_type(*dst)) == ObjectKind::unknown ||
                          id_type(*src).rfind("x-", 0) == 0 || id_type(*dst).rfind("x-", 0) == 0;
      if (!custom)
        report(checks().relationship_type, quote(*rel) + " from " + std::string(id_type(*src)) + " to " +
                                               std::string(id_type(*dst)) + " is not a relationship the specification defines");
    }
  }

  void check_indicator_pattern(const json::Value& o) {
    auto type = o.find_string("pattern_type");
    auto pattern = o.find_string("pattern");
    if (!type || *type != "stix" || !pattern) return;
    Step s(*this, "pattern");
    validate_stix_pattern(*pattern, [&](PatternFindingKind k, std::string message) {
      switch (k) {
        case PatternFindingKind::error: report(checks().pattern, std::move(message)); break;
        case PatternFindingKind::custom_content: report(checks().pattern_custom, std::move(message)); break;
        case PatternFindingKind::literal_type: report(checks().pattern_literal, std::move(message)); break;
      }
    });
  }

  // --- identifiers ---

  void check_id(const json::Value& o) {
    const json::Value* idv = o.find("id");
    Step s(*this, "id");
    if (!expect(*idv, json::Value::Kind::string, "an identifier string")) return;
    auto id = Identifier::parse(idv->as_string());
    if (!id) {
      report(checks().identifier, id.error().message());
      return;
    }
    if (id->type != object_type) {
      report(checks().identifier, "the id's type " + quote(id->type) + " is not the object's type " + quote(object_type));
      return;
    }
    if (!id->uuid.is_rfc4122()) {
      report(checks().identifier, "the UUID is not an RFC 4122 UUID (§2.9)");
      return;
    }
    std::string_view text = idv->as_string();
    if (std::any_of(text.begin() + static_cast<long>(id->type.size()), text.end(), [](char c) { return c >= 'A' && c <= 'F'; }))
      report(checks().uuid, "the UUID should be lower case (RFC 4122)");
    if (kind == ObjectKind::sco) {
      check_sco_id(o, *id);
    } else if (id->uuid.version() != 4) {
      report(checks().uuid, "an SDO, SRO or meta object id should be a UUIDv4, not v" + std::to_string(id->uuid.version()) +
                                " (§2.9)");
    }
  }

  void check_sco_id(const json::Value& o, const Identifier& id) {
    auto computed = deterministic_sco_id(o);
    if (!computed) return;  // properties not canonicalisable: reported elsewhere as type errors
    if (!computed->has_value()) {
      // A custom SCO type may define ID-contributing properties of its own
      // (§7.3); only the spec's types are known to have none.
      const TypeInfo* info = find_type(object_type);
      const bool all_optional = info != nullptr && std::none_of(info->id_contributing.begin(), info->id_contributing.end(),
                                                                [&](std::string_view p) {
                                                                  return std::find(info->required.begin(), info->required.end(), p) != info->required.end();
                                                                });
      if (id.uuid.version() != 4 && !custom_type && all_optional)
        report(checks().identifier, "with no ID-contributing property present the id must be a UUIDv4 (§2.9)");
      return;
    }
    const std::string& expected = **computed;
    if (expected == id.to_string()) return;
    if (id.uuid.version() == 5)
      report(checks().sco_id, "the id is not the UUIDv5 of its ID-contributing properties; expected " + expected);
    else
      report(checks().uuid, "an SCO id should be the UUIDv5 of its ID-contributing properties (" + expected + ")");
  }

  // --- versions ---

  // The identity of a version's content for E040 / W203: member order does
  // not count (JSON objects are unordered), nor does leaving out a property
  // whose value is its default (§3.6). Nested order still counts.
  std::uint64_t content_hash(const json::Value& o) {
    std::uint64_t sum = 0;
    for (const auto& [name, value] : o.as_object()) {
      if ((name == "revoked" || name == "defanged" || name == "summary") && value.is_bool() && !value.as_bool()) continue;
      if (name == "lang" && value.is_string() && value.as_string() == "en") continue;
      const std::uint64_t member = (hash64(name) * 0xC2B2AE3D27D4EB4FULL) ^ value_hash(value);
      sum += member * 0x9E3779B97F4A7C15ULL + 1;  // commutative: order-free
    }
    return sum;
  }

  void track_version(const json::Value& o) {
    auto modified_text = o.find_string(object_type == "marking-definition" ? "created" : "modified");
    if (!modified_text) return;
    auto modified = Timestamp::parse(*modified_text);
    if (!modified) return;
    VersionRecord record{{modified->unix_seconds(), modified->nanos()}, 0, false};
    if (const json::Value* r = o.find("revoked"); r != nullptr && r->is_bool()) record.revoked = r->as_bool();
    record.content = content_hash(o);
    scratch.clear();
    if (auto created = time_of(o, "created")) scratch += std::to_string(created->unix_seconds()) + "." + std::to_string(created->nanos());
    scratch += '\n';
    scratch += o.find_string("created_by_ref").value_or("");
    const std::uint64_t origin = hash64(scratch);

    // Keyed by the UUID alone, so one UUID on two types is caught (§2.9).
    const std::string_view uuid = object_id.substr(object_type.size() + 2);
    const std::uint64_t key = hash64(uuid);
    const auto type_hash = static_cast<std::uint32_t>(hash64(object_type));
    auto [it, inserted] = ids.try_emplace(key);
    IdState& state = it->second;
    if (inserted) {
      state.latest = record;
      state.origin = origin;
      state.type = type_hash;
      state.versions = 1;
      return;
    }
    if (state.type != type_hash) {
      report(checks().identifier, "its UUID is already used by an object of another type; a producer must not reuse "
                                  "a UUID across types (§2.9)");
      return;
    }
    auto& versions = history[key];
    if (versions.empty()) versions.push_back(state.latest);
    ++state.versions;
    if (origin != state.origin && !state.reported_origin) {
      state.reported_origin = true;
      report(checks().created_changed, "created and created_by_ref must be the same in every version (§3.6)");
    }
    for (const auto& seen : versions) {
      if (seen.modified == record.modified) {
        if (seen.content == record.content)
          report(checks().duplicate, "this version (" + std::string(*modified_text) + ") appears more than once");
        else
          report(checks().version_conflict, "another object has the same id and modified " + std::string(*modified_text) +
                                                " with different content (§3.6)");
        return;
      }
    }
    if (record.modified < state.latest.modified && !state.reported_order) {
      state.reported_order = true;
      report(checks().version_order, "versions are listed out of modified order");
    }
    versions.push_back(record);
    if (state.latest.modified < record.modified) state.latest = record;
    if (!state.reported_revocation) {
      const VersionRecord* revoked = nullptr;
      for (const auto& v : versions)
        if (v.revoked && (revoked == nullptr || v.modified < revoked->modified)) revoked = &v;
      if (revoked != nullptr && revoked->modified < state.latest.modified) {
        state.reported_revocation = true;
        report(checks().after_revocation, "a version is later than a revoked version; nothing may follow a revocation (§3.6)");
      }
    }
  }

  // --- one object ---

  void validate(const json::Value& o) {
    ++object_count;
    path.clear();
    object_id = {};
    object_type = {};
    if (!o.is_object()) {
      report(checks().not_stix, "expected a STIX object, found " + describe(o));
      return;
    }
    auto type = o.find_string("type");
    auto id = o.find_string("id");
    if (id) object_id = *id;
    if (!type) {
      report(checks().missing, o.find("type") ? "type must be a string" : "type is required");
      return;
    }
    object_type = *type;
    if (!id) {
      Step s(*this, "id");
      report(o.find("id") ? checks().type : checks().missing, o.find("id") ? "expected a string" : "id is required");
      return;
    }
    if (object_type == "bundle") {
      report(checks().not_stix, "a bundle inside a bundle or list");
      return;
    }
    if (!valid_type_name(object_type)) {
      Step s(*this, "type");
      report(checks().name, "type " + shorten(object_type) + " must be 3-250 characters of [a-z0-9-] starting with a letter, no \"--\" (§3.1)");
      return;
    }
    const ObjectSchema* own = schema::find_type(object_type);
    kind = kind_of(object_type);
    toplevel_extension = false;
    custom_type = own == nullptr;
    if (own == nullptr) kind = custom_kind(o);
    // STIX 2.0 content: no spec_version on an object with created, or "2.0".
    auto spec = o.find_string("spec_version");
    const json::Value* spec_value = o.find("spec_version");
    if (spec_value != nullptr && !spec) {
      Step s(*this, "spec_version");
      report(checks().type, "expected a string, found " + describe(*spec_value));
    } else if (spec && *spec == "2.0") {
      report(checks().spec_2_0, "a STIX 2.0 object; only its type and id are checked");
      return;
    } else if (spec && *spec != "2.1") {
      Step s(*this, "spec_version");
      report(checks().spec_version, "spec_version " + shorten(*spec) + " must be \"2.1\"");
    } else if (!spec && kind != ObjectKind::sco) {
      // STIX 2.0 put spec_version on the bundle only: a spec-defined object
      // with created and no spec_version is 2.0 content (as python-stix2 and
      // stix2-validator read it).
      static const std::unordered_set<std::string_view> stix20 = {
          "attack-pattern", "campaign", "course-of-action", "identity", "indicator", "intrusion-set", "malware",
          "observed-data", "report", "threat-actor", "tool", "vulnerability", "relationship", "sighting",
          "marking-definition"};
      if (o.find("created") != nullptr && stix20.count(object_type) > 0 && o.find("extensions") == nullptr) {
        report(checks().spec_2_0, "no spec_version: a STIX 2.0 object; only its type and id are checked");
        return;
      }
      report(checks().spec_version, "spec_version is required on " + std::string(kind == ObjectKind::sro ? "an SRO" : kind == ObjectKind::meta ? "a meta object" : "an SDO") + " (§3.2)");
    }
    if (own != nullptr && defined_by_extension(o))
      report(checks().extension, "an extension must not redefine the spec-defined type " + quote(object_type) + " (§7.3)");
    if (own == nullptr && !defined_by_extension(o)) {
      if (object_type.rfind("x-", 0) != 0)
        report(checks().custom_prefix, "custom object type " + quote(object_type) + " should start with x- (§11.2)");
      report(checks().extensions_use, "custom object type " + quote(object_type) +
                                          " should be defined by an extension-definition (new-sdo, new-sco or new-sro) (§7.3)");
    }
    if (const json::Value* ext = o.find("extensions"); ext != nullptr && ext->is_object()) {
      for (const auto& [name, value] : ext->as_object())
        if (auto et = value.find_string("extension_type"); et && *et == "toplevel-property-extension") toplevel_extension = true;
    }
    check_id(o);
    const ObjectSchema& common = kind == ObjectKind::sco                  ? sco_common()
                                 : object_type == "marking-definition" ? marking_common()
                                                                        : sdo_common();
    static const ObjectSchema kNoOwnProperties{"custom", {}};
    check_members(o, own != nullptr ? *own : kNoOwnProperties, &common);
    path.clear();
    check_rules(o);
    path.clear();
    if (kind != ObjectKind::sco) track_version(o);
  }

  static bool defined_by_extension(const json::Value& o) {
    const json::Value* ext = o.find("extensions");
    if (ext == nullptr || !ext->is_object()) return false;
    for (const auto& [name, value] : ext->as_object()) {
      auto et = value.find_string("extension_type");
      if (et && (*et == "new-sdo" || *et == "new-sco" || *et == "new-sro")) return true;
    }
    return false;
  }

  // A custom type's kind: from its extension_type when it uses one (§7.3),
  // else by shape — created/modified make it SDO-like, else SCO-like.
  static ObjectKind custom_kind(const json::Value& o) {
    if (const json::Value* ext = o.find("extensions"); ext != nullptr && ext->is_object()) {
      for (const auto& [name, value] : ext->as_object()) {
        auto et = value.find_string("extension_type");
        if (!et) continue;
        if (*et == "new-sco") return ObjectKind::sco;
        if (*et == "new-sro") return ObjectKind::sro;
        if (*et == "new-sdo") return ObjectKind::sdo;
      }
    }
    for (std::string_view p : {"created", "modified", "created_by_ref", "revoked", "confidence", "external_references"})
      if (o.find(p) != nullptr) return ObjectKind::sdo;
    return ObjectKind::sco;
  }

  void validate_envelope(const json::Value& bundle) {
    path.clear();
    object_type = "bundle";
    kind = ObjectKind::bundle;
    custom_type = false;
    toplevel_extension = false;
    auto id = bundle.find_string("id");
    object_id = id.value_or("");
    if (!id) {
      report(checks().bundle, "a bundle needs a string id");
    } else {
      auto parsed = Identifier::parse(*id);
      if (!parsed || parsed->type != "bundle" || !parsed->uuid.is_rfc4122())
        report(checks().bundle, "bundle id " + shorten(*id) + " is not bundle--<RFC 4122 UUID>");
    }
    for (const auto& [name, value] : bundle.as_object()) {
      if (name == "type" || name == "id" || name == "objects") continue;
      if (name == "spec_version") {
        report(checks().spec_2_0, "a 2.1 bundle has no spec_version; this is read as a STIX 2.0 bundle (§8)");
        continue;
      }
      // §8: a bundle may carry custom properties (consumers may drop them).
      Step s(*this, name);
      check_custom_property(name);
    }
    if (const json::Value* objects = bundle.find("objects"); objects != nullptr && !objects->is_array())
      report(checks().bundle, "objects must be a list");
  }
};

Validator::Validator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Validator::Validator(Validator&&) noexcept = default;
Validator& Validator::operator=(Validator&&) noexcept = default;
Validator::~Validator() = default;

Result<Validator> Validator::create(const ValidateOptions& options, FindingSink sink) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->sink = std::move(sink);
  for (const auto& code : options.ignore) {
    const Check* c = find_check(code);
    if (c == nullptr) return Error(ErrorCategory::usage, "unknown check code " + quote(code) + " (see --list-checks)");
    impl->ignored.insert(c);
  }
  for (const auto& code : options.enable) {
    const Check* c = find_check(code);
    if (c == nullptr) return Error(ErrorCategory::usage, "unknown check code " + quote(code) + " (see --list-checks)");
    impl->enabled.insert(c);
  }
  return Validator(std::move(impl));
}

void Validator::validate_object(const json::Value& object, std::string_view file, std::uint64_t line) {
  impl_->file = file;
  impl_->line = line;
  impl_->validate(object);
}

Status Validator::validate_stream(std::istream& in, std::string_view file) {
  Impl& v = *impl_;
  v.file = file;
  std::uint64_t objects_in_input = 0, elements = 0;
  auto status = json::parse_stream(in, v.options.limits, "objects", [&](json::Value&& value, const json::StreamEvent& e) -> Status {
    v.line = e.line;
    switch (e.kind) {
      case json::StreamEvent::Kind::element:
        ++objects_in_input;
        ++elements;
        v.validate(value);
        break;
      case json::StreamEvent::Kind::envelope:
        if (value.is_object()) {
          auto type = value.find_string("type");
          if (!type || *type != "bundle") {
            v.object_id = value.find_string("id").value_or("");
            v.path.clear();
            v.report(checks().not_stix, "a top-level object with an objects list that is not a bundle");
          } else {
            v.validate_envelope(value);
            if (elements == 0) v.report(checks().bundle, "objects must not be an empty list (§8, §2.12)");
          }
        }
        elements = 0;
        break;
      case json::StreamEvent::Kind::value:
        if (value.is_object() && value.find_string("type") == std::optional<std::string_view>("bundle")) {
          v.validate_envelope(value);
        } else {
          ++objects_in_input;
          v.validate(value);
        }
        break;
    }
    if (v.options.limits.max_objects != 0 && objects_in_input > v.options.limits.max_objects)
      return Error(ErrorCategory::data, "more than " + std::to_string(v.options.limits.max_objects) +
                                            " objects (raise --max-objects)");
    return {};
  });
  if (!status) {
    if (status.error().category() == ErrorCategory::io) return std::move(status).error();
    v.line = 0;
    v.object_id = {};
    v.path.clear();
    v.report(checks().json, status.error().message());
  }
  return {};
}

void Validator::finish() {
  impl_->ids.clear();
  impl_->history.clear();
}

std::uint64_t Validator::objects() const { return impl_->object_count; }
std::uint64_t Validator::errors() const { return impl_->error_count; }
std::uint64_t Validator::warnings() const { return impl_->warning_count; }

}  // namespace ctishare::stix

namespace ctishare::stix {

namespace {

bool validatable_name(const std::filesystem::path& p) {
  const auto ext = p.extension().string();
  return ext == ".json" || ext == ".stix" || ext == ".ndjson" || ext == ".jsonl";
}

}  // namespace

Result<std::vector<std::string>> expand_inputs(const std::vector<std::string>& inputs, bool recursive) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& input : inputs) {
    if (input == "-") {
      out.push_back(input);
      continue;
    }
    std::error_code ec;
    const auto status = fs::status(input, ec);
    if (ec || !fs::exists(status))
      return Error(ErrorCategory::no_input, quote(input) + ": cannot open input: no such file or directory");
    if (!fs::is_directory(status)) {
      out.push_back(input);
      continue;
    }
    if (!recursive) return Error(ErrorCategory::no_input, quote(input) + ": is a directory (use -r to read the files in it)");
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(input, fs::directory_options::none, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec) && validatable_name(it->path())) found.push_back(it->path().string());
    }
    if (ec) return Error(ErrorCategory::no_input, quote(input) + ": " + ec.message());
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

Result<ValidationSummary> validate_inputs(const std::vector<std::string>& inputs, const ValidateOptions& options,
                                          ReportWriter& report) {
  ValidationSummary summary;
  for (const auto& input : inputs) {
    auto stream = open_input(input);
    if (!stream) return std::move(stream).error();
    const std::string name = display_name(input);
    auto validator = Validator::create(options, [&](const Finding& f) { report.add(f); });
    if (!validator) return std::move(validator).error();
    report.begin_file(name);
    CTI_TRY_STATUS(validator->validate_stream(**stream, name));
    validator->finish();
    report.end_file(name, validator->objects());
    ++summary.files;
    summary.objects += validator->objects();
    summary.errors += validator->errors();
    summary.warnings += validator->warnings();
  }
  CTI_TRY_STATUS(report.finish());
  return summary;
}

}  // namespace ctishare::stix
