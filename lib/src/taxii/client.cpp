// The TAXII HTTP client over libcurl; see ctishare/taxii/client.h.
//
// One easy handle serves one request at a time. Finished handles go back to
// a pool (curl_easy_reset keeps their live connections), so sequential
// requests reuse a TLS connection and concurrent ones each get their own.
// DNS answers and TLS sessions are shared between the handles through a
// CURLSH with locks; connections are not (libcurl does not support sharing
// them between threads).
#include "ctishare/taxii/client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "ctishare/json.h"

namespace ctishare::taxii {

namespace {

// Mozilla's "intermediate" TLS 1.2 suites (TLS 1.3 suites are all fine and
// left to OpenSSL's defaults).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

char lower_char(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower_char(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower_char(x) == lower_char(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

int default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

bool has_control_or_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool has_line_break(std::string_view s) {
  return s.find('\r') != std::string_view::npos || s.find('\n') != std::string_view::npos ||
         s.find('\0') != std::string_view::npos;
}

// An HTTP header name: RFC 9110 token characters.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_ipv4(std::string_view host, int* first_octet) {
  int parts = 0;
  std::string_view rest = host;
  while (true) {
    const std::size_t dot = rest.find('.');
    const std::string_view part = rest.substr(0, dot);
    if (part.empty() || part.size() > 3 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    const int value = std::stoi(std::string(part));
    if (value > 255) return false;
    if (parts == 0 && first_octet != nullptr) *first_octet = value;
    ++parts;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return parts == 4;
}

// ---- libcurl plumbing ------------------------------------------------------

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  std::string body;
  std::vector<Header> headers;
  std::uint64_t max_bytes = 0;
  bool too_large = false;
  bool out_of_memory = false;
  CURL* handle = nullptr;
  const std::function<bool(std::string_view)>* on_start = nullptr;  // RequestOptions::on_body_start
};

constexpr std::size_t kBodyStartBytes = 16 * 1024;

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->body.size() + n > t->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  // Nothing may be thrown through libcurl: out of memory ends the transfer.
  try {
    t->body.append(data, n);
  } catch (const std::exception&) {
    t->out_of_memory = true;
    return 0;
  }
  if (t->on_start != nullptr) {
    long status = 0;
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
    bool done = true;
    try {
      done = status != 200 || (*t->on_start)(t->body) || t->body.size() > kBodyStartBytes;
    } catch (const std::exception&) {  // only a look ahead: the response goes on without it
    }
    if (done) t->on_start = nullptr;
  }
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const std::string_view line = trim(std::string_view(data, n));
  if (line.rfind("HTTP/", 0) == 0) {
    t->headers.clear();  // a new response (after 1xx): keep only the final one's headers
    return n;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;
  if (iequals(trim(line.substr(0, colon)), "Content-Length")) {
    // The body's room in one allocation instead of doubling (and copying)
    // a megabyte page a dozen times; never past max_bytes, whatever the
    // server claims.
    std::uint64_t length = 0;
    const std::string_view digits = trim(line.substr(colon + 1));
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (ec == std::errc() && end == digits.data() + digits.size() && t->body.empty()) {
      try {
        t->body.reserve(static_cast<std::size_t>(std::min(length, t->max_bytes)));
      } catch (const std::exception&) {  // a hint only: the body grows as it comes
      }
    }
  }
  try {
    if (t->headers.size() < 1000)
      t->headers.push_back({std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1)))});
  } catch (const std::exception&) {  // nothing may be thrown through libcurl
    t->out_of_memory = true;
    return 0;
  }
  return n;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

bool retryable_status(int status) { return status == 429 || status == 502 || status == 503 || status == 504; }

bool retryable_code(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return true;
    default:
      return false;
  }
}

// The Error for a failed transfer, naming the URL (never a credential).
Error transfer_error(CURLcode code, const char* detail_buffer, const std::string& url) {
  std::string detail = detail_buffer != nullptr && detail_buffer[0] != '\0' ? detail_buffer : curl_easy_strerror(code);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '.')) detail.pop_back();
  const std::string subject = quote(url) + ": ";
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
      return Error(ErrorCategory::unavailable, subject + "cannot resolve host: " + detail);
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Error(ErrorCategory::unavailable, subject + "cannot resolve proxy: " + detail);
    case CURLE_COULDNT_CONNECT:
      return Error(ErrorCategory::unavailable, subject + "cannot connect: " + detail);
    case CURLE_OPERATION_TIMEDOUT:
      return Error(ErrorCategory::unavailable, subject + "timed out: " + detail);
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return Error(ErrorCategory::unavailable, subject + "connection failed: " + detail);
    case CURLE_PEER_FAILED_VERIFICATION:
      return Error(ErrorCategory::protocol, subject + "TLS certificate not trusted: " + detail);
    case CURLE_SSL_CONNECT_ERROR:
      return Error(ErrorCategory::protocol, subject + "TLS handshake failed: " + detail);
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
      return Error(ErrorCategory::config, subject + "TLS setup failed: " + detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return Error(ErrorCategory::usage, subject + detail);
    default:
      return Error(ErrorCategory::protocol, subject + detail);
  }
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

}  // namespace

// ---- URLs ------------------------------------------------------------------

Result<Url> parse_url(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return Error(ErrorCategory::usage, quote(text) + ": " + std::string(why));
  };
  if (text.empty()) return bad("empty URL");
  if (has_control_or_space(text)) return bad("URL contains spaces or control characters");
  const std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) return bad("not an absolute http:// or https:// URL");
  Url url;
  url.scheme = lower(text.substr(0, colon));
  if (url.scheme != "https" && url.scheme != "http") return bad("scheme '" + url.scheme + "' is not http or https");
  std::string_view rest = text.substr(colon + 3);
  const std::size_t fragment = rest.find('#');
  if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
  const std::size_t path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view tail = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos)
    return bad("credentials in a URL are not accepted; use the credential options");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    url.host = lower(authority.substr(0, close + 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("bad host");
      port_text = after.substr(1);
    }
  } else {
    const std::size_t port_colon = authority.rfind(':');
    url.host = lower(authority.substr(0, port_colon));
    if (port_colon != std::string_view::npos) port_text = authority.substr(port_colon + 1);
  }
  if (url.host.empty() || url.host == "[]") return bad("no host");
  url.port = default_port(url.scheme);
  if (!port_text.empty()) {
    if (port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad("bad port");
    url.port = std::stoi(std::string(port_text));
    if (url.port < 1 || url.port > 65535) return bad("port out of range");
  }
  const std::size_t question = tail.find('?');
  url.path = std::string(tail.substr(0, question));
  if (url.path.empty()) url.path = "/";
  if (question != std::string_view::npos) url.query = std::string(tail.substr(question + 1));
  return url;
}

std::string origin_of(const Url& url) {
  std::string out = url.scheme + "://" + url.host;
  if (url.port != default_port(url.scheme)) out += ":" + std::to_string(url.port);
  return out;
}

std::string to_string(const Url& url) {
  std::string out = origin_of(url) + url.path;
  if (!url.query.empty()) out += "?" + url.query;
  return out;
}

bool same_origin(const Url& a, const Url& b) { return a.scheme == b.scheme && a.host == b.host && a.port == b.port; }

bool is_loopback_host(std::string_view host) {
  const std::string h = lower(host);
  if (h == "localhost" || h == "localhost." ||
      (h.size() > 10 && (h.ends_with(".localhost") || h.ends_with(".localhost."))))
    return true;
  if (h == "[::1]" || h == "::1" || h == "[0:0:0:0:0:0:0:1]") return true;
  int first = -1;
  return is_ipv4(h, &first) && first == 127;
}

Result<Url> resolve_url(const Url& base, std::string_view reference) {
  if (reference.find("://") != std::string_view::npos) {
    const std::size_t q = reference.find_first_of("/?");
    if (q == std::string_view::npos || reference.find("://") < q) return parse_url(reference);
  }
  if (reference.rfind("//", 0) == 0)
    return Error(ErrorCategory::usage, quote(reference) + ": network-path references are not followed");
  if (has_control_or_space(reference))
    return Error(ErrorCategory::usage, quote(reference) + ": URL contains spaces or control characters");
  Url out = base;
  out.query.clear();
  std::string_view ref = reference.substr(0, reference.find('#'));
  const std::size_t question = ref.find('?');
  const std::string_view path = ref.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? std::string_view() : ref.substr(question + 1);
  if (path.empty()) {
    out.query = question == std::string_view::npos ? base.query : std::string(query);
    return out;
  }
  if (path.front() == '/') {
    out.path = std::string(path);
  } else {
    const std::size_t slash = base.path.rfind('/');
    out.path = base.path.substr(0, slash == std::string::npos ? 0 : slash + 1) + std::string(path);
    if (out.path.empty() || out.path.front() != '/') out.path.insert(out.path.begin(), '/');
  }
  out.query = std::string(query);
  return out;
}

std::string encode_query_value(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

// ---- Media types -----------------------------------------------------------

const std::string* ContentType::parameter(std::string_view name) const {
  for (const auto& [n, v] : parameters)
    if (n == name) return &v;
  return nullptr;
}

std::optional<ContentType> parse_content_type(std::string_view text) {
  ContentType out;
  std::size_t semi = text.find(';');
  const std::string_view type = trim(text.substr(0, semi));
  const std::size_t slash = type.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == type.size() || !is_token(type.substr(0, slash)) ||
      !is_token(type.substr(slash + 1)))
    return std::nullopt;
  out.type = lower(type);
  while (semi != std::string_view::npos) {
    text.remove_prefix(semi + 1);
    semi = text.find(';');
    const std::string_view param = trim(text.substr(0, semi));
    if (param.empty()) continue;  // "a/b;" and "a/b; ;c=d" are tolerated
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = trim(param.substr(0, eq));
    std::string_view value = trim(param.substr(eq + 1));
    if (!is_token(name)) return std::nullopt;
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    out.parameters.emplace_back(lower(name), std::string(value));
  }
  return out;
}

bool is_taxii21_media_type(std::string_view content_type, MediaTypeMatch match) {
  const auto parsed = parse_content_type(content_type);
  if (!parsed) return false;
  const bool lenient = match == MediaTypeMatch::lenient;
  if (parsed->type != "application/taxii+json" && !(lenient && parsed->type == "application/vnd.oasis.taxii+json"))
    return false;
  const std::string* version = parsed->parameter("version");
  if (version == nullptr) return lenient;
  return *version == "2.1";
}

// ---- Settings --------------------------------------------------------------

bool Credentials::empty() const noexcept {
  return user.empty() && password.empty() && api_key.empty() && bearer_token.empty() && client_cert.empty() &&
         client_key.empty();
}

namespace {

Status readable_file(const std::string& path, std::string_view what) {
  if (::access(path.c_str(), R_OK) != 0)
    return Error(ErrorCategory::no_input, quote(path) + ": cannot read " + std::string(what));
  return {};
}

}  // namespace

Status validate_settings(const ClientSettings& s) {
  auto base = parse_url(s.base_url);
  if (!base) return std::move(base).error();
  if (base->scheme == "http" && !is_loopback_host(base->host) && !s.allow_plain_http)
    return Error(ErrorCategory::usage, quote(s.base_url) +
                                           ": plain HTTP is only allowed to loopback hosts; use https:// "
                                           "(or --allow-plain-http, which sends credentials and data in clear)");
  const Credentials& c = s.credentials;
  const int schemes = (!c.user.empty() ? 1 : 0) + (!c.api_key.empty() ? 1 : 0) + (!c.bearer_token.empty() ? 1 : 0);
  if (schemes > 1)
    return Error(ErrorCategory::usage, "give one of a user and password, an API key or a bearer token, not several");
  if (!c.password.empty() && c.user.empty()) return Error(ErrorCategory::usage, "a password needs a user name");
  if (c.user.find(':') != std::string::npos) return Error(ErrorCategory::usage, "a Basic user name cannot hold ':'");
  if (has_line_break(c.user) || has_line_break(c.password) || has_line_break(c.api_key) ||
      has_line_break(c.bearer_token))
    return Error(ErrorCategory::usage, "a credential holds a line break or NUL character");
  if (!c.api_key.empty() && !is_token(c.api_key_header))
    return Error(ErrorCategory::usage, quote(c.api_key_header) + ": not a valid HTTP header name for the API key");
  if (!c.client_key.empty() && c.client_cert.empty())
    return Error(ErrorCategory::usage, "a client key needs a client certificate");
  if (!c.client_cert.empty()) CTI_TRY_STATUS(readable_file(c.client_cert, "client certificate"));
  if (!c.client_key.empty()) CTI_TRY_STATUS(readable_file(c.client_key, "client key"));
  if (!s.ca_file.empty()) CTI_TRY_STATUS(readable_file(s.ca_file, "CA file"));
  if (s.connect_timeout.count() <= 0 || s.total_timeout.count() <= 0)
    return Error(ErrorCategory::usage, "timeouts must be positive");
  if (s.retry.max_attempts < 1) return Error(ErrorCategory::usage, "retry attempts must be at least 1");
  if (s.max_response_bytes == 0) return Error(ErrorCategory::usage, "the response size limit must be positive");
  if (has_line_break(s.user_agent)) return Error(ErrorCategory::usage, "the User-Agent holds a line break");
  if (!s.proxy.empty() && has_control_or_space(s.proxy))
    return Error(ErrorCategory::usage, "the proxy URL contains spaces or control characters");
  return {};
}

// ---- Responses and errors --------------------------------------------------

const std::string* Response::header(std::string_view name) const {
  for (const Header& h : headers)
    if (iequals(h.name, name)) return &h.value;
  return nullptr;
}

bool Response::is_taxii(MediaTypeMatch match) const {
  const std::string* ct = header("Content-Type");
  return ct != nullptr && is_taxii21_media_type(*ct, match);
}

Error http_error(const Response& response, std::string_view method) {
  std::string message =
      quote(response.url) + ": " + std::string(method) + " answered " + std::to_string(response.status);
  if (response.is_taxii(MediaTypeMatch::lenient)) {
    json::Limits limits;
    limits.max_depth = 16;
    if (auto body = json::parse(response.body, limits); body && body->is_object()) {
      if (auto title = body->find_string("title")) {
        std::string t(title->substr(0, 200));
        for (char& ch : t)
          if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
        message += " (" + t + ")";
      }
    }
  }
  const int s = response.status;
  ErrorCategory category = ErrorCategory::protocol;
  if (s == 401 || s == 403) {
    category = ErrorCategory::permission;
  } else if (s == 429 || s == 503) {
    category = ErrorCategory::temp_fail;
  } else if (s >= 500) {
    category = ErrorCategory::unavailable;
  }
  return Error(category, message);
}

std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt, const std::string* retry_after,
                                      std::chrono::system_clock::time_point now, double random01) {
  using std::chrono::milliseconds;
  if (retry_after != nullptr) {
    const std::string_view v = trim(*retry_after);
    std::optional<std::int64_t> seconds;
    if (!v.empty() && v.size() < 10 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      seconds = std::stoll(std::string(v));
    } else if (!v.empty()) {
      const time_t when = curl_getdate(std::string(v).c_str(), nullptr);
      if (when != -1) seconds = std::max<std::int64_t>(0, when - std::chrono::system_clock::to_time_t(now));
    }
    if (seconds && milliseconds(*seconds * 1000) <= policy.max_delay) return milliseconds(*seconds * 1000);
  }
  const int shift = std::clamp(attempt - 1, 0, 30);
  const auto cap = std::min<std::int64_t>(policy.max_delay.count(), policy.base_delay.count() << shift);
  const double r = std::clamp(random01, 0.0, 1.0);
  return milliseconds(static_cast<std::int64_t>(static_cast<double>(cap) * r));
}

// ---- The client ------------------------------------------------------------

struct Client::Impl {
  ClientSettings settings;
  Url base;
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;
  std::mutex pool_mutex;
  std::vector<CURL*> pool;

  ~Impl() {
    for (CURL* h : pool) curl_easy_cleanup(h);
    if (share != nullptr) curl_share_cleanup(share);
  }

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Impl*>(user)->share_locks[static_cast<std::size_t>(data) % CURL_LOCK_DATA_LAST].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Impl*>(user)->share_locks[static_cast<std::size_t>(data) % CURL_LOCK_DATA_LAST].unlock();
  }

  CURL* take() {
    {
      std::lock_guard<std::mutex> g(pool_mutex);
      if (!pool.empty()) {
        CURL* h = pool.back();
        pool.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void give_back(CURL* h) {
    std::lock_guard<std::mutex> g(pool_mutex);
    if (pool.size() < 16) {
      pool.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

  // One attempt. Returns the response, or the failed CURLcode's Error with
  // `code` set so the caller can decide on a retry.
  Result<Response> perform(CURL* h, std::string_view method, const Url& url, std::string_view body,
                           const std::vector<Header>& extra, bool credentials, CURLcode& code,
                           const std::function<bool(std::string_view)>* on_body_start = nullptr) const;
};

Result<Response> Client::Impl::perform(CURL* h, std::string_view method, const Url& url, std::string_view body,
                                       const std::vector<Header>& extra, bool credentials, CURLcode& code,
                                       const std::function<bool(std::string_view)>* on_body_start) const {
  curl_easy_reset(h);
  const std::string url_text = to_string(url);
  Transfer transfer;
  transfer.max_bytes = settings.max_response_bytes;
  transfer.handle = h;
  if (on_body_start != nullptr && *on_body_start) transfer.on_start = on_body_start;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  const std::string method_text(method);

  // Headers: our defaults, then the caller's (replacing by name; an empty
  // value means "send no such header", which "Name:" tells libcurl).
  std::vector<Header> headers;
  const auto put = [&headers](std::string name, std::string value) {
    for (Header& existing : headers)
      if (iequals(existing.name, name)) {
        existing.value = std::move(value);
        return;
      }
    headers.push_back({std::move(name), std::move(value)});
  };
  put("Accept", std::string(kTaxii21MediaType));
  if (!body.empty() || method == "POST" || method == "PUT") put("Content-Type", std::string(kTaxii21MediaType));
  put("User-Agent", settings.user_agent);
  put("Expect", "");  // no 100-continue round trip
  const Credentials& c = settings.credentials;
  if (credentials && !c.api_key.empty()) put(c.api_key_header, c.api_key);
  if (credentials && !c.bearer_token.empty()) put("Authorization", "Bearer " + c.bearer_token);
  for (const Header& e : extra) {
    if (!is_token(e.name) || has_line_break(e.value))
      return Error(ErrorCategory::usage, quote(e.name) + ": not a valid HTTP header");
    put(e.name, e.value);
  }
  curl_slist* list = nullptr;
  for (const Header& hd : headers) {
    const std::string line = hd.value.empty() ? hd.name + ":" : hd.name + ": " + hd.value;
    curl_slist* grown = curl_slist_append(list, line.c_str());
    if (grown == nullptr) {
      curl_slist_free_all(list);
      return Error(ErrorCategory::internal, "out of memory building request headers");
    }
    list = grown;
  }
  const Slist header_list(list);

  curl_easy_setopt(h, CURLOPT_URL, url_text.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_SHARE, share);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, kTls12Ciphers);
  if (!settings.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, settings.ca_file.c_str());
  if (credentials && !c.client_cert.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, c.client_cert.c_str());
    if (!c.client_key.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, c.client_key.c_str());
  }
  if (credentials && !c.user.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(h, CURLOPT_USERNAME, c.user.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, c.password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(settings.total_timeout.count()));
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");

  // The proxy: explicit, else https_proxy for https (never HTTP_PROXY, and
  // none for loopback or plain HTTP); "" stops libcurl reading the
  // environment itself.
  std::string proxy = settings.proxy;
  if (proxy.empty() && url.scheme == "https") {
    proxy = env("https_proxy");
    if (proxy.empty()) proxy = env("HTTPS_PROXY");
  }
  if (is_loopback_host(url.host)) proxy.clear();
  curl_easy_setopt(h, CURLOPT_PROXY, proxy.c_str());
  std::string no_proxy = env("no_proxy");
  if (no_proxy.empty()) no_proxy = env("NO_PROXY");
  curl_easy_setopt(h, CURLOPT_NOPROXY, no_proxy.c_str());

  if (method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());  // never NULL: that reads stdin
    if (method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);

  code = curl_easy_perform(h);
  // Nothing that points into this frame may outlive it.
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  if (transfer.out_of_memory)
    return Error(ErrorCategory::internal, quote(url_text) + ": out of memory reading the response");
  if (transfer.too_large)
    return Error(ErrorCategory::data,
                 quote(url_text) + ": response larger than " + std::to_string(settings.max_response_bytes) + " bytes");
  if (code != CURLE_OK) return transfer_error(code, error_buffer, url_text);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  Response r;
  r.status = static_cast<int>(status);
  r.headers = std::move(transfer.headers);
  r.body = std::move(transfer.body);
  r.url = url_text;
  return r;
}

Result<Client> Client::create(ClientSettings settings) {
  CTI_TRY_STATUS(validate_settings(settings));
  global_init();
  auto impl = std::make_shared<Impl>();
  impl->base = *parse_url(settings.base_url);
  impl->settings = std::move(settings);
  impl->share = curl_share_init();
  if (impl->share == nullptr) return Error(ErrorCategory::internal, "libcurl: cannot create a share handle");
  curl_share_setopt(impl->share, CURLSHOPT_LOCKFUNC, &Impl::lock);
  curl_share_setopt(impl->share, CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
  curl_share_setopt(impl->share, CURLSHOPT_USERDATA, impl.get());
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return Client(std::move(impl));
}

Result<Url> Client::resolve(std::string_view reference) const { return resolve_url(impl_->base, reference); }

const ClientSettings& Client::settings() const noexcept { return impl_->settings; }

const Url& Client::base() const noexcept { return impl_->base; }

Result<Response> Client::request(std::string_view method, std::string_view url, std::string_view body,
                                 const std::vector<Header>& headers, RequestOptions options) const {
  if (!is_token(method)) return Error(ErrorCategory::usage, quote(method) + ": not an HTTP method");
  auto target = resolve(url);
  if (!target) return std::move(target).error();
  const ClientSettings& s = impl_->settings;
  if (target->scheme == "http" && !is_loopback_host(target->host) && !s.allow_plain_http)
    return Error(ErrorCategory::usage, quote(to_string(*target)) + ": plain HTTP is only allowed to loopback hosts");
  // Credentials never cross origins (shared/CLI.md).
  const bool credentials = options.credentials && same_origin(*target, impl_->base);
  const int attempts = options.retry ? s.retry.max_attempts : 1;
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  CURL* h = impl_->take();
  if (h == nullptr) return Error(ErrorCategory::internal, "libcurl: cannot create a handle");
  struct Return {
    Impl& impl;
    CURL* h;
    ~Return() { impl.give_back(h); }
  } give_back{*impl_, h};

  const auto started = std::chrono::steady_clock::now();
  // Whether a wait of `delay` before the next attempt still fits the budget.
  const auto fits = [&](std::chrono::milliseconds delay) {
    return s.retry.budget.count() <= 0 || std::chrono::steady_clock::now() + delay <= started + s.retry.budget;
  };
  for (int attempt = 1;; ++attempt) {
    CURLcode code = CURLE_OK;
    auto r = impl_->perform(h, method, *target, body, headers, credentials, code, &options.on_body_start);
    const bool last = attempt >= attempts;
    if (r) {
      r->attempts = attempt;
      if (last || !retryable_status(r->status)) return r;
      const auto delay =
          retry_delay(s.retry, attempt, r->header("Retry-After"), std::chrono::system_clock::now(), unit(random));
      if (!fits(delay)) return r;
      std::this_thread::sleep_for(delay);
      continue;
    }
    if (last || code == CURLE_OK || !retryable_code(code)) return r;
    const auto delay = retry_delay(s.retry, attempt, nullptr, std::chrono::system_clock::now(), unit(random));
    if (!fits(delay)) return r;
    std::this_thread::sleep_for(delay);
  }
}

}  // namespace ctishare::taxii
