// TOML configuration (toml++), its lookup order, and secret files.
#include "ctishare/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <toml++/toml.h>

#include "ctishare/file.h"

namespace ctishare {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string home_dir() {
  std::string h = env("HOME");
  return h.empty() ? std::string("/root") : h;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || p[0] == '/' || base.empty()) return p;
  return base + "/" + p;
}

Error config_error(const std::string& origin, const toml::source_region& where, const std::string& what) {
  std::string msg = quote(origin);
  if (where.begin.line != 0) msg += ": line " + std::to_string(where.begin.line);
  return Error(ErrorCategory::config, msg + ": " + what);
}

}  // namespace

Result<Config> parse_config(const std::string& text, const std::string& origin, const std::string& base_dir) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    return config_error(origin, e.source(), "invalid TOML: " + what);
  }
  Config cfg;
  cfg.path = origin;
  cfg.identity_class = "organization";

  auto get_string = [&](const toml::table& t, const char* key, std::string& out, const std::string& where) -> Status {
    const toml::node* n = t.get(key);
    if (n == nullptr) return {};
    if (!n->is_string()) return config_error(origin, n->source(), where + "." + key + " must be a string");
    out = n->value<std::string>().value_or("");
    return {};
  };
  auto get_bool = [&](const toml::table& t, const char* key, bool& out, const std::string& where) -> Status {
    const toml::node* n = t.get(key);
    if (n == nullptr) return {};
    if (!n->is_boolean()) return config_error(origin, n->source(), where + "." + key + " must be true or false");
    out = n->value<bool>().value_or(false);
    return {};
  };

  if (const toml::table* id = root["identity"].as_table()) {
    CTI_TRY_STATUS(get_string(*id, "name", cfg.identity_name, "identity"));
    CTI_TRY_STATUS(get_string(*id, "class", cfg.identity_class, "identity"));
  } else if (root.contains("identity")) {
    return config_error(origin, root.get("identity")->source(), "[identity] must be a table");
  }
  if (const toml::table* st = root["state"].as_table()) {
    CTI_TRY_STATUS(get_string(*st, "dir", cfg.state_dir, "state"));
    CTI_TRY_STATUS(get_string(*st, "audit_log", cfg.audit_log, "state"));
    cfg.state_dir = resolve(base_dir, cfg.state_dir);
    cfg.audit_log = resolve(base_dir, cfg.audit_log);
  }
  if (const toml::table* ps = root["partner"].as_table()) {
    for (const auto& [key, node] : *ps) {
      std::string name(key.str());
      const toml::table* t = node.as_table();
      const std::string where = "partner." + name;
      if (t == nullptr) return config_error(origin, node.source(), "[" + where + "] must be a table");
      Partner p;
      p.name = name;
      for (const auto& [k, v] : *t) {
        static const char* const kKnown[] = {"url", "collections", "auth", "user", "password_file", "api_key_file",
                                            "api_key_header", "token_file", "client_cert", "client_key", "ca_file",
                                            "proxy", "trust", "max_tlp", "push", "pull"};
        bool known = false;
        for (const char* kk : kKnown) known = known || k.str() == kk;
        if (!known) return config_error(origin, v.source(), "unknown key " + quote(where + "." + std::string(k.str())));
      }
      CTI_TRY_STATUS(get_string(*t, "url", p.url, where));
      CTI_TRY_STATUS(get_string(*t, "auth", p.auth, where));
      CTI_TRY_STATUS(get_string(*t, "user", p.user, where));
      CTI_TRY_STATUS(get_string(*t, "password_file", p.password_file, where));
      CTI_TRY_STATUS(get_string(*t, "api_key_file", p.api_key_file, where));
      CTI_TRY_STATUS(get_string(*t, "api_key_header", p.api_key_header, where));
      CTI_TRY_STATUS(get_string(*t, "token_file", p.token_file, where));
      CTI_TRY_STATUS(get_string(*t, "client_cert", p.client_cert, where));
      CTI_TRY_STATUS(get_string(*t, "client_key", p.client_key, where));
      CTI_TRY_STATUS(get_string(*t, "ca_file", p.ca_file, where));
      CTI_TRY_STATUS(get_string(*t, "proxy", p.proxy, where));
      CTI_TRY_STATUS(get_string(*t, "max_tlp", p.max_tlp, where));
      CTI_TRY_STATUS(get_bool(*t, "push", p.push, where));
      CTI_TRY_STATUS(get_bool(*t, "pull", p.pull, where));
      for (std::string* f : {&p.password_file, &p.api_key_file, &p.token_file, &p.client_cert, &p.client_key, &p.ca_file})
        *f = resolve(base_dir, *f);
      if (const toml::node* c = t->get("collections")) {
        const toml::array* arr = c->as_array();
        if (arr == nullptr) return config_error(origin, c->source(), where + ".collections must be a list of strings");
        for (const auto& e : *arr) {
          if (!e.is_string()) return config_error(origin, e.source(), where + ".collections must be a list of strings");
          p.collections.push_back(e.value<std::string>().value_or(""));
        }
      }
      if (const toml::node* tr = t->get("trust")) {
        auto d = tr->value<double>();
        if (!d || *d < 0.0 || *d > 1.0)
          return config_error(origin, tr->source(), where + ".trust must be a number from 0 to 1");
        p.trust = *d;
      }
      if (!is_auth_scheme(p.auth))
        return config_error(origin, t->get("auth")->source(),
                            where + ".auth " + quote(p.auth) + " is not one of basic, apikey, bearer, mtls, mtls+basic, mtls+apikey, mtls+bearer");
      cfg.partners.emplace(name, std::move(p));
    }
  }
  // A number within [lo, hi] (integers accepted), for the tables below.
  auto get_number = [&](const toml::table& t, const char* key, double& out, double lo, double hi,
                        const std::string& where) -> Status {
    const toml::node* n = t.get(key);
    if (n == nullptr) return {};
    auto d = n->value<double>();
    if (!d || *d < lo || *d > hi)
      return config_error(origin, n->source(),
                          where + "." + key + " must be a number from " + std::to_string(static_cast<int>(lo)) +
                              " to " + std::to_string(static_cast<int>(hi)));
    out = *d;
    return {};
  };
  auto check_keys = [&](const toml::table& t, std::initializer_list<const char*> known, const std::string& where) -> Status {
    for (const auto& [k, v] : t) {
      bool ok = false;
      for (const char* n : known) ok = ok || k.str() == n;
      if (!ok) return config_error(origin, v.source(), "unknown key " + quote(where + "." + std::string(k.str())));
    }
    return {};
  };
  if (const toml::table* ss = root["source"].as_table()) {
    for (const auto& [key, node] : *ss) {
      const std::string name(key.str());
      const std::string where = "source." + name;
      const toml::table* t = node.as_table();
      if (t == nullptr) return config_error(origin, node.source(), "[" + where + "] must be a table");
      CTI_TRY_STATUS(check_keys(*t, {"trust", "description"}, where));
      if (t->get("trust") == nullptr)
        return config_error(origin, node.source(), "[" + where + "] needs trust (1.0, 0.8, 0.6 or 0.3)");
      if (cfg.partners.count(name) != 0)
        return config_error(origin, node.source(), "[" + where + "] has the name of a partner; a name is one or the other");
      SourceConfig s;
      s.name = name;
      CTI_TRY_STATUS(get_number(*t, "trust", s.trust, 0, 1, where));
      CTI_TRY_STATUS(get_string(*t, "description", s.description, where));
      cfg.sources.emplace(name, std::move(s));
    }
  } else if (root.contains("source")) {
    return config_error(origin, root.get("source")->source(), "[source] must hold [source.NAME] tables");
  }
  if (const toml::table* al = root["allowlist"].as_table()) {
    CTI_TRY_STATUS(check_keys(*al, {"file"}, "allowlist"));
    CTI_TRY_STATUS(get_string(*al, "file", cfg.allowlist, "allowlist"));
    if (!cfg.allowlist.empty()) cfg.allowlist = resolve(base_dir, cfg.allowlist);
  } else if (root.contains("allowlist")) {
    return config_error(origin, root.get("allowlist")->source(), "[allowlist] must be a table (file = \"...\")");
  }
  if (const toml::table* sc = root["scoring"].as_table()) {
    CTI_TRY_STATUS(check_keys(*sc, {"block_threshold", "review_threshold", "floor", "default_confidence"}, "scoring"));
    CTI_TRY_STATUS(get_number(*sc, "block_threshold", cfg.scoring.block_threshold, 0, 100, "scoring"));
    CTI_TRY_STATUS(get_number(*sc, "review_threshold", cfg.scoring.review_threshold, 0, 100, "scoring"));
    CTI_TRY_STATUS(get_number(*sc, "floor", cfg.scoring.floor, 0, 100, "scoring"));
    CTI_TRY_STATUS(get_number(*sc, "default_confidence", cfg.scoring.default_confidence, 0, 100, "scoring"));
    if (cfg.scoring.review_threshold > cfg.scoring.block_threshold)
      return config_error(origin, sc->source(), "scoring.review_threshold is above scoring.block_threshold");
  } else if (root.contains("scoring")) {
    return config_error(origin, root.get("scoring")->source(), "[scoring] must be a table");
  }
  if (const toml::table* mg = root["merge"].as_table()) {
    CTI_TRY_STATUS(check_keys(*mg,
                              {"store", "out_dir", "observe_only", "max_loss_percent", "max_loss_count", "rpz_origin",
                               "rpz_ttl", "removed_days"},
                              "merge"));
    MergeConfig& m = cfg.merge;
    CTI_TRY_STATUS(get_string(*mg, "store", m.store, "merge"));
    CTI_TRY_STATUS(get_string(*mg, "out_dir", m.out_dir, "merge"));
    if (!m.store.empty()) m.store = resolve(base_dir, m.store);
    if (!m.out_dir.empty()) m.out_dir = resolve(base_dir, m.out_dir);
    if (const toml::node* n = mg->get("observe_only")) {
      const toml::array* arr = n->as_array();
      if (arr == nullptr)
        return config_error(origin, n->source(), "merge.observe_only must be a list of observable types");
      m.observe_only.clear();
      for (const auto& e : *arr) {
        const std::string type = e.value<std::string>().value_or("");
        if (type != "domain" && type != "url" && type != "ipv4" && type != "ipv6" && type != "email" && type != "md5" &&
            type != "sha1" && type != "sha256" && type != "sha512")
          return config_error(origin, e.source(),
                              "merge.observe_only: " + quote(type) +
                                  " is not one of domain, url, ipv4, ipv6, email, md5, sha1, sha256, sha512");
        m.observe_only.push_back(type);
      }
    }
    CTI_TRY_STATUS(get_number(*mg, "max_loss_percent", m.max_loss_percent, 0, 100, "merge"));
    CTI_TRY_STATUS(get_number(*mg, "max_loss_count", m.max_loss_count, 0, 1e9, "merge"));
    CTI_TRY_STATUS(get_string(*mg, "rpz_origin", m.rpz_origin, "merge"));
    // It is written into the zone's $ORIGIN line: a name, nothing else.
    if (m.rpz_origin.empty() || m.rpz_origin.size() > 253 ||
        !std::all_of(m.rpz_origin.begin(), m.rpz_origin.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 c == '.';
        }))
      return config_error(origin, mg->get("rpz_origin")->source(),
                          "merge.rpz_origin " + quote(m.rpz_origin) + " is not a domain name");
    CTI_TRY_STATUS(get_number(*mg, "rpz_ttl", m.rpz_ttl, 0, 86400, "merge"));
    CTI_TRY_STATUS(get_number(*mg, "removed_days", m.removed_days, 0, 3650, "merge"));
  } else if (root.contains("merge")) {
    return config_error(origin, root.get("merge")->source(), "[merge] must be a table");
  }
  return cfg;
}

bool is_auth_scheme(std::string_view scheme) {
  static constexpr std::string_view kSchemes[] = {"",     "basic",      "apikey",      "bearer",
                                                  "mtls", "mtls+basic", "mtls+apikey", "mtls+bearer"};
  return std::find(std::begin(kSchemes), std::end(kSchemes), scheme) != std::end(kSchemes);
}

ConfigLocation locate_config(const std::string& explicit_path) {
  if (!explicit_path.empty()) return {explicit_path, true};
  if (std::string from_env = env("CTISHARE_CONFIG"); !from_env.empty()) return {from_env, true};
  std::string xdg = env("XDG_CONFIG_HOME");
  std::string candidate = (xdg.empty() ? home_dir() + "/.config" : xdg) + "/ctishare/ctishare.toml";
  if (exists(candidate)) return {candidate, false};
  if (exists("/etc/ctishare/ctishare.toml")) return {"/etc/ctishare/ctishare.toml", false};
  return {};
}

Result<Config> load_config(const std::string& explicit_path) {
  const ConfigLocation where = locate_config(explicit_path);
  if (where.path.empty()) return Config{};
  const std::string& path = where.path;
  auto text = read_file(path);
  if (!text) return Error(ErrorCategory::config, std::move(text).error().message());
  std::string base = path.rfind('/') == std::string::npos ? std::string(".") : path.substr(0, path.rfind('/'));
  return parse_config(*text, path, base);
}

std::string resolve_state_dir(const Config& config, const std::string& override_dir) {
  if (!override_dir.empty()) return override_dir;
  if (!config.state_dir.empty()) return config.state_dir;
  std::string xdg = env("XDG_STATE_HOME");
  return (xdg.empty() ? home_dir() + "/.local/state" : xdg) + "/ctishare";
}

Status check_secret_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Error(ErrorCategory::no_input, quote(path) + ": cannot open secret file: no such file");
  if ((st.st_mode & 077) != 0)
    return Error(ErrorCategory::permission,
                 quote(path) + ": secret file is readable by group or others; run: chmod 600 " + path);
  return {};
}

Status write_new_secret_file(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return Error(ErrorCategory::cannot_create,
                 quote(path) + (errno == EEXIST ? ": already exists; not overwriting a key"
                                                : ": cannot create: " + std::string(std::strerror(errno))));
  const bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  if (::close(fd) != 0 || !ok) {
    ::unlink(path.c_str());
    return Error(ErrorCategory::io, quote(path) + ": cannot write the secret file");
  }
  return {};
}

Result<std::string> read_secret_file(const std::string& path) {
  CTI_TRY_STATUS(check_secret_file(path));
  auto text = read_file(path);
  if (!text) return std::move(text).error();
  std::string s = std::move(*text);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string mask_secret(const std::string& secret) {
  if (secret.size() < 16) return "****";  // too short to show any part safely
  return secret.substr(0, 4) + "..." + secret.substr(secret.size() - 4);
}

}  // namespace ctishare
