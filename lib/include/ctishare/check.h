// The checks of STIX validation: each has a stable code, a name, a default
// severity and a one-line description. Kept apart from validate.h so the
// tables that define checks (vocabularies) need not know the validator.
#pragma once

#include <span>
#include <string_view>

#include "ctishare/diagnostics.h"

namespace ctishare::stix {

// One check: a stable code ("E014", "W103"), a short name
// ("invalid-timestamp"), its default severity and a one-line description.
// Warnings keep the numbers of the OASIS stix2-validator where it has the
// same check, so existing --ignore lists carry over.
struct Check {
  std::string_view code;
  std::string_view name;
  Severity severity;
  std::string_view summary;
};

// Every check, in code order.
std::span<const Check> all_checks();
// The check with this code ("E014", "W103", or a bare warning number "103") or
// name ("invalid-timestamp"); nullptr when there is none.
const Check* find_check(std::string_view code_or_name);

}  // namespace ctishare::stix
