// feed-merge: fold every scored feed into one store, one decision per
// observable (threat_master.csv) and the blocklists that enforce the
// decisions to block; and record analysts' review decisions.
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <system_error>

#include "ctishare/allowlist.h"
#include "ctishare/audit.h"
#include "ctishare/config.h"
#include "ctishare/file.h"
#include "ctishare/merge_store.h"
#include "ctishare/trust.h"
#include "merging.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  feed-merge scored/partner-b.json scored/osint.json
  feed-merge --now 2026-12-01T04:20:00Z --out-dir /var/lib/ctishare/out scored/*.json
  feed-merge                                   # re-publish as of now (decay, decisions)
  feed-merge approve login-bank.example --reason "checked: kit on a dedicated domain"
  feed-merge reject cdn.partner.example --reason "shared CDN, ticket 4711"

Exit status: 0 merged and published; 1 some indicators had values that
cannot be used (reported and skipped); 64 usage; 65 an input is not STIX, or
the sanity gate refused to publish (nothing written, see --force); 66 an input
or the allowlist is missing; 73/74 the store or an output cannot be written;
75 another feed-merge holds the store; 78 bad configuration. An input that
cannot be read is reported and leaves no trace; the others are merged. A
failed store write stops the run and merges no input of it.)";

struct Options {
  std::vector<std::string> inputs;
  std::string store, out_dir, config, audit_log, allowlist, now, reason;
  bool force = false, csv_raw = false;
  std::vector<std::string> values;
  ctishare::json::Limits limits;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(
      argc, argv,
      {"feed-merge", "Merge scored feeds into one store, threat_master.csv and blocklists; record review decisions.",
       kExamples},
      [opts](CLI::App& app) -> tool::Body {
        app.fallthrough();
        app.add_option("INPUT", opts->inputs, "scored bundles or NDJSON from trust-score ('-': stdin)");
        app.add_option("--store", opts->store, "the merge store (default: [merge] store, else <state>/merge.db)")
            ->type_name("FILE");
        app.add_option("--out-dir", opts->out_dir, "where the outputs go (default: [merge] out_dir, else <state>/out)")
            ->type_name("DIR");
        app.add_option("--config", opts->config, "configuration file (default: $CTISHARE_CONFIG, then XDG, /etc)")
            ->type_name("FILE");
        app.add_option("--audit-log", opts->audit_log, "append the audit record here (default: the suite's log)")
            ->type_name("FILE");
        app.add_option("--allowlist", opts->allowlist, "CSV of what must never be blocked (default: [allowlist] file)")
            ->type_name("FILE");
        app.add_option("--now", opts->now, "merge as of this time (reproducible runs and tests)")
            ->type_name("TIMESTAMP");
        app.add_flag("--force", opts->force, "publish even when the blocklists would shrink past the sanity gate");
        app.add_flag("--csv-raw", opts->csv_raw,
                     "write CSV cells as they are (no formula guard), for machine consumers");
        tool::add_limit_options(app, opts->limits);

        CLI::App* approve = app.add_subcommand("approve", "let review items block from the next merge on");
        CLI::App* reject = app.add_subcommand("reject", "suppress items from the next merge on");
        CLI::App* clear = app.add_subcommand("clear", "withdraw an approve or reject decision");
        for (CLI::App* sub : {approve, reject, clear}) {
          sub->add_option("VALUE", opts->values, "domains, URLs, IP addresses … as analysts write them")->required();
          sub->add_option("--reason", opts->reason, "why (recorded with the decision and in the audit log)")
              ->required()
              ->type_name("TEXT");
        }

        return [opts, approve, reject, clear](tool::Context& ctx) -> Result<int> {
          const Options& o = *opts;
          std::optional<FixedClock> fixed;
          auto clock = tool::clock_for(o.now, fixed);
          if (!clock) return std::move(clock).error();
          const Timestamp now = (*clock)->now();
          auto config = load_config(o.config);
          if (!config) return std::move(config).error();
          const tool::MergePaths paths = tool::merge_paths(*config, o.store, o.out_dir);
          const std::string& store_path = paths.store;
          const std::string& out_dir = paths.out_dir;
          if (o.store.empty() && config->merge.store.empty()) CTI_TRY_STATUS(make_directories(paths.state_dir));

          // One merge at a time: the store and the outputs move together.
          auto lock = FileLock::acquire(store_path + ".lock");
          if (!lock) {
            if (lock.error().category() == ErrorCategory::temp_fail)
              return Error(ErrorCategory::temp_fail, "another feed-merge is running on " + quote(store_path) + " (" +
                                                         store_path + ".lock is held)");
            return std::move(lock).error();
          }
          auto store = merge::Store::open(store_path);
          if (!store) return std::move(store).error();
          auto log = tool::open_audit_log(o.audit_log, *config, **clock);
          if (!log) return std::move(log).error();
          const std::string user = tool::local_user();

          // ---- decisions
          for (CLI::App* sub : {approve, reject, clear}) {
            if (!sub->parsed()) continue;
            const std::string verb = sub->get_name();
            if (o.reason.find_first_not_of(" \t") == std::string::npos)
              return Error(ErrorCategory::usage, "--reason must say why");
            std::vector<merge::Entry> entries;
            for (const auto& v : o.values) {
              auto ob = stix::classify_observable(v);
              if (!ob) return std::move(ob).error();  // the message quotes the value
              entries.push_back(merge::Entry{ob->type, ob->value});
            }
            for (const auto& e : entries) {
              const std::string what = std::string(stix::observable_type_name(e.type)) + " " + e.value;
              if (verb == "clear") {
                auto had = (*store)->clear_decision(e);
                if (!had) return std::move(had).error();
                if (!*had) {
                  ctx.diagnostics(Severity::warning, what + ": no decision to clear");
                  continue;
                }
              } else {
                CTI_TRY_STATUS((*store)->set_decision(
                    e, merge::Decision{verb == "reject" ? merge::Verdict::reject : merge::Verdict::approve, o.reason,
                                       user, Timestamp::from_unix(now.unix_seconds(), 0, 0).to_string()}));
              }
              CTI_TRY_STATUS(
                  log->append({"feed-merge", user, verb, store_path, "", 1, "ok", "", what + ": " + o.reason, ""}));
            }
            ctx.diagnostics(Severity::info,
                            verb + ": " + std::to_string(entries.size()) + " value(s); the next merge applies it");
            return 0;
          }

          // ---- merge
          // A merge builds and frees millions of small strings and a few
          // very large arrays; glibc's defaults hand the large blocks back to
          // the kernel each time and fault them in again. Keep them instead.
          ::mallopt(M_MMAP_THRESHOLD, 1024 * 1024 * 1024);
          ::mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
          ::mallopt(M_TOP_PAD, 64 * 1024 * 1024);
          // The heap is faulted in by 4 KiB pages, not 2 MiB ones (no
          // MADV_HUGEPAGE): on a virtual machine that hands free memory
          // back to its host (virtio-balloon free page reporting, as the
          // benchmark machine does), a huge page is carved from a block the
          // host took back, and faulting one in cost 8-10 ms per MB there,
          // against 0.9-4.3 ms by small pages. A daily run finds its memory
          // so; only back-to-back runs find it still at hand.
          auto allowlist = tool::load_allowlist(o.allowlist, *config);
          if (!allowlist) return std::move(allowlist).error();
          CTI_TRY_STATUS(make_directories(out_dir));
          const std::string identity_name =
              config->identity_name.empty() ? std::string("ctishare") : config->identity_name;
          const json::Value identity = trust::identity_object(identity_name, config->identity_class);
          const std::string identity_id(*identity.find_string("id"));

          int status = 0;
          std::optional<Error> worst;
          std::size_t stored = 0, failed = 0;
          // Each input is read (parsed and sorted, on another thread) while
          // the one before it is applied to the store; its messages are
          // held until its turn, so they come in input order.
          struct Read {
            std::vector<std::string> messages;
            bool opened = false;
            std::optional<Result<merge::ReadInput>> input;
          };
          const auto read = [&](const std::string& path) {
            Read r;
            const auto report = [&r](const std::string& m) { r.messages.push_back(m); };
            auto mapped = MappedInput::open(path);
            if (!mapped) {
              r.input.emplace(std::move(mapped).error());
            } else if (*mapped) {
              r.opened = true;
              r.input.emplace(merge::Store::read(**mapped, o.limits, identity_id, report));
            } else if (auto in = open_input(path); !in) {
              r.input.emplace(std::move(in).error());
            } else {
              r.opened = true;
              r.input.emplace(merge::Store::read(**in, o.limits, identity_id, report));
            }
            return r;
          };
          // An input applied to the store (a few hundred MB of small
          // strings for a large feed) is freed off this thread, whose apply
          // paces the merge: by the task that reads the input after next,
          // before it reads (so no more inputs are held at once than
          // before), or, when none is left to read, by a thread of its own.
          std::optional<Read> spent;
          std::future<void> freeing;  // declared after `spent`: joined before it goes
          const auto free_spent = [&] {
            if (freeing.valid()) freeing.get();
            if (!spent) return;
            try {
              freeing = std::async(std::launch::async, [gone = std::move(*spent)]() mutable {
                pthread_setname_np(pthread_self(), "fm-free");
                Read freed = std::move(gone);  // here, not where the future is destroyed
              });
            } catch (const std::system_error&) {
              // No thread to be had: freed here, with the task not started.
            }
            spent.reset();
          };
          // Read on another thread when one can be had, else when needed.
          const auto start = [&](const std::string& path) {
            std::optional<Read> held = std::move(spent);
            spent.reset();
            try {
              return std::async(std::launch::async, [&read, path, held = std::move(held)]() mutable {
                pthread_setname_np(pthread_self(), "fm-read");  // as top -H and perf show it
                held.reset();
                return read(path);
              });
            } catch (const std::system_error&) {
              return std::async(std::launch::deferred, read, path);
            }
          };
          std::future<Read> next;
          if (!o.inputs.empty()) next = start(o.inputs.front());
          CTI_TRY_STATUS((*store)->begin_batch());
          for (std::size_t i = 0; i < o.inputs.size(); ++i) {
            const std::string name = display_name(o.inputs[i]);
            Read r = next.get();
            if (i + 1 < o.inputs.size()) {
              next = start(o.inputs[i + 1]);
            } else {
              free_spent();  // on the core the last apply leaves idle
            }
            for (const auto& m : r.messages) ctx.diagnostics(Severity::error, quote(name) + ": " + m);
            const bool was_read = r.input->has_value();
            Result<merge::IngestStats> stats = was_read ? (*store)->apply(std::move(**r.input))
                                                        : Result<merge::IngestStats>(std::move(*r.input).error());
            if (!stats && was_read) {
              // A store write failed (disk full, I/O error): the batch is
              // rolled back whole, so no input of this run is merged.
              Error e = std::move(stats).error().with_context(quote(name));
              Error stopped(e.category(), e.message() + "; the run stopped and no input of it was merged");
              CTI_TRY_STATUS(
                  log->append({"feed-merge", user, "ingest", name, "", 0, "error", "", stopped.message(), ""}));
              return stopped;
            }
            if (!stats) {
              Error e = r.opened ? std::move(stats).error().with_context(quote(name)) : std::move(stats).error();
              ctx.diagnostics(Severity::error, e.message() + "; nothing of it was merged");
              CTI_TRY_STATUS(log->append({"feed-merge", user, "ingest", name, "", 0, "error", "", e.message(), ""}));
              ++failed;
              if (!worst || exit_code(e.category()) > exit_code(worst->category())) worst = std::move(e);
              spent = std::move(r);
              continue;
            }
            stored += stats->stored;
            if (stats->unusable > 0) status = 1;
            if (stats->indicators > 0 && stats->assessments == 0)
              ctx.diagnostics(Severity::warning, quote(name) + ": no assessments of ours; its " +
                                                     std::to_string(stats->indicators) +
                                                     " indicator(s) are stored but on no list until trust-score has "
                                                     "scored them (trust-score --source NAME)");
            ctx.diagnostics(Severity::info, quote(name) + ": " + std::to_string(stats->indicators) + " indicator(s), " +
                                                std::to_string(stats->stored) + " new or newer");
            spent = std::move(r);
          }

          free_spent();  // while the batch commits
          CTI_TRY_STATUS((*store)->commit_batch());
          if (freeing.valid()) freeing.get();  // before publishing needs memory of its own

          const trust::Allowlist* vetoes = *allowlist ? &**allowlist : nullptr;
          const merge::MergePolicy policy = tool::merge_policy(*config, vetoes);
          merge::PublishOptions publish = tool::publish_options(*config, out_dir, now, vetoes);
          publish.exports.csv_raw = o.csv_raw;
          publish.force = o.force;
          auto report = merge::publish(**store, policy, publish);
          if (!report) {
            CTI_TRY_STATUS(log->append(
                {"feed-merge", user, "publish", out_dir, "", 0, "refused", "", report.error().message(), ""}));
            return std::move(report).error();
          }

          const std::size_t* actions = report->actions;
          std::string changed;
          for (const auto& f : report->changed) changed += (changed.empty() ? "" : ", ") + f;
          const std::string summary = std::to_string(o.inputs.size()) + " input(s), " + std::to_string(stored) +
                                      " indicator version(s) stored; " + std::to_string(report->rows) +
                                      " row(s): " + std::to_string(actions[0]) + " block, " +
                                      std::to_string(actions[1]) + " review, " + std::to_string(actions[2]) +
                                      " observe; blocklists " + std::to_string(report->entries) + " entries (+" +
                                      std::to_string(report->added) + " -" + std::to_string(report->removed) +
                                      "); changed: " + (changed.empty() ? "nothing" : changed);
          ctx.diagnostics(Severity::info, summary);
          if (auto n = (*store)->count_unassessed(); n && *n > 0)
            ctx.diagnostics(Severity::info, std::to_string(*n) + " stored indicator(s) have no assessment of ours yet");
          CTI_TRY_STATUS(log->append({"feed-merge", user, "merge", out_dir, "", static_cast<std::int64_t>(report->rows),
                                      worst ? "partial" : (status == 0 ? "ok" : "partial"), "", summary, ""}));
          if (worst)
            return Error(worst->category(),
                         failed == o.inputs.size()
                             ? std::string(failed == 1 ? "the input" : "no input") + " could not be merged (see above)"
                             : std::to_string(failed) + " of " + std::to_string(o.inputs.size()) +
                                   " inputs could not be merged (see above); the others were");
          return status;
        };
      });
}
