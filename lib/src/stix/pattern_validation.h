// The validator's view of a STIX pattern: parse it, run the semantic checks,
// and hand each problem over as an error or one of two kinds of warning.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace ctishare::stix {

enum class PatternFindingKind {
  error,           // does not parse, or breaks a MUST of §9
  custom_content,  // a custom object type or property
  literal_type,    // a literal that cannot match the property's type
};

// Calls `on_finding` for every problem of `pattern` (a pattern_type "stix"
// pattern), each message starting with its column ("column 7: …").
void validate_stix_pattern(std::string_view pattern,
                           const std::function<void(PatternFindingKind, std::string)>& on_finding);

}  // namespace ctishare::stix
