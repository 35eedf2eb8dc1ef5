// The suite's one TOML configuration file (shared/CLI.md): who we are, our
// partners, and where state lives; and the lookup order for the file, the
// state directory and the audit log. Secret files are checked here too.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/result.h"

namespace ctishare {

// Whether `scheme` is a partner auth scheme: basic, apikey, bearer, mtls,
// mtls+basic, mtls+apikey or mtls+bearer ("" means anonymous and is one too).
bool is_auth_scheme(std::string_view scheme);

// One [partner.NAME] table.
struct Partner {
  std::string name;
  std::string url;                       // the TAXII API root
  std::vector<std::string> collections;  // ids or aliases
  std::string auth;                      // basic | apikey | bearer | mtls | mtls+basic | mtls+apikey | mtls+bearer
  std::string user;
  std::string password_file, api_key_file, api_key_header, token_file;
  std::string client_cert, client_key, ca_file, proxy;
  double trust = 0.3;                    // unverified unless the file says otherwise
  std::string max_tlp = "amber";
  bool push = false;
  bool pull = false;
};

// One [source.NAME] table: a feed that is not a TAXII partner (an
// open-source list, our own detections) and the trust its channel earns.
struct SourceConfig {
  std::string name;
  double trust = 0.3;
  std::string description;
};

// The [scoring] table: trust-score's thresholds on the 0-100 scale.
struct ScoringConfig {
  double block_threshold = 70;
  double review_threshold = 30;
  double floor = 5;
  double default_confidence = 50;
};

// The [merge] table: feed-merge's store, outputs and safety limits.
struct MergeConfig {
  std::string store;    // SQLite file, resolved; "" → <state>/merge.db
  std::string out_dir;  // resolved; "" → <state>/out
  std::vector<std::string> observe_only = {"ipv4", "ipv6"};  // observable types never blocked automatically
  double max_loss_percent = 25;  // the sanity gate: refuse to drop more than this share …
  double max_loss_count = 100;   // … and more than this many blocklist entries at once
  std::string rpz_origin = "rpz.ctishare.local";
  double rpz_ttl = 300;          // seconds
  double removed_days = 30;      // how long removed.csv remembers a removal
};

struct Config {
  std::string path;            // where it was read from; empty when none was found
  std::string identity_name;   // [identity] name
  std::string identity_class = "organization";  // [identity] class
  std::string state_dir;       // [state] dir, resolved (see resolve_state_dir)
  std::string audit_log;       // [state] audit_log
  std::map<std::string, Partner> partners;
  std::map<std::string, SourceConfig> sources;
  ScoringConfig scoring;
  std::string allowlist;       // [allowlist] file, resolved; empty when none
  MergeConfig merge;
};

// Where the configuration file is: `explicit_path` (--config) when given,
// else $CTISHARE_CONFIG, else $XDG_CONFIG_HOME/ctishare/ctishare.toml (or
// ~/.config/...), else /etc/ctishare/ctishare.toml. `named` is true for the
// first two (a missing file is then an error); `path` is "" when nothing
// names a file and no default location holds one.
struct ConfigLocation {
  std::string path;
  bool named = false;
};
ConfigLocation locate_config(const std::string& explicit_path);

// Finds (see locate_config) and reads the configuration: `explicit_path` (--config) when given,
// else $CTISHARE_CONFIG, else $XDG_CONFIG_HOME/ctishare/ctishare.toml (or
// ~/.config/...), else /etc/ctishare/ctishare.toml. A missing file is an
// error only when named explicitly (--config or $CTISHARE_CONFIG); otherwise
// an empty Config is returned. Errors: config (78) for unreadable or invalid
// files, naming the file, line and key. Relative paths inside the file are
// resolved against the file's directory.
Result<Config> load_config(const std::string& explicit_path);

// Parses configuration text (for tests); `origin` names it in messages.
Result<Config> parse_config(const std::string& text, const std::string& origin, const std::string& base_dir);

// The state directory: `override_dir` (--state) when given, else [state] dir,
// else $XDG_STATE_HOME/ctishare, else ~/.local/state/ctishare.
std::string resolve_state_dir(const Config& config, const std::string& override_dir);

// Reads a secret from a file that neither group nor others may read.
// Errors: permission (77) when the mode is too open, no_input (66) when missing.
// The returned text has a trailing newline removed.
Result<std::string> read_secret_file(const std::string& path);

// Checks that a secret file exists and that neither group nor others may
// read it. Errors: no_input (66) when it is missing, permission (77) when
// its mode is too open.
Status check_secret_file(const std::string& path);

// Creates a new secret file holding `content`, mode 0600, synced. An
// existing file is never overwritten (it may hold a key someone uses).
// Errors: cannot_create (73) when the file exists or cannot be created; io
// (74) when writing fails, and the new file is removed.
Status write_new_secret_file(const std::string& path, std::string_view content);

// A secret for display: at most its first and last four characters.
std::string mask_secret(const std::string& secret);

}  // namespace ctishare
