// How the library reports what is not a failure of the whole call: problems
// with single records, warnings and progress. The library never prints; the
// tool decides what to show (-q drops warnings, -v adds info).
#pragma once

#include <functional>
#include <string>

namespace ctishare {

enum class Severity { error, warning, info };

// Receives one-line messages (no tool name, no trailing newline).
using DiagnosticSink = std::function<void(Severity, const std::string&)>;

}  // namespace ctishare
