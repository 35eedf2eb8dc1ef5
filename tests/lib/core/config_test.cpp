// Tests of ctishare/config.h (TOML configuration, lookup order, secrets) and,
// at the end, of ctishare/result.h (errors, exit codes, Result/Status).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "ctishare/config.h"
#include "ctishare/result.h"
#include "support/temp_dir.h"

using namespace ctishare;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

using ctishare::test::TempDir;

namespace {

// Sets (or with nullptr unsets) an environment variable for the scope.
class EnvGuard {
 public:
  EnvGuard(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  EnvGuard(const char* name, const std::string& value) : EnvGuard(name, value.c_str()) {}
  ~EnvGuard() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

void spit(const std::string& path, const std::string& text, mode_t mode = 0644) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  if (::chmod(path.c_str(), mode) != 0) FAIL("chmod failed");
}

Config parse_ok(const std::string& text, const std::string& base = "/base") {
  auto r = parse_config(text, "test.toml", base);
  if (!r) FAIL("parse_config failed: " << r.error().message());
  return std::move(r).value();
}

Error parse_err(const std::string& text) {
  auto r = parse_config(text, "test.toml", "/base");
  if (r) FAIL("parse_config unexpectedly succeeded");
  return std::move(r).error();
}

const char* const kFull = R"(# ctishare configuration
[identity]
name = "ACME CERT"
class = "organization"

[state]
dir = "state"
audit_log = "/var/log/ctishare/audit.log"

[partner.alpha]
url = "https://taxii.alpha.example/api1/"
collections = ["indicators", "91a7b528-80eb-42ed-a74d-c6fbd5a26116"]
auth = "basic"
user = "acme"
password_file = "secrets/alpha.pw"
trust = 0.8
max_tlp = "green"
push = true
pull = true

[partner.beta]
url = "https://beta.example/taxii2/"
auth = "mtls+bearer"
token_file = "/etc/ctishare/beta.token"
client_cert = "certs/beta.crt"
client_key = "certs/beta.key"
ca_file = "certs/ca.pem"
api_key_header = "X-Api-Key"
proxy = "http://proxy.example:3128"
)";

}  // namespace

// ---------------------------------------------------------------- parse_config

TEST_CASE("config: a full example fills every field", "[core][config]") {
  Config c = parse_ok(kFull);
  CHECK(c.path == "test.toml");
  CHECK(c.identity_name == "ACME CERT");
  CHECK(c.identity_class == "organization");
  CHECK(c.state_dir == "/base/state");
  CHECK(c.audit_log == "/var/log/ctishare/audit.log");
  REQUIRE(c.partners.size() == 2);

  const Partner& a = c.partners.at("alpha");
  CHECK(a.name == "alpha");
  CHECK(a.url == "https://taxii.alpha.example/api1/");
  CHECK(a.collections == std::vector<std::string>{"indicators", "91a7b528-80eb-42ed-a74d-c6fbd5a26116"});
  CHECK(a.auth == "basic");
  CHECK(a.user == "acme");
  CHECK(a.password_file == "/base/secrets/alpha.pw");
  CHECK(a.trust == Approx(0.8));
  CHECK(a.max_tlp == "green");
  CHECK(a.push);
  CHECK(a.pull);

  const Partner& b = c.partners.at("beta");
  CHECK(b.name == "beta");
  CHECK(b.auth == "mtls+bearer");
  CHECK(b.token_file == "/etc/ctishare/beta.token");  // absolute: unchanged
  CHECK(b.client_cert == "/base/certs/beta.crt");
  CHECK(b.client_key == "/base/certs/beta.key");
  CHECK(b.ca_file == "/base/certs/ca.pem");
  CHECK(b.api_key_header == "X-Api-Key");
  CHECK(b.proxy == "http://proxy.example:3128");
  // Defaults.
  CHECK(b.collections.empty());
  CHECK(b.trust == Approx(0.3));
  CHECK(b.max_tlp == "amber");
  CHECK_FALSE(b.push);
  CHECK_FALSE(b.pull);
  CHECK(b.user.empty());
  CHECK(b.password_file.empty());
}

TEST_CASE("config: defaults for an empty file", "[core][config]") {
  Config c = parse_ok("");
  CHECK(c.identity_name.empty());
  CHECK(c.identity_class == "organization");
  CHECK(c.state_dir.empty());
  CHECK(c.audit_log.empty());
  CHECK(c.partners.empty());
  CHECK(parse_ok("[identity]\nname = \"x\"\n").identity_class == "organization");
  CHECK(parse_ok("[identity]\nclass = \"individual\"\n").identity_class == "individual");
}

TEST_CASE("config: relative paths resolve against the base directory", "[core][config]") {
  const std::string text =
      "[state]\ndir = \"st\"\naudit_log = \"logs/audit.log\"\n"
      "[partner.p]\napi_key_file = \"k/key\"\npassword_file = \"/abs/pw\"\ntoken_file = \"tok\"\n";
  Config c = parse_ok(text, "/etc/ctishare");
  CHECK(c.state_dir == "/etc/ctishare/st");
  CHECK(c.audit_log == "/etc/ctishare/logs/audit.log");
  const Partner& p = c.partners.at("p");
  CHECK(p.api_key_file == "/etc/ctishare/k/key");
  CHECK(p.password_file == "/abs/pw");
  CHECK(p.token_file == "/etc/ctishare/tok");
  // Not file paths: left as written.
  Config u = parse_ok("[partner.p]\nurl = \"api/root\"\nproxy = \"proxy:3128\"\n", "/etc/ctishare");
  CHECK(u.partners.at("p").url == "api/root");
  CHECK(u.partners.at("p").proxy == "proxy:3128");
}

TEST_CASE("config: an unknown partner key is an error naming key and line", "[core][config]") {
  Error e = parse_err("[partner.alpha]\nurl = \"https://x.example/\"\npasword_file = \"pw\"\n");
  CHECK(e.category() == ErrorCategory::config);
  CHECK(exit_code(e.category()) == 78);
  CHECK_THAT(e.message(), Contains("'test.toml'"));
  CHECK_THAT(e.message(), Contains("line 3"));
  CHECK_THAT(e.message(), Contains("'partner.alpha.pasword_file'"));
}

TEST_CASE("config: a bad auth value is an error", "[core][config]") {
  for (const char* auth : {"oauth", "BASIC", "mtls+", "basic+mtls"}) {
    INFO(auth);
    Error e = parse_err(std::string("[partner.p]\nurl = \"u\"\nauth = \"") + auth + "\"\n");
    CHECK(e.category() == ErrorCategory::config);
    CHECK_THAT(e.message(), Contains(quote(auth)));
    CHECK_THAT(e.message(), Contains("line 3"));
    CHECK_THAT(e.message(), Contains("partner.p.auth"));
  }
  for (const char* auth : {"basic", "apikey", "bearer", "mtls", "mtls+basic", "mtls+apikey", "mtls+bearer"}) {
    INFO(auth);
    CHECK(parse_ok(std::string("[partner.p]\nauth = \"") + auth + "\"\n").partners.at("p").auth == auth);
  }
}

TEST_CASE("config: trust must be a number from 0 to 1", "[core][config]") {
  for (const char* t : {"1.5", "-0.1", "2", "\"high\"", "true"}) {
    INFO(t);
    Error e = parse_err(std::string("[partner.p]\n\ntrust = ") + t + "\n");
    CHECK(e.category() == ErrorCategory::config);
    CHECK_THAT(e.message(), Contains("partner.p.trust"));
    CHECK_THAT(e.message(), Contains("line 3"));
  }
  CHECK(parse_ok("[partner.p]\ntrust = 0.0\n").partners.at("p").trust == 0.0);
  CHECK(parse_ok("[partner.p]\ntrust = 1.0\n").partners.at("p").trust == 1.0);
  CHECK(parse_ok("[partner.p]\ntrust = 1\n").partners.at("p").trust == 1.0);
  CHECK(parse_ok("[partner.p]\ntrust = 0\n").partners.at("p").trust == 0.0);
}

TEST_CASE("config: values of the wrong type are errors", "[core][config]") {
  const std::pair<const char*, const char*> cases[] = {
      {"[partner.p]\nurl = 5\n", "partner.p.url"},
      {"[partner.p]\npush = \"yes\"\n", "partner.p.push"},
      {"[partner.p]\npull = 1\n", "partner.p.pull"},
      {"[partner.p]\ncollections = \"c\"\n", "partner.p.collections"},
      {"[partner.p]\ncollections = [\"a\", 1]\n", "partner.p.collections"},
      {"[partner]\np = 5\n", "partner.p"},
      {"identity = \"me\"\n", "identity"},
      {"[identity]\nname = 1\n", "identity.name"},
      {"[state]\ndir = false\n", "state.dir"},
  };
  for (const auto& [text, key] : cases) {
    INFO(text);
    Error e = parse_err(text);
    CHECK(e.category() == ErrorCategory::config);
    CHECK_THAT(e.message(), Contains(key));
    CHECK_THAT(e.message(), Contains("line "));
  }
}

TEST_CASE("config: invalid TOML is a config error naming the line", "[core][config]") {
  Error e = parse_err("[identity]\nname = \n");
  CHECK(e.category() == ErrorCategory::config);
  CHECK_THAT(e.message(), Contains("'test.toml'"));
  CHECK_THAT(e.message(), Contains("line 2"));
  CHECK_THAT(e.message(), Contains("invalid TOML"));

  Error dup = parse_err("[identity]\nname = \"a\"\n\nname = \"b\"\n");
  CHECK(dup.category() == ErrorCategory::config);
  CHECK_THAT(dup.message(), Contains("line 4"));

  Error table = parse_err("[partner.a]\nurl = \"x\"\n[partner.a]\nurl = \"y\"\n");
  CHECK(table.category() == ErrorCategory::config);
  CHECK_THAT(table.message(), Contains("line 3"));
}

// ---------------------------------------------------------------- load_config

TEST_CASE("config: load_config with an explicit path", "[core][config]") {
  TempDir dir;
  EnvGuard cfg_env("CTISHARE_CONFIG", nullptr);
  SECTION("missing file is an error") {
    const std::string missing = dir / "missing.toml";
    auto r = load_config(missing);
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == ErrorCategory::config);
    CHECK(exit_code(r.error().category()) == 78);
    CHECK_THAT(r.error().message(), Contains(missing));
  }
  SECTION("a directory is an error") {
    auto r = load_config(dir.path());
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == ErrorCategory::config);
  }
  SECTION("an existing file is read, paths resolved against its directory") {
    const std::string path = dir / "my.toml";
    spit(path, kFull);
    auto r = load_config(path);
    REQUIRE(r);
    CHECK(r->path == path);
    CHECK(r->identity_name == "ACME CERT");
    CHECK(r->state_dir == dir / "state");
    CHECK(r->partners.at("alpha").password_file == dir / "secrets/alpha.pw");
  }
  SECTION("invalid content names the file") {
    const std::string path = dir / "bad.toml";
    spit(path, "[partner.x]\nbogus = 1\n");
    auto r = load_config(path);
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == ErrorCategory::config);
    CHECK_THAT(r.error().message(), Contains(quote(path)));
    CHECK_THAT(r.error().message(), Contains("line 2"));
  }
  SECTION("the explicit path beats $CTISHARE_CONFIG") {
    spit(dir / "env.toml", "[identity]\nname = \"from env\"\n");
    spit(dir / "flag.toml", "[identity]\nname = \"from flag\"\n");
    EnvGuard g("CTISHARE_CONFIG", dir / "env.toml");
    auto r = load_config(dir / "flag.toml");
    REQUIRE(r);
    CHECK(r->identity_name == "from flag");
  }
}

TEST_CASE("config: load_config lookup without an explicit path", "[core][config]") {
  TempDir dir;
  const std::string xdg = dir / "xdg";
  REQUIRE(::mkdir(xdg.c_str(), 0700) == 0);
  EnvGuard xdg_env("XDG_CONFIG_HOME", xdg);
  EnvGuard home_env("HOME", dir / "home");

  SECTION("nothing found: an empty Config") {
    EnvGuard g("CTISHARE_CONFIG", nullptr);
    if (::access("/etc/ctishare/ctishare.toml", F_OK) == 0) {
      WARN("/etc/ctishare/ctishare.toml exists on this machine; skipped");
      return;
    }
    auto r = load_config("");
    REQUIRE(r);
    CHECK(r->path.empty());
    CHECK(r->identity_name.empty());
    CHECK(r->partners.empty());
    CHECK(r->state_dir.empty());
  }
  SECTION("$CTISHARE_CONFIG is honoured") {
    spit(dir / "env.toml", "[identity]\nname = \"from env\"\n");
    EnvGuard g("CTISHARE_CONFIG", dir / "env.toml");
    auto r = load_config("");
    REQUIRE(r);
    CHECK(r->path == dir / "env.toml");
    CHECK(r->identity_name == "from env");
  }
  SECTION("$CTISHARE_CONFIG naming a missing file is an error") {
    EnvGuard g("CTISHARE_CONFIG", dir / "gone.toml");
    auto r = load_config("");
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == ErrorCategory::config);
  }
  SECTION("$XDG_CONFIG_HOME/ctishare/ctishare.toml") {
    EnvGuard g("CTISHARE_CONFIG", nullptr);
    REQUIRE(::mkdir((xdg + "/ctishare").c_str(), 0700) == 0);
    spit(xdg + "/ctishare/ctishare.toml", "[identity]\nname = \"from xdg\"\n[state]\ndir = \"s\"\n");
    auto r = load_config("");
    REQUIRE(r);
    CHECK(r->path == xdg + "/ctishare/ctishare.toml");
    CHECK(r->identity_name == "from xdg");
    CHECK(r->state_dir == xdg + "/ctishare/s");
  }
  SECTION("~/.config when $XDG_CONFIG_HOME is unset") {
    EnvGuard g("CTISHARE_CONFIG", nullptr);
    EnvGuard x("XDG_CONFIG_HOME", nullptr);
    REQUIRE(fs::create_directories(dir / "home/.config/ctishare"));
    spit(dir / "home/.config/ctishare/ctishare.toml", "[identity]\nname = \"from home\"\n");
    auto r = load_config("");
    REQUIRE(r);
    CHECK(r->identity_name == "from home");
  }
}

// ---------------------------------------------------------------- state dir

TEST_CASE("config: resolve_state_dir order", "[core][config]") {
  EnvGuard xdg("XDG_STATE_HOME", "/xdg/state");
  EnvGuard home("HOME", "/home/someone");
  Config with_dir;
  with_dir.state_dir = "/from/config";
  Config empty;
  CHECK(resolve_state_dir(with_dir, "/from/flag") == "/from/flag");
  CHECK(resolve_state_dir(empty, "/from/flag") == "/from/flag");
  CHECK(resolve_state_dir(with_dir, "") == "/from/config");
  CHECK(resolve_state_dir(empty, "") == "/xdg/state/ctishare");
  {
    EnvGuard unset("XDG_STATE_HOME", nullptr);
    CHECK(resolve_state_dir(empty, "") == "/home/someone/.local/state/ctishare");
    CHECK(resolve_state_dir(with_dir, "") == "/from/config");
  }
  // Through parse_config, [state] dir wins over the environment.
  CHECK(resolve_state_dir(parse_ok("[state]\ndir = \"/srv/cti\"\n"), "") == "/srv/cti");
}

// ---------------------------------------------------------------- secrets

TEST_CASE("config: read_secret_file", "[core][config]") {
  TempDir dir;
  SECTION("mode 0600, trailing newline removed") {
    spit(dir / "pw", "s3cret value\n", 0600);
    auto r = read_secret_file(dir / "pw");
    REQUIRE(r);
    CHECK(*r == "s3cret value");
  }
  SECTION("CRLF removed, inner newlines and spaces kept") {
    spit(dir / "pw", "  line1\nline2 \r\n", 0600);
    auto r = read_secret_file(dir / "pw");
    REQUIRE(r);
    CHECK(*r == "  line1\nline2 ");
  }
  SECTION("no trailing newline, and mode 0400") {
    spit(dir / "pw", "token", 0400);
    auto r = read_secret_file(dir / "pw");
    REQUIRE(r);
    CHECK(*r == "token");
  }
  SECTION("readable by group or others is refused") {
    for (mode_t mode : {0644, 0640, 0604, 0660, 0606, 0664}) {
      INFO("mode " << std::oct << mode);
      spit(dir / "open", "secret\n", mode);
      auto r = read_secret_file(dir / "open");
      REQUIRE_FALSE(r);
      CHECK(r.error().category() == ErrorCategory::permission);
      CHECK(exit_code(r.error().category()) == 77);
      CHECK_THAT(r.error().message(), Contains(quote(dir / "open")));
      CHECK_THAT(r.error().message(), Contains("chmod 600"));
      // The secret itself never appears in the message.
      CHECK_THAT(r.error().message(), !Contains("secret\n"));
    }
  }
  SECTION("missing file") {
    auto r = read_secret_file(dir / "none");
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == ErrorCategory::no_input);
    CHECK(exit_code(r.error().category()) == 66);
    CHECK_THAT(r.error().message(), Contains(quote(dir / "none")));
  }
}

TEST_CASE("config: mask_secret reveals at most the first and last four characters", "[core][config]") {
  CHECK(mask_secret("") == "****");
  CHECK(mask_secret("abc") == "****");
  CHECK(mask_secret("abcdefghijklmno") == "****");  // 15
  CHECK(mask_secret("abcdefghijklmnop") == "abcd...mnop");  // 16
  CHECK(mask_secret("sk_live_0123456789abcdefXYZW") == "sk_l...XYZW");

  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (std::size_t n = 0; n <= alphabet.size(); ++n) {
    const std::string secret = alphabet.substr(0, n);
    const std::string masked = mask_secret(secret);
    INFO("length " << n << ": " << masked);
    std::size_t revealed = 0;
    for (char ch : masked) revealed += secret.find(ch) != std::string::npos ? 1 : 0;
    CHECK(revealed <= 8);
    if (n < 16) {
      CHECK(revealed == 0);
    } else {
      CHECK(masked.substr(0, 4) == secret.substr(0, 4));
      CHECK(masked.substr(masked.size() - 4) == secret.substr(n - 4));
      // Nothing from the middle.
      for (std::size_t i = 4; i < n - 4; ++i) CHECK(masked.find(secret[i]) == std::string::npos);
    }
  }
}

// ---------------------------------------------------------------- result.h

TEST_CASE("result: exit_code for every category", "[core][result]") {
  CHECK(exit_code(ErrorCategory::negative) == 1);
  CHECK(exit_code(ErrorCategory::usage) == 64);
  CHECK(exit_code(ErrorCategory::data) == 65);
  CHECK(exit_code(ErrorCategory::no_input) == 66);
  CHECK(exit_code(ErrorCategory::unavailable) == 69);
  CHECK(exit_code(ErrorCategory::internal) == 70);
  CHECK(exit_code(ErrorCategory::cannot_create) == 73);
  CHECK(exit_code(ErrorCategory::io) == 74);
  CHECK(exit_code(ErrorCategory::temp_fail) == 75);
  CHECK(exit_code(ErrorCategory::protocol) == 76);
  CHECK(exit_code(ErrorCategory::permission) == 77);
  CHECK(exit_code(ErrorCategory::config) == 78);
}

TEST_CASE("result: Error::with_context prefixes the message", "[core][result]") {
  Error e(ErrorCategory::data, "bad confidence");
  e.with_context("line 3");
  CHECK(e.message() == "line 3: bad confidence");
  e.with_context(quote("in.csv"));
  CHECK(e.message() == "'in.csv': line 3: bad confidence");
  CHECK(e.category() == ErrorCategory::data);

  Error same(ErrorCategory::io, "x");
  same.with_context("");
  CHECK(same.message() == "x");

  Error moved = Error(ErrorCategory::usage, "unknown flag").with_context("stix-gen");
  CHECK(moved.message() == "stix-gen: unknown flag");
  CHECK(moved.category() == ErrorCategory::usage);

  CHECK(quote("a b") == "'a b'");
  CHECK(quote("") == "''");
}

namespace {

Result<int> half(int n) {
  if (n % 2 != 0) return Error(ErrorCategory::data, "odd number " + std::to_string(n));
  return n / 2;
}

int calls_after_failure = 0;

Status check_all(std::initializer_list<int> ns) {
  for (int n : ns) {
    CTI_TRY_STATUS(half(n));
    ++calls_after_failure;
  }
  return {};
}

}  // namespace

TEST_CASE("result: Result<T> and Status basics", "[core][result]") {
  Result<int> ok = half(8);
  REQUIRE(ok.has_value());
  CHECK(static_cast<bool>(ok));
  CHECK(ok.value() == 4);
  CHECK(*ok == 4);

  Result<int> bad = half(7);
  CHECK_FALSE(bad.has_value());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.error().category() == ErrorCategory::data);
  CHECK(bad.error().message() == "odd number 7");

  Result<std::string> s = std::string("text");
  CHECK(s->size() == 4);
  std::string taken = std::move(s).value();
  CHECK(taken == "text");

  Result<std::unique_ptr<int>> p = std::make_unique<int>(5);
  REQUIRE(p);
  std::unique_ptr<int> owned = std::move(*p);
  CHECK(*owned == 5);

  Status fine;
  CHECK(fine.has_value());
  CHECK(static_cast<bool>(fine));
  Status failed = Error(ErrorCategory::temp_fail, "busy");
  CHECK_FALSE(failed);
  CHECK(failed.error().category() == ErrorCategory::temp_fail);
  Error out = std::move(failed).error();
  CHECK(out.message() == "busy");

  calls_after_failure = 0;
  CHECK(check_all({2, 4, 6}));
  CHECK(calls_after_failure == 3);
  calls_after_failure = 0;
  Status st = check_all({2, 3, 4, 5});
  REQUIRE_FALSE(st);
  CHECK(st.error().message() == "odd number 3");
  CHECK(calls_after_failure == 1);
}

TEST_CASE("config: write_new_secret_file makes a 0600 file and never overwrites one", "[core][config]") {
  TempDir dir;
  const std::string path = dir / "partner.key";
  REQUIRE(write_new_secret_file(path, "k3y\n"));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(check_secret_file(path));
  CHECK(*read_secret_file(path) == "k3y");

  auto again = write_new_secret_file(path, "other\n");
  REQUIRE_FALSE(again);
  CHECK(again.error().category() == ErrorCategory::cannot_create);
  CHECK_THAT(again.error().message(), Contains("already exists"));
  CHECK(*read_secret_file(path) == "k3y");  // untouched

  auto nowhere = write_new_secret_file(dir / "missing/partner.key", "x");
  REQUIRE_FALSE(nowhere);
  CHECK(nowhere.error().category() == ErrorCategory::cannot_create);

  ::chmod(path.c_str(), 0640);
  auto open = check_secret_file(path);
  REQUIRE_FALSE(open);
  CHECK(open.error().category() == ErrorCategory::permission);
  auto missing = check_secret_file(dir / "none");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().category() == ErrorCategory::no_input);
}
