// taxii-serve's network shell around the library's pure TAXII handler:
// sockets, TLS, authentication, rate limits, size limits and timeouts,
// the audit log, and a clean stop on SIGTERM. Everything TAXII is decided by
// ctishare::taxii::Handler; this file only moves bytes and refuses what the
// handler must never see (oversized, slow, unauthenticated floods).
#pragma once

#include <functional>
#include <string>

#include "ctishare/result.h"
#include "ctishare/taxii/server_config.h"

namespace ctishare::serve {

struct RunOptions {
  taxii::ServeConfig config;
  std::string ready_file;  // written with the base URL once listening ("" for none)
  int verbosity = 0;       // 1: one access-log line per request on stderr
  std::function<void(const std::string&)> log;  // one line, no newline; prints to stderr
};

// Checks what the configuration file alone cannot: that plain HTTP is not
// asked for on a network address, and that the TLS certificate, key and
// client CA load and belong together. The same errors as run_server.
Status check_transport(const taxii::ServeConfig& config);

// Opens the store, the audit log and the listening socket, serves until
// SIGTERM or SIGINT, lets in-flight requests finish (up to
// shutdown_timeout), and returns 0. Errors: config (78) for unusable TLS
// files or settings, cannot_create (73) for the store / audit log / socket,
// permission (77) for a private key readable by others.
Result<int> run_server(RunOptions options);

}  // namespace ctishare::serve
