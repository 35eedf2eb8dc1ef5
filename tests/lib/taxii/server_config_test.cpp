// taxii-serve's configuration: defaults, every table, and the mistakes that
// must stop the server at start (issue #4).
#include "ctishare/taxii/server_config.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "support/temp_dir.h"

using namespace ctishare;
using namespace ctishare::taxii;

namespace {

// A cheap but well-formed password hash (the minimum cost the checker accepts).
const std::string& test_hash() {
  static const std::string h = [] {
    PasswordHashParams p;
    p.log2_n = 14;
    return *hash_password("pw", p);
  }();
  return h;
}

const std::string kRoots = R"(
[[api_root]]
path = "/api1/"
title = "Root one"
[[api_root.collection]]
id = "365fed99-08fa-fdcd-a1b3-fb247eb41d01"
alias = "phishing"
title = "Phishing"
[[api_root.collection]]
id = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
title = "Malware"
)";

Result<ServeConfig> parse(const std::string& text) { return parse_serve_config(text, "test.toml", "/etc/x"); }

std::string error_of(const std::string& text) {
  auto c = parse(text);
  if (c) return "(parsed)";
  CHECK(c.error().category() == ErrorCategory::config);
  return c.error().message();
}

}  // namespace

TEST_CASE("server config: defaults", "[server_config]") {
  auto c = parse("");
  REQUIRE(c);
  CHECK(c->paging_key_file.empty());  // derived from the database once overrides are in
  complete_paths(*c, nullptr);
  CHECK(c->listen_host == "127.0.0.1");
  CHECK(c->listen_port == 9000);
  CHECK(c->database == "/etc/x/taxii.db");
  CHECK(c->paging_key_file == "/etc/x/taxii.db.key");
  CHECK(c->audit_log == "/etc/x/taxii.db.audit.jsonl");
  CHECK(c->tls_cert.empty());
  CHECK(c->protocol.max_content_length == 10 * 1024 * 1024);
  CHECK(c->protocol.api_roots.empty());
}

TEST_CASE("server config: every table", "[server_config]") {
  auto c = parse(R"(
[identity]
name = "ignored here"
[server]
listen = "0.0.0.0:8443"
database = "sqlite:/var/lib/taxii/store.db"
tls_cert = "pki/server.pem"
tls_key = "pki/server.key"
client_ca = "/etc/pki/clients.pem"
max_content_length = 2097152
max_page_size = 500
rate_limit = 10
rate_burst = 20
workers = 3
title = "Bank CERT"
)" + kRoots + R"(
[[user]]
name = "partner-b"
password_hash = ")" + test_hash() + R"("
read = ["phishing", "91a7b528-80eb-42ed-a74d-c6fbd5a26116"]
write = ["phishing"]
[[user]]
name = "reader"
api_key_hash = ")" + hash_api_key("0123456789abcdef0123") + R"("
client_cert_cn = "reader.example"
read = ["*"]
)");
  REQUIRE(c);
  CHECK(c->listen_host == "0.0.0.0");
  CHECK(c->listen_port == 8443);
  CHECK(c->database == "/var/lib/taxii/store.db");
  complete_paths(*c, nullptr);
  CHECK(c->paging_key_file == "/var/lib/taxii/store.db.key");
  CHECK(c->tls_cert == "/etc/x/pki/server.pem");
  CHECK(c->client_ca == "/etc/pki/clients.pem");
  CHECK(c->protocol.max_content_length == 2097152);
  CHECK(c->protocol.max_page_size == 500);
  CHECK(c->rate_limit == 10);
  CHECK(c->workers == 3);
  CHECK(c->protocol.title == "Bank CERT");
  REQUIRE(c->protocol.api_roots.size() == 1);
  CHECK(c->protocol.api_roots[0].path == "api1");
  REQUIRE(c->protocol.api_roots[0].collections.size() == 2);
  CHECK(c->protocol.api_roots[0].collections[0].alias == "phishing");
  REQUIRE(c->protocol.users.size() == 2);
  CHECK(c->protocol.users[0].read.size() == 2);
  CHECK(c->protocol.users[1].read == std::vector<std::string>{"*"});
  REQUIRE(c->auth.users.size() == 2);
  CHECK(c->auth.users[1].certificate_subject == "reader.example");
  CHECK(verify_api_key("0123456789abcdef0123", c->auth.users[1].api_key_hash));
}

TEST_CASE("server config: listen addresses", "[server_config]") {
  std::string host;
  std::uint16_t port = 0;
  REQUIRE(parse_listen("[::1]:9443", host, port));
  CHECK(host == "::1");
  CHECK(port == 9443);
  REQUIRE(parse_listen(":0", host, port));
  CHECK(host == "127.0.0.1");
  CHECK(port == 0);
  CHECK_FALSE(parse_listen("127.0.0.1", host, port));
  CHECK_FALSE(parse_listen("127.0.0.1:70000", host, port));
  CHECK_FALSE(parse_listen("::1:9000", host, port));
  CHECK_FALSE(parse_listen("127.0.0.1:9x", host, port));
}

TEST_CASE("server config: mistakes stop the server at start", "[server_config]") {
  CHECK_THAT(error_of("[server]\nlisen = \"x\"\n"), Catch::Contains("unknown key 'server.lisen'"));
  CHECK_THAT(error_of("[server]\nlisen = \"x\"\n"), Catch::Contains("line 2"));
  CHECK_THAT(error_of("[sever]\n"), Catch::Contains("unknown table 'sever'"));
  CHECK_THAT(error_of("[server]\nmax_page_size = 0\n"), Catch::Contains("server.max_page_size must be an integer"));
  CHECK_THAT(error_of("[server]\nlisten = \"nowhere\"\n"), Catch::Contains("has no port"));
  CHECK_THAT(error_of("[server]\ndatabase = \"postgres://x\"\n"), Catch::Contains("unsupported backend"));
  CHECK_THAT(error_of("[server]\ntls_cert = \"a.pem\"\n"), Catch::Contains("go together"));
  CHECK_THAT(error_of("[server]\nrequire_client_cert = true\n"), Catch::Contains("needs server.client_ca"));
  CHECK_THAT(error_of("[server\n"), Catch::Contains("invalid TOML"));
  CHECK_THAT(error_of("[[api_root]]\ntitle = \"x\"\n"), Catch::Contains("api_root.path is required"));
  CHECK_THAT(error_of("[[api_root]]\npath = \"taxii2\"\n"), Catch::Contains("discovery endpoint"));
  CHECK_THAT(error_of(kRoots + "[[api_root]]\npath = \"api1\"\n"), Catch::Contains("used twice"));
  CHECK_THAT(error_of("[[api_root]]\npath = \"a\"\n[[api_root.collection]]\nid = \"nope\"\ntitle = \"t\"\n"),
             Catch::Contains("is not a UUID"));
  CHECK_THAT(error_of("[[api_root]]\npath = \"a\"\n[[api_root.collection]]\nid = \"365fed99-08fa-fdcd-a1b3-fb247eb41d01\"\n"),
             Catch::Contains("title is required"));
  CHECK_THAT(error_of(kRoots + "[[user]]\nname = \"u\"\nread = [\"phishng\"]\n"),
             Catch::Contains("no collection has the id or alias 'phishng'"));
  CHECK_THAT(error_of(kRoots + "[[user]]\nname = \"u\"\n[[user]]\nname = \"u\"\n"), Catch::Contains("defined twice"));
  CHECK_THAT(error_of(kRoots + "[[user]]\nname = \"a:b\"\n"), Catch::Contains("may not contain ':'"));
  CHECK_THAT(error_of(kRoots + "[[user]]\nname = \"u\"\npassword_hash = \"plaintext\"\n"), Catch::Contains("user 'u'"));
  CHECK_THAT(error_of(kRoots + "[[user]]\nname = \"u\"\napi_key_hash = \"md5$00\"\n"), Catch::Contains("user 'u'"));
  CHECK_THAT(error_of("[server]\ndefault_api_root = \"api9\"\n" + kRoots), Catch::Contains("is not an [[api_root]] path"));
  CHECK_THAT(error_of("[jwt]\nalgorithm = \"HS256\"\n"), Catch::Contains("jwt.secret_file is required"));
  CHECK_THAT(error_of("[jwt]\nkey_file = \"k.pem\"\n"), Catch::Contains("jwt.algorithm is required"));
}

TEST_CASE("server config: a missing file is no_input", "[server_config]") {
  auto c = load_serve_config("/nonexistent/taxii.toml");
  REQUIRE_FALSE(c);
  CHECK(c.error().category() == ErrorCategory::no_input);
}

TEST_CASE("server config: the audit log follows the suite's [state] unless [server] names one", "[server_config]") {
  auto shared = parse("[state]\naudit_log = \"log/audit.jsonl\"\n");
  REQUIRE(shared);
  auto from_env = *shared;
  complete_paths(*shared, nullptr);
  CHECK(shared->audit_log == "/etc/x/log/audit.jsonl");
  complete_paths(from_env, "/srv/audit.jsonl");  // $CTISHARE_AUDIT_LOG beats [state]
  CHECK(from_env.audit_log == "/srv/audit.jsonl");
  auto own = parse("[state]\naudit_log = \"log/audit.jsonl\"\n[server]\naudit_log = \"/var/log/taxii.jsonl\"\n");
  REQUIRE(own);
  complete_paths(*own, "/srv/audit.jsonl");  // [server] beats both
  CHECK(own->audit_log == "/var/log/taxii.jsonl");
}

TEST_CASE("server config: a JWT secret others can read is a permission error", "[server_config]") {
  const test::TempDir dir;
  const std::string secret = dir.file("jwt.secret", "0123456789abcdef0123456789abcdef0123456789\n");
  ::chmod(secret.c_str(), 0644);
  auto open = parse_serve_config("[jwt]\nalgorithm = \"HS256\"\nsecret_file = \"jwt.secret\"\n", "t.toml", dir.path());
  REQUIRE_FALSE(open);
  CHECK(open.error().category() == ErrorCategory::permission);
  ::chmod(secret.c_str(), 0600);
  auto closed = parse_serve_config("[jwt]\nalgorithm = \"HS256\"\nsecret_file = \"jwt.secret\"\n", "t.toml", dir.path());
  REQUIRE(closed);
  REQUIRE(closed->auth.jwt);
  CHECK(closed->auth.jwt->algorithm == "HS256");
}
