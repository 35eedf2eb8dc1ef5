// trust-score: weigh every indicator of one source's feed — producer
// confidence × the source's trust × age decay, then the tier gates — and
// add our assessment beside each, leaving the source's objects unchanged.
#include <algorithm>
#include <cstdlib>
#include <memory>

#include "ctishare/allowlist.h"
#include "ctishare/audit.h"
#include "ctishare/bundle.h"
#include "ctishare/config.h"
#include "ctishare/file.h"
#include "ctishare/trust.h"
#include "merging.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  trust-score --source cert-tw incoming/cert-tw.json -o scored/cert-tw.json
  taxii-pull --partner partner-b | trust-score --source partner-b --explain why.ndjson
  trust-score --source osint-phish --now 2026-12-01T04:20:00Z feed.json

Exit status: 0 every indicator assessed; 1 some indicators had values that
cannot be scored (reported; the rest are assessed and everything is passed
through); 64 usage; 65 the input is not STIX, or the allowlist is not an
allowlist; 66 the input or the allowlist is missing; 73/74 an output cannot
be written; 78 the source is not in the configuration.)";

// Where an output waits until the input has been read: beside an output
// file, or in $TMPDIR for stdout; nowhere ("") for NDJSON to a file, which
// shows nothing before its commit anyway.
std::string spool_dir(const std::string& output, bool ndjson) {
  if (output == "-") {
    const char* tmp = std::getenv("TMPDIR");
    return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  if (ndjson) return "";
  const auto slash = output.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : output.substr(0, slash);
}

struct Options {
  std::string source, input = "-", output = "-", explain, config, audit_log, now, allowlist;
  bool ndjson = false;
  ctishare::json::Limits limits;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(
      argc, argv,
      {"trust-score", "Score one source's indicators by confidence, source trust and age, and gate them by tier.",
       kExamples},
      [opts](CLI::App& app) -> tool::Body {
        app.add_option("FILE", opts->input, "bundle or NDJSON from the source ('-' or none: stdin)");
        app.add_option("--source", opts->source, "the partner or [source.NAME] the input came through")
            ->required()
            ->type_name("NAME");
        app.add_option("-o,--output", opts->output, "write the scored bundle to FILE atomically ('-': stdout)")
            ->type_name("FILE");
        app.add_flag("--ndjson", opts->ndjson, "write one object per line instead of a bundle");
        app.add_option("--explain", opts->explain, "write each indicator's computation to FILE as NDJSON")
            ->type_name("FILE");
        app.add_option("--config", opts->config, "configuration file (default: $CTISHARE_CONFIG, then XDG, /etc)")
            ->type_name("FILE");
        app.add_option("--audit-log", opts->audit_log, "append the audit record here (default: the suite's log)")
            ->type_name("FILE");
        app.add_option("--allowlist", opts->allowlist, "CSV of what must never be blocked (default: [allowlist] file)")
            ->type_name("FILE");
        app.add_option("--now", opts->now, "score as of this time (reproducible runs and tests)")
            ->type_name("TIMESTAMP");
        tool::add_limit_options(app, opts->limits);
        return [opts](tool::Context& ctx) -> Result<int> {
          const Options& o = *opts;
          std::optional<FixedClock> fixed;
          auto clock = tool::clock_for(o.now, fixed);
          if (!clock) return std::move(clock).error();
          auto config = load_config(o.config);
          if (!config) return std::move(config).error();
          trust::Source source{o.source, 0};
          if (auto p = config->partners.find(o.source); p != config->partners.end()) {
            source.trust = p->second.trust;
          } else if (auto s = config->sources.find(o.source); s != config->sources.end()) {
            source.trust = s->second.trust;
          } else {
            std::string known;
            for (const auto& [n, partner] : config->partners) known += (known.empty() ? "" : ", ") + n;
            for (const auto& [n, feed] : config->sources) known += (known.empty() ? "" : ", ") + n;
            return Error(ErrorCategory::config,
                         "unknown source " + quote(o.source) +
                             (config->path.empty()
                                  ? "; no configuration file was found (see --config)"
                                  : " in " + quote(config->path) +
                                        (known.empty() ? std::string("; it names none") : "; it names: " + known)));
          }
          trust::Policy policy = trust::Policy::defaults();
          policy.block_threshold = config->scoring.block_threshold;
          policy.review_threshold = config->scoring.review_threshold;
          policy.floor = config->scoring.floor;
          policy.default_confidence = config->scoring.default_confidence;
          const std::string identity_name =
              config->identity_name.empty() ? std::string("ctishare") : config->identity_name;
          const json::Value identity = trust::identity_object(identity_name, config->identity_class);
          const std::string identity_id(*identity.find_string("id"));
          const Timestamp now = (*clock)->now();
          auto loaded = tool::load_allowlist(o.allowlist, *config);
          if (!loaded) return std::move(loaded).error();
          std::optional<trust::Allowlist>& allowlist = *loaded;

          // Outputs are opened first: nothing is read or scored for nowhere.
          auto output = Output::open(o.output);
          if (!output) return std::move(output).error();
          std::optional<Output> explain;
          if (!o.explain.empty()) {
            auto e = Output::open(o.explain);
            if (!e) return std::move(e).error();
            explain.emplace(std::move(*e));
          }
          auto in = open_input(o.input);
          if (!in) return std::move(in).error();

          // The outputs wait in spools (see spool_dir), not in memory: a
          // bundle's id follows its content but comes first, and nothing may
          // reach stdout before the input has been read to its end.
          auto writer = stix::SpooledBundleWriter::create(
              output->sink(), o.ndjson ? stix::OutputFraming::ndjson : stix::OutputFraming::bundle,
              spool_dir(o.output, o.ndjson));
          if (!writer) return std::move(writer).error();
          std::unique_ptr<stix::SpooledBundleWriter> explain_writer;
          if (explain) {
            auto w = stix::SpooledBundleWriter::create(explain->sink(), stix::OutputFraming::ndjson,
                                                       spool_dir(o.explain, true));
            if (!w) return std::move(w).error();
            explain_writer = std::move(*w);
          }
          const auto add = [&](const json::Value& v, std::string_view id, std::string_view version) {
            return (*writer)->add(v, id, version);
          };
          CTI_TRY_STATUS(add(identity, identity_id, *identity.find_string("modified")));
          const json::Value definition = trust::extension_definition(identity_id);
          CTI_TRY_STATUS(add(definition, trust::extension_definition_id(), *definition.find_string("modified")));

          std::size_t counts[3] = {0, 0, 0}, unusable = 0, indicators = 0, dropped = 0;
          std::vector<std::pair<std::string, std::string>> assessed;
          stix::ReadOptions read_options;
          read_options.limits = o.limits;
          const std::string name = display_name(o.input);
          Status read =
              stix::read_objects(**in, read_options, [&](stix::Object&& object, const stix::Origin& where) -> Status {
                // Our own identity and definition are already in; a second copy
                // (the input is an earlier run's output) is not repeated.
                if (object.id() == identity_id || object.id() == trust::extension_definition_id()) return {};
                // An assessment in our name is never passed on: the channel is
                // the one this input came through now, and anyone can write an
                // object claiming our identity and a trusted source (feed-merge
                // believes ours). This run's assessments replace it; anyone
                // else's pass through.
                if (object.type() == "x-ctishare-assessment" && object.created_by_ref() == identity_id) {
                  ++dropped;
                  return {};
                }
                CTI_TRY_STATUS(add(object.json(), object.id(), object.version()));
                if (object.type() != "indicator") return {};
                ++indicators;
                auto a = trust::assess(object, source, policy, now, allowlist ? &*allowlist : nullptr);
                if (!a) {
                  ++unusable;
                  ctx.diagnostics(Severity::error, quote(name) + ": " + where.where() + ": " + a.error().message() +
                                                       "; passed through without an assessment");
                  return {};
                }
                ++counts[static_cast<int>(a->action)];
                const json::Value assessment = trust::assessment_object(*a, identity_id, now);
                CTI_TRY_STATUS(add(assessment, *assessment.find_string("id"), *assessment.find_string("modified")));
                if (explain_writer) {
                  const std::string line = trust::explain_line(*a);
                  CTI_TRY_STATUS(explain_writer->add_serialized(line, a->indicator_id, a->indicator_version));
                }
                assessed.emplace_back(std::move(a->indicator_id), std::move(a->indicator_version));
                return {};
              });
          if (!read) return read.error().with_context(quote(name));

          CTI_TRY_STATUS((*writer)->finish());
          if (explain) {
            CTI_TRY_STATUS(explain_writer->finish());
            auto committed = explain->commit();
            if (!committed) return std::move(committed).error();
          }
          auto committed = output->commit();
          if (!committed) return std::move(committed).error();

          const std::string summary = std::to_string(indicators) + " indicator(s): " + std::to_string(counts[0]) +
                                      " block, " + std::to_string(counts[1]) + " review, " + std::to_string(counts[2]) +
                                      " observe, " + std::to_string(unusable) + " unusable";
          ctx.diagnostics(Severity::info, "source " + quote(o.source) + " (" +
                                              std::string(trust::tier_of(source.trust)) + "): " + summary);
          if (dropped > 0)
            ctx.diagnostics(Severity::info, std::to_string(dropped) +
                                                " assessment(s) in our name in the input were dropped (re-assessed)");
          auto log = tool::open_audit_log(o.audit_log, *config, **clock);
          if (!log) return std::move(log).error();
          CTI_TRY_STATUS(
              log->append({"trust-score", o.source, "score", name, "", static_cast<std::int64_t>(indicators),
                           unusable == 0 ? "ok" : "partial", "", summary, audit::ids_digest(std::move(assessed))}));
          return unusable == 0 ? 0 : 1;
        };
      });
}
