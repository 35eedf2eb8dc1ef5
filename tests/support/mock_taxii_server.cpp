// ctishare_mock_taxii: a scripted, misbehaving TAXII 2.1 server on loopback
// for the client tools' tests. Plain HTTP/1.1 (keep-alive, 100-continue),
// one thread; it answers from a JSON script and logs every request.
//
//   ctishare_mock_taxii --script FILE --log FILE [--listen HOST:PORT] [--port-file FILE]
//
// --listen defaults to 127.0.0.1:0 (0 = an ephemeral port). Once bound, the
// port and "\n" are written to --port-file (tmp file + rename), so a test can
// wait for the file. Runs until SIGTERM or SIGINT, then exits 0. Startup
// errors print "ctishare_mock_taxii: error: ..." and exit 64 (bad arguments
// or script), 69 (cannot bind or listen) or 73 (cannot open the log or write
// the port file).
//
// The script (JSON; comments allowed; unknown keys are errors):
//   {
//     "routes": [                                 // tried in order, first match wins
//       {
//         "method": "GET",                        // optional, exact; default any
//         "path": "/api1/collections/c1/objects/",// exact match on the raw path (no query)
//         "query": {"next": "p2", "limit": "*"},  // optional: each present with this
//                                                 //   percent-decoded value ('+' stays '+');
//                                                 //   "*" = present, any value
//         "query_absent": ["next"],               // optional: must not be present
//         "header": {"authorization": "*"},       // optional: name case-insensitive, value
//                                                 //   exact ("*" any); repeats joined by ", "
//         "header_absent": ["authorization"],     // optional
//         "cycle": false,                         // optional: wrap around after the last response
//         "responses": [                          // one per matching request, in order; after
//           {                                     //   the last, the last repeats (or cycle)
//             "status": 200,                      // 200..999; default 200
//             "headers": {"Content-Type": "application/taxii+json;version=2.1"},
//             "body": "raw text",                 // OR "body_json": {...} (sent compact);
//                                                 //   neither = empty body
//             "delay_ms": 0,                      // wait before answering (timer, not sleep)
//             "close": false,                     // close the connection after this response
//             "abort": false                      // close the socket, send nothing
//           }
//         ]
//       }
//     ],
//     "default": {...}                            // optional response (same keys) when no route
//   }                                             //   matches; built in: 404 TAXII error resource
//
// "${PORT}" in header values and bodies becomes the bound port. Content-Length
// is always set by the server (scripted Content-Length/Transfer-Encoding are
// replaced); 204 and 304 go without a body. Request bodies up to 64 MiB;
// larger ones, and malformed requests, close the connection unanswered.
//
// The log gets one JSON line per request, appended with one write(2) each
// when the response is chosen (before any delay), so tests may read it live:
//   {"n":1,"method":"GET","target":"/p?x=y","path":"/p","query":{"x":"y"},
//    "headers":{"accept":"..."},"body":"...","route":0,"status":200}
// Header names lower-cased (repeats joined by ", "); repeated query params:
// last wins; route -1 = no match (default response); status 0 = aborted.
#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Fields = std::vector<std::pair<std::string, std::string>>;  // ordered, unique names

constexpr int kExitUsage = 64, kExitUnavailable = 69, kExitCantCreate = 73;
constexpr std::uint64_t kMaxBody = 64ull << 20;

struct StartupError : std::runtime_error {
  StartupError(int exit_code, const std::string& what) : std::runtime_error(what), code(exit_code) {}
  int code;
};
[[noreturn]] void script_error(const std::string& where, const std::string& what) {
  throw StartupError(kExitUsage, "script: " + where + ": " + what);
}

struct Response {
  unsigned status = 200;
  Fields headers;
  std::string body;
  unsigned delay_ms = 0;
  bool close = false;
  bool abort = false;
};

struct Route {
  std::optional<std::string> method;
  std::string path;
  Fields query, header;  // value "*" = any
  std::vector<std::string> query_absent, header_absent;
  bool cycle = false;
  std::vector<Response> responses;
  std::size_t next = 0;  // index of the response for the next match
};

struct Script {
  std::vector<Route> routes;
  Response fallback{
      404, {{"Content-Type", "application/taxii+json;version=2.1"}}, R"({"title":"no route in mock script"})"};
};

// --- Script loading --------------------------------------------------------

void check_keys(const rapidjson::Value& v, std::initializer_list<const char*> allowed, const std::string& where) {
  if (!v.IsObject()) script_error(where, "expected an object");
  for (const auto& m : v.GetObject()) {
    bool known = false;
    for (const char* k : allowed) known = known || std::strcmp(k, m.name.GetString()) == 0;
    if (!known) script_error(where, std::string("unknown key \"") + m.name.GetString() + "\"");
  }
}
std::string to_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
Fields string_map(const rapidjson::Value& v, const std::string& where, bool lower_names) {
  if (!v.IsObject()) script_error(where, "expected an object of strings");
  Fields out;
  for (const auto& m : v.GetObject()) {
    if (!m.value.IsString()) script_error(where + "." + m.name.GetString(), "expected a string");
    std::string name = m.name.GetString();
    out.emplace_back(lower_names ? to_lower(name) : name, m.value.GetString());
  }
  return out;
}
std::vector<std::string> string_list(const rapidjson::Value& v, const std::string& where, bool lower) {
  if (!v.IsArray()) script_error(where, "expected an array of strings");
  std::vector<std::string> out;
  for (const auto& e : v.GetArray()) {
    if (!e.IsString()) script_error(where, "expected an array of strings");
    out.push_back(lower ? to_lower(e.GetString()) : e.GetString());
  }
  return out;
}
unsigned get_uint(const rapidjson::Value& v, const char* key, unsigned fallback, const std::string& where) {
  if (!v.HasMember(key)) return fallback;
  if (!v[key].IsUint()) script_error(where + "." + key, "expected a non-negative integer");
  return v[key].GetUint();
}
bool get_bool(const rapidjson::Value& v, const char* key, const std::string& where) {
  if (!v.HasMember(key)) return false;
  if (!v[key].IsBool()) script_error(where + "." + key, "expected true or false");
  return v[key].GetBool();
}

Response parse_response(const rapidjson::Value& v, const std::string& where) {
  check_keys(v, {"status", "headers", "body", "body_json", "delay_ms", "close", "abort"}, where);
  Response r;
  r.status = get_uint(v, "status", 200, where);
  if (r.status < 200 || r.status > 999) script_error(where + ".status", "must be 200..999");
  if (v.HasMember("headers")) r.headers = string_map(v["headers"], where + ".headers", false);
  if (v.HasMember("body") && v.HasMember("body_json")) script_error(where, "both \"body\" and \"body_json\"");
  if (v.HasMember("body")) {
    if (!v["body"].IsString()) script_error(where + ".body", "expected a string");
    r.body.assign(v["body"].GetString(), v["body"].GetStringLength());
  } else if (v.HasMember("body_json")) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v["body_json"].Accept(w);
    r.body.assign(sb.GetString(), sb.GetSize());
  }
  r.delay_ms = get_uint(v, "delay_ms", 0, where);
  r.close = get_bool(v, "close", where);
  r.abort = get_bool(v, "abort", where);
  return r;
}

Route parse_route(const rapidjson::Value& v, const std::string& where) {
  check_keys(v, {"method", "path", "query", "query_absent", "header", "header_absent", "cycle", "responses"}, where);
  Route r;
  if (v.HasMember("method")) {
    if (!v["method"].IsString()) script_error(where + ".method", "expected a string");
    r.method = v["method"].GetString();
  }
  if (!v.HasMember("path") || !v["path"].IsString()) script_error(where + ".path", "required string");
  r.path = v["path"].GetString();
  if (v.HasMember("query")) r.query = string_map(v["query"], where + ".query", false);
  if (v.HasMember("query_absent")) r.query_absent = string_list(v["query_absent"], where + ".query_absent", false);
  if (v.HasMember("header")) r.header = string_map(v["header"], where + ".header", true);
  if (v.HasMember("header_absent")) r.header_absent = string_list(v["header_absent"], where + ".header_absent", true);
  r.cycle = get_bool(v, "cycle", where);
  if (!v.HasMember("responses") || !v["responses"].IsArray() || v["responses"].Empty())
    script_error(where + ".responses", "required non-empty array");
  for (const auto& e : v["responses"].GetArray())
    r.responses.push_back(parse_response(e, where + ".responses[" + std::to_string(r.responses.size()) + "]"));
  return r;
}

Script load_script(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  if (!(in && text << in.rdbuf())) throw StartupError(kExitUsage, "cannot read script " + file);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseCommentsFlag>(text.str().c_str());
  if (doc.HasParseError())
    throw StartupError(kExitUsage, "script " + file + ": offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                                       rapidjson::GetParseError_En(doc.GetParseError()));
  check_keys(doc, {"routes", "default"}, "top level");
  Script s;
  if (doc.HasMember("routes")) {
    if (!doc["routes"].IsArray()) script_error("routes", "expected an array");
    for (const auto& e : doc["routes"].GetArray())
      s.routes.push_back(parse_route(e, "routes[" + std::to_string(s.routes.size()) + "]"));
  }
  if (doc.HasMember("default")) s.fallback = parse_response(doc["default"], "default");
  return s;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}
void substitute_port(Response& r, const std::string& port) {
  replace_all(r.body, "${PORT}", port);
  for (auto& h : r.headers) replace_all(h.second, "${PORT}", port);
}

// --- Request matching and logging -------------------------------------------

void put(Fields& fields, const std::string& name, std::string value, bool join) {
  for (auto& f : fields)
    if (f.first == name) {
      f.second = join ? f.second + ", " + value : std::move(value);
      return;
    }
  fields.emplace_back(name, std::move(value));
}
const std::string* find(const Fields& fields, const std::string& name) {
  for (const auto& f : fields)
    if (f.first == name) return &f.second;
  return nullptr;
}
std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) && hex(s[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
// All of a set of wanted (name, value-or-"*") pairs are present; none of the absent names is.
bool fields_match(const Fields& have, const Fields& want, const std::vector<std::string>& absent) {
  for (const auto& [name, value] : want) {
    const std::string* got = find(have, name);
    if (!got || (value != "*" && *got != value)) return false;
  }
  for (const auto& name : absent)
    if (find(have, name)) return false;
  return true;
}

class Server {
 public:
  Server(Script script, int log_fd) : script_(std::move(script)), log_fd_(log_fd) {}
  void set_port(unsigned short port) {
    for (auto& route : script_.routes)
      for (auto& r : route.responses) substitute_port(r, std::to_string(port));
    substitute_port(script_.fallback, std::to_string(port));
  }

  // Chooses the response to a request, advances its route and logs the request.
  const Response& answer(const http::request<http::string_body>& req) {
    const std::string target(req.target()), method(req.method_string());
    const auto qpos = target.find('?');
    const std::string path = target.substr(0, qpos);
    Fields query, headers;
    if (qpos != std::string::npos) {
      std::string_view rest = std::string_view(target).substr(qpos + 1);
      while (!rest.empty()) {
        const std::string_view pair = rest.substr(0, rest.find('&'));
        rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        put(query, percent_decode(pair.substr(0, eq)),
            eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1)), false);
      }
    }
    for (const auto& f : req) put(headers, to_lower(std::string(f.name_string())), std::string(f.value()), true);

    int index = -1;
    const Response* chosen = &script_.fallback;
    for (std::size_t i = 0; i < script_.routes.size(); ++i) {
      Route& r = script_.routes[i];
      if ((r.method && *r.method != method) || r.path != path) continue;
      if (!fields_match(query, r.query, r.query_absent) || !fields_match(headers, r.header, r.header_absent)) continue;
      index = static_cast<int>(i);
      chosen = &r.responses[r.next];
      if (r.cycle)
        r.next = (r.next + 1) % r.responses.size();
      else if (r.next + 1 < r.responses.size())
        ++r.next;
      break;
    }

    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    auto str = [&w](std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
    auto object = [&](const Fields& fields) {
      w.StartObject();
      for (const auto& [k, v] : fields) str(k), str(v);
      w.EndObject();
    };
    w.StartObject();
    str("n"), w.Uint64(++count_);
    str("method"), str(method);
    str("target"), str(target);
    str("path"), str(path);
    str("query"), object(query);
    str("headers"), object(headers);
    str("body"), str(req.body());
    str("route"), w.Int(index);
    str("status"), w.Uint(chosen->abort ? 0 : chosen->status);
    w.EndObject();
    std::string line(sb.GetString(), sb.GetSize());
    line += '\n';
    for (std::size_t done = 0; done < line.size();) {
      const ssize_t n = ::write(log_fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::cerr << "ctishare_mock_taxii: warning: log write: " << std::strerror(errno) << "\n";
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    return *chosen;
  }

 private:
  Script script_;
  int log_fd_;
  std::uint64_t count_ = 0;
};

// --- Connections ------------------------------------------------------------

// One connection: read a request (answering 100-continue), pick and log the
// response, wait out its delay, write it or abort, then loop while kept alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server& server)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), server_(server) {}
  void start() { read_header(); }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(1u << 20);
    parser_->body_limit(kMaxBody);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }
  void on_header(beast::error_code ec) {
    if (ec) return close();
    if (!beast::iequals(parser_->get()[http::field::expect], "100-continue")) return read_body();
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(kContinue, sizeof kContinue - 1),
                     [self = shared_from_this()](beast::error_code e, std::size_t) {
                       if (e) return self->close();
                       self->read_body();
                     });
  }
  void read_body() {
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->on_request(self->parser_->release());
    });
  }
  void on_request(http::request<http::string_body> req) {
    const Response& r = server_.answer(req);
    abort_ = r.abort;
    res_ = {};
    res_.version(11);
    res_.result(r.status);
    for (const auto& [name, value] : r.headers) res_.set(name, value);
    res_.erase(http::field::transfer_encoding);
    // A scripted Connection header is sent as it is; the socket stays open
    // only if client, script and that header all allow it.
    if (res_.count(http::field::connection) == 0) res_.keep_alive(req.keep_alive() && !r.close);
    keep_alive_ = req.keep_alive() && !r.close && res_.keep_alive();
    if (r.status == 204 || r.status == 304) {
      res_.erase(http::field::content_length);
    } else {
      res_.content_length(r.body.size());
      if (req.method() != http::verb::head) res_.body() = r.body;
    }
    if (r.delay_ms == 0) return send();
    timer_.expires_after(std::chrono::milliseconds(r.delay_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->close();
      self->send();
    });
  }
  void send() {
    if (abort_) return close();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || !self->keep_alive_) return self->close();
      self->read_header();
    });
  }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  Server& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  bool abort_ = false;
  bool keep_alive_ = false;
};

void accept_loop(tcp::acceptor& acceptor, Server& server) {
  acceptor.async_accept([&acceptor, &server](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec)
      std::cerr << "ctishare_mock_taxii: warning: accept: " << ec.message() << "\n";
    else
      std::make_shared<Session>(std::move(socket), server)->start();
    accept_loop(acceptor, server);
  });
}

tcp::endpoint parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw StartupError(kExitUsage, "--listen: expected HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  const std::string port = listen.substr(colon + 1);
  if (ec || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    throw StartupError(kExitUsage, "--listen: bad address \"" + listen + "\"");
  return {address, static_cast<unsigned short>(std::stoul(port))};
}

void write_port_file(const std::string& file, unsigned short port) {
  const std::string tmp = file + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    out.close();
    if (!out) throw StartupError(kExitCantCreate, "cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), file.c_str()) != 0)
    throw StartupError(kExitCantCreate, "cannot rename to " + file + ": " + std::strerror(errno));
}

int run(const std::string& script_file, const std::string& log_file, const std::string& listen,
        const std::string& port_file) {
  Script script = load_script(script_file);
  const tcp::endpoint endpoint = parse_listen(listen);
  const int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw StartupError(kExitCantCreate, "cannot open log " + log_file + ": " + std::strerror(errno));
  Server server(std::move(script), log_fd);

  net::io_context ioc(1);
  net::signal_set signals(ioc, SIGTERM, SIGINT);  // installed before the port file tells anyone we are up
  signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });
  tcp::acceptor acceptor(ioc);
  beast::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    ::close(log_fd);
    throw StartupError(kExitUnavailable, "cannot listen on " + listen + ": " + ec.message());
  }
  const unsigned short port = acceptor.local_endpoint().port();
  server.set_port(port);
  if (!port_file.empty()) write_port_file(port_file, port);

  accept_loop(acceptor, server);
  ioc.run();
  ::close(log_fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Scripted TAXII 2.1 mock server for tests (plain HTTP, loopback)", "ctishare_mock_taxii"};
  std::string script_file, log_file, listen = "127.0.0.1:0", port_file;
  app.add_option("--script", script_file, "JSON script of routes and responses")->required();
  app.add_option("--log", log_file, "request log: one JSON line per request (appended)")->required();
  app.add_option("--listen", listen, "HOST:PORT to bind; port 0 = ephemeral")->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port here once listening");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "ctishare_mock_taxii: error: " << e.what() << "\n";
    return kExitUsage;
  }
  try {
    return run(script_file, log_file, listen, port_file);
  } catch (const StartupError& e) {
    std::cerr << "ctishare_mock_taxii: error: " << e.what() << "\n";
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "ctishare_mock_taxii: error: " << e.what() << "\n";
    return 70;
  }
}
