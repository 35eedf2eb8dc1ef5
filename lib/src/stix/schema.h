// What STIX 2.1 says about the properties of each spec-defined object type:
// the JSON shape of every property, whether it is required, which
// vocabulary or enumeration it draws from, which object types a reference
// may point to, and numeric ranges. The validator walks objects against
// these tables; the pattern checker uses them to know SCO types and their
// properties. Co-constraints between properties ("at least one of",
// "last_seen >= first_seen") are code in the validator, not data here.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace ctishare::stix::schema {

enum class Kind : std::uint8_t {
  any,                  // not checked (e.g. a value inside a custom dictionary)
  string,               // JSON string
  string_list,          // non-empty list of strings
  integer,              // JSON integer within [min, max] (default: the 54-bit range of §2.10)
  number,               // JSON number (float, §2.6)
  boolean,              // true / false
  timestamp,            // RFC 3339 UTC string (§2.16)
  timestamp_ms,         // timestamp with at least millisecond precision (created / modified)
  identifier,           // one reference: "<type>--<uuid>"; `targets` limits the type
  identifier_list,      // non-empty list of references
  open_vocab,           // string, SHOULD come from `vocab` (warning otherwise)
  open_vocab_list,      // non-empty list of open_vocab
  enumeration,          // string, MUST come from `vocab` (error otherwise)
  enumeration_list,     // non-empty list of enumeration
  dictionary,           // non-empty JSON object, keys per §2.3
  hashes,               // hashes type (§2.7)
  binary,               // base64 string (§2.1)
  hex,                  // even-length lower-case hex string (§2.8)
  external_references,  // non-empty list of external-reference (§2.5)
  kill_chain_phases,    // non-empty list of kill-chain-phase (§2.11)
  granular_markings,    // non-empty list of granular-marking (§7.2.3)
  extensions,           // the extensions dictionary (§3.2, §7.3)
  object,               // nested JSON object described by `nested`
  object_list,          // non-empty list of nested objects described by `nested`
  scalar,               // a string or an integer (dictionary values such as ipfix, exif_tags)
  language,             // an RFC 5646 language tag
  language_list,        // non-empty list of language tags
};

struct ObjectSchema;

struct Property {
  std::string_view name;
  Kind kind = Kind::any;
  bool required = false;
  std::string_view vocab = {};                // vocabulary / enumeration name, e.g. "indicator-type-ov"
  std::vector<std::string_view> targets = {}; // identifier kinds: allowed target types, or kinds
                                              // "@sdo" / "@sco" (custom types count as either), "@object" (anything
                                              // but a bundle); empty = any
  std::int64_t min = -(std::int64_t{1} << 53) + 1;
  std::int64_t max = (std::int64_t{1} << 53) - 1;
  const ObjectSchema* nested = nullptr;       // object / object_list kinds
  Kind values = Kind::any;                    // dictionary kind: what every value must be
};

// The properties of one object type, or of one nested structure (an SCO
// predefined extension such as "archive-ext", a network-traffic
// "http-request-ext", an email MIME part, a windows-registry-value...).
// For top-level types the list holds the type's own properties only; the
// common properties of its kind (§3.2) come from common_properties().
struct ObjectSchema {
  std::string_view name;
  std::vector<Property> properties;
};

// The schema of a spec-defined top-level type (SDO, SRO, SCO, meta object);
// nullptr for custom and unknown types.
const ObjectSchema* find_type(std::string_view type);

// The predefined extensions of an SCO type (§6: "archive-ext" on file,
// "tcp-ext" on network-traffic...): the schema of extension `name` of
// `sco_type`, or nullptr when the spec defines no such extension.
const ObjectSchema* find_extension(std::string_view sco_type, std::string_view name);

// The property `name` of `schema`, or nullptr.
const Property* find_property(const ObjectSchema& schema, std::string_view name);

// The tables behind find_type, one per file: the SCOs of §6 (schema_sco.cpp)
// and the SDOs, SROs and meta objects of §4, §5 and §7 (schema.cpp).
const std::vector<ObjectSchema>& sco_types();
const std::vector<ObjectSchema>& other_types();

}  // namespace ctishare::stix::schema
