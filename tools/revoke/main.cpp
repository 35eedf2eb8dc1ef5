// revoke: take an indicator off every blocklist now, and keep it off,
// without deleting any data: a value, an indicator id, or a whole source
// that turned out to be bad (--source, optionally only since a time). The
// blocklists are rebuilt at once from the last publication, and stix-gen is
// told to withhold our own indicators it revoked; --undo lifts a revocation
// (the next feed-merge puts the entries back, the next stix-gen starts a new
// indicator).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>

#include "ctishare/allowlist.h"
#include "ctishare/audit.h"
#include "ctishare/config.h"
#include "ctishare/file.h"
#include "ctishare/generator.h"
#include "ctishare/merge_store.h"
#include "ctishare/taxii/exchange.h"
#include "ctishare/taxii/push.h"
#include "ctishare/trust.h"
#include "merging.h"
#include "partners.h"
#include "push_records.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  revoke --value login-bank.example --reason "false positive: the bank's new login page, ticket 4711"
  revoke --id indicator--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d --reason "partner withdrew it by phone"
  revoke --source osint-phish --since 2026-11-29T00:00:00Z --reason "feed compromised"
  revoke --source osint-phish --undo --reason "feed fixed"
  revoke --value cdn.example --dry-run --reason "check first"

Exit status: 0 revoked (or nothing to do); 64 usage; 65 a value that is not
an observable; 73/74 the store or the blocklists cannot be written; 75
another feed-merge or revoke holds the store, or stix-gen its state, past
--wait; 78 bad configuration.)";

struct Options {
  std::vector<std::string> values, ids;
  std::string source, since, reason, store, out_dir, config, audit_log, allowlist, now, state;
  bool undo = false, dry_run = false, no_push = false;
  int wait = 60;
};

using ctishare::tool::Received;

// Sends the revoked version of our object `id` to one partner's collection
// that received it: the version it holds is fetched from it (so every
// property is kept), revoked, and pushed. Returns the new version.
ctishare::Result<std::string> revoke_at_partner(const ctishare::taxii::Endpoint& e, const Received& r,
                                                const std::string& id, const ctishare::Timestamp& now) {
  using namespace ctishare;
  auto client = taxii::Client::create(e.settings);
  if (!client) return std::move(client).error();
  auto root = taxii::get_api_root(*client);
  if (!root) return std::move(root).error();
  auto collections = taxii::list_collections(*client);
  if (!collections) return std::move(collections).error();
  auto collection = taxii::find_collection(*collections, r.collection, e.name);
  if (!collection) return std::move(collection).error();
  const std::string url = e.api_root + "collections/" + collection->id + "/objects/" + id + "/?match[version]=all";
  auto response = taxii::request_same_origin(*client, "GET", url);
  if (!response) return std::move(response).error();
  if (response->status != 200)
    return Error(ErrorCategory::protocol,
                 quote(url) + ": HTTP " + std::to_string(response->status) + " fetching the object to revoke");
  auto body = taxii::taxii_json(*response);
  if (!body) return std::move(body).error();
  const json::Value* objects = body->find("objects");
  if (objects == nullptr || !objects->is_array() || objects->as_array().empty())
    return Error(ErrorCategory::protocol, quote(url) + ": the partner no longer has the object");
  // The latest version the partner holds.
  const json::Value* latest = nullptr;
  std::optional<Timestamp> latest_time;
  for (const auto& o : objects->as_array()) {
    auto m = o.is_object() ? o.find_string("modified") : std::nullopt;
    auto t = m ? Timestamp::parse(*m) : Result<Timestamp>(Error(ErrorCategory::data, ""));
    if (t && (!latest_time || *latest_time < *t)) {
      latest = &o;
      latest_time = *t;
    }
  }
  if (latest == nullptr) return Error(ErrorCategory::protocol, quote(url) + ": no version with a modified time");
  if (const json::Value* rv = latest->find("revoked"); rv != nullptr && rv->is_bool() && rv->as_bool())
    return std::string(*latest->find_string("modified"));  // already revoked there
  json::Object revoked;
  const std::string modified = next_version_time(*latest_time, now).with_min_precision(3).to_string();
  for (const auto& [k, v] : latest->as_object()) {
    if (k == "modified" || k == "revoked") continue;
    revoked.emplace_back(k, v);
  }
  revoked.emplace_back("modified", modified);
  revoked.emplace_back("revoked", true);
  taxii::PushPlan plan;
  plan.objects.push_back(json::to_string(json::Value(std::move(revoked))));
  plan.versions.emplace_back(id, modified);
  taxii::PushSettings settings;
  auto pushed = taxii::push_collection(*client, *collection, plan, root->max_content_length, settings);
  if (!pushed) return std::move(pushed).error();
  if (!pushed->rejected.empty())
    return Error(ErrorCategory::negative,
                 "partner " + quote(e.name) + " rejected the revoked version: " + pushed->rejected.front().message);
  return modified;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(
      argc, argv,
      {"revoke", "Take indicators off every blocklist now, reversibly, with the reason recorded.", kExamples},
      [opts](CLI::App& app) -> tool::Body {
        app.add_option("--value", opts->values, "observables as analysts write them (domain, URL, IP …)")
            ->type_name("V");
        app.add_option("--id", opts->ids, "STIX indicator ids")->type_name("ID");
        auto* source = app.add_option("--source", opts->source, "every indicator a source sent")->type_name("NAME");
        app.add_option("--since", opts->since, "with --source: only indicators modified at or after TIMESTAMP")
            ->type_name("TIMESTAMP")
            ->needs(source);
        app.add_option("--reason", opts->reason, "why (kept with the revocation and in the audit log)")
            ->required()
            ->type_name("TEXT");
        app.add_flag("--undo", opts->undo,
                     "lift the revocation (the next feed-merge run restores the entries, the next stix-gen run "
                     "starts a new indicator)");
        app.add_flag("--dry-run", opts->dry_run,
                     "show which blocklist entries would go and what stix-gen would withhold, change nothing");
        app.add_option("--store", opts->store, "feed-merge's store (default: [merge] store, else <state>/merge.db)")
            ->type_name("FILE");
        app.add_option("--out-dir", opts->out_dir, "feed-merge's output directory (default: [merge] out_dir)")
            ->type_name("DIR");
        app.add_option("--config", opts->config, "configuration file (default: $CTISHARE_CONFIG, then XDG, /etc)")
            ->type_name("FILE");
        app.add_option("--audit-log", opts->audit_log, "append the audit records here (default: the suite's log)")
            ->type_name("FILE");
        app.add_option("--allowlist", opts->allowlist, "CSV of what must never be blocked (default: [allowlist] file)")
            ->type_name("FILE");
        app.add_option("--wait", opts->wait, "wait up to SECONDS for a running feed-merge or stix-gen (default 60)")
            ->type_name("SECONDS")
            ->check(CLI::Range(0, 3600));
        app.add_option("--state", opts->state,
                       "state directory: who received what, stix-gen's state (default: [state] dir)")
            ->type_name("DIR");
        app.add_flag("--no-push", opts->no_push, "revoke locally only: do not send revoked versions to partners");
        app.add_option("--now", opts->now, "act as of this time (tests)")->type_name("TIMESTAMP");

        return [opts](tool::Context& ctx) -> Result<int> {
          const Options& o = *opts;
          if (o.values.empty() && o.ids.empty() && o.source.empty())
            return Error(ErrorCategory::usage, "say what to revoke: --value, --id or --source");
          if (o.reason.find_first_not_of(" \t") == std::string::npos)
            return Error(ErrorCategory::usage, "--reason must say why");
          if (!o.since.empty()) {
            if (auto t = Timestamp::parse(o.since); !t)
              return Error(ErrorCategory::usage, "--since " + quote(o.since) + ": " + t.error().message());
          }
          std::optional<FixedClock> fixed;
          auto clock = tool::clock_for(o.now, fixed);
          if (!clock) return std::move(clock).error();
          const Timestamp now = (*clock)->now();
          auto config = load_config(o.config);
          if (!config) return std::move(config).error();
          const tool::MergePaths paths = tool::merge_paths(*config, o.store, o.out_dir);
          const std::string state_dir = resolve_state_dir(*config, o.state);
          const std::string& store_path = paths.store;
          const std::string& out_dir = paths.out_dir;

          // The revocations, and the values each touches.
          const std::string user = tool::local_user();
          const std::string at = Timestamp::from_unix(now.unix_seconds(), 0, 0).to_string();
          std::vector<merge::Suppression> wanted;
          std::vector<merge::Entry> named;  // from --value
          for (const auto& v : o.values) {
            auto ob = stix::classify_observable(v);
            if (!ob) return std::move(ob).error();  // the message quotes the value
            const merge::Entry e{ob->type, ob->value};
            named.push_back(e);
            wanted.push_back({"value", merge::suppression_target(e), "", o.reason, user, at});
          }
          for (const auto& i : o.ids) {
            if (i.rfind("indicator--", 0) != 0)
              return Error(ErrorCategory::usage, "--id " + quote(i) + ": not an indicator id (indicator--UUID)");
            wanted.push_back({"id", i, "", o.reason, user, at});
          }
          if (!o.source.empty()) wanted.push_back({"source", o.source, o.since, o.reason, user, at});

          auto lock = FileLock::acquire(store_path + ".lock", o.dry_run ? 0 : o.wait);
          if (!lock) {
            if (lock.error().category() == ErrorCategory::temp_fail)
              return Error(ErrorCategory::temp_fail, "feed-merge or revoke is still running on " + quote(store_path) +
                                                         " after " + std::to_string(o.wait) + " s (see --wait)");
            return std::move(lock).error();
          }
          if (::access(store_path.c_str(), F_OK) != 0)
            return Error(ErrorCategory::no_input, quote(store_path) + ": no feed-merge store (run feed-merge first)");
          auto store = merge::Store::open(store_path);
          if (!store) return std::move(store).error();

          std::vector<merge::Entry> touched = named;
          for (const auto& i : o.ids) {
            auto e = (*store)->entries_of_indicator(i);
            if (!e) return std::move(e).error();
            if (e->empty()) ctx.diagnostics(Severity::warning, quote(i) + ": no such indicator in the store");
            touched.insert(touched.end(), e->begin(), e->end());
          }
          if (!o.source.empty()) {
            auto e = (*store)->entries_of_source(o.source, o.since);
            if (!e) return std::move(e).error();
            if (e->empty())
              ctx.diagnostics(Severity::warning, quote(o.source) + ": nothing from this source in the store");
            touched.insert(touched.end(), e->begin(), e->end());
          }
          std::sort(touched.begin(), touched.end());
          touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
          // Our own indicators in stix-gen's state must not come back with
          // its next run: they are held beside the state, under stix-gen's
          // lock (taken before anything changes; a dry run only reads).
          std::optional<stix::Holds> holds;
          std::vector<stix::Hold> held;  // held by this run, or lifted with --undo
          if (!named.empty() || !o.ids.empty()) {
            std::vector<std::string> patterns;
            for (const auto& e : named) stix::append_observable_pattern(patterns.emplace_back(), e.type, e.value);
            auto opened = stix::Holds::open(state_dir, o.dry_run ? -1 : o.wait);
            if (!opened) {
              if (opened.error().category() == ErrorCategory::temp_fail)
                return Error(ErrorCategory::temp_fail, "stix-gen is still running on " + quote(state_dir) + " after " +
                                                           std::to_string(o.wait) + " s (see --wait); nothing changed");
              return std::move(opened).error();
            }
            holds.emplace(std::move(*opened));
            if (o.undo) {
              held = holds->lift(patterns, o.ids);
            } else {
              auto found = holds->find(patterns, o.ids, now, o.reason);
              if (!found) return std::move(found).error();
              held = std::move(*found);
              holds->add(held);
            }
          }
          // Indicators whose revoked version partners may need: those named,
          // and those naming a --value; the push records then say which of
          // them were ours and who received them.
          std::set<std::string> candidates(o.ids.begin(), o.ids.end());
          for (const auto& e : named) {
            auto ids = (*store)->ids_of_entry(e);
            if (!ids) return std::move(ids).error();
            candidates.insert(ids->begin(), ids->end());
          }
          const auto received = o.no_push || o.undo ? std::map<std::string, std::vector<Received>>()
                                                    : tool::read_push_records(state_dir, candidates);
          auto published = (*store)->published();
          if (!published) return std::move(published).error();
          std::vector<merge::Entry> listed;
          for (const auto& e : touched)
            if (std::binary_search(published->begin(), published->end(), e)) listed.push_back(e);

          if (o.dry_run) {
            std::string out;
            for (const auto& e : listed) {
              out += o.undo ? "may return: " : "leaves the blocklists: ";
              out += stix::observable_type_name(e.type);
              out += ' ';
              out += e.value;
              out += '\n';
            }
            for (const auto& [rid, list] : received)
              for (const auto& r : list)
                out += "revoked version of " + rid + " goes to partner " + r.partner + " (collection " + r.collection +
                       ")\n";
            for (const auto& h : held)
              out += o.undo ? "stix-gen starts a new indicator for " + h.pattern + " if still detected (" +
                                  h.indicator_id + " stays revoked)\n"
                            : "stix-gen withholds " + h.pattern + " (" + h.indicator_id + ")\n";
            out += std::to_string(touched.size()) + " value(s) touched, " + std::to_string(listed.size()) +
                   " on the blocklists of " + out_dir + "; nothing changed (--dry-run)\n";
            std::fputs(out.c_str(), stdout);
            return 0;
          }

          auto log = tool::open_audit_log(o.audit_log, *config, **clock);
          if (!log) return std::move(log).error();
          if (!held.empty()) {
            CTI_TRY_STATUS(holds->save());
            std::vector<std::pair<std::string, std::string>> versions;
            std::string ids;
            for (const auto& h : held) {
              versions.emplace_back(h.indicator_id, h.modified);
              ids += (ids.empty() ? "" : " ") + h.indicator_id;
            }
            CTI_TRY_STATUS(log->append(
                {"revoke", user, o.undo ? "revoke.release" : "revoke.withhold", state_dir, "",
                 static_cast<std::int64_t>(held.size()), "ok", "",
                 "stix-gen " + std::string(o.undo ? "no longer withholds " : "withholds ") + ids + ": " + o.reason,
                 audit::ids_digest(std::move(versions))}));
            for (const auto& h : held)
              ctx.diagnostics(Severity::info,
                              quote(h.indicator_id) +
                                  (o.undo ? ": stix-gen no longer withholds " + h.pattern +
                                                "; if still detected, its next run makes a new indicator (a new id: "
                                                "this one stays revoked)"
                                          : ": stix-gen withholds " + h.pattern + " from its next run on"));
          }
          for (const auto& s : wanted) {
            const std::string what = s.kind + " " +
                                     (s.kind == "value" ? s.target.substr(s.target.find('\t') + 1) : s.target) +
                                     (s.since.empty() ? "" : " since " + s.since);
            if (o.undo) {
              auto had = (*store)->remove_suppression(s.kind, s.target);
              if (!had) return std::move(had).error();
              if (!*had) ctx.diagnostics(Severity::warning, what + ": was not revoked here");
            } else {
              CTI_TRY_STATUS((*store)->add_suppression(s));
            }
            CTI_TRY_STATUS(
                log->append({"revoke", user, o.undo ? "revoke.undo" : "revoke", store_path, "",
                             static_cast<std::int64_t>(touched.size()), "ok", "", what + ": " + o.reason, ""}));
          }
          if (o.undo) {
            ctx.diagnostics(Severity::info, "lifted; the next feed-merge run puts back what may block");
            return 0;
          }

          // The blocklists, at once.
          auto allowlist = tool::load_allowlist(o.allowlist, *config);
          if (!allowlist) return std::move(allowlist).error();
          const trust::Allowlist* vetoes = *allowlist ? &**allowlist : nullptr;
          const merge::MergePolicy policy = tool::merge_policy(*config, vetoes);
          const merge::PublishOptions publish = tool::publish_options(*config, out_dir, now, vetoes);
          CTI_TRY_STATUS(make_directories(out_dir));
          auto report = merge::republish(**store, policy, publish, touched, std::move(*published));
          if (!report) return std::move(report).error();

          // Our own objects that partners received get their revoked
          // version; the push records say who received what.
          int status = 0;
          {
            for (const auto& [rid, list] : received) {
              for (const auto& r : list) {
                auto partner = config->partners.find(r.partner);
                if (partner == config->partners.end()) {
                  ctx.diagnostics(Severity::error, quote(rid) + ": received by " + quote(r.partner) +
                                                       ", which is no longer in the configuration; not revoked there");
                  status = std::max(status, exit_code(ErrorCategory::config));
                  continue;
                }
                tool::PartnerOptions which;
                which.partners = {r.partner};
                auto endpoints = tool::select_endpoints(which, *config, true, "revoke");
                Result<std::string> sent = endpoints ? revoke_at_partner(endpoints->front(), r, rid, now)
                                                     : Result<std::string>(std::move(endpoints).error());
                CTI_TRY_STATUS(log->append({"revoke", r.partner, "revoke.push", partner->second.url, r.collection, 1,
                                            sent ? "ok" : "error", "",
                                            sent ? rid + " revoked: " + o.reason : sent.error().message(),
                                            sent ? audit::ids_digest({{rid, *sent}}) : ""}));
                if (!sent) {
                  ctx.diagnostics(Severity::error, "partner " + quote(r.partner) + ": " + sent.error().message());
                  status = std::max(status, exit_code(sent.error().category()));
                  continue;
                }
                ctx.diagnostics(Severity::info, quote(rid) + ": revoked version " + *sent + " sent to " +
                                                    quote(r.partner) + " (collection " + r.collection + ")");
              }
            }
          }
          ctx.diagnostics(Severity::info, std::to_string(report->removed) + " entr" +
                                              (report->removed == 1 ? "y" : "ies") + " left the blocklists in " +
                                              out_dir + "; threat_master.csv follows at the next feed-merge run");
          return status;
        };
      });
}
