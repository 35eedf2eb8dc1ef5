// taxii-push: send a bundle (or NDJSON) to partners' TAXII 2.1 collections
// in envelopes that fit their limits, within each partner's TLP ceiling,
// and account for every object through the status resources.
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "ctishare/audit.h"
#include "ctishare/bundle.h"
#include "ctishare/file.h"
#include "ctishare/taxii/push.h"
#include "partners.h"
#include "push_records.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  stix-gen detections.csv | taxii-push --all
  taxii-push --partner cert-tw --report push-report.json today.json
  taxii-push --all --dry-run today.json
  taxii-push --url https://taxii.example/api1/ --collection phishing --token-file token today.json

Exit status: 0 every object was accepted; 1 a partner rejected some (listed
on stderr and in --report); 64 usage; 65 the input is not STIX; 66 the
input or a secret file is missing; 69 a partner cannot be reached or keeps
failing; 73/74 the report cannot be written; 75 a partner is busy (429/503)
past --max-retry-time, or objects were still pending when the wait ended;
76 a partner does not speak TAXII 2.1; 77 401 or 403, a collection we may
not write, or a secret file others can read; 78 configuration error. With
several partners, the others are still served and the most serious status
is returned.)";

struct Options {
  ctishare::tool::PartnerOptions partner;
  std::string input = "-", report, now;
  double status_wait = 120;
  long long max_content_length = 0;
  bool dry_run = false, no_wait = false;
  ctishare::json::Limits limits;
};

// One (partner, collection) outcome, for messages, the report and the audit.
struct Outcome {
  std::string partner, api_root, collection;
  std::size_t sent = 0, pending = 0;
  std::vector<ctishare::taxii::IdVersion> accepted;
  std::vector<ctishare::taxii::Rejected> rejected;
  std::vector<ctishare::taxii::HeldBack> held_back;
  std::vector<std::string> status_ids;
  std::string error;
};

ctishare::json::Value report_json(const std::vector<Outcome>& outcomes) {
  using namespace ctishare;
  json::Array list;
  for (const auto& o : outcomes) {
    json::Array rejected, held;
    for (const auto& r : o.rejected)
      rejected.emplace_back(json::Object{{"id", r.id}, {"version", r.version}, {"message", r.message}});
    for (const auto& h : o.held_back)
      held.emplace_back(
          json::Object{{"id", h.id}, {"version", h.version}, {"tlp", std::string(stix::tlp_name(h.tlp))}});
    json::Array statuses;
    for (const auto& s : o.status_ids) statuses.emplace_back(s);
    json::Object entry{{"partner", o.partner},
                       {"api_root", o.api_root},
                       {"collection", o.collection},
                       {"sent", json::Value(static_cast<std::int64_t>(o.sent))},
                       {"accepted", json::Value(static_cast<std::int64_t>(o.accepted.size()))},
                       {"pending", json::Value(static_cast<std::int64_t>(o.pending))},
                       {"rejected", std::move(rejected)},
                       {"held_back", std::move(held)},
                       {"statuses", std::move(statuses)}};
    if (!o.error.empty()) entry.emplace_back("error", o.error);
    list.emplace_back(std::move(entry));
  }
  return json::Object{{"pushes", std::move(list)}};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(
      argc, argv,
      {"taxii-push", "Send STIX objects to partners' TAXII 2.1 collections and account for every one.", kExamples},
      [opts](CLI::App& app) -> tool::Body {
        app.add_option("FILE", opts->input, "bundle or NDJSON to send ('-' or none: stdin)");
        tool::add_partner_options(app, opts->partner, true);
        app.add_option("--state", opts->partner.state, "state directory for the record of what was sent")
            ->type_name("DIR");
        app.add_flag("--dry-run", opts->dry_run, "print what would be sent where (secrets masked); contact no server");
        app.add_flag("--no-wait", opts->no_wait, "do not follow the status resources until complete");
        app.add_option("--status-wait", opts->status_wait, "seconds to follow the statuses (default 120)")
            ->check(CLI::Range(0.0, 86400.0));
        app.add_option("--max-content-length", opts->max_content_length,
                       "envelope size limit in bytes (default: the API root's max_content_length)")
            ->check(CLI::Range(1024LL, 1LL << 40));
        app.add_option("--report", opts->report, "write a JSON report of every object's fate to FILE")
            ->type_name("FILE");
        app.add_option("--now", opts->now, "the time to record (tests)")->type_name("TIMESTAMP");
        tool::add_limit_options(app, opts->limits);
        return [opts](tool::Context& ctx) -> Result<int> {
          const Options& o = *opts;
          std::optional<FixedClock> fixed;
          auto clock = tool::clock_for(o.now, fixed);
          if (!clock) return std::move(clock).error();
          auto config = load_config(o.partner.config);
          if (!config) return std::move(config).error();
          auto endpoints = tool::select_endpoints(o.partner, *config, true, "taxii-push");
          if (!endpoints) return std::move(endpoints).error();
          auto in = open_input(o.input);
          if (!in) return std::move(in).error();
          stix::ReadOptions read_options;
          read_options.limits = o.limits;
          auto objects = stix::read_all(**in, read_options);
          if (!objects) return objects.error().with_context(quote(display_name(o.input)));
          // The report is opened before anything is sent: an unwritable
          // report path fails the run while nothing has happened yet.
          std::optional<Output> report;
          if (!o.report.empty()) {
            auto r = Output::open(o.report);
            if (!r) return std::move(r).error();
            report.emplace(std::move(*r));
          }

          if (o.dry_run) {
            auto output = Output::open("-");
            if (!output) return std::move(output).error();
            std::string text;
            for (const auto& e : *endpoints) {
              // What the real run would refuse before sending, the dry run refuses too.
              CTI_TRY_STATUS(taxii::validate_settings(e.settings));
              const auto plan = taxii::plan_push(*objects, e.max_tlp);
              for (const auto& c : e.collections) {
                text += "partner " + e.name + ": " + e.api_root + " collection " + c + " (" + e.describe_credentials() +
                        "): " + std::to_string(plan.objects.size()) + " object(s), " +
                        std::to_string(plan.held_back.size()) + " held back above " +
                        std::string(stix::tlp_name(e.max_tlp)) + "\n";
                for (const auto& [id, version] : plan.versions) text += "  send " + id + " " + version + "\n";
                for (const auto& h : plan.held_back)
                  text += "  hold " + h.id + " " + h.version + " (tlp " + std::string(stix::tlp_name(h.tlp)) + ")\n";
              }
            }
            CTI_TRY_STATUS(output->sink().write(text));
            return 0;
          }

          const std::string state_dir = resolve_state_dir(*config, o.partner.state);
          auto log = tool::open_audit_log(o.partner.audit_log, *config, **clock);
          if (!log) return std::move(log).error();
          taxii::PushSettings settings;
          settings.wait = !o.no_wait;
          settings.status_wait = std::chrono::milliseconds(static_cast<long long>(o.status_wait * 1000));
          settings.max_content_length = static_cast<std::uint64_t>(o.max_content_length);
          if (ctx.verbosity > 0)
            settings.progress = [&ctx](const std::string& m) { ctx.diagnostics(Severity::info, m); };

          int status = 0;
          std::vector<Outcome> outcomes;
          for (const auto& e : *endpoints) {
            const auto plan = taxii::plan_push(*objects, e.max_tlp);
            if (!plan.held_back.empty()) {
              std::string ids;
              for (std::size_t i = 0; i < plan.held_back.size() && i < 5; ++i)
                ids += (i ? ", " : "") + plan.held_back[i].id + " (" +
                       std::string(stix::tlp_name(plan.held_back[i].tlp)) + ")";
              if (plan.held_back.size() > 5) ids += ", ...";
              ctx.diagnostics(Severity::warning,
                              "partner " + quote(e.name) + ": held back " + std::to_string(plan.held_back.size()) +
                                  " object(s) marked above " + std::string(stix::tlp_name(e.max_tlp)) + ": " + ids);
            }
            const auto failed = [&](const std::string& collection, const Error& error) -> Status {
              ctx.diagnostics(Severity::error, "partner " + quote(e.name) + ": " + error.message());
              status = std::max(status, exit_code(error.category()));
              Outcome out;
              out.partner = e.name;
              out.api_root = e.api_root;
              out.collection = collection;
              out.held_back = plan.held_back;
              out.error = error.message();
              outcomes.push_back(std::move(out));
              return log->append({"taxii-push", e.name, "push", e.api_root, collection, 0, "error", "", error.message(),
                                  audit::ids_digest(plan.versions)});
            };
            auto client = taxii::Client::create(e.settings);
            if (!client) {
              CTI_TRY_STATUS(failed("", client.error()));
              continue;
            }
            auto root = taxii::get_api_root(*client);
            auto collections =
                root ? taxii::list_collections(*client) : Result<std::vector<taxii::CollectionInfo>>(root.error());
            if (!collections) {
              CTI_TRY_STATUS(failed("", collections.error()));
              continue;
            }
            for (const auto& name : e.collections) {
              auto collection = taxii::find_collection(*collections, name, e.name);
              if (!collection) {
                CTI_TRY_STATUS(failed(name, collection.error()));
                continue;
              }
              auto pushed = taxii::push_collection(*client, *collection, plan, root->max_content_length, settings);
              if (!pushed) {
                CTI_TRY_STATUS(failed(collection->id, pushed.error()));
                continue;
              }
              Outcome out{e.name,
                          e.api_root,
                          collection->id,
                          pushed->sent,
                          pushed->pending,
                          std::move(pushed->accepted),
                          std::move(pushed->rejected),
                          plan.held_back,
                          std::move(pushed->status_ids),
                          ""};
              const std::string label = "partner " + quote(e.name) + ": collection " + quote(name);
              for (const auto& r : out.rejected)
                ctx.diagnostics(Severity::error, label + ": " + r.id + " rejected" +
                                                     (r.message.empty() ? std::string() : ": " + r.message));
              if (!out.rejected.empty()) status = std::max(status, 1);
              if (out.pending != 0 && o.no_wait) {
                ctx.diagnostics(Severity::info, label + ": " + std::to_string(out.pending) +
                                                    " object(s) pending on the server (--no-wait)");
              } else if (out.pending != 0) {
                ctx.diagnostics(Severity::error,
                                label + ": " + std::to_string(out.pending) +
                                    " object(s) still pending when the status wait ended; pushing again is safe");
                status = std::max(status, exit_code(ErrorCategory::temp_fail));
              }
              ctx.diagnostics(Severity::info, label + ": " + std::to_string(out.accepted.size()) + " accepted, " +
                                                  std::to_string(out.rejected.size()) + " rejected, " +
                                                  std::to_string(out.pending) + " pending, " +
                                                  std::to_string(out.held_back.size()) + " held back");
              CTI_TRY_STATUS(log->append({"taxii-push", e.name, "push", e.api_root, collection->id,
                                          static_cast<std::int64_t>(out.accepted.size()),
                                          !out.rejected.empty() ? "partial"
                                          : out.pending == 0    ? "ok"
                                          : o.no_wait           ? "submitted"
                                                                : "partial",
                                          "",
                                          std::to_string(out.sent) + " sent, " + std::to_string(out.rejected.size()) +
                                              " rejected, " + std::to_string(out.pending) + " pending, " +
                                              std::to_string(out.held_back.size()) + " held back",
                                          audit::ids_digest(plan.versions)}));
              // After the audit record: what was sent is audited even if the record of it cannot be kept.
              CTI_TRY_STATUS(
                  tool::append_push_record(state_dir, out.partner, out.collection, out.accepted, (*clock)->now()));
              outcomes.push_back(std::move(out));
            }
          }
          if (report) {
            CTI_TRY_STATUS(report->sink().write(json::to_string(report_json(outcomes), json::Layout::pretty) + "\n"));
            auto committed = report->commit();
            if (!committed) return std::move(committed).error();
          }
          return status;
        };
      });
}
