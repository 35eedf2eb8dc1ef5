// The STIX 2.1 type registry, the Object wrapper and deterministic SCO ids.
#include "ctishare/object.h"

#include <algorithm>

namespace ctishare::stix {

namespace {

using K = ObjectKind;

const std::vector<std::string_view> kAnyObject = {"*"};

std::vector<TypeInfo> make_registry() {
  return {
      // §4 SDOs
      {"attack-pattern", K::sdo, {"name"}, {}, {}},
      {"campaign", K::sdo, {"name"}, {}, {}},
      {"course-of-action", K::sdo, {"name"}, {}, {}},
      {"grouping", K::sdo, {"context", "object_refs"}, {}, {{"object_refs", kAnyObject}}},
      {"identity", K::sdo, {"name"}, {}, {}},
      {"incident", K::sdo, {"name"}, {}, {}},
      {"indicator", K::sdo, {"pattern", "pattern_type", "valid_from"}, {}, {}},
      {"infrastructure", K::sdo, {"name"}, {}, {}},
      {"intrusion-set", K::sdo, {"name"}, {}, {}},
      {"location", K::sdo, {}, {}, {}},
      // is_family is optional in the normative Errata 01 text, though the
      // JSON schema requires it.
      {"malware", K::sdo, {}, {}, {{"operating_system_refs", {"software"}}, {"sample_refs", {"file", "artifact"}}}},
      {"malware-analysis", K::sdo, {"product"}, {},
       {{"host_vm_ref", {"software"}},
        {"operating_system_ref", {"software"}},
        {"installed_software_refs", {"software"}},
        {"sample_ref", {"file", "artifact", "network-traffic"}}}},
      {"note", K::sdo, {"content", "object_refs"}, {}, {{"object_refs", kAnyObject}}},
      {"observed-data", K::sdo, {"first_observed", "last_observed", "number_observed"}, {}, {{"object_refs", kAnyObject}}},
      {"opinion", K::sdo, {"opinion", "object_refs"}, {}, {{"object_refs", kAnyObject}}},
      {"report", K::sdo, {"name", "published", "object_refs"}, {}, {{"object_refs", kAnyObject}}},
      {"threat-actor", K::sdo, {"name"}, {}, {}},
      {"tool", K::sdo, {"name"}, {}, {}},
      {"vulnerability", K::sdo, {"name"}, {}, {}},
      // §5 SROs
      {"relationship", K::sro, {"relationship_type", "source_ref", "target_ref"}, {},
       {{"source_ref", kAnyObject}, {"target_ref", kAnyObject}}},
      {"sighting", K::sro, {"sighting_of_ref"}, {},
       {{"sighting_of_ref", kAnyObject},
        {"observed_data_refs", {"observed-data"}},
        {"where_sighted_refs", {"identity", "location"}}}},
      // §6 SCOs
      {"artifact", K::sco, {}, {"hashes", "payload_bin"}, {}},
      {"autonomous-system", K::sco, {"number"}, {"number"}, {}},
      {"directory", K::sco, {"path"}, {"path"}, {{"contains_refs", {"file", "directory"}}}},
      {"domain-name", K::sco, {"value"}, {"value"}, {{"resolves_to_refs", {"ipv4-addr", "ipv6-addr", "domain-name"}}}},
      {"email-addr", K::sco, {"value"}, {"value"}, {{"belongs_to_ref", {"user-account"}}}},
      {"email-message", K::sco, {"is_multipart"}, {"from_ref", "subject", "body"},
       {{"from_ref", {"email-addr"}},
        {"sender_ref", {"email-addr"}},
        {"to_refs", {"email-addr"}},
        {"cc_refs", {"email-addr"}},
        {"bcc_refs", {"email-addr"}},
        {"raw_email_ref", {"artifact"}}}},
      {"file", K::sco, {}, {"hashes", "name", "extensions", "parent_directory_ref"},
       {{"parent_directory_ref", {"directory"}}, {"content_ref", {"artifact"}}, {"contains_refs", kAnyObject}}},
      {"ipv4-addr", K::sco, {"value"}, {"value"},
       {{"resolves_to_refs", {"mac-addr"}}, {"belongs_to_refs", {"autonomous-system"}}}},
      {"ipv6-addr", K::sco, {"value"}, {"value"},
       {{"resolves_to_refs", {"mac-addr"}}, {"belongs_to_refs", {"autonomous-system"}}}},
      {"mac-addr", K::sco, {"value"}, {"value"}, {}},
      {"mutex", K::sco, {"name"}, {"name"}, {}},
      {"network-traffic", K::sco, {"protocols"},
       {"start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"},
       {{"src_ref", {"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"}},
        {"dst_ref", {"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"}},
        {"src_payload_ref", {"artifact"}},
        {"dst_payload_ref", {"artifact"}},
        {"encapsulates_refs", {"network-traffic"}},
        {"encapsulated_by_ref", {"network-traffic"}}}},
      {"process", K::sco, {}, {},
       {{"opened_connection_refs", {"network-traffic"}},
        {"creator_user_ref", {"user-account"}},
        {"image_ref", {"file"}},
        {"parent_ref", {"process"}},
        {"child_refs", {"process"}}}},
      {"software", K::sco, {"name"}, {"name", "cpe", "swid", "vendor", "version"}, {}},
      {"url", K::sco, {"value"}, {"value"}, {}},
      {"user-account", K::sco, {}, {"account_type", "user_id", "account_login"}, {}},
      {"windows-registry-key", K::sco, {}, {"key", "values"}, {{"creator_user_ref", {"user-account"}}}},
      {"x509-certificate", K::sco, {}, {"hashes", "serial_number"}, {}},
      // §7 meta objects
      {"language-content", K::meta, {"object_ref", "contents"}, {}, {{"object_ref", kAnyObject}}},
      {"marking-definition", K::meta, {}, {}, {}},
      {"extension-definition", K::meta, {"created_by_ref", "name", "schema", "version", "extension_types"}, {}, {}},
  };
}

bool valid_type_name(std::string_view t) {
  if (t.size() < 3 || t.size() > 250) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace

const std::vector<TypeInfo>& all_types() {
  static const std::vector<TypeInfo> registry = make_registry();
  return registry;
}

const TypeInfo* find_type(std::string_view type) {
  for (const auto& t : all_types())
    if (t.type == type) return &t;
  return nullptr;
}

ObjectKind kind_of(std::string_view type) {
  if (type == "bundle") return ObjectKind::bundle;
  if (const TypeInfo* t = find_type(type)) return t->kind;
  // Custom objects of the deprecated §11 mechanism carry SDO properties.
  if (type.rfind("x-", 0) == 0) return ObjectKind::sdo;
  return ObjectKind::unknown;
}

Result<Identifier> Identifier::parse(std::string_view id) {
  auto sep = id.find("--");
  if (sep == std::string_view::npos)
    return Error(ErrorCategory::data, "invalid identifier " + quote(id) + ": expected <type>--<uuid>");
  std::string_view type = id.substr(0, sep);
  if (!valid_type_name(type))
    return Error(ErrorCategory::data, "invalid identifier " + quote(id) + ": bad object type " + quote(type));
  auto uuid = Uuid::parse(id.substr(sep + 2));
  if (!uuid) return Error(ErrorCategory::data, "invalid identifier " + quote(id) + ": the part after '--' is not a UUID");
  return Identifier{std::string(type), *uuid};
}

std::string Identifier::to_string() const { return type + "--" + uuid.to_string(); }

Result<Object> Object::from_json(json::Value value) {
  if (!value.is_object()) return Error(ErrorCategory::data, "STIX object is not a JSON object");
  auto type = value.find_string("type");
  if (!type) return Error(ErrorCategory::data, "object has no string property 'type'");
  auto id = value.find_string("id");
  if (!id) return Error(ErrorCategory::data, std::string(*type) + " has no string property 'id'");
  return Object(std::move(value));
}

std::string_view Object::type() const { return *json_.find_string("type"); }
std::string_view Object::id() const { return *json_.find_string("id"); }

bool Object::revoked() const {
  const json::Value* r = json_.find("revoked");
  return r != nullptr && r->is_bool() && r->as_bool();
}

std::string_view Object::version() const {
  if (auto m = modified()) return *m;
  if (auto c = created()) return *c;
  return {};
}

bool version_less(const Object& a, const Object& b) {
  int c = a.id().compare(b.id());
  if (c != 0) return c < 0;
  // Compare modified by instant where both parse, else by text.
  auto ta = Timestamp::parse(a.version());
  auto tb = Timestamp::parse(b.version());
  if (ta && tb) return *ta < *tb;
  return a.version() < b.version();
}

// ---------------------------------------------------------------- versions

Result<Object> new_version(const Object& object, const json::Object& changes, const Timestamp& now) {
  const std::string subject = std::string(object.type()) + " " + quote(object.id());
  const ObjectKind kind = object.kind();
  if (kind == ObjectKind::sco || object.type() == "marking-definition" || kind == ObjectKind::bundle)
    return Error(ErrorCategory::data, subject + " cannot be versioned (STIX 2.1 §3.6)");
  auto created = object.created();
  auto modified = object.modified();
  if (!created || !modified) return Error(ErrorCategory::data, subject + " has no created/modified to version");
  auto last = Timestamp::parse(*modified);
  if (!last) return std::move(last).error().with_context(subject);
  if (object.revoked()) return Error(ErrorCategory::data, subject + " is revoked; no version may follow a revocation");
  for (const auto& [name, value] : changes)
    if (name == "id" || name == "type" || name == "created" || name == "created_by_ref" || name == "modified")
      return Error(ErrorCategory::data, subject + ": a new version cannot change " + quote(name));
  const Timestamp next = next_version_time(*last, now);
  json::Value v = object.json();
  for (const auto& [name, value] : changes) {
    if (value.is_null()) v.erase(name);
    else v.set(name, value);
  }
  v.set("modified", next.to_string());
  return Object::from_json(std::move(v));
}

Result<Object> revoke(const Object& object, const Timestamp& now) {
  return new_version(object, json::Object{{"revoked", true}}, now);
}

// ---------------------------------------------------------------- SCO ids

namespace {

// python-stix2 writes non-versioning timestamps without trailing fractional
// zeros; the id must be computed from that form.
json::Value normalise_timestamp(const json::Value& v) {
  if (!v.is_string()) return v;
  auto t = Timestamp::parse(v.as_string());
  if (!t) return v;
  std::string s = v.as_string();
  auto dot = s.find('.');
  if (dot == std::string::npos) return v;
  std::size_t end = s.size() - 1;  // the 'Z'
  std::size_t last = end;
  while (last > dot + 1 && s[last - 1] == '0') --last;
  if (last == dot + 1) s.erase(dot, end - dot);
  else s.erase(last, end - last);
  return json::Value(std::move(s));
}

Result<json::Value> reduce_hashes(const json::Value& hashes) {
  if (!hashes.is_object() || hashes.as_object().empty())
    return Error(ErrorCategory::data, "'hashes' must be a non-empty dictionary");
  for (const char* algo : {"MD5", "SHA-1", "SHA-256", "SHA-512"})
    if (const json::Value* h = hashes.find(algo)) return json::Value(json::Object{{algo, *h}});
  const auto& first = hashes.as_object().front();
  return json::Value(json::Object{{first.first, first.second}});
}

}  // namespace

Result<std::optional<std::string>> sco_id_name(const json::Value& sco) {
  auto type = sco.find_string("type");
  if (!type) return Error(ErrorCategory::data, "object has no string property 'type'");
  const TypeInfo* info = find_type(*type);
  if (info == nullptr || info->kind != ObjectKind::sco || info->id_contributing.empty())
    return std::optional<std::string>();
  json::Value name{json::Object{}};
  for (std::string_view prop : info->id_contributing) {
    const json::Value* v = sco.find(prop);
    if (v == nullptr) continue;
    if (prop == "hashes") {
      auto reduced = reduce_hashes(*v);
      if (!reduced) return std::move(reduced).error();
      name.set(prop, std::move(*reduced));
    } else if (prop == "start" || prop == "end") {
      name.set(prop, normalise_timestamp(*v));
    } else {
      name.set(prop, *v);
    }
  }
  if (name.as_object().empty()) return std::optional<std::string>();
  auto text = json::canonicalize(name);
  if (!text) return std::move(text).error();
  return std::optional<std::string>(std::move(*text));
}

Result<std::optional<std::string>> deterministic_sco_id(const json::Value& sco) {
  auto name = sco_id_name(sco);
  if (!name) return std::move(name).error();
  if (!name->has_value()) return std::optional<std::string>();
  std::string id(*sco.find_string("type"));
  id += "--";
  Uuid::v5(stix_sco_namespace(), **name).append_to(id);
  return std::optional<std::string>(std::move(id));
}

}  // namespace ctishare::stix
