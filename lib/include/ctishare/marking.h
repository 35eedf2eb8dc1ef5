// Traffic Light Protocol markings: the TLP 2.0 marking-definition objects of
// the OASIS extension (extension-definition--60a3c5c5-…) that the suite emits,
// and the canonical TLP 1.0 ids it recognises on input.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ctishare/json.h"

namespace ctishare::stix {

enum class Tlp { clear, green, amber, amber_strict, red };

// "clear", "white" (the TLP 1.0 name of clear), "green", "amber",
// "amber+strict", "red", case-insensitive, with or without a "TLP:" prefix;
// nullopt otherwise.
std::optional<Tlp> parse_tlp(std::string_view name);
// "clear", "green", "amber", "amber+strict", "red".
std::string_view tlp_name(Tlp tlp);
// The TLP 2.0 marking-definition id.
std::string_view tlp2_marking_id(Tlp tlp);
// The TLP 1.0 marking-definition id (clear is TLP 1.0 white); "" for
// amber+strict, which TLP 1.0 does not have.
std::string_view tlp1_marking_id(Tlp tlp);
// The TLP 2.0 marking-definition object exactly as OASIS publishes it.
json::Value tlp2_marking_object(Tlp tlp);
// The TLP level a marking-definition id stands for (TLP 2.0 or TLP 1.0
// canonical ids); nullopt for other markings.
std::optional<Tlp> tlp_of_marking_id(std::string_view id);
// True when `a` is more restrictive than `b` (clear < green < amber < amber+strict < red).
inline bool more_restrictive(Tlp a, Tlp b) { return static_cast<int>(a) > static_cast<int>(b); }

class Object;
// The most restrictive TLP marking of an object (object_marking_refs and
// granular_markings, TLP 1.0 and 2.0 ids); nullopt when it has none.
std::optional<Tlp> tlp_of(const Object& object);

}  // namespace ctishare::stix
