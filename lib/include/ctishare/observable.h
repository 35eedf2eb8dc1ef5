// Observables as analysts and detection systems write them (a domain, URL,
// IP address or range, e-mail address or file hash), recognised, checked for
// safety and put in canonical form before they become STIX patterns:
// lower-case host names in A-label (punycode) form, no trailing dot,
// compressed IPv6, lower-case hashes. Values that are unsafe to share or to
// block (control characters, overlong, a bare public suffix such as "com" or
// "co.uk", a range wider than /8) are refused with the reason.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ctishare/result.h"

namespace ctishare::stix {

enum class ObservableType { domain, url, ipv4, ipv6, email, md5, sha1, sha256, sha512 };

struct Observable {
  ObservableType type;
  std::string value;  // canonical form
};

// "domain", "url", "ipv4", "ipv6", "email", "md5", "sha1", "sha256", "sha512".
std::string_view observable_type_name(ObservableType type);

// Parses a type as users write it: the names above, the STIX type names
// (domain-name, ipv4-addr, ipv6-addr, email-addr, url), "sha-1"/"sha-256"/
// "sha-512", "hash" or "file" (any hash). Returns nullopt for anything else.
// `any_hash` is set for "hash"/"file".
std::optional<ObservableType> parse_observable_type(std::string_view name, bool* any_hash = nullptr);

// Recognises and canonicalises `value`. With `hint`, the value must be of
// that type (an error otherwise); without, the type is detected. Errors
// (data) say what is wrong in one phrase, e.g. "'com' is a public suffix,
// not a domain that can be blocked".
Result<Observable> classify_observable(std::string_view value, std::optional<ObservableType> hint = std::nullopt,
                                       bool hint_any_hash = false);

// The STIX pattern that matches the observable, e.g.
// [domain-name:value = 'example.com'] or [file:hashes.'SHA-256' = '…'];
// IP ranges use ISSUBSET.
std::string observable_pattern(const Observable& observable);
// The same, appended to `out` (no allocation when `out` has room).
void append_observable_pattern(std::string& out, ObservableType type, std::string_view canonical_value);

// The STIX SCO type the observable is, e.g. "domain-name", "file".
std::string_view observable_sco_type(ObservableType type);
// The hash algorithm (STIX 2.1 §10.8) a file-hash type names in
// file:hashes: "MD5", "SHA-1", "SHA-256", "SHA-512"; "" for the others.
std::string_view observable_hash_algorithm(ObservableType type);

}  // namespace ctishare::stix
