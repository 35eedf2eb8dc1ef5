// taxii-pull: fetch what partners' TAXII 2.1 collections gained since the
// last successful run, exactly once, as a bundle (or NDJSON) per partner.
#include <malloc.h>

#include <algorithm>
#include <future>
#include <memory>
#include <system_error>

#include "ctishare/audit.h"
#include "ctishare/file.h"
#include "ctishare/taxii/pull.h"
#include "partners.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  taxii-pull --all --output-dir /var/lib/ctishare/incoming
  taxii-pull --partner cert-tw -o cert-tw.json
  taxii-pull --partner cert-tw --type indicator --ndjson | jq -r .pattern
  taxii-pull --url https://taxii.example/api1/ --collection phishing --user bank-a --password-file pw
  taxii-pull --partner cert-tw --list
  taxii-pull --partner cert-tw --reset-cursor -o everything.json

Exit status: 0 success (nothing new included); 64 usage; 65 a cursor file
is damaged; 66 a secret file is missing; 69 a partner cannot be reached or
keeps failing; 73/74 output or state cannot be written; 75 a partner is
busy (429/503) past --max-retry-time, or another pull holds its lock; 76 a
partner does not speak TAXII 2.1 (HTML, bad paging, TLS failure); 77 401 or
403, a collection we may not read, or a secret file others can read; 78
configuration error. With several partners, the others are still pulled
and the most serious status is returned.)";

struct Options {
  ctishare::tool::PartnerOptions partner;
  std::vector<std::string> types, ids, versions, spec_versions;
  std::string added_after, output = "-", output_dir;
  // Always sent: fewer round trips than a server's default page (often
  // 100), and medallion answers a `next` without `limit` with a 500.
  int limit = 1000, wait = 0;
  bool ndjson = false, reset_cursor = false, list = false;
  std::string now;
  ctishare::json::Limits limits;
};

// The text --list prints for one partner: discovery, API root, collections.
ctishare::Result<std::string> describe(const ctishare::taxii::Client& client, const ctishare::taxii::Endpoint& e) {
  using namespace ctishare;
  std::string out = "partner " + e.name + "  " + e.api_root + "\n";
  auto discovery_url = taxii::resolve_url(client.base(), "/taxii2/");
  if (discovery_url) {
    auto r = taxii::request_same_origin(client, "GET", taxii::to_string(*discovery_url));
    if (r && r->status == 200) {
      if (auto d = taxii::taxii_json(*r)) {
        out += "  discovery " + taxii::to_string(*discovery_url);
        if (auto t = d->find_string("title")) out += "  \"" + std::string(*t) + "\"";
        out += "\n";
        if (const json::Value* roots = d->find("api_roots"); roots && roots->is_array())
          for (const auto& root : roots->as_array())
            if (root.is_string()) out += "    api root " + root.as_string() + "\n";
      }
    } else {
      out += "  discovery " + taxii::to_string(*discovery_url) + ": not available" +
             (r ? " (" + std::to_string(r->status) + ")" : "") + "\n";
    }
  }
  auto root = taxii::get_api_root(client);
  if (!root) return std::move(root).error();
  out += "  api root \"" + root->title + "\"";
  for (const auto& v : root->versions) out += "  " + v;
  if (root->max_content_length != 0) out += "  max_content_length " + std::to_string(root->max_content_length);
  out += "\n";
  auto collections = taxii::list_collections(client);
  if (!collections) return std::move(collections).error();
  if (collections->empty()) out += "  no collections visible to us\n";
  for (const auto& c : *collections) {
    const bool configured = std::find(e.collections.begin(), e.collections.end(), c.id) != e.collections.end() ||
                            (!c.alias.empty() &&
                             std::find(e.collections.begin(), e.collections.end(), c.alias) != e.collections.end());
    out += std::string("  ") + (configured ? "* " : "  ") + c.id + "  alias " + (c.alias.empty() ? "-" : c.alias) +
           "  read " + (c.can_read ? "yes" : "no") + "  write " + (c.can_write ? "yes" : "no") + "  \"" + c.title +
           "\"\n";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(
      argc, argv,
      {"taxii-pull", "Fetch what partners' TAXII 2.1 collections gained since the last run, exactly once.", kExamples},
      [opts](CLI::App& app) -> tool::Body {
        tool::add_partner_options(app, opts->partner, false);
        auto* out = app.add_option("-o,--output", opts->output, "write all partners' objects to FILE atomically ('-': stdout)")
                        ->type_name("FILE");
        app.add_option("--output-dir", opts->output_dir,
                       "one file per partner, DIR/NAME.json, added to until its consumer takes it")
            ->type_name("DIR")
            ->excludes(out);
        app.add_flag("--ndjson", opts->ndjson, "write one object per line instead of a bundle");
        app.add_option("--state", opts->partner.state, "state directory for cursors (default: [state] dir)")
            ->type_name("DIR");
        app.add_flag("--reset-cursor", opts->reset_cursor, "forget the selected partners' cursors: pull everything again");
        app.add_option("--type", opts->types, "only these object types (match[type]; repeatable or a,b)")
            ->delimiter(',')
            ->allow_extra_args(false)
            ->type_name("TYPE");
        app.add_option("--id", opts->ids, "only these object ids (match[id])")->delimiter(',')->type_name("ID");
        app.add_option("--match-version", opts->versions,
                       "match[version]: last (default), first, all, or a timestamp (--version prints the tool's)")
            ->delimiter(',')
            ->allow_extra_args(false)
            ->type_name("VERSION");
        app.add_option("--spec-version", opts->spec_versions, "match[spec_version], e.g. 2.1")
            ->delimiter(',')
            ->allow_extra_args(false)
            ->type_name("VERSION");
        app.add_option("--added-after", opts->added_after, "start after this time instead of the cursor")
            ->type_name("TIMESTAMP");
        app.add_option("--limit", opts->limit, "objects per page to ask for (default 1000; the server may send fewer)")
            ->check(CLI::Range(1, 100000));
        app.add_option("--wait", opts->wait, "seconds to wait for another pull of the same partner (default 0)")
            ->check(CLI::Range(0, 86400));
        app.add_flag("--list", opts->list, "show discovery, API root and collections (can_read/can_write) and exit");
        app.add_option("--now", opts->now, "the time to record in cursors (tests)")->type_name("TIMESTAMP");
        tool::add_limit_options(app, opts->limits);
        return [opts](tool::Context& ctx) -> Result<int> {
          const Options& o = *opts;
          // Each page is a body of megabytes and a tree of small blocks,
          // made and freed a hundred times per 100,000 objects; glibc would
          // hand the large blocks back to the kernel every time and fault
          // them in again. Keep them in the heap.
          ::mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
          ::mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
          std::optional<FixedClock> fixed;
          auto clock = tool::clock_for(o.now, fixed);
          if (!clock) return std::move(clock).error();
          if (!o.added_after.empty() && !Timestamp::parse(o.added_after))
            return Error(ErrorCategory::usage, quote(o.added_after) + ": --added-after is not a timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z)");
          // A page is one response: --max-input-size bounds it when given.
          if (o.limits.max_document_bytes != json::Limits{}.max_document_bytes)
            opts->partner.max_response_bytes = o.limits.max_document_bytes;
          auto config = load_config(o.partner.config);
          if (!config) return std::move(config).error();
          auto endpoints = tool::select_endpoints(o.partner, *config, false, "taxii-pull");
          if (!endpoints) return std::move(endpoints).error();

          if (o.list) {
            auto output = Output::open(o.output);
            if (!output) return std::move(output).error();
            int status = 0;
            for (const auto& e : *endpoints) {
              auto client = taxii::Client::create(e.settings);
              auto text = client ? describe(*client, e) : Result<std::string>(std::move(client).error());
              if (!text) {
                ctx.diagnostics(Severity::error, "partner " + quote(e.name) + ": " + text.error().message());
                status = std::max(status, exit_code(text.error().category()));
                continue;
              }
              CTI_TRY_STATUS(output->sink().write(*text));
            }
            CTI_TRY_STATUS(output->commit());
            return status;
          }

          const std::string state_dir = resolve_state_dir(*config, o.partner.state);
          CTI_TRY_STATUS(make_directories(state_dir));
          if (!o.output_dir.empty()) CTI_TRY_STATUS(make_directories(o.output_dir));
          auto log = tool::open_audit_log(o.partner.audit_log, *config, **clock);
          if (!log) return std::move(log).error();
          taxii::CursorStore cursors(state_dir);
          taxii::PullSettings settings;
          settings.filters = {o.types, o.ids, o.versions, o.spec_versions, o.added_after, o.limit};
          settings.limits = o.limits;
          if (ctx.verbosity > 0) settings.progress = [&ctx](const std::string& m) { ctx.diagnostics(Severity::info, m); };
          if (o.partner.allow_plain_http)
            tool::print_diagnostic(ctx, Severity::warning, "--allow-plain-http: credentials and data may travel unencrypted");

          int status = 0;
          const auto fail = [&](const taxii::Endpoint& e, const Error& error) -> Status {
            ctx.diagnostics(Severity::error, "partner " + quote(e.name) + ": " + error.message());
            status = std::max(status, exit_code(error.category()));
            audit::Event event{"taxii-pull", e.name, "pull", e.api_root, "", -1, "error", "", error.message(), ""};
            return log->append(event);
          };
          taxii::DeliveryOptions delivery_options;
          delivery_options.framing = o.ndjson ? stix::OutputFraming::ndjson : stix::OutputFraming::bundle;
          delivery_options.output = o.output;
          delivery_options.output_dir = o.output_dir;
          // Objects go to the output's temporary file as they arrive.
          auto delivery = taxii::Delivery::open(delivery_options);
          if (!delivery) return std::move(delivery).error();
          std::vector<FileLock> locks;
          std::vector<taxii::PartnerPull> pulls;
          for (const auto& e : *endpoints) {
            CTI_TRY_STATUS(make_directories(cursors.partner_dir(e.name)));
            auto lock = FileLock::acquire(cursors.partner_dir(e.name) + "/pull.lock", o.wait);
            if (!lock) {
              CTI_TRY_STATUS(fail(e, Error(ErrorCategory::temp_fail, "another taxii-pull of this partner is running")));
              continue;
            }
            auto recovered = taxii::recover_journal(cursors, e.name);
            if (!recovered) {  // a damaged journal stops this partner, not the others
              CTI_TRY_STATUS(fail(e, recovered.error()));
              continue;
            }
            if (*recovered) ctx.diagnostics(Severity::info, "partner " + quote(e.name) + ": completed the cursors of an interrupted run");
            if (o.reset_cursor) CTI_TRY_STATUS(cursors.reset(e.name));
            auto client = taxii::Client::create(e.settings);
            if (!client) {
              CTI_TRY_STATUS(fail(e, client.error()));
              continue;
            }
            auto pull = taxii::pull_partner(*client, e, cursors, settings, **delivery);
            if (!pull) {
              CTI_TRY_STATUS(fail(e, pull.error()));
              continue;
            }
            locks.push_back(std::move(*lock));
            pulls.push_back(std::move(*pull));
          }

          // Audit facts are taken before delivery, so a failed one is recorded too.
          // The ids digests (a sort of every new object's key) are taken
          // on threads of their own while the delivery writes and syncs,
          // and collected when recorded; each waits for its thread before
          // the pull whose keys it reads goes (`ids` is declared after `pulls`).
          std::vector<std::vector<audit::Event>> events(pulls.size());
          std::vector<std::vector<std::future<std::string>>> ids(pulls.size());
          const auto digest_of = [](std::vector<std::pair<std::string_view, std::string_view>> keys) {
            auto shared = std::make_shared<decltype(keys)>(std::move(keys));
            try {
              return std::async(std::launch::async, [shared] { return audit::ids_digest_views(std::move(*shared)); });
            } catch (const std::system_error&) {  // no thread: now
              std::promise<std::string> now;
              now.set_value(audit::ids_digest_views(std::move(*shared)));
              return now.get_future();
            }
          };
          for (std::size_t i = 0; i < pulls.size(); ++i) {
            for (const auto& c : pulls[i].collections) {
              ids[i].push_back(digest_of(c.versions()));
              events[i].push_back({"taxii-pull", pulls[i].partner, "pull", pulls[i].api_root, c.collection.id,
                                   static_cast<std::int64_t>(c.keys.size()), "ok", "",
                                   std::to_string(c.pages) + " page(s), " + std::to_string(c.received) + " received, " +
                                       std::to_string(c.duplicates) + " duplicate(s) dropped",
                                   ""});
              ctx.diagnostics(Severity::info, "partner " + quote(pulls[i].partner) + ": collection " +
                                                  quote(c.collection.alias.empty() ? c.collection.id : c.collection.alias) +
                                                  ": " + std::to_string(c.keys.size()) + " new, " +
                                                  std::to_string(c.duplicates) + " duplicate(s), " +
                                                  std::to_string(c.pages) + " page(s)");
            }
          }
          // Records what delivering pulls [begin, end) came to: each record is
          // "ok", or "error" with the reason when the objects did not reach the output.
          const auto record = [&](std::size_t begin, std::size_t end, const Error* error) -> Status {
            for (std::size_t i = begin; i < end; ++i)
              for (std::size_t k = 0; k < events[i].size(); ++k) {
                audit::Event& ev = events[i][k];
                ev.ids = ids[i][k].get();
                if (error != nullptr) {
                  ev.result = "error";
                  ev.detail = "not delivered: " + error->message();
                }
                CTI_TRY_STATUS(log->append(ev));
              }
            return {};
          };
          if (!o.output_dir.empty()) {
            // One file per partner: a partner whose file cannot be written
            // leaves the others delivered (and their cursors moved).
            for (std::size_t i = 0; i < pulls.size(); ++i) {
              for (auto& f : ids[i]) f.wait();  // they read pulls[i], which goes with `one`
              std::vector<taxii::PartnerPull> one;
              one.push_back(std::move(pulls[i]));
              auto delivered = (*delivery)->commit(one, cursors, (*clock)->now());
              if (!delivered) {
                ctx.diagnostics(Severity::error, "partner " + quote(one[0].partner) + ": " + delivered.error().message());
                status = std::max(status, exit_code(delivered.error().category()));
              }
              CTI_TRY_STATUS(record(i, i + 1, delivered ? nullptr : &delivered.error()));
            }
          } else if (!pulls.empty()) {
            auto delivered = (*delivery)->commit(pulls, cursors, (*clock)->now());
            if (!delivered) {
              (void)record(0, pulls.size(), &delivered.error());
              return std::move(delivered).error();
            }
            CTI_TRY_STATUS(record(0, pulls.size(), nullptr));
          }
          return status;
        };
      });
}
