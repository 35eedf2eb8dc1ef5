// taxii-serve's sockets, TLS and limits (see server.h). Shape of the Beast
// examples' async server: one session object per connection on its own
// strand; the io threads only move bytes, and everything that may block —
// the scrypt behind Basic authentication, SQLite, STIX validation — runs on
// worker threads: one pool for GET and HEAD, another for requests that
// write, so a slow POST cannot stall the listing requests of 63 other
// clients, and the writers, which mostly wait for syncs, can be many
// without more reads competing for the cores.
//
// One request, step by step:
//   1. read the request line and headers under header_timeout (first
//      request) or idle_timeout (keep-alive); over max_header_size → 431,
//      a target over max_url_length → 414, a Content-Length over
//      max_content_length → 413 (the body is never read);
//   2. requests with a body: authenticate and rate-limit on a worker first,
//      so an anonymous client cannot make the server buffer its body;
//      then read the body under request_timeout (100-continue honoured);
//   3. on a worker: authenticate (if not yet), rate-limit (429 with
//      Retry-After), call the handler, write the audit record;
//   4. back on the session's strand: write the response, keep the
//      connection open unless the client, an error or a shutdown says not.
#include "server.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "ctishare/audit.h"
#include "ctishare/config.h"
#include "ctishare/file.h"
#include "ctishare/taxii/auth.h"
#include "ctishare/taxii/handler.h"
#include "ctishare/taxii/rate_limit.h"
#include "ctishare/taxii/store.h"

namespace ctishare::serve {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

// A request body read into a std::string by appending: beast's string_body
// grows the string with resize(), which zero-fills every chunk before
// copying it in (a megabyte of memset per 1,000-object POST).
struct AppendStringBody {
  using value_type = std::string;
  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool IsRequest, class Fields>
    reader(http::header<IsRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, error_code& ec) {
      ec = {};
      if (!length) return;
      if (*length > body_.max_size()) {
        ec = http::error::buffer_overflow;
        return;
      }
      body_.reserve(static_cast<std::size_t>(*length));
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      return n;
    }
    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// Mozilla's "intermediate" server profile (version 5.7): TLS 1.2 with
// forward-secret AEAD suites only, and TLS 1.3's defaults.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

Error config_error(const std::string& message) { return Error(ErrorCategory::config, message); }

Result<std::unique_ptr<ssl::context>> make_tls_context(const taxii::ServeConfig& c) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_max_early_data(native, 0);  // no 0-RTT: early data can be replayed
  SSL_CTX_set_dh_auto(native, 1);         // ffdhe groups for the DHE suites of the profile
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1 || SSL_CTX_set_ciphersuites(native, kTls13Suites) != 1)
    return config_error("cannot set the TLS cipher suites: " + openssl_error());
  if (SSL_CTX_set1_groups_list(native, "X25519:prime256v1:secp384r1") != 1)
    return config_error("cannot set the TLS key exchange groups: " + openssl_error());
  // A private key others can read is refused like any other secret file
  // (shared/CLI.md, 77); a missing one is a configuration error.
  if (auto s = check_secret_file(c.tls_key); !s)
    return Error(s.error().category() == ErrorCategory::permission ? ErrorCategory::permission : ErrorCategory::config,
                 "tls_key: " + s.error().message());
  if (SSL_CTX_use_certificate_chain_file(native, c.tls_cert.c_str()) != 1)
    return config_error("tls_cert " + quote(c.tls_cert) + ": cannot use it as a PEM certificate chain: " + openssl_error());
  if (SSL_CTX_use_PrivateKey_file(native, c.tls_key.c_str(), SSL_FILETYPE_PEM) != 1)
    return config_error("tls_key " + quote(c.tls_key) + ": cannot use it as a PEM private key: " + openssl_error());
  if (SSL_CTX_check_private_key(native) != 1)
    return config_error("tls_key " + quote(c.tls_key) + " does not belong to tls_cert " + quote(c.tls_cert));
  if (!c.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(native, c.client_ca.c_str(), nullptr) != 1)
      return config_error("client_ca " + quote(c.client_ca) + ": cannot load it as PEM certificates: " + openssl_error());
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.client_ca.c_str());
    if (names == nullptr) return config_error("client_ca " + quote(c.client_ca) + " holds no certificate");
    SSL_CTX_set_client_CA_list(native, names);
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | (c.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), nullptr);
  }
  return ctx;
}

std::string hex(const unsigned char* data, std::size_t n) {
  static const char* const digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

// The key that signs next tokens: read from its file, or made (256 random
// bits) and written with mode 0600 on first start, so tokens survive
// restarts.
Result<std::string> load_paging_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    auto key = read_secret_file(path);
    if (!key) return std::move(key).error();
    if (key->size() < 32) return config_error("paging key file " + quote(path) + " holds fewer than 32 characters");
    return key;
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Error(ErrorCategory::internal, "cannot draw a random paging key");
  const std::string key = hex(raw, sizeof raw);
  if (auto written = write_new_secret_file(path, key + "\n"); !written)
    return Error(written.error().category(), "paging key: " + written.error().message());
  return key;
}

// "Sun, 29 Nov 2026 22:45:34 GMT" (RFC 9110 §5.6.7).
std::string http_date() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// Printable ASCII only, for log lines.
std::string printable(std::string_view s, std::size_t max = 300) {
  std::string out;
  for (char ch : s.substr(0, max)) out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  if (s.size() > max) out += "...";
  return out;
}

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Closes a keep-alive connection waiting between requests (shutdown).
  virtual void stop_if_idle() = 0;
};

// Failed authentications per peer address: ten at once, then one every
// two seconds; an address past that gets 429 without its credentials being
// checked. Bounded: forgotten entirely when it tracks too many addresses.
class FailureLimiter {
 public:
  void failed(const std::string& address, taxii::Micros now) {
    const auto d = limiter_.take(address, now);
    if (d.allowed) return;
    std::lock_guard lock(mutex_);
    if (blocked_.size() > 100000) blocked_.clear();
    blocked_[address] = now + d.retry_after_seconds * 1'000'000;
  }
  // Seconds the address must still wait; 0 when it may try.
  std::int64_t blocked(const std::string& address, taxii::Micros now) {
    std::lock_guard lock(mutex_);
    const auto it = blocked_.find(address);
    if (it == blocked_.end()) return 0;
    if (it->second <= now) {
      blocked_.erase(it);
      return 0;
    }
    return (it->second - now + 999'999) / 1'000'000;
  }

 private:
  taxii::RateLimiter limiter_{0.5, 10};
  std::mutex mutex_;
  std::unordered_map<std::string, taxii::Micros> blocked_;
};

// What every session shares.
struct Shared {
  Shared(const taxii::ServeConfig& c, taxii::Handler& h, taxii::Authenticator& a, taxii::RateLimiter& l,
         audit::AuditLog& al, const Clock& clk, net::io_context& io, net::thread_pool& r, net::thread_pool& w,
         const RunOptions& o, bool t)
      : config(c), handler(h), auth(a), limiter(l), audit(al), clock(clk), ioc(io), readers(r), writers(w),
        options(o), tls(t) {}

  const taxii::ServeConfig& config;
  taxii::Handler& handler;
  taxii::Authenticator& auth;
  taxii::RateLimiter& limiter;
  audit::AuditLog& audit;
  const Clock& clock;
  net::io_context& ioc;
  net::thread_pool& readers;  // GET and HEAD
  net::thread_pool& writers;  // everything else
  const RunOptions& options;
  const bool tls;
  FailureLimiter failures;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::mutex sessions_mutex;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  std::mutex log_mutex;
  std::chrono::steady_clock::time_point last_audit_error{};

  void log(const std::string& line) {
    std::lock_guard lock(log_mutex);
    options.log(line);
  }

  void record(audit::Event event) {
    event.tool = "taxii-serve";
    auto s = audit.append(event);
    if (s) return;
    // An audit log that cannot be written is reported at most once a
    // minute; requests go on (their data is already committed or read).
    std::lock_guard lock(log_mutex);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_audit_error > std::chrono::minutes(1)) {
      last_audit_error = now;
      options.log("error: audit log: " + s.error().message());
    }
  }
};

template <bool Tls>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Tls>> {
  using Stream = std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

 public:
  Session(tcp::socket&& socket, Shared& shared, ssl::context* ctx)
      : shared_(shared), stream_(make_stream(std::move(socket), ctx)) {
    error_code ec;
    const auto ep = lowest().socket().remote_endpoint(ec);
    remote_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
    remote_address_ = ec ? std::string("?") : ep.address().to_string();
    ++shared_.connections;
  }
  ~Session() override {
    --shared_.connections;
    std::lock_guard lock(shared_.sessions_mutex);
    shared_.sessions.erase(this);
  }

  void start() {
    {
      std::lock_guard lock(shared_.sessions_mutex);
      shared_.sessions.emplace(this, this->weak_from_this());
    }
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->on_start(); });
  }

  void stop_if_idle() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      // Only keep-alive connections between requests: a connection
      // accepted before the stop still gets its first request served.
      if (self->idle_ && !self->first_ && self->buffer_.size() == 0) {
        error_code ec;
        self->lowest().socket().cancel(ec);
      }
    });
  }

 private:
  static Stream make_stream(tcp::socket&& socket, ssl::context* ctx) {
    if constexpr (Tls)
      return Stream(std::move(socket), *ctx);
    else
      return Stream(std::move(socket));
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const taxii::ServeConfig& config() const { return shared_.config; }
  static std::chrono::seconds seconds(std::int64_t s) { return std::chrono::seconds(s); }

  void on_start() {
    if constexpr (Tls) {
      lowest().expires_after(seconds(config().header_timeout));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](error_code ec) { self->on_handshake(ec); });
    } else {
      do_read();
    }
  }

  void on_handshake(error_code ec) {
    if (ec) {
      if (shared_.options.verbosity > 0) shared_.log(remote_ + ": TLS handshake failed: " + printable(ec.message()));
      return close_now();
    }
    if constexpr (Tls) {
      if (!config().client_ca.empty()) {
        SSL* native = stream_.native_handle();
        X509* cert = SSL_get0_peer_certificate(native);
        if (cert != nullptr && SSL_get_verify_result(native) == X509_V_OK) {
          char cn[256];
          const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
          if (n > 0) certificate_subject_.assign(cn, static_cast<std::size_t>(n));
        }
      }
    }
    do_read();
  }

  void do_read() {
    if (shared_.stopping && !first_) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(config().max_header_size));
    parser_->body_limit(config().protocol.max_content_length);
    idle_ = true;
    lowest().expires_after(seconds(first_ ? config().header_timeout : config().idle_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    idle_ = false;
    started_ = std::chrono::steady_clock::now();
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == beast::error::timeout ||
        ec == net::error::eof || ec == net::error::connection_reset)
      return close();
    if (ec == http::error::header_limit)
      return refuse(taxii::error_response(431, "Request header fields too large",
                                          "the request line and headers exceed " +
                                              std::to_string(config().max_header_size) + " bytes"));
    // (Beast reports a Content-Length past the limit before it counts the
    // header as done: the body is unread all the same.)
    if (ec == http::error::body_limit) return refuse(too_large(), true);
    if (ec) return refuse(taxii::error_response(400, "Bad request", "the request is not valid HTTP/1.1"));
    const auto& req = parser_->get();
    if (req.target().size() > config().max_url_length)
      return refuse(taxii::error_response(414, "URI too long",
                                          "the request target exceeds " + std::to_string(config().max_url_length) + " bytes"));
    if (const auto length = parser_->content_length(); length && *length > config().protocol.max_content_length)
      return refuse(too_large(), true);
    if (parser_->is_done()) return dispatch();
    // A body follows: who is sending it is settled before it is read.
    net::post(shared_.writers, [self = this->shared_from_this(), guard = work_guard()] {
      auto refusal = self->admit();
      net::post(self->stream_.get_executor(), [self, refusal = std::move(refusal)]() mutable {
        if (refusal) return self->refuse(std::move(*refusal));
        self->read_body();
      });
    });
  }

  void read_body() {
    lowest().expires_after(seconds(config().request_timeout));
    const auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      continue_ = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *continue_, [self = this->shared_from_this()](error_code ec, std::size_t) {
        if (ec) return self->close_now();
        self->read_rest();
      });
      return;
    }
    read_rest();
  }

  void read_rest() {
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](error_code ec, std::size_t) {
      if (ec == http::error::body_limit) return self->refuse(self->too_large());
      if (ec == beast::error::timeout) {
        return self->refuse(taxii::error_response(408, "Request timeout", "the request body did not arrive in time"));
      }
      if (ec) return self->close_now();
      self->dispatch();
    });
  }

  taxii::HttpResponse too_large() const {
    return taxii::error_response(413, "Request too large",
                                 "the body exceeds max_content_length (" +
                                     std::to_string(config().protocol.max_content_length) + " bytes)");
  }

  auto work_guard() { return net::make_work_guard(shared_.ioc); }

  // Authenticates the request and charges the rate limit; the response to
  // send instead of serving it, if any. Runs on a worker.
  std::optional<taxii::HttpResponse> admit() {
    if (admitted_) return std::nullopt;
    admitted_ = true;
    headers_.clear();
    for (const auto& f : parser_->get()) headers_.push_back({std::string(f.name_string()), std::string(f.value())});
    const taxii::Micros now = detail_now();
    // An address that keeps failing is slowed down before its next guess
    // costs an scrypt computation.
    if (const auto wait = shared_.failures.blocked(remote_address_, now); wait > 0) {
      taxii::HttpResponse r =
          taxii::error_response(429, "Too many failed attempts", "too many failed authentications from this address");
      r.headers.push_back({"Retry-After", std::to_string(wait)});
      return r;
    }
    const taxii::AuthResult a = shared_.auth.authenticate(headers_, certificate_subject_, now);
    if (a.outcome == taxii::AuthResult::Outcome::rejected) {
      shared_.failures.failed(remote_address_, now);
      audit::Event e;
      e.actor = a.user;
      e.action = "auth.reject";
      e.target = printable(std::string(parser_->get().target()));
      e.result = "401";
      e.remote = remote_;
      e.detail = a.reason;
      shared_.record(std::move(e));
      if (shared_.options.verbosity > 0) shared_.log(remote_ + ": authentication failed: " + printable(a.reason));
      taxii::HttpResponse r = taxii::error_response(401, "Authentication failed", "the credentials were not accepted");
      for (const std::string& c : shared_.auth.challenges()) r.headers.push_back({"WWW-Authenticate", c});
      keep_alive_after_refusal_ = true;
      return r;
    }
    user_ = a.outcome == taxii::AuthResult::Outcome::authenticated ? a.user : std::string();
    if (user_.empty() && !parser_->is_done()) {
      // No credentials and a body on its way: refused before it is read.
      taxii::HttpResponse r = taxii::error_response(401, "Authentication required", "this server needs credentials");
      for (const std::string& c : shared_.auth.challenges()) r.headers.push_back({"WWW-Authenticate", c});
      return r;
    }
    const auto d = shared_.limiter.take(user_.empty() ? "address " + remote_address_ : "user " + user_, now);
    if (!d.allowed) {
      taxii::HttpResponse r = taxii::error_response(429, "Too many requests", "slow down and retry after the given delay");
      r.headers.push_back({"Retry-After", std::to_string(d.retry_after_seconds)});
      keep_alive_after_refusal_ = true;
      return r;
    }
    return std::nullopt;
  }

  taxii::Micros detail_now() const {
    const auto t = shared_.clock.now();
    return t.unix_seconds() * 1'000'000 + static_cast<taxii::Micros>(t.nanos() / 1000);
  }

  void dispatch() {
    const auto method = parser_->get().method();
    net::thread_pool& pool =
        method == http::verb::get || method == http::verb::head ? shared_.readers : shared_.writers;
    net::post(pool, [self = this->shared_from_this(), guard = work_guard()] {
      taxii::HttpResponse response;
      if (auto refusal = self->admit()) {
        response = std::move(*refusal);
      } else {
        taxii::HttpRequest request;
        const auto& req = self->parser_->get();
        request.method = std::string(req.method_string());
        request.target = std::string(req.target());
        request.headers = std::move(self->headers_);  // copied once, by admit()
        request.body = std::move(self->parser_->get().body());
        request.user = self->user_;
        response = self->shared_.handler.handle(request);
        self->audit(request, response);
      }
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable { self->write(std::move(response), true); });
    });
  }

  void audit(const taxii::HttpRequest& request, const taxii::HttpResponse& response) {
    if (response.audit.action.empty()) return;
    audit::Event e;
    e.actor = request.user;
    e.action = response.audit.action;
    const std::string_view target = request.target;
    e.target = printable(target.substr(0, target.find('?')));
    e.collection = response.audit.collection;
    e.objects = response.audit.objects;
    e.result = std::to_string(response.status);
    e.remote = remote_;
    if (response.audit.failed > 0) e.detail = std::to_string(response.audit.failed) + " refused";
    const std::size_t q = target.find('?');
    if (q != std::string_view::npos) {
      if (!e.detail.empty()) e.detail += "; ";
      e.detail += "query " + printable(target.substr(q + 1), 500);
    }
    shared_.record(std::move(e));
    // Writes are on disk before their answer; so is their audit record.
    if (request.method != "GET") (void)shared_.audit.sync();
  }

  // Answers without serving and closes unless the request was read whole;
  // `body_unread`: the request announced a body that was refused unread.
  void refuse(taxii::HttpResponse response, bool body_unread = false) {
    const bool keep = keep_alive_after_refusal_ && parser_ && parser_->is_done();
    keep_alive_after_refusal_ = false;
    // Closing with unread bytes in the socket makes the kernel send a
    // reset, which can destroy the answer before the client reads it: read
    // and discard what the client is still sending for a moment first.
    linger_ = !keep && parser_ && (body_unread || parser_->is_header_done()) && !parser_->is_done();
    write(std::move(response), keep);
  }

  void write(taxii::HttpResponse r, bool may_keep_alive) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(r.status));
    for (const taxii::Header& h : r.headers) response_.insert(h.name, h.value);
    response_.set(http::field::date, http_date());
    response_.set(http::field::cache_control, "no-store");
    response_.set("X-Content-Type-Options", "nosniff");
    if constexpr (Tls) response_.set(http::field::strict_transport_security, "max-age=31536000");
    response_.body() = std::move(r.body);
    const bool client_keeps = parser_ && parser_->is_header_done() && parser_->get().keep_alive();
    response_.keep_alive(may_keep_alive && client_keeps && !shared_.stopping);
    response_.prepare_payload();
    status_ = r.status;
    lowest().expires_after(seconds(config().request_timeout));
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](error_code ec, std::size_t bytes) { self->on_write(ec, bytes); });
  }

  void on_write(error_code ec, std::size_t bytes) {
    if (shared_.options.verbosity > 0 && parser_) {
      const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
      char took[32];
      std::snprintf(took, sizeof took, "%.1f ms", ms);
      const auto& req = parser_->get();
      shared_.log(remote_ + " " + (user_.empty() ? std::string("-") : printable(user_)) + " \"" +
                  printable(std::string(req.method_string())) + " " + printable(std::string(req.target())) + "\" " +
                  std::to_string(status_) + " " + std::to_string(bytes) + " " + took);
    }
    if (ec) return close_now();
    if (linger_) return drain(0);
    if (!response_.keep_alive()) return close();
    first_ = false;
    admitted_ = false;
    user_.clear();
    do_read();
  }

  // Discards what the client still sends, up to 2 s and 16 MiB, then closes.
  void drain(std::size_t so_far) {
    if (so_far == 0) lowest().expires_after(std::chrono::seconds(2));
    if (!scratch_) scratch_ = std::make_unique<std::array<char, 65536>>();
    stream_.async_read_some(net::buffer(*scratch_), [self = this->shared_from_this(), so_far](error_code ec, std::size_t n) {
      if (ec || so_far + n > (std::size_t{16} << 20)) return self->close_now();
      self->drain(so_far + n);
    });
  }

  // TLS close_notify (bounded), then the socket.
  void close() {
    if constexpr (Tls) {
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](error_code) { self->close_now(); });
    } else {
      error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      close_now();
    }
  }
  void close_now() {
    error_code ec;
    lowest().socket().close(ec);
  }

  Shared& shared_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<AppendStringBody>> parser_;
  http::response<http::string_body> response_;
  std::shared_ptr<http::response<http::empty_body>> continue_;
  std::string remote_, remote_address_, certificate_subject_, user_;
  std::vector<taxii::Header> headers_;  // the request's headers, for authentication and the handler
  std::chrono::steady_clock::time_point started_{};
  int status_ = 0;
  bool idle_ = false;
  bool first_ = true;
  bool admitted_ = false;
  bool keep_alive_after_refusal_ = false;
  bool linger_ = false;
  std::unique_ptr<std::array<char, 65536>> scratch_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(Shared& shared, tcp::acceptor& acceptor, ssl::context* ctx)
      : shared_(shared), acceptor_(acceptor), ctx_(ctx) {}

  void accept() {
    acceptor_.async_accept(net::make_strand(shared_.ioc),
                           [self = shared_from_this()](error_code ec, tcp::socket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

 private:
  void on_accept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // shutting down
    if (!ec) {
      if (shared_.connections >= shared_.config.max_connections) {
        // Over the limit: closed at once, before any byte is read.
        error_code ignored;
        socket.close(ignored);
      } else {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        if (ctx_ != nullptr)
          std::make_shared<Session<true>>(std::move(socket), shared_, ctx_)->start();
        else
          std::make_shared<Session<false>>(std::move(socket), shared_, nullptr)->start();
      }
    } else if (shared_.options.verbosity > 0) {
      shared_.log("accept failed: " + ec.message());
    }
    accept();
  }

  Shared& shared_;
  tcp::acceptor& acceptor_;
  ssl::context* ctx_;
};

// The TLS context, or nullptr for plain HTTP; errors as check_transport.
Result<std::unique_ptr<ssl::context>> make_transport(const taxii::ServeConfig& c) {
  if (c.protocol.api_roots.empty()) return config_error(quote(c.path) + ": no [[api_root]] is configured");
  if (c.auth.users.empty())
    return config_error(quote(c.path) + ": no [[user]] is configured, so every request would be refused" +
                        (c.auth.jwt ? " (bearer-token users take their permissions from [[user]] tables)" : ""));
  error_code bad_address;
  const auto address = net::ip::make_address(c.listen_host == "localhost" ? "127.0.0.1" : c.listen_host, bad_address);
  if (bad_address) return config_error("listen address " + quote(c.listen_host) + " is not an IP address");
  const bool tls = !c.tls_cert.empty();
  if (!tls && !address.is_loopback() && !c.allow_plain_http)
    return config_error("refusing plain HTTP on the non-loopback address " + quote(c.listen_host) +
                        ": set server.tls_cert and server.tls_key (or allow_plain_http = true, never on a network)");
  if (!tls && !c.client_ca.empty()) return config_error("server.client_ca needs TLS (server.tls_cert and server.tls_key)");
  for (const auto& u : c.auth.users)
    if (!u.certificate_subject.empty() && c.client_ca.empty())
      return config_error("user " + quote(u.name) + " has client_cert_cn, which needs server.client_ca to be set");
  if (!tls) return std::unique_ptr<ssl::context>();
  return make_tls_context(c);
}

}  // namespace

Status check_transport(const taxii::ServeConfig& config) {
  auto t = make_transport(config);
  if (!t) return std::move(t).error();
  return {};
}

Result<int> run_server(RunOptions options) {
  const taxii::ServeConfig& c = options.config;
  auto transport = make_transport(c);
  if (!transport) return std::move(transport).error();
  std::unique_ptr<ssl::context> ctx = std::move(*transport);
  const bool tls = ctx != nullptr;
  const auto address = net::ip::make_address(c.listen_host == "localhost" ? "127.0.0.1" : c.listen_host);

  auto authenticator = taxii::Authenticator::create(c.auth);
  if (!authenticator) return Error(ErrorCategory::config, quote(c.path) + ": " + authenticator.error().message());
  auto key = load_paging_key(c.paging_key_file);
  if (!key) return std::move(key).error();
  auto store = taxii::open_sqlite_store(c.database);
  if (!store) return std::move(store).error();
  const Clock& clock = system_clock();
  auto audit_log = audit::AuditLog::open(c.audit_log, clock, audit::SyncPolicy::on_request);
  if (!audit_log) return std::move(audit_log).error();

  taxii::ServerConfig protocol = c.protocol;
  protocol.challenge = authenticator->challenge();
  taxii::Handler handler(std::move(protocol), **store, clock, *key);
  taxii::RateLimiter limiter(c.rate_limit, c.rate_burst);

  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  // Readers: as many as cores (reads share the store's connection, so
  // more would only contend). Writers: twice that, since a POST's worker
  // spends much of its time waiting for syncs (the store's commit, the
  // audit log), and while it waits others can parse and validate, and
  // queue for the store's next group commit.
  const unsigned readers = c.workers != 0 ? c.workers : std::max(2u, cores);
  const unsigned writers = c.workers != 0 ? c.workers : std::max(4u, 2 * cores);
  net::io_context ioc(static_cast<int>(cores));
  net::thread_pool read_pool(readers);
  net::thread_pool write_pool(writers);
  Shared shared(c, handler, *authenticator, limiter, *audit_log, clock, ioc, read_pool, write_pool, options, tls);

  tcp::acceptor acceptor(ioc);
  {
    error_code ec;
    const tcp::endpoint endpoint(address, c.listen_port);
    const auto fail = [&](const char* what) {
      return Error(ErrorCategory::cannot_create, "cannot " + std::string(what) + " " + quote(c.listen_host + ":" +
                                                 std::to_string(c.listen_port)) + ": " + ec.message());
    };
    if (acceptor.open(endpoint.protocol(), ec); ec) return fail("open a socket for");
    if (acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) return fail("set options on");
    if (acceptor.bind(endpoint, ec); ec) return fail("listen on");
    if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen on");
  }
  const auto bound = acceptor.local_endpoint();
  const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
  const std::string url = std::string(tls ? "https" : "http") + "://" + host + ":" + std::to_string(bound.port()) + "/";
  if (!tls && !address.is_loopback())
    options.log("warning: serving PLAIN HTTP on " + url + ": credentials and data cross the network unencrypted");

  std::make_shared<Listener>(shared, acceptor, ctx.get())->accept();

  // Audit records of reads reach the disk within a second, and so does the
  // log's checkpoint (which sync() writes at most once a second, so a tick
  // after a burst catches up even when nothing new was appended). The fdatasync
  // may take milliseconds, so it runs on a thread of its own: on an io
  // thread it would stall every connection that thread serves, on a worker
  // every request queued behind it.
  std::mutex audit_sync_mutex;
  std::condition_variable audit_sync_stop;
  bool audit_sync_done = false;
  std::thread audit_syncer([&] {
    std::unique_lock lock(audit_sync_mutex);
    while (!audit_sync_stop.wait_for(lock, std::chrono::seconds(1), [&] { return audit_sync_done; })) {
      lock.unlock();
      (void)audit_log->sync();
      lock.lock();
    }
  });
  const auto stop_audit_syncer = [&] {
    {
      std::lock_guard lock(audit_sync_mutex);
      audit_sync_done = true;
    }
    audit_sync_stop.notify_all();
    if (audit_syncer.joinable()) audit_syncer.join();
  };
  struct StopOnExit {
    const std::function<void()> stop;
    ~StopOnExit() { stop(); }
  } stop_on_exit{stop_audit_syncer};

  // SIGTERM / SIGINT: stop accepting, close idle connections, let requests
  // in flight finish, and give up on them after shutdown_timeout.
  net::signal_set signals(ioc, SIGTERM, SIGINT);
  net::steady_timer deadline(ioc);
  signals.async_wait([&](error_code ec, int) {
    if (ec) return;
    if (options.verbosity >= 0) options.log("stopping: finishing requests in flight");
    shared.stopping = true;
    error_code ignored;
    acceptor.close(ignored);
    {
      std::lock_guard lock(shared.sessions_mutex);
      for (auto& [raw, weak] : shared.sessions)
        if (auto s = weak.lock()) s->stop_if_idle();
    }
    deadline.expires_after(std::chrono::seconds(c.shutdown_timeout));
    deadline.async_wait([&](error_code e) {
      if (e) return;
      if (shared.connections > 0) options.log("warning: stopping with requests still in flight after the shutdown timeout");
      ioc.stop();
    });
  });

  if (!options.ready_file.empty()) {
    auto written = write_file_atomically(options.ready_file, url + "\n");
    if (!written) return std::move(written).error();
  }
  if (options.verbosity >= 0) options.log("listening on " + url);

  std::vector<std::thread> threads;
  for (unsigned i = 1; i < cores; ++i) threads.emplace_back([&] { ioc.run(); });
  // The deadline timer must not keep the loop alive once every connection
  // has gone: watch for that while stopping.
  net::steady_timer drain(ioc);
  std::function<void()> watch_drain = [&] {
    drain.expires_after(std::chrono::milliseconds(50));
    drain.async_wait([&](error_code ec) {
      if (ec) return;
      if (shared.stopping && shared.connections == 0) {
        deadline.cancel();
        signals.cancel();
        return;
      }
      watch_drain();
    });
  };
  watch_drain();
  ioc.run();
  for (auto& t : threads) t.join();
  read_pool.join();
  write_pool.join();
  stop_audit_syncer();
  if (auto s = audit_log->sync(); !s) options.log("error: audit log: " + s.error().message());
  return 0;
}

}  // namespace ctishare::serve
