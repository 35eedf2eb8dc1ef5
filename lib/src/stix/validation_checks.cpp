// The table of validation checks: codes, names, severities. Errors (E0nn)
// are the MUSTs of STIX 2.1; warnings (Wnnn) its SHOULDs, numbered as the OASIS
// stix2-validator numbers them where it has the same check (1xx format,
// 2xx values, 3xx other), and from 501 up for checks it lacks.
#include <algorithm>
#include <vector>

#include "ctishare/check.h"
#include "stix/vocabulary.h"

namespace ctishare::stix {

namespace {

constexpr Severity E = Severity::error;
constexpr Severity W = Severity::warning;

constexpr Check kCoreChecks[] = {
    {"E001", "invalid-json", E, "the input is not well-formed JSON (I-JSON: no duplicate member names) or breaks a limit"},
    {"E002", "not-stix", E, "a top-level value or bundle element that is not a STIX object, bundle or list of objects"},
    {"E003", "invalid-bundle", E, "a bundle without a valid \"bundle--\" id, or with \"objects\" that is not a non-empty list"},
    {"E010", "missing-property", E, "a required property is absent"},
    {"E011", "property-type", E, "a property has the wrong JSON type (string, integer, boolean, list, object)"},
    {"E012", "empty-value", E, "an empty list or dictionary (§2.3, §2.12), or an empty string where a value is required"},
    {"E013", "invalid-identifier", E, "an id or reference that is not <type>--<RFC 4122 UUID>, or whose type is not the object's"},
    {"E014", "invalid-timestamp", E, "a timestamp that is not RFC 3339 UTC with \"Z\", or names a date or time that does not exist"},
    {"E015", "timestamp-precision", E, "created or modified with less than millisecond precision"},
    {"E016", "timestamp-order", E, "modified before created, last before first, valid_until not after valid_from, and the like"},
    {"E017", "out-of-range", E, "a number outside its range: confidence 0-100, ports, counts, the 54-bit integer range"},
    {"E018", "invalid-property-name", E, "a property or type name that breaks §3.1/§11: 3-250 characters of [a-z0-9_] (types [a-z0-9-])"},
    {"E019", "reserved-property", E, "a reserved property name (severity, username, phone_number, action) (§3.8)"},
    {"E020", "property-not-applicable", E, "a common property on a kind of object that must not carry it (confidence on an SCO, modified on a marking definition)"},
    {"E021", "invalid-enum", E, "a value outside a closed enumeration (§10)"},
    {"E022", "invalid-reference", E, "a reference to an object type the property must not point to"},
    {"E023", "invalid-hash", E, "a hash name that breaks §2.7, or a value that does not fit its algorithm"},
    {"E024", "invalid-encoding", E, "a _hex value that is not even-length lower-case hex, or a _bin value that is not base64"},
    {"E025", "invalid-marking", E, "a TLP marking definition that is not one of the canonical instances, or a marking that references itself"},
    {"E026", "invalid-selector", E, "a granular marking selector that does not point at content present in the object"},
    {"E027", "invalid-pattern", E, "an indicator pattern that does not parse or breaks a MUST of STIX patterning (§9)"},
    {"E028", "constraint", E, "a rule between properties: at least one of, exactly one of, only when, both or neither"},
    {"E029", "invalid-spec-version", E, "spec_version missing where required, or not \"2.1\""},
    {"E030", "invalid-extension", E, "an extension without a valid extension_type, a bad extension name, or a predefined extension missing what it requires"},
    {"E031", "invalid-external-reference", E, "an external reference without source_name, or with none of description, url, external_id"},
    {"E032", "invalid-language", E, "a lang or language code that is not RFC 5646"},
    {"E033", "invalid-value", E, "an SCO value that is not what its type says: an IP address or CIDR, a MAC-48, a host name, a URL, a bare e-mail address, a full registry hive"},
    {"E040", "version-conflict", E, "two versions of one object with the same modified and different content"},
    {"E041", "version-after-revocation", E, "a version later than a revoked version of the same object"},
    {"E042", "created-changed", E, "versions of one object with different created or created_by_ref"},
    {"E050", "malware-is-family", E, "malware without is_family (required by the schema and python-stix2; optional in the Errata 01 text)"},
    {"W101", "custom-prefix", W, "a custom property or object type that does not start with x_ / x-"},
    {"W103", "uuid-check", W, "an SDO/SRO id that is not UUIDv4, or an SCO id that is not UUIDv5 where one can be computed"},
    {"W111", "open-vocab-format", W, "an open vocabulary value outside the list that is not lower case with hyphens"},
    {"W121", "kill-chain-names", W, "a kill_chain_name or phase_name that is not lower case with hyphens"},
    {"W142", "dictionary-keys", W, "a dictionary key that is not lower case"},
    {"W202", "relationship-types", W, "a relationship type the specification does not define between these object types"},
    {"W203", "duplicate-ids", W, "the same version of an object (id and modified) more than once"},
    {"W241", "hash-algo", W, "a hash name outside hashing-algorithm-ov"},
    {"W302", "extref-hashes", W, "an external reference with a url and no hashes"},
    {"W304", "deprecated-properties", W, "a deprecated property or construct (observed-data objects, definition_type)"},
    {"W401", "extensions-use", W, "a custom object type not defined through an extension-definition (new-sdo, new-sco, new-sro)"},
    {"W501", "sco-id-mismatch", W, "an SCO id that differs from the UUIDv5 computed from its ID-contributing properties"},
    {"W502", "version-order", W, "versions of one object listed out of modified order"},
    {"W503", "pattern-custom-content", W, "a custom object type or property in a STIX pattern"},
    {"W504", "spec-version-2.0", W, "a STIX 2.0 object or bundle; it is checked only for what both versions require"},
    {"W505", "tlp-1.0", W, "a TLP 1.0 marking where TLP 2.0 is current"},
    {"W506", "pattern-literal-type", W, "a pattern literal whose type cannot match the property it is compared with"},
    {"W507", "unchecked-extension", W, "an extension the validator has no schema for, so its content is not checked"},
};

std::vector<Check> build_table() {
  std::vector<Check> checks(std::begin(kCoreChecks), std::end(kCoreChecks));
  for (const auto& vocabulary : vocab::all()) {
    if (!vocabulary.closed && !vocabulary.check.code.empty()) checks.push_back(vocabulary.check);
  }
  std::sort(checks.begin(), checks.end(), [](const Check& a, const Check& b) { return a.code < b.code; });
  checks.erase(std::unique(checks.begin(), checks.end(), [](const Check& a, const Check& b) { return a.code == b.code; }),
               checks.end());
  return checks;
}

const std::vector<Check>& table() {
  static const std::vector<Check> checks = build_table();
  return checks;
}

}  // namespace

std::span<const Check> all_checks() { return table(); }

const Check* find_check(std::string_view code) {
  for (const auto& check : table()) {
    if (check.code == code || check.name == code) return &check;
    // A bare number, as stix2-validator's --ignore lists give them: "103"
    // finds W103. (Error codes are E0nn, so no bare number is ambiguous.)
    if (!code.empty() && code.size() + 1 == check.code.size() && check.code.substr(1) == code) return &check;
  }
  return nullptr;
}

}  // namespace ctishare::stix
