// stix-validate: check STIX 2.1 content against every MUST (errors) and
// SHOULD (warnings) of the specification; a gate for CI jobs.
#include <cstdio>

#include "ctishare/file.h"
#include "ctishare/validate.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  stix-validate bundle.json
  stix-validate -r --strict --format sarif -o stix.sarif export/
  curl -s https://example.org/feed.json | stix-validate --ignore 103,W302 -
  stix-validate --list-checks

Exit status: 0 valid (warnings allowed unless --strict); 1 an error was
found (including malformed JSON); 64 usage; 66 input missing; 73 output
cannot be created; 74 I/O error.)";

struct Options {
  std::vector<std::string> inputs;
  std::string format = "text", output = "-";
  std::vector<std::string> ignore, enable;
  bool recursive = false, strict = false, list_checks = false;
  ctishare::json::Limits limits;
};

// --list-checks: the check table, one check per line.
ctishare::Status list_checks(ctishare::Sink& out) {
  std::string text;
  for (const auto& c : ctishare::stix::all_checks()) {
    text += std::string(c.code) + "\t" + std::string(c.name) + "\t" +
            (c.severity == ctishare::Severity::error ? "error" : "warning") + "\t" + std::string(c.summary) + "\n";
  }
  return out.write(text);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(argc, argv, {"stix-validate", "Validate STIX 2.1 bundles, objects and NDJSON against the specification.", kExamples},
                   [opts](CLI::App& app) -> tool::Body {
    app.add_option("INPUT", opts->inputs, "files, directories (with -r) or '-' for stdin (default: stdin)");
    app.add_flag("-r,--recursive", opts->recursive, "read *.json, *.stix, *.ndjson and *.jsonl files under directories");
    app.add_option("--format", opts->format, "report format: text (default), json, sarif, junit")
        ->check(CLI::IsMember({"text", "json", "sarif", "junit"}));
    app.add_option("-o,--output", opts->output, "write the report to FILE atomically ('-': stdout)")->type_name("FILE");
    app.add_flag("--strict", opts->strict, "warnings count as errors (exit 1)");
    app.add_option("--ignore", opts->ignore, "do not report these checks (codes or names, comma-separated)")
        ->delimiter(',')->type_name("CODE,...")->allow_extra_args(false);
    app.add_option("--enable", opts->enable, "report only these warnings (errors are always reported)")
        ->delimiter(',')->type_name("CODE,...")->allow_extra_args(false);
    app.add_flag("--list-checks", opts->list_checks, "print every check: code, name, severity, description");
    tool::add_limit_options(app, opts->limits);
    return [opts](tool::Context& ctx) -> Result<int> {
      auto output = Output::open(opts->output);
      if (!output) return std::move(output).error();
      if (opts->list_checks) {
        CTI_TRY_STATUS(list_checks(output->sink()));
        CTI_TRY_STATUS(output->commit());
        return 0;
      }
      auto inputs = stix::expand_inputs(opts->inputs.empty() ? std::vector<std::string>{"-"} : opts->inputs, opts->recursive);
      if (!inputs) return std::move(inputs).error();
      stix::ValidateOptions options{opts->limits, opts->strict, opts->ignore, opts->enable};
      auto report = stix::make_report_writer(*stix::parse_report_format(opts->format), output->sink(), tool::version());
      auto summary = stix::validate_inputs(*inputs, options, *report);
      if (!summary) return std::move(summary).error();
      CTI_TRY_STATUS(output->commit());
      ctx.diagnostics(Severity::info, std::to_string(summary->files) + " file(s), " + std::to_string(summary->objects) +
                                          " object(s): " + std::to_string(summary->errors) + " error(s), " +
                                          std::to_string(summary->warnings) + " warning(s)");
      return summary->errors > 0 ? 1 : 0;
    };
  });
}
