// The property tables of the SDOs (§4), SROs (§5) and meta objects (§7), and
// the lookups over every table. Only each type's own properties are listed;
// the common properties of §3.2 are the validator's (they depend on the kind
// of object, not on its type).
#include "stix/schema.h"

#include <algorithm>
#include <unordered_map>

namespace ctishare::stix::schema {

namespace {

using K = Kind;

// Reference targets that name a kind rather than a type.
const std::vector<std::string_view> kSdo = {"@sdo"};
const std::vector<std::string_view> kSdoOrSco = {"@sdo", "@sco"};
const std::vector<std::string_view> kSco = {"@sco"};

Property req(std::string_view name, Kind kind) { return {.name = name, .kind = kind, .required = true}; }
Property opt(std::string_view name, Kind kind) { return {.name = name, .kind = kind}; }
Property vocab(std::string_view name, Kind kind, std::string_view vocabulary, bool required = false) {
  return {.name = name, .kind = kind, .required = required, .vocab = vocabulary};
}
Property ref(std::string_view name, Kind kind, std::vector<std::string_view> targets, bool required = false) {
  return {.name = name, .kind = kind, .required = required, .targets = std::move(targets)};
}

}  // namespace

const std::vector<ObjectSchema>& other_types() {
  static const std::vector<ObjectSchema> types = {
      // §4 SDOs
      {"attack-pattern",
       {req("name", K::string), opt("description", K::string), opt("aliases", K::string_list),
        opt("kill_chain_phases", K::kill_chain_phases)}},
      {"campaign",
       {req("name", K::string), opt("description", K::string), opt("aliases", K::string_list),
        opt("first_seen", K::timestamp), opt("last_seen", K::timestamp), opt("objective", K::string)}},
      {"course-of-action", {req("name", K::string), opt("description", K::string)}},
      {"grouping",
       {opt("name", K::string), opt("description", K::string),
        vocab("context", K::open_vocab, "grouping-context-ov", true), req("object_refs", K::identifier_list)}},
      {"identity",
       {req("name", K::string), opt("description", K::string), opt("roles", K::string_list),
        vocab("identity_class", K::open_vocab, "identity-class-ov"),
        vocab("sectors", K::open_vocab_list, "industry-sector-ov"), opt("contact_information", K::string)}},
      {"incident", {req("name", K::string), opt("description", K::string), opt("kill_chain_phases", K::kill_chain_phases)}},
      {"indicator",
       {opt("name", K::string), opt("description", K::string),
        vocab("indicator_types", K::open_vocab_list, "indicator-type-ov"), req("pattern", K::string),
        vocab("pattern_type", K::open_vocab, "pattern-type-ov", true), opt("pattern_version", K::string),
        req("valid_from", K::timestamp), opt("valid_until", K::timestamp),
        opt("kill_chain_phases", K::kill_chain_phases)}},
      {"infrastructure",
       {req("name", K::string), opt("description", K::string),
        vocab("infrastructure_types", K::open_vocab_list, "infrastructure-type-ov"), opt("aliases", K::string_list),
        opt("kill_chain_phases", K::kill_chain_phases), opt("first_seen", K::timestamp),
        opt("last_seen", K::timestamp)}},
      {"intrusion-set",
       {req("name", K::string), opt("description", K::string), opt("aliases", K::string_list),
        opt("first_seen", K::timestamp), opt("last_seen", K::timestamp), opt("goals", K::string_list),
        vocab("resource_level", K::open_vocab, "attack-resource-level-ov"),
        vocab("primary_motivation", K::open_vocab, "attack-motivation-ov"),
        vocab("secondary_motivations", K::open_vocab_list, "attack-motivation-ov")}},
      {"location",
       {opt("name", K::string), opt("description", K::string), opt("latitude", K::number),
        opt("longitude", K::number), opt("precision", K::number), vocab("region", K::open_vocab, "region-ov"),
        opt("country", K::string), opt("administrative_area", K::string), opt("city", K::string),
        opt("street_address", K::string), opt("postal_code", K::string)}},
      // is_family: optional in the Errata 01 text, required by the schema and
      // python-stix2; the validator reports its absence as E050, which can be
      // ignored, rather than as a missing required property.
      {"malware",
       {opt("name", K::string), opt("description", K::string),
        vocab("malware_types", K::open_vocab_list, "malware-type-ov"), opt("is_family", K::boolean),
        opt("aliases", K::string_list), opt("kill_chain_phases", K::kill_chain_phases),
        opt("first_seen", K::timestamp), opt("last_seen", K::timestamp),
        ref("operating_system_refs", K::identifier_list, {"software"}),
        vocab("architecture_execution_envs", K::open_vocab_list, "processor-architecture-ov"),
        vocab("implementation_languages", K::open_vocab_list, "implementation-language-ov"),
        vocab("capabilities", K::open_vocab_list, "malware-capabilities-ov"),
        ref("sample_refs", K::identifier_list, {"file", "artifact"})}},
      {"malware-analysis",
       {req("product", K::string), opt("version", K::string), ref("host_vm_ref", K::identifier, {"software"}),
        ref("operating_system_ref", K::identifier, {"software"}),
        ref("installed_software_refs", K::identifier_list, {"software"}), opt("configuration_version", K::string),
        opt("modules", K::string_list), opt("analysis_engine_version", K::string),
        opt("analysis_definition_version", K::string), opt("submitted", K::timestamp),
        opt("analysis_started", K::timestamp), opt("analysis_ended", K::timestamp), opt("result_name", K::string),
        vocab("result", K::open_vocab, "malware-result-ov"), ref("analysis_sco_refs", K::identifier_list, kSco),
        ref("sample_ref", K::identifier, {"file", "artifact", "network-traffic"})}},
      {"note",
       {opt("abstract", K::string), req("content", K::string), opt("authors", K::string_list),
        req("object_refs", K::identifier_list)}},
      {"observed-data",
       {req("first_observed", K::timestamp), req("last_observed", K::timestamp),
        {.name = "number_observed", .kind = K::integer, .required = true, .min = 1, .max = 999'999'999},
        opt("objects", K::dictionary), ref("object_refs", K::identifier_list, {"@sco", "relationship"})}},
      {"opinion",
       {opt("explanation", K::string), opt("authors", K::string_list),
        vocab("opinion", K::enumeration, "opinion-enum", true), req("object_refs", K::identifier_list)}},
      {"report",
       {req("name", K::string), opt("description", K::string),
        vocab("report_types", K::open_vocab_list, "report-type-ov"), req("published", K::timestamp),
        req("object_refs", K::identifier_list)}},
      {"threat-actor",
       {req("name", K::string), opt("description", K::string),
        vocab("threat_actor_types", K::open_vocab_list, "threat-actor-type-ov"), opt("aliases", K::string_list),
        opt("first_seen", K::timestamp), opt("last_seen", K::timestamp),
        vocab("roles", K::open_vocab_list, "threat-actor-role-ov"), opt("goals", K::string_list),
        vocab("sophistication", K::open_vocab, "threat-actor-sophistication-ov"),
        vocab("resource_level", K::open_vocab, "attack-resource-level-ov"),
        vocab("primary_motivation", K::open_vocab, "attack-motivation-ov"),
        vocab("secondary_motivations", K::open_vocab_list, "attack-motivation-ov"),
        vocab("personal_motivations", K::open_vocab_list, "attack-motivation-ov")}},
      {"tool",
       {req("name", K::string), opt("description", K::string), vocab("tool_types", K::open_vocab_list, "tool-type-ov"),
        opt("aliases", K::string_list), opt("kill_chain_phases", K::kill_chain_phases),
        opt("tool_version", K::string)}},
      {"vulnerability", {req("name", K::string), opt("description", K::string)}},
      // §5 SROs
      {"relationship",
       {req("relationship_type", K::string), opt("description", K::string),
        ref("source_ref", K::identifier, kSdoOrSco, true), ref("target_ref", K::identifier, kSdoOrSco, true),
        opt("start_time", K::timestamp), opt("stop_time", K::timestamp)}},
      {"sighting",
       {opt("description", K::string), opt("first_seen", K::timestamp), opt("last_seen", K::timestamp),
        {.name = "count", .kind = K::integer, .min = 0, .max = 999'999'999},
        ref("sighting_of_ref", K::identifier, kSdo, true),
        ref("observed_data_refs", K::identifier_list, {"observed-data"}),
        ref("where_sighted_refs", K::identifier_list, {"identity", "location"}), opt("summary", K::boolean)}},
      // §7 meta objects
      {"marking-definition",
       {opt("name", K::string), opt("definition_type", K::string), opt("definition", K::object)}},
      {"language-content",
       {ref("object_ref", K::identifier, {"@object"}, true), opt("object_modified", K::timestamp), req("contents", K::object)}},
      {"extension-definition",
       {req("name", K::string), opt("description", K::string), req("schema", K::string), req("version", K::string),
        vocab("extension_types", K::enumeration_list, "extension-type-enum", true),
        opt("extension_properties", K::string_list)}},
  };
  return types;
}

namespace {

struct Index {
  std::unordered_map<std::string_view, const ObjectSchema*> types;
  Index() {
    for (const auto& s : sco_types()) types.emplace(s.name, &s);
    for (const auto& s : other_types()) types.emplace(s.name, &s);
  }
};

}  // namespace

const ObjectSchema* find_type(std::string_view type) {
  static const Index index;
  auto it = index.types.find(type);
  return it == index.types.end() ? nullptr : it->second;
}

const Property* find_property(const ObjectSchema& schema, std::string_view name) {
  auto it = std::find_if(schema.properties.begin(), schema.properties.end(),
                         [&](const Property& p) { return p.name == name; });
  return it == schema.properties.end() ? nullptr : &*it;
}

}  // namespace ctishare::stix::schema
