// TLP marking definitions (TLP 2.0 objects, TLP 1.0 and 2.0 ids).
#include "ctishare/marking.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "ctishare/object.h"

namespace ctishare::stix {

namespace {

constexpr std::string_view kTlp2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

struct TlpRow {
  Tlp tlp;
  std::string_view name;
  std::string_view tlp2_id;
  std::string_view tlp1_id;  // empty where TLP 1.0 has no such level
};

constexpr std::array<TlpRow, 5> kRows = {{
    {Tlp::clear, "clear", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
     "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"},
    {Tlp::green, "green", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
     "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"},
    {Tlp::amber, "amber", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
     "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"},
    {Tlp::amber_strict, "amber+strict", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", ""},
    {Tlp::red, "red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
     "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"},
}};

const TlpRow& row(Tlp tlp) { return kRows[static_cast<std::size_t>(tlp)]; }

}  // namespace

std::optional<Tlp> parse_tlp(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n.rfind("tlp:", 0) == 0) n.erase(0, 4);
  if (n == "white") return Tlp::clear;
  if (n == "amber-strict" || n == "amber_strict") return Tlp::amber_strict;
  for (const auto& r : kRows)
    if (r.name == n) return r.tlp;
  return std::nullopt;
}

std::string_view tlp_name(Tlp tlp) { return row(tlp).name; }
std::string_view tlp2_marking_id(Tlp tlp) { return row(tlp).tlp2_id; }

json::Value tlp2_marking_object(Tlp tlp) {
  std::string upper = "TLP:";
  for (char c : row(tlp).name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return json::Value(json::Object{
      {"type", "marking-definition"},
      {"spec_version", "2.1"},
      {"id", row(tlp).tlp2_id},
      {"created", "2022-10-01T00:00:00.000Z"},
      {"name", upper},
      {"extensions", json::Object{{std::string(kTlp2Extension), json::Object{{"extension_type", "property-extension"},
                                                                             {"tlp_2_0", row(tlp).name}}}}},
  });
}

std::string_view tlp1_marking_id(Tlp tlp) { return row(tlp).tlp1_id; }

std::optional<Tlp> tlp_of_marking_id(std::string_view id) {
  for (const auto& r : kRows)
    if (r.tlp2_id == id || (!r.tlp1_id.empty() && r.tlp1_id == id)) return r.tlp;
  return std::nullopt;
}

std::optional<Tlp> tlp_of(const Object& object) {
  std::optional<Tlp> highest;
  const auto raise = [&highest](std::string_view marking_id) {
    auto tlp = tlp_of_marking_id(marking_id);
    if (tlp && (!highest || more_restrictive(*tlp, *highest))) highest = tlp;
  };
  if (const json::Value* refs = object.get("object_marking_refs"); refs && refs->is_array())
    for (const auto& r : refs->as_array())
      if (r.is_string()) raise(r.as_string());
  if (const json::Value* g = object.get("granular_markings"); g && g->is_array())
    for (const auto& m : g->as_array())
      if (auto ref = m.is_object() ? m.find_string("marking_ref") : std::nullopt) raise(*ref);
  return highest;
}

}  // namespace ctishare::stix
