// stix-gen: turn internal detections into a STIX 2.1 bundle of indicators.
#include <unistd.h>

#include <algorithm>

#include "ctishare/config.h"
#include "ctishare/file.h"
#include "ctishare/generator.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  stix-gen --label phishing --label threat-intel -o export/stix_bundle.json detections.csv
  stix-gen --value secure-login.net --confidence 0.92 --tlp green
  model-export | stix-gen --ndjson --state ./state - | jq -c .pattern

Exit status: 0 success; 1 invalid rows skipped (--skip-invalid); 64 usage;
65 invalid detections; 66 input missing; 73 output cannot be created;
74 I/O error; 75 another run holds the state lock; 78 configuration error.)";

struct Options {
  std::vector<std::string> inputs;
  std::vector<std::string> values, confidences;
  std::string output = "-", format = "auto", scale = "auto", tlp = "amber", valid_for, identity, config, state, previous, now;
  std::vector<std::string> labels, indicator_types;
  bool ndjson = false, pretty = false, skip_invalid = false, no_state = false;
  int wait = 0;
  ctishare::json::Limits limits;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(argc, argv, {"stix-gen", "Turn detections (CSV, TSV or NDJSON) into a STIX 2.1 bundle of indicators.", kExamples},
                   [opts](CLI::App& app) -> tool::Body {
    // Each occurrence of a repeatable option takes exactly one value, so
    // "--label phishing detections.csv" never reads the file as a label.
    app.add_option("FILE", opts->inputs, "detections to read ('-' or none: stdin)");
    app.add_option("-o,--output", opts->output, "write to FILE atomically ('-': stdout)")->type_name("FILE");
    app.add_option("--value", opts->values, "an observable given on the command line (repeatable; pairs with --confidence)")->type_name("V")->allow_extra_args(false);
    app.add_option("--confidence", opts->confidences, "the confidence of the matching --value")->type_name("C")->allow_extra_args(false);
    app.add_option("--input-format", opts->format, "detections format (default: by file name, else by content)")->check(CLI::IsMember({"auto", "csv", "tsv", "ndjson"}));
    app.add_option("--confidence-scale", opts->scale, "unit: 0-1, percent: 0-100, auto: 0-1 when every value is <= 1")
        ->check(CLI::IsMember({"auto", "unit", "percent"}));
    app.add_option("--label", opts->labels, "add a label to every indicator (repeatable)")->allow_extra_args(false);
    app.add_option("--indicator-type", opts->indicator_types, "indicator_types value (repeatable; default malicious-activity)")->allow_extra_args(false);
    app.add_option("--tlp", opts->tlp, "TLP 2.0 marking for rows without one (default amber)")
        ->check(CLI::IsMember({"clear", "green", "amber", "amber+strict", "red"}));
    app.add_option("--valid-for", opts->valid_for, "validity from now, e.g. 7d, 12h (default: per type, see stix-gen(1))")->type_name("DURATION");
    app.add_option("--identity", opts->identity, "producer identity name (default: [identity] name, else 'ctishare on HOST')")->type_name("NAME");
    app.add_option("--config", opts->config, "configuration file")->type_name("FILE");
    app.add_option("--state", opts->state, "state directory (default: [state] dir, else $XDG_STATE_HOME/ctishare)")->type_name("DIR");
    app.add_flag("--no-state", opts->no_state, "neither read nor write state: every indicator is new");
    app.add_option("--previous", opts->previous, "seed the state from an earlier bundle")->type_name("FILE");
    app.add_option("--wait", opts->wait, "wait up to SECONDS for another run's lock")->type_name("SECONDS");
    app.add_flag("--skip-invalid", opts->skip_invalid, "write the valid rows and exit 1 when some are invalid");
    app.add_flag("--ndjson", opts->ndjson, "write one object per line instead of a bundle");
    app.add_flag("--pretty", opts->pretty, "indent the bundle");
    app.add_option("--now", opts->now, "take TIMESTAMP as the current time (reproducible runs)")->type_name("TIMESTAMP");
    tool::add_limit_options(app, opts->limits);
    return [opts](tool::Context& ctx) -> Result<int> {
      const Options& o = *opts;
      if (std::count(o.inputs.begin(), o.inputs.end(), "-") > 1)
        return Error(ErrorCategory::usage, "standard input ('-') can be read only once");
      if (o.values.size() != o.confidences.size())
        return Error(ErrorCategory::usage, "--value and --confidence must be given the same number of times");
      stix::GenerateOptions g;
      g.inputs = o.inputs;
      if (g.inputs.empty() && o.values.empty()) {
        if (::isatty(STDIN_FILENO) != 0)
          return Error(ErrorCategory::usage, "no detections: give FILE, '-' or --value (stdin is a terminal)");
        g.inputs.push_back("-");
      }
      for (std::size_t i = 0; i < o.values.size(); ++i) g.cli_values.emplace_back(o.values[i], o.confidences[i]);
      g.format = o.format == "csv" ? stix::DetectionFormat::csv : o.format == "tsv" ? stix::DetectionFormat::tsv
                 : o.format == "ndjson" ? stix::DetectionFormat::ndjson : stix::DetectionFormat::automatic;
      g.scale = o.scale == "unit" ? stix::ConfidenceScale::unit : o.scale == "percent" ? stix::ConfidenceScale::percent
                                                                                       : stix::ConfidenceScale::automatic;
      g.labels = o.labels;
      if (!o.indicator_types.empty()) g.indicator_types = o.indicator_types;
      g.tlp = *stix::parse_tlp(o.tlp);
      if (!o.valid_for.empty()) {
        auto d = parse_duration(o.valid_for);
        if (!d) return Error(ErrorCategory::usage, "--valid-for: " + d.error().message());
        if (*d > 100LL * 366 * 86400) return Error(ErrorCategory::usage, "--valid-for: longer than 100 years");
        g.valid_for = *d;
      }
      std::optional<FixedClock> fixed;
      auto clock = tool::clock_for(o.now, fixed);
      if (!clock) return std::move(clock).error();
      g.clock = *clock;
      auto config = load_config(o.config);
      if (!config) return std::move(config).error();
      g.identity_name = !o.identity.empty() ? o.identity : config->identity_name;
      g.identity_class = config->identity_class;
      if (!o.no_state) g.state_dir = resolve_state_dir(*config, o.state);
      g.lock_wait_seconds = o.wait;
      g.previous = o.previous;
      g.skip_invalid = o.skip_invalid;
      g.framing = o.ndjson ? stix::OutputFraming::ndjson : stix::OutputFraming::bundle;
      g.layout = o.pretty ? json::Layout::pretty : json::Layout::compact;
      g.limits = o.limits;

      auto out = Output::open(o.output);
      if (!out) return std::move(out).error();
      auto run = stix::generate(g, out->sink(), ctx.diagnostics);
      if (!run) return std::move(run).error();
      auto committed = out->commit();
      if (!committed) return std::move(committed).error();
      CTI_TRY_STATUS((*run)->commit_state());
      const auto& r = (*run)->report();
      if (r.default_identity) ctx.diagnostics(Severity::info, "no identity configured; using the default producer identity " + quote(r.identity_name));
      ctx.diagnostics(Severity::info, std::to_string(r.created + r.versioned + r.unchanged) + " indicators (" + std::to_string(r.created) +
                                          " new, " + std::to_string(r.versioned) + " new versions, " + std::to_string(r.unchanged) +
                                          " unchanged) from " + std::to_string(r.rows) + " detections; " + std::to_string(r.duplicates) +
                                          " duplicates, " + std::to_string(r.invalid) + " invalid");
      if (r.withheld != 0)
        ctx.diagnostics(Severity::info,
                        std::to_string(r.withheld) + " withheld: revoked by revoke(1); lift with revoke --undo");
      return r.invalid != 0 ? 1 : 0;
    };
  });
}
