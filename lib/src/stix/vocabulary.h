// The vocabularies of STIX 2.1 §10: open vocabularies (a value outside the
// suggested list is a warning) and closed enumerations (an error), each with
// the check its values are judged by; and the relationship types the
// specification defines between object types (§3.7, §4, §5, Appendix B).
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "ctishare/check.h"

namespace ctishare::stix::vocab {

struct Vocabulary {
  std::string_view name;     // as in the spec: "indicator-type-ov", "opinion-enum"
  bool closed;               // an enumeration (MUST) rather than an open vocabulary (SHOULD)
  Check check;               // open vocabularies: the warning a value outside the list raises
                             // (stix2-validator's number, e.g. W214 indicator-types);
                             // enumerations: code empty (the validator reports E021 invalid-enum)
  std::vector<std::string_view> values;
};

// The vocabulary or enumeration called `name`; nullptr when unknown.
const Vocabulary* find(std::string_view name);
// Every vocabulary and enumeration of §10 (Errata 01 values).
const std::vector<Vocabulary>& all();
// Whether `value` is one of the vocabulary's values (exact, case-sensitive).
bool contains(const Vocabulary& vocabulary, std::string_view value);

// Whether the specification defines `relationship_type` from `source_type`
// to `target_type`, including the common types of §3.7 (derived-from and
// duplicate-of between objects of one type, related-to between any).
bool is_spec_relationship(std::string_view source_type, std::string_view relationship_type,
                          std::string_view target_type);

}  // namespace ctishare::stix::vocab
