// taxii-conform: run the black-box TAXII 2.1 conformance suite against a
// server and report each assertion (MUST / SHOULD / MAY, with the spec
// section); exit 1 when a MUST fails.
#include "ctishare/config.h"
#include "ctishare/file.h"
#include "ctishare/taxii/conformance.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  taxii-conform --list
  taxii-conform --user alice --password-file alice.pass --collection rw https://taxii.example/
  taxii-conform --cacert ca.pem --token-file token --read-collection ro --no-write https://taxii.example/taxii2/
  taxii-conform --only 'paging.*' --format json -o paging.json --collection rw https://taxii.example/

Exit status: 0 no MUST failed; 1 a MUST failed; 64 usage; 66 a secret or
certificate file is missing; 69 the server cannot be reached; 76 it does
not speak TAXII 2.1 (or TLS failed); 77 it refused the credentials; 73/74
the report cannot be written.)";

struct Options {
  std::string url, user, password_file, api_key_file, api_key_header = "X-API-Key", token_file;
  std::string cert, key, cacert, collection, read_collection, format = "text", output = "-";
  std::vector<std::string> only;
  double timeout = 30;
  bool no_write = false, allow_plain_http = false, list = false;
};

// The client settings the options describe; secrets come from their files.
ctishare::Result<ctishare::taxii::ClientSettings> settings_for(const Options& o) {
  using namespace ctishare;
  taxii::ClientSettings s;
  s.base_url = o.url;
  s.ca_file = o.cacert;
  s.allow_plain_http = o.allow_plain_http;
  s.user_agent = std::string("taxii-conform/") + tool::version() + " (ctishare)";
  s.total_timeout = std::chrono::milliseconds(static_cast<long long>(o.timeout * 1000));
  s.connect_timeout = std::min(s.total_timeout, std::chrono::milliseconds(10'000));
  s.retry.max_attempts = 2;
  s.credentials.user = o.user;
  s.credentials.client_cert = o.cert;
  s.credentials.client_key = o.key;
  s.credentials.api_key_header = o.api_key_header;
  const auto secret = [](const std::string& file, std::string& into) -> Status {
    if (file.empty()) return {};
    auto text = read_secret_file(file);
    if (!text) return std::move(text).error();
    into = std::move(*text);
    return {};
  };
  CTI_TRY_STATUS(secret(o.password_file, s.credentials.password));
  CTI_TRY_STATUS(secret(o.api_key_file, s.credentials.api_key));
  CTI_TRY_STATUS(secret(o.token_file, s.credentials.bearer_token));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(
      argc, argv, {"taxii-conform", "Check a TAXII 2.1 server against the specification, black-box.", kExamples},
      [opts](CLI::App& app) -> tool::Body {
        app.add_option("URL", opts->url, "the server's discovery URL (…/taxii2/) or its root");
        app.add_option("--user", opts->user, "HTTP Basic user (with --password-file)");
        auto* pw = app.add_option("--password-file", opts->password_file, "file holding the Basic password (mode 0600)")
                       ->type_name("FILE");
        auto* key = app.add_option("--api-key-file", opts->api_key_file, "file holding an API key (mode 0600)")
                        ->type_name("FILE");
        app.add_option("--api-key-header", opts->api_key_header, "header carrying the API key (default X-API-Key)")
            ->needs(key);
        auto* tok = app.add_option("--token-file", opts->token_file, "file holding a bearer token (mode 0600)")
                        ->type_name("FILE");
        auto* cert = app.add_option("--cert", opts->cert, "client certificate (PEM) for mutual TLS")->type_name("FILE");
        app.add_option("--key", opts->key, "client key (PEM) for --cert")->type_name("FILE")->needs(cert);
        app.add_option("--cacert", opts->cacert, "trust only the CAs in this PEM file")->type_name("FILE");
        app.add_option("--collection", opts->collection, "writable collection (id or alias) for the write tests")
            ->type_name("ID");
        app.add_option("--read-collection", opts->read_collection,
                       "collection to read (default: --collection, else the first readable)")
            ->type_name("ID");
        app.add_flag("--no-write", opts->no_write,
                     "post nothing: run only the read assertions (--collection is then read)");
        app.add_option("--only", opts->only, "run only assertions whose id matches these patterns ('paging.*')")
            ->delimiter(',')
            ->type_name("PATTERN,...")
            ->allow_extra_args(false);
        app.add_option("--format", opts->format, "report format: text (default) or json")
            ->check(CLI::IsMember({"text", "json"}));
        app.add_option("-o,--output", opts->output, "write the report to FILE atomically ('-': stdout)")
            ->type_name("FILE");
        app.add_option("--timeout", opts->timeout, "seconds one request may take (default 30)")
            ->check(CLI::Range(0.1, 3600.0));
        app.add_flag("--allow-plain-http", opts->allow_plain_http,
                     "allow http:// to a non-loopback host (credentials travel in clear)");
        app.add_flag("--list", opts->list, "print every assertion (id, level, section, description) and exit");
        pw->excludes(key)->excludes(tok);
        key->excludes(tok);
        return [opts](tool::Context& ctx) -> Result<int> {
          CTI_TRY_STATUS(taxii::check_selection(opts->only));
          if (!opts->list && opts->url.empty())
            return Error(ErrorCategory::usage, "a server URL is required (or --list)");
          if (opts->user.empty() != opts->password_file.empty())
            return Error(ErrorCategory::usage, "--user and --password-file go together");
          auto output = Output::open(opts->output);
          if (!output) return std::move(output).error();
          if (opts->list) {
            CTI_TRY_STATUS(output->sink().write(taxii::format_assertion_list()));
            CTI_TRY_STATUS(output->commit());
            return 0;
          }
          auto settings = settings_for(*opts);
          if (!settings) return std::move(settings).error();
          auto client = taxii::Client::create(std::move(*settings));
          if (!client) return std::move(client).error();
          if (opts->allow_plain_http && client->base().scheme == "http" &&
              !taxii::is_loopback_host(client->base().host))
            tool::print_diagnostic(ctx, Severity::warning,
                                   "--allow-plain-http: credentials and data travel unencrypted to " +
                                       quote(taxii::origin_of(client->base())));
          taxii::ConformanceOptions options;
          options.url = opts->url;
          options.write_collection = opts->no_write ? "" : opts->collection;
          options.read_collection =
              opts->read_collection.empty() && opts->no_write ? opts->collection : opts->read_collection;
          options.only = opts->only;
          options.progress = [&ctx](const std::string& m) { ctx.diagnostics(Severity::info, m); };
          auto report = taxii::run_conformance(*client, options);
          if (!report) return std::move(report).error();
          CTI_TRY_STATUS(output->sink().write(opts->format == "json"
                                                  ? taxii::format_report_json(*report, tool::version())
                                                  : taxii::format_report_text(*report)));
          CTI_TRY_STATUS(output->commit());
          ctx.diagnostics(Severity::info, std::to_string(report->count(taxii::Outcome::pass)) + " passed, " +
                                              std::to_string(report->failures(taxii::Level::must)) +
                                              " MUST failure(s)");
          return report->conformant() ? 0 : 1;
        };
      });
}
