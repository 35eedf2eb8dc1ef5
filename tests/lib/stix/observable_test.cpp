// Tests of observable recognition and canonicalisation: domains (IDNA,
// public suffixes, label rules), URLs, IPv4/IPv6 addresses and ranges,
// e-mail addresses and hashes; the refusals with their reasons; and the
// STIX pattern of each observable.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "ctishare/observable.h"

using namespace ctishare;
using namespace ctishare::stix;

namespace {

Observable ok(std::string_view value, std::optional<ObservableType> hint = std::nullopt, bool any_hash = false) {
  auto o = classify_observable(value, hint, any_hash);
  INFO("value: " << value);
  if (!o) INFO("error: " << o.error().message());
  REQUIRE(o);
  return *o;
}

// Refused with a data error whose message contains `why`.
void refused(std::string_view value, std::string_view why, std::optional<ObservableType> hint = std::nullopt,
             bool any_hash = false) {
  auto o = classify_observable(value, hint, any_hash);
  INFO("value: " << value);
  if (o) INFO("accepted as " << observable_type_name(o->type) << " '" << o->value << "'");
  REQUIRE_FALSE(o);
  CHECK(o.error().category() == ErrorCategory::data);
  CHECK_THAT(o.error().message(), Catch::Contains(std::string(why), Catch::CaseSensitive::No));
}

void is(std::string_view value, ObservableType type, std::string_view canonical) {
  Observable o = ok(value);
  INFO("value: " << value);
  CHECK(o.type == type);
  CHECK(o.value == canonical);
}

}  // namespace

// ---------------------------------------------------------------- domains

TEST_CASE("domains are lower-cased A-labels without a trailing dot", "[stix][observable][domain]") {
  is("example.com", ObservableType::domain, "example.com");
  is("WWW.Example.COM", ObservableType::domain, "www.example.com");
  is("example.com.", ObservableType::domain, "example.com");
  is("bücher.example", ObservableType::domain, "xn--bcher-kva.example");
  is("xn--bcher-kva.example", ObservableType::domain, "xn--bcher-kva.example");
  is("my_host.example.com", ObservableType::domain, "my_host.example.com");  // underscore below the top level
  is("_dmarc.example.com", ObservableType::domain, "_dmarc.example.com");
  is("a-b.example.org", ObservableType::domain, "a-b.example.org");
  is("secure-login.co.uk", ObservableType::domain, "secure-login.co.uk");
  is("foo.github.io", ObservableType::domain, "foo.github.io");  // registrable under a private suffix
  is("1.example.com", ObservableType::domain, "1.example.com");
}

TEST_CASE("public suffixes are refused", "[stix][observable][domain]") {
  refused("com", "");  // a single label too
  refused("co.uk", "public suffix");
  refused("CO.UK.", "public suffix");
  refused("github.io", "public suffix");  // PSL private section
  refused("co.uk", "'co.uk'");             // names the suffix
}

TEST_CASE("malformed domains are refused with the reason", "[stix][observable][domain]") {
  refused("localhost", "single label");
  refused("*.example.com", "wildcard");
  refused(std::string(64, 'a') + ".com", "63");
  refused("-example.com", "'-'");
  refused("example-.com", "'-'");
  refused("a..example.com", "empty label");
  refused(".example.com", "empty label");
  refused("exa!mple.com", "not allowed");
  refused("example.c_m", "top-level");
  refused("example.123", "top-level");

  // 253 characters are allowed, 254 are not (a trailing dot does not count).
  const std::string a63(63, 'a');
  const std::string name253 = a63 + "." + a63 + "." + a63 + "." + std::string(57, 'b') + ".com";
  REQUIRE(name253.size() == 253);
  is(name253, ObservableType::domain, name253);
  is(name253 + ".", ObservableType::domain, name253);
  const std::string name254 = a63 + "." + a63 + "." + a63 + "." + std::string(58, 'b') + ".com";
  REQUIRE(name254.size() == 254);
  refused(name254, "253");
}

// ---------------------------------------------------------------- URLs

TEST_CASE("URLs: scheme and host canonical, the rest kept", "[stix][observable][url]") {
  is("http://example.com", ObservableType::url, "http://example.com");
  is("HTTP://Example.COM/Path/To?Q=A#Frag", ObservableType::url, "http://example.com/Path/To?Q=A#Frag");
  is("https://example.com:8443/login", ObservableType::url, "https://example.com:8443/login");
  is("https://example.com:/x", ObservableType::url, "https://example.com/x");  // empty port dropped
  is("https://bücher.example/straße", ObservableType::url, "https://xn--bcher-kva.example/stra%C3%9Fe");
  is("https://example.com/pfad/über?q=ü", ObservableType::url, "https://example.com/pfad/%C3%BCber?q=%C3%BC");
  is("http://[2001:DB8:0::1]:8080/a", ObservableType::url, "http://[2001:db8::1]:8080/a");
  is("http://198.51.100.7/x.exe", ObservableType::url, "http://198.51.100.7/x.exe");
  is("ftp://example.com", ObservableType::url, "ftp://example.com");
  is("http://user@Example.com/", ObservableType::url, "http://user@example.com/");
  is("https://foo.github.io/x", ObservableType::url, "https://foo.github.io/x");
  is("http://example.com/it's", ObservableType::url, "http://example.com/it's");
}

TEST_CASE("URLs that cannot be shared are refused", "[stix][observable][url]") {
  refused("hxxp://evil.example.com/", "defanged");
  refused("hxxps://evil.example.com/", "defanged");
  refused("http:///path", "without a host");
  refused("http://", "without a host");
  refused("http://co.uk/", "public suffix");
  refused("http://github.io/", "public suffix");
  refused("http://example.com:80a/", "port");
  refused("http://example.com:1234567/", "port");
  refused("http://[2001:db8::1/", "IPv6");
  refused("1http://example.com/", "scheme");
  refused("evil.example.com/login.php", "scheme");  // a URL without one
  const std::string base = "http://example.com/";
  is(base + std::string(4096 - base.size(), 'a'), ObservableType::url, base + std::string(4096 - base.size(), 'a'));
  refused(base + std::string(4097 - base.size(), 'a'), "4096");
}

// With a "url" hint (a type column) a value without "://" must not pass.
TEST_CASE("a URL hint on a value without a scheme is refused", "[stix][observable][url]") {
  auto o = classify_observable("evil.example.com", ObservableType::url);
  CAPTURE(o ? o->value : o.error().message());
  CHECK_FALSE(o);
}

// ---------------------------------------------------------------- IPv4

TEST_CASE("IPv4 addresses and ranges", "[stix][observable][ipv4]") {
  is("198.51.100.7", ObservableType::ipv4, "198.51.100.7");
  is("0.0.0.0", ObservableType::ipv4, "0.0.0.0");
  is("10.0.0.0/24", ObservableType::ipv4, "10.0.0.0/24");
  is("10.0.0.0/8", ObservableType::ipv4, "10.0.0.0/8");
  is("198.51.100.7/32", ObservableType::ipv4, "198.51.100.7");
  is("198.51.100.0/31", ObservableType::ipv4, "198.51.100.0/31");

  refused("10.0.0.1/24", "host bits");
  refused("10.0.0.0/7", "/8");
  refused("0.0.0.0/0", "/8");
  refused("10.0.0.0/33", "32");
  refused("10.0.0.0/", "prefix");
  refused("010.1.1.1", "IPv4");  // leading zero: octal to some parsers
  refused("256.1.1.1", "IPv4");
  refused("1.2.3", "IPv4");
  refused("1.2.3.4.5", "IPv4");
}

// ---------------------------------------------------------------- IPv6

TEST_CASE("IPv6 addresses and ranges are compressed", "[stix][observable][ipv6]") {
  is("2001:0db8:0000::1", ObservableType::ipv6, "2001:db8::1");
  is("2001:0DB8:0000:0000:0000:0000:0000:0001", ObservableType::ipv6, "2001:db8::1");
  is("2001:0db8:85a3:0000:0000:8a2e:0370:7334", ObservableType::ipv6, "2001:db8:85a3::8a2e:370:7334");
  is("[2001:db8::1]", ObservableType::ipv6, "2001:db8::1");
  is("2001:db8::/32", ObservableType::ipv6, "2001:db8::/32");
  is("2001:0db8:0:0::/64", ObservableType::ipv6, "2001:db8::/64");
  is("2001:db8::1/128", ObservableType::ipv6, "2001:db8::1");
  is("::1", ObservableType::ipv6, "::1");

  refused("2001:db8::1/64", "host bits");
  refused("2001:db8::/15", "/16");
  refused("2001:db8::/129", "128");
  refused("2001:db8:::1", "IPv6");
  refused("2001:db8::g", "IPv6");
}

// ---------------------------------------------------------------- e-mail

TEST_CASE("e-mail addresses", "[stix][observable][email]") {
  is("alice@example.com", ObservableType::email, "alice@example.com");
  is("Alice.Smith@EXAMPLE.COM.", ObservableType::email, "Alice.Smith@example.com");  // local part kept
  is("o'brien@example.com", ObservableType::email, "o'brien@example.com");
  is("user+tag@bücher.example", ObservableType::email, "user+tag@xn--bcher-kva.example");

  refused("John Doe <john@example.com>", "space");
  refused("<john@example.com>", "display name");
  refused("\"john\"@example.com", "display name");
  refused("john@localhost", "single label");
  refused("john@com", "");
  refused("john@co.uk", "public suffix");
  refused("@example.com", "e-mail");
  refused("john@", "e-mail");
  refused(std::string(65, 'a') + "@example.com", "64");
}

// ---------------------------------------------------------------- hashes

TEST_CASE("hashes are recognised by length and lower-cased", "[stix][observable][hash]") {
  is("D41D8CD98F00B204E9800998ECF8427E", ObservableType::md5, "d41d8cd98f00b204e9800998ecf8427e");
  is("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", ObservableType::sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  is("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", ObservableType::sha256,
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string sha512(128, 'A');
  is(sha512, ObservableType::sha512, std::string(128, 'a'));
}

TEST_CASE("type hints", "[stix][observable][hint]") {
  const std::string sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  SECTION("a hash hint must match the length") {
    CHECK(ok(sha256, ObservableType::sha256).type == ObservableType::sha256);
    refused(sha256, "md5", ObservableType::md5);
    refused("d41d8cd98f00b204e9800998ecf8427e", "sha1", ObservableType::sha1);
    refused("not-a-hash", "sha256", ObservableType::sha256);
  }
  SECTION("any hash") {
    CHECK(ok(sha256, ObservableType::sha256, true).type == ObservableType::sha256);
    CHECK(ok("d41d8cd98f00b204e9800998ecf8427e", ObservableType::sha256, true).type == ObservableType::md5);
    refused("example.com", "hash", ObservableType::sha256, true);
  }
  SECTION("other hints decide the type") {
    // A 32-hex-digit name is a hash without a hint, a domain label with one.
    Observable d = ok("example.com", ObservableType::domain);
    CHECK(d.type == ObservableType::domain);
    refused("198.51.100.7", "", ObservableType::domain);
    refused("example.com", "IPv4", ObservableType::ipv4);
    refused("198.51.100.7", "IPv6", ObservableType::ipv6);
    refused("example.com", "e-mail", ObservableType::email);
    CHECK(ok("http://example.com/", ObservableType::url).type == ObservableType::url);
  }
}

// ---------------------------------------------------------------- unsafe input

TEST_CASE("unsafe values are refused", "[stix][observable][safety]") {
  refused("", "empty");
  refused("exa\tmple.com", "control");
  refused("example.com\n", "control");
  refused(std::string("exa\0mple.com", 12), "control");
  refused("example.com\x7f", "control");
  refused("exa mple.com", "space");
  refused(" example.com", "space");
  refused(std::string(4097, 'a'), "4096");
  // The message shows a short, printable excerpt.
  auto o = classify_observable("bad\x01value.com");
  REQUIRE_FALSE(o);
  CHECK(o.error().message().find('\x01') == std::string::npos);
  auto long_one = classify_observable(std::string(5000, 'a'));
  REQUIRE_FALSE(long_one);
  CHECK(long_one.error().message().size() < 200);
}

// ---------------------------------------------------------------- patterns

TEST_CASE("observable_pattern for each type", "[stix][observable][pattern]") {
  auto pattern_of = [](std::string_view value) { return observable_pattern(ok(value)); };
  CHECK(pattern_of("Example.com.") == "[domain-name:value = 'example.com']");
  CHECK(pattern_of("http://example.com/it's") == "[url:value = 'http://example.com/it\\'s']");
  CHECK(pattern_of("http://example.com/a\\b") == "[url:value = 'http://example.com/a\\\\b']");
  CHECK(pattern_of("198.51.100.7") == "[ipv4-addr:value = '198.51.100.7']");
  CHECK(pattern_of("10.0.0.0/24") == "[ipv4-addr:value ISSUBSET '10.0.0.0/24']");
  CHECK(pattern_of("2001:0db8::1") == "[ipv6-addr:value = '2001:db8::1']");
  CHECK(pattern_of("2001:db8::/32") == "[ipv6-addr:value ISSUBSET '2001:db8::/32']");
  CHECK(pattern_of("o'brien@example.com") == "[email-addr:value = 'o\\'brien@example.com']");
  CHECK(pattern_of("D41D8CD98F00B204E9800998ECF8427E") == "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']");
  CHECK(pattern_of("da39a3ee5e6b4b0d3255bfef95601890afd80709") ==
        "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']");
  CHECK(pattern_of("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") ==
        "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']");
  CHECK(pattern_of(std::string(128, 'f')) == "[file:hashes.'SHA-512' = '" + std::string(128, 'f') + "']");

  // append_observable_pattern appends the same text.
  std::string out = "x";
  append_observable_pattern(out, ObservableType::sha256, std::string(64, 'a'));
  CHECK(out == "x[file:hashes.'SHA-256' = '" + std::string(64, 'a') + "']");
  out.clear();
  append_observable_pattern(out, ObservableType::ipv4, "10.0.0.0/8");
  CHECK(out == "[ipv4-addr:value ISSUBSET '10.0.0.0/8']");
}

TEST_CASE("observable type names and SCO types", "[stix][observable][types]") {
  const std::pair<ObservableType, const char*> names[] = {
      {ObservableType::domain, "domain"}, {ObservableType::url, "url"},       {ObservableType::ipv4, "ipv4"},
      {ObservableType::ipv6, "ipv6"},     {ObservableType::email, "email"},   {ObservableType::md5, "md5"},
      {ObservableType::sha1, "sha1"},     {ObservableType::sha256, "sha256"}, {ObservableType::sha512, "sha512"},
  };
  for (const auto& [type, name] : names) {
    CHECK(observable_type_name(type) == name);
    CHECK(parse_observable_type(name) == type);
  }
  CHECK(observable_sco_type(ObservableType::domain) == "domain-name");
  CHECK(observable_sco_type(ObservableType::url) == "url");
  CHECK(observable_sco_type(ObservableType::ipv4) == "ipv4-addr");
  CHECK(observable_sco_type(ObservableType::ipv6) == "ipv6-addr");
  CHECK(observable_sco_type(ObservableType::email) == "email-addr");
  CHECK(observable_sco_type(ObservableType::md5) == "file");
  CHECK(observable_sco_type(ObservableType::sha512) == "file");
}

TEST_CASE("parse_observable_type aliases", "[stix][observable][types]") {
  bool any = true;
  CHECK(parse_observable_type("domain-name", &any) == ObservableType::domain);
  CHECK_FALSE(any);
  CHECK(parse_observable_type("Hostname") == ObservableType::domain);
  CHECK(parse_observable_type("URI") == ObservableType::url);
  CHECK(parse_observable_type("ip") == ObservableType::ipv4);
  CHECK(parse_observable_type("ipv4-addr") == ObservableType::ipv4);
  CHECK(parse_observable_type("IPv6-Addr") == ObservableType::ipv6);
  CHECK(parse_observable_type("e-mail") == ObservableType::email);
  CHECK(parse_observable_type("email-addr") == ObservableType::email);
  CHECK(parse_observable_type("SHA-1") == ObservableType::sha1);
  CHECK(parse_observable_type("sha-256") == ObservableType::sha256);
  CHECK(parse_observable_type("SHA-512") == ObservableType::sha512);
  CHECK(parse_observable_type("MD5") == ObservableType::md5);

  any = false;
  CHECK(parse_observable_type("hash", &any).has_value());
  CHECK(any);
  any = false;
  CHECK(parse_observable_type("FILE", &any).has_value());
  CHECK(any);
  CHECK_FALSE(parse_observable_type("hashes"));
  CHECK_FALSE(parse_observable_type(""));
  CHECK_FALSE(parse_observable_type("ipv5"));
  CHECK_FALSE(parse_observable_type("domain "));
  CHECK_FALSE(parse_observable_type("a-very-long-type-name-indeed"));
}
