// Load generator for TAXII 2.1 servers (taxii-serve, medallion or any
// other), used by scripts/bench-taxii. Two workloads:
//
//   get   N keep-alive connections each page through a collection's objects
//         endpoint, following `next` until `more` is false and then starting
//         over; reports requests/s, latency percentiles and bytes/s over a
//         fixed window after a warm-up.
//   post  POSTs a STIX bundle's objects as TAXII envelopes of --batch
//         objects over N connections and waits for each status; reports the
//         objects acknowledged as successes per second. --copies K (or
//         --count N) multiplies the bundle: copy c > 0 gives every object a
//         new id derived from SHA-1 of (c, old id), and every string in the
//         copy equal to the id of an object in the bundle is rewritten the
//         same way, so references inside a copy stay consistent. Ids that
//         point outside the bundle are left alone. With --warm-up each
//         connection is opened and makes one authenticated GET of the
//         collection before the clock starts, as the get walkers do in
//         their warm-up, so a server's first check of the credentials (a
//         slow password hash, once per credential per cache lifetime) is
//         reported apart ("warm_up_s") instead of inside the rate.
//
// The benchmark owns its connections and clock; it runs single-threaded by
// default (--threads to spread connections over more io_contexts) so that
// on a small machine most of the CPU stays with the server under test.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr const char* taxii_media_type = "application/taxii+json;version=2.1";

struct Url {
  bool tls = true;
  std::string host;
  std::string port;
  std::string target;  // path and query
};

Url parse_url(const std::string& text) {
  Url url;
  std::string_view rest = text;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    url.tls = false;
    rest.remove_prefix(7);
  } else {
    throw std::runtime_error("URL must start with https:// or http://: " + text);
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.starts_with('[')) {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::runtime_error("bad IPv6 literal in " + text);
    url.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    url.port = authority.starts_with(':') ? std::string(authority.substr(1)) : "";
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    url.port = colon == std::string_view::npos ? "" : std::string(authority.substr(colon + 1));
  }
  if (url.port.empty()) url.port = url.tls ? "443" : "80";
  if (url.host.empty()) throw std::runtime_error("no host in " + text);
  return url;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string percent_encode(std::string_view in) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The string value of top-level key `key` in a TAXII envelope, found without
// parsing the page: an unescaped `"key"` followed by a colon can only be a
// key (a string value is followed by `,`, `}` or `]`). STIX objects have no
// `next` or `more` property, so the first match is the envelope's.
std::optional<std::string_view> find_key_value(std::string_view body, std::string_view quoted_key) {
  std::size_t pos = 0;
  while ((pos = body.find(quoted_key, pos)) != std::string_view::npos) {
    pos += quoted_key.size();
    std::size_t i = pos;
    while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
    if (i >= body.size() || body[i] != ':') continue;
    ++i;
    while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
    std::size_t end = i;
    if (end < body.size() && body[end] == '"') {
      ++end;
      while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
      return body.substr(i + 1, end - i - 1);
    }
    while (end < body.size() && body[end] != ',' && body[end] != '}' && !std::isspace(static_cast<unsigned char>(body[end]))) ++end;
    return body.substr(i, end - i);
  }
  return std::nullopt;
}

// A response; `body` lives in the connection's buffer until its next
// exchange.
struct Response {
  unsigned status = 0;
  bool keep_alive = true;
  std::string_view body;
};

// A response body read by appending what arrives: beast's string_body
// resizes (zero-fills) before it copies, a second pass over every byte.
struct AppendBody {
  using value_type = std::string;
  class reader {
  public:
    template <bool IsRequest, class Fields>
    reader(http::header<IsRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, boost::system::error_code& ec) {
      if (length) body_.reserve(static_cast<std::size_t>(*length));
      ec = {};
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
      std::size_t n = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      ec = {};
      return n;
    }
    void finish(boost::system::error_code& ec) { ec = {}; }

  private:
    value_type& body_;
  };
};

// One keep-alive connection, HTTPS or plain HTTP, on bare sockets: the
// timeouts of beast's tcp_stream cost a timer operation per read, which on
// a 2-core machine is CPU taken from the server under test. A watchdog per
// exchange (120 s, connect 30 s) closes a connection that hangs instead.
class Connection {
public:
  Connection(asio::io_context& io, ssl::context* tls, const Url& url, tcp::resolver::results_type endpoints, bool verify)
      : io_(io), tls_context_(tls), url_(url), endpoints_(std::move(endpoints)), verify_(verify), watchdog_(io) {}

  bool open() const { return tls_stream_ || plain_stream_; }

  void reset() {
    disarm();
    watched_ = nullptr;
    tls_stream_.reset();
    plain_stream_.reset();
  }

  awaitable<void> connect() {
    reset();
    arm(std::chrono::seconds(30));
    if (tls_context_ != nullptr) {
      auto stream = std::make_unique<ssl::stream<tcp::socket>>(io_, *tls_context_);
      watched_ = &stream->next_layer();
      co_await asio::async_connect(stream->next_layer(), endpoints_, use_awaitable);
      stream->next_layer().set_option(tcp::no_delay(true));
      boost::system::error_code ec;
      asio::ip::make_address(url_.host, ec);
      if (ec && !SSL_set_tlsext_host_name(stream->native_handle(), url_.host.c_str())) {
        throw std::runtime_error("cannot set SNI host name");
      }
      if (verify_) stream->set_verify_callback(ssl::host_name_verification(url_.host));
      co_await stream->async_handshake(ssl::stream_base::client, use_awaitable);
      tls_stream_ = std::move(stream);
    } else {
      auto stream = std::make_unique<tcp::socket>(io_);
      watched_ = stream.get();
      co_await asio::async_connect(*stream, endpoints_, use_awaitable);
      stream->set_option(tcp::no_delay(true));
      plain_stream_ = std::move(stream);
    }
    disarm();
  }

  // Sends `request` and reads the whole response; throws on I/O errors.
  awaitable<Response> exchange(http::request<http::string_body>& request) {
    arm(std::chrono::seconds(120));
    Response response = tls_stream_ ? co_await exchange_on(*tls_stream_, request)
                                    : co_await exchange_on(*plain_stream_, request);
    disarm();
    co_return response;
  }

private:
  // Closes the socket being connected or exchanged on when `limit` passes
  // first, which fails the pending operation. The generation keeps a
  // handler that was already queued when its exchange ended from closing
  // the next one.
  void arm(std::chrono::seconds limit) {
    const std::uint64_t generation = ++generation_;
    watchdog_.expires_after(limit);
    watchdog_.async_wait([this, generation](const boost::system::error_code& ec) {
      if (ec || generation != generation_ || watched_ == nullptr) return;
      boost::system::error_code ignored;
      watched_->close(ignored);
    });
  }
  void disarm() {
    ++generation_;
    watchdog_.cancel();
  }

  // A body of known length is read straight into the connection's own
  // buffer, which is reused and never zero-filled: through beast's parser
  // every byte would be copied once more (from the read buffer). Chunked
  // bodies go through the parser.
  template <class Stream>
  awaitable<Response> exchange_on(Stream& stream, http::request<http::string_body>& request) {
    co_await http::async_write(stream, request, use_awaitable);
    http::response_parser<http::empty_body> header;
    header.body_limit(1ULL << 30);
    co_await http::async_read_header(stream, buffer_, header, use_awaitable);
    Response response;
    response.status = header.get().result_int();
    response.keep_alive = header.get().keep_alive();
    if (header.is_done()) co_return response;
    const auto length = header.content_length();
    if (length && !header.chunked()) {
      const auto n = static_cast<std::size_t>(*length);
      reserve_body(n);
      const std::size_t have = std::min(buffer_.size(), n);
      std::memcpy(body_.get(), buffer_.data().data(), have);
      buffer_.consume(have);
      if (n > have) co_await asio::async_read(stream, asio::buffer(body_.get() + have, n - have), use_awaitable);
      response.body = std::string_view(body_.get(), n);
    } else {
      http::response_parser<AppendBody> parser(std::move(header));
      co_await http::async_read(stream, buffer_, parser, use_awaitable);
      const std::string& text = parser.get().body();
      reserve_body(text.size());
      std::memcpy(body_.get(), text.data(), text.size());
      response.body = std::string_view(body_.get(), text.size());
    }
    co_return response;
  }

  void reserve_body(std::size_t n) {
    if (n <= body_capacity_) return;
    body_capacity_ = std::max(n, 2 * body_capacity_);
    body_ = std::make_unique_for_overwrite<char[]>(body_capacity_);
  }

  asio::io_context& io_;
  ssl::context* tls_context_;
  Url url_;
  tcp::resolver::results_type endpoints_;
  bool verify_;
  asio::steady_timer watchdog_;
  std::uint64_t generation_ = 0;
  tcp::socket* watched_ = nullptr;
  std::unique_ptr<ssl::stream<tcp::socket>> tls_stream_;
  std::unique_ptr<tcp::socket> plain_stream_;
  beast::flat_buffer buffer_;
  std::unique_ptr<char[]> body_;
  std::size_t body_capacity_ = 0;
};

struct CommonOptions {
  std::string url;
  std::string user;
  std::string password_file;
  std::string cacert;
  bool insecure = false;
  int connections = 0;
  int threads = 1;
  bool json = false;
};

struct GetOptions {
  double duration = 10;
  double warmup = 2;
};

struct PostOptions {
  std::string bundle;
  int batch = 1000;
  int copies = 0;
  long count = 0;
  double status_timeout = 600;
  bool warm_up = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string authorization(const CommonOptions& options) {
  if (options.user.empty()) return {};
  std::string password;
  if (!options.password_file.empty()) {
    password = read_file(options.password_file);
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
  }
  return "Basic " + base64(options.user + ":" + password);
}

std::unique_ptr<ssl::context> make_tls_context(const CommonOptions& options) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
  if (options.insecure) {
    context->set_verify_mode(ssl::verify_none);
  } else {
    context->set_verify_mode(ssl::verify_peer);
    if (options.cacert.empty()) {
      context->set_default_verify_paths();
    } else {
      context->load_verify_file(options.cacert);
    }
  }
  return context;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

struct LatencySummary {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

LatencySummary summarize(std::vector<double> ms) {
  LatencySummary s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  double total = 0;
  for (const double v : ms) total += v;
  s.mean = total / static_cast<double>(ms.size());
  s.p50 = percentile(ms, 50);
  s.p90 = percentile(ms, 90);
  s.p99 = percentile(ms, 99);
  s.max = ms.back();
  return s;
}

std::string status_text(const std::map<unsigned, long>& statuses) {
  std::string text;
  for (const auto& [status, n] : statuses) {
    if (!text.empty()) text += ", ";
    text += std::to_string(n) + "x" + (status == 0 ? std::string("io") : std::to_string(status));
  }
  return text;
}

// Runs `n` connections spread over the io_contexts in `contexts` (one
// thread each); `make_worker(io, index)` returns the coroutine for
// connection `index`. With a `deadline`, requests still in flight then are
// abandoned (a slow server may take seconds to answer the last ones); the
// caller must then destroy its connections before `contexts`.
template <typename MakeWorker>
void run_workers(std::vector<std::unique_ptr<asio::io_context>>& contexts, int n, MakeWorker make_worker,
                 std::optional<Clock::time_point> deadline = {}) {
  const std::size_t threads = contexts.size();
  std::vector<std::unique_ptr<asio::steady_timer>> stoppers;
  std::vector<int> running(threads, 0);
  for (std::size_t t = 0; t < threads; ++t) {
    auto& io = *contexts[t];
    stoppers.push_back(std::make_unique<asio::steady_timer>(io, deadline.value_or(Clock::now())));
    if (deadline) {
      stoppers.back()->async_wait([&io](const boost::system::error_code& ec) {
        if (!ec) io.stop();
      });
    }
  }
  for (int i = 0; i < n; ++i) {
    const std::size_t t = static_cast<std::size_t>(i) % threads;
    ++running[t];
    asio::co_spawn(*contexts[t], make_worker(*contexts[t], i), [&, t](std::exception_ptr e) {
      if (--running[t] == 0) stoppers[t]->cancel();
      if (e) std::rethrow_exception(e);
    });
  }
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back([&, t] { contexts[t]->run(); });
  contexts[0]->run();
  for (auto& thread : pool) thread.join();
}

std::vector<std::unique_ptr<asio::io_context>> make_contexts(int threads) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int t = 0; t < threads; ++t) contexts.push_back(std::make_unique<asio::io_context>(1));
  return contexts;
}

// ---- get ----------------------------------------------------------------

struct GetStats {
  long requests = 0;         // completed in the window, any status
  long errors = 0;           // non-200 or I/O failure in the window
  long pages_complete = 0;   // walks that reached more=false in the window
  long reconnects = 0;
  std::uint64_t bytes = 0;   // response bodies in the window
  std::map<unsigned, long> error_statuses;
  std::vector<double> latency_ms;
  std::string last_error;
};

awaitable<void> get_worker(Connection& connection, const Url& url, const std::string& auth, Clock::time_point measure_from,
                           Clock::time_point end, GetStats& stats) {
  const std::string first = url.target;
  const char joiner = first.find('?') == std::string::npos ? '?' : '&';
  std::string target = first;
  http::request<http::string_body> request{http::verb::get, first, 11};
  request.set(http::field::host, url.host);
  request.set(http::field::accept, taxii_media_type);
  request.set(http::field::user_agent, "ctishare-taxii-load");
  if (!auth.empty()) request.set(http::field::authorization, auth);
  asio::steady_timer pause(co_await asio::this_coro::executor);
  bool connected_once = false;
  while (Clock::now() < end) {
    if (!connection.open()) {
      bool failed = false;
      try {
        if (connected_once) ++stats.reconnects;
        co_await connection.connect();
        connected_once = true;
      } catch (const std::exception& e) {
        stats.last_error = std::string("connect: ") + e.what();
        failed = true;
      }
      if (failed) {
        connection.reset();
        if (Clock::now() >= measure_from) {
          ++stats.errors;
          ++stats.error_statuses[0];
        }
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(use_awaitable);
        continue;
      }
    }
    request.target(target);
    const auto start = Clock::now();
    Response response;
    try {
      response = co_await connection.exchange(request);
    } catch (const std::exception& e) {
      stats.last_error = e.what();
      connection.reset();
      target = first;
      const auto now = Clock::now();
      if (now >= measure_from && now <= end) {
        ++stats.requests;
        ++stats.errors;
        ++stats.error_statuses[0];
      }
      continue;
    }
    const auto done = Clock::now();
    if (done >= measure_from && done <= end) {
      ++stats.requests;
      stats.bytes += response.body.size();
      stats.latency_ms.push_back(std::chrono::duration<double, std::milli>(done - start).count());
      if (response.status != 200) {
        ++stats.errors;
        ++stats.error_statuses[response.status];
        stats.last_error = "HTTP " + std::to_string(response.status) + ": " + std::string(response.body.substr(0, 200));
      }
    }
    target = first;
    if (response.status == 200) {
      const auto more = find_key_value(response.body, "\"more\"");
      const auto next = find_key_value(response.body, "\"next\"");
      if (more && *more == "true" && next && !next->empty()) {
        target = first + joiner + "next=" + percent_encode(*next);
      } else if (done >= measure_from && done <= end) {
        ++stats.pages_complete;
      }
    }
    if (!response.keep_alive) connection.reset();
  }
}

int run_get(const CommonOptions& common, const GetOptions& options) {
  const Url url = parse_url(common.url);
  const std::string auth = authorization(common);
  const auto tls = url.tls ? make_tls_context(common) : nullptr;
  asio::io_context resolve_io;
  const auto endpoints = tcp::resolver(resolve_io).resolve(url.host, url.port);
  const int n = common.connections > 0 ? common.connections : 64;
  const int threads = std::max(1, std::min(common.threads, n));

  const auto started = Clock::now();
  const auto measure_from = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.warmup));
  const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration));
  auto contexts = make_contexts(threads);
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<GetStats> stats(static_cast<std::size_t>(n));
  run_workers(contexts, n, [&](asio::io_context& io, int i) {
    connections.push_back(std::make_unique<Connection>(io, tls.get(), url, endpoints, !common.insecure));
    return get_worker(*connections.back(), url, auth, measure_from, end, stats[static_cast<std::size_t>(i)]);
  }, end + std::chrono::seconds(2));

  GetStats total;
  for (auto& s : stats) {
    total.requests += s.requests;
    total.errors += s.errors;
    total.pages_complete += s.pages_complete;
    total.reconnects += s.reconnects;
    total.bytes += s.bytes;
    for (const auto& [status, count] : s.error_statuses) total.error_statuses[status] += count;
    total.latency_ms.insert(total.latency_ms.end(), s.latency_ms.begin(), s.latency_ms.end());
    if (!s.last_error.empty()) total.last_error = s.last_error;
  }
  const LatencySummary latency = summarize(std::move(total.latency_ms));
  const double seconds = options.duration;
  const double rps = static_cast<double>(total.requests) / seconds;
  const double ok_rps = static_cast<double>(total.requests - total.errors) / seconds;
  if (common.json) {
    std::printf(
        "{\"mode\":\"get\",\"url\":\"%s\",\"connections\":%d,\"warmup_s\":%.3f,\"duration_s\":%.3f,\"requests\":%ld,\"errors\":%ld,"
        "\"req_per_s\":%.1f,\"ok_req_per_s\":%.1f,\"latency_ms\":{\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
        "\"max\":%.3f},\"bytes_per_s\":%.0f,\"full_walks\":%ld,\"reconnects\":%ld}\n",
        common.url.c_str(), n, options.warmup, seconds, total.requests, total.errors, rps, ok_rps, latency.mean, latency.p50,
        latency.p90, latency.p99, latency.max, static_cast<double>(total.bytes) / seconds, total.pages_complete,
        total.reconnects);
  } else {
    std::printf("url          %s\n", common.url.c_str());
    std::printf("connections  %d (keep-alive, %s), %.0f s after %.0f s warm-up\n", n, url.tls ? "HTTPS" : "HTTP",
                seconds, options.warmup);
    std::printf("requests     %ld\n", total.requests);
    std::printf("errors       %ld%s%s\n", total.errors, total.errors ? "  " : "", status_text(total.error_statuses).c_str());
    std::printf("req/s        %.1f\n", rps);
    std::printf("latency ms   mean %.2f  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", latency.mean, latency.p50,
                latency.p90, latency.p99, latency.max);
    std::printf("bytes/s      %.0f (%.1f MB/s)\n", static_cast<double>(total.bytes) / seconds,
                static_cast<double>(total.bytes) / seconds / 1e6);
    std::printf("full walks   %ld   reconnects %ld\n", total.pages_complete, total.reconnects);
  }
  if (total.errors > 0 && !total.last_error.empty()) std::fprintf(stderr, "taxii-load: last error: %s\n", total.last_error.c_str());
  return total.requests > 0 && total.errors < total.requests ? 0 : 1;
}

// ---- post ---------------------------------------------------------------

// The id of `id` ("type--uuid") in copy `copy`: same type, a name-based
// UUID (version 5 layout) from SHA-1 of the copy number and the old id.
std::string copy_id(std::string_view id, int copy) {
  const auto dashes = id.find("--");
  const std::string seed = "ctishare-taxii-load/" + std::to_string(copy) + "/" + std::string(id);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(seed.data(), seed.size(), digest, &length, EVP_sha1(), nullptr);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(id.substr(0, dashes + 2));
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void write_copy(const rapidjson::Value& value, int copy, const std::unordered_set<std::string_view>& ids, JsonWriter& out) {
  switch (value.GetType()) {
    case rapidjson::kObjectType:
      out.StartObject();
      for (const auto& member : value.GetObject()) {
        out.Key(member.name.GetString(), member.name.GetStringLength());
        write_copy(member.value, copy, ids, out);
      }
      out.EndObject();
      break;
    case rapidjson::kArrayType:
      out.StartArray();
      for (const auto& element : value.GetArray()) write_copy(element, copy, ids, out);
      out.EndArray();
      break;
    case rapidjson::kStringType: {
      const std::string_view text(value.GetString(), value.GetStringLength());
      if (copy > 0 && text.find("--") != std::string_view::npos && ids.contains(text)) {
        const std::string mapped = copy_id(text, copy);
        out.String(mapped.data(), static_cast<rapidjson::SizeType>(mapped.size()));
      } else {
        out.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
      }
      break;
    }
    default:
      value.Accept(out);
  }
}

struct Envelope {
  std::string body;
  long objects = 0;
};

struct PostStats {
  long batches = 0;
  long success = 0;
  long failure = 0;
  long pending = 0;
  long http_errors = 0;
  std::map<unsigned, long> error_statuses;
  std::vector<double> latency_ms;
  std::string last_error;
};

struct StatusCounts {
  bool ok = false;
  bool complete = false;
  std::string id;
  long success = 0, failure = 0, pending = 0;
};

StatusCounts parse_status(std::string_view body) {
  StatusCounts counts;
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) return counts;
  auto number = [&](const char* key) -> long {
    const auto it = document.FindMember(key);
    return it != document.MemberEnd() && it->value.IsInt64() ? static_cast<long>(it->value.GetInt64()) : 0;
  };
  counts.success = number("success_count");
  counts.failure = number("failure_count");
  counts.pending = number("pending_count");
  const auto status = document.FindMember("status");
  const auto id = document.FindMember("id");
  if (id != document.MemberEnd() && id->value.IsString()) counts.id = id->value.GetString();
  counts.complete = status != document.MemberEnd() && status->value.IsString() &&
                    std::string_view(status->value.GetString()) == "complete";
  counts.ok = true;
  return counts;
}

// One GET of `target` on a connection, opened if needed and dropped when
// the server will not keep it; throws on I/O failure. The body lives in the
// connection's buffer until its next exchange.
awaitable<Response> get_once(Connection& connection, const Url& url, const std::string& auth,
                             const std::string& target) {
  http::request<http::string_body> request{http::verb::get, target, 11};
  request.set(http::field::host, url.host);
  request.set(http::field::accept, taxii_media_type);
  if (!auth.empty()) request.set(http::field::authorization, auth);
  if (!connection.open()) co_await connection.connect();
  const Response response = co_await connection.exchange(request);
  if (!response.keep_alive) connection.reset();
  co_return response;
}

awaitable<void> post_worker(Connection& connection, const Url& url, const std::string& auth,
                            const std::vector<Envelope>& envelopes, std::atomic<std::size_t>& next_batch,
                            double status_timeout, PostStats& stats) {
  // .../{api-root}/collections/{id}/objects/ -> .../{api-root}/status/
  const auto collections = url.target.rfind("/collections/");
  const std::string status_prefix = url.target.substr(0, collections + 1) + "status/";
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (std::size_t index = next_batch++; index < envelopes.size(); index = next_batch++) {
    const Envelope& envelope = envelopes[index];
    http::request<http::string_body> request{http::verb::post, url.target, 11};
    request.set(http::field::host, url.host);
    request.set(http::field::accept, taxii_media_type);
    request.set(http::field::content_type, taxii_media_type);
    request.set(http::field::user_agent, "ctishare-taxii-load");
    if (!auth.empty()) request.set(http::field::authorization, auth);
    request.body() = envelope.body;
    request.prepare_payload();
    const auto start = Clock::now();
    Response response;
    for (int attempt = 0;; ++attempt) {
      try {
        if (!connection.open()) co_await connection.connect();
        response = co_await connection.exchange(request);
        break;
      } catch (const std::exception& e) {
        // A keep-alive connection the server closed: retry once on a new one.
        connection.reset();
        if (attempt > 0) {
          stats.last_error = e.what();
          response.status = 0;
          break;
        }
      }
    }
    if (!response.keep_alive) connection.reset();
    // The body lives in the connection's buffer, which the polls reuse.
    const std::string first_body(response.body.substr(0, 300));
    ++stats.batches;
    if (response.status != 202 && response.status != 200) {
      ++stats.http_errors;
      ++stats.error_statuses[response.status];
      stats.failure += envelope.objects;
      stats.last_error = "HTTP " + std::to_string(response.status) + ": " + first_body;
      continue;
    }
    StatusCounts counts = parse_status(response.body);
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(status_timeout));
    while (counts.ok && !counts.complete && counts.pending > 0 && !counts.id.empty() && Clock::now() < deadline) {
      pause.expires_after(std::chrono::milliseconds(20));
      co_await pause.async_wait(use_awaitable);
      try {
        const Response polled = co_await get_once(connection, url, auth, status_prefix + counts.id + "/");
        if (polled.status == 200) counts = parse_status(polled.body);
      } catch (const std::exception& e) {
        connection.reset();
        stats.last_error = e.what();
      }
    }
    if (!counts.ok) {
      ++stats.http_errors;
      stats.last_error = "status resource not understood: " + first_body;
    }
    stats.success += counts.success;
    stats.failure += counts.failure;
    stats.pending += counts.pending;
    stats.latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
}

// One authenticated GET of `target` on a connection (post --warm-up).
awaitable<void> warm_up_worker(Connection& connection, const Url& url, const std::string& auth, std::string target,
                               std::string& error) {
  try {
    const Response response = co_await get_once(connection, url, auth, target);
    if (response.status != 200) error = "warm-up GET " + target + ": HTTP " + std::to_string(response.status);
  } catch (const std::exception& e) {
    connection.reset();
    error = std::string("warm-up GET ") + target + ": " + e.what();
  }
}

int run_post(const CommonOptions& common, const PostOptions& options) {
  const Url url = parse_url(common.url);
  const std::string auth = authorization(common);
  const auto tls = url.tls ? make_tls_context(common) : nullptr;

  const std::string text = read_file(options.bundle);
  rapidjson::Document bundle;
  bundle.Parse(text.data(), text.size());
  if (bundle.HasParseError() || !bundle.IsObject() || !bundle.HasMember("objects") || !bundle["objects"].IsArray()) {
    throw std::runtime_error(options.bundle + ": not a STIX bundle");
  }
  const auto& objects = bundle["objects"];
  const long per_copy = static_cast<long>(objects.Size());
  if (per_copy == 0) throw std::runtime_error(options.bundle + ": no objects");
  std::unordered_set<std::string_view> ids;
  for (const auto& object : objects.GetArray()) {
    if (object.IsObject() && object.HasMember("id") && object["id"].IsString()) {
      ids.emplace(object["id"].GetString(), object["id"].GetStringLength());
    }
  }
  long total = options.count;
  int copies = options.copies;
  if (copies <= 0) copies = total > 0 ? static_cast<int>((total + per_copy - 1) / per_copy) : 1;
  if (total <= 0 || total > per_copy * copies) total = per_copy * copies;

  // Envelopes are built before the clock starts.
  std::vector<Envelope> envelopes;
  for (long first = 0; first < total; first += options.batch) {
    rapidjson::StringBuffer buffer;
    JsonWriter writer(buffer);
    writer.StartObject();
    writer.Key("objects");
    writer.StartArray();
    const long last = std::min(total, first + options.batch);
    for (long i = first; i < last; ++i) {
      write_copy(objects[static_cast<rapidjson::SizeType>(i % per_copy)], static_cast<int>(i / per_copy), ids, writer);
    }
    writer.EndArray();
    writer.EndObject();
    envelopes.push_back({std::string(buffer.GetString(), buffer.GetSize()), last - first});
  }
  std::uint64_t bytes = 0;
  for (const auto& envelope : envelopes) bytes += envelope.body.size();
  std::fprintf(stderr, "taxii-load: %ld objects (%ld in the bundle, %zu distinct ids, %d cop%s), %zu envelopes, %.1f MB\n",
               total, per_copy, ids.size(), copies, copies == 1 ? "y" : "ies", envelopes.size(),
               static_cast<double>(bytes) / 1e6);

  asio::io_context resolve_io;
  const auto endpoints = tcp::resolver(resolve_io).resolve(url.host, url.port);
  const int n = common.connections > 0 ? common.connections : 4;
  const int threads = std::max(1, std::min(common.threads, n));
  std::atomic<std::size_t> next_batch{0};
  auto contexts = make_contexts(threads);
  std::vector<std::unique_ptr<Connection>> connections;
  std::vector<PostStats> stats(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    connections.push_back(std::make_unique<Connection>(*contexts[static_cast<std::size_t>(i % threads)], tls.get(), url,
                                                       endpoints, !common.insecure));
  double warm_up_seconds = 0;
  if (options.warm_up) {
    // .../collections/{id}/objects/ -> .../collections/{id}/
    std::string collection = url.target.substr(0, url.target.find('?'));
    if (const auto at = collection.rfind("objects/"); at != std::string::npos) collection.resize(at);
    std::vector<std::string> errors(static_cast<std::size_t>(n));
    const auto warm_start = Clock::now();
    run_workers(contexts, n, [&](asio::io_context&, int i) {
      return warm_up_worker(*connections[static_cast<std::size_t>(i)], url, auth, collection,
                            errors[static_cast<std::size_t>(i)]);
    });
    warm_up_seconds = std::chrono::duration<double>(Clock::now() - warm_start).count();
    for (const auto& e : errors)
      if (!e.empty()) throw std::runtime_error(e);
    for (auto& context : contexts) context->restart();
  }
  const auto started = Clock::now();
  run_workers(contexts, n, [&](asio::io_context&, int i) {
    return post_worker(*connections[static_cast<std::size_t>(i)], url, auth, envelopes, next_batch,
                       options.status_timeout, stats[static_cast<std::size_t>(i)]);
  });
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  PostStats sum;
  for (auto& s : stats) {
    sum.batches += s.batches;
    sum.success += s.success;
    sum.failure += s.failure;
    sum.pending += s.pending;
    sum.http_errors += s.http_errors;
    for (const auto& [status, count] : s.error_statuses) sum.error_statuses[status] += count;
    sum.latency_ms.insert(sum.latency_ms.end(), s.latency_ms.begin(), s.latency_ms.end());
    if (!s.last_error.empty()) sum.last_error = s.last_error;
  }
  const LatencySummary latency = summarize(std::move(sum.latency_ms));
  const double rate = static_cast<double>(sum.success) / seconds;
  if (common.json) {
    std::printf(
        "{\"mode\":\"post\",\"url\":\"%s\",\"connections\":%d,\"batch\":%d,\"objects\":%ld,\"batches\":%ld,"
        "\"success\":%ld,\"failure\":%ld,\"pending\":%ld,\"http_errors\":%ld,\"seconds\":%.3f,\"objects_per_s\":%.1f,"
        "\"warm_up_s\":%.3f,\"bytes\":%llu,\"batch_latency_ms\":{\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
        "\"max\":%.3f}}\n",
        common.url.c_str(), n, options.batch, total, sum.batches, sum.success, sum.failure, sum.pending,
        sum.http_errors, seconds, rate, warm_up_seconds, static_cast<unsigned long long>(bytes), latency.mean,
        latency.p50, latency.p90, latency.p99, latency.max);
  } else {
    std::printf("url          %s\n", common.url.c_str());
    std::printf("objects      %ld in %ld envelopes of up to %d, %d connection%s (%s)\n", total, sum.batches,
                options.batch, n, n == 1 ? "" : "s", url.tls ? "HTTPS" : "HTTP");
    std::printf("status       %ld success, %ld failure, %ld pending; %ld HTTP errors%s%s\n", sum.success, sum.failure,
                sum.pending, sum.http_errors, sum.http_errors ? "  " : "", status_text(sum.error_statuses).c_str());
    std::printf("time         %.2f s%s\n", seconds,
                options.warm_up ? (" (after a warm-up of " + std::to_string(warm_up_seconds) + " s)").c_str() : "");
    std::printf("objects/s    %.0f (acknowledged as success)\n", rate);
    std::printf("batch ms     mean %.1f  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", latency.mean, latency.p50,
                latency.p90, latency.p99, latency.max);
  }
  if (!sum.last_error.empty()) std::fprintf(stderr, "taxii-load: last error: %s\n", sum.last_error.c_str());
  return sum.success == total && sum.http_errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load generator for TAXII 2.1 servers: paging GETs (get) or bulk POSTs (post)."};
  app.require_subcommand(1);
  CommonOptions common;
  GetOptions get_options;
  PostOptions post_options;
  auto add_common = [&](CLI::App* sub, int default_connections) {
    sub->add_option("url", common.url, "objects endpoint, e.g. https://127.0.0.1:9000/api1/collections/ID/objects/?limit=100")
        ->required();
    sub->add_option("-u,--user", common.user, "HTTP Basic user");
    sub->add_option("--password-file", common.password_file, "file holding the password (first line)");
    sub->add_option("--cacert", common.cacert, "PEM file of the CA to trust");
    sub->add_flag("-k,--insecure", common.insecure, "do not verify the server certificate (benchmark only)");
    sub->add_option("-c,--connections", common.connections, "concurrent keep-alive connections")
        ->default_str(std::to_string(default_connections));
    sub->add_option("--threads", common.threads, "client threads (io_contexts)")->capture_default_str();
    sub->add_flag("--json", common.json, "one JSON object on stdout");
  };
  auto* get = app.add_subcommand("get", "page through a collection's objects with N connections");
  add_common(get, 64);
  get->add_option("-d,--duration", get_options.duration, "seconds measured")->capture_default_str();
  get->add_option("-w,--warmup", get_options.warmup, "seconds before measuring")->capture_default_str();
  auto* post = app.add_subcommand("post", "POST a bundle's objects as TAXII envelopes");
  add_common(post, 4);
  post->add_option("--bundle", post_options.bundle, "STIX 2.1 bundle file")->required();
  post->add_option("-b,--batch", post_options.batch, "objects per envelope")->capture_default_str()->check(CLI::PositiveNumber);
  post->add_option("--copies", post_options.copies, "copies of the bundle, each with fresh ids (default: enough for --count)");
  post->add_option("-n,--count", post_options.count, "objects to send (default: all of every copy)");
  post->add_option("--status-timeout", post_options.status_timeout, "seconds to wait for a pending status")->capture_default_str();
  post->add_flag("--warm-up", post_options.warm_up,
                 "open and authenticate every connection (one GET of the collection) before the clock starts");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 64;
  }
  try {
    return get->parsed() ? run_get(common, get_options) : run_post(common, post_options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "taxii-load: error: %s\n", e.what());
    return 70;
  }
}
