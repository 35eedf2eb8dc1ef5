// Tests of the STIX object model: the type registry, identifiers, the Object
// wrapper, version ordering and deterministic SCO ids (§2.9). The SCO id
// vectors are those of shared/reference/stix-2.1.md Appendix A (checked there
// against python-stix2 and an independent computation), not values this
// library produced.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "ctishare/json.h"
#include "ctishare/object.h"

using namespace ctishare;
using namespace ctishare::stix;

namespace {

json::Value parse_json(std::string_view text) {
  auto v = json::parse(text);
  INFO(text);
  REQUIRE(v);
  return std::move(*v);
}

// `canonical` is the JCS text of the ID-contributing properties; the SCO is
// that object with "type" added in front.
json::Value sco_from_canonical(std::string_view type, std::string_view canonical) {
  REQUIRE(canonical.size() >= 2);
  REQUIRE(canonical.front() == '{');
  std::string text = "{\"type\":\"" + std::string(type) + "\"," + std::string(canonical.substr(1));
  return parse_json(text);
}

std::string sco_id(const json::Value& sco) {
  auto id = deterministic_sco_id(sco);
  REQUIRE(id);
  REQUIRE(id->has_value());
  return **id;
}

Object make_object(std::string_view text) {
  auto o = Object::from_json(parse_json(text));
  REQUIRE(o);
  return std::move(*o);
}

struct Vector {
  int number;
  const char* type;
  const char* canonical;
  const char* id;
};

// Appendix A, rows 1-35.
const std::vector<Vector> kSpecVectors = {
    {1, "ipv4-addr", R"({"value":"198.51.100.3"})", "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
    {2, "ipv4-addr", R"({"value":"198.52.200.4"})", "ipv4-addr--055987b7-7d94-5326-8e20-c3dad8241976"},
    {3, "autonomous-system", R"({"number":15139})", "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff"},
    {4, "directory", R"({"path":"C:\\Windows\\System32"})", "directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622"},
    {5, "domain-name", R"({"value":"example.com"})", "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"},
    {6, "email-addr", R"({"value":"john@example.com"})", "email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934"},
    {7, "email-addr", R"({"value":"jdoe@example.com"})", "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171"},
    {8, "email-addr", R"({"value":"mary@example.com"})", "email-addr--2aeeb98c-9db4-525e-874d-221fdfe9f76e"},
    {9, "email-addr", R"({"value":"bob@example.com"})", "email-addr--3734e66b-c4e8-5d0b-bca9-befdd5699746"},
    {10, "file", R"({"hashes":{"SHA-256":"fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db"},"name":"foo.dll"})",
     "file--949eb97a-da1e-5292-8959-03c4249dc9f3"},
    {11, "file", R"({"hashes":{"SHA-256":"841a8921140aba50671ebb0770fecc4ee308c4952cfeff8de154ab14eeef4649"},"name":"quêry.dll"})",
     "file--7d1e3a18-89e7-5bc5-be36-9879f5b7f5c8"},
    {12, "file",
     R"({"extensions":{"ntfs-ext":{"alternate_data_streams":[{"name":"second.stream","size":25536}]}},"hashes":{"SHA-256":"35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f"}})",
     "file--ba04c974-3cef-5f42-adc7-084d467874e2"},
    {13, "file",
     R"({"extensions":{"raster-image-ext":{"exif_tags":{"Make":"Nikon","Model":"D7000","XResolution":4928,"YResolution":3264}}},"hashes":{"SHA-256":"4bac27393bdd9777ce02453256c5577cd02275510b2227f473d03f533924f877"},"name":"picture.jpg"})",
     "file--66772174-3442-5e0d-b577-4bd7be55fb87"},
    {14, "ipv4-addr", R"({"value":"198.51.100.0/24"})", "ipv4-addr--1ea47840-aa39-5aa8-b4a2-cd203eb6662a"},
    {15, "ipv6-addr", R"({"value":"2001:0db8:85a3:0000:0000:8a2e:0370:7334"})", "ipv6-addr--85a85a8c-ee99-5722-946d-3c3a3270fc6f"},
    {16, "ipv6-addr", R"({"value":"2001:0db8::/96"})", "ipv6-addr--084d3b4c-7785-568a-a569-0c61c95754ab"},
    {17, "mac-addr", R"({"value":"d2:fb:49:24:37:18"})", "mac-addr--757b1725-9903-54f5-a855-1240691d7659"},
    {18, "mutex", R"({"name":"__CLEANSWEEP__"})", "mutex--f93fe911-e545-5239-b9b0-597840d0c871"},
    {19, "ipv4-addr", R"({"value":"198.51.100.2"})", "ipv4-addr--9cf4a8ec-7640-5f40-a006-79942896168b"},
    {20, "ipv4-addr", R"({"value":"203.0.113.1"})", "ipv4-addr--ad74bc22-43d2-52ed-890e-7d382f58e1eb"},
    {21, "ipv4-addr", R"({"value":"203.0.113.5"})", "ipv4-addr--826fe3cb-56b0-5620-9d30-4c17ed7b24e3"},
    {22, "ipv4-addr", R"({"value":"203.0.113.2"})", "ipv4-addr--a2935766-2522-5939-9513-cc3536f212a3"},
    {23, "ipv4-addr", R"({"value":"198.51.100.34"})", "ipv4-addr--13cba85b-1780-5517-b600-7b6546cfd760"},
    {24, "ipv4-addr", R"({"value":"198.51.100.54"})", "ipv4-addr--23476ffc-8715-5eee-bd37-2f204b7db486"},
    {25, "ipv4-addr", R"({"value":"198.51.100.53"})", "ipv4-addr--165070a8-c561-58a8-8659-fce2f255c2c0"},
    {26, "ipv4-addr", R"({"value":"198.51.100.9"})", "ipv4-addr--4b8ed646-46df-5a9c-b5a6-b3ae128f35a6"},
    {27, "ipv4-addr", R"({"value":"198.51.100.5"})", "ipv4-addr--f85034be-e4ad-5153-aa6b-79c450eb25b3"},
    {28, "ipv4-addr", R"({"value":"198.51.100.6"})", "ipv4-addr--72073c96-1246-5058-8e5c-6ca59d656dee"},
    {29, "file", R"({"hashes":{"SHA-256":"aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"},"name":"gedit-bin"})",
     "file--3eb55c0e-fe96-588b-a7ab-10f55f7ec596"},
    {30, "software", R"({"cpe":"cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*","name":"Word","vendor":"Microsoft","version":"2002"})",
     "software--710b0b41-d4d0-5d6c-a400-fc9254554ffc"},
    {31, "url", R"({"value":"https://example.com/research/index.html"})", "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55"},
    {32, "user-account", R"({"account_login":"jdoe","account_type":"unix","user_id":"1001"})",
     "user-account--f94d689e-707d-58c3-b803-c720bb6ed096"},
    {33, "user-account", R"({"account_login":"thegrugq_ebooks","account_type":"twitter","user_id":"thegrugq_ebooks"})",
     "user-account--f223e803-846b-591a-aefa-545e938f8a56"},
    {34, "windows-registry-key", R"({"key":"HKEY_LOCAL_MACHINE\\System\\Foo\\Bar"})",
     "windows-registry-key--1884b770-b679-522a-a9c7-45fadaaec7bb"},
    {35, "windows-registry-key",
     R"({"key":"hkey_local_machine\\system\\bar\\foo","values":[{"data":"qwerty","data_type":"REG_SZ","name":"Foo"},{"data":"42","data_type":"REG_DWORD","name":"Bar"}]})",
     "windows-registry-key--f6a11ddf-fa2b-54c8-97ab-e7f28413095a"},
};

}  // namespace

// ---------------------------------------------------------------- SCO ids

TEST_CASE("deterministic_sco_id reproduces the 35 Appendix A spec vectors", "[stix][object][sco-id]") {
  REQUIRE(kSpecVectors.size() == 35);
  for (const Vector& v : kSpecVectors) {
    INFO("vector " << v.number << ": " << v.canonical);
    json::Value sco = sco_from_canonical(v.type, v.canonical);
    CHECK(sco_id(sco) == v.id);
    // The name hashed is the canonical JSON of the contributing properties,
    // which the table gives.
    auto name = sco_id_name(sco);
    REQUIRE(name);
    REQUIRE(name->has_value());
    CHECK(**name == v.canonical);
  }
}

TEST_CASE("deterministic_sco_id ignores non-contributing properties and member order", "[stix][object][sco-id]") {
  // Row 1 with the common SCO properties and a reference added: same id.
  json::Value ip = parse_json(
      R"({"id":"ipv4-addr--00000000-0000-4000-8000-000000000000","spec_version":"2.1","defanged":false,)"
      R"("resolves_to_refs":["mac-addr--757b1725-9903-54f5-a855-1240691d7659"],"value":"198.51.100.3","type":"ipv4-addr"})");
  CHECK(sco_id(ip) == "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4");

  // Row 30 with its members in reverse order and a non-contributing one.
  json::Value sw = parse_json(
      R"({"type":"software","languages":["en"],"version":"2002","vendor":"Microsoft","name":"Word",)"
      R"("cpe":"cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*"})");
  CHECK(sco_id(sw) == "software--710b0b41-d4d0-5d6c-a400-fc9254554ffc");
  auto name = sco_id_name(sw);
  REQUIRE(name);
  REQUIRE(name->has_value());
  CHECK(**name == R"({"cpe":"cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*","name":"Word","vendor":"Microsoft","version":"2002"})");
}

TEST_CASE("deterministic_sco_id re-formats timestamps as python-stix2 does", "[stix][object][sco-id]") {
  json::Value nt = parse_json(
      R"({"type":"network-traffic","src_ref":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",)"
      R"("protocols":["tcp"],"start":"2020-09-16T12:06:40.000Z"})");
  const std::string id = sco_id(nt);
  CHECK(id == "network-traffic--8a8deeb2-1b76-5679-8392-a506855bc0c2");
  // Hashing the raw ".000Z" text gives this id; it must not come out.
  CHECK(id != "network-traffic--ffbf20b3-8e8c-5670-a819-ac64419b5aa6");
  auto name = sco_id_name(nt);
  REQUIRE(name);
  REQUIRE(name->has_value());
  CHECK(**name ==
        R"({"protocols":["tcp"],"src_ref":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","start":"2020-09-16T12:06:40Z"})");

  SECTION("only trailing fractional zeros go") {
    json::Value v = parse_json(
        R"({"type":"network-traffic","dst_ref":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",)"
        R"("protocols":["tcp"],"start":"2020-09-16T12:06:40.100Z","end":"2020-09-16T12:07:00.120500Z"})");
    auto n = sco_id_name(v);
    REQUIRE(n);
    REQUIRE(n->has_value());
    CHECK((*n)->find(R"("start":"2020-09-16T12:06:40.1Z")") != std::string::npos);
    CHECK((*n)->find(R"("end":"2020-09-16T12:07:00.1205Z")") != std::string::npos);
  }
}

TEST_CASE("deterministic_sco_id keeps one hash, SHA-256 before SHA3-256", "[stix][object][sco-id]") {
  const std::string a(64, 'a');
  const std::string b(64, 'b');
  json::Value f = parse_json(R"({"type":"file","hashes":{"SHA3-256":")" + a + R"(","SHA-256":")" + b + R"("}})");
  CHECK(sco_id(f) == "file--b188c565-67a9-5a0c-81a4-d9e57074246a");
  auto name = sco_id_name(f);
  REQUIRE(name);
  REQUIRE(name->has_value());
  CHECK(**name == R"({"hashes":{"SHA-256":")" + b + R"("}})");

  SECTION("MD5 > SHA-1 > SHA-256 > SHA-512") {
    json::Value g = parse_json(
        R"({"type":"file","hashes":{"SHA-512":"d","SHA-256":"c","SHA-1":"b","MD5":"a"}})");
    auto n = sco_id_name(g);
    REQUIRE(n);
    CHECK(**n == R"({"hashes":{"MD5":"a"}})");
    json::Value h = parse_json(R"({"type":"file","hashes":{"SHA-512":"d","SHA-256":"c","SHA-1":"b"}})");
    n = sco_id_name(h);
    REQUIRE(n);
    CHECK(**n == R"({"hashes":{"SHA-1":"b"}})");
    json::Value i = parse_json(R"({"type":"x509-certificate","hashes":{"SHA-512":"d"},"serial_number":"01"})");
    n = sco_id_name(i);
    REQUIRE(n);
    CHECK(**n == R"({"hashes":{"SHA-512":"d"},"serial_number":"01"})");
  }
  SECTION("none of the four: the first listed") {
    json::Value g = parse_json(R"({"type":"file","hashes":{"TLSH":"t","SSDEEP":"s"}})");
    auto n = sco_id_name(g);
    REQUIRE(n);
    CHECK(**n == R"({"hashes":{"TLSH":"t"}})");
  }
}

TEST_CASE("deterministic_sco_id extra vectors of Appendix A", "[stix][object][sco-id]") {
  SECTION("non-ASCII name, hashed as UTF-8") {
    json::Value f = parse_json(R"({"type":"file","name":"quêry.dll"})");
    CHECK(sco_id(f) == "file--0bd3b719-7faf-5d3c-ad6b-1bbde246b0f8");
    auto n = sco_id_name(f);
    REQUIRE(n);
    CHECK(**n == R"({"name":"quêry.dll"})");  // no \u escaping
  }
  SECTION("email-message") {
    json::Value m = parse_json(
        R"({"type":"email-message","is_multipart":false,)"
        R"("from_ref":"email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171","subject":"Saying Hello"})");
    const std::string id = sco_id(m);
    CHECK(id == "email-message--16177f7c-38c5-59f4-baa5-b934fa13ce49");
    // The stale id the Errata 01 markdown prints for this example.
    CHECK(id != "email-message--92fa1bfd-2c62-5a30-8b7c-5b91ea73cf29");
  }
  SECTION("registry key with one value") {
    json::Value k = parse_json(
        R"({"type":"windows-registry-key","key":"hkey_local_machine\\system\\bar\\foo",)"
        R"("values":[{"name":"Foo","data":"qwerty","data_type":"REG_SZ"}]})");
    CHECK(sco_id(k) == "windows-registry-key--5f15b061-9c3d-5ea8-93b8-72468f206c1a");
  }
  SECTION("stix.js vectors") {
    CHECK(sco_id(parse_json(R"({"type":"domain-name","value":"control.example.com"})")) ==
          "domain-name--427e3664-0043-5865-b454-97df26649bde");
    CHECK(sco_id(parse_json(R"({"type":"ipv4-addr","value":"198.51.100.8"})")) ==
          "ipv4-addr--6c83081b-13af-5e30-ba30-6f401772a083");
    CHECK(sco_id(parse_json(R"({"type":"url","value":"ftp://example.com"})")) ==
          "url--ae8ac58b-8274-5e88-b161-45e9b25c4748");
  }
}

TEST_CASE("sco_id_name is RFC 8785 (JCS) text", "[stix][object][sco-id]") {
  auto name_of = [](std::string_view text) {
    auto n = sco_id_name(parse_json(text));
    REQUIRE(n);
    REQUIRE(n->has_value());
    return **n;
  };
  SECTION("numbers in ECMAScript form: the same id as row 3") {
    for (const char* text : {R"({"type":"autonomous-system","number":15139.0})",
                             R"({"type":"autonomous-system","number":1.5139E4})",
                             R"({"type":"autonomous-system","number":151390e-1})"}) {
      INFO(text);
      CHECK(name_of(text) == R"({"number":15139})");
      CHECK(sco_id(parse_json(text)) == "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff");
    }
    CHECK(name_of(R"({"type":"network-traffic","protocols":["tcp"],"src_port":1e2,"dst_port":0.5e1})") ==
          R"({"dst_port":5,"protocols":["tcp"],"src_port":100})");
  }
  SECTION("minimal string escapes, '/' and non-ASCII as they are") {
    CHECK(name_of(R"({"type":"mutex","name":"\t\n\b\f\r\u001f\u0000\"\\\/\u00e9"})") ==
          R"({"name":"\t\n\b\f\r\u001f\u0000\"\\/)" "\xC3\xA9" R"("})");
  }
  SECTION("members sorted by UTF-16 code units (RFC 8785 section 3.2.3)") {
    const std::string name = name_of(
        R"({"type":"file","extensions":{"x-ext":{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}}})");
    const std::string expected = R"({"extensions":{"x-ext":{"\r":"Carriage Return","1":"One",")"
                                 "\xC2\x80" R"(":"Control",")"
                                 "\xC3\xB6" R"(":"Latin Small Letter O With Diaeresis",")"
                                 "\xE2\x82\xAC" R"(":"Euro Sign",")"
                                 "\xF0\x9F\x98\x80" R"(":"Emoji: Grinning Face",")"
                                 "\xEF\xAC\xB3" R"(":"Hebrew Letter Dalet With Dagesh"}}})";
    CHECK(name == expected);
  }
  SECTION("a number that is not a finite double cannot be canonicalised") {
    // Built directly: the parser itself refuses such numbers.
    const json::Value huge(json::Object{{"type", "autonomous-system"}, {"number", json::Number{"1e400"}}});
    auto id = deterministic_sco_id(huge);
    REQUIRE_FALSE(id);
    CHECK(id.error().category() == ErrorCategory::data);
  }
}

TEST_CASE("deterministic_sco_id: no contributing property means UUIDv4 (nullopt)", "[stix][object][sco-id]") {
  for (const char* text : {
           R"({"type":"process","pid":1221,"command_line":"./gedit-bin --new-window"})",  // never deterministic
           R"({"type":"email-message","is_multipart":false,"date":"2004-04-19T12:22:23.000Z"})",  // all optional, none given
           R"({"type":"user-account","display_name":"J Doe"})",
           R"({"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"x"})",  // not an SCO
           R"({"type":"x-acme-thing","value":"a"})",  // custom type
           R"({"type":"bundle","id":"bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})",
       }) {
    INFO(text);
    json::Value v = parse_json(text);
    auto id = deterministic_sco_id(v);
    REQUIRE(id);
    CHECK_FALSE(id->has_value());
    auto name = sco_id_name(v);
    REQUIRE(name);
    CHECK_FALSE(name->has_value());
  }
}

TEST_CASE("deterministic_sco_id errors", "[stix][object][sco-id]") {
  SECTION("empty hashes") {
    auto id = deterministic_sco_id(parse_json(R"({"type":"file","hashes":{},"name":"a.exe"})"));
    REQUIRE_FALSE(id);
    CHECK(id.error().category() == ErrorCategory::data);
    CHECK_THAT(id.error().message(), Catch::Contains("hashes"));
  }
  SECTION("hashes that are not a dictionary") {
    auto id = deterministic_sco_id(parse_json(R"({"type":"artifact","hashes":["MD5"]})"));
    REQUIRE_FALSE(id);
    CHECK(id.error().category() == ErrorCategory::data);
  }
  SECTION("no type") {
    auto id = deterministic_sco_id(parse_json(R"({"value":"198.51.100.3"})"));
    REQUIRE_FALSE(id);
    CHECK(id.error().category() == ErrorCategory::data);
  }
}

// ---------------------------------------------------------------- registry

TEST_CASE("the registry holds every STIX 2.1 type with its kind", "[stix][object][registry]") {
  const std::vector<std::string> sdos = {"attack-pattern", "campaign", "course-of-action", "grouping", "identity",
                                         "incident", "indicator", "infrastructure", "intrusion-set", "location",
                                         "malware", "malware-analysis", "note", "observed-data", "opinion",
                                         "report", "threat-actor", "tool", "vulnerability"};
  const std::vector<std::string> sros = {"relationship", "sighting"};
  const std::vector<std::string> scos = {"artifact", "autonomous-system", "directory", "domain-name", "email-addr",
                                         "email-message", "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex",
                                         "network-traffic", "process", "software", "url", "user-account",
                                         "windows-registry-key", "x509-certificate"};
  const std::vector<std::string> metas = {"language-content", "marking-definition", "extension-definition"};
  auto check_kind = [](const std::vector<std::string>& types, ObjectKind kind) {
    for (const auto& t : types) {
      INFO(t);
      const TypeInfo* info = find_type(t);
      REQUIRE(info != nullptr);
      CHECK(info->type == t);
      CHECK(info->kind == kind);
      CHECK(kind_of(t) == kind);
    }
  };
  check_kind(sdos, ObjectKind::sdo);
  check_kind(sros, ObjectKind::sro);
  check_kind(scos, ObjectKind::sco);
  check_kind(metas, ObjectKind::meta);
  CHECK(all_types().size() == sdos.size() + sros.size() + scos.size() + metas.size());
  std::set<std::string_view> seen;
  for (const auto& t : all_types()) CHECK(seen.insert(t.type).second);

  CHECK(kind_of("bundle") == ObjectKind::bundle);
  CHECK(find_type("bundle") == nullptr);  // a bundle is not a STIX object
  CHECK(find_type("x-acme-thing") == nullptr);
  CHECK(find_type("Indicator") == nullptr);
  CHECK(find_type("") == nullptr);
  CHECK(kind_of("no-such-type") == ObjectKind::unknown);
}

TEST_CASE("the registry's ID-contributing properties follow the spec tables", "[stix][object][registry]") {
  using Props = std::set<std::string_view>;
  const std::vector<std::pair<const char*, Props>> expected = {
      {"artifact", {"hashes", "payload_bin"}},
      {"autonomous-system", {"number"}},
      {"directory", {"path"}},
      {"domain-name", {"value"}},
      {"email-addr", {"value"}},
      {"email-message", {"from_ref", "subject", "body"}},
      {"file", {"hashes", "name", "extensions", "parent_directory_ref"}},
      {"ipv4-addr", {"value"}},
      {"ipv6-addr", {"value"}},
      {"mac-addr", {"value"}},
      {"mutex", {"name"}},
      {"network-traffic", {"start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"}},
      {"process", {}},
      {"software", {"name", "cpe", "swid", "vendor", "version"}},
      {"url", {"value"}},
      {"user-account", {"account_type", "user_id", "account_login"}},
      {"windows-registry-key", {"key", "values"}},
      {"x509-certificate", {"hashes", "serial_number"}},
  };
  for (const auto& [type, props] : expected) {
    INFO(type);
    const TypeInfo* info = find_type(type);
    REQUIRE(info != nullptr);
    CHECK(Props(info->id_contributing.begin(), info->id_contributing.end()) == props);
  }
  // Non-SCOs have none.
  CHECK(find_type("indicator")->id_contributing.empty());
  // A few required properties (§4.7, §5.1, §6.8).
  auto required = [](const char* t) {
    const TypeInfo* info = find_type(t);
    REQUIRE(info != nullptr);
    return Props(info->required.begin(), info->required.end());
  };
  CHECK(required("indicator") == Props{"pattern", "pattern_type", "valid_from"});
  CHECK(required("relationship") == Props{"relationship_type", "source_ref", "target_ref"});
  CHECK(required("ipv4-addr") == Props{"value"});
}

// The header promises: "x-" custom types are SDO-like unless the caller
// knows better. kind_of returns unknown for them instead.
TEST_CASE("kind_of treats x- custom types as SDO-like, as documented", "[stix][object][registry]") {
  CHECK(kind_of("x-acme-thing") == ObjectKind::sdo);
  CHECK(kind_of("x-mitre-tactic") == ObjectKind::sdo);
}

// ---------------------------------------------------------------- identifiers

TEST_CASE("Identifier::parse accepts <type>--<uuid>", "[stix][object][identifier]") {
  auto id = Identifier::parse("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
  REQUIRE(id);
  CHECK(id->type == "indicator");
  CHECK(id->uuid.to_string() == "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
  CHECK(id->uuid.version() == 4);
  CHECK(id->to_string() == "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");

  auto custom = Identifier::parse("x-acme-thing--00abedb4-aa42-466c-9c01-fed23315a9b7");
  REQUIRE(custom);
  CHECK(custom->type == "x-acme-thing");

  auto upper = Identifier::parse("file--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F");
  REQUIRE(upper);
  CHECK(upper->to_string() == "file--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");

  auto longest = Identifier::parse(std::string(250, 'a') + "--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
  CHECK(longest);
  auto shortest = Identifier::parse("url--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
  CHECK(shortest);
}

TEST_CASE("Identifier::parse refuses malformed ids with a data error", "[stix][object][identifier]") {
  for (const std::string& bad : {
           std::string(""),
           std::string("indicator"),
           std::string("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),   // one hyphen
           std::string("indicator--"),
           std::string("--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),           // no type
           std::string("ab--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),         // type too short
           std::string(251, 'a') + "--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",  // type too long
           std::string("Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),  // upper case
           std::string("x_acme--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),     // underscore
           std::string("indicator--not-a-uuid"),
           std::string("indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f"),      // no hyphens
           std::string("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3"),   // short
           std::string("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3fa"), // long
           std::string("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cdxg"),  // not hex
           std::string(" indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
       }) {
    INFO(bad);
    auto id = Identifier::parse(bad);
    REQUIRE_FALSE(id);
    CHECK(id.error().category() == ErrorCategory::data);
  }
}

// ---------------------------------------------------------------- Object

TEST_CASE("Object::from_json keeps the JSON and reads the common properties", "[stix][object]") {
  const std::string text =
      R"({"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",)"
      R"("created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T20:03:48.000Z",)"
      R"("modified":"2016-04-06T20:03:48.123Z","pattern":"[file:name = 'x']","pattern_type":"stix",)"
      R"("valid_from":"2016-01-01T00:00:00Z","x_acme":{"n":1.50}})";
  Object o = make_object(text);
  CHECK(o.type() == "indicator");
  CHECK(o.id() == "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
  CHECK(o.kind() == ObjectKind::sdo);
  CHECK(o.spec_version() == std::optional<std::string_view>("2.1"));
  CHECK(o.created() == std::optional<std::string_view>("2016-04-06T20:03:48.000Z"));
  CHECK(o.modified() == std::optional<std::string_view>("2016-04-06T20:03:48.123Z"));
  CHECK(o.created_by_ref() == std::optional<std::string_view>("identity--f431f809-377b-45e0-aa1c-6a4751cae5ff"));
  CHECK(o.get_string("pattern") == std::optional<std::string_view>("[file:name = 'x']"));
  CHECK(o.get("x_acme") != nullptr);
  CHECK(o.get("nothing") == nullptr);
  CHECK_FALSE(o.get_string("x_acme").has_value());  // not a string
  CHECK(o.to_string() == text);                     // custom content and number text kept
  CHECK_FALSE(o.revoked());
}

TEST_CASE("Object::from_json errors", "[stix][object]") {
  SECTION("not an object") {
    for (const char* text : {"[]", R"("indicator")", "42", "null"}) {
      INFO(text);
      auto o = Object::from_json(parse_json(text));
      REQUIRE_FALSE(o);
      CHECK(o.error().category() == ErrorCategory::data);
    }
  }
  SECTION("missing or non-string type") {
    for (const char* text : {R"({"id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})",
                             R"({"type":7,"id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})"}) {
      INFO(text);
      auto o = Object::from_json(parse_json(text));
      REQUIRE_FALSE(o);
      CHECK(o.error().category() == ErrorCategory::data);
      CHECK_THAT(o.error().message(), Catch::Contains("type"));
    }
  }
  SECTION("missing or non-string id") {
    for (const char* text : {R"({"type":"indicator"})", R"({"type":"indicator","id":null})"}) {
      INFO(text);
      auto o = Object::from_json(parse_json(text));
      REQUIRE_FALSE(o);
      CHECK(o.error().category() == ErrorCategory::data);
      CHECK_THAT(o.error().message(), Catch::Contains("id"));
    }
  }
}

TEST_CASE("Object::version is modified, else created, else empty", "[stix][object][version]") {
  CHECK(make_object(R"({"type":"malware","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",)"
                    R"("created":"2016-04-06T20:07:09.000Z","modified":"2016-04-07T20:07:09.000Z"})")
            .version() == "2016-04-07T20:07:09.000Z");
  CHECK(make_object(R"({"type":"marking-definition","id":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",)"
                    R"("created":"2017-01-20T00:00:00.000Z"})")
            .version() == "2017-01-20T00:00:00.000Z");
  CHECK(make_object(R"({"type":"ipv4-addr","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"})")
            .version()
            .empty());
}

TEST_CASE("Object::revoked is true only for the boolean true", "[stix][object][version]") {
  const std::string head = R"({"type":"tool","id":"tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")";
  CHECK(make_object(head + R"(,"revoked":true})").revoked());
  CHECK_FALSE(make_object(head + R"(,"revoked":false})").revoked());
  CHECK_FALSE(make_object(head + R"(,"revoked":"true"})").revoked());
  CHECK_FALSE(make_object(head + "}").revoked());
}

TEST_CASE("version_less orders by id, then by the instant of modified", "[stix][object][version]") {
  auto obj = [](const char* id, const char* modified) {
    return make_object(std::string(R"({"type":"indicator","id":")") + id + R"(","created":"2020-01-01T00:00:00.000Z","modified":")" +
                       modified + "\"}");
  };
  const char* a = "indicator--11111111-1111-4111-8111-111111111111";
  const char* b = "indicator--22222222-2222-4222-8222-222222222222";

  SECTION("id first") {
    Object early_b = obj(b, "2020-01-01T00:00:00.000Z");
    Object late_a = obj(a, "2030-01-01T00:00:00.000Z");
    CHECK(version_less(late_a, early_b));
    CHECK_FALSE(version_less(early_b, late_a));
  }
  SECTION("equal instants written differently are not ordered") {
    Object x = obj(a, "2020-01-01T00:00:00.1Z");
    Object y = obj(a, "2020-01-01T00:00:00.10Z");
    CHECK_FALSE(version_less(x, y));
    CHECK_FALSE(version_less(y, x));
    Object z = obj(a, "2020-01-01T00:00:00Z");
    Object w = obj(a, "2020-01-01T00:00:00.000Z");
    CHECK_FALSE(version_less(z, w));
    CHECK_FALSE(version_less(w, z));
  }
  SECTION("by instant, not by text") {
    Object x = obj(a, "2020-01-01T00:00:00.09Z");
    Object y = obj(a, "2020-01-01T00:00:00.1Z");
    CHECK(version_less(x, y));
    CHECK_FALSE(version_less(y, x));
    // Text order would put ".50001Z" first ('0' < 'Z').
    Object p = obj(a, "2020-01-01T00:00:00.5Z");
    Object q = obj(a, "2020-01-01T00:00:00.50001Z");
    CHECK(version_less(p, q));
    CHECK_FALSE(version_less(q, p));
  }
  SECTION("sorting a mixed list") {
    std::vector<Object> v;
    v.push_back(obj(b, "2020-01-01T00:00:00.2Z"));
    v.push_back(obj(a, "2020-01-01T00:00:01Z"));
    v.push_back(obj(b, "2020-01-01T00:00:00.15Z"));
    v.push_back(obj(a, "2020-01-01T00:00:00.999Z"));
    std::sort(v.begin(), v.end(), version_less);
    CHECK(v[0].id() == a);
    CHECK(v[0].version() == "2020-01-01T00:00:00.999Z");
    CHECK(v[1].id() == a);
    CHECK(v[1].version() == "2020-01-01T00:00:01Z");
    CHECK(v[2].version() == "2020-01-01T00:00:00.15Z");
    CHECK(v[3].version() == "2020-01-01T00:00:00.2Z");
  }
}

// ---------------------------------------------------------------- versioning (§3.6)

namespace {
ctishare::stix::Object indicator_v1() {
  auto v = ctishare::json::parse(
      R"({"type":"indicator","spec_version":"2.1","id":"indicator--3779ba4f-c5a4-4468-a868-52c7d2f5ce54",)"
      R"("created_by_ref":"identity--c5c7ba2c-5140-4fce-a027-d7583dbb0bea","created":"2026-11-29T04:00:00.000Z",)"
      R"("modified":"2026-11-29T04:00:00.000Z","pattern":"[domain-name:value = 'a.example']","pattern_type":"stix",)"
      R"("valid_from":"2026-11-29T04:00:00Z","confidence":80,"x_custom":{"keep":[1,2.50]}})");
  REQUIRE(v);
  auto o = ctishare::stix::Object::from_json(std::move(*v));
  REQUIRE(o);
  return std::move(*o);
}
ctishare::Timestamp ts(const char* t) { return *ctishare::Timestamp::parse(t); }
}  // namespace

TEST_CASE("new_version keeps id, created and every other property, and moves modified", "[stix][object][version]") {
  using namespace ctishare;
  auto v1 = indicator_v1();
  auto v2 = stix::new_version(v1, json::Object{{"confidence", 60}, {"x_custom", nullptr}}, ts("2026-11-30T04:00:00Z"));
  REQUIRE(v2);
  CHECK(v2->id() == v1.id());
  CHECK(v2->created() == v1.created());
  CHECK(v2->modified() == std::string_view("2026-11-30T04:00:00.000Z"));
  CHECK(v2->get("confidence")->as_int64() == 60);
  CHECK(v2->get("x_custom") == nullptr);
  CHECK(v2->get_string("pattern") == v1.get_string("pattern"));
}

TEST_CASE("new_version is strictly later even when the clock is not", "[stix][object][version]") {
  using namespace ctishare;
  auto v1 = indicator_v1();
  auto same = stix::new_version(v1, {}, ts("2026-11-29T04:00:00Z"));
  REQUIRE(same);
  CHECK(same->modified() == std::string_view("2026-11-29T04:00:00.001Z"));
  auto earlier = stix::new_version(v1, {}, ts("2026-11-28T04:00:00Z"));
  REQUIRE(earlier);
  CHECK(earlier->modified() == std::string_view("2026-11-29T04:00:00.001Z"));
}

TEST_CASE("revoke sets revoked, and nothing may follow it", "[stix][object][version]") {
  using namespace ctishare;
  auto r = stix::revoke(indicator_v1(), ts("2026-11-30T00:00:00Z"));
  REQUIRE(r);
  CHECK(r->revoked());
  auto after = stix::new_version(*r, {}, ts("2026-12-01T00:00:00Z"));
  REQUIRE_FALSE(after);
  CHECK(after.error().category() == ErrorCategory::data);
  CHECK_THAT(after.error().message(), Catch::Matchers::Contains("revoked"));
}

TEST_CASE("new_version refuses SCOs, markings and changes of identity fields", "[stix][object][version]") {
  using namespace ctishare;
  auto sco = stix::Object::from_json(*json::parse(R"({"type":"domain-name","id":"domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7","value":"example.com"})"));
  REQUIRE(sco);
  CHECK_FALSE(stix::new_version(*sco, {}, ts("2026-11-30T00:00:00Z")));
  for (const char* field : {"id", "type", "created", "created_by_ref", "modified"}) {
    auto r = stix::new_version(indicator_v1(), json::Object{{field, "x"}}, ts("2026-11-30T00:00:00Z"));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message(), Catch::Matchers::Contains(field));
  }
}
