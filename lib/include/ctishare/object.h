// The STIX 2.1 object model: every object is kept as its JSON (so unknown
// and custom properties survive a round trip unchanged), with typed access to
// the common properties, a registry describing each spec-defined type
// (kind, required properties, reference targets, ID-contributing
// properties), and deterministic SCO ids (§2.9).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/json.h"
#include "ctishare/result.h"
#include "ctishare/time.h"
#include "ctishare/uuid.h"

namespace ctishare::stix {

enum class ObjectKind { sdo, sro, sco, meta, bundle, unknown };

// A reference property and the object types it may point to
// ("*" accepts any type).
struct ReferenceRule {
  std::string_view property;
  std::vector<std::string_view> targets;
};

// What the specification says about one object type.
struct TypeInfo {
  std::string_view type;
  ObjectKind kind;
  std::vector<std::string_view> required;         // beyond the common ones
  std::vector<std::string_view> id_contributing;  // SCOs only (§2.9); empty: always UUIDv4
  std::vector<ReferenceRule> references;
};

// The registry entry for a spec-defined type; nullptr for custom types.
const TypeInfo* find_type(std::string_view type);
// Every spec-defined type (SDOs, SROs, SCOs, meta objects).
const std::vector<TypeInfo>& all_types();

// The kind of an object type: registry types by table, others by shape
// ("x-" custom types are SDO-like unless the caller knows better).
ObjectKind kind_of(std::string_view type);

// A parsed STIX identifier: "<type>--<uuid>".
struct Identifier {
  std::string type;
  Uuid uuid;
  // Parses and checks the form; the type must be 3-250 characters of
  // [a-z0-9-]. Returns a data error naming the id otherwise.
  static Result<Identifier> parse(std::string_view id);
  std::string to_string() const;
};

// One STIX object. Holds the complete JSON; accessors read the common
// properties. Construction checks only what every object needs (a JSON
// object with string "type" and "id"); full validation is separate.
class Object {
 public:
  // Takes a JSON value. Errors (data): not an object, no string "type" or
  // "id".
  static Result<Object> from_json(json::Value value);

  const json::Value& json() const noexcept { return json_; }
  json::Value& json() noexcept { return json_; }
  json::Value release() && { return std::move(json_); }

  std::string_view type() const;
  std::string_view id() const;
  ObjectKind kind() const { return kind_of(type()); }
  std::optional<std::string_view> spec_version() const { return json_.find_string("spec_version"); }
  // created / modified as written; nullopt when absent or not a string.
  std::optional<std::string_view> created() const { return json_.find_string("created"); }
  std::optional<std::string_view> modified() const { return json_.find_string("modified"); }
  bool revoked() const;
  std::optional<std::string_view> created_by_ref() const { return json_.find_string("created_by_ref"); }
  const json::Value* get(std::string_view property) const { return json_.find(property); }
  std::optional<std::string_view> get_string(std::string_view property) const { return json_.find_string(property); }

  // The version key: (id, modified) — "modified" falls back to "created"
  // (marking definitions) and then to "" (SCOs, which are not versioned).
  std::string_view version() const;

  // Serialises exactly what is held.
  std::string to_string(json::Layout layout = json::Layout::compact) const { return json::to_string(json_, layout); }

 private:
  explicit Object(json::Value v) : json_(std::move(v)) {}
  json::Value json_;
};

// Orders objects by (id, modified) as the suite's deterministic outputs do.
bool version_less(const Object& a, const Object& b);

// Versioning (§3.6). A new version of `object` (same id and created, every
// other property kept) with `changes` applied (members set, or removed when
// the value is null) and modified set to `now`, or to one millisecond after
// the current modified when `now` is not later. Errors (data): the object is
// not versionable (an SCO, a marking definition, no created/modified), is
// revoked (no version may follow a revocation), or `changes` touches id,
// type, created or created_by_ref (only the creator versions an object; a
// changed creator means a new object).
Result<Object> new_version(const Object& object, const json::Object& changes, const Timestamp& now);
// The revoked version: new_version with revoked set to true.
Result<Object> revoke(const Object& object, const Timestamp& now);

// The deterministic id of an SCO (§2.9): UUIDv5 in the STIX namespace of the
// RFC 8785 form of its ID-contributing properties, with "hashes" reduced to
// one hash (MD5 > SHA-1 > SHA-256 > SHA-512, else the first listed) and
// timestamps re-written without trailing fractional zeros, as python-stix2
// does. Returns nullopt when the type has no ID-contributing properties or
// none is present (the id must then be UUIDv4); a data error when the
// properties cannot be canonicalised.
Result<std::optional<std::string>> deterministic_sco_id(const json::Value& sco);

// The name (JSON text) that deterministic_sco_id hashes; exposed for tests
// and for explaining mismatches.
Result<std::optional<std::string>> sco_id_name(const json::Value& sco);

}  // namespace ctishare::stix
