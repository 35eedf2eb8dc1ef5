// Authentication for taxii-serve; see auth.h. OpenSSL does the cryptography
// (EVP_KDF "SCRYPT", EVP_MAC "HMAC", EVP_DigestVerify, CRYPTO_memcmp,
// RAND_bytes); RapidJSON reads JWT headers and claims. Everything that
// fails inside OpenSSL clears the thread's OpenSSL error queue before
// returning, because the server's TLS code on the same thread reads that
// queue and must not see our leftovers.
#include "ctishare/taxii/auth.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <list>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>
#include <unordered_map>
#include <utility>

#include "core/base64.h"
#include "core/digest.h"

namespace ctishare::taxii {

namespace {

// ------------------------------------------------------------ text helpers

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool is_ctl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

bool has_ctl(std::string_view s) {
  for (char c : s)
    if (is_ctl(c)) return true;
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A name (never a secret) quoted for a log line: control characters become
// '?', and anything past 64 bytes is cut at a UTF-8 boundary.
std::string for_log(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (out.size() >= 64 && (u & 0xC0) != 0x80) {
      out += "...";
      break;
    }
    out += is_ctl(c) ? '?' : c;
  }
  return quote(out);
}

// ----------------------------------------------------------------- base64

using detail::base64_decode;
using detail::base64_encode;
using detail::Base64Alphabet;
using detail::Base64Padding;

// ------------------------------------------------------------ OpenSSL glue

const unsigned char* bytes(std::string_view s) {
  static const unsigned char empty = 0;
  return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
}

// Fetched once; OpenSSL's fetched algorithms are safe to share between
// threads and live as long as the process, like digest.cpp's.
EVP_KDF* scrypt_kdf() {
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "SCRYPT", nullptr);
  return kdf;
}

EVP_MAC* hmac_mac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

// HMAC with the named digest ("SHA256", ...); false when OpenSSL fails.
bool hmac(const char* digest, std::string_view key, std::string_view data, std::array<unsigned char, 64>& out,
          std::size_t& out_len) {
  EVP_MAC* mac = hmac_mac();
  if (mac == nullptr) return false;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) return false;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
                         OSSL_PARAM_construct_end()};
  const bool ok = EVP_MAC_init(ctx, bytes(key), key.size(), params) == 1 &&
                  EVP_MAC_update(ctx, bytes(data), data.size()) == 1 &&
                  EVP_MAC_final(ctx, out.data(), &out_len, out.size()) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok) ERR_clear_error();
  return ok;
}

// ------------------------------------------------------------------ scrypt

constexpr std::string_view kScryptPrefix = "$scrypt$";
constexpr std::size_t kSaltBytes = 16, kMinSaltBytes = 16, kMaxSaltBytes = 64, kHashBytes = 32;
constexpr int kMinLog2N = 14, kMaxLog2N = 20, kMaxR = 16, kMaxP = 4;
constexpr std::uint64_t kMaxScryptMemory = 256ull * 1024 * 1024;

Status check_params(const PasswordHashParams& p) {
  const auto bad = [](std::string what) { return Error(ErrorCategory::config, std::move(what)); };
  if (p.log2_n < kMinLog2N || p.log2_n > kMaxLog2N)
    return bad("scrypt ln=" + std::to_string(p.log2_n) + " is out of range (14..20)");
  if (p.r < 1 || p.r > kMaxR) return bad("scrypt r=" + std::to_string(p.r) + " is out of range (1..16)");
  if (p.p < 1 || p.p > kMaxP) return bad("scrypt p=" + std::to_string(p.p) + " is out of range (1..4)");
  if (128ull * static_cast<std::uint64_t>(p.r) * (1ull << p.log2_n) > kMaxScryptMemory)
    return bad("scrypt ln=" + std::to_string(p.log2_n) + ",r=" + std::to_string(p.r) +
               " needs more than 256 MiB per check");
  return {};
}

bool scrypt(std::string_view password, std::string_view salt, const PasswordHashParams& p,
            std::array<unsigned char, kHashBytes>& out) {
  EVP_KDF* kdf = scrypt_kdf();
  if (kdf == nullptr) return false;
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  if (ctx == nullptr) return false;
  std::uint64_t n = 1ull << p.log2_n;
  auto r = static_cast<std::uint32_t>(p.r), par = static_cast<std::uint32_t>(p.p);
  // OpenSSL's own accounting: 128 r (N + 2) for V plus 128 r p for B.
  std::uint64_t maxmem = 128ull * r * (n + 2) + 128ull * r * par + 4096;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<unsigned char*>(bytes(password)),
                                        password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<unsigned char*>(bytes(salt)), salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &par),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end()};
  const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  if (!ok) ERR_clear_error();
  return ok;
}

struct ScryptHash {
  PasswordHashParams params;
  std::string salt, hash;
};

// A decimal 1..9999 without sign or leading zero.
std::optional<int> parse_small_int(std::string_view s) {
  if (s.empty() || s.size() > 4 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<ScryptHash> parse_password_hash(std::string_view encoded) {
  const auto bad = [](std::string what) { return Error(ErrorCategory::config, std::move(what)); };
  if (encoded.substr(0, kScryptPrefix.size()) != kScryptPrefix)
    return bad("not an scrypt password hash: it must start with \"$scrypt$\"");
  std::string_view rest = encoded.substr(kScryptPrefix.size());
  std::array<std::string_view, 3> parts;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t end = i < 2 ? rest.find('$') : std::string_view::npos;
    if (i < 2 && end == std::string_view::npos)
      return bad("malformed scrypt password hash: expected $scrypt$ln=N,r=R,p=P$<salt>$<hash>");
    parts[i] = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  if (parts[2].find('$') != std::string_view::npos)
    return bad("malformed scrypt password hash: expected $scrypt$ln=N,r=R,p=P$<salt>$<hash>");
  ScryptHash out;
  {
    std::string_view p = parts[0];
    const std::array<std::pair<std::string_view, int*>, 3> fields{
        {{"ln=", &out.params.log2_n}, {"r=", &out.params.r}, {"p=", &out.params.p}}};
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const std::size_t comma = i < 2 ? p.find(',') : p.size();
      if (comma == std::string_view::npos) return bad("malformed scrypt parameters: expected ln=N,r=R,p=P");
      std::string_view field = p.substr(0, comma);
      p = comma < p.size() ? p.substr(comma + 1) : std::string_view();
      if (field.substr(0, fields[i].first.size()) != fields[i].first)
        return bad("malformed scrypt parameters: expected ln=N,r=R,p=P");
      const auto v = parse_small_int(field.substr(fields[i].first.size()));
      if (!v) return bad("malformed scrypt parameters: expected ln=N,r=R,p=P with decimal numbers");
      *fields[i].second = *v;
    }
  }
  CTI_TRY_STATUS(check_params(out.params));
  auto salt = base64_decode(parts[1], Base64Alphabet::standard, Base64Padding::forbidden);
  if (!salt) return bad("the scrypt salt is not base64 without padding");
  if (salt->size() < kMinSaltBytes || salt->size() > kMaxSaltBytes)
    return bad("the scrypt salt is " + std::to_string(salt->size()) + " bytes; 16 to 64 are needed");
  auto hash = base64_decode(parts[2], Base64Alphabet::standard, Base64Padding::forbidden);
  if (!hash) return bad("the scrypt hash is not base64 without padding");
  if (hash->size() != kHashBytes)
    return bad("the scrypt hash is " + std::to_string(hash->size()) + " bytes; 32 are needed");
  out.salt = std::move(*salt);
  out.hash = std::move(*hash);
  return out;
}

std::string format_password_hash(const PasswordHashParams& p, std::string_view salt, std::string_view hash) {
  return std::string(kScryptPrefix) + "ln=" + std::to_string(p.log2_n) + ",r=" + std::to_string(p.r) +
         ",p=" + std::to_string(p.p) + "$" + base64_encode(salt, Base64Alphabet::standard, Base64Padding::forbidden) +
         "$" + base64_encode(hash, Base64Alphabet::standard, Base64Padding::forbidden);
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // Without randomness every salt and key we would make is guessable;
    // there is no safe way to go on.
    std::abort();
  }
  return out;
}

// --------------------------------------------------------------- API keys

constexpr std::string_view kApiKeyPrefix = "sha256$";


}  // namespace

Result<std::string> hash_password(std::string_view password, const PasswordHashParams& params) {
  CTI_TRY_STATUS(check_params(params));
  if (password.empty()) return Error(ErrorCategory::config, "an empty password cannot be hashed");
  const std::string salt = random_bytes(kSaltBytes);
  std::array<unsigned char, kHashBytes> hash{};
  if (!scrypt(password, salt, params, hash)) return Error(ErrorCategory::internal, "scrypt failed in OpenSSL");
  return format_password_hash(params, salt, std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

Status check_password_hash(std::string_view encoded) {
  auto parsed = parse_password_hash(encoded);
  if (!parsed) return std::move(parsed).error();
  return {};
}

bool verify_password(std::string_view password, std::string_view encoded) {
  const auto parsed = parse_password_hash(encoded);
  if (!parsed) return false;
  std::array<unsigned char, kHashBytes> hash{};
  if (!scrypt(password, parsed->salt, parsed->params, hash)) return false;
  return CRYPTO_memcmp(hash.data(), parsed->hash.data(), kHashBytes) == 0;
}

std::string hash_api_key(std::string_view key) {
  const auto digest = ctishare::detail::sha256(key);
  return std::string(kApiKeyPrefix) + detail::to_hex(digest.data(), digest.size());
}

Status check_api_key_hash(std::string_view encoded) {
  if (encoded.substr(0, kApiKeyPrefix.size()) != kApiKeyPrefix)
    return Error(ErrorCategory::config, "not an API-key hash: it must start with \"sha256$\"");
  const std::string_view digits = encoded.substr(kApiKeyPrefix.size());
  if (digits.size() != 64) return Error(ErrorCategory::config, "an API-key hash needs 64 hex digits after \"sha256$\"");
  for (char c : digits)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return Error(ErrorCategory::config, "an API-key hash needs lowercase hex digits after \"sha256$\"");
  return {};
}

bool verify_api_key(std::string_view key, std::string_view encoded) {
  if (key.empty() || !check_api_key_hash(encoded)) return false;
  const std::string actual = hash_api_key(key);
  return CRYPTO_memcmp(actual.data(), encoded.data(), actual.size()) == 0;
}

std::string generate_api_key() {
  return base64_encode(random_bytes(32), Base64Alphabet::url, Base64Padding::forbidden);
}

// ====================================================================== JWT

namespace {

enum class Family { hmac, rsa, ecdsa, eddsa };

struct Algorithm {
  std::string_view name;
  Family family;
  const char* digest;  // nullptr for EdDSA
  std::size_t size;    // HMAC: minimum key bytes; ECDSA: bytes of r and of s
  const char* curve;   // ECDSA: OpenSSL's group name
};

constexpr std::array<Algorithm, 9> kAlgorithms{{
    {"HS256", Family::hmac, "SHA256", 32, nullptr},
    {"HS384", Family::hmac, "SHA384", 48, nullptr},
    {"HS512", Family::hmac, "SHA512", 64, nullptr},
    {"RS256", Family::rsa, "SHA256", 0, nullptr},
    {"RS384", Family::rsa, "SHA384", 0, nullptr},
    {"RS512", Family::rsa, "SHA512", 0, nullptr},
    {"ES256", Family::ecdsa, "SHA256", 32, "prime256v1"},
    {"ES384", Family::ecdsa, "SHA384", 48, "secp384r1"},
    {"EdDSA", Family::eddsa, nullptr, 0, nullptr},
}};

const Algorithm* find_algorithm(std::string_view name) {
  for (const auto& a : kAlgorithms)
    if (a.name == name) return &a;
  return nullptr;
}

constexpr std::size_t kMaxToken = 8192;

Error token_error(std::string message) { return Error(ErrorCategory::permission, std::move(message)); }

// Parses a JSON object with no repeated member names (RFC 7515 §4, RFC 7519
// §4: a parser must reject or take the last; we reject). Iterative parsing,
// so nesting cannot exhaust the stack.
bool parse_object(std::string_view json, rapidjson::Document& doc) {
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  std::set<std::string_view> names;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it)
    if (!names.emplace(it->name.GetString(), it->name.GetStringLength()).second) return false;
  return true;
}

std::string_view string_of(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

Result<Pkey> load_public_key(std::string_view pem) {
  const auto bad = [](std::string what) { return Error(ErrorCategory::config, std::move(what)); };
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos)
    return bad("the JWT key is a private key; give the public key or a certificate");
  Pkey key;
  if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = bio != nullptr ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    if (cert != nullptr) key.reset(X509_get_pubkey(cert));
    X509_free(cert);
    ERR_clear_error();
    if (!key) return bad("the JWT key's PEM certificate cannot be read");
    return key;
  }
  EVP_PKEY* raw = nullptr;
  OSSL_DECODER_CTX* dctx =
      OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, nullptr, EVP_PKEY_PUBLIC_KEY, nullptr, nullptr);
  if (dctx != nullptr) {
    const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
    std::size_t len = pem.size();
    if (OSSL_DECODER_from_data(dctx, &data, &len) != 1) raw = nullptr;
    OSSL_DECODER_CTX_free(dctx);
  }
  ERR_clear_error();
  key.reset(raw);
  if (!key) return bad("the JWT key is not a PEM public key or certificate");
  return key;
}

std::string group_name(EVP_PKEY* key) {
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::string(name, len);
}

// JOSE's ECDSA signature is r || s, each `half` bytes big-endian; OpenSSL
// wants DER. Returns "" when the input cannot be a signature.
std::string ecdsa_der(std::string_view raw, std::size_t half) {
  if (raw.size() != 2 * half) return {};
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(bytes(raw), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(bytes(raw) + half, static_cast<int>(half), nullptr);
  std::string out;
  if (sig != nullptr && r != nullptr && s != nullptr && ECDSA_SIG_set0(sig, r, s) == 1) {
    r = s = nullptr;  // owned by sig now
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig, &der);
    if (len > 0) out.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(sig);
  return out;
}

// A NumericDate claim (seconds, possibly fractional) in microseconds;
// nullopt when absent, an error when present but not a plausible number.
Result<std::optional<Micros>> numeric_date(const rapidjson::Document& claims, const char* name) {
  const auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) return std::optional<Micros>();
  if (!it->value.IsNumber()) return token_error(std::string("the '") + name + "' claim is not a number");
  const double seconds = it->value.GetDouble();
  // Beyond ±10^12 s (year 33658) a date is nonsense, and micros would overflow.
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e12)
    return token_error(std::string("the '") + name + "' claim is out of range");
  if (it->value.IsInt64()) return std::optional<Micros>(it->value.GetInt64() * 1'000'000);
  return std::optional<Micros>(static_cast<Micros>(std::floor(seconds * 1e6)));
}

}  // namespace

struct JwtVerifier::Impl {
  JwtSettings settings;
  const Algorithm* alg = nullptr;
  Pkey key;
  EVP_MD* md = nullptr;

  ~Impl() { EVP_MD_free(md); }

  bool signature_ok(std::string_view signing_input, std::string_view sig) const {
    if (alg->family == Family::hmac) {
      std::array<unsigned char, 64> mac{};
      std::size_t len = 0;
      if (!hmac(alg->digest, settings.key, signing_input, mac, len)) return false;
      return sig.size() == len && CRYPTO_memcmp(mac.data(), sig.data(), len) == 0;
    }
    std::string der;
    if (alg->family == Family::ecdsa) {
      der = ecdsa_der(sig, alg->size);
      if (der.empty()) return false;
      sig = der;
    }
    if (sig.empty()) return false;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) return false;
    const bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key.get()) == 1 &&
                    EVP_DigestVerify(ctx, bytes(sig), sig.size(), bytes(signing_input), signing_input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
  }
};

Result<JwtVerifier> JwtVerifier::create(JwtSettings settings) {
  const auto bad = [](std::string what) { return Error(ErrorCategory::config, std::move(what)); };
  auto impl = std::make_shared<Impl>();
  if (iequals(settings.algorithm, "none")) return bad("the JWT algorithm \"none\" (unsigned tokens) is refused");
  impl->alg = find_algorithm(settings.algorithm);
  if (impl->alg == nullptr)
    return bad("unknown JWT algorithm " + for_log(settings.algorithm) +
               "; use HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384 or EdDSA");
  if (settings.user_claim.empty()) return bad("the JWT user claim must be named");
  if (settings.leeway_seconds < 0 || settings.leeway_seconds > 3600)
    return bad("the JWT leeway must be 0 to 3600 seconds");
  const Algorithm& alg = *impl->alg;
  const std::string name(alg.name);
  if (alg.family == Family::hmac) {
    if (settings.key.find("-----BEGIN") != std::string::npos)
      return bad(name + " needs a shared secret, not a PEM key");
    if (settings.key.size() < alg.size)
      return bad(name + " needs a secret of at least " + std::to_string(alg.size) + " bytes");
  } else {
    auto key = load_public_key(settings.key);
    if (!key) return std::move(key).error();
    EVP_PKEY* k = key->get();
    switch (alg.family) {
      case Family::rsa:
        if (EVP_PKEY_is_a(k, "RSA") != 1) return bad(name + " needs an RSA key");
        if (EVP_PKEY_get_bits(k) < 2048) return bad(name + " needs an RSA key of at least 2048 bits");
        break;
      case Family::ecdsa:
        if (EVP_PKEY_is_a(k, "EC") != 1 || group_name(k) != alg.curve)
          return bad(name + std::string(" needs an EC key on ") + (alg.size == 32 ? "P-256" : "P-384"));
        break;
      case Family::eddsa:
        if (EVP_PKEY_is_a(k, "ED25519") != 1 && EVP_PKEY_is_a(k, "ED448") != 1)
          return bad("EdDSA needs an Ed25519 or Ed448 key");
        break;
      case Family::hmac:
        break;
    }
    impl->key = std::move(*key);
    if (alg.digest != nullptr) {
      impl->md = EVP_MD_fetch(nullptr, alg.digest, nullptr);
      if (impl->md == nullptr) {
        ERR_clear_error();
        return Error(ErrorCategory::internal, std::string("OpenSSL has no ") + alg.digest);
      }
    }
  }
  impl->settings = std::move(settings);
  return JwtVerifier(std::move(impl));
}

const JwtSettings& JwtVerifier::settings() const { return impl_->settings; }

Result<std::string> JwtVerifier::verify(std::string_view token, Micros now) const {
  const Impl& impl = *impl_;
  const JwtSettings& s = impl.settings;
  if (token.size() > kMaxToken) return token_error("the token is longer than 8 KiB");
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return token_error("the token is not a compact JWS (header.payload.signature)");

  const auto header_json = base64_decode(token.substr(0, dot1), Base64Alphabet::url, Base64Padding::forbidden);
  rapidjson::Document header;
  if (!header_json || !parse_object(*header_json, header))
    return token_error("the token's header is not a base64url JSON object");
  const auto alg = header.FindMember("alg");
  if (alg == header.MemberEnd() || !alg->value.IsString()) return token_error("the token's header names no algorithm");
  const std::string_view alg_name = string_of(alg->value);
  if (alg_name != impl.alg->name) {
    if (iequals(alg_name, "none")) return token_error("unsigned tokens (alg \"none\") are refused");
    const Algorithm* other = find_algorithm(alg_name);
    return token_error("the token is signed with " +
                       (other != nullptr ? std::string(other->name) : "another algorithm") + ", not " +
                       std::string(impl.alg->name));
  }
  if (header.HasMember("crit")) return token_error("the token has critical header parameters, which are not supported");

  const auto signature = base64_decode(token.substr(dot2 + 1), Base64Alphabet::url, Base64Padding::forbidden);
  if (!signature) return token_error("the token's signature is not base64url");
  if (!impl.signature_ok(token.substr(0, dot2), *signature)) return token_error("the token's signature is not valid");

  // Only now, with the payload known to be the issuer's, read the claims.
  const auto payload_json =
      base64_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), Base64Alphabet::url, Base64Padding::forbidden);
  rapidjson::Document claims;
  if (!payload_json || !parse_object(*payload_json, claims))
    return token_error("the token's claims are not a base64url JSON object");

  const Micros leeway = s.leeway_seconds * 1'000'000;
  auto exp = numeric_date(claims, "exp");
  if (!exp) return std::move(exp).error();
  if (!*exp) return token_error("the token has no expiry ('exp' claim)");
  if (now >= **exp + leeway) return token_error("the token has expired");
  auto nbf = numeric_date(claims, "nbf");
  if (!nbf) return std::move(nbf).error();
  if (*nbf && now + leeway < **nbf) return token_error("the token is not valid yet ('nbf')");
  auto iat = numeric_date(claims, "iat");
  if (!iat) return std::move(iat).error();
  if (*iat && **iat > now + leeway) return token_error("the token was issued in the future ('iat')");

  if (!s.issuer.empty()) {
    const auto iss = claims.FindMember("iss");
    if (iss == claims.MemberEnd() || !iss->value.IsString() || string_of(iss->value) != s.issuer)
      return token_error("the token's issuer is not the configured one");
  }
  if (!s.audience.empty()) {
    const auto aud = claims.FindMember("aud");
    bool found = false;
    if (aud != claims.MemberEnd()) {
      if (aud->value.IsString()) {
        found = string_of(aud->value) == s.audience;
      } else if (aud->value.IsArray()) {
        for (const auto& a : aud->value.GetArray())
          if (a.IsString() && string_of(a) == s.audience) found = true;
      }
    }
    if (!found) return token_error("the token is not meant for this audience ('aud')");
  }

  const auto user = claims.FindMember(s.user_claim.c_str());
  if (user == claims.MemberEnd()) return token_error("the token has no " + for_log(s.user_claim) + " claim");
  if (!user->value.IsString() || user->value.GetStringLength() == 0 || user->value.GetStringLength() > 256 ||
      has_ctl(string_of(user->value)))
    return token_error("the token's " + for_log(s.user_claim) + " claim is not a usable user name");
  return std::string(string_of(user->value));
}

// ============================================================ Authenticator

namespace {

using CacheKey = std::array<unsigned char, 32>;

struct CacheKeyHash {
  std::size_t operator()(const CacheKey& k) const noexcept {
    std::size_t h = 0;
    for (std::size_t i = 0; i < sizeof h; ++i) h = h << 8 | k[i];  // an HMAC output: already uniform
    return h;
  }
};

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

AuthResult rejected(std::string scheme, std::string reason) {
  AuthResult r;
  r.outcome = AuthResult::Outcome::rejected;
  r.scheme = std::move(scheme);
  r.reason = std::move(reason);
  return r;
}

AuthResult authenticated(std::string scheme, std::string user) {
  AuthResult r;
  r.outcome = AuthResult::Outcome::authenticated;
  r.scheme = std::move(scheme);
  r.user = std::move(user);
  return r;
}

constexpr std::size_t kMaxCredential = 4096;

}  // namespace

struct Authenticator::State {
  explicit State(int slots) : scrypt_slots(slots) {}

  AuthSettings settings;
  std::optional<JwtVerifier> jwt;
  std::unordered_map<std::string, std::size_t> by_name, by_api_key_hash, by_subject;
  bool any_password = false;
  std::string dummy_hash;  // same parameters as the first user's, matching nothing
  std::string cache_secret;

  std::mutex cache_mutex;
  std::list<std::pair<CacheKey, Micros>> cache_order;  // oldest first; all share one lifetime
  std::unordered_map<CacheKey, std::list<std::pair<CacheKey, Micros>>::iterator, CacheKeyHash> cache;

  std::counting_semaphore<64> scrypt_slots;
  // Credentials being checked right now: a second request with the same
  // ones waits for that result instead of running its own scrypt (a
  // partner opening eight connections at once costs one check, not eight).
  std::mutex inflight_mutex;
  std::condition_variable inflight_done;
  std::set<CacheKey> inflight;
  std::atomic<std::uint64_t> checks{0};

  bool cache_enabled() const { return settings.basic_cache_seconds > 0 && settings.basic_cache_entries > 0; }

  std::optional<CacheKey> cache_key(std::string_view user, std::string_view password) const {
    std::string data;
    data.reserve(user.size() + 1 + password.size());
    data.append(user).append(1, '\0').append(password);
    std::array<unsigned char, 64> mac{};
    std::size_t len = 0;
    const bool ok = hmac("SHA256", cache_secret, data, mac, len);
    OPENSSL_cleanse(data.data(), data.size());
    if (!ok || len != 32) return std::nullopt;
    CacheKey key{};
    std::copy_n(mac.begin(), 32, key.begin());
    return key;
  }

  bool cache_hit(const CacheKey& key, Micros now) {
    std::lock_guard lock(cache_mutex);
    const auto it = cache.find(key);
    if (it == cache.end()) return false;
    if (now < it->second->second) return true;
    cache_order.erase(it->second);
    cache.erase(it);
    return false;
  }

  void cache_insert(const CacheKey& key, Micros now) {
    std::lock_guard lock(cache_mutex);
    const Micros expiry = now + settings.basic_cache_seconds * 1'000'000;
    while (!cache_order.empty() && cache_order.front().second <= now) {
      cache.erase(cache_order.front().first);
      cache_order.pop_front();
    }
    if (const auto it = cache.find(key); it != cache.end()) {
      cache_order.erase(it->second);
      cache.erase(it);
    }
    cache_order.emplace_back(key, expiry);
    cache.emplace(key, std::prev(cache_order.end()));
    while (cache.size() > settings.basic_cache_entries) {
      cache.erase(cache_order.front().first);
      cache_order.pop_front();
    }
  }

  AuthResult basic(std::string_view credentials, Micros now) {
    const auto decoded = base64_decode(credentials, Base64Alphabet::standard, Base64Padding::required);
    if (!decoded) return rejected("basic", "basic: malformed credentials (not base64)");
    const std::string_view text = *decoded;
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return rejected("basic", "basic: malformed credentials (no user-id:password)");
    const std::string_view user = text.substr(0, colon), password = text.substr(colon + 1);
    if (has_ctl(user) || has_ctl(password)) return rejected("basic", "basic: control characters in credentials");
    if (!any_password) return rejected("basic", "basic: no user has a password");

    const auto found = by_name.find(std::string(user));
    const UserCredentials* record = found != by_name.end() && !settings.users[found->second].password_hash.empty()
                                        ? &settings.users[found->second]
                                        : nullptr;
    std::optional<CacheKey> key;
    if (record != nullptr && cache_enabled()) {
      key = cache_key(user, password);
      if (key && cache_hit(*key, now)) return authenticated("basic", record->name);
    }
    // Single flight per credential: wait for a check of the same ones in
    // progress, then take its cached success; otherwise announce ours.
    struct Flight {
      State& state;
      const CacheKey* key = nullptr;
      ~Flight() {
        if (key == nullptr) return;
        {
          std::lock_guard lock(state.inflight_mutex);
          state.inflight.erase(*key);
        }
        state.inflight_done.notify_all();
      }
    } flight{*this};
    if (key) {
      std::unique_lock lock(inflight_mutex);
      inflight_done.wait(lock, [&] { return inflight.count(*key) == 0; });
      lock.unlock();
      if (cache_hit(*key, now)) return authenticated("basic", record->name);
      lock.lock();
      inflight_done.wait(lock, [&] { return inflight.count(*key) == 0; });
      inflight.insert(*key);
      flight.key = &*key;
    }
    bool ok = false;
    {
      struct Slot {
        std::counting_semaphore<64>& slots;
        explicit Slot(std::counting_semaphore<64>& s) : slots(s) { slots.acquire(); }
        ~Slot() { slots.release(); }
      } slot(scrypt_slots);
      // Another request with the same credentials may have finished while
      // this one waited.
      if (key && cache_hit(*key, now)) return authenticated("basic", record->name);
      checks.fetch_add(1, std::memory_order_relaxed);
      ok = verify_password(password, record != nullptr ? record->password_hash : dummy_hash);
    }
    if (record == nullptr) {
      if (found == by_name.end()) return rejected("basic", "basic: unknown user " + for_log(user));
      return rejected("basic", "basic: user " + for_log(user) + " has no password");
    }
    if (!ok) return rejected("basic", "basic: wrong password for user " + for_log(user));
    if (key) cache_insert(*key, now);
    return authenticated("basic", record->name);
  }

  AuthResult api_key(std::string_view key) const {
    if (key.empty() || key.size() > kMaxCredential || has_ctl(key)) return rejected("apikey", "apikey: malformed key");
    // The lookup is by the key's SHA-256, so its timing can only tell an
    // attacker about a hash of their own guess, never about a stored key;
    // the final comparison is constant-time anyway.
    const auto found = by_api_key_hash.find(hash_api_key(key));
    if (found == by_api_key_hash.end()) return rejected("apikey", "apikey: no user has this key");
    const UserCredentials& record = settings.users[found->second];
    if (!verify_api_key(key, record.api_key_hash)) return rejected("apikey", "apikey: no user has this key");
    return authenticated("apikey", record.name);
  }

  AuthResult bearer(std::string_view token, Micros now) const {
    if (!jwt) return rejected("bearer", "bearer: bearer tokens are not accepted by this server");
    auto user = jwt->verify(token, now);
    if (!user) return rejected("bearer", "bearer: " + user.error().message());
    return authenticated("bearer", std::move(*user));
  }
};

Result<Authenticator> Authenticator::create(AuthSettings settings) {
  const auto bad = [](std::string what) { return Error(ErrorCategory::config, std::move(what)); };
  if (settings.max_concurrent_password_checks < 1 || settings.max_concurrent_password_checks > 64)
    return bad("max_concurrent_password_checks must be 1 to 64");
  if (settings.basic_cache_seconds < 0 || settings.basic_cache_seconds > 86400)
    return bad("the Basic credential cache lifetime must be 0 to 86400 seconds");
  if (settings.realm.empty() || settings.realm.find_first_of("\"\\") != std::string::npos || has_ctl(settings.realm))
    return bad("the realm must be non-empty, without '\"', '\\' or control characters");
  if (settings.api_key_header.empty() ||
      !std::all_of(settings.api_key_header.begin(), settings.api_key_header.end(), is_token_char) ||
      iequals(settings.api_key_header, "Authorization"))
    return bad("the API-key header " + for_log(settings.api_key_header) + " is not a usable header name");

  auto state = std::make_shared<State>(settings.max_concurrent_password_checks);
  const PasswordHashParams* dummy_params = nullptr;
  std::optional<ScryptHash> first_hash;
  for (std::size_t i = 0; i < settings.users.size(); ++i) {
    const UserCredentials& u = settings.users[i];
    const std::string who = "user " + for_log(u.name);
    if (u.name.empty()) return bad("user " + std::to_string(i + 1) + " has no name");
    if (u.name.find(':') != std::string::npos || has_ctl(u.name))
      return bad(who + ": a user name may not contain ':' or control characters");
    if (!state->by_name.emplace(u.name, i).second) return bad(who + " is configured twice");
    if (!u.password_hash.empty()) {
      auto parsed = parse_password_hash(u.password_hash);
      if (!parsed) return std::move(parsed).error().with_context(who + ": password hash");
      if (!first_hash) first_hash = std::move(*parsed);
      state->any_password = true;
    }
    if (!u.api_key_hash.empty()) {
      auto checked = check_api_key_hash(u.api_key_hash);
      if (!checked) return std::move(checked).error().with_context(who + ": API-key hash");
    }
    if (!u.api_key_hash.empty() && !state->by_api_key_hash.emplace(u.api_key_hash, i).second)
      return bad(who + ": the same API key is given to another user");
    if (!u.certificate_subject.empty() && !state->by_subject.emplace(u.certificate_subject, i).second)
      return bad(who + ": the same certificate subject is given to another user");
  }
  if (first_hash) dummy_params = &first_hash->params;
  const PasswordHashParams defaults;
  state->dummy_hash =
      format_password_hash(dummy_params != nullptr ? *dummy_params : defaults,
                           random_bytes(first_hash ? first_hash->salt.size() : kSaltBytes), random_bytes(kHashBytes));
  state->cache_secret = random_bytes(32);
  if (settings.jwt) {
    auto verifier = JwtVerifier::create(*settings.jwt);
    if (!verifier) return std::move(verifier).error().with_context("jwt");
    state->jwt = std::move(*verifier);
  }
  state->settings = std::move(settings);
  return Authenticator(std::move(state));
}

AuthResult Authenticator::authenticate(const std::vector<Header>& headers, std::string_view certificate_subject,
                                       Micros now) {
  State& s = *state_;
  const Header* authorization = nullptr;
  const Header* api_key = nullptr;
  int authorization_count = 0, api_key_count = 0;
  for (const Header& h : headers) {
    if (iequals(h.name, "Authorization")) {
      authorization = &h;
      ++authorization_count;
    } else if (iequals(h.name, s.settings.api_key_header)) {
      api_key = &h;
      ++api_key_count;
    }
  }
  if (authorization_count > 1) return rejected("", "more than one Authorization header");
  if (authorization != nullptr) {
    const std::string_view value = trim(authorization->value);
    if (value.size() > kMaxCredential) return rejected("", "the Authorization header is too long");
    const std::size_t space = value.find_first_of(" \t");
    const std::string_view scheme = value.substr(0, space);
    const std::string_view credentials =
        space == std::string_view::npos ? std::string_view() : trim(value.substr(space + 1));
    if (iequals(scheme, "Basic")) {
      if (credentials.empty()) return rejected("basic", "basic: no credentials after the scheme");
      return s.basic(credentials, now);
    }
    if (iequals(scheme, "Bearer")) {
      if (credentials.empty()) return rejected("bearer", "bearer: no token after the scheme");
      return s.bearer(credentials, now);
    }
    if (iequals(scheme, "ApiKey")) return s.api_key(credentials);
    const bool nameable =
        !scheme.empty() && scheme.size() <= 20 && std::all_of(scheme.begin(), scheme.end(), is_token_char);
    return rejected("", "unsupported Authorization scheme" + (nameable ? " " + for_log(scheme) : std::string()));
  }
  if (api_key_count > 1) return rejected("apikey", "more than one " + s.settings.api_key_header + " header");
  if (api_key != nullptr) return s.api_key(trim(api_key->value));
  if (!certificate_subject.empty()) {
    const auto found = s.by_subject.find(std::string(certificate_subject));
    if (found == s.by_subject.end())
      return rejected("certificate", "certificate: subject " + for_log(certificate_subject) + " maps to no user");
    return authenticated("certificate", s.settings.users[found->second].name);
  }
  return AuthResult{};
}

std::vector<std::string> Authenticator::challenges() const {
  const State& s = *state_;
  std::vector<std::string> out;
  if (s.any_password || !s.jwt) out.push_back("Basic realm=\"" + s.settings.realm + "\", charset=\"UTF-8\"");
  if (s.jwt) out.push_back("Bearer realm=\"" + s.settings.realm + "\"");
  return out;
}

std::string Authenticator::challenge() const {
  std::string out;
  for (const std::string& c : challenges()) {
    if (!out.empty()) out += ", ";
    out += c;
  }
  return out;
}

std::uint64_t Authenticator::password_checks() const { return state_->checks.load(std::memory_order_relaxed); }

}  // namespace ctishare::taxii
