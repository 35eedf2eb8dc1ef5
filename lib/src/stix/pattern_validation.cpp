// Adapter from the pattern parser and checker to validation findings. The
// parse tree and issue list are reused from one indicator to the next, so a
// bundle of a million indicators does not allocate a tree per pattern.
#include "stix/pattern_validation.h"

#include "ctishare/pattern_parser.h"

namespace ctishare::stix {

void validate_stix_pattern(std::string_view text,
                           const std::function<void(PatternFindingKind, std::string)>& on_finding) {
  thread_local pattern::ParsedPattern parsed;
  thread_local std::vector<pattern::Issue> issues;
  pattern::ParseError error;
  if (!pattern::parse(text, parsed, error)) {
    on_finding(PatternFindingKind::error, pattern::to_string(error));
    return;
  }
  issues.clear();
  pattern::check(parsed, issues);
  for (auto& issue : issues) {
    std::string message = "column " + std::to_string(issue.column) + ": " + issue.message;
    switch (issue.kind) {
      case pattern::IssueKind::error: on_finding(PatternFindingKind::error, std::move(message)); break;
      case pattern::IssueKind::custom_object:
      case pattern::IssueKind::custom_property: on_finding(PatternFindingKind::custom_content, std::move(message)); break;
      case pattern::IssueKind::literal_type: on_finding(PatternFindingKind::literal_type, std::move(message)); break;
    }
  }
}

}  // namespace ctishare::stix
