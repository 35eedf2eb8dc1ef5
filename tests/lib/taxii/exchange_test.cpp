// Tests of ctishare/taxii/exchange.h that need no server: partners turned
// into endpoints (auth schemes and the files each needs, secrets read from
// private files, masked in messages), TAXII JSON bodies told apart from
// anything else, and collections found by id or alias.
#include "ctishare/taxii/exchange.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "support/temp_dir.h"

using namespace ctishare;
using namespace ctishare::taxii;
using ctishare::test::TempDir;

namespace {

// A secret file with the given mode.
std::string secret(const TempDir& dir, const std::string& name, const std::string& content, mode_t mode = 0600) {
  std::string path = dir.file(name, content);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

Partner partner(const std::string& auth = "") {
  Partner p;
  p.name = "bank-a";
  p.url = "https://taxii.bank-a.example/api1";
  p.collections = {"indicators"};
  p.auth = auth;
  return p;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const std::string kPassword = "correct-horse-battery-staple-42";
const std::string kApiKey = "AKIA0123456789ABCDEFGHIJKLMNOP";
const std::string kToken = "eyJhbGciOiJIUzI1NiJ9.payload.signature-xyz";

Response response(const std::string& content_type, const std::string& body) {
  Response r;
  r.status = 200;
  if (!content_type.empty()) r.headers.push_back({"Content-Type", content_type});
  r.body = body;
  r.url = "https://taxii.example/api1/collections/";
  return r;
}

CollectionInfo collection(const std::string& id, const std::string& alias, const std::string& title = "") {
  CollectionInfo c;
  c.id = id;
  c.alias = alias;
  c.title = title;
  return c;
}

}  // namespace

// ---- endpoint_for -----------------------------------------------------------------

TEST_CASE("endpoint_for: anonymous partner", "[exchange][taxii]") {
  Partner p = partner();
  p.trust = 0.7;
  p.push = true;
  p.max_tlp = "green";
  ClientSettings base;
  base.user_agent = "taxii-push/1.0 (ctishare)";
  auto e = endpoint_for(p, base);
  REQUIRE(e);
  CHECK(e->name == "bank-a");
  CHECK(e->auth == "none");
  CHECK(e->api_root == "https://taxii.bank-a.example/api1/");
  CHECK(e->settings.base_url == e->api_root);
  CHECK(e->settings.user_agent == "taxii-push/1.0 (ctishare)");
  CHECK(e->settings.credentials.empty());
  CHECK(e->collections == std::vector<std::string>{"indicators"});
  CHECK(e->max_tlp == stix::Tlp::green);
  CHECK(e->trust == Approx(0.7));
  CHECK(e->push);
  CHECK_FALSE(e->pull);
  CHECK(e->describe_credentials() == "none");
}

TEST_CASE("endpoint_for: the API root gets a trailing slash, once", "[exchange][taxii]") {
  Partner p = partner();
  p.url = "https://taxii.example/api1/";
  auto with = endpoint_for(p, {});
  REQUIRE(with);
  CHECK(with->api_root == "https://taxii.example/api1/");

  p.url = "https://taxii.example";
  auto root = endpoint_for(p, {});
  REQUIRE(root);
  CHECK(root->api_root == "https://taxii.example/");

  p.url = "https://taxii.example:8443/deep/api";
  auto port = endpoint_for(p, {});
  REQUIRE(port);
  CHECK(port->api_root == "https://taxii.example:8443/deep/api/");
}

TEST_CASE("endpoint_for: bad URL, missing URL and bad max_tlp are config errors", "[exchange][taxii]") {
  SECTION("another scheme") {
    Partner p = partner();
    p.url = "ftp://taxii.example/api1/";
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "bank-a"));
    CHECK(contains(e.error().message(), "url"));
  }
  SECTION("not a URL") {
    Partner p = partner();
    p.url = "taxii.example/api1";
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
  }
  SECTION("credentials in the URL") {
    Partner p = partner();
    p.url = "https://user:pw@taxii.example/api1/";
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
  }
  SECTION("no URL") {
    Partner p = partner();
    p.url.clear();
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "bank-a"));
  }
  SECTION("max_tlp") {
    Partner p = partner();
    p.max_tlp = "purple";
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "max_tlp"));
    CHECK(contains(e.error().message(), "purple"));
  }
  SECTION("max_tlp names that are fine") {
    for (const char* name : {"clear", "white", "TLP:GREEN", "amber", "amber+strict", "red"}) {
      Partner p = partner();
      p.max_tlp = name;
      INFO(name);
      CHECK(endpoint_for(p, {}));
    }
    Partner p = partner();
    p.max_tlp = "amber+strict";
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->max_tlp == stix::Tlp::amber_strict);
  }
}

TEST_CASE("endpoint_for: basic needs user and password_file", "[exchange][taxii]") {
  TempDir dir;
  const std::string pw = secret(dir, "pw", kPassword + "\n");

  SECTION("both given: credentials loaded, trailing newline dropped") {
    Partner p = partner("basic");
    p.user = "bank-a-user";
    p.password_file = pw;
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->auth == "basic");
    CHECK(e->settings.credentials.user == "bank-a-user");
    CHECK(e->settings.credentials.password == kPassword);
    CHECK(e->settings.credentials.api_key.empty());
    CHECK(e->settings.credentials.bearer_token.empty());
    CHECK(e->settings.credentials.client_cert.empty());
  }
  SECTION("no user") {
    Partner p = partner("basic");
    p.password_file = pw;
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "user"));
    CHECK(contains(e.error().message(), "bank-a"));
  }
  SECTION("no password_file") {
    Partner p = partner("basic");
    p.user = "u";
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "password_file"));
  }
}

TEST_CASE("endpoint_for: apikey needs api_key_file; the header defaults to X-API-Key", "[exchange][taxii]") {
  TempDir dir;
  const std::string key = secret(dir, "key", kApiKey);

  SECTION("default header") {
    Partner p = partner("apikey");
    p.api_key_file = key;
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->settings.credentials.api_key_header == "X-API-Key");
    CHECK(e->settings.credentials.api_key == kApiKey);
    CHECK(e->settings.credentials.user.empty());
  }
  SECTION("explicit header") {
    Partner p = partner("apikey");
    p.api_key_file = key;
    p.api_key_header = "Authorization";
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->settings.credentials.api_key_header == "Authorization");
  }
  SECTION("no api_key_file") {
    Partner p = partner("apikey");
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "api_key_file"));
  }
  SECTION("api_key_header without apikey") {
    Partner p = partner();
    p.api_key_header = "X-API-Key";
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "api_key_header"));
  }
}

TEST_CASE("endpoint_for: bearer needs token_file", "[exchange][taxii]") {
  TempDir dir;
  const std::string tok = secret(dir, "tok", kToken + "\r\n");
  Partner p = partner("bearer");
  SECTION("given") {
    p.token_file = tok;
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->settings.credentials.bearer_token == kToken);
    CHECK(e->settings.credentials.api_key.empty());
  }
  SECTION("missing") {
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "token_file"));
  }
}

TEST_CASE("endpoint_for: mtls needs client_cert and client_key", "[exchange][taxii]") {
  TempDir dir;
  const std::string cert = dir.file("client.pem", "-----BEGIN CERTIFICATE-----\n");
  const std::string key = secret(dir, "client.key", "-----BEGIN PRIVATE KEY-----\n");

  SECTION("both given") {
    Partner p = partner("mtls");
    p.client_cert = cert;
    p.client_key = key;
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->auth == "mtls");
    CHECK(e->settings.credentials.client_cert == cert);
    CHECK(e->settings.credentials.client_key == key);
    CHECK(e->settings.credentials.user.empty());
    CHECK(contains(e->describe_credentials(), "cert=" + cert));
  }
  SECTION("no client_key") {
    Partner p = partner("mtls");
    p.client_cert = cert;
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "client_key"));
  }
  SECTION("no client_cert") {
    Partner p = partner("mtls");
    p.client_key = key;
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "client_cert"));
  }
  SECTION("a key others may read") {
    const std::string open_key = secret(dir, "open.key", "-----BEGIN PRIVATE KEY-----\n", 0644);
    Partner p = partner("mtls");
    p.client_cert = cert;
    p.client_key = open_key;
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::permission);
    CHECK(exit_code(e.error().category()) == 77);
  }
  SECTION("a missing key") {
    Partner p = partner("mtls");
    p.client_cert = cert;
    p.client_key = dir / "absent.key";
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::no_input);
  }
}

TEST_CASE("endpoint_for: mtls combined with basic, apikey, bearer", "[exchange][taxii]") {
  TempDir dir;
  const std::string cert = dir.file("client.pem", "cert");
  const std::string key = secret(dir, "client.key", "key");
  const std::string pw = secret(dir, "pw", kPassword);
  const std::string api = secret(dir, "api", kApiKey);
  const std::string tok = secret(dir, "tok", kToken);

  SECTION("mtls+basic") {
    Partner p = partner("mtls+basic");
    p.client_cert = cert;
    p.client_key = key;
    p.user = "u";
    p.password_file = pw;
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->auth == "mtls+basic");
    CHECK(e->settings.credentials.user == "u");
    CHECK(e->settings.credentials.password == kPassword);
    CHECK(e->settings.credentials.client_cert == cert);
    CHECK(e->settings.credentials.client_key == key);

    p.client_cert.clear();  // mtls+basic still needs the certificate
    auto missing = endpoint_for(p, {});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().category() == ErrorCategory::config);
    CHECK(contains(missing.error().message(), "client_cert"));
  }
  SECTION("mtls+basic without the password") {
    Partner p = partner("mtls+basic");
    p.client_cert = cert;
    p.client_key = key;
    p.user = "u";
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "password_file"));
  }
  SECTION("mtls+apikey") {
    Partner p = partner("mtls+apikey");
    p.client_cert = cert;
    p.client_key = key;
    p.api_key_file = api;
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->settings.credentials.api_key == kApiKey);
    CHECK(e->settings.credentials.api_key_header == "X-API-Key");
    CHECK(e->settings.credentials.client_cert == cert);
  }
  SECTION("mtls+bearer") {
    Partner p = partner("mtls+bearer");
    p.client_cert = cert;
    p.client_key = key;
    p.token_file = tok;
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->settings.credentials.bearer_token == kToken);
    CHECK(e->settings.credentials.client_key == key);
  }
  SECTION("mtls+bearer with an api_key_file too") {
    Partner p = partner("mtls+bearer");
    p.client_cert = cert;
    p.client_key = key;
    p.token_file = tok;
    p.api_key_file = api;
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "api_key_file"));
    CHECK(contains(e.error().message(), "does not use"));
  }
}

TEST_CASE("endpoint_for: a file the scheme does not use is a config error", "[exchange][taxii]") {
  TempDir dir;
  const std::string f = secret(dir, "f", kPassword);
  struct Case {
    const char* auth;
    const char* key;
    void (*set)(Partner&, const std::string&);
  };
  // Each scheme with everything it needs plus one file it does not use.
  const auto complete = [&](Partner& p) {
    const std::string inner = p.auth.rfind("mtls", 0) == 0 ? (p.auth.size() > 5 ? p.auth.substr(5) : "") : p.auth;
    if (p.auth.rfind("mtls", 0) == 0) {
      p.client_cert = f;
      p.client_key = f;
    }
    if (inner == "basic") {
      p.user = "u";
      p.password_file = f;
    } else if (inner == "apikey") {
      p.api_key_file = f;
    } else if (inner == "bearer") {
      p.token_file = f;
    }
  };
  const std::vector<Case> cases = {
      {"basic", "api_key_file", [](Partner& p, const std::string& v) { p.api_key_file = v; }},
      {"basic", "token_file", [](Partner& p, const std::string& v) { p.token_file = v; }},
      {"basic", "client_cert", [](Partner& p, const std::string& v) { p.client_cert = v; }},
      {"basic", "client_key", [](Partner& p, const std::string& v) { p.client_key = v; }},
      {"apikey", "password_file", [](Partner& p, const std::string& v) { p.password_file = v; }},
      {"apikey", "user", [](Partner& p, const std::string&) { p.user = "u"; }},
      {"bearer", "api_key_file", [](Partner& p, const std::string& v) { p.api_key_file = v; }},
      {"bearer", "client_key", [](Partner& p, const std::string& v) { p.client_key = v; }},
      {"mtls", "token_file", [](Partner& p, const std::string& v) { p.token_file = v; }},
      {"mtls", "password_file", [](Partner& p, const std::string& v) { p.password_file = v; }},
      {"mtls+basic", "token_file", [](Partner& p, const std::string& v) { p.token_file = v; }},
      {"mtls+apikey", "user", [](Partner& p, const std::string&) { p.user = "u"; }},
      {"", "user", [](Partner& p, const std::string&) { p.user = "u"; }},
      {"", "password_file", [](Partner& p, const std::string& v) { p.password_file = v; }},
      {"", "client_cert", [](Partner& p, const std::string& v) { p.client_cert = v; }},
  };
  for (const auto& c : cases) {
    INFO("auth '" << c.auth << "' with " << c.key);
    Partner p = partner(c.auth);
    complete(p);
    REQUIRE(endpoint_for(p, {}));  // complete as it is
    c.set(p, f);
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(exit_code(e.error().category()) == 78);
    CHECK(contains(e.error().message(), c.key));
    CHECK(contains(e.error().message(), "bank-a"));
  }
}

TEST_CASE("endpoint_for: secret files must be private and present", "[exchange][taxii]") {
  TempDir dir;
  SECTION("0600 is read") {
    Partner p = partner("bearer");
    p.token_file = secret(dir, "tok", kToken, 0600);
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    CHECK(e->settings.credentials.bearer_token == kToken);
  }
  SECTION("0400 is read") {
    Partner p = partner("bearer");
    p.token_file = secret(dir, "tok", kToken, 0400);
    CHECK(endpoint_for(p, {}));
  }
  SECTION("0644 is refused: permission (77)") {
    Partner p = partner("basic");
    p.user = "u";
    p.password_file = secret(dir, "pw", kPassword, 0644);
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::permission);
    CHECK(exit_code(e.error().category()) == 77);
    CHECK_FALSE(contains(e.error().message(), kPassword));
  }
  SECTION("0640 is refused too") {
    Partner p = partner("apikey");
    p.api_key_file = secret(dir, "key", kApiKey, 0640);
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::permission);
  }
  SECTION("missing: no_input (66)") {
    Partner p = partner("apikey");
    p.api_key_file = dir / "no-such-key";
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::no_input);
    CHECK(exit_code(e.error().category()) == 66);
  }
  SECTION("empty: config") {
    Partner p = partner("bearer");
    p.token_file = secret(dir, "empty", "\n");
    auto e = endpoint_for(p, {});
    REQUIRE_FALSE(e);
    CHECK(e.error().category() == ErrorCategory::config);
    CHECK(contains(e.error().message(), "empty"));
  }
}

TEST_CASE("endpoint_for: credentials of the base settings are replaced, the rest kept", "[exchange][taxii]") {
  TempDir dir;
  ClientSettings base;
  base.credentials.user = "leftover";
  base.credentials.password = "leftover-password";
  base.credentials.bearer_token = "leftover-token";
  base.ca_file = "/etc/base-ca.pem";
  base.allow_plain_http = true;
  base.base_url = "https://elsewhere.example/";

  Partner p = partner("apikey");
  p.api_key_file = secret(dir, "key", kApiKey);
  p.ca_file = dir / "partner-ca.pem";
  p.proxy = "https://proxy.example:3128";
  auto e = endpoint_for(p, base);
  REQUIRE(e);
  CHECK(e->settings.credentials.user.empty());
  CHECK(e->settings.credentials.password.empty());
  CHECK(e->settings.credentials.bearer_token.empty());
  CHECK(e->settings.credentials.api_key == kApiKey);
  CHECK(e->settings.ca_file == dir / "partner-ca.pem");
  CHECK(e->settings.proxy == "https://proxy.example:3128");
  CHECK(e->settings.allow_plain_http);
  CHECK(e->settings.base_url == "https://taxii.bank-a.example/api1/");

  Partner anon = partner();
  auto a = endpoint_for(anon, base);
  REQUIRE(a);
  CHECK(a->settings.credentials.empty());
  CHECK(a->settings.ca_file == "/etc/base-ca.pem");  // the partner names none
}

TEST_CASE("describe_credentials masks every secret", "[exchange][taxii]") {
  TempDir dir;
  const std::string cert = dir.file("client.pem", "cert");
  const std::string key = secret(dir, "client.key", "key");

  SECTION("basic") {
    Partner p = partner("basic");
    p.user = "bank-a-user";
    p.password_file = secret(dir, "pw", kPassword);
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    const std::string d = e->describe_credentials();
    CHECK(contains(d, "basic"));
    CHECK(contains(d, "user=bank-a-user"));
    CHECK_FALSE(contains(d, kPassword));
    CHECK(contains(d, "corr...e-42"));
  }
  SECTION("apikey with a long key") {
    Partner p = partner("apikey");
    p.api_key_file = secret(dir, "key", kApiKey);
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    const std::string d = e->describe_credentials();
    CHECK(d == "apikey X-API-Key=AKIA...MNOP");
    CHECK_FALSE(contains(d, kApiKey));
  }
  SECTION("a short secret shows nothing of itself") {
    Partner p = partner("apikey");
    p.api_key_file = secret(dir, "key", "short-key");
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    const std::string d = e->describe_credentials();
    CHECK_FALSE(contains(d, "short-key"));
    CHECK_FALSE(contains(d, "shor"));
    CHECK(contains(d, "****"));
  }
  SECTION("mtls+bearer") {
    Partner p = partner("mtls+bearer");
    p.client_cert = cert;
    p.client_key = key;
    p.token_file = secret(dir, "tok", kToken);
    auto e = endpoint_for(p, {});
    REQUIRE(e);
    const std::string d = e->describe_credentials();
    CHECK(contains(d, "mtls+bearer"));
    CHECK(contains(d, "token="));
    CHECK_FALSE(contains(d, kToken));
    CHECK_FALSE(contains(d, "payload"));
    CHECK(contains(d, "cert=" + cert));
  }
}

// A scheme that is not one of the documented ones (basic, apikey, bearer,
// mtls, mtls+basic, mtls+apikey, mtls+bearer) must not be taken for
// anonymous access: the partner would be contacted without the credentials
// meant for it. The configuration loader rejects such schemes first, but
// endpoint_for is also the check for partners built in code.
TEST_CASE("endpoint_for: an unknown auth scheme is refused", "[exchange][taxii]") {
  TempDir dir;
  const std::string cert = dir.file("client.pem", "cert");
  const std::string key = secret(dir, "client.key", "key");
  for (const char* scheme : {"digest", "basci", "Basic", "mtls+digest", "mtls-basic"}) {
    INFO(scheme);
    Partner p = partner(scheme);
    if (p.auth.rfind("mtls", 0) == 0) {  // give mtls what it needs, so only the scheme is wrong
      p.client_cert = cert;
      p.client_key = key;
    }
    auto e = endpoint_for(p, {});
    CHECK_FALSE(e);
    if (!e) CHECK(e.error().category() == ErrorCategory::config);
  }
}

// ---- taxii_json -------------------------------------------------------------------

TEST_CASE("taxii_json accepts TAXII and plain JSON types", "[exchange][taxii]") {
  for (const char* type : {"application/taxii+json;version=2.1", "application/taxii+json; version=2.1; charset=utf-8",
                           "Application/TAXII+JSON ; Version=2.1", "application/taxii+json",
                           "application/vnd.oasis.taxii+json; version=2.1", "application/json",
                           "application/json; charset=UTF-8"}) {
    INFO(type);
    auto v = taxii_json(response(type, R"({"title":"Root","versions":["application/taxii+json;version=2.1"]})"));
    REQUIRE(v);
    CHECK(v->is_object());
    CHECK(v->find_string("title").value_or("") == "Root");
  }
}

TEST_CASE("taxii_json refuses what is not TAXII JSON", "[exchange][taxii]") {
  SECTION("an HTML login page") {
    auto v = taxii_json(response("text/html; charset=utf-8", "<!DOCTYPE html>\n<html><body>Sign in</body></html>"));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
    CHECK(exit_code(v.error().category()) == 76);
    CHECK(contains(v.error().message(), "HTML"));
    CHECK(contains(v.error().message(), "text/html"));
    CHECK(contains(v.error().message(), "https://taxii.example/api1/collections/"));
  }
  SECTION("HTML in upper case") {
    auto v = taxii_json(response("text/html", "  <HTML><HEAD><TITLE>502</TITLE></HEAD></HTML>"));
    REQUIRE_FALSE(v);
    CHECK(contains(v.error().message(), "HTML"));
  }
  SECTION("JSON under another type is still refused") {
    auto v = taxii_json(response("text/plain", "{}"));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
    CHECK(contains(v.error().message(), "text/plain"));
    CHECK_FALSE(contains(v.error().message(), "HTML"));
  }
  SECTION("TAXII 2.0 is not TAXII 2.1") {
    auto v = taxii_json(response("application/taxii+json;version=2.0", "{}"));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
    CHECK(contains(v.error().message(), "version=2.0"));
  }
  SECTION("STIX type is not TAXII") {
    auto v = taxii_json(response("application/stix+json;version=2.1", "{}"));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
  }
  SECTION("no Content-Type") {
    auto v = taxii_json(response("", "{}"));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
    CHECK(contains(v.error().message(), "Content-Type"));
  }
  SECTION("a JSON array") {
    auto v = taxii_json(response("application/taxii+json;version=2.1", "[{\"id\":\"x\"}]"));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
    CHECK(contains(v.error().message(), "not a JSON object"));
  }
  SECTION("a JSON string") {
    auto v = taxii_json(response("application/json", "\"hello\""));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
  }
  SECTION("invalid JSON") {
    auto v = taxii_json(response("application/taxii+json;version=2.1", "{\"objects\": [1, 2"));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
    CHECK(contains(v.error().message(), "not valid JSON"));
  }
  SECTION("empty body") {
    auto v = taxii_json(response("application/taxii+json;version=2.1", ""));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
  }
  SECTION("a body over the limits") {
    json::Limits limits;
    limits.max_document_bytes = 16;
    auto v = taxii_json(response("application/taxii+json;version=2.1", R"({"title":"a long enough title"})"), limits);
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::protocol);
    auto ok = taxii_json(response("application/taxii+json;version=2.1", R"({"t":1})"), limits);
    CHECK(ok);
  }
}

// ---- find_collection --------------------------------------------------------------

TEST_CASE("find_collection by id, by alias, id first", "[exchange][taxii]") {
  const std::vector<CollectionInfo> offered = {
      collection("91a7b528-80eb-42ed-a74d-c6fbd5a26116", "high-value", "High Value Indicators"),
      collection("52892447-4d7e-4f70-b94d-d7f22742ff63", "", "No alias"),
      // An alias that is another collection's id: the id wins.
      collection("aaaaaaaa-0000-4000-8000-000000000001", "52892447-4d7e-4f70-b94d-d7f22742ff63", "Confusing"),
  };
  SECTION("by id") {
    auto c = find_collection(offered, "91a7b528-80eb-42ed-a74d-c6fbd5a26116", "bank-a");
    REQUIRE(c);
    CHECK(c->title == "High Value Indicators");
  }
  SECTION("by alias") {
    auto c = find_collection(offered, "high-value", "bank-a");
    REQUIRE(c);
    CHECK(c->id == "91a7b528-80eb-42ed-a74d-c6fbd5a26116");
  }
  SECTION("id preferred over an alias that comes first") {
    std::vector<CollectionInfo> reordered = {offered[2], offered[1], offered[0]};
    auto c = find_collection(reordered, "52892447-4d7e-4f70-b94d-d7f22742ff63", "bank-a");
    REQUIRE(c);
    CHECK(c->title == "No alias");
  }
  SECTION("an empty name matches no collection without an alias") {
    auto c = find_collection(offered, "", "bank-a");
    CHECK_FALSE(c);
  }
  SECTION("exact match only") {
    CHECK_FALSE(find_collection(offered, "High-Value", "bank-a"));
    CHECK_FALSE(find_collection(offered, "high", "bank-a"));
  }
}

TEST_CASE("find_collection: unknown names list what is offered", "[exchange][taxii]") {
  const std::vector<CollectionInfo> offered = {
      collection("91a7b528-80eb-42ed-a74d-c6fbd5a26116", "high-value"),
      collection("52892447-4d7e-4f70-b94d-d7f22742ff63", ""),
  };
  auto c = find_collection(offered, "low-value", "bank-a");
  REQUIRE_FALSE(c);
  CHECK(c.error().category() == ErrorCategory::config);
  const std::string& m = c.error().message();
  CHECK(contains(m, "bank-a"));
  CHECK(contains(m, "low-value"));
  CHECK(contains(m, "high-value"));
  CHECK(contains(m, "52892447-4d7e-4f70-b94d-d7f22742ff63"));

  auto none = find_collection({}, "x", "bank-b");
  REQUIRE_FALSE(none);
  CHECK(none.error().category() == ErrorCategory::config);
  CHECK(contains(none.error().message(), "bank-b"));
  CHECK(contains(none.error().message(), "none"));

  // A long list is cut short rather than flooding the message.
  std::vector<CollectionInfo> many;
  for (int i = 0; i < 100; ++i) many.push_back(collection("collection-" + std::to_string(i), ""));
  auto cut = find_collection(many, "x", "bank-a");
  REQUIRE_FALSE(cut);
  CHECK(cut.error().message().size() < 500);
  CHECK(contains(cut.error().message(), "..."));
}
