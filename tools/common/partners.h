// The options taxii-push and taxii-pull share: which partners (--partner,
// --all, or a one-off --url with credential files), how patient to be with
// them (--timeout, --max-retry-time), and where state and the audit log
// live. Turns them, with the configuration file, into library Endpoints.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "ctishare/config.h"
#include "ctishare/result.h"
#include "ctishare/taxii/exchange.h"

namespace ctishare::tool {

struct PartnerOptions {
  std::vector<std::string> partners;
  bool all = false;
  std::string url, name;
  std::vector<std::string> collections;
  std::string user, password_file, api_key_file, api_key_header, token_file, cert, key, cacert, proxy;
  std::string max_tlp;  // taxii-push only
  std::string config, state, audit_log;
  double timeout = 60, max_retry_time = 300;
  std::uint64_t max_response_bytes = 0;  // 0: the client's default
  bool allow_plain_http = false;
};

// Adds the options above to `app`; `push` adds --max-tlp for one-off URLs.
void add_partner_options(CLI::App& app, PartnerOptions& options, bool push);

// The endpoints the options select: the named partners, every partner with
// push = true (or pull = true) for --all, or the one --url describes. Errors:
// usage (64) when none or several of --partner, --all and --url are given,
// config (78) for unknown partners and bad partner tables, and the secret
// file errors of endpoint_for().
Result<std::vector<taxii::Endpoint>> select_endpoints(const PartnerOptions& options, const Config& config, bool push,
                                                      const std::string& tool_name);

}  // namespace ctishare::tool
