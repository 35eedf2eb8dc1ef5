// Partners as endpoints, and the TAXII requests push and pull share.
#include "ctishare/taxii/exchange.h"

#include <algorithm>
#include <cctype>

namespace ctishare::taxii {
namespace {

Error partner_error(const Partner& p, const std::string& what) {
  return Error(ErrorCategory::config, "partner " + quote(p.name) + ": " + what);
}

Status read_secret(const std::string& file, std::string& into) {
  auto text = read_secret_file(file);
  if (!text) return std::move(text).error();
  if (text->empty()) return Error(ErrorCategory::config, quote(file) + ": secret file is empty");
  into = std::move(*text);
  return {};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string body_kind(const Response& r) {
  const std::string* ct = r.header("Content-Type");
  if (ct == nullptr) return "a body without Content-Type";
  return "'" + ct->substr(0, 80) + "'";
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::vector<std::string> strings_of(const json::Value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& e : v->as_array())
    if (e.is_string()) out.push_back(e.as_string());
  return out;
}

}  // namespace

std::string Endpoint::describe_credentials() const {
  const Credentials& c = settings.credentials;
  std::string out = auth;
  if (!c.user.empty()) out += " user=" + c.user + " password=" + mask_secret(c.password);
  if (!c.api_key.empty()) out += " " + c.api_key_header + "=" + mask_secret(c.api_key);
  if (!c.bearer_token.empty()) out += " token=" + mask_secret(c.bearer_token);
  if (!c.client_cert.empty()) out += " cert=" + c.client_cert;
  return out;
}

Result<Endpoint> endpoint_for(const Partner& p, const ClientSettings& base) {
  Endpoint e;
  e.name = p.name;
  e.collections = p.collections;
  e.trust = p.trust;
  e.push = p.push;
  e.pull = p.pull;
  if (p.url.empty()) return partner_error(p, "no url (the partner's TAXII API root)");
  if (p.collections.empty()) return partner_error(p, "no collections (ids or aliases to push to and pull from)");
  auto url = parse_url(p.url);
  if (!url) return partner_error(p, "url: " + url.error().message());
  if (url->path.empty() || url->path.back() != '/') url->path += '/';  // an API root ends in '/'
  e.api_root = to_string(*url);
  const auto tlp = stix::parse_tlp(p.max_tlp);
  if (!tlp) return partner_error(p, "max_tlp " + quote(p.max_tlp) + " is not clear, green, amber, amber+strict or red");
  e.max_tlp = *tlp;

  // The scheme decides which files are needed, and no file may be set that
  // the scheme does not use (a forgotten key file is a configuration smell).
  if (!is_auth_scheme(p.auth))
    return partner_error(p, "auth " + quote(p.auth) +
                                " is not one of basic, apikey, bearer, mtls, mtls+basic, mtls+apikey, mtls+bearer");
  const std::string scheme = p.auth.empty() ? "none" : p.auth;
  e.auth = scheme;
  const bool mtls = scheme.rfind("mtls", 0) == 0;
  const std::string inner = mtls ? (scheme.size() > 5 ? scheme.substr(5) : "") : (scheme == "none" ? "" : scheme);
  const auto require = [&](bool wanted, const std::string& value, const char* key) -> Status {
    if (wanted && value.empty()) return partner_error(p, "auth " + quote(scheme) + " needs " + key);
    if (!wanted && !value.empty()) return partner_error(p, std::string(key) + " is set but auth " + quote(scheme) + " does not use it");
    return {};
  };
  CTI_TRY_STATUS(require(inner == "basic", p.user, "user"));
  CTI_TRY_STATUS(require(inner == "basic", p.password_file, "password_file"));
  CTI_TRY_STATUS(require(inner == "apikey", p.api_key_file, "api_key_file"));
  CTI_TRY_STATUS(require(inner == "bearer", p.token_file, "token_file"));
  CTI_TRY_STATUS(require(mtls, p.client_cert, "client_cert"));
  CTI_TRY_STATUS(require(mtls, p.client_key, "client_key"));
  if (!p.api_key_header.empty() && inner != "apikey")
    return partner_error(p, "api_key_header is set but auth " + quote(scheme) + " does not use it");

  e.settings = base;
  e.settings.base_url = e.api_root;
  if (!p.ca_file.empty()) e.settings.ca_file = p.ca_file;
  if (!p.proxy.empty()) e.settings.proxy = p.proxy;
  Credentials& c = e.settings.credentials;
  c = Credentials{};
  if (inner == "basic") {
    c.user = p.user;
    CTI_TRY_STATUS(read_secret(p.password_file, c.password));
  } else if (inner == "apikey") {
    c.api_key_header = p.api_key_header.empty() ? "X-API-Key" : p.api_key_header;
    CTI_TRY_STATUS(read_secret(p.api_key_file, c.api_key));
  } else if (inner == "bearer") {
    CTI_TRY_STATUS(read_secret(p.token_file, c.bearer_token));
  }
  if (mtls) {
    c.client_cert = p.client_cert;
    c.client_key = p.client_key;
    CTI_TRY_STATUS(check_secret_file(p.client_key));
  }
  return e;
}

Result<json::Value> taxii_json(const Response& r, const json::Limits& limits) {
  CTI_TRY_STATUS(check_taxii_media_type(r));
  auto body = json::parse(r.body, limits);
  if (!body) return Error(ErrorCategory::protocol, quote(r.url) + ": response is not valid JSON: " + body.error().message());
  if (!body->is_object()) return Error(ErrorCategory::protocol, quote(r.url) + ": response is not a JSON object");
  return body;
}

Status check_taxii_media_type(const Response& r) {
  const std::string* ct = r.header("Content-Type");
  bool json_type = r.is_taxii(MediaTypeMatch::lenient);
  if (!json_type && ct != nullptr) {
    auto parsed = parse_content_type(*ct);
    json_type = parsed && parsed->type == "application/json";
  }
  if (!json_type) {
    std::string what = body_kind(r);
    const std::string head = lower(std::string_view(r.body).substr(0, 512));
    if (head.find("<html") != std::string::npos || head.find("<!doctype") != std::string::npos)
      what += " (an HTML page: a login portal or a proxy's error page?)";
    return Error(ErrorCategory::protocol,
                 quote(r.url) + ": expected TAXII JSON (application/taxii+json;version=2.1), got " + what);
  }
  return {};
}

Result<Response> request_same_origin(const Client& client, std::string_view method_in, std::string_view url,
                                     std::string_view body, const RequestOptions& options) {
  std::string method(method_in);
  std::string target(url);
  std::string payload(body);
  for (int hops = 0;; ++hops) {
    auto r = client.request(method, target, payload, {}, options);
    if (!r || !is_redirect(r->status)) return r;
    const std::string* location = r->header("Location");
    if (location == nullptr || location->empty())
      return Error(ErrorCategory::protocol, quote(r->url) + ": redirect " + std::to_string(r->status) + " without a Location");
    auto from = parse_url(r->url);
    if (!from) return std::move(from).error();
    auto next = resolve_url(*from, *location);
    if (!next)
      return Error(ErrorCategory::protocol, quote(r->url) + ": redirect to an unusable Location: " + next.error().message());
    if (!same_origin(*next, client.base()))
      return Error(ErrorCategory::protocol, quote(r->url) + ": redirected to " + quote(origin_of(*next)) +
                                                ", another origin; not followed, so credentials stay with " +
                                                quote(origin_of(client.base())));
    if (hops >= 5) return Error(ErrorCategory::protocol, quote(r->url) + ": more than 5 redirects");
    if (r->status == 303 && method != "GET") {
      method = "GET";
      payload.clear();
    }
    target = to_string(*next);
  }
}

Result<ApiRootInfo> get_api_root(const Client& client) {
  auto r = request_same_origin(client, "GET", client.settings().base_url);
  if (!r) return std::move(r).error();
  if (r->status != 200) return http_error(*r, "GET");
  auto body = taxii_json(*r);
  if (!body) return std::move(body).error();
  ApiRootInfo info;
  if (auto t = body->find_string("title")) info.title = std::string(*t);
  info.versions = strings_of(body->find("versions"));
  if (const json::Value* m = body->find("max_content_length")) {
    auto n = m->as_int64();
    if (!n || *n <= 0)
      return Error(ErrorCategory::protocol, quote(r->url) + ": max_content_length is not a positive integer");
    info.max_content_length = static_cast<std::uint64_t>(*n);
  }
  if (info.title.empty() && body->find("versions") == nullptr)
    return Error(ErrorCategory::protocol, quote(r->url) + ": not a TAXII API root (no title, no versions)");
  return info;
}

Result<std::vector<CollectionInfo>> list_collections(const Client& client) {
  auto url = client.resolve("collections/");
  if (!url) return std::move(url).error();
  auto r = request_same_origin(client, "GET", to_string(*url));
  if (!r) return std::move(r).error();
  if (r->status != 200) return http_error(*r, "GET");
  auto body = taxii_json(*r);
  if (!body) return std::move(body).error();
  std::vector<CollectionInfo> out;
  const json::Value* list = body->find("collections");
  if (list == nullptr) return out;  // "{}": no collections
  if (!list->is_array()) return Error(ErrorCategory::protocol, quote(r->url) + ": 'collections' is not a list");
  for (const auto& c : list->as_array()) {
    if (!c.is_object() || !c.find_string("id"))
      return Error(ErrorCategory::protocol, quote(r->url) + ": a collection without an id");
    CollectionInfo info;
    info.id = std::string(*c.find_string("id"));
    if (auto v = c.find_string("title")) info.title = std::string(*v);
    if (auto v = c.find_string("alias")) info.alias = std::string(*v);
    if (auto v = c.find_string("description")) info.description = std::string(*v);
    if (const json::Value* v = c.find("can_read"); v && v->is_bool()) info.can_read = v->as_bool();
    if (const json::Value* v = c.find("can_write"); v && v->is_bool()) info.can_write = v->as_bool();
    info.media_types = strings_of(c.find("media_types"));
    out.push_back(std::move(info));
  }
  return out;
}

Result<CollectionInfo> find_collection(const std::vector<CollectionInfo>& collections, std::string_view name,
                                       std::string_view partner) {
  for (const auto& c : collections)
    if (c.id == name) return c;
  for (const auto& c : collections)
    if (!c.alias.empty() && c.alias == name) return c;
  std::string offered;
  for (const auto& c : collections) {
    if (!offered.empty()) offered += ", ";
    offered += c.alias.empty() ? c.id : c.alias;
    if (offered.size() > 300) {
      offered += ", ...";
      break;
    }
  }
  return Error(ErrorCategory::config, "partner " + quote(partner) + " has no collection " + quote(name) +
                                          (offered.empty() ? "; it offers none to us" : "; it offers: " + offered));
}

}  // namespace ctishare::taxii
