// Who is asking: the TAXII server's authentication as pure functions and
// classes, no sockets. Passwords are kept as scrypt hashes, API keys as
// SHA-256 hashes, bearer tokens are JWTs checked against one pinned
// algorithm and key, and a verified client certificate maps to a user by its
// subject CN. taxii-serve hands the request headers (and the certificate
// subject its TLS layer verified) to an Authenticator and gets back a user,
// "anonymous", or a rejection with a reason for its log. Secrets never appear
// in any message this module produces.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/result.h"
#include "ctishare/taxii/handler.h"  // Header
#include "ctishare/taxii/store.h"    // Micros

namespace ctishare::taxii {

// ------------------------------------------------------------- passwords

// scrypt's cost: N = 2^log2_n, block size r, parallelism p. Each computation
// needs 128 * r * N bytes of memory (32 MiB at the defaults) and takes tens
// of milliseconds. Accepted ranges: log2_n 14..20, r 1..16, p 1..4, and
// 128 * r * N at most 256 MiB.
struct PasswordHashParams {
  int log2_n = 15;
  int r = 8;
  int p = 1;
};

// Hashes `password` with scrypt and a fresh 16-byte random salt into the
// PHC string form
//   $scrypt$ln=15,r=8,p=1$<salt, base64 without padding>$<32-byte hash, base64 without padding>
// (standard base64 alphabet; the same form passlib writes). Returns a config
// error when `params` is out of range or `password` is empty, an internal
// error when OpenSSL fails.
Result<std::string> hash_password(std::string_view password, const PasswordHashParams& params = {});

// Checks that `encoded` is a password hash verify_password() can use: the
// "$scrypt$" prefix, ln/r/p in the ranges above, a salt of 16 to 64 bytes
// and a 32-byte hash, both in canonical base64 without padding. Returns a
// config error naming what is wrong (never echoing the hash itself).
Status check_password_hash(std::string_view encoded);

// True when `password` hashes to `encoded`; false when it does not or when
// `encoded` is malformed. The final comparison is constant-time. Costs one
// scrypt computation whenever `encoded` is well formed.
bool verify_password(std::string_view password, std::string_view encoded);

// -------------------------------------------------------------- API keys

// Hashes an API key as "sha256$<64 lowercase hex digits>". A fast unsalted
// hash is right here, unlike for passwords: keys come from
// generate_api_key() (256 random bits), so there is no dictionary to try and
// no key to find by brute force however fast the hash, and a fast hash lets
// the server check a key on every request and find its user by the hash
// alone. Never use it for anything a human chose.
std::string hash_api_key(std::string_view key);

// Checks that `encoded` has the form hash_api_key() writes. Returns a config
// error naming what is wrong.
Status check_api_key_hash(std::string_view encoded);

// True when `key` is non-empty and hashes to `encoded` (compared in constant
// time); false otherwise, including when `encoded` is malformed.
bool verify_api_key(std::string_view key, std::string_view encoded);

// A new API key: 32 bytes from OpenSSL's CSPRNG as base64url without padding
// (43 characters). Aborts the process if the CSPRNG fails, rather than hand
// out a guessable key.
std::string generate_api_key();

// ------------------------------------------------------------------ JWTs

struct JwtSettings {
  // Pinned; the token's "alg" must equal it. One of HS256 HS384 HS512 RS256
  // RS384 RS512 ES256 ES384 EdDSA; "none" is refused.
  std::string algorithm;
  // HS*: the shared secret's bytes, at least as long as the hash (32, 48 or
  // 64 bytes, RFC 7518 §3.2). Otherwise a PEM public key (SubjectPublicKeyInfo
  // or PKCS#1 RSA) or a PEM certificate whose key is used (its validity
  // dates are not checked); RSA keys need 2048 bits or more, ES256 a P-256
  // and ES384 a P-384 key, EdDSA an Ed25519 or Ed448 key.
  std::string key;
  std::string issuer;                // when non-empty, "iss" must equal it
  std::string audience;              // when non-empty, "aud" (a string or an array of strings) must contain it
  std::string user_claim = "sub";    // the claim naming the user; must be a non-empty string
  std::int64_t leeway_seconds = 60;  // clock skew allowed for exp, nbf and iat (0..3600)
};

// Verifies compact-serialised JWS tokens (RFC 7515/7519) against one pinned
// algorithm and key. Immutable once created; verify() may be called from
// any number of threads. Copies share the key.
//
// What it refuses: any "alg" other than the pinned one (so "none" and the
// RS256-to-HS256 key confusion never get as far as a signature check), any
// "crit" header, duplicate header or claim names, and tokens over 8 KiB.
// "kid", "jku", "jwk", "x5u", "x5c" and "x5t" are ignored: the key is the
// configured one and nothing is ever fetched.
class JwtVerifier {
 public:
  // Returns a config error for an unknown algorithm or "none", a short HS
  // secret (or one that is a PEM key), a PEM that is unusable, private, or
  // whose key does not match the algorithm, an empty user_claim, or a leeway
  // outside 0..3600 seconds.
  static Result<JwtVerifier> create(JwtSettings settings);

  // Returns the value of the user claim of a valid token. `now` is the
  // current time. Every failure is a permission error with a short message
  // that never echoes the token or its claims: malformed, wrong algorithm,
  // bad signature, expired ("exp" is required), not yet valid ("nbf"),
  // issued in the future ("iat" beyond the leeway), wrong issuer or
  // audience, missing or unusable user claim (not a string, empty, or with
  // control characters).
  Result<std::string> verify(std::string_view token, Micros now) const;

  const JwtSettings& settings() const;

 private:
  struct Impl;
  explicit JwtVerifier(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// --------------------------------------------------------- Authenticator

struct UserCredentials {
  std::string name;                 // non-empty, no ':' and no control characters
  std::string password_hash;        // from hash_password(); "" = no Basic for this user
  std::string api_key_hash;         // from hash_api_key(); "" = no API key
  std::string certificate_subject;  // "" = no mTLS; matched exactly against the client certificate's subject CN
};

struct AuthSettings {
  std::vector<UserCredentials> users;
  std::optional<JwtSettings> jwt;  // bearer tokens are refused when absent
  // The header carrying an API key. "Authorization: ApiKey <key>" is
  // accepted too, so clients that can only set Authorization can use keys.
  std::string api_key_header = "X-API-Key";
  std::string realm = "TAXII";  // no '"', '\\' or control characters
  // Verified Basic credentials are remembered this long (as a keyed hash,
  // never the password), so keep-alive clients sending Basic on every
  // request cost one scrypt per `basic_cache_seconds`, not one per request.
  // 0 turns the cache off. Failures are never remembered.
  std::int64_t basic_cache_seconds = 300;
  std::size_t basic_cache_entries = 10000;  // oldest evicted first
  // scrypt computations allowed at once (1..64); further requests wait, so a
  // flood of wrong passwords costs time, never unbounded memory.
  int max_concurrent_password_checks = 2;
};

struct AuthResult {
  enum class Outcome { anonymous, authenticated, rejected };
  Outcome outcome = Outcome::anonymous;
  std::string user;  // authenticated: the user name (for bearer: the user claim)
  // "basic", "apikey", "bearer" or "certificate": the scheme that
  // authenticated, or that was tried and rejected; "" when anonymous or when
  // the Authorization header was unusable (unknown scheme, repeated).
  std::string scheme;
  std::string reason;  // rejected: one line for the server log/audit (never contains a secret)
};

// Turns a request's credentials into a user. Thread-safe; copies share one
// credential cache.
//
// The first credential present decides, in this order: the Authorization
// header (Basic, Bearer or ApiKey), the API-key header, the client
// certificate. Credentials that are present but wrong are rejected, never
// passed over for a later (weaker) method; so is more than one
// Authorization or API-key header, an unknown Authorization scheme, and a
// certificate whose subject maps to no user. A request with none of them is
// anonymous. An unknown user (or one without a password) costs the same
// scrypt computation as a wrong password: the password is checked against a
// dummy hash with the parameters of the first configured password hash.
// Bearer users need not be listed in `users`; the user claim is the name.
class Authenticator {
 public:
  // Returns a config error for an empty, duplicate or unusable user name,
  // a malformed hash, an API-key hash or certificate subject given to two
  // users, bad JWT settings, an unusable realm or API-key header name, or
  // cache/concurrency settings out of range.
  static Result<Authenticator> create(AuthSettings settings);

  // `certificate_subject`: the subject CN of the client certificate the TLS
  // layer verified, "" when there was none. `now` dates JWTs and the cache.
  AuthResult authenticate(const std::vector<Header>& headers, std::string_view certificate_subject, Micros now);

  // The value for one WWW-Authenticate header on a 401: the challenges
  // joined with ", " (RFC 7235 §4.1), e.g.
  //   Basic realm="TAXII", charset="UTF-8", Bearer realm="TAXII"
  // Basic is offered when any user has a password or when nothing else is
  // (a 401 must carry a challenge), Bearer when JWTs are configured.
  std::string challenge() const;
  // The same challenges one per element, for servers that send one
  // WWW-Authenticate header each (some clients parse only that form).
  std::vector<std::string> challenges() const;

  // How many scrypt computations this authenticator (and its copies) has
  // run, dummy ones included: for tests and metrics.
  std::uint64_t password_checks() const;

 private:
  struct State;
  explicit Authenticator(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace ctishare::taxii
