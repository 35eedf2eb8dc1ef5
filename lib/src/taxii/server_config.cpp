// taxii-serve's TOML configuration: parsed with toml++, checked completely
// at load time, relative paths resolved against the file's directory.
#include "ctishare/taxii/server_config.h"

#include <cctype>
#include <set>
#include <toml++/toml.h>

#include "ctishare/config.h"
#include "ctishare/file.h"
#include "ctishare/uuid.h"

namespace ctishare::taxii {

namespace {

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || p[0] == '/' || base.empty()) return p;
  return base + "/" + p;
}

// Reads typed keys from one table and refuses keys it does not know, so a
// misspelt limit is an error instead of a silently ignored line.
class TableReader {
 public:
  TableReader(const std::string& origin, const toml::table& table, std::string where)
      : origin_(origin), table_(table), where_(std::move(where)) {}

  Error error(const toml::node* node, const std::string& what) const {
    std::string msg = quote(origin_);
    if (node != nullptr && node->source().begin.line != 0) msg += ": line " + std::to_string(node->source().begin.line);
    return Error(ErrorCategory::config, msg + ": " + what);
  }
  std::string name(const char* key) const { return where_ + "." + key; }

  Status known(std::initializer_list<const char*> keys) const {
    for (const auto& [k, v] : table_) {
      bool ok = false;
      for (const char* kk : keys) ok = ok || k.str() == kk;
      if (!ok) return error(&v, "unknown key " + quote(where_ + "." + std::string(k.str())));
    }
    return {};
  }
  Status string(const char* key, std::string& out) const {
    const toml::node* n = table_.get(key);
    if (n == nullptr) return {};
    if (!n->is_string()) return error(n, name(key) + " must be a string");
    out = n->value<std::string>().value_or("");
    return {};
  }
  Status boolean(const char* key, bool& out) const {
    const toml::node* n = table_.get(key);
    if (n == nullptr) return {};
    if (!n->is_boolean()) return error(n, name(key) + " must be true or false");
    out = n->value<bool>().value_or(false);
    return {};
  }
  template <typename Int>
  Status integer(const char* key, Int& out, std::int64_t min, std::int64_t max) const {
    const toml::node* n = table_.get(key);
    if (n == nullptr) return {};
    auto v = n->value_exact<std::int64_t>();
    if (!v || *v < min || *v > max)
      return error(n, name(key) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    out = static_cast<Int>(*v);
    return {};
  }
  Status number(const char* key, double& out, double min, double max) const {
    const toml::node* n = table_.get(key);
    if (n == nullptr) return {};
    auto v = n->value<double>();
    if (!v || *v < min || *v > max) return error(n, name(key) + " must be a number from " + std::to_string(min) + " to " + std::to_string(max));
    out = *v;
    return {};
  }
  Status strings(const char* key, std::vector<std::string>& out) const {
    const toml::node* n = table_.get(key);
    if (n == nullptr) return {};
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return error(n, name(key) + " must be a list of strings");
    for (const auto& e : *arr) {
      if (!e.is_string()) return error(&e, name(key) + " must be a list of strings");
      out.push_back(e.value<std::string>().value_or(""));
    }
    return {};
  }
  const toml::node* node(const char* key) const { return table_.get(key); }

 private:
  const std::string& origin_;
  const toml::table& table_;
  std::string where_;
};

Status read_server(const TableReader& r, ServeConfig& c, const std::string& base) {
  CTI_TRY_STATUS(r.known({"listen", "database", "tls_cert", "tls_key", "client_ca", "require_client_cert",
                          "allow_plain_http", "paging_key_file", "audit_log", "title", "description", "contact",
                          "default_api_root", "max_content_length", "max_page_size", "max_header_size",
                          "max_url_length", "max_connections", "header_timeout", "request_timeout", "idle_timeout",
                          "shutdown_timeout", "next_token_lifetime", "status_lifetime", "rate_limit", "rate_burst",
                          "workers"}));
  std::string listen;
  CTI_TRY_STATUS(r.string("listen", listen));
  if (!listen.empty()) {
    if (auto s = parse_listen(listen, c.listen_host, c.listen_port); !s)
      return r.error(r.node("listen"), std::move(s).error().message());
  }
  std::string database;
  CTI_TRY_STATUS(r.string("database", database));
  if (!database.empty()) {
    if (database.rfind("sqlite:", 0) == 0) {
      database.erase(0, 7);
    } else if (database.find(':') != std::string::npos && database.find('/') != 0) {
      return r.error(r.node("database"), "server.database " + quote(database) +
                                             " names an unsupported backend; use sqlite:PATH");
    }
    if (database.empty()) return r.error(r.node("database"), "server.database names no file");
    c.database = database;
  }
  c.database = resolve(base, c.database);
  CTI_TRY_STATUS(r.string("tls_cert", c.tls_cert));
  CTI_TRY_STATUS(r.string("tls_key", c.tls_key));
  CTI_TRY_STATUS(r.string("client_ca", c.client_ca));
  CTI_TRY_STATUS(r.boolean("require_client_cert", c.require_client_cert));
  CTI_TRY_STATUS(r.boolean("allow_plain_http", c.allow_plain_http));
  CTI_TRY_STATUS(r.string("paging_key_file", c.paging_key_file));
  CTI_TRY_STATUS(r.string("audit_log", c.audit_log));
  for (std::string* f : {&c.tls_cert, &c.tls_key, &c.client_ca, &c.paging_key_file, &c.audit_log}) *f = resolve(base, *f);
  if (c.tls_cert.empty() != c.tls_key.empty())
    return r.error(r.node(c.tls_cert.empty() ? "tls_key" : "tls_cert"), "server.tls_cert and server.tls_key go together");
  if (c.require_client_cert && c.client_ca.empty())
    return r.error(r.node("require_client_cert"), "server.require_client_cert needs server.client_ca");

  ServerConfig& p = c.protocol;
  CTI_TRY_STATUS(r.string("title", p.title));
  CTI_TRY_STATUS(r.string("description", p.description));
  CTI_TRY_STATUS(r.string("contact", p.contact));
  CTI_TRY_STATUS(r.string("default_api_root", p.default_api_root));
  CTI_TRY_STATUS(r.integer("max_content_length", p.max_content_length, 1024, std::int64_t{1} << 34));
  CTI_TRY_STATUS(r.integer("max_page_size", p.max_page_size, 1, 100000));
  CTI_TRY_STATUS(r.integer("next_token_lifetime", p.next_token_lifetime, 60, 366 * 86400));
  CTI_TRY_STATUS(r.integer("status_lifetime", p.status_lifetime, 86400, 366 * 86400));
  CTI_TRY_STATUS(r.integer("max_header_size", c.max_header_size, 1024, 1 << 20));
  CTI_TRY_STATUS(r.integer("max_url_length", c.max_url_length, 256, 1 << 20));
  CTI_TRY_STATUS(r.integer("max_connections", c.max_connections, 1, 1 << 20));
  CTI_TRY_STATUS(r.integer("header_timeout", c.header_timeout, 1, 3600));
  CTI_TRY_STATUS(r.integer("request_timeout", c.request_timeout, 1, 3600));
  CTI_TRY_STATUS(r.integer("idle_timeout", c.idle_timeout, 1, 3600));
  CTI_TRY_STATUS(r.integer("shutdown_timeout", c.shutdown_timeout, 0, 3600));
  CTI_TRY_STATUS(r.number("rate_limit", c.rate_limit, 0, 1e9));
  CTI_TRY_STATUS(r.number("rate_burst", c.rate_burst, 1, 1e9));
  CTI_TRY_STATUS(r.integer("workers", c.workers, 0, 256));
  return {};
}

Status read_jwt(const TableReader& r, AuthSettings& auth, const std::string& base) {
  CTI_TRY_STATUS(r.known({"algorithm", "key_file", "secret_file", "issuer", "audience", "user_claim", "leeway"}));
  JwtSettings j;
  std::string key_file, secret_file;
  CTI_TRY_STATUS(r.string("algorithm", j.algorithm));
  CTI_TRY_STATUS(r.string("key_file", key_file));
  CTI_TRY_STATUS(r.string("secret_file", secret_file));
  CTI_TRY_STATUS(r.string("issuer", j.issuer));
  CTI_TRY_STATUS(r.string("audience", j.audience));
  CTI_TRY_STATUS(r.string("user_claim", j.user_claim));
  CTI_TRY_STATUS(r.integer("leeway", j.leeway_seconds, 0, 3600));
  if (j.algorithm.empty()) return r.error(nullptr, "jwt.algorithm is required (the algorithm is pinned, never taken from a token)");
  const bool hmac = j.algorithm.rfind("HS", 0) == 0;
  if (hmac) {
    if (secret_file.empty()) return r.error(nullptr, "jwt.secret_file is required for " + j.algorithm);
    auto secret = read_secret_file(resolve(base, secret_file));
    // A secret file others can read is a permission error (77), as for
    // every secret of the suite, not a configuration error.
    if (!secret) return Error(secret.error().category(), "jwt.secret_file: " + secret.error().message());
    j.key = std::move(*secret);
  } else {
    if (key_file.empty()) return r.error(nullptr, "jwt.key_file (a PEM public key) is required for " + j.algorithm);
    auto key = read_file(resolve(base, key_file));
    if (!key) return Error(ErrorCategory::config, "jwt.key_file: " + key.error().message());
    j.key = std::move(*key);
  }
  auth.jwt = std::move(j);
  return {};
}

}  // namespace

Status parse_listen(std::string_view text, std::string& host, std::uint16_t& port) {
  const auto bad = [&](const std::string& why) {
    return Error(ErrorCategory::config, "listen address " + quote(std::string(text)) + " " + why + " (expected HOST:PORT)");
  };
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  std::string_view h = text.substr(0, colon), p = text.substr(colon + 1);
  if (!h.empty() && h.front() == '[') {
    if (h.back() != ']') return bad("has an unclosed '['");
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return bad("needs brackets around an IPv6 address");
  }
  if (p.empty() || p.size() > 5) return bad("has no valid port");
  unsigned v = 0;
  for (char ch : p) {
    if (ch < '0' || ch > '9') return bad("has no valid port");
    v = v * 10 + static_cast<unsigned>(ch - '0');
  }
  if (v > 65535) return bad("has a port above 65535");
  host = h.empty() ? "127.0.0.1" : std::string(h);
  port = static_cast<std::uint16_t>(v);
  return {};
}

Result<ServeConfig> parse_serve_config(const std::string& text, const std::string& origin, const std::string& base_dir) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::string msg = quote(origin);
    if (e.source().begin.line != 0) msg += ": line " + std::to_string(e.source().begin.line);
    return Error(ErrorCategory::config, msg + ": invalid TOML: " + std::string(e.description()));
  }
  ServeConfig c;
  c.path = origin;
  const TableReader top(origin, root, "");
  for (const auto& [k, v] : root) {
    static const char* const kKnown[] = {"server", "api_root", "user", "jwt", "identity", "partner", "state", "feed",
                                         "trust", "allowlist", "blocklist", "revoke"};
    bool ok = false;
    for (const char* kk : kKnown) ok = ok || k.str() == kk;
    if (!ok) return top.error(&v, "unknown table " + quote(std::string(k.str())));
  }

  if (const toml::node* n = root.get("server")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) return top.error(n, "[server] must be a table");
    CTI_TRY_STATUS(read_server(TableReader(origin, *t, "server"), c, base_dir));
  } else {
    c.database = resolve(base_dir, c.database);
  }
  if (const toml::table* st = root["state"].as_table()) {
    if (const toml::node* n = st->get("audit_log"); n != nullptr && n->is_string())
      c.state_audit_log = resolve(base_dir, n->value<std::string>().value_or(""));
  }

  // API roots and their collections; every id and alias unique server-wide,
  // so a user's read/write list names exactly one collection.
  std::set<std::string> root_paths, collection_names;
  if (const toml::node* n = root.get("api_root")) {
    const toml::array* roots = n->as_array();
    if (roots == nullptr || !roots->is_array_of_tables()) return top.error(n, "api_root must be [[api_root]] tables");
    for (const auto& rn : *roots) {
      const TableReader r(origin, *rn.as_table(), "api_root");
      CTI_TRY_STATUS(r.known({"path", "title", "description", "collection"}));
      ApiRootConfig ar;
      CTI_TRY_STATUS(r.string("path", ar.path));
      CTI_TRY_STATUS(r.string("title", ar.title));
      CTI_TRY_STATUS(r.string("description", ar.description));
      while (!ar.path.empty() && ar.path.front() == '/') ar.path.erase(0, 1);
      while (!ar.path.empty() && ar.path.back() == '/') ar.path.pop_back();
      if (ar.path.empty()) return r.error(&rn, "api_root.path is required (e.g. \"api1\")");
      if (ar.path == "taxii2") return r.error(r.node("path"), "api_root.path \"taxii2\" is the discovery endpoint");
      for (char ch : ar.path)
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' || ch == '/'))
          return r.error(r.node("path"), "api_root.path " + quote(ar.path) + " may hold only letters, digits, '-', '_', '.' and '/'");
      if (!root_paths.insert(ar.path).second) return r.error(r.node("path"), "api_root.path " + quote(ar.path) + " is used twice");
      if (ar.title.empty()) ar.title = ar.path;
      if (const toml::node* cn = r.node("collection")) {
        const toml::array* cols = cn->as_array();
        if (cols == nullptr || !cols->is_array_of_tables())
          return r.error(cn, "api_root.collection must be [[api_root.collection]] tables");
        for (const auto& coln : *cols) {
          const TableReader cr(origin, *coln.as_table(), "api_root.collection");
          CTI_TRY_STATUS(cr.known({"id", "alias", "title", "description"}));
          CollectionConfig col;
          CTI_TRY_STATUS(cr.string("id", col.id));
          CTI_TRY_STATUS(cr.string("alias", col.alias));
          CTI_TRY_STATUS(cr.string("title", col.title));
          CTI_TRY_STATUS(cr.string("description", col.description));
          if (!Uuid::parse(col.id).has_value())
            return cr.error(cr.node("id") != nullptr ? cr.node("id") : &coln,
                            "api_root.collection.id " + quote(col.id) + " is not a UUID (TAXII 2.1 §5.2)");
          if (col.title.empty()) return cr.error(&coln, "api_root.collection.title is required (TAXII 2.1 §5.2)");
          if (!collection_names.insert(col.id).second)
            return cr.error(cr.node("id"), "collection " + quote(col.id) + " is defined twice");
          if (!col.alias.empty()) {
            if (col.alias == "*" || Uuid::parse(col.alias).has_value())
              return cr.error(cr.node("alias"), "collection alias " + quote(col.alias) + " must not be \"*\" or a UUID");
            if (!collection_names.insert(col.alias).second)
              return cr.error(cr.node("alias"), "collection alias " + quote(col.alias) + " is used twice");
          }
          ar.collections.push_back(std::move(col));
        }
      }
      c.protocol.api_roots.push_back(std::move(ar));
    }
  }
  if (!c.protocol.default_api_root.empty() && root_paths.count(c.protocol.default_api_root) == 0)
    return Error(ErrorCategory::config, quote(origin) + ": server.default_api_root " +
                                            quote(c.protocol.default_api_root) + " is not an [[api_root]] path");

  // Users: credentials for the authenticator, permissions for the handler.
  std::set<std::string> user_names;
  if (const toml::node* n = root.get("user")) {
    const toml::array* users = n->as_array();
    if (users == nullptr || !users->is_array_of_tables()) return top.error(n, "user must be [[user]] tables");
    for (const auto& un : *users) {
      const TableReader r(origin, *un.as_table(), "user");
      CTI_TRY_STATUS(r.known({"name", "password_hash", "api_key_hash", "client_cert_cn", "read", "write"}));
      UserCredentials cred;
      UserConfig perm;
      CTI_TRY_STATUS(r.string("name", cred.name));
      CTI_TRY_STATUS(r.string("password_hash", cred.password_hash));
      CTI_TRY_STATUS(r.string("api_key_hash", cred.api_key_hash));
      CTI_TRY_STATUS(r.string("client_cert_cn", cred.certificate_subject));
      CTI_TRY_STATUS(r.strings("read", perm.read));
      CTI_TRY_STATUS(r.strings("write", perm.write));
      if (cred.name.empty()) return r.error(&un, "user.name is required");
      if (cred.name.find(':') != std::string::npos || cred.name.find_first_of("\r\n\t ") != std::string::npos)
        return r.error(r.node("name"), "user.name " + quote(cred.name) + " may not contain ':' or whitespace");
      if (!user_names.insert(cred.name).second) return r.error(r.node("name"), "user " + quote(cred.name) + " is defined twice");
      if (!cred.password_hash.empty()) {
        if (auto s = check_password_hash(cred.password_hash); !s)
          return r.error(r.node("password_hash"), "user " + quote(cred.name) + ": " + s.error().message());
      }
      if (!cred.api_key_hash.empty()) {
        if (auto s = check_api_key_hash(cred.api_key_hash); !s)
          return r.error(r.node("api_key_hash"), "user " + quote(cred.name) + ": " + s.error().message());
      }
      for (const auto* list : {&perm.read, &perm.write})
        for (const std::string& name : *list)
          if (name != "*" && collection_names.count(name) == 0)
            return r.error(r.node(list == &perm.read ? "read" : "write"),
                           "user " + quote(cred.name) + ": no collection has the id or alias " + quote(name));
      perm.name = cred.name;
      c.auth.users.push_back(std::move(cred));
      c.protocol.users.push_back(std::move(perm));
    }
  }
  if (const toml::node* n = root.get("jwt")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) return top.error(n, "[jwt] must be a table");
    CTI_TRY_STATUS(read_jwt(TableReader(origin, *t, "jwt"), c.auth, base_dir));
  }
  return c;
}

void complete_paths(ServeConfig& c, const char* env_audit_log) {
  if (c.paging_key_file.empty()) c.paging_key_file = c.database + ".key";
  if (!c.audit_log.empty()) return;
  if (env_audit_log != nullptr && *env_audit_log != '\0')
    c.audit_log = env_audit_log;
  else if (!c.state_audit_log.empty())
    c.audit_log = c.state_audit_log;
  else
    c.audit_log = c.database + ".audit.jsonl";
}

Result<ServeConfig> load_serve_config(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::move(text).error();
  std::string base = path.rfind('/') == std::string::npos ? std::string(".") : path.substr(0, path.rfind('/'));
  return parse_serve_config(*text, path, base);
}

}  // namespace ctishare::taxii
