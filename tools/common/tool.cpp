// The shared main() wrapper: parsing, error printing, exit codes, stdout checks.
#include "tool.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>

#include "ctishare/file.h"

#ifndef CTISHARE_VERSION
#define CTISHARE_VERSION "0.0.0"
#endif

namespace ctishare::tool {

namespace {

// Writes a message line to stderr, with control characters made visible so
// hostile input cannot forge log lines.
void write_line(const std::string& line) {
  std::string safe;
  safe.reserve(line.size() + 1);
  for (char c : line) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      safe += buf;
    } else {
      safe += c;
    }
  }
  safe += '\n';
  std::fwrite(safe.data(), 1, safe.size(), stderr);
}

class HelpFormatter : public CLI::Formatter {
 public:
  explicit HelpFormatter(std::string examples) : examples_(std::move(examples)) {}
  std::string make_footer(const CLI::App*) const override { return examples_.empty() ? "" : "\n" + examples_ + "\n"; }

 private:
  std::string examples_;
};

}  // namespace

void add_limit_options(CLI::App& app, json::Limits& limits) {
  app.add_option("--max-string-length", limits.max_string_bytes, "longest JSON string accepted (bytes)");
  app.add_option("--max-depth", limits.max_depth, "deepest JSON nesting accepted");
  app.add_option("--max-input-size", limits.max_document_bytes, "largest JSON input accepted (bytes)");
  app.add_option("--max-objects", limits.max_objects, "most STIX objects accepted from one input");
}

Result<const Clock*> clock_for(const std::string& now_option, std::optional<FixedClock>& storage) {
  if (now_option.empty()) return &system_clock();
  auto t = Timestamp::parse(now_option);
  if (!t) return Error(ErrorCategory::usage, "--now: " + t.error().message());
  storage.emplace(*t);
  return &*storage;
}

void print_diagnostic(const Context& context, Severity severity, const std::string& message) {
  if (severity == Severity::warning && context.verbosity < 0) return;
  if (severity == Severity::info && context.verbosity < 1) return;
  const char* label = severity == Severity::error ? "error" : severity == Severity::warning ? "warning" : "info";
  write_line(context.name + ": " + label + ": " + message);
}

int run(int argc, char** argv, const Description& description, const std::function<Body(CLI::App& app)>& define) {
  // A closed stdout must be an error we report (74), not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  std::ios::sync_with_stdio(false);
  Context context;
  context.name = description.name;
  context.diagnostics = [&context](Severity s, const std::string& m) { print_diagnostic(context, s, m); };
  const auto fail = [&](const std::string& message, int code) {
    write_line(context.name + ": error: " + message);
    return code;
  };
  try {
    CLI::App app(description.summary, description.name);
    app.formatter(std::make_shared<HelpFormatter>(description.examples));
    app.set_help_flag("-h,--help", "print this help and exit");
    app.set_version_flag("--version", std::string(description.name) + " (ctishare) " + CTISHARE_VERSION,
                         "print the version and exit");
    bool verbose = false, quiet = false;
    app.add_flag("-v,--verbose", verbose, "report progress and a one-line summary on stderr");
    app.add_flag("-q,--quiet", quiet, "do not print warnings");
    Body body = define(app);
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      std::cout << app.help() << std::flush;
      return std::cout ? 0 : 74;
    } catch (const CLI::CallForAllHelp&) {
      std::cout << app.help("", CLI::AppFormatMode::All) << std::flush;
      return std::cout ? 0 : 74;
    } catch (const CLI::CallForVersion& e) {
      std::cout << e.what() << '\n' << std::flush;
      return std::cout ? 0 : 74;
    } catch (const CLI::ParseError& e) {
      std::string what = e.what();
      // A lower-case start, as every message has; not for a name in capitals
      // ("VALUE is required").
      if (what.size() > 1 && !std::isupper(static_cast<unsigned char>(what[1])))
        what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
      while (!what.empty() && (what.back() == '\n' || what.back() == '.')) what.pop_back();
      write_line(context.name + ": error: " + what);
      write_line("Try '" + context.name + " --help' for more information.");
      return 64;
    }
    context.verbosity = quiet ? -1 : verbose ? 1 : 0;
    Result<int> result = body(context);
    std::cout.flush();
    if (!result) return fail(result.error().message(), exit_code(result.error().category()));
    if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) return fail("'<stdout>': write failed", 74);
    return *result;
  } catch (const std::bad_alloc&) {
    return fail("out of memory", 70);
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what(), 70);
  } catch (...) {
    return fail("internal error: unknown exception", 70);
  }
}

}  // namespace ctishare::tool

namespace ctishare::tool {

const char* version() { return CTISHARE_VERSION; }

Result<audit::AuditLog> open_audit_log(const std::string& path_option, const Config& config, const Clock& clock) {
  const std::string path = path_option.empty() ? audit::default_log_path(config) : path_option;
  if (const auto slash = path.rfind('/'); slash != std::string::npos && slash > 0)
    CTI_TRY_STATUS(make_directories(path.substr(0, slash)));
  return audit::AuditLog::open(path, clock);
}

}  // namespace ctishare::tool
