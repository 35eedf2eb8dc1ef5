// The TAXII 2.1 request handler; see ctishare/taxii/handler.h.
//
// Order of checks for every request, first failure wins:
//   1. the user: known to the configuration, else 401 with a challenge
//      (before routing, so an anonymous caller learns nothing, not even
//      which paths exist);
//   2. the path: an endpoint of SPEC 4-5 with its trailing slash, else 404;
//   3. the method, else 405 with Allow;
//   4. Accept, else 406;
//   5. the collection (by id or alias): hidden unless the user may read or
//      write it (404), then can_read / can_write per endpoint (403; DELETE
//      follows the matrix of SPEC 5.7 exactly);
//   6. POST: Content-Type (415), size (413), envelope shape (422);
//      GET / DELETE: the query string (400), then the next token (400);
//   7. the store; its failures are 503.
//
// Order of operations of a listing (SPEC 3.4 leaves it open, F10):
//   1. match[id] / match[type] narrow the collection's versions;
//   2. match[spec_version] (default: each object's latest spec version);
//   3. match[version] picks first / last / named versions of each object,
//      judged over everything steps 1-2 left (so "last" is the object's
//      newest version, not the newest one added after added_after);
//   4. added_after and the next token's position cut by date_added
//      (strictly after);
//   5. ascending date_added, cut at limit; more / next when anything is left.
// Steps 1-5 are the Store's (see store.h); the handler parses, checks and
// binds the next token to the query it was issued for.
#include "ctishare/taxii/handler.h"

#include <algorithm>
#include <cctype>

#include "ctishare/json.h"
#include "ctishare/object.h"
#include "ctishare/uuid.h"
#include "ctishare/validate.h"
#include "taxii/paging_token.h"
#include "taxii/query_params.h"

namespace ctishare::taxii {

namespace {

constexpr std::string_view kTaxiiType = "application/taxii+json;version=2.1";
constexpr std::string_view kStixType = "application/stix+json;version=2.1";
constexpr std::size_t kDefaultPageSize = 100;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view trim_slashes(std::string_view s) {
  while (!s.empty() && s.front() == '/') s.remove_prefix(1);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

const std::string* find_header(const HttpRequest& request, std::string_view name) {
  for (const Header& h : request.headers)
    if (iequals(h.name, name)) return &h.value;
  return nullptr;
}

// One media type or range: "type/subtype" lower-cased, parameters with
// lower-cased names and unquoted values.
struct MediaType {
  std::string type;
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* param(std::string_view name) const {
    for (const auto& [n, v] : params)
      if (n == name) return &v;
    return nullptr;
  }
};

MediaType parse_media_type(std::string_view text) {
  MediaType m;
  std::size_t semi = text.find(';');
  m.type = lower(trim(text.substr(0, semi)));
  while (semi != std::string_view::npos) {
    text.remove_prefix(semi + 1);
    semi = text.find(';');
    const std::string_view param = trim(text.substr(0, semi));
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view value = trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    m.params.emplace_back(lower(trim(param.substr(0, eq))), std::string(value));
  }
  return m;
}

// The TAXII type (or its deprecated alias, SPEC App. B) with no version
// (meaning "the latest", which is 2.1 here) or version 2.1.
bool is_taxii_21(const MediaType& m) {
  if (m.type != "application/taxii+json" && m.type != "application/vnd.oasis.taxii+json") return false;
  const std::string* version = m.param("version");
  return version == nullptr || *version == "2.1";
}

// Whether the client accepts what we send. A request without Accept takes
// anything (RFC 9110 §12.5.1), although SPEC 3.1 says clients must send one:
// refusing would punish only the client, not protect the server.
bool accepts_taxii(const HttpRequest& request) {
  const std::string* accept = find_header(request, "Accept");
  if (accept == nullptr) return true;
  std::string_view rest = *accept;
  while (true) {
    const std::size_t comma = rest.find(',');
    const MediaType m = parse_media_type(rest.substr(0, comma));
    const std::string* q = m.param("q");
    const bool refused = q != nullptr && std::all_of(q->begin(), q->end(), [](char c) { return c == '0' || c == '.'; });
    if (!refused && (m.type == "*/*" || m.type == "application/*" || is_taxii_21(m))) return true;
    if (comma == std::string_view::npos) return false;
    rest.remove_prefix(comma + 1);
  }
}

HttpResponse respond(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.push_back({"Content-Type", std::string(kTaxiiType)});
  r.body = std::move(body);
  return r;
}

HttpResponse respond(int status, const json::Value& body) { return respond(status, json::to_string(body)); }

}  // namespace

HttpResponse error_response(int status, std::string_view title, std::string_view description);

namespace {

HttpResponse storage_error(const Error& e) {
  // The store's message may name files; the client gets a generic one.
  (void)e;
  return error_response(503, "Storage unavailable", "the server could not reach its storage; try again later");
}

std::string root_url(const ApiRootConfig& root) { return "/" + std::string(trim_slashes(root.path)) + "/"; }

enum class Endpoint { discovery, api_root, status, collections, collection, manifest, objects, object, versions };

struct Route {
  Endpoint endpoint = Endpoint::discovery;
  const ApiRootConfig* root = nullptr;
  std::string status_id, collection, object_id;
};

std::string_view allowed_methods(Endpoint e) {
  switch (e) {
    case Endpoint::objects:
      return "GET, POST";
    case Endpoint::object:
      return "GET, DELETE";
    default:
      return "GET";
  }
}

// Maps decoded path segments onto an endpoint; nullopt for anything else.
std::optional<Route> route(const ServerConfig& config, const std::vector<std::string>& segments) {
  Route r;
  if (segments.size() == 1 && segments[0] == "taxii2") return r;
  // The API root whose path is the longest prefix of the segments.
  std::size_t used = 0;
  for (const ApiRootConfig& root : config.api_roots) {
    std::vector<std::string_view> parts;
    std::string_view p = trim_slashes(root.path);
    while (!p.empty()) {
      const std::size_t slash = p.find('/');
      parts.push_back(p.substr(0, slash));
      p = slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
    }
    if (parts.empty() || parts.size() > segments.size() || parts.size() <= used) continue;
    if (std::equal(parts.begin(), parts.end(), segments.begin())) {
      r.root = &root;
      used = parts.size();
    }
  }
  if (r.root == nullptr) return std::nullopt;
  const std::vector<std::string> s(segments.begin() + static_cast<std::ptrdiff_t>(used), segments.end());
  if (s.empty()) {
    r.endpoint = Endpoint::api_root;
  } else if (s.size() == 2 && s[0] == "status") {
    r.endpoint = Endpoint::status;
    r.status_id = s[1];
  } else if (s[0] == "collections") {
    if (s.size() == 1) {
      r.endpoint = Endpoint::collections;
      return r;
    }
    r.collection = s[1];
    if (s.size() == 2)
      r.endpoint = Endpoint::collection;
    else if (s.size() == 3 && s[2] == "manifest")
      r.endpoint = Endpoint::manifest;
    else if (s.size() == 3 && s[2] == "objects")
      r.endpoint = Endpoint::objects;
    else if (s.size() == 4 && s[2] == "objects")
      r.endpoint = Endpoint::object;
    else if (s.size() == 5 && s[2] == "objects" && s[4] == "versions")
      r.endpoint = Endpoint::versions;
    else
      return std::nullopt;
    if (s.size() >= 4) r.object_id = s[3];
  } else {
    return std::nullopt;
  }
  return r;
}

// Splits "/a/b/" into decoded segments. Paths must end in '/' (SPEC 3.1);
// empty segments ("//") and undecodable ones do not name anything.
std::optional<std::vector<std::string>> split_path(std::string_view path) {
  if (path.size() < 2 || path.front() != '/' || path.back() != '/') return std::nullopt;
  path = path.substr(1, path.size() - 2);
  std::vector<std::string> out;
  while (true) {
    const std::size_t slash = path.find('/');
    auto segment = detail::percent_decode(path.substr(0, slash), false);
    if (!segment || segment->empty() || segment->find('/') != std::string::npos) return std::nullopt;
    out.push_back(std::move(*segment));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

bool listed(const std::vector<std::string>& list, const CollectionConfig& c) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& e) { return e == "*" || e == c.id || (!c.alias.empty() && e == c.alias); });
}

struct Access {
  bool read = false, write = false;
};

// A status-details / manifest version: modified, else created, else (SCOs)
// the date_added, which is what SPEC 4.3.1 calls "a server-consistent value".
std::string version_text(const std::string& version, Micros date_added) {
  return version.empty() ? detail::format_micros(date_added) : version;
}

json::Value status_json(const StatusRecord& s) {
  json::Object o;
  o.emplace_back("id", s.id);
  o.emplace_back("status", s.complete ? "complete" : "pending");
  o.emplace_back("request_timestamp", detail::format_micros(s.request_timestamp));
  o.emplace_back("total_count", static_cast<std::int64_t>(s.total));
  o.emplace_back("success_count", static_cast<std::int64_t>(s.success));
  o.emplace_back("failure_count", static_cast<std::int64_t>(s.failure));
  o.emplace_back("pending_count", static_cast<std::int64_t>(s.pending));
  auto details = [&](std::string_view name, const std::vector<StatusDetail>& list) {
    if (list.empty()) return;  // SPEC 2: empty lists are omitted
    json::Array a;
    for (const StatusDetail& d : list) {
      json::Object e;
      e.emplace_back("id", d.id);
      e.emplace_back("version", d.version);
      if (!d.message.empty()) e.emplace_back("message", d.message);
      a.emplace_back(std::move(e));
    }
    o.emplace_back(std::string(name), std::move(a));
  };
  details("successes", s.successes);
  details("failures", s.failures);
  details("pendings", s.pendings);
  return json::Value(std::move(o));
}

// Everything one request needs, so the endpoint functions stay free of
// the Handler's private members.
struct Context {
  const ServerConfig& config;
  Store& store;
  const Clock& clock;
  const std::string& key;
  const HttpRequest& request;
  const UserConfig& user;
  const Route& route;
  std::string_view query;
};

HttpResponse discovery(const Context& c) {
  json::Object o;
  o.emplace_back("title", c.config.title);
  if (!c.config.description.empty()) o.emplace_back("description", c.config.description);
  if (!c.config.contact.empty()) o.emplace_back("contact", c.config.contact);
  if (!c.config.api_roots.empty()) {
    const ApiRootConfig* def = &c.config.api_roots.front();
    for (const ApiRootConfig& r : c.config.api_roots)
      if (trim_slashes(r.path) == trim_slashes(c.config.default_api_root)) def = &r;
    o.emplace_back("default", root_url(*def));
    json::Array roots;
    for (const ApiRootConfig& r : c.config.api_roots) roots.emplace_back(root_url(r));
    o.emplace_back("api_roots", std::move(roots));
  }
  return respond(200, json::Value(std::move(o)));
}

HttpResponse api_root(const Context& c) {
  json::Object o;
  o.emplace_back("title", c.route.root->title);
  if (!c.route.root->description.empty()) o.emplace_back("description", c.route.root->description);
  o.emplace_back("versions", json::Array{json::Value(kTaxiiType)});
  o.emplace_back("max_content_length", json::Value(json::Number{std::to_string(c.config.max_content_length)}));
  return respond(200, json::Value(std::move(o)));
}

Access access_of(const UserConfig& user, const CollectionConfig& c) {
  return {listed(user.read, c), listed(user.write, c)};
}

json::Value collection_json(const CollectionConfig& c, Access a) {
  json::Object o;
  o.emplace_back("id", c.id);
  o.emplace_back("title", c.title);
  if (!c.description.empty()) o.emplace_back("description", c.description);
  if (!c.alias.empty()) o.emplace_back("alias", c.alias);
  o.emplace_back("can_read", a.read);
  o.emplace_back("can_write", a.write);
  o.emplace_back("media_types", json::Array{json::Value(kStixType)});
  return json::Value(std::move(o));
}

HttpResponse collections(const Context& c) {
  json::Array list;
  for (const CollectionConfig& col : c.route.root->collections) {
    const Access a = access_of(c.user, col);
    if (a.read || a.write) list.push_back(collection_json(col, a));  // P4: hidden otherwise
  }
  json::Object o;
  if (!list.empty()) o.emplace_back("collections", std::move(list));
  return respond(200, json::Value(std::move(o)));
}

HttpResponse status(const Context& c) {
  auto found = c.store.get_status(c.route.status_id);
  if (!found) return storage_error(found.error());
  const Micros now = detail::to_micros(c.clock.now());
  const auto& s = *found;
  // Another user's status, another root's, or one past its lifetime is
  // reported exactly like a missing one (App. B: do not leak existence).
  if (!s || s->user != c.user.name || trim_slashes(s->api_root) != trim_slashes(c.route.root->path) ||
      (s->complete && s->request_timestamp + c.config.status_lifetime * 1'000'000 < now))
    return error_response(404, "Status not found", "no status with this id is available to you");
  return respond(200, status_json(*s));
}

std::string envelope_body(Page&& page, const std::optional<std::string>& next) {
  std::string head = "{";
  if (page.more) {
    head += "\"more\":true";
    if (next) {
      head += ",\"next\":";
      json::write_string(*next, head);
    }
  }
  if (page.objects.empty()) return head + "}";
  if (head.size() > 1) head += ',';
  head += "\"objects\":[";
  // Stored compact and valid: copied, not re-serialised. When the store
  // joined them (Query::Content::envelope) the head goes in front of its
  // buffer, which has room to spare: no second megabyte a page.
  std::string out;
  if (!page.joined_json.empty()) {
    out = std::move(page.joined_json);
    out.insert(0, head);
  } else {
    std::size_t objects_bytes = 0;
    for (const StoredObject& o : page.objects) objects_bytes += o.json.size() + 1;
    out = std::move(head);
    out.reserve(out.size() + objects_bytes + 2);
    for (std::size_t i = 0; i < page.objects.size(); ++i) {
      if (i > 0) out += ',';
      out += page.objects[i].json;
    }
  }
  out += "]}";
  return out;
}

// GET manifest / objects / object / versions.
HttpResponse listing(const Context& c, const CollectionConfig& col) {
  auto parsed = detail::parse_query(c.query, std::max<std::size_t>(c.config.max_page_size, 1));
  if (!parsed) return error_response(400, "Malformed query parameter", parsed.error().message());
  const detail::QueryParams& p = *parsed;
  const Endpoint e = c.route.endpoint;
  const bool per_object = e == Endpoint::object || e == Endpoint::versions;

  Query q;
  q.collection = col.id;
  q.added_after = p.added_after;
  q.limit = p.limit.value_or(std::min(kDefaultPageSize, std::max<std::size_t>(c.config.max_page_size, 1)));
  if (p.spec_versions) q.spec_versions = *p.spec_versions;
  if (per_object) {
    // match[id] and match[type] are not parameters of these endpoints (SPEC
    // 5.6, 5.8): ignored like any unknown parameter.
    q.ids = {c.route.object_id};
  } else {
    if (p.ids) q.ids = *p.ids;
    if (p.types) q.types = *p.types;
  }
  q.content = e == Endpoint::objects || e == Endpoint::object ? Query::Content::envelope : Query::Content::metadata;
  if (e == Endpoint::versions) {
    q.versions.all = true;  // the versions endpoint lists every version (SPEC 5.8)
    q.versions.last = false;
  } else if (p.versions) {
    q.versions = *p.versions;
  }

  std::string endpoint_name = e == Endpoint::manifest  ? "manifest"
                              : e == Endpoint::objects ? "objects"
                              : e == Endpoint::object  ? "object:" + c.route.object_id
                                                       : "versions:" + c.route.object_id;
  const detail::TokenScope scope{trim_slashes(c.route.root->path), col.id, endpoint_name, p.canonical, c.user.name};
  const Timestamp now = c.clock.now();
  if (p.next) {
    auto position = detail::verify_token(c.key, scope, *p.next, now.unix_seconds());
    if (!position) return error_response(400, "Invalid next token", position.error().message());
    q.position = *position;
  }

  auto page = c.store.query(q);
  if (!page) return storage_error(page.error());

  if (per_object && page->objects.empty()) {
    // 404 only when the object has no version here at all; when it exists
    // but the filters exclude every version the answer is an empty page.
    Query exists;
    exists.collection = col.id;
    exists.ids = {c.route.object_id};
    exists.versions.all = true;
    exists.versions.last = false;
    exists.limit = 1;
    exists.content = Query::Content::metadata;
    auto any = c.store.query(exists);
    if (!any) return storage_error(any.error());
    if (any->objects.empty())
      return error_response(404, "Object not found", "no object with this id is in the collection");
  }

  std::optional<std::string> next;
  if (page->more && !page->objects.empty())
    next = detail::make_token(c.key, scope, page->objects.back().date_added,
                              now.unix_seconds() + c.config.next_token_lifetime);

  std::string body;
  if (e == Endpoint::objects || e == Endpoint::object) {
    body = envelope_body(std::move(*page), next);
  } else {
    json::Object o;
    if (page->more) {
      o.emplace_back("more", true);
      if (next) o.emplace_back("next", *next);  // not in the 2.1 resources; errata (cti-taxii2#110)
    }
    json::Array items;
    for (const StoredObject& s : page->objects) {
      if (e == Endpoint::versions) {
        items.emplace_back(version_text(s.version, s.date_added));
      } else {
        json::Object m;
        m.emplace_back("id", s.id);
        m.emplace_back("date_added", detail::format_micros(s.date_added));
        m.emplace_back("version", version_text(s.version, s.date_added));
        m.emplace_back("media_type", "application/stix+json;version=" + s.spec_version);
        items.emplace_back(std::move(m));
      }
    }
    if (!items.empty()) o.emplace_back(e == Endpoint::versions ? "versions" : "objects", std::move(items));
    body = json::to_string(json::Value(std::move(o)));
  }
  HttpResponse r = respond(200, std::move(body));
  r.audit.action = e == Endpoint::manifest ? "manifest.read"
                   : e == Endpoint::objects ? "objects.read"
                   : e == Endpoint::object  ? "object.read"
                                            : "versions.read";
  r.audit.collection = col.id;
  r.audit.objects = static_cast<std::int64_t>(page->objects.size());
  if (!page->objects.empty()) {
    r.headers.push_back({"X-TAXII-Date-Added-First", detail::format_micros(page->objects.front().date_added)});
    r.headers.push_back({"X-TAXII-Date-Added-Last", detail::format_micros(page->objects.back().date_added)});
  }
  return r;
}

HttpResponse remove(const Context& c, const CollectionConfig& col) {
  auto parsed = detail::parse_query(c.query, std::max<std::size_t>(c.config.max_page_size, 1));
  if (!parsed) return error_response(400, "Malformed query parameter", parsed.error().message());
  // Without match[version] a DELETE removes the object, i.e. every version
  // (SPEC 5.7 deletes "an object"; the listing default "last" would leave
  // older versions behind, resurfacing as the new "last").
  VersionMatch versions;
  if (parsed->versions) {
    versions = *parsed->versions;
  } else {
    versions.all = true;
    versions.last = false;
  }
  const std::vector<std::string> spec_versions = parsed->spec_versions.value_or(std::vector<std::string>{});
  auto removed = c.store.remove(col.id, c.route.object_id, versions, spec_versions);
  if (!removed) return storage_error(removed.error());
  HttpResponse r = *removed == 0 ? error_response(404, "Object not found", "no version of this object matched")
                                  : respond(200, std::string());
  r.audit = {"object.delete", col.id, static_cast<std::int64_t>(*removed), -1};
  return r;
}

HttpResponse add_objects(const Context& c, const CollectionConfig& col) {
  const std::string* content_type = find_header(c.request, "Content-Type");
  if (content_type == nullptr || !is_taxii_21(parse_media_type(*content_type)))
    return error_response(415, "Unsupported media type", "send the envelope as " + std::string(kTaxiiType));
  if (c.request.body.size() > c.config.max_content_length)
    return error_response(
        413, "Request too large",
        "the body exceeds max_content_length (" + std::to_string(c.config.max_content_length) + " bytes)");
  // Validate every object; those with errors become failures, the rest go
  // to the store in one call (one transaction).
  std::string first_error;
  bool has_error = false;
  auto validator = stix::Validator::create({}, [&](const stix::Finding& f) {
    if (f.severity != Severity::error || has_error) return;
    has_error = true;
    first_error = f.property.empty() ? f.message : f.property + ": " + f.message;
  });
  if (!validator) return error_response(500, "Internal error", validator.error().message());

  StatusRecord status;
  auto uuid = Uuid::v4();
  if (!uuid) return error_response(500, "Internal error", uuid.error().message());
  status.id = uuid->to_string();
  status.api_root = std::string(trim_slashes(c.route.root->path));
  status.user = c.user.name;
  status.complete = true;
  status.request_timestamp = detail::to_micros(c.clock.now());

  // The envelope's objects are read one at a time (json::parse_split):
  // each is checked, validated and kept as bytes, and its tree freed before
  // the next is read, so a POST never holds the tree of the whole body.
  // Each is stored as the bytes it was received in when they are already
  // what json::to_string gives for it (clients that write compact JSON),
  // instead of being serialised again: the stored form, which GET serves
  // and a re-post is compared with, is the same either way. Nothing is
  // acted on before the whole body has parsed, and the checks on the
  // envelope come first, as if it had been read whole.
  const std::string_view body = c.request.body;
  json::Limits limits;
  limits.max_document_bytes = c.config.max_content_length;
  json::Value envelope;
  bool split = false;
  std::size_t count = 0;
  std::optional<std::size_t> not_an_object;  // the first element without string "type" and "id"
  std::vector<NewObject> fresh;
  fresh.reserve(body.size() / 1024 + 1);  // STIX objects are rarely smaller
  auto parsed =
      json::parse_split(body, limits, "objects", [&](json::Value&& item, const json::StreamEvent& ev) -> Status {
        if (ev.kind != json::StreamEvent::Kind::element) {
          envelope = std::move(item);
          split = ev.kind == json::StreamEvent::Kind::envelope;
          return {};
        }
        ++count;
        if (not_an_object) return {};
        if (!item.is_object() || !item.find_string("id") || !item.find_string("type")) {
          not_an_object = ev.index;
          return {};
        }
        has_error = false;
        first_error.clear();
        const std::string id(*item.find_string("id"));
        const std::string type(*item.find_string("type"));
        std::string version(item.find_string("modified").value_or(item.find_string("created").value_or("")));
        if (stix::kind_of(type) == stix::ObjectKind::bundle) {
          status.failures.push_back({id, version, "a bundle cannot be stored in a collection"});
          return {};
        }
        validator->validate_object(item, "request", 0);
        if (has_error) {
          status.failures.push_back({id, version, first_error});
          return {};
        }
        std::string spec_version(item.find_string("spec_version").value_or("2.1"));
        const std::string_view received = body.substr(ev.offset, ev.size);
        std::string stored = json::is_compact(received) ? std::string(received) : json::to_string(item);
        fresh.push_back({id, std::move(version), std::move(spec_version), type, std::move(stored)});
        return {};
      });
  if (!parsed) return error_response(422, "The request body is not JSON", parsed.error().message());
  if (!envelope.is_object())
    return error_response(422, "The request body is not a TAXII envelope", "expected {\"objects\":[...]}");
  if (auto type = envelope.find_string("type")) {
    if (*type == "bundle")
      return error_response(422, "A STIX bundle is not a TAXII envelope",
                            "send the bundle's objects as {\"objects\":[...]} (SPEC 3.7)");
    return error_response(422, "A single STIX object is not a TAXII envelope", "wrap it as {\"objects\":[...]}");
  }
  // An "objects" array was split off; one still in the envelope is not one.
  if (!split && envelope.find("objects") != nullptr)
    return error_response(422, "The request body is not a TAXII envelope", "\"objects\" is not a list");
  if (not_an_object)
    return error_response(
        422, "The envelope holds something that is not a STIX object",
        "objects[" + std::to_string(*not_an_object) + "] is not a JSON object with string \"type\" and \"id\"");
  status.total = count;

  // The status is finished from the store's outcomes and saved in the same
  // transaction as the objects: one durable commit per POST, and never
  // objects without their status.
  const auto finish = [&](const std::vector<AddOutcome>& outcomes) {
    status.successes.reserve(status.successes.size() + outcomes.size());
    for (std::size_t i = 0; i < fresh.size() && i < outcomes.size(); ++i) {
      const AddOutcome& o = outcomes[i];
      const NewObject& n = fresh[i];
      switch (o.kind) {
        case AddOutcome::Kind::added:
          status.successes.push_back({n.id, version_text(n.version, o.date_added), ""});
          break;
        case AddOutcome::Kind::duplicate:  // SPEC 5.5: an exact duplicate is not an error
          status.successes.push_back({n.id, version_text(n.version, o.date_added), "already stored"});
          break;
        case AddOutcome::Kind::conflict:
          status.failures.push_back({n.id, n.version, "a different object with this id and version is stored"});
          break;
      }
    }
    status.success = status.successes.size();
    status.failure = status.failures.size();
    status.pending = 0;
    return status;
  };
  if (!fresh.empty()) {
    auto outcomes = c.store.add_with_status(col.id, fresh, finish);
    if (!outcomes) return storage_error(outcomes.error());
  } else if (auto saved = c.store.put_status(finish({})); !saved) {
    return storage_error(saved.error());
  }
  // Dropping old statuses is housekeeping: a failure here must not fail
  // the POST, and the next POST tries again.
  (void)c.store.expire_statuses(status.request_timestamp - c.config.status_lifetime * 1'000'000);
  HttpResponse r = respond(202, status_json(status));
  r.audit = {"objects.add", col.id, static_cast<std::int64_t>(status.success), static_cast<std::int64_t>(status.failure)};
  return r;
}

HttpResponse collection_endpoint(const Context& c) {
  const CollectionConfig* col = nullptr;
  for (const CollectionConfig& candidate : c.route.root->collections)
    if (candidate.id == c.route.collection || (!candidate.alias.empty() && candidate.alias == c.route.collection))
      col = &candidate;
  const Access a = col != nullptr ? access_of(c.user, *col) : Access{};
  if (col == nullptr || (!a.read && !a.write))
    return error_response(404, "Collection not found", "no collection with this id or alias is available to you");
  const Endpoint e = c.route.endpoint;
  if (e == Endpoint::collection) return respond(200, collection_json(*col, a));
  if (c.request.method == "POST") {
    if (!a.write) return error_response(403, "Forbidden", "you may not add objects to this collection");
    return add_objects(c, *col);
  }
  if (c.request.method == "DELETE") {
    // SPEC 5.7: both flags are needed; neither was answered with 404 above.
    if (!a.read || !a.write) return error_response(403, "Forbidden", "deleting needs both read and write access");
    return remove(c, *col);
  }
  if (!a.read) return error_response(403, "Forbidden", "you may not read this collection");
  return listing(c, *col);
}

}  // namespace

// The error resource (SPEC 3.6.1): title required, http_status a string
// equal to the status line's code.
HttpResponse error_response(int status, std::string_view title, std::string_view description) {
  json::Object o;
  o.emplace_back("title", title);
  if (!description.empty()) o.emplace_back("description", description);
  o.emplace_back("http_status", std::to_string(status));
  return respond(status, json::Value(std::move(o)));
}

Handler::Handler(ServerConfig config, Store& store, const Clock& clock, std::string paging_key)
    : config_(std::move(config)), store_(store), clock_(clock), key_(std::move(paging_key)) {}

HttpResponse Handler::handle(const HttpRequest& request) {
  const UserConfig* user = nullptr;
  if (!request.user.empty())
    for (const UserConfig& u : config_.users)
      if (u.name == request.user) user = &u;
  if (user == nullptr) {
    HttpResponse r = error_response(401, "Authentication required", "this server needs credentials");
    r.headers.push_back({"WWW-Authenticate", config_.challenge});
    return r;
  }

  const std::string_view target = request.target;
  const std::size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  const auto segments = split_path(path);
  const auto r = segments ? route(config_, *segments) : std::nullopt;
  if (!r) {
    // A path that names an endpoint once its trailing slash is added gets
    // a permanent redirect that keeps the method and body (RFC 9110 308),
    // to the same origin: a client's credentials stay where they were.
    if (!path.empty() && path.back() != '/') {
      const std::string slashed = std::string(path) + "/";
      const auto s2 = split_path(slashed);
      if (s2 && route(config_, *s2)) {
        HttpResponse resp = error_response(308, "Permanent redirect", "TAXII paths end in '/'");
        std::string location = slashed;
        if (!query.empty()) location += "?" + std::string(query);
        resp.headers.push_back({"Location", location});
        return resp;
      }
    }
    return error_response(404, "Not found", "no TAXII endpoint at this path (paths end in '/')");
  }

  const std::string_view allowed = allowed_methods(r->endpoint);
  bool method_ok = request.method == "GET";
  if (r->endpoint == Endpoint::objects) method_ok = method_ok || request.method == "POST";
  if (r->endpoint == Endpoint::object) method_ok = method_ok || request.method == "DELETE";
  if (!method_ok) {
    HttpResponse resp = error_response(405, "Method not allowed", "this endpoint allows " + std::string(allowed));
    resp.headers.push_back({"Allow", std::string(allowed)});
    return resp;
  }
  if (!accepts_taxii(request))
    return error_response(406, "Not acceptable", "this server answers with " + std::string(kTaxiiType));

  const Context c{config_, store_, clock_, key_, request, *user, *r, query};
  switch (r->endpoint) {
    case Endpoint::discovery:
      return discovery(c);
    case Endpoint::api_root:
      return api_root(c);
    case Endpoint::status:
      return status(c);
    case Endpoint::collections:
      return collections(c);
    default:
      return collection_endpoint(c);
  }
}

}  // namespace ctishare::taxii
