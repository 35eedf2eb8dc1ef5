// Tests of ctishare/taxii/client.h that need no server: URLs, origins and
// loopback, media types, settings validation, retry delays, the error
// categories of HTTP answers, and a refused connection on a closed port.
#include "ctishare/taxii/client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace ctishare;
using namespace ctishare::taxii;

namespace {

Url url(std::string_view text) {
  auto u = parse_url(text);
  REQUIRE(u);
  return *u;
}

// A loopback port nothing listens on: bound, never listened to, closed.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("parse_url splits scheme, host, port, path and query", "[taxii][client]") {
  Url u = url("HTTPS://Example.ORG:8443/api1/collections/?limit=5#frag");
  CHECK(u.scheme == "https");
  CHECK(u.host == "example.org");
  CHECK(u.port == 8443);
  CHECK(u.path == "/api1/collections/");
  CHECK(u.query == "limit=5");
  CHECK(to_string(u) == "https://example.org:8443/api1/collections/?limit=5");

  Url d = url("https://taxii.example");
  CHECK(d.port == 443);
  CHECK(d.path == "/");
  CHECK(origin_of(d) == "https://taxii.example");

  Url v6 = url("http://[::1]:9000/taxii2/");
  CHECK(v6.host == "[::1]");
  CHECK(v6.port == 9000);
  CHECK(url("http://localhost/").port == 80);
}

TEST_CASE("parse_url refuses what it must not guess at", "[taxii][client]") {
  for (const char* bad :
       {"", "example.org/taxii2/", "ftp://example.org/", "https:///path", "https://user:pw@example.org/",
        "https://example.org:0/", "https://example.org:70000/", "https://example.org:8x/", "https://exa mple.org/",
        "https://example.org/a\nb", "https://[::1/"}) {
    INFO(bad);
    auto u = parse_url(bad);
    REQUIRE_FALSE(u);
    CHECK(u.error().category() == ErrorCategory::usage);
  }
  // The message never repeats a password from the URL beyond quoting the input,
  // and says what to do instead.
  CHECK(parse_url("https://u:p@h/").error().message().find("credential options") != std::string::npos);
}

TEST_CASE("same_origin compares scheme, host and port", "[taxii][client]") {
  CHECK(same_origin(url("https://a.example/x/"), url("https://A.example:443/y/?q")));
  CHECK_FALSE(same_origin(url("https://a.example/"), url("http://a.example/")));
  CHECK_FALSE(same_origin(url("https://a.example/"), url("https://a.example:8443/")));
  CHECK_FALSE(same_origin(url("https://a.example/"), url("https://b.example/")));
  CHECK_FALSE(same_origin(url("https://a.example/"), url("https://a.example.evil/")));
}

TEST_CASE("is_loopback_host knows this machine's names only", "[taxii][client]") {
  for (const char* yes : {"localhost", "LOCALHOST", "api.localhost", "127.0.0.1", "127.1.2.3", "[::1]", "::1"}) {
    INFO(yes);
    CHECK(is_loopback_host(yes));
  }
  for (const char* no : {"example.org", "localhost.example.org", "128.0.0.1", "10.0.0.1", "127.0.0.1.example",
                         "127.0.0.256", "[::2]", "0.0.0.0", "mylocalhost"}) {
    INFO(no);
    CHECK_FALSE(is_loopback_host(no));
  }
}

TEST_CASE("resolve_url handles the reference forms TAXII uses", "[taxii][client]") {
  const Url base = url("https://taxii.example/taxii2/?x=1");
  CHECK(to_string(*resolve_url(base, "/api1/")) == "https://taxii.example/api1/");
  CHECK(to_string(*resolve_url(base, "collections/")) == "https://taxii.example/taxii2/collections/");
  CHECK(to_string(*resolve_url(base, "/api1/collections/c/objects/?limit=2")) ==
        "https://taxii.example/api1/collections/c/objects/?limit=2");
  CHECK(to_string(*resolve_url(base, "https://other.example/api2/")) == "https://other.example/api2/");
  CHECK(to_string(*resolve_url(url("https://h.example/api1/collections/"), "abc/objects/")) ==
        "https://h.example/api1/collections/abc/objects/");
  auto network_path = resolve_url(base, "//evil.example/api/");
  REQUIRE_FALSE(network_path);
  CHECK(network_path.error().category() == ErrorCategory::usage);
  CHECK_FALSE(resolve_url(base, "https://u:p@other.example/"));
}

TEST_CASE("encode_query_value encodes everything but unreserved characters", "[taxii][client]") {
  CHECK(encode_query_value("2026-01-01T00:00:00.000000Z") == "2026-01-01T00%3A00%3A00.000000Z");
  CHECK(encode_query_value("a,b c+d") == "a%2Cb%20c%2Bd");
  CHECK(encode_query_value("indicator--0a1b_~") == "indicator--0a1b_~");
}

TEST_CASE("parse_content_type tolerates spacing, case and quoting", "[taxii][client]") {
  auto ct = parse_content_type(" Application/TAXII+JSON ; Version = \"2.1\" ; charset=utf-8 ");
  REQUIRE(ct);
  CHECK(ct->type == "application/taxii+json");
  REQUIRE(ct->parameter("version") != nullptr);
  CHECK(*ct->parameter("version") == "2.1");
  CHECK(*ct->parameter("charset") == "utf-8");
  CHECK(ct->parameter("q") == nullptr);
  CHECK_FALSE(parse_content_type("text"));
  CHECK_FALSE(parse_content_type("/json"));
  CHECK_FALSE(parse_content_type("application/json; version"));
  CHECK_FALSE(parse_content_type(""));
}

TEST_CASE("is_taxii21_media_type: exact for responses, lenient for working with them", "[taxii][client]") {
  for (const char* yes : {"application/taxii+json;version=2.1", "application/taxii+json; version=2.1",
                          "APPLICATION/TAXII+JSON;VERSION=2.1", "application/taxii+json;charset=utf-8;version=2.1",
                          "application/taxii+json;version=\"2.1\""}) {
    INFO(yes);
    CHECK(is_taxii21_media_type(yes));
    CHECK(is_taxii21_media_type(yes, MediaTypeMatch::lenient));
  }
  CHECK_FALSE(is_taxii21_media_type("application/taxii+json"));
  CHECK(is_taxii21_media_type("application/taxii+json", MediaTypeMatch::lenient));
  CHECK_FALSE(is_taxii21_media_type("application/vnd.oasis.taxii+json;version=2.1"));
  CHECK(is_taxii21_media_type("application/vnd.oasis.taxii+json;version=2.1", MediaTypeMatch::lenient));
  for (const char* no : {"application/taxii+json;version=2.0", "application/json", "text/html; charset=utf-8",
                         "application/stix+json;version=2.1", "", "application/taxii+json;version=2.10"}) {
    INFO(no);
    CHECK_FALSE(is_taxii21_media_type(no, MediaTypeMatch::lenient));
  }
}

TEST_CASE("validate_settings: https, or plain HTTP only to loopback", "[taxii][client]") {
  ClientSettings s;
  s.base_url = "https://taxii.example/taxii2/";
  CHECK(validate_settings(s));
  s.base_url = "http://127.0.0.1:9000/";
  CHECK(validate_settings(s));
  s.base_url = "http://localhost/";
  CHECK(validate_settings(s));
  s.base_url = "http://taxii.example/";
  auto refused = validate_settings(s);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().category() == ErrorCategory::usage);
  s.allow_plain_http = true;
  CHECK(validate_settings(s));
  s.base_url = "not a url";
  CHECK_FALSE(validate_settings(s));
}

TEST_CASE("validate_settings: credentials make sense together", "[taxii][client]") {
  ClientSettings s;
  s.base_url = "https://taxii.example/";
  s.credentials.password = "secret";
  CHECK(validate_settings(s).error().category() == ErrorCategory::usage);  // password without user
  s.credentials.user = "alice";
  CHECK(validate_settings(s));
  s.credentials.bearer_token = "tok";
  CHECK(validate_settings(s).error().category() == ErrorCategory::usage);  // two schemes
  s.credentials = {};
  s.credentials.api_key = "k";
  s.credentials.api_key_header = "X Api";
  CHECK(validate_settings(s).error().category() == ErrorCategory::usage);  // header name not a token
  s.credentials.api_key_header = "X-API-Key";
  CHECK(validate_settings(s));
  s.credentials.api_key = "k\r\nX-Evil: 1";
  CHECK(validate_settings(s).error().category() == ErrorCategory::usage);  // header injection
  s.credentials = {};
  s.credentials.user = "a:b";
  CHECK_FALSE(validate_settings(s));
  s.credentials = {};
  s.credentials.client_key = "/nonexistent/key.pem";
  CHECK(validate_settings(s).error().category() == ErrorCategory::usage);  // key without certificate
  s.credentials.client_cert = "/nonexistent/cert.pem";
  CHECK(validate_settings(s).error().category() == ErrorCategory::no_input);
  s.credentials = {};
  s.ca_file = "/nonexistent/ca.pem";
  CHECK(validate_settings(s).error().category() == ErrorCategory::no_input);
  s.ca_file.clear();
  s.connect_timeout = std::chrono::milliseconds(0);
  CHECK(validate_settings(s).error().category() == ErrorCategory::usage);
  CHECK(Credentials{}.empty());
}

TEST_CASE("Client::create validates and resolves against the base URL", "[taxii][client]") {
  ClientSettings s;
  s.base_url = "http://example.org/";
  CHECK_FALSE(Client::create(s));
  s.base_url = "https://taxii.example/taxii2/";
  auto client = Client::create(s);
  REQUIRE(client);
  CHECK(to_string(*client->resolve("/api1/")) == "https://taxii.example/api1/");
  CHECK(client->base().host == "taxii.example");
  // A request to a plain-HTTP foreign host is refused before any I/O.
  auto r = client->get("http://other.example/taxii2/");
  REQUIRE_FALSE(r);
  CHECK(r.error().category() == ErrorCategory::usage);
}

TEST_CASE("a closed port is 'unavailable' (69), after the retries", "[taxii][client]") {
  ClientSettings s;
  s.base_url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  s.retry.max_attempts = 2;
  s.retry.base_delay = std::chrono::milliseconds(1);
  s.connect_timeout = std::chrono::milliseconds(2000);
  auto client = Client::create(s);
  REQUIRE(client);
  auto r = client->get("taxii2/");
  REQUIRE_FALSE(r);
  CHECK(r.error().category() == ErrorCategory::unavailable);
  CHECK(r.error().message().find("cannot connect") != std::string::npos);
  CHECK(r.error().message().find("/taxii2/") != std::string::npos);
}

TEST_CASE("http_error maps statuses to the exit codes of shared/CLI.md", "[taxii][client]") {
  Response r;
  r.url = "https://taxii.example/taxii2/";
  r.headers = {{"Content-Type", "application/taxii+json;version=2.1"}};
  r.body = R"({"title":"Authentication required","http_status":"401"})";
  r.status = 401;
  Error e = http_error(r, "GET");
  CHECK(e.category() == ErrorCategory::permission);
  CHECK(e.message() == "'https://taxii.example/taxii2/': GET answered 401 (Authentication required)");
  r.status = 403;
  CHECK(http_error(r, "GET").category() == ErrorCategory::permission);
  r.status = 429;
  CHECK(http_error(r, "GET").category() == ErrorCategory::temp_fail);
  r.status = 503;
  CHECK(http_error(r, "GET").category() == ErrorCategory::temp_fail);
  r.status = 500;
  CHECK(http_error(r, "GET").category() == ErrorCategory::unavailable);
  r.status = 404;
  r.headers = {{"content-type", "text/html"}};
  r.body = "<html>";
  CHECK(http_error(r, "POST").category() == ErrorCategory::protocol);
  CHECK(http_error(r, "POST").message() == "'https://taxii.example/taxii2/': POST answered 404");
}

TEST_CASE("Response::header is case-insensitive and is_taxii reads Content-Type", "[taxii][client]") {
  Response r;
  r.headers = {{"content-TYPE", "application/taxii+json; version=2.1"}, {"X-TAXII-Date-Added-First", "t"}};
  REQUIRE(r.header("Content-Type") != nullptr);
  CHECK(*r.header("x-taxii-date-added-first") == "t");
  CHECK(r.header("Location") == nullptr);
  CHECK(r.is_taxii());
}

TEST_CASE("retry_delay: Retry-After when sane, else capped full jitter", "[taxii][client]") {
  RetryPolicy p;
  p.base_delay = std::chrono::milliseconds(500);
  p.max_delay = std::chrono::milliseconds(10'000);
  const auto now = std::chrono::system_clock::from_time_t(1'700'000'000);
  CHECK(retry_delay(p, 1, nullptr, now, 0.0).count() == 0);
  CHECK(retry_delay(p, 1, nullptr, now, 0.5).count() == 250);
  CHECK(retry_delay(p, 3, nullptr, now, 0.5).count() == 1000);      // 500 * 4 / 2
  CHECK(retry_delay(p, 30, nullptr, now, 0.99).count() <= 10'000);  // capped
  const std::string seconds = "3";
  CHECK(retry_delay(p, 1, &seconds, now, 0.1).count() == 3000);
  const std::string too_long = "3600";
  CHECK(retry_delay(p, 1, &too_long, now, 0.5).count() == 250);  // past max_delay: jitter instead
  const std::string date = "Tue, 14 Nov 2023 22:13:25 GMT";      // 1'700'000'005
  CHECK(retry_delay(p, 1, &date, now, 0.5).count() == 5000);
  const std::string garbage = "soon";
  CHECK(retry_delay(p, 2, &garbage, now, 1.0).count() == 1000);
}
