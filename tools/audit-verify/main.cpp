// audit-verify: check that audit logs are intact hash chains (no line
// edited, deleted, inserted or reordered, none cut off mid-line) that still
// hold the record their checkpoint names (no lines removed from the end).
#include <algorithm>
#include <memory>

#include "ctishare/audit.h"
#include "ctishare/config.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  audit-verify                                  # the suite's own log (see [state] audit_log)
  audit-verify -v /var/log/ctishare/audit.jsonl   # and its audit.jsonl.checkpoint
  audit-verify --checkpoint /mnt/loghost/audit.jsonl.checkpoint /var/log/ctishare/audit.jsonl
  audit-verify --no-checkpoint old/audit.jsonl     # the chain only
  ssh partner cat /var/log/ctishare/audit.jsonl | audit-verify -

Exit status: 0 every log intact; 1 a chain is broken or does not match its
checkpoint; 64 usage; 65 a checkpoint file is not one; 66 a log or checkpoint
is missing or unreadable; 74 I/O error; 78 configuration error.)";

struct Options {
  std::vector<std::string> files;
  std::string config;
  std::string checkpoint;
  bool no_checkpoint = false;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(argc, argv, {"audit-verify", "Check that ctishare audit logs are unbroken hash chains.", kExamples},
                   [opts](CLI::App& app) -> tool::Body {
    app.add_option("FILE", opts->files, "audit logs to check ('-': stdin; none: the configured audit log)");
    app.add_option("--config", opts->config, "configuration file naming the audit log")->type_name("FILE");
    auto* checkpoint = app.add_option("--checkpoint", opts->checkpoint,
                                      "check the log against this checkpoint (e.g. a copy kept elsewhere) instead "
                                      "of FILE.checkpoint; one log only")
                           ->type_name("FILE");
    app.add_flag("--no-checkpoint", opts->no_checkpoint, "check the chain only, not FILE.checkpoint")
        ->excludes(checkpoint);
    return [opts](tool::Context& ctx) -> Result<int> {
      std::vector<std::string> files = opts->files;
      if (std::count(files.begin(), files.end(), "-") > 1)
        return Error(ErrorCategory::usage, "standard input ('-') can be read only once");
      if (!opts->checkpoint.empty() && files.size() > 1)
        return Error(ErrorCategory::usage, "--checkpoint applies to one log: give at most one FILE");
      if (opts->checkpoint == "-" && !files.empty() && files[0] == "-")
        return Error(ErrorCategory::usage, "standard input ('-') can be read only once");
      if (files.empty()) {
        auto config = load_config(opts->config);
        if (!config) return std::move(config).error();
        files.push_back(audit::default_log_path(*config));
      }
      // Every file is checked; the status is the most serious outcome: an
      // unreadable log (66, 74) over a broken chain (1).
      int status = 0;
      for (const auto& file : files) {
        const std::string name = quote(file == "-" ? "<stdin>" : file);
        audit::VerifyOptions options;
        options.checkpoint = opts->checkpoint;
        options.no_checkpoint = opts->no_checkpoint;
        auto report = audit::verify_log(file, options);
        if (!report) {
          ctx.diagnostics(Severity::error, report.error().message());
          status = std::max(status, exit_code(report.error().category()));
          continue;
        }
        if (!report->ok) {
          ctx.diagnostics(Severity::error, name + ": line " + std::to_string(report->bad_line) + ": " + report->problem);
          status = std::max(status, 1);
          continue;
        }
        std::string summary = name + ": " + std::to_string(report->records) + " records, chain intact";
        if (!report->checkpoint_used.empty())
          summary += ", checkpoint matches (record " + std::to_string(report->checkpoint_seq) + ")";
        for (auto line : report->recovered_lines)
          summary += "; line " + std::to_string(line) + ": interrupted write, recovered";
        ctx.diagnostics(Severity::info, summary);
      }
      return status;
    };
  });
}
