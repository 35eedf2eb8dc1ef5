// taxii-serve's configuration: the [server], [[api_root]],
// [[api_root.collection]], [[user]] and [jwt] tables of a TOML file. The same
// file may also hold the suite's other tables ([identity], [partner.*],
// [state]); they are ignored here. Everything is checked when the file is
// read — unknown keys, malformed hashes, collections named in a user's
// read/write lists that do not exist — so a typo stops the server at start,
// never at 3 a.m. on the first request that needs it.
#pragma once

#include <cstdint>
#include <string>

#include "ctishare/result.h"
#include "ctishare/taxii/auth.h"
#include "ctishare/taxii/handler.h"

namespace ctishare::taxii {

// Everything taxii-serve needs besides the command line.
struct ServeConfig {
  std::string path;                  // the file read; "" for defaults
  ServerConfig protocol;             // what the pure handler needs (roots, collections, permissions, limits)
  AuthSettings auth;                 // users' credentials and [jwt]

  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 9000;  // 0: any free port
  std::string database = "taxii.db";  // the SQLite file ("sqlite:" prefix removed), resolved
  std::string paging_key_file;       // [server] paging_key_file; "" until complete_paths()
  std::string audit_log;             // [server] audit_log; "" until complete_paths()
  std::string state_audit_log;       // the suite's [state] audit_log in the same file, if any

  std::string tls_cert, tls_key;     // PEM files; both or neither
  std::string client_ca;             // PEM: ask for client certificates signed by it (mTLS)
  bool require_client_cert = false;  // refuse TLS handshakes without a valid client certificate
  bool allow_plain_http = false;     // plain HTTP on a non-loopback address

  std::size_t max_header_size = 16 * 1024;  // request line plus headers, bytes (431 beyond)
  std::size_t max_url_length = 8 * 1024;    // bytes (414 beyond)
  std::size_t max_connections = 512;        // open connections; more are closed at once
  std::int64_t header_timeout = 10;         // seconds for a request's headers to arrive
  std::int64_t request_timeout = 60;        // seconds for a whole request to arrive
  std::int64_t idle_timeout = 60;           // seconds a keep-alive connection may stay idle
  std::int64_t shutdown_timeout = 30;       // seconds in-flight requests get after SIGTERM
  double rate_limit = 50;                   // requests per second per user (or per address when anonymous); 0: none
  double rate_burst = 200;                  // bucket size
  unsigned workers = 0;                     // handler threads; 0: number of cores, at least 2
};

// Reads and checks the file. Relative paths inside it are resolved against
// its directory. Errors: config (78) naming the file, line and key for
// anything invalid; no_input (66) when the file is missing.
Result<ServeConfig> load_serve_config(const std::string& path);

// The same from text, for tests; `origin` names it in messages and
// `base_dir` resolves relative paths.
Result<ServeConfig> parse_serve_config(const std::string& text, const std::string& origin, const std::string& base_dir);

// Fills the files kept beside the store that the configuration (and the
// command line, applied before this) left unset: the paging key, the
// database path + ".key"; the audit log, $CTISHARE_AUDIT_LOG
// (`env_audit_log`, may be null) when set, else [state] audit_log, else the
// database path + ".audit.jsonl" (shared/CLI.md's order, with the server's
// own [server] audit_log first).
void complete_paths(ServeConfig& config, const char* env_audit_log);

// "HOST:PORT", "[v6]:PORT" or ":PORT" (loopback). Errors: config.
Status parse_listen(std::string_view text, std::string& host, std::uint16_t& port);

}  // namespace ctishare::taxii
