// A TAXII 2.1 HTTP client over libcurl, shared by taxii-push, taxii-pull and
// taxii-conform. It speaks HTTPS with certificate verification always on and
// TLS 1.2 or later only; plain HTTP only to loopback hosts unless the caller
// sets an explicit flag. It attaches the configured credentials (Basic, an
// API key header, a bearer token, a client certificate) only to requests for
// the origin of the base URL, never follows redirects itself (a 3xx comes
// back to the caller, who decides), uses a proxy only from https_proxy /
// no_proxy (never HTTP_PROXY), and retries network failures, 429, 502, 503
// and 504 with capped exponential backoff and full jitter, honouring
// Retry-After. It knows HTTP and TAXII media types, not TAXII resources:
// what a response means is the caller's business.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctishare/result.h"
#include "ctishare/taxii/handler.h"  // Header

namespace ctishare::taxii {

// The media type of every TAXII 2.1 request and response body (SPEC 1.6.8).
inline constexpr std::string_view kTaxii21MediaType = "application/taxii+json;version=2.1";
// The media type of STIX 2.1 content inside a collection.
inline constexpr std::string_view kStix21MediaType = "application/stix+json;version=2.1";

// ---- URLs and origins -------------------------------------------------------

// The parts of an absolute http(s) URL this client cares about. Scheme and
// host are lower-cased; `port` is the explicit port or the scheme's default;
// `host` keeps the brackets of an IPv6 literal ("[::1]").
struct Url {
  std::string scheme;  // "https" or "http"
  std::string host;
  int port = 0;
  std::string path;   // starts with '/'; "/" when the URL had none
  std::string query;  // after '?', without it; empty when none
};

// Parses an absolute http:// or https:// URL. Errors (usage): another
// scheme, a missing host, a bad port, user information ("user:pass@" — never
// put credentials in URLs), spaces or control characters.
Result<Url> parse_url(std::string_view text);

// "scheme://host[:port]" with the port left out when it is the default; the
// unit credentials are bound to.
std::string origin_of(const Url& url);

// The URL as text again ("https://host:port/path?query").
std::string to_string(const Url& url);

// Whether two URLs have the same scheme, host and port (RFC 6454).
bool same_origin(const Url& a, const Url& b);

// Whether `host` names this machine: "localhost" (and "*.localhost"),
// 127.0.0.0/8 or [::1]. Only such hosts may be reached over plain HTTP
// without ClientSettings::allow_plain_http.
bool is_loopback_host(std::string_view host);

// Resolves `reference` against `base` (RFC 3986 §5.2, for the forms TAXII
// uses): an absolute http(s) URL is taken as it is; "/path" replaces the
// path; "path" is appended to the base's directory. The query of the
// reference (if any) is kept; "./" and "../" segments are not resolved
// (TAXII forbids them in API root URLs). Errors (usage) as parse_url, and
// for a network-path reference ("//host/...").
Result<Url> resolve_url(const Url& base, std::string_view reference);

// Percent-encodes a query parameter value (RFC 3986 unreserved characters
// kept; everything else, ',' included, encoded) for building TAXII filters.
std::string encode_query_value(std::string_view value);

// ---- Media types ------------------------------------------------------------

// One media type as sent in Content-Type: "type/subtype" lower-cased, and the
// parameters with lower-cased names and unquoted values, in order.
struct ContentType {
  std::string type;
  std::vector<std::pair<std::string, std::string>> parameters;
  // The value of a parameter (by lower-case name), or nullptr.
  const std::string* parameter(std::string_view name) const;
};

// Parses a Content-Type value, tolerating spaces around ';' and '=', case in
// type and parameter names, and quoted values. Returns nullopt for text that
// is not "type/subtype[;name=value]*".
std::optional<ContentType> parse_content_type(std::string_view text);

// How strictly is_taxii21_media_type judges.
enum class MediaTypeMatch {
  exact,    // application/taxii+json with version=2.1 (spacing, case, extra
            // parameters such as charset tolerated): what SPEC 3.1 requires
            // of every response
  lenient,  // also the versionless type (meaning "the latest version") and
            // the deprecated alias application/vnd.oasis.taxii+json (App. B):
            // what a client can still work with
};

// Whether a Content-Type value names TAXII 2.1 JSON.
bool is_taxii21_media_type(std::string_view content_type, MediaTypeMatch match = MediaTypeMatch::exact);

// ---- Settings ---------------------------------------------------------------

// How the client proves who it is. Credentials are secrets: read them with
// read_secret_file() (config.h), never from argv, and never print them.
struct Credentials {
  std::string user, password;           // HTTP Basic (RFC 7617) when `user` is set
  std::string api_key_header;           // e.g. "X-API-Key" or "Authorization"
  std::string api_key;                  // sent as "<api_key_header>: <api_key>"
  std::string bearer_token;             // sent as "Authorization: Bearer <token>"
  std::string client_cert, client_key;  // PEM files for mutual TLS
  // Whether any credential is set.
  bool empty() const noexcept;
};

// Retries of one request: network failures and 429, 502, 503 and 504, with
// delays drawn uniformly from [0, min(max_delay, base_delay * 2^attempt)]
// ("full jitter"), or the server's Retry-After when it names one up to
// max_delay.
// With a `budget`, no retry is started whose wait would end more than
// `budget` after the first attempt began: the last answer (a 429 or 503) or
// network error is returned instead, however many attempts remain.
struct RetryPolicy {
  int max_attempts = 4;  // 1 disables retries
  std::chrono::milliseconds base_delay{500};
  std::chrono::milliseconds max_delay{30'000};
  std::chrono::milliseconds budget{0};  // 0: no time budget, only max_attempts
};

struct ClientSettings {
  // The URL requests are resolved against and the origin credentials are
  // bound to: a discovery URL, an API root or a server root.
  std::string base_url;
  Credentials credentials;
  std::string ca_file;  // PEM bundle of trusted CAs; empty: the system store
  std::string proxy;    // explicit proxy URL; empty: https_proxy (see below)
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{60'000};  // per attempt, transfer included
  RetryPolicy retry;
  bool allow_plain_http = false;                    // plain HTTP to non-loopback hosts (loud; for tests only)
  std::uint64_t max_response_bytes = 256ULL << 20;  // a larger body is an error
  std::string user_agent = "ctishare";              // tools set "<tool>/<version> (ctishare)"
};

// Checks settings before any request: a parsable base URL; https unless the
// host is loopback or allow_plain_http is set; readable ca_file, client_cert
// and client_key (both or neither); a password only with a user; an API key
// only with a header name that is a valid HTTP token; positive timeouts;
// no CR/LF in any header value. Errors: usage (64) for bad values, no_input
// (66) for missing files.
Status validate_settings(const ClientSettings& settings);

// ---- Requests and responses -----------------------------------------------

struct Response {
  int status = 0;
  std::vector<Header> headers;  // of the final response, in order, names as sent
  std::string body;
  std::string url;   // the URL requested (after resolution)
  int attempts = 1;  // how many were made (retries + 1)

  // The first header of this name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
  // Whether the Content-Type is TAXII 2.1 (see is_taxii21_media_type).
  bool is_taxii(MediaTypeMatch match = MediaTypeMatch::exact) const;
};

// Per-request choices.
struct RequestOptions {
  bool credentials = true;  // false: send none (to probe 401 handling)
  bool retry = true;        // false: exactly one attempt whatever the policy
  // Shown the body of a 200 response as it arrives, from its first bytes
  // until it returns true or the body passes 16 KiB (on the thread that
  // sent the request; per attempt): to act on what a response starts with
  // before its end is there. What it sees is not checked yet.
  std::function<bool(std::string_view body_so_far)> on_body_start;
};

// The Error a tool reports for an HTTP status it did not expect, naming the
// request: 401 / 403 → permission (77); 429, 503 → temp_fail (75); other 5xx
// → unavailable (69); anything else → protocol (76). The message quotes the
// error resource's title when the body is one.
Error http_error(const Response& response, std::string_view method);

// The delay before retry number `attempt` (1-based): the server's
// Retry-After (delta-seconds or an HTTP date, relative to `now`) when
// present and not past max_delay, else full jitter from `random01` in [0,1).
std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt, const std::string* retry_after,
                                      std::chrono::system_clock::time_point now, double random01);

// The client. Copies share one pool of connections; every method is safe to
// call from several threads at once.
class Client {
 public:
  // Validates `settings` (see validate_settings) and initialises libcurl.
  // Errors as validate_settings; internal (70) when libcurl cannot start.
  static Result<Client> create(ClientSettings settings);

  // Sends one request and returns the server's answer whatever its status
  // (4xx and 5xx included: they are answers). `url` is absolute or resolved
  // against the base URL. Accept defaults to the TAXII 2.1 type and, when
  // there is a body, Content-Type too; `headers` add to or replace the
  // defaults, and a header with an empty value is left out entirely (so a
  // test can send no Accept or no User-Agent). Credentials go only to the
  // base URL's origin. Errors: usage (64) for a bad URL or plain HTTP to a
  // non-loopback host; unavailable (69) when the host cannot be resolved or
  // reached or the request timed out on every attempt; protocol (76) for a
  // TLS failure (certificate not trusted, name mismatch, no common
  // protocol) or a broken HTTP exchange; data (65) for a body over
  // max_response_bytes; config (78) for certificate or key files libcurl
  // cannot use.
  Result<Response> request(std::string_view method, std::string_view url, std::string_view body = {},
                           const std::vector<Header>& headers = {}, RequestOptions options = {}) const;

  // Shorthands for request().
  Result<Response> get(std::string_view url, const std::vector<Header>& headers = {},
                       RequestOptions options = {}) const {
    return request("GET", url, {}, headers, options);
  }
  Result<Response> post(std::string_view url, std::string_view body, const std::vector<Header>& headers = {},
                        RequestOptions options = {}) const {
    return request("POST", url, body, headers, options);
  }

  // `reference` resolved against the base URL (see resolve_url).
  Result<Url> resolve(std::string_view reference) const;

  const ClientSettings& settings() const noexcept;
  const Url& base() const noexcept;

 private:
  struct Impl;
  explicit Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace ctishare::taxii
