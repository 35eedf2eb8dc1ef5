// taxii-serve: the organisation's own TAXII 2.1 server; plus the helpers
// that make its configuration (hash-password, hash-api-key, check-config).
#include <malloc.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "ctishare/config.h"
#include "ctishare/file.h"
#include "ctishare/taxii/auth.h"
#include "ctishare/taxii/server_config.h"
#include "server.h"
#include "tool.h"

namespace {

constexpr const char* kExamples = R"(Examples:
  taxii-serve --config /etc/ctishare/taxii-serve.toml
  taxii-serve --config taxii.toml --listen 127.0.0.1:9000 -v
  taxii-serve hash-password < password.txt
  taxii-serve hash-api-key --generate partner.key
  taxii-serve check-config --config taxii.toml

The configuration is read from --config FILE, else $CTISHARE_CONFIG, else
$XDG_CONFIG_HOME/ctishare/ctishare.toml, else /etc/ctishare/ctishare.toml.
SIGTERM or SIGINT stops the server once requests in flight have finished.

Exit status: 0 stopped cleanly (or the subcommand succeeded); 64 usage;
65 bad input to a subcommand, or the database is not a ctishare store;
66 a file is missing; 73 the store, audit log or socket cannot be created;
74 I/O error; 75 another process holds the store locked; 77 a private key
or secret file is readable by others; 78 configuration error.)";

struct Options {
  std::string config, listen, database, tls_cert, tls_key, client_ca, ready_file, audit_log;
  bool allow_plain_http = false;
  unsigned workers = 0;
  std::string generate_file;
};

using ctishare::ErrorCategory;
using ctishare::Result;

// The configuration with the command line's overrides applied.
Result<ctishare::taxii::ServeConfig> load(const Options& o) {
  const ctishare::ConfigLocation where = ctishare::locate_config(o.config);
  if (where.path.empty())
    return ctishare::Error(ErrorCategory::config,
                           "no configuration file; give --config FILE (see taxii-serve(8); also searched "
                           "$CTISHARE_CONFIG, $XDG_CONFIG_HOME/ctishare/ctishare.toml, /etc/ctishare/ctishare.toml)");
  const std::string& path = where.path;
  if (::access(path.c_str(), F_OK) != 0)
    return ctishare::Error(o.config.empty() ? ErrorCategory::config : ErrorCategory::no_input,
                           ctishare::quote(path) + ": no configuration file; give --config FILE (see taxii-serve(8))");
  auto c = ctishare::taxii::load_serve_config(path);
  if (!c) return c;
  if (!o.listen.empty()) CTI_TRY_STATUS(ctishare::taxii::parse_listen(o.listen, c->listen_host, c->listen_port));
  if (!o.database.empty()) {
    if (o.database.rfind("sqlite:", 0) != 0 && o.database.find("://") != std::string::npos)
      return ctishare::Error(ErrorCategory::usage, "--database " + ctishare::quote(o.database) +
                                                       " names an unsupported backend; use sqlite:PATH");
    c->database = o.database.rfind("sqlite:", 0) == 0 ? o.database.substr(7) : o.database;
  }
  if (!o.audit_log.empty()) c->audit_log = o.audit_log;
  if (!o.tls_cert.empty()) c->tls_cert = o.tls_cert;
  if (!o.tls_key.empty()) c->tls_key = o.tls_key;
  if (!o.client_ca.empty()) c->client_ca = o.client_ca;
  if (o.allow_plain_http) c->allow_plain_http = true;
  if (o.workers != 0) c->workers = o.workers;
  if (c->tls_cert.empty() != c->tls_key.empty())
    return ctishare::Error(ErrorCategory::config, "--tls-cert and --tls-key go together");
  ctishare::taxii::complete_paths(*c, std::getenv("CTISHARE_AUDIT_LOG"));
  return c;
}

// A secret from stdin: the first line. On a terminal it is asked for twice
// with echo off, so a typo cannot lock its owner out.
Result<std::string> read_secret_from_stdin(const char* what) {
  const bool tty = ::isatty(STDIN_FILENO) != 0;
  termios saved{};
  auto read_line = [&](const char* prompt) -> std::optional<std::string> {
    if (tty) {
      std::fprintf(stderr, "%s", prompt);
      std::fflush(stderr);
    }
    std::string line;
    if (!std::getline(std::cin, line) && line.empty()) return std::nullopt;
    if (tty) std::fprintf(stderr, "\n");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  };
  if (tty && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  auto first = read_line((std::string(what) + ": ").c_str());
  std::optional<std::string> second = first;
  if (tty && first) second = read_line((std::string("Again: ")).c_str());
  if (tty) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (!first || first->empty())
    return ctishare::Error(ErrorCategory::data, std::string("no ") + what + " on standard input");
  if (*first != *second) return ctishare::Error(ErrorCategory::data, "the two entries differ");
  return *first;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ctishare;
  auto opts = std::make_shared<Options>();
  return tool::run(argc, argv, {"taxii-serve", "Serve TAXII 2.1 collections from an embedded store.", kExamples},
                   [opts](CLI::App& app) -> tool::Body {
    app.fallthrough();
    app.require_subcommand(0, 1);
    app.add_option("-c,--config", opts->config, "configuration file (TOML)")->type_name("FILE");
    app.add_option("--listen", opts->listen, "address to listen on (default 127.0.0.1:9000; port 0: any free port)")
        ->type_name("HOST:PORT");
    app.add_option("--database", opts->database, "the store (default sqlite:taxii.db beside the configuration)")
        ->type_name("sqlite:PATH");
    app.add_option("--tls-cert", opts->tls_cert, "server certificate chain (PEM)")->type_name("FILE");
    app.add_option("--tls-key", opts->tls_key, "server private key (PEM, mode 0600)")->type_name("FILE");
    app.add_option("--client-ca", opts->client_ca, "accept client certificates signed by these CAs (mTLS)")->type_name("FILE");
    app.add_option("--audit-log", opts->audit_log, "append-only audit log (default: the database path + .audit.jsonl)")
        ->type_name("FILE");
    app.add_flag("--allow-plain-http", opts->allow_plain_http,
                 "serve plain HTTP on a non-loopback address (credentials cross the network unencrypted)");
    app.add_option("--workers", opts->workers,
                   "threads in each of the pools that run reads and writes (default: the cores, at least 2, "
                   "for reads; twice that, at least 4, for writes)")
        ->check(CLI::Range(1, 256));
    app.add_option("--ready-file", opts->ready_file, "write the server's base URL to FILE once it listens")->type_name("FILE");

    auto* hash_password = app.add_subcommand("hash-password", "read a password on stdin, print its scrypt hash for [[user]] password_hash");
    auto* hash_api_key = app.add_subcommand("hash-api-key", "read an API key on stdin, print its hash for [[user]] api_key_hash");
    hash_api_key->add_option("--generate", opts->generate_file, "make a new random key, write it to FILE (mode 0600), print its hash")
        ->type_name("FILE");
    auto* check_config = app.add_subcommand("check-config", "read and check the configuration, then exit");

    return [=](tool::Context& ctx) -> Result<int> {
      if (hash_password->parsed()) {
        auto password = read_secret_from_stdin("Password");
        if (!password) return std::move(password).error();
        auto hash = taxii::hash_password(*password);
        if (!hash) return std::move(hash).error();
        std::cout << *hash << '\n';
        return 0;
      }
      if (hash_api_key->parsed()) {
        std::string key;
        if (!opts->generate_file.empty()) {
          key = taxii::generate_api_key();
          auto written = write_new_secret_file(opts->generate_file, key + "\n");
          if (!written) return std::move(written).error();
        } else {
          auto read = read_secret_from_stdin("API key");
          if (!read) return std::move(read).error();
          key = std::move(*read);
          if (key.size() < 16) return Error(ErrorCategory::data, "an API key needs at least 16 characters (use --generate)");
        }
        std::cout << taxii::hash_api_key(key) << '\n';
        return 0;
      }
      auto config = load(*opts);
      if (!config) return std::move(config).error();
      if (check_config->parsed()) {
        auto auth = taxii::Authenticator::create(config->auth);
        if (!auth) return Error(ErrorCategory::config, quote(config->path) + ": " + auth.error().message());
        CTI_TRY_STATUS(serve::check_transport(*config));
        ctx.diagnostics(Severity::info, quote(config->path) + ": configuration is valid");
        return 0;
      }
      // Requests build and free megabytes of JSON each; glibc's defaults
      // hand such blocks back to the kernel every time (mmap above 128 KiB,
      // trimming above 128 KiB free), and the page faults that follow cost
      // more than the parsing. Keep them in the heap instead.
      ::mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
      ::mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
      serve::RunOptions run;
      run.config = std::move(*config);
      run.ready_file = opts->ready_file;
      run.verbosity = ctx.verbosity;
      run.log = [](const std::string& line) { std::fprintf(stderr, "taxii-serve: %s\n", line.c_str()); };
      return serve::run_server(std::move(run));
    };
  });
}
