// The one main() wrapper every ctishare tool runs under (shared/CLI.md):
// --help to stdout, --version, -v/-q, CLI11 errors mapped to 64, library
// errors printed once as "tool: error: …" with their exit code, stray
// exceptions caught (70), stdout flushed and checked before exiting 0.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "ctishare/audit.h"
#include "ctishare/config.h"
#include "ctishare/diagnostics.h"
#include "ctishare/json.h"
#include "ctishare/time.h"
#include "ctishare/result.h"

namespace ctishare::tool {

// What every tool's body gets besides its own options.
struct Context {
  std::string name;      // e.g. "stix-gen"
  int verbosity = 0;     // -1 with -q, 1 with -v
  DiagnosticSink diagnostics;  // prints "tool: warning: …" etc. to stderr
};

// A tool's body: runs after parsing; returns the exit status (0 or 1) or an
// Error whose category decides the status.
using Body = std::function<Result<int>(Context&)>;

struct Description {
  std::string name;
  std::string summary;   // one line
  std::string examples;  // appended to --help
};

// Parses argv with the options `define` adds to `app`, then runs the body it
// returns. Never returns an exit status other than those of shared/CLI.md.
int run(int argc, char** argv, const Description& description,
        const std::function<Body(CLI::App& app)>& define);

// Adds --max-string-length, --max-depth, --max-input-size and --max-objects,
// the limits on untrusted JSON every tool that reads JSON offers.
void add_limit_options(CLI::App& app, json::Limits& limits);

// The clock a tool runs on: fixed at --now TIMESTAMP when given (usage error
// when it does not parse), else the system clock. `storage` holds the fixed
// clock for the caller.
Result<const Clock*> clock_for(const std::string& now_option, std::optional<FixedClock>& storage);

// The audit log a tool appends to: `path_option` (--audit-log) when given,
// else the suite's default (audit::default_log_path), its directory
// created when missing. Errors: those of make_directories and AuditLog::open.
Result<audit::AuditLog> open_audit_log(const std::string& path_option, const Config& config, const Clock& clock);

// The suite's version, e.g. "0.1.0".
const char* version();

// Prints "tool: <severity>: message" to stderr, honouring -q and -v.
void print_diagnostic(const Context& context, Severity severity, const std::string& message);

}  // namespace ctishare::tool
