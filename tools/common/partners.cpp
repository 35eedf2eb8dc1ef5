#include "partners.h"

#include <algorithm>
#include <cstdlib>

#include "tool.h"

namespace ctishare::tool {
namespace {

// Partner names become file names (cursors, outputs, locks).
bool safe_name(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.' || name[0] == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// The partner a one-off --url describes; the scheme follows the files given.
// Secret files may also be named in the environment (CLI.md's *_FILE
// convention, for CI jobs and containers): CTISHARE_PASSWORD_FILE for a
// --user without --password-file; CTISHARE_API_KEY_FILE or
// CTISHARE_TOKEN_FILE when no credential flag is given at all.
Result<Partner> partner_from_flags(const PartnerOptions& flags) {
  PartnerOptions o = flags;
  if (!o.user.empty() && o.password_file.empty()) o.password_file = env("CTISHARE_PASSWORD_FILE");
  if (o.user.empty() && o.api_key_file.empty() && o.token_file.empty()) {
    o.api_key_file = env("CTISHARE_API_KEY_FILE");
    o.token_file = env("CTISHARE_TOKEN_FILE");
    if (!o.api_key_file.empty() && !o.token_file.empty())
      return Error(ErrorCategory::usage, "both CTISHARE_API_KEY_FILE and CTISHARE_TOKEN_FILE are set; say which with "
                                         "--api-key-file or --token-file");
  }
  Partner p;
  auto url = taxii::parse_url(o.url);
  if (!url) return std::move(url).error();
  p.name = o.name;
  if (p.name.empty()) {
    p.name = url->host + "_" + std::to_string(url->port);
    std::replace_if(p.name.begin(), p.name.end(), [](char c) { return c == '[' || c == ']' || c == ':'; }, '_');
  }
  p.url = o.url;
  p.collections = o.collections;
  if (p.collections.empty()) return Error(ErrorCategory::usage, "--url needs --collection (an id or alias)");
  p.user = o.user;
  p.password_file = o.password_file;
  p.api_key_file = o.api_key_file;
  p.api_key_header = o.api_key_file.empty() ? "" : o.api_key_header;
  p.token_file = o.token_file;
  p.client_cert = o.cert;
  p.client_key = o.key;
  p.ca_file = o.cacert;
  p.proxy = o.proxy;
  if (!o.max_tlp.empty()) p.max_tlp = o.max_tlp;
  if (o.user.empty() != o.password_file.empty())
    return Error(ErrorCategory::usage, "--user and --password-file (or CTISHARE_PASSWORD_FILE) go together");
  if (o.cert.empty() != o.key.empty()) return Error(ErrorCategory::usage, "--cert and --key go together");
  std::string inner = !o.user.empty() ? "basic" : !o.api_key_file.empty() ? "apikey" : !o.token_file.empty() ? "bearer" : "";
  p.auth = o.cert.empty() ? inner : (inner.empty() ? "mtls" : "mtls+" + inner);
  p.push = p.pull = true;
  return p;
}

}  // namespace

void add_partner_options(CLI::App& app, PartnerOptions& o, bool push) {
  auto* partner = app.add_option("--partner", o.partners, "partners from the configuration (repeatable, or a,b)")
                      ->delimiter(',')
                      ->allow_extra_args(false)
                      ->type_name("NAME");
  auto* all = app.add_flag("--all", o.all,
                           push ? "every partner with push = true" : "every partner with pull = true");
  auto* url = app.add_option("--url", o.url, "a partner's TAXII API root, without a configuration")->type_name("URL");
  app.add_option("--name", o.name, "the name a --url partner goes by in state, output and audit (default: host_port)")
      ->type_name("NAME")
      ->needs(url);
  app.add_option("--collection", o.collections, "collection id or alias (repeatable); overrides the configuration's")
      ->allow_extra_args(false)
      ->type_name("ID");
  auto* user = app.add_option("--user", o.user, "HTTP Basic user (with --password-file)")->needs(url);
  auto* pw = app.add_option("--password-file", o.password_file, "file holding the Basic password (mode 0600)")
                 ->type_name("FILE")
                 ->needs(url);
  auto* key = app.add_option("--api-key-file", o.api_key_file, "file holding an API key (mode 0600)")
                  ->type_name("FILE")
                  ->needs(url);
  o.api_key_header = "X-API-Key";
  app.add_option("--api-key-header", o.api_key_header, "header carrying the API key (default X-API-Key)")->needs(key);
  auto* tok = app.add_option("--token-file", o.token_file, "file holding a bearer token (mode 0600)")
                  ->type_name("FILE")
                  ->needs(url);
  auto* cert = app.add_option("--cert", o.cert, "client certificate (PEM) for mutual TLS")->type_name("FILE")->needs(url);
  app.add_option("--key", o.key, "client key (PEM, mode 0600) for --cert")->type_name("FILE")->needs(cert);
  app.add_option("--cacert", o.cacert, "trust only the CAs in this PEM file")->type_name("FILE")->needs(url);
  app.add_option("--proxy", o.proxy, "proxy URL for --url (default: https_proxy)")->needs(url);
  if (push)
    app.add_option("--max-tlp", o.max_tlp, "TLP ceiling for --url: send nothing marked above it (default amber)")
        ->type_name("LEVEL")
        ->needs(url);
  app.add_option("--config", o.config, "configuration file (default: $CTISHARE_CONFIG, then the XDG and /etc locations)")
      ->type_name("FILE");
  app.add_option("--audit-log", o.audit_log, "append audit records here (default: $CTISHARE_AUDIT_LOG, [state] audit_log)")
      ->type_name("FILE");
  app.add_option("--timeout", o.timeout, "seconds one request may take (default 60)")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--max-retry-time", o.max_retry_time,
                 "seconds to keep retrying a busy (429/503) or unreachable server (default 300)")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_flag("--allow-plain-http", o.allow_plain_http,
               "allow http:// to a non-loopback host (credentials and data travel in clear)");
  partner->excludes(all)->excludes(url);
  all->excludes(url);
  (void)user;
  pw->excludes(key)->excludes(tok);
  key->excludes(tok);
}

Result<std::vector<taxii::Endpoint>> select_endpoints(const PartnerOptions& o, const Config& config, bool push,
                                                      const std::string& tool_name) {
  const int ways = (o.partners.empty() ? 0 : 1) + (o.all ? 1 : 0) + (o.url.empty() ? 0 : 1);
  if (ways == 0) return Error(ErrorCategory::usage, "say which partners: --partner NAME, --all, or --url URL --collection ID");
  taxii::ClientSettings base;
  base.user_agent = tool_name + "/" + version() + " (ctishare)";
  base.total_timeout = std::chrono::milliseconds(static_cast<long long>(o.timeout * 1000));
  base.connect_timeout = std::min(base.total_timeout, std::chrono::milliseconds(10'000));
  base.allow_plain_http = o.allow_plain_http;
  if (o.max_response_bytes != 0) base.max_response_bytes = o.max_response_bytes;
  base.retry.budget = std::chrono::milliseconds(static_cast<long long>(o.max_retry_time * 1000));
  base.retry.max_attempts = o.max_retry_time > 0 ? 1000 : 1;  // the budget decides
  base.retry.max_delay = std::max(std::chrono::milliseconds(1000), base.retry.budget);

  std::vector<Partner> chosen;
  if (!o.url.empty()) {
    auto p = partner_from_flags(o);
    if (!p) return std::move(p).error();
    chosen.push_back(std::move(*p));
  } else if (o.all) {
    for (const auto& [name, p] : config.partners)
      if (push ? p.push : p.pull) chosen.push_back(p);
    if (chosen.empty())
      return Error(ErrorCategory::config, (config.path.empty() ? std::string("no configuration file found")
                                                               : quote(config.path)) +
                                              ": no partner has " + (push ? "push" : "pull") + " = true");
  } else {
    for (const auto& name : o.partners) {
      auto it = config.partners.find(name);
      if (it == config.partners.end()) {
        std::string known;
        for (const auto& [n, p] : config.partners) known += (known.empty() ? "" : ", ") + n;
        return Error(ErrorCategory::config,
                     "unknown partner " + quote(name) +
                         (config.path.empty() ? "; no configuration file was found (see --config)"
                                              : " in " + quote(config.path) +
                                                    (known.empty() ? std::string("; it names none") : "; it names: " + known)));
      }
      if (std::find_if(chosen.begin(), chosen.end(), [&](const Partner& c) { return c.name == name; }) == chosen.end())
        chosen.push_back(it->second);
    }
  }
  std::vector<taxii::Endpoint> out;
  for (auto& p : chosen) {
    if (!safe_name(p.name))
      return Error(ErrorCategory::config, "partner name " + quote(p.name) +
                                              " must be letters, digits, '-', '_' and '.' (it names files)");
    if (o.url.empty() && !o.collections.empty()) p.collections = o.collections;
    auto e = taxii::endpoint_for(p, base);
    if (!e) return std::move(e).error();
    out.push_back(std::move(*e));
  }
  return out;
}


}  // namespace ctishare::tool
