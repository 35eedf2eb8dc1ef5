// Tests of ctishare/taxii/auth.h: password and API-key hashes, JWT
// verification against keys made here with OpenSSL (RSA, EC, Ed25519,
// HMAC) including the classic attacks (alg "none", RS256-to-HS256 key
// confusion, tampering), and the Authenticator's choice between schemes.
// Password hashes use ln=14, r=1 (2 MiB, a few ms) to keep the suite fast.
#include "ctishare/taxii/auth.h"

#include "core/base64.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace ctishare;
using namespace ctishare::taxii;

namespace {

const PasswordHashParams kFast{14, 1, 1};
constexpr Micros kSecond = 1'000'000;
constexpr std::int64_t kNow = 1'772'366'400;  // 2026-03-01T12:00:00Z
constexpr Micros kNowMicros = kNow * kSecond;

// JWT segments: base64url without padding (RFC 7515 §2), the library's own
// encoder, which tests/lib/core/base64_test.cpp checks against RFC 4648.
std::string b64url(std::string_view in) {
  return detail::base64_encode(in, detail::Base64Alphabet::url, detail::Base64Padding::forbidden);
}

std::string b64(std::string_view in) {
  return detail::base64_encode(in, detail::Base64Alphabet::standard, detail::Base64Padding::required);
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

// A self-signed certificate for `key`, as PEM.
std::string certificate_pem(EVP_PKEY* key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("issuer"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  X509_free(cert);
  return out;
}

// Keys are made once per run: RSA generation is the slow part.
EVP_PKEY* rsa_key() {
  static Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  return key.get();
}
EVP_PKEY* ec_key() {
  static Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  return key.get();
}
EVP_PKEY* ec384_key() {
  static Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  return key.get();
}
EVP_PKEY* ed_key() {
  static Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  return key.get();
}

std::string sign(EVP_PKEY* key, const EVP_MD* md, std::string_view data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, md, nullptr, key);
  std::size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(data.data()), data.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

// DER ECDSA signature to JOSE's r || s.
std::string jose_ecdsa(std::string_view der, int half) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string out(static_cast<std::size_t>(2 * half), '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(out.data()), half);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(out.data()) + half, half);
  ECDSA_SIG_free(sig);
  return out;
}

std::string hmac_sha(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[64];
  unsigned len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes

JwtSettings jwt_settings(std::string alg, std::string key) {
  JwtSettings s;
  s.algorithm = std::move(alg);
  s.key = std::move(key);
  return s;
}

// A compact JWS of `header` and `claims` (JSON text) signed per `alg`.
std::string make_token(const std::string& alg, const std::string& claims, std::string header = "") {
  if (header.empty()) header = R"({"alg":")" + alg + R"(","typ":"JWT"})";
  const std::string input = b64url(header) + "." + b64url(claims);
  std::string sig;
  if (alg == "HS256")
    sig = hmac_sha(EVP_sha256(), kSecret, input);
  else if (alg == "RS256")
    sig = sign(rsa_key(), EVP_sha256(), input);
  else if (alg == "ES256")
    sig = jose_ecdsa(sign(ec_key(), EVP_sha256(), input), 32);
  else if (alg == "ES384")
    sig = jose_ecdsa(sign(ec384_key(), EVP_sha384(), input), 48);
  else if (alg == "EdDSA")
    sig = sign(ed_key(), nullptr, input);
  return input + "." + b64url(sig);
}

std::string claims(const std::string& extra = "") {
  std::string c = R"({"sub":"alice","iss":"https://idp.example","aud":"taxii","exp":)" + std::to_string(kNow + 600) +
                  R"(,"iat":)" + std::to_string(kNow - 10);
  if (!extra.empty()) c += "," + extra;
  return c + "}";
}

JwtVerifier verifier(const std::string& alg, std::string key) {
  JwtSettings s;
  s.algorithm = alg;
  s.key = std::move(key);
  s.issuer = "https://idp.example";
  s.audience = "taxii";
  auto v = JwtVerifier::create(s);
  REQUIRE(v);
  return std::move(*v);
}

// Checks the token is refused with a permission error whose message
// contains `expect` and not the token.
void refused(const JwtVerifier& v, const std::string& token, const std::string& expect, Micros now = kNowMicros) {
  auto r = v.verify(token, now);
  REQUIRE_FALSE(r);
  CHECK(r.error().category() == ErrorCategory::permission);
  CHECK_THAT(r.error().message(), Catch::Contains(expect));
  if (token.size() > 8) CHECK(r.error().message().find(token.substr(0, token.find('.'))) == std::string::npos);
}

Header basic_header(const std::string& user, const std::string& password) {
  return {"Authorization", "Basic " + b64(user + ":" + password)};
}

}  // namespace

// ------------------------------------------------------------- passwords

TEST_CASE("password hashes round-trip and refuse wrong passwords", "[auth]") {
  auto hash = hash_password("correct horse", kFast);
  REQUIRE(hash);
  CHECK(hash->rfind("$scrypt$ln=14,r=1,p=1$", 0) == 0);
  CHECK(check_password_hash(*hash));
  CHECK(verify_password("correct horse", *hash));
  CHECK_FALSE(verify_password("correct horsE", *hash));
  CHECK_FALSE(verify_password("", *hash));
  // A fresh salt every time.
  auto again = hash_password("correct horse", kFast);
  REQUIRE(again);
  CHECK(*again != *hash);
  CHECK(verify_password("correct horse", *again));
}

TEST_CASE("a hash made by another scrypt implementation verifies", "[auth]") {
  // Python's hashlib.scrypt(b"pleaseletmein", salt=b"SodiumChloride16",
  // n=16384, r=8, p=1, dklen=32) in the PHC form (RFC 7914 §12's fourth
  // vector, with a salt long enough for our 16-byte minimum).
  const std::string hash = "$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGUxNg$ywd3KuG5N75+/+n/Cjfqd4qjzQQanR1jI1SPfrFKXNY";
  CHECK(check_password_hash(hash));
  CHECK(verify_password("pleaseletmein", hash));
  CHECK_FALSE(verify_password("pleaseletmeout", hash));
}

TEST_CASE("password hashes have the PHC form with unpadded standard base64", "[auth]") {
  auto hash = hash_password("pw", kFast);
  REQUIRE(hash);
  const std::string h = *hash;
  const auto salt_at = h.find('$', 8) + 1;
  const auto hash_at = h.find('$', salt_at) + 1;
  CHECK(hash_at - salt_at - 1 == 22);  // 16 bytes
  CHECK(h.size() - hash_at == 43);     // 32 bytes
  CHECK(h.find('=', salt_at) == std::string::npos);
}

TEST_CASE("hash_password refuses parameters out of range", "[auth]") {
  CHECK_FALSE(hash_password("x", {13, 8, 1}));
  CHECK_FALSE(hash_password("x", {21, 8, 1}));
  CHECK_FALSE(hash_password("x", {14, 0, 1}));
  CHECK_FALSE(hash_password("x", {14, 1, 5}));
  CHECK_FALSE(hash_password("x", {20, 8, 1}));  // 1 GiB
  auto empty = hash_password("", kFast);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().category() == ErrorCategory::config);
}

TEST_CASE("check_password_hash names what is wrong", "[auth]") {
  auto good = hash_password("secret", kFast);
  REQUIRE(good);
  const std::string salt = "c2FsdHNhbHRzYWx0c2FsdA";                       // 16 bytes
  const std::string hash = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";  // 32 bytes
  const std::string ok = "$scrypt$ln=14,r=8,p=1$" + salt + "$" + hash;
  CHECK(check_password_hash(ok));
  struct Case {
    std::string encoded, expect;
  };
  const std::vector<Case> cases{
      {"", "must start with"},
      {"$2b$12$abcdefghijklmnopqrstuv", "must start with"},
      {"$scrypt$ln=14,r=8,p=1$" + salt, "expected $scrypt$"},
      {"$scrypt$ln=14,r=8,p=1$" + salt + "$" + hash + "$x", "expected $scrypt$"},
      {"$scrypt$ln=13,r=8,p=1$" + salt + "$" + hash, "ln=13 is out of range"},
      {"$scrypt$ln=21,r=8,p=1$" + salt + "$" + hash, "ln=21 is out of range"},
      {"$scrypt$ln=14,r=0,p=1$" + salt + "$" + hash, "r=0 is out of range"},
      {"$scrypt$ln=14,r=8,p=9$" + salt + "$" + hash, "p=9 is out of range"},
      {"$scrypt$ln=20,r=8,p=1$" + salt + "$" + hash, "256 MiB"},
      {"$scrypt$r=8,ln=14,p=1$" + salt + "$" + hash, "expected ln=N,r=R,p=P"},
      {"$scrypt$ln=014,r=8,p=1$" + salt + "$" + hash, "decimal"},
      {"$scrypt$ln=+14,r=8,p=1$" + salt + "$" + hash, "decimal"},
      {"$scrypt$ln=14,r=8$" + salt + "$" + hash, "expected ln=N,r=R,p=P"},
      {"$scrypt$ln=14,r=8,p=1$" + salt + "==$" + hash, "salt is not base64"},
      {"$scrypt$ln=14,r=8,p=1$" + salt + "*$" + hash, "salt is not base64"},
      {"$scrypt$ln=14,r=8,p=1$c2FsdA$" + hash, "salt is 4 bytes"},
      {"$scrypt$ln=14,r=8,p=1$" + salt + "$" + hash.substr(0, 40), "hash is 30 bytes"},
      {"$scrypt$ln=14,r=8,p=1$" + salt + "$" + hash + "=", "hash is not base64"},
      {"$scrypt$ln=14,r=8,p=1$" + salt + "$" + hash.substr(0, 42) + "h", "hash is not base64"},  // non-canonical
  };
  for (const auto& c : cases) {
    INFO(c.encoded);
    auto status = check_password_hash(c.encoded);
    REQUIRE_FALSE(status);
    CHECK(status.error().category() == ErrorCategory::config);
    CHECK_THAT(status.error().message(), Catch::Contains(c.expect));
    CHECK_FALSE(verify_password("secret", c.encoded));
  }
}

// ------------------------------------------------------------------ API keys

TEST_CASE("API keys: generate, hash, verify", "[auth]") {
  const std::string key = generate_api_key();
  CHECK(key.size() == 43);
  CHECK(key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
  CHECK(generate_api_key() != key);
  const std::string hash = hash_api_key(key);
  CHECK(hash.size() == 7 + 64);
  CHECK(check_api_key_hash(hash));
  CHECK(verify_api_key(key, hash));
  CHECK_FALSE(verify_api_key(key + "x", hash));
  CHECK_FALSE(verify_api_key("", hash_api_key("")));
  // The SHA-256 of "abc" (FIPS 180-2 B.1).
  CHECK(hash_api_key("abc") == "sha256$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  const std::vector<std::string> bad_hashes{"",
                                            "sha1$abc",
                                            "sha256$",
                                            "sha256$" + std::string(63, 'a'),
                                            "sha256$" + std::string(64, 'A'),
                                            "sha256$" + std::string(63, 'a') + "g"};
  for (const std::string& bad : bad_hashes) {
    INFO(bad);
    auto status = check_api_key_hash(bad);
    REQUIRE_FALSE(status);
    CHECK(status.error().category() == ErrorCategory::config);
    CHECK_FALSE(verify_api_key(key, bad));
  }
}

// ---------------------------------------------------------------------- JWT

TEST_CASE("JwtVerifier::create refuses unusable settings", "[auth]") {
  const auto refuses = [](JwtSettings s, const std::string& expect) {
    auto v = JwtVerifier::create(std::move(s));
    REQUIRE_FALSE(v);
    CHECK(v.error().category() == ErrorCategory::config);
    CHECK_THAT(v.error().message(), Catch::Contains(expect));
  };
  refuses(jwt_settings("none", kSecret), "\"none\"");
  refuses(jwt_settings("NONE", kSecret), "\"none\"");
  refuses(jwt_settings("HS257", kSecret), "unknown JWT algorithm");
  refuses(jwt_settings("", kSecret), "unknown JWT algorithm");
  refuses(jwt_settings("HS256", "short"), "at least 32 bytes");
  refuses(jwt_settings("HS512", kSecret), "at least 64 bytes");
  refuses(jwt_settings("HS256", public_pem(rsa_key())), "not a PEM key");
  refuses(jwt_settings("RS256", "not a pem"), "not a PEM public key");
  refuses(jwt_settings("RS256", public_pem(ec_key())), "needs an RSA key");
  refuses(jwt_settings("ES256", public_pem(rsa_key())), "needs an EC key on P-256");
  refuses(jwt_settings("ES256", public_pem(ec384_key())), "needs an EC key on P-256");
  refuses(jwt_settings("ES384", public_pem(ec_key())), "needs an EC key on P-384");
  refuses(jwt_settings("EdDSA", public_pem(ec_key())), "Ed25519");
  refuses(jwt_settings("RS256", "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n"), "private key");
  JwtSettings no_claim = jwt_settings("HS256", kSecret);
  no_claim.user_claim = "";
  refuses(no_claim, "user claim");
  JwtSettings leeway = jwt_settings("HS256", kSecret);
  leeway.leeway_seconds = -1;
  refuses(leeway, "leeway");

  Pkey small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  refuses(jwt_settings("RS256", public_pem(small.get())), "2048 bits");
}

TEST_CASE("valid tokens of every key type verify", "[auth]") {
  CHECK(*verifier("HS256", kSecret).verify(make_token("HS256", claims()), kNowMicros) == "alice");
  CHECK(*verifier("RS256", public_pem(rsa_key())).verify(make_token("RS256", claims()), kNowMicros) == "alice");
  CHECK(*verifier("ES256", public_pem(ec_key())).verify(make_token("ES256", claims()), kNowMicros) == "alice");
  CHECK(*verifier("ES384", public_pem(ec384_key())).verify(make_token("ES384", claims()), kNowMicros) == "alice");
  CHECK(*verifier("EdDSA", public_pem(ed_key())).verify(make_token("EdDSA", claims()), kNowMicros) == "alice");
  // A certificate stands in for its public key.
  CHECK(*verifier("RS256", certificate_pem(rsa_key())).verify(make_token("RS256", claims()), kNowMicros) == "alice");
  CHECK(*verifier("ES256", certificate_pem(ec_key())).verify(make_token("ES256", claims()), kNowMicros) == "alice");
}

TEST_CASE("a PKCS#1 RSA public key is accepted", "[auth]") {
  BIO* bio = BIO_new(BIO_s_mem());
  OSSL_ENCODER_CTX* ectx =
      OSSL_ENCODER_CTX_new_for_pkey(rsa_key(), EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", nullptr);
  REQUIRE(ectx != nullptr);
  REQUIRE(OSSL_ENCODER_to_bio(ectx, bio) == 1);
  OSSL_ENCODER_CTX_free(ectx);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  REQUIRE_THAT(pem, Catch::Contains("BEGIN RSA PUBLIC KEY"));
  CHECK(*verifier("RS256", pem).verify(make_token("RS256", claims()), kNowMicros) == "alice");
}

TEST_CASE("time claims: exp required, nbf and iat with leeway", "[auth]") {
  const auto v = verifier("HS256", kSecret);
  const std::string base = R"({"sub":"alice","iss":"https://idp.example","aud":"taxii")";
  const auto token = [&](const std::string& extra) { return make_token("HS256", base + "," + extra + "}"); };
  const std::string exp = R"("exp":)" + std::to_string(kNow);

  refused(v, make_token("HS256", base + "}"), "no expiry");
  refused(v, token(R"("exp":"tomorrow")"), "'exp' claim is not a number");
  refused(v, token(R"("exp":1e300)"), "out of range");
  // Expired, with and beyond the 60 s leeway.
  CHECK(v.verify(token(exp), kNowMicros + 59 * kSecond));
  refused(v, token(exp), "expired", kNowMicros + 60 * kSecond);
  refused(v, token(R"("exp":)" + std::to_string(kNow - 3600)), "expired");
  // Fractional NumericDate.
  CHECK(v.verify(token(R"("exp":)" + std::to_string(kNow) + ".5"), kNowMicros + 60 * kSecond));
  // Not before.
  const std::string far = R"("exp":)" + std::to_string(kNow + 3600);
  refused(v, token(far + R"(,"nbf":)" + std::to_string(kNow + 120)), "not valid yet");
  CHECK(v.verify(token(far + R"(,"nbf":)" + std::to_string(kNow + 30)), kNowMicros));
  // Issued in the future.
  refused(v, token(far + R"(,"iat":)" + std::to_string(kNow + 120)), "issued in the future");
  CHECK(v.verify(token(far + R"(,"iat":)" + std::to_string(kNow + 30)), kNowMicros));
  // Leeway 0.
  JwtSettings strict = jwt_settings("HS256", kSecret);
  strict.leeway_seconds = 0;
  auto sv = JwtVerifier::create(strict);
  REQUIRE(sv);
  refused(*sv, token(far + R"(,"nbf":)" + std::to_string(kNow + 1)), "not valid yet");
}

TEST_CASE("issuer and audience are enforced", "[auth]") {
  const auto v = verifier("HS256", kSecret);
  const std::string exp = R"("exp":)" + std::to_string(kNow + 600);
  const auto token = [&](const std::string& body) {
    return make_token("HS256", "{" + exp + R"(,"sub":"alice",)" + body + "}");
  };
  CHECK(v.verify(token(R"("iss":"https://idp.example","aud":"taxii")"), kNowMicros));
  CHECK(v.verify(token(R"("iss":"https://idp.example","aud":["other","taxii"])"), kNowMicros));
  refused(v, token(R"("iss":"https://evil.example","aud":"taxii")"), "issuer");
  refused(v, token(R"("aud":"taxii")"), "issuer");
  refused(v, token(R"("iss":7,"aud":"taxii")"), "issuer");
  refused(v, token(R"("iss":"https://idp.example","aud":"other")"), "audience");
  refused(v, token(R"("iss":"https://idp.example","aud":["other","TAXII"])"), "audience");
  refused(v, token(R"("iss":"https://idp.example","aud":[])"), "audience");
  refused(v, token(R"("iss":"https://idp.example")"), "audience");
  // Neither configured: neither checked.
  auto open = JwtVerifier::create(jwt_settings("HS256", kSecret));
  REQUIRE(open);
  CHECK(*open->verify(make_token("HS256", "{" + exp + R"(,"sub":"bob"})"), kNowMicros) == "bob");
}

TEST_CASE("the user claim must be a usable name", "[auth]") {
  const auto v = verifier("HS256", kSecret);
  const std::string base = R"("iss":"https://idp.example","aud":"taxii","exp":)" + std::to_string(kNow + 600);
  refused(v, make_token("HS256", "{" + base + "}"), "no 'sub' claim");
  refused(v, make_token("HS256", "{" + base + R"(,"sub":""})"), "not a usable user name");
  refused(v, make_token("HS256", "{" + base + R"(,"sub":42})"), "not a usable user name");
  refused(v, make_token("HS256", "{" + base + R"(,"sub":"a\nb"})"), "not a usable user name");
  JwtSettings s = jwt_settings("HS256", kSecret);
  s.user_claim = "preferred_username";
  auto named = JwtVerifier::create(s);
  REQUIRE(named);
  CHECK(*named->verify(make_token("HS256", "{" + base + R"(,"sub":"x","preferred_username":"carol"})"), kNowMicros) ==
        "carol");
}

TEST_CASE("algorithm attacks are refused", "[auth]") {
  const std::string pem = public_pem(rsa_key());
  const auto v = verifier("RS256", pem);

  SECTION("alg none with an empty signature") {
    const std::string token = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(claims()) + ".";
    refused(v, token, "alg \"none\"");
    refused(v, b64url(R"({"alg":"None"})") + "." + b64url(claims()) + ".", "alg \"none\"");
  }
  SECTION("HS256 signed with the RSA public key as its secret (key confusion)") {
    const std::string input = b64url(R"({"alg":"HS256","typ":"JWT"})") + "." + b64url(claims());
    const std::string token = input + "." + b64url(hmac_sha(EVP_sha256(), pem, input));
    refused(v, token, "signed with HS256, not RS256");
  }
  SECTION("an unknown algorithm is not echoed") {
    const std::string token = b64url(R"({"alg":"XX<script>"})") + "." + b64url(claims()) + ".AAAA";
    refused(v, token, "another algorithm");
    CHECK(v.verify(token, kNowMicros).error().message().find("script") == std::string::npos);
  }
  SECTION("a missing or non-string alg") {
    refused(v, b64url(R"({"typ":"JWT"})") + "." + b64url(claims()) + ".AAAA", "no algorithm");
    refused(v, b64url(R"({"alg":256})") + "." + b64url(claims()) + ".AAAA", "no algorithm");
  }
  SECTION("crit headers") {
    refused(v, make_token("RS256", claims(), R"({"alg":"RS256","crit":["b64"],"b64":false})"), "critical");
  }
  SECTION("duplicate header names") {
    refused(v, make_token("RS256", claims(), R"({"alg":"RS256","alg":"RS256"})"), "header is not");
  }
  SECTION("kid, jku and x5u are ignored, not followed") {
    CHECK(v.verify(make_token("RS256", claims(), R"({"alg":"RS256","kid":"k1","jku":"https://evil.example/jwks"})"),
                   kNowMicros));
  }
  SECTION("ES256 pinned, RS256 token") {
    refused(verifier("ES256", public_pem(ec_key())), make_token("RS256", claims()), "signed with RS256, not ES256");
  }
}

TEST_CASE("signatures: wrong key, tampering, truncation", "[auth]") {
  SECTION("HMAC") {
    const auto v = verifier("HS256", kSecret);
    const auto other = verifier("HS256", std::string(32, 'k'));
    const std::string token = make_token("HS256", claims());
    refused(other, token, "signature is not valid");
    // Tampered payload with the original signature.
    const auto dot1 = token.find('.'), dot2 = token.rfind('.');
    const std::string forged =
        token.substr(0, dot1 + 1) + b64url(R"({"sub":"admin","exp":9999999999})") + token.substr(dot2);
    refused(v, forged, "signature is not valid");
    refused(v, token.substr(0, token.size() - 4), "signature");
    refused(v, token.substr(0, dot2 + 1), "signature is not valid");
  }
  SECTION("RSA") {
    Pkey other(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
    const auto v = verifier("RS256", public_pem(other.get()));
    refused(v, make_token("RS256", claims()), "signature is not valid");
  }
  SECTION("ECDSA: wrong key, DER instead of r||s, flipped bit") {
    Pkey other(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    refused(verifier("ES256", public_pem(other.get())), make_token("ES256", claims()), "signature is not valid");
    const auto v = verifier("ES256", public_pem(ec_key()));
    const std::string input = b64url(R"({"alg":"ES256"})") + "." + b64url(claims());
    refused(v, input + "." + b64url(sign(ec_key(), EVP_sha256(), input)), "signature is not valid");
    std::string raw = jose_ecdsa(sign(ec_key(), EVP_sha256(), input), 32);
    CHECK(v.verify(input + "." + b64url(raw), kNowMicros));
    raw[5] = static_cast<char>(raw[5] ^ 1);
    refused(v, input + "." + b64url(raw), "signature is not valid");
    refused(v, input + "." + b64url(std::string(64, '\0')), "signature is not valid");
  }
  SECTION("EdDSA tampered payload") {
    const auto v = verifier("EdDSA", public_pem(ed_key()));
    const std::string token = make_token("EdDSA", claims());
    const auto dot1 = token.find('.'), dot2 = token.rfind('.');
    refused(v, token.substr(0, dot1 + 1) + b64url(claims(R"("admin":true)")) + token.substr(dot2),
            "signature is not valid");
  }
}

TEST_CASE("garbage tokens are refused without echo", "[auth]") {
  const auto v = verifier("HS256", kSecret);
  const std::string good = make_token("HS256", claims());
  const std::vector<std::string> garbage{std::string(),
                                         std::string("."),
                                         std::string(".."),
                                         std::string("abc"),
                                         std::string("a.b"),
                                         std::string("a.b.c.d"),
                                         good + ".x",
                                         std::string("!!!.###.$$$"),
                                         b64url("not json") + "." + b64url(claims()) + ".AAAA",
                                         b64url("[1,2]") + "." + b64url(claims()) + ".AAAA",
                                         b64url(R"({"alg":"HS256"})") + "==." + b64url(claims()) + ".AAAA",
                                         std::string(9000, 'a') + ".b.c"};
  for (const std::string& bad : garbage) {
    INFO(bad.substr(0, 60));
    auto r = v.verify(bad, kNowMicros);
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == ErrorCategory::permission);
  }
  // A correctly signed token whose claims are not an object, or repeat a name.
  refused(v, make_token("HS256", "[]"), "claims are not");
  refused(v, make_token("HS256", R"({"sub":"alice","sub":"admin","exp":9999999999})"), "claims are not");
  // Deep nesting cannot exhaust the stack (iterative parsing).
  refused(v, make_token("HS256", std::string(2500, '[') + std::string(2500, ']')), "claims are not");
}

// ------------------------------------------------------------ Authenticator

namespace {

struct Fixture {
  std::string alice_key = generate_api_key();
  std::string carol_key = generate_api_key();
  Authenticator auth = make();

  Authenticator make() {
    AuthSettings s;
    s.users.push_back({"alice", *hash_password("wonderland", kFast), hash_api_key(alice_key), ""});
    s.users.push_back({"bob", *hash_password("builder", kFast), "", "bob.example.org"});
    s.users.push_back({"carol", "", hash_api_key(carol_key), ""});
    JwtSettings jwt = jwt_settings("HS256", kSecret);
    jwt.issuer = "https://idp.example";
    jwt.audience = "taxii";
    s.jwt = jwt;
    auto a = Authenticator::create(std::move(s));
    REQUIRE(a);
    return std::move(*a);
  }

  AuthResult run(std::vector<Header> headers, std::string_view subject = "", Micros now = kNowMicros) {
    return auth.authenticate(headers, subject, now);
  }
};

void is_user(const AuthResult& r, const std::string& user, const std::string& scheme) {
  INFO(r.reason);
  CHECK(r.outcome == AuthResult::Outcome::authenticated);
  CHECK(r.user == user);
  CHECK(r.scheme == scheme);
  CHECK(r.reason.empty());
}

void is_rejected(const AuthResult& r, const std::string& reason) {
  CHECK(r.outcome == AuthResult::Outcome::rejected);
  CHECK(r.user.empty());
  CHECK_THAT(r.reason, Catch::Contains(reason));
  CHECK(r.reason.find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("Authenticator: each scheme authenticates", "[auth]") {
  Fixture f;
  is_user(f.run({basic_header("alice", "wonderland")}), "alice", "basic");
  is_user(f.run({{"authorization", "basic " + b64("bob:builder")}}), "bob", "basic");
  is_user(f.run({{"X-API-Key", f.alice_key}}), "alice", "apikey");
  is_user(f.run({{"x-api-key", "  " + f.carol_key + " "}}), "carol", "apikey");
  is_user(f.run({{"Authorization", "ApiKey " + f.carol_key}}), "carol", "apikey");
  is_user(f.run({{"Authorization", "Bearer " + make_token("HS256", claims())}}), "alice", "bearer");
  is_user(f.run({}, "bob.example.org"), "bob", "certificate");
  // Passwords may hold ':' (only the user-id may not) and UTF-8.
  AuthSettings s;
  s.users.push_back({"dave", *hash_password("a:b:\xC3\xA9", kFast), "", ""});
  auto a = Authenticator::create(s);
  REQUIRE(a);
  const std::vector<Header> h{basic_header("dave", "a:b:\xC3\xA9")};
  is_user(a->authenticate(h, "", kNowMicros), "dave", "basic");
}

TEST_CASE("Authenticator: no credentials is anonymous", "[auth]") {
  Fixture f;
  const auto r = f.run({{"Accept", "application/taxii+json;version=2.1"}});
  CHECK(r.outcome == AuthResult::Outcome::anonymous);
  CHECK(r.user.empty());
  CHECK(r.scheme.empty());
  CHECK(f.auth.password_checks() == 0);
}

TEST_CASE("Authenticator: wrong credentials are rejected, never passed over", "[auth]") {
  Fixture f;
  is_rejected(f.run({basic_header("alice", "Wonderland")}), "wrong password for user 'alice'");
  is_rejected(f.run({basic_header("mallory", "wonderland")}), "unknown user 'mallory'");
  is_rejected(f.run({basic_header("carol", "x")}), "user 'carol' has no password");
  // Unknown users, users without a password and wrong passwords all cost one scrypt.
  CHECK(f.auth.password_checks() == 3);
  is_rejected(f.run({{"Authorization", "Basic !!!!"}}), "not base64");
  is_rejected(f.run({{"Authorization", "Basic " + b64("alice:wonderland").substr(0, 10)}}), "not base64");
  is_rejected(f.run({{"Authorization", "Basic " + b64("alicewonderland")}}), "no user-id:password");
  is_rejected(f.run({{"Authorization", "Basic " + b64(":wonderland")}}), "no user-id:password");
  is_rejected(f.run({{"Authorization", "Basic " + b64("alice:wonder\nland")}}), "control characters");
  is_rejected(f.run({{"Authorization", "Basic"}}), "no credentials");
  is_rejected(f.run({{"X-API-Key", "nope"}}), "no user has this key");
  is_rejected(f.run({{"X-API-Key", ""}}), "malformed key");
  is_rejected(f.run({{"Authorization", "Bearer " + make_token("HS256", claims(R"("nbf":9999999999)"))}}),
              "bearer: the token is not valid yet");
  is_rejected(f.run({{"Authorization", "Bearer"}}), "no token");
  is_rejected(f.run({{"Authorization", "Digest username=\"alice\""}}), "unsupported Authorization scheme 'Digest'");
  is_rejected(f.run({}, "eve.example.org"), "subject 'eve.example.org' maps to no user");
  is_rejected(f.run({{"Authorization", "Basic " + b64("alice:wonderland")}, {"authorization", "Bearer x"}}),
              "more than one Authorization header");
  is_rejected(f.run({{"X-API-Key", f.alice_key}, {"X-Api-Key", f.carol_key}}), "more than one");

  // A wrong Authorization header is not rescued by a good API key or certificate.
  is_rejected(f.run({basic_header("alice", "nope"), {"X-API-Key", f.alice_key}}, "bob.example.org"), "wrong password");
  is_rejected(f.run({{"X-API-Key", "nope"}}, "bob.example.org"), "no user has this key");
  // A good one wins over the later ones.
  is_user(f.run({{"X-API-Key", f.carol_key}}, "bob.example.org"), "carol", "apikey");

  // No secret in any reason.
  const auto r = f.run({basic_header("alice", "S3cr3t-Passw0rd")});
  CHECK(r.reason.find("S3cr3t") == std::string::npos);
  const auto k = f.run({{"X-API-Key", "S3cr3t-K3y"}});
  CHECK(k.reason.find("S3cr3t") == std::string::npos);
}

TEST_CASE("Authenticator: verified Basic credentials are cached, failures are not", "[auth]") {
  Fixture f;
  is_user(f.run({basic_header("alice", "wonderland")}), "alice", "basic");
  CHECK(f.auth.password_checks() == 1);
  for (int i = 0; i < 5; ++i)
    is_user(f.run({basic_header("alice", "wonderland")}, "", kNowMicros + i), "alice", "basic");
  CHECK(f.auth.password_checks() == 1);
  // A copy shares the cache.
  Authenticator copy = f.auth;
  const std::vector<Header> h{basic_header("alice", "wonderland")};
  is_user(copy.authenticate(h, "", kNowMicros), "alice", "basic");
  CHECK(f.auth.password_checks() == 1);
  // A wrong password is checked every time, and a cached success for one
  // password says nothing about another.
  is_rejected(f.run({basic_header("alice", "wonderlanD")}), "wrong password");
  is_rejected(f.run({basic_header("alice", "wonderlanD")}), "wrong password");
  CHECK(f.auth.password_checks() == 3);
  // Another user's entry is separate.
  is_user(f.run({basic_header("bob", "builder")}), "bob", "basic");
  CHECK(f.auth.password_checks() == 4);
  // After five minutes the password is checked again.
  is_user(f.run({basic_header("alice", "wonderland")}, "", kNowMicros + 301 * kSecond), "alice", "basic");
  CHECK(f.auth.password_checks() == 5);
}

TEST_CASE("Authenticator: the cache evicts the oldest and can be turned off", "[auth]") {
  AuthSettings s;
  s.users.push_back({"a", *hash_password("pa", kFast), "", ""});
  s.users.push_back({"b", *hash_password("pb", kFast), "", ""});
  s.basic_cache_entries = 1;
  auto one = Authenticator::create(s);
  REQUIRE(one);
  const std::vector<Header> a{basic_header("a", "pa")}, b{basic_header("b", "pb")};
  is_user(one->authenticate(a, "", kNowMicros), "a", "basic");
  is_user(one->authenticate(b, "", kNowMicros), "b", "basic");  // evicts a
  is_user(one->authenticate(b, "", kNowMicros), "b", "basic");
  CHECK(one->password_checks() == 2);
  is_user(one->authenticate(a, "", kNowMicros), "a", "basic");
  CHECK(one->password_checks() == 3);

  s.basic_cache_seconds = 0;
  auto off = Authenticator::create(s);
  REQUIRE(off);
  is_user(off->authenticate(a, "", kNowMicros), "a", "basic");
  is_user(off->authenticate(a, "", kNowMicros), "a", "basic");
  CHECK(off->password_checks() == 2);
}

TEST_CASE("Authenticator: concurrent Basic requests are all answered", "[auth]") {
  Fixture f;
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      const std::vector<Header> h{basic_header(t % 2 ? "alice" : "bob", t % 2 ? "wonderland" : "builder")};
      ok[static_cast<std::size_t>(t)] =
          f.auth.authenticate(h, "", kNowMicros).outcome == AuthResult::Outcome::authenticated;
    });
  for (auto& t : threads) t.join();
  for (int v : ok) CHECK(v == 1);
  // One check per distinct credential: the others wait for it (single
  // flight) and take its cached success.
  CHECK(f.auth.password_checks() == 2);
}

TEST_CASE("Authenticator::create refuses bad settings", "[auth]") {
  const std::string hash = *hash_password("x", kFast);
  const auto refuses = [](AuthSettings s, const std::string& expect) {
    auto a = Authenticator::create(std::move(s));
    REQUIRE_FALSE(a);
    CHECK(a.error().category() == ErrorCategory::config);
    CHECK_THAT(a.error().message(), Catch::Contains(expect));
  };
  AuthSettings s;
  s.users = {{"alice", hash, "", ""}, {"alice", "", "", ""}};
  refuses(s, "user 'alice' is configured twice");
  s.users = {{"", hash, "", ""}};
  refuses(s, "has no name");
  s.users = {{"a:b", hash, "", ""}};
  refuses(s, "may not contain ':'");
  s.users = {{"alice", "$scrypt$ln=14,r=8,p=1$x$y", "", ""}};
  refuses(s, "user 'alice': password hash: the scrypt salt");
  s.users = {{"alice", "plain-text", "", ""}};
  refuses(s, "must start with \"$scrypt$\"");
  s.users = {{"alice", "", "sha256$00", ""}};
  refuses(s, "user 'alice': API-key hash");
  s.users = {{"alice", "", hash_api_key("k"), ""}, {"bob", "", hash_api_key("k"), ""}};
  refuses(s, "same API key");
  s.users = {{"alice", "", "", "cn"}, {"bob", "", "", "cn"}};
  refuses(s, "same certificate subject");
  s.users = {};
  s.jwt = jwt_settings("none", "");
  refuses(s, "jwt: the JWT algorithm \"none\"");
  s.jwt.reset();
  s.realm = "a\"b";
  refuses(s, "realm");
  s.realm = "TAXII";
  s.api_key_header = "Authorization";
  refuses(s, "API-key header");
  s.api_key_header = "X API Key";
  refuses(s, "API-key header");
  s.api_key_header = "X-API-Key";
  s.max_concurrent_password_checks = 0;
  refuses(s, "max_concurrent_password_checks");
}

TEST_CASE("Authenticator: challenges", "[auth]") {
  Fixture f;
  CHECK(f.auth.challenge() == R"(Basic realm="TAXII", charset="UTF-8", Bearer realm="TAXII")");
  CHECK(f.auth.challenges().size() == 2);

  AuthSettings only_keys;
  only_keys.realm = "CTI feeds";
  only_keys.users.push_back({"k", "", hash_api_key("key"), ""});
  auto a = Authenticator::create(only_keys);
  REQUIRE(a);
  CHECK(a->challenge() == R"(Basic realm="CTI feeds", charset="UTF-8")");

  AuthSettings only_jwt;
  only_jwt.jwt = jwt_settings("HS256", kSecret);
  auto j = Authenticator::create(only_jwt);
  REQUIRE(j);
  CHECK(j->challenge() == R"(Bearer realm="TAXII")");
  // Basic is refused without costing a scrypt when nobody has a password.
  is_rejected(j->authenticate({basic_header("alice", "x")}, "", kNowMicros), "no user has a password");
  CHECK(j->password_checks() == 0);
  // Without JWT settings, bearer tokens are rejected.
  is_rejected(a->authenticate({{"Authorization", "Bearer abc"}}, "", kNowMicros), "not accepted");
  is_user(a->authenticate({{"X-API-Key", "key"}}, "", kNowMicros), "k", "apikey");
}
