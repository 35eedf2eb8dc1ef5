// The TAXII 2.1 conformance suite; see ctishare/taxii/conformance.h.
//
// A run goes: discovery (fatal when absent) → authentication probes → API
// root → collections → read-only checks on the read collection → the write
// fixture (five objects in five POSTs: three versions of an indicator, a
// malware, an SCO) and every filter, paging and delete check on it → the
// exactly-once walker → the checks that judge every response seen (media
// type, error resources, timestamp format). Each check records its own
// assertion; a check whose prerequisite failed leaves its assertions to be
// reported as skipped, with the reason.
#include "ctishare/taxii/conformance.h"

#include <fnmatch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "ctishare/json.h"
#include "ctishare/time.h"
#include "ctishare/uuid.h"
#include "taxii/query_params.h"

namespace ctishare::taxii {

namespace {

constexpr Level MUST = Level::must;
constexpr Level SHOULD = Level::should;
constexpr Level MAY = Level::may;

// The catalogue. Order is report order; ids are stable.
const std::vector<Assertion> kAssertions = {
    // Discovery
    {"discovery.get.200", MUST, "4.1", "GET /taxii2/ at the server root answers 200 with a discovery resource"},
    {"discovery.title", MUST, "4.1.1", "discovery has a string title"},
    {"discovery.default", MUST, "4.1.1", "discovery default, when present, is one of api_roots"},
    {"discovery.api-roots", MUST, "4.1.1",
     "api_roots are absolute https URLs or paths starting with one '/', without query or '../'"},
    // Authentication
    {"auth.401.challenge", MUST, "1.6.9", "a request without credentials gets 401 with a WWW-Authenticate challenge"},
    {"auth.wrong-password", SHOULD, "1.6.9", "a request with a wrong password gets 401"},
    {"auth.collections", MUST, "5.1", "GET collections without credentials gets 401 or 404"},
    {"auth.objects", MUST, "5.4", "GET objects without credentials gets 401 or 404, never objects"},
    {"auth.post", MUST, "5.5", "POST objects without credentials gets 401 or 404 and stores nothing"},
    // API root
    {"api-root.get.200", MUST, "4.2", "GET the API root answers 200 with an api-root resource"},
    {"api-root.title", MUST, "4.2.1", "api-root has a string title"},
    {"api-root.versions", MUST, "4.2.1", "api-root versions lists application/taxii+json;version=2.1"},
    {"api-root.max-content-length", MUST, "4.2.1", "api-root max_content_length is an integer greater than 0"},
    {"api-root.404", MUST, "4.2", "an unknown API root gets 404"},
    // HTTP and media types
    {"accept.versionless", MUST, "3.1", "Accept: application/taxii+json (no version) never gets 406"},
    {"accept.foreign", MAY, "3.1", "an Accept naming no TAXII type gets 406 (or is served as TAXII)"},
    {"http.no-user-agent", SHOULD, "8.2.1", "a request without User-Agent is served"},
    {"http.no-trailing-slash", MAY, "3.1", "a path without its trailing '/' gets 404 or a redirect, never a 5xx"},
    // Collections
    {"collections.get.200", MUST, "5.1", "GET collections answers 200 with a collections resource"},
    {"collections.fields", MUST, "5.2.1",
     "every collection has an identifier id, a string title and boolean can_read and can_write"},
    {"collections.no-empty-list", MUST, "2", "no collections gives {} (the list is omitted, never [])"},
    {"collections.stable-order", MUST, "3.3", "the collections list keeps its order across requests"},
    {"collections.alias-unique", MUST, "5.2.1", "aliases are unique within the API root"},
    {"collection.get.200", MUST, "5.2", "GET a collection answers 200 with the same fields as the list"},
    {"collection.by-alias", SHOULD, "5.2.1", "a collection's alias can be used in place of its id"},
    {"collection.404", MUST, "5.2", "an unknown collection gets 404"},
    // Manifest (read collection)
    {"manifest.get.200", MUST, "5.3", "GET manifest answers 200 with a manifest resource"},
    {"manifest.records", MUST, "5.3.1", "every manifest record has id, date_added (a timestamp) and version"},
    {"manifest.order", MUST, "3.3", "manifest records come in ascending date_added"},
    {"manifest.headers", MUST, "3.2", "X-TAXII-Date-Added-First/-Last equal the first and last record's date_added"},
    {"manifest.empty", SHOULD, "5.3.1", "a manifest with no match is 200 {} (no empty list)"},
    // Objects (read collection)
    {"objects.get.200", MUST, "5.4", "GET objects answers 200 with an envelope"},
    {"objects.envelope", MUST, "3.7",
     "the envelope has objects (STIX objects with type and id), boolean more and string next only"},
    {"objects.headers", MUST, "3.2", "GET objects with objects carries X-TAXII-Date-Added-First/-Last, in order"},
    {"objects.empty-envelope", MUST, "5.4", "GET objects with no match is 200 with an empty envelope, no []"},
    {"objects.matches-manifest", SHOULD, "5.3",
     "objects and manifest list the same versions in the same order for the same query"},
    {"object.get.404", MUST, "5.6", "GET an unknown object gets 404"},
    {"versions.404", MUST, "5.8", "GET versions of an unknown object gets 404"},
    {"status.404", MUST, "4.3", "GET an unknown status gets 404"},
    // Filters on the read collection
    {"filter.limit.invalid", MUST, "3.4", "limit=0, limit=-1 and limit=abc get 400"},
    {"filter.limit.one", MUST, "3.4", "limit=1 gives at most one object, and more:true when there are others"},
    {"filter.limit.server-cap", MUST, "3.4",
     "a limit above the server's cap is served (at most that many), not refused"},
    {"filter.added-after.invalid", MUST, "3.4", "a malformed added_after gets 400"},
    {"filter.type.stix-type", MUST, "3.4.1",
     "match[type] with a STIX 2.1 type is never an error, and only that type comes back"},
    {"filter.repeated", SHOULD, "3.4", "a repeated added_after or match field gets 400"},
    {"paging.next.invalid", SHOULD, "Appendix B", "a corrupted next token gets 400, never data or a 5xx"},
    {"paging.read-walk", MUST, "3.5", "walking the read collection with next visits no version twice"},
    // Read-only collection
    {"objects.post.read-only", MUST, "5.5", "POST to a collection with can_write false gets 403 or 404"},
    {"object.delete.read-only", MUST, "5.7", "DELETE in a collection with can_read true, can_write false gets 403"},
    {"objects.get.write-only", MUST, "5.4", "GET objects in a collection with can_read false gets 403 or 404"},
    {"manifest.write-only", MUST, "5.3", "GET manifest in a collection with can_read false gets 403 or 404"},
    {"object.delete.write-only", MUST, "5.7", "DELETE in a collection with can_read false, can_write true gets 403"},
    // Writes
    {"objects.post.202", MUST, "5.5", "POST objects answers 202 with a status resource"},
    {"objects.post.status", MUST, "4.3.1", "the status has id, status complete|pending and the four integer counts"},
    {"objects.post.status-counts", MUST, "4.3.1", "total_count = success_count + failure_count + pending_count"},
    {"objects.post.success", MUST, "5.5", "a valid STIX 2.1 object is stored: success_count 1, no failures"},
    {"status.get.200", MUST, "4.3", "GET status/{id}/ answers 200 with the same status"},
    {"status.completes", SHOULD, "4.3", "a pending status becomes complete (within the wait)"},
    {"objects.post.duplicate", MUST, "5.5", "re-posting an identical object is not a failure"},
    {"objects.post.invalid-object", SHOULD, "5.5",
     "an invalid object in an envelope is reported in failures (or the POST refused), never as success"},
    {"objects.post.bundle", SHOULD, "5.5", "a STIX bundle posted instead of an envelope gets 400 or 422"},
    {"objects.post.not-json", MUST, "5.5", "a body that is not JSON gets 400 or 422"},
    {"objects.post.content-type.spaced", SHOULD, "3.1",
     "Content-Type: application/taxii+json; version=2.1 (with a space) is accepted"},
    {"objects.post.content-type.foreign", MAY, "3.1",
     "a POST with Content-Type: application/json gets 415 (or is processed)"},
    {"objects.post.413", SHOULD, "4.2.1", "a body over max_content_length gets 413"},
    {"objects.get.order", MUST, "3.3", "objects come back in ascending date_added (posting order)"},
    {"objects.get.headers", MUST, "3.2",
     "X-TAXII-Date-Added-First/-Last equal the date_added of the first and last object"},
    {"manifest.per-version", MUST, "5.3", "the manifest has one record per version, with its version"},
    {"manifest.filters", MUST, "5.3", "the manifest honours match[type] and match[id] like objects"},
    {"manifest.sco-version", MUST, "5.3.1",
     "an object without modified or created still has a version in the manifest"},
    {"filter.added-after", MUST, "3.4", "added_after selects date_added strictly after the value"},
    {"filter.id", MUST, "3.4.1", "match[id]=a,b gives exactly those objects"},
    {"filter.type.and", MUST, "3.4", "match[type] and match[id] together give their AND"},
    {"filter.type.or", MUST, "3.4", "match[type]=a,b gives the OR of the types"},
    {"filter.version.default", MUST, "3.4.1", "without match[version] only the latest version comes back"},
    {"filter.version.last", MUST, "3.4.1", "match[version]=last gives the latest version"},
    {"filter.version.first", MUST, "3.4.1", "match[version]=first gives the earliest version"},
    {"filter.version.all", MUST, "3.4.1", "match[version]=all gives every version"},
    {"filter.version.timestamp", MUST, "3.4.1", "match[version]=<modified> gives that version only"},
    {"filter.version.combined", MUST, "3.4.1", "match[version]=first,last gives both"},
    {"filter.version.all-combined", SHOULD, "3.4.1", "match[version]=all,last (all combined) gets 400"},
    {"filter.spec-version", MUST, "3.4.1", "match[spec_version] returns only the listed spec versions"},
    {"filter.limit.more", MUST, "3.4", "limit=N returns exactly N when more exist, with more:true"},
    {"filter.limit.all-fit", MUST, "3.4", "when everything fits in limit, all come back and more is not true"},
    {"object.get.200", MUST, "5.6", "GET objects/{id}/ answers an envelope with that object's latest version"},
    {"object.get.all", MUST, "5.6", "GET objects/{id}/?match[version]=all gives every version"},
    {"object.get.headers", MUST, "3.2", "GET objects/{id}/ carries X-TAXII-Date-Added-First/-Last"},
    {"versions.get.200", MUST, "5.8", "GET versions lists exactly the versions posted"},
    {"versions.headers", MUST, "3.2", "GET versions carries X-TAXII-Date-Added-First/-Last"},
    {"paging.more-next", MUST, "3.5",
     "following next visits every object once, in order, with more:true until the end"},
    {"paging.manifest", MUST, "3.5", "the manifest pages the same way"},
    {"paging.added-after", MUST, "3.5", "paging by added_after = X-TAXII-Date-Added-Last visits every object once"},
    {"paging.exactly-once", MUST, "3.5",
     "a next walk during concurrent POSTs delivers every earlier object exactly once, none twice"},
    {"paging.added-after.bulk", SHOULD, "3.5",
     "paging by X-TAXII-Date-Added-Last through bulk POSTs loses and repeats nothing (distinct date_added)"},
    {"object.delete.200", MUST, "5.7", "DELETE objects/{id}/ answers 200"},
    {"object.delete.gone", MUST, "5.7", "after a DELETE the object gets 404 and leaves the manifest"},
    {"object.delete.version", MUST, "5.7", "DELETE with match[version]=<v> removes that version only"},
    {"object.delete.404", SHOULD, "5.7", "DELETE of an unknown object gets 404"},
    // Every response seen
    {"media-type.success", MUST, "3.1",
     "every 2xx response with a body has Content-Type application/taxii+json;version=2.1"},
    {"media-type.error", MUST, "3.1", "every error response has Content-Type application/taxii+json;version=2.1"},
    {"errors.title", MUST, "3.6.1", "every error body is an error resource with a string title"},
    {"errors.http-status", MUST, "3.6.1", "an error's http_status, when present, is a string equal to the status code"},
    {"timestamps.format", MUST, "2",
     "every TAXII timestamp (date_added, headers, status) has exactly 6 fractional digits, UTC"},
};

const Assertion* find_assertion(std::string_view id) {
  for (const Assertion& a : kAssertions)
    if (a.id == id) return &a;
  return nullptr;
}

bool matches(const std::string& pattern, std::string_view id) {
  return ::fnmatch(pattern.c_str(), std::string(id).c_str(), 0) == 0;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

// One query parameter; values holding ',' are lists (each item encoded, the
// commas kept, as SPEC 3.4 writes them).
using Param = std::pair<std::string, std::string>;
using Params = std::vector<Param>;

std::string query_string(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    out += out.empty() ? "?" : "&";
    out += name + "=";
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = value.find(',', start);
      out += encode_query_value(std::string_view(value).substr(start, comma - start));
      if (comma == std::string::npos) break;
      out += ',';
      start = comma + 1;
    }
  }
  return out;
}

Params with(Params p, std::string name, std::string value) {
  for (auto& [n, v] : p)
    if (n == name) {
      v = std::move(value);
      return p;
    }
  p.emplace_back(std::move(name), std::move(value));
  return p;
}

std::optional<json::Value> json_of(const Response& r) {
  if (r.body.empty()) return std::nullopt;
  auto v = json::parse(r.body);
  if (!v) return std::nullopt;
  return std::move(*v);
}

// The array member `key` of an object; empty when absent. `empty_list` is set
// when the member is present and [] (SPEC 2 forbids empty lists).
std::vector<json::Value> list_of(const json::Value& body, std::string_view key, bool* empty_list = nullptr) {
  const json::Value* v = body.find(key);
  if (v == nullptr || !v->is_array()) return {};
  if (empty_list != nullptr && v->as_array().empty()) *empty_list = true;
  return v->as_array();
}

bool more_of(const json::Value& body) {
  const json::Value* m = body.find("more");
  return m != nullptr && m->is_bool() && m->as_bool();
}

std::optional<std::string> next_of(const json::Value& body) {
  if (auto n = body.find_string("next"); n && !n->empty()) return std::string(*n);
  return std::nullopt;
}

bool is_identifier(std::string_view s) { return Uuid::parse(s).has_value() && s.size() == 36; }

const std::regex& taxii_timestamp_re() {
  static const std::regex re(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$)");
  return re;
}

std::optional<Micros> micros_of(std::string_view text) {
  auto t = Timestamp::parse(text);
  if (!t) return std::nullopt;
  return detail::to_micros(*t);
}

// The version of a STIX object as TAXII names it: modified, else created,
// else "" (the server picks a value for those).
std::string version_of(const json::Value& object) {
  if (auto m = object.find_string("modified")) return std::string(*m);
  if (auto c = object.find_string("created")) return std::string(*c);
  return {};
}

// Two versions are the same instant (servers may re-format timestamps).
bool same_version(std::string_view a, std::string_view b) {
  if (a == b) return true;
  auto ma = micros_of(a), mb = micros_of(b);
  return ma && mb && *ma == *mb;
}

std::string id_of(const json::Value& v) { return std::string(v.find_string("id").value_or("")); }

std::string describe_ids(const std::vector<json::Value>& items, const std::map<std::string, std::string>& names) {
  std::vector<std::string> out;
  for (const json::Value& v : items) {
    const std::string id = id_of(v);
    auto it = names.find(id);
    std::string label = it != names.end() ? it->second : id;
    const std::string version = v.find_string("version") ? std::string(*v.find_string("version")) : version_of(v);
    if (!version.empty()) label += "@" + version;
    out.push_back(label);
  }
  return out.empty() ? "nothing" : join(out, ", ");
}

// ---- Fixture objects --------------------------------------------------------

std::string fresh_id(std::string_view type) {
  auto u = Uuid::v4();
  return std::string(type) + "--" + (u ? u->to_string() : std::string("00000000-0000-4000-8000-000000000000"));
}

json::Value indicator(const std::string& id, const std::string& created, const std::string& modified,
                      std::string_view note) {
  json::Object o;
  o.emplace_back("type", "indicator");
  o.emplace_back("spec_version", "2.1");
  o.emplace_back("id", id);
  o.emplace_back("created", created);
  o.emplace_back("modified", modified);
  o.emplace_back("name", "ctishare conformance test object");
  o.emplace_back("description", std::string(note));
  o.emplace_back("indicator_types", json::Array{json::Value("benign")});
  o.emplace_back("pattern", "[ipv4-addr:value = '198.51.100.7']");
  o.emplace_back("pattern_type", "stix");
  o.emplace_back("valid_from", created);
  return json::Value(std::move(o));
}

json::Value malware(const std::string& id, const std::string& created) {
  json::Object o;
  o.emplace_back("type", "malware");
  o.emplace_back("spec_version", "2.1");
  o.emplace_back("id", id);
  o.emplace_back("created", created);
  o.emplace_back("modified", created);
  o.emplace_back("name", "ctishare conformance test malware");
  o.emplace_back("malware_types", json::Array{json::Value("unknown")});
  o.emplace_back("is_family", false);
  return json::Value(std::move(o));
}

json::Value ipv4(const std::string& id) {
  json::Object o;
  o.emplace_back("type", "ipv4-addr");
  o.emplace_back("spec_version", "2.1");
  o.emplace_back("id", id);
  o.emplace_back("value", "198.51.100.7");
  return json::Value(std::move(o));
}

std::string envelope(const std::vector<json::Value>& objects) {
  json::Object o;
  o.emplace_back("objects", json::Array(objects.begin(), objects.end()));
  return json::to_string(json::Value(std::move(o)));
}

// ---- The run -----------------------------------------------------------------

struct Collection {
  std::string id, alias, title;
  bool can_read = false, can_write = false;
  bool listed = false;  // found in the collections resource
};

struct PostOutcome {
  std::optional<Response> response;
  std::optional<json::Value> status;  // the final status (after waiting for completion)
  std::string problem;                // why the POST did not give a usable status
};

struct WalkResult {
  std::vector<json::Value> items;
  int pages = 0;
  std::vector<std::string> problems;
  bool used_fallback = false;
};

class Runner {
 public:
  Runner(const Client& client, const ConformanceOptions& options) : client_(client), options_(options) {}

  Result<ConformanceReport> run();

 private:
  // -- recording
  bool wanted(std::string_view id) const {
    if (options_.only.empty()) return true;
    return std::any_of(options_.only.begin(), options_.only.end(),
                       [&](const std::string& p) { return matches(p, id); });
  }
  bool any_wanted(std::initializer_list<std::string_view> ids) const {
    return std::any_of(ids.begin(), ids.end(), [&](std::string_view id) { return wanted(id); });
  }
  bool any_wanted_prefix(std::string_view prefix) const {
    return std::any_of(kAssertions.begin(), kAssertions.end(),
                       [&](const Assertion& a) { return a.id.rfind(prefix, 0) == 0 && wanted(a.id); });
  }
  void record(std::string_view id, Outcome outcome, const std::string& detail) {
    const Assertion* a = find_assertion(id);
    if (a == nullptr || !wanted(id)) return;
    auto it = results_.find(std::string(id));
    if (it == results_.end()) {
      results_.emplace(std::string(id), AssertionResult{a, outcome, detail});
      return;
    }
    AssertionResult& r = it->second;
    if (outcome == Outcome::fail && r.outcome != Outcome::fail) {
      r.outcome = Outcome::fail;
      r.detail = detail;
    } else if (outcome == Outcome::fail && r.detail.size() < 600 && !detail.empty()) {
      r.detail += "; " + detail;
    } else if (outcome == Outcome::pass && r.outcome == Outcome::skip) {
      r.outcome = Outcome::pass;
      r.detail = detail;
    }
  }
  void check(std::string_view id, bool ok, const std::string& failure, const std::string& success = {}) {
    record(id, ok ? Outcome::pass : Outcome::fail, ok ? success : failure);
  }
  void pass(std::string_view id, const std::string& detail = {}) { record(id, Outcome::pass, detail); }
  void fail(std::string_view id, const std::string& detail) { record(id, Outcome::fail, detail); }
  void skip(std::string_view id, const std::string& reason) { record(id, Outcome::skip, reason); }
  // Skips every not yet recorded assertion whose id starts with one of the prefixes.
  void skip_rest(std::initializer_list<std::string_view> prefixes, const std::string& reason) {
    for (const Assertion& a : kAssertions)
      for (std::string_view p : prefixes)
        if (a.id.rfind(p, 0) == 0 && results_.find(std::string(a.id)) == results_.end()) skip(a.id, reason);
  }
  void progress(const std::string& message) const {
    if (options_.progress) options_.progress(message);
  }

  // -- HTTP, with every response noted for the judgements at the end
  Result<Response> call(std::string_view method, const std::string& url, std::string_view body = {},
                        const std::vector<Header>& headers = {}, RequestOptions request_options = {true, false, {}});
  void observe(std::string_view method, const Response& r);
  void note_timestamp(const std::string& where, const std::string& value) {
    std::lock_guard<std::mutex> g(observed_mutex_);
    if (!std::regex_match(value, taxii_timestamp_re()) && bad_timestamps_.size() < 5)
      bad_timestamps_.push_back(where + " '" + value.substr(0, 60) + "'");
    ++timestamps_seen_;
  }
  void note_listing_headers(const Response& r, const std::string& where) {
    if (const std::string* f = r.header("X-TAXII-Date-Added-First"))
      note_timestamp(where + " X-TAXII-Date-Added-First", *f);
    if (const std::string* l = r.header("X-TAXII-Date-Added-Last"))
      note_timestamp(where + " X-TAXII-Date-Added-Last", *l);
  }
  std::string label(std::string_view method, const std::string& url) const {
    std::string path = url;
    if (auto u = parse_url(url)) path = u->path + (u->query.empty() ? "" : "?" + u->query);
    if (path.size() > 140) path = path.substr(0, 137) + "...";
    return std::string(method) + " " + path;
  }
  static std::string status_text(const Response& r) {
    std::string s = std::to_string(r.status);
    if (const std::string* ct = r.header("Content-Type")) s += " (" + ct->substr(0, 60) + ")";
    return s;
  }

  // -- steps
  Status discovery();
  void authentication();
  bool api_root();
  void accept_and_http();
  void collections();
  void read_checks();
  void read_filters();
  void read_only_collection();
  void write_only_collection();
  void writes();
  void exactly_once();
  void judge_responses();

  // -- helpers
  std::string collection_url(const std::string& id_or_alias) const {
    return api_root_url_ + "collections/" + id_or_alias + "/";
  }
  PostOutcome post(const std::string& collection, const std::vector<json::Value>& objects, bool record_status);
  std::optional<json::Value> wait_for_completion(json::Value status);
  WalkResult walk(const std::string& url, const Params& params, std::string_view list_key, std::size_t limit,
                  bool use_next, std::size_t max_pages);
  struct Listing {
    std::optional<Response> response;
    std::optional<json::Value> body;
    std::vector<json::Value> items;
    std::string problem;  // set when there is no 200 JSON answer
  };
  Listing list(const std::string& url, const Params& params, std::string_view key);

  const Client& client_;
  const ConformanceOptions& options_;
  std::map<std::string, AssertionResult> results_;
  ConformanceReport report_;

  std::string discovery_url_, api_root_url_;
  std::uint64_t max_content_length_ = 0;
  std::vector<Collection> listed_;
  std::optional<Collection> read_, write_;

  std::mutex observed_mutex_;
  std::vector<std::string> bad_success_types_, bad_error_types_, bad_error_bodies_, bad_http_status_;
  std::size_t rate_limited_ = 0;  // 429 answers waited out
  std::size_t successes_seen_ = 0, errors_seen_ = 0, error_bodies_seen_ = 0, timestamps_seen_ = 0;
  std::vector<std::string> bad_timestamps_;
};

Result<Response> Runner::call(std::string_view method, const std::string& url, std::string_view body,
                              const std::vector<Header>& headers, RequestOptions request_options) {
  // 429 is the server pacing us, not a conformance question: wait as it
  // asks (Retry-After, else backoff) and ask again, a few times.
  RetryPolicy pacing;
  pacing.base_delay = std::chrono::milliseconds(250);
  pacing.max_delay = std::chrono::milliseconds(30'000);
  for (int attempt = 1;; ++attempt) {
    auto r = client_.request(method, url, body, headers, request_options);
    if (r && r->status == 429 && attempt < 8) {
      {
        std::lock_guard<std::mutex> g(observed_mutex_);
        ++rate_limited_;
      }
      std::this_thread::sleep_for(
          retry_delay(pacing, attempt, r->header("Retry-After"), std::chrono::system_clock::now(), 1.0));
      continue;
    }
    if (r) observe(method, *r);
    return r;
  }
}

void Runner::observe(std::string_view method, const Response& r) {
  std::lock_guard<std::mutex> g(observed_mutex_);
  const std::string where = label(method, r.url) + " -> " + std::to_string(r.status);
  const std::string* ct = r.header("Content-Type");
  const bool taxii = ct != nullptr && is_taxii21_media_type(*ct);
  const std::string ct_text = ct != nullptr ? "'" + ct->substr(0, 60) + "'" : "no Content-Type";
  if (r.status >= 200 && r.status < 300) {
    if (r.body.empty()) return;  // DELETE's 200 has no body
    ++successes_seen_;
    if (!taxii && bad_success_types_.size() < 5) bad_success_types_.push_back(where + ": " + ct_text);
    return;
  }
  if (r.status < 400) return;  // redirects are the transport's business
  ++errors_seen_;
  if (!taxii && bad_error_types_.size() < 5) bad_error_types_.push_back(where + ": " + ct_text);
  if (r.body.empty()) return;  // the error body is optional (SPEC 3.1)
  ++error_bodies_seen_;
  auto body = json_of(r);
  if (!body || !body->is_object() || !body->find_string("title")) {
    if (bad_error_bodies_.size() < 5) bad_error_bodies_.push_back(where + ": no error resource with a string title");
    return;
  }
  if (const json::Value* hs = body->find("http_status")) {
    if (!hs->is_string() || hs->as_string() != std::to_string(r.status))
      if (bad_http_status_.size() < 5)
        bad_http_status_.push_back(where + ": http_status " + json::to_string(*hs).substr(0, 20));
  }
}

Runner::Listing Runner::list(const std::string& url, const Params& params, std::string_view key) {
  Listing l;
  auto r = call("GET", url + query_string(params), {}, {}, {true, false, {}});
  if (!r) {
    l.problem = r.error().message();
    return l;
  }
  l.response = *r;
  if (r->status != 200) {
    l.problem = label("GET", r->url) + " answered " + status_text(*r);
    return l;
  }
  auto body = json_of(*r);
  if (!body || !body->is_object()) {
    l.problem = label("GET", r->url) + ": the body is not a JSON object";
    return l;
  }
  l.items = list_of(*body, key);
  l.body = std::move(body);
  note_listing_headers(*r, label("GET", r->url));
  return l;
}

// ---- discovery ------------------------------------------------------------------

Status Runner::discovery() {
  auto base = parse_url(options_.url);
  if (!base) return std::move(base).error();
  std::string path = base->path;
  if (path.ends_with("/taxii2")) path += "/";
  if (!path.ends_with("/taxii2/")) {
    if (!path.ends_with("/")) path += "/";
    path += "taxii2/";
  }
  base->path = path;
  base->query.clear();
  discovery_url_ = to_string(*base);
  report_.discovery_url = discovery_url_;
  progress("reading discovery at " + discovery_url_);

  // The one request that retries: the server may still be starting.
  auto r = client_.request("GET", discovery_url_, {}, {}, {true, true, {}});
  if (!r) return std::move(r).error();
  observe("GET", *r);
  if (r->status == 401 || r->status == 403) {
    Error e = http_error(*r, "GET");
    return Error(ErrorCategory::permission,
                 e.message() + (client_.settings().credentials.empty() ? ": the server needs credentials"
                                                                       : ": the credentials were refused"));
  }
  auto body = json_of(*r);
  const bool taxii_type = r->is_taxii(MediaTypeMatch::lenient);
  if (r->status != 200 || !body || !body->is_object() || (!taxii_type && !body->find_string("title"))) {
    Error e = http_error(*r, "GET");
    if (r->status >= 500) return e;
    return Error(ErrorCategory::protocol,
                 quote(discovery_url_) + ": not a TAXII 2.1 discovery endpoint (" + std::to_string(r->status) + ", " +
                     (r->header("Content-Type") ? *r->header("Content-Type") : "no Content-Type") +
                     (body ? "" : ", not JSON") + ")");
  }
  pass("discovery.get.200");
  const auto title = body->find_string("title");
  check("discovery.title", title.has_value(), "no string title");

  std::vector<std::string> roots;
  bool roots_ok = true;
  std::string roots_problem;
  if (const json::Value* list = body->find("api_roots")) {
    if (!list->is_array() || list->as_array().empty()) {
      roots_ok = false;
      roots_problem = "api_roots is not a non-empty list";
    } else {
      for (const json::Value& v : list->as_array()) {
        if (!v.is_string()) {
          roots_ok = false;
          roots_problem = "an api_roots entry is not a string";
          continue;
        }
        const std::string& s = v.as_string();
        roots.push_back(s);
        const bool absolute = s.rfind("https://", 0) == 0;
        const bool rooted = s.size() >= 1 && s[0] == '/' && (s.size() < 2 || s[1] != '/');
        if ((!absolute && !rooted) || s.find('?') != std::string::npos || s.find("../") != std::string::npos) {
          roots_ok = false;
          roots_problem = "api_roots entry '" + s + "' is neither an https URL nor a path with one leading '/'";
        }
      }
    }
  }
  check("discovery.api-roots", roots_ok, roots_problem);
  std::string chosen;
  if (auto def = body->find_string("default")) {
    const bool listed = std::find(roots.begin(), roots.end(), std::string(*def)) != roots.end();
    check("discovery.default", listed, "default '" + std::string(*def) + "' is not in api_roots");
    chosen = std::string(*def);
  } else {
    pass("discovery.default", "no default");
  }
  // Prefer the default, then any root on this origin (credentials stay on it).
  const Url& base_url = client_.base();
  auto on_origin = [&](const std::string& root) {
    auto u = client_.resolve(root);
    return u && same_origin(*u, base_url);
  };
  if (chosen.empty() || !on_origin(chosen)) {
    for (const std::string& root : roots)
      if (on_origin(root)) {
        chosen = root;
        break;
      }
  }
  if (chosen.empty() && !roots.empty()) chosen = roots.front();
  if (!chosen.empty()) {
    auto u = resolve_url(*parse_url(discovery_url_), chosen);
    if (u) {
      if (!u->path.ends_with("/")) u->path += "/";
      api_root_url_ = to_string(*u);
    }
  }
  report_.api_root = api_root_url_;
  return {};
}

// ---- authentication ---------------------------------------------------------------

void Runner::authentication() {
  const Credentials& c = client_.settings().credentials;
  if (c.empty()) {
    skip_rest({"auth."}, "no credentials given, so requests without them are the normal case");
    return;
  }
  if (!c.client_cert.empty() && c.user.empty() && c.api_key.empty() && c.bearer_token.empty()) {
    skip_rest({"auth."}, "only a client certificate was given; TLS refuses a client without one before HTTP");
    return;
  }
  progress("probing requests without credentials");
  auto r = call("GET", discovery_url_, {}, {}, {false, false, {}});
  if (!r) {
    fail("auth.401.challenge", "GET without credentials: " + r.error().message());
  } else if (r->status >= 200 && r->status < 300) {
    skip_rest({"auth."}, "the server answers discovery without credentials (anonymous access)");
    return;
  } else if (r->status == 401) {
    const std::string* challenge = r->header("WWW-Authenticate");
    check("auth.401.challenge", challenge != nullptr && !challenge->empty(), "401 without a WWW-Authenticate header");
  } else {
    fail("auth.401.challenge", "GET /taxii2/ without credentials answered " + status_text(*r) + ", not 401");
  }

  if (!c.user.empty()) {
    ClientSettings wrong = client_.settings();
    wrong.credentials.password = "ctishare-conform-wrong-" + fresh_id("x");
    wrong.retry.max_attempts = 1;
    if (auto other = Client::create(wrong)) {
      auto w = other->get(discovery_url_, {}, {true, false, {}});
      if (w) observe("GET", *w);
      if (!w)
        fail("auth.wrong-password", w.error().message());
      else
        check("auth.wrong-password", w->status == 401, "a wrong password answered " + status_text(*w));
    }
  } else {
    skip("auth.wrong-password", "no Basic credentials given");
  }
}

// ---- API root -----------------------------------------------------------------------

bool Runner::api_root() {
  if (api_root_url_.empty()) {
    fail("api-root.get.200", "discovery lists no API root to test");
    return false;
  }
  progress("reading the API root " + api_root_url_);
  auto r = call("GET", api_root_url_, {}, {}, {true, false, {}});
  if (!r) {
    fail("api-root.get.200", r.error().message());
    return false;
  }
  auto body = json_of(*r);
  if (r->status != 200 || !body || !body->is_object()) {
    fail("api-root.get.200", label("GET", r->url) + " answered " + status_text(*r));
    return false;
  }
  pass("api-root.get.200");
  check("api-root.title", body->find_string("title").has_value(), "no string title");
  bool has_21 = false;
  if (const json::Value* v = body->find("versions"); v != nullptr && v->is_array())
    for (const json::Value& e : v->as_array())
      if (e.is_string() && is_taxii21_media_type(e.as_string())) has_21 = true;
  check("api-root.versions", has_21, "versions does not list application/taxii+json;version=2.1");
  const json::Value* mcl = body->find("max_content_length");
  const std::int64_t limit = mcl != nullptr && mcl->is_number() ? mcl->as_int64().value_or(-1) : -1;
  check("api-root.max-content-length", limit > 0,
        mcl == nullptr ? "max_content_length is missing" : "max_content_length is not an integer > 0");
  if (limit > 0) max_content_length_ = static_cast<std::uint64_t>(limit);

  auto origin = client_.resolve("/ctishare-conform-no-such-root-" + fresh_id("r").substr(3) + "/");
  if (origin) {
    auto missing = call("GET", to_string(*origin), {}, {}, {true, false, {}});
    if (!missing)
      fail("api-root.404", missing.error().message());
    else
      check("api-root.404", missing->status == 404, "an unknown API root answered " + status_text(*missing));
  }
  return true;
}

void Runner::accept_and_http() {
  auto r = call("GET", api_root_url_, {}, {{"Accept", "application/taxii+json"}}, {true, false, {}});
  if (!r)
    fail("accept.versionless", r.error().message());
  else
    check("accept.versionless", r->status == 200, "answered " + status_text(*r));

  auto foreign = call("GET", api_root_url_, {}, {{"Accept", "application/xml"}}, {true, false, {}});
  if (!foreign) {
    fail("accept.foreign", foreign.error().message());
  } else if (foreign->status == 406) {
    pass("accept.foreign", "406");
  } else if (foreign->status == 200) {
    pass("accept.foreign", "served anyway (allowed: SPEC 3.1 lets the server choose)");
  } else {
    fail("accept.foreign", "answered " + status_text(*foreign) + ", neither 406 nor 200");
  }

  auto no_ua = call("GET", api_root_url_, {}, {{"User-Agent", ""}}, {true, false, {}});
  if (!no_ua)
    fail("http.no-user-agent", no_ua.error().message());
  else
    check("http.no-user-agent", no_ua->status == 200, "answered " + status_text(*no_ua));

  std::string slashless = api_root_url_;
  if (slashless.ends_with("/")) slashless.pop_back();
  auto ns = call("GET", slashless, {}, {}, {true, false, {}});
  if (!ns) {
    fail("http.no-trailing-slash", ns.error().message());
  } else if (ns->status >= 500) {
    fail("http.no-trailing-slash", "answered " + status_text(*ns));
  } else {
    std::string what = std::to_string(ns->status);
    if (const std::string* loc = ns->header("Location")) what += " to " + loc->substr(0, 80);
    pass("http.no-trailing-slash", what);
  }
}

// ---- collections -----------------------------------------------------------------

void Runner::collections() {
  progress("reading collections");
  const std::string url = api_root_url_ + "collections/";
  auto r = call("GET", url, {}, {}, {true, false, {}});
  std::optional<json::Value> body;
  if (!r) {
    fail("collections.get.200", r.error().message());
  } else if (body = json_of(*r); r->status != 200 || !body || !body->is_object()) {
    fail("collections.get.200", label("GET", r->url) + " answered " + status_text(*r));
    body.reset();
  } else {
    pass("collections.get.200");
  }
  std::vector<std::string> order;
  if (body) {
    bool empty_list = false;
    const auto items = list_of(*body, "collections", &empty_list);
    check("collections.no-empty-list", !empty_list, "\"collections\": [] instead of leaving it out");
    std::string problem;
    std::set<std::string> aliases;
    std::string alias_problem;
    for (const json::Value& c : items) {
      Collection col;
      col.listed = true;
      col.id = id_of(c);
      if (!c.is_object()) {
        problem = "an entry is not an object";
        continue;
      }
      if (!is_identifier(col.id)) problem = "collection id '" + col.id.substr(0, 60) + "' is not a UUID";
      if (auto t = c.find_string("title"))
        col.title = std::string(*t);
      else
        problem = "collection " + col.id + " has no string title";
      const json::Value* cr = c.find("can_read");
      const json::Value* cw = c.find("can_write");
      if (cr == nullptr || !cr->is_bool() || cw == nullptr || !cw->is_bool())
        problem = "collection " + col.id + " lacks boolean can_read / can_write";
      col.can_read = cr != nullptr && cr->is_bool() && cr->as_bool();
      col.can_write = cw != nullptr && cw->is_bool() && cw->as_bool();
      if (auto a = c.find_string("alias")) {
        col.alias = std::string(*a);
        if (!aliases.insert(col.alias).second) alias_problem = "alias '" + col.alias + "' is used twice";
      }
      order.push_back(col.id);
      listed_.push_back(col);
    }
    check("collections.fields", problem.empty(), problem);
    check("collections.alias-unique", alias_problem.empty(), alias_problem);
    auto again = call("GET", url, {}, {}, {true, false, {}});
    std::vector<std::string> order2;
    if (again && again->status == 200)
      if (auto b2 = json_of(*again))
        for (const json::Value& c : list_of(*b2, "collections")) order2.push_back(id_of(c));
    check("collections.stable-order", order == order2, "the second GET listed the collections in another order");
  }

  // Pick the collections to test.
  auto find = [&](const std::string& key) -> std::optional<Collection> {
    for (const Collection& c : listed_)
      if (c.id == key || (!c.alias.empty() && c.alias == key)) return c;
    return std::nullopt;
  };
  auto unlisted = [&](const std::string& key) -> std::optional<Collection> {
    // Not in the list: read it directly (a server may list only some).
    auto g = call("GET", collection_url(key), {}, {}, {true, false, {}});
    if (!g || g->status != 200) return std::nullopt;
    auto b = json_of(*g);
    if (!b || !b->is_object()) return std::nullopt;
    Collection c;
    c.id = id_of(*b);
    c.alias = std::string(b->find_string("alias").value_or(""));
    c.title = std::string(b->find_string("title").value_or(""));
    const json::Value* cr = b->find("can_read");
    const json::Value* cw = b->find("can_write");
    c.can_read = cr != nullptr && cr->is_bool() && cr->as_bool();
    c.can_write = cw != nullptr && cw->is_bool() && cw->as_bool();
    return c;
  };
  if (!options_.write_collection.empty()) {
    write_ = find(options_.write_collection);
    if (!write_) write_ = unlisted(options_.write_collection);
  }
  if (!options_.read_collection.empty()) {
    read_ = find(options_.read_collection);
    if (!read_) read_ = unlisted(options_.read_collection);
  } else if (write_ && write_->can_read) {
    read_ = write_;
  } else {
    for (const Collection& c : listed_)
      if (c.can_read) {
        read_ = c;
        break;
      }
  }
  report_.read_collection = read_ ? read_->id : "";
  report_.write_collection = write_ ? write_->id : "";

  // One collection in detail.
  const std::optional<Collection>& detail_col = read_ ? read_ : write_;
  if (detail_col) {
    auto g = call("GET", collection_url(detail_col->id), {}, {}, {true, false, {}});
    if (!g) {
      fail("collection.get.200", g.error().message());
    } else {
      auto b = json_of(*g);
      if (g->status != 200 || !b || !b->is_object()) {
        fail("collection.get.200", label("GET", g->url) + " answered " + status_text(*g));
      } else {
        const json::Value* cr = b->find("can_read");
        const json::Value* cw = b->find("can_write");
        const bool same =
            id_of(*b) == detail_col->id && b->find_string("title") && cr && cr->is_bool() && cw && cw->is_bool() &&
            (!detail_col->listed || (cr->as_bool() == detail_col->can_read && cw->as_bool() == detail_col->can_write &&
                                     std::string(*b->find_string("title")) == detail_col->title));
        check("collection.get.200", same, "the collection resource differs from its entry in the list or lacks fields");
      }
    }
    if (!detail_col->alias.empty()) {
      auto a = call("GET", collection_url(detail_col->alias), {}, {}, {true, false, {}});
      auto ab = a && a->status == 200 ? json_of(*a) : std::nullopt;
      check("collection.by-alias", ab && id_of(*ab) == detail_col->id,
            "GET collections/" + detail_col->alias + "/ answered " + (a ? status_text(*a) : a.error().message()));
    } else {
      skip("collection.by-alias", "the collection has no alias");
    }
  } else {
    skip_rest({"collection.get", "collection.by-alias"}, "no collection to read");
  }
  auto missing = call("GET", collection_url(fresh_id("x").substr(3)), {}, {}, {true, false, {}});
  if (!missing)
    fail("collection.404", missing.error().message());
  else
    check("collection.404", missing->status == 404, "an unknown collection answered " + status_text(*missing));

  // Requests without credentials on collection endpoints.
  const Credentials& creds = client_.settings().credentials;
  if (creds.empty() || (creds.user.empty() && creds.api_key.empty() && creds.bearer_token.empty())) return;
  auto anon = call("GET", api_root_url_ + "collections/", {}, {}, {false, false, {}});
  if (anon) {
    if (anon->status == 200 && results_.count("auth.401.challenge") &&
        results_.at("auth.401.challenge").outcome == Outcome::skip)
      return;  // anonymous access allowed
    check("auth.collections", anon->status == 401 || anon->status == 404, "answered " + status_text(*anon));
  }
  const std::optional<Collection>& c = read_ ? read_ : write_;
  if (c) {
    auto o = call("GET", collection_url(c->id) + "objects/", {}, {}, {false, false, {}});
    if (o) check("auth.objects", o->status == 401 || o->status == 404, "answered " + status_text(*o));
  }
  if (write_) {
    const std::string now = system_clock().now().to_millis().to_string();
    const std::string id = fresh_id("indicator");
    auto p = call("POST", collection_url(write_->id) + "objects/",
                  envelope({indicator(id, now, now, "anonymous post")}), {}, {false, false, {}});
    if (p) check("auth.post", p->status == 401 || p->status == 404, "answered " + status_text(*p));
  }
}

// ---- read checks ----------------------------------------------------------------------

void Runner::read_checks() {
  const std::string base = collection_url(read_->id);
  progress("reading collection " + read_->id);
  // Manifest
  std::vector<json::Value> manifest_items;
  {
    auto l = list(base + "manifest/", {}, "objects");
    if (!l.problem.empty()) {
      fail("manifest.get.200", l.problem);
      skip_rest({"manifest.records", "manifest.order", "manifest.headers"}, "no manifest to judge");
    } else {
      pass("manifest.get.200");
      manifest_items = l.items;
      std::string problem;
      std::optional<Micros> previous;
      bool ordered = true;
      for (const json::Value& m : l.items) {
        const auto id = m.find_string("id");
        const auto da = m.find_string("date_added");
        const auto v = m.find_string("version");
        if (!id || !da || !v) {
          problem = "a record lacks a string id, date_added or version";
          continue;
        }
        note_timestamp("manifest date_added", std::string(*da));
        auto micros = micros_of(*da);
        if (!micros) {
          problem = "date_added '" + std::string(*da) + "' is not a timestamp";
          continue;
        }
        if (previous && *micros < *previous) ordered = false;
        previous = micros;
      }
      check("manifest.records", problem.empty(), problem);
      check("manifest.order", ordered, "a record's date_added is earlier than the one before it");
      if (!l.items.empty()) {
        const std::string* first = l.response->header("X-TAXII-Date-Added-First");
        const std::string* last = l.response->header("X-TAXII-Date-Added-Last");
        const auto f = l.items.front().find_string("date_added"), la = l.items.back().find_string("date_added");
        check("manifest.headers", first && last && f && la && same_version(*first, *f) && same_version(*last, *la),
              first && last ? "headers " + *first + " / " + *last + " differ from the records' date_added"
                            : "the X-TAXII-Date-Added headers are missing");
      } else {
        skip("manifest.headers", "the collection is empty");
      }
    }
  }
  // Objects
  {
    auto l = list(base + "objects/", {}, "objects");
    if (!l.problem.empty()) {
      fail("objects.get.200", l.problem);
    } else {
      pass("objects.get.200");
      std::string problem;
      bool empty_list = false;
      list_of(*l.body, "objects", &empty_list);
      if (empty_list) problem = "\"objects\": [] instead of leaving it out";
      for (const auto& [name, value] : l.body->as_object()) {
        if (name == "more" && !value.is_bool()) problem = "more is not a boolean";
        if (name == "next" && !value.is_string()) problem = "next is not a string";
        if (name == "objects" && !value.is_array()) problem = "objects is not a list";
      }
      for (const json::Value& o : l.items)
        if (!o.is_object() || !o.find_string("type") || !o.find_string("id"))
          problem = "an element is not a STIX object";
      check("objects.envelope", problem.empty(), problem);
      if (!l.items.empty()) {
        const std::string* first = l.response->header("X-TAXII-Date-Added-First");
        const std::string* last = l.response->header("X-TAXII-Date-Added-Last");
        auto f = first ? micros_of(*first) : std::nullopt;
        auto la = last ? micros_of(*last) : std::nullopt;
        check("objects.headers", f && la && *f <= *la,
              first && last ? "X-TAXII-Date-Added-First " + *first + " / -Last " + *last + " are not ordered timestamps"
                            : "the X-TAXII-Date-Added headers are missing");
      } else {
        skip("objects.headers", "the collection is empty");
      }
      // The same default query on manifest and objects lists the same versions.
      if (!manifest_items.empty() && !more_of(*l.body)) {
        std::vector<std::string> a, b;
        for (const json::Value& m : manifest_items) a.push_back(id_of(m));
        for (const json::Value& o : l.items) b.push_back(id_of(o));
        check("objects.matches-manifest", a == b,
              "manifest lists " + std::to_string(a.size()) + " records, objects " + std::to_string(b.size()) +
                  " objects, or in another order");
      } else {
        skip("objects.matches-manifest", "the collection is empty or larger than one page");
      }
    }
  }
  // No match: empty answers.
  const std::string nothing = fresh_id("indicator");
  {
    auto l = list(base + "objects/", {{"match[id]", nothing}}, "objects");
    if (!l.problem.empty()) {
      fail("objects.empty-envelope", l.problem);
    } else {
      bool empty_list = false;
      list_of(*l.body, "objects", &empty_list);
      check("objects.empty-envelope", l.items.empty() && !empty_list && !more_of(*l.body),
            empty_list ? "\"objects\": [] instead of leaving it out" : "objects came back for an id nobody posted");
    }
    auto m = list(base + "manifest/", {{"match[id]", nothing}}, "objects");
    if (!m.problem.empty()) {
      fail("manifest.empty", m.problem);
    } else {
      bool empty_list = false;
      list_of(*m.body, "objects", &empty_list);
      check("manifest.empty", m.items.empty() && !empty_list, "not an empty manifest");
    }
  }
  auto expect_404 = [&](std::string_view id, const std::string& url) {
    auto r = call("GET", url, {}, {}, {true, false, {}});
    if (!r)
      fail(id, r.error().message());
    else
      check(id, r->status == 404, label("GET", r->url) + " answered " + status_text(*r));
  };
  expect_404("object.get.404", base + "objects/" + nothing + "/");
  expect_404("versions.404", base + "objects/" + nothing + "/versions/");
  expect_404("status.404", api_root_url_ + "status/" + fresh_id("x").substr(3) + "/");
}

void Runner::read_filters() {
  const std::string objects = collection_url(read_->id) + "objects/";
  auto expect_400 = [&](std::string_view id, const Params& params) {
    auto r = call("GET", objects + query_string(params), {}, {}, {true, false, {}});
    if (!r)
      fail(id, r.error().message());
    else
      check(id, r->status == 400, label("GET", r->url) + " answered " + status_text(*r));
  };
  expect_400("filter.limit.invalid", {{"limit", "0"}});
  expect_400("filter.limit.invalid", {{"limit", "-1"}});
  expect_400("filter.limit.invalid", {{"limit", "abc"}});
  expect_400("filter.added-after.invalid", {{"added_after", "yesterday"}});
  expect_400("filter.repeated",
             {{"added_after", "2020-01-01T00:00:00.000000Z"}, {"added_after", "2020-01-01T00:00:00.000000Z"}});
  expect_400("filter.repeated", {{"match[type]", "indicator"}, {"match[type]", "malware"}});

  auto one = list(objects, {{"limit", "1"}}, "objects");
  if (!one.problem.empty()) {
    fail("filter.limit.one", one.problem);
  } else {
    auto all = list(collection_url(read_->id) + "manifest/", {{"limit", "2"}}, "objects");
    const bool others = all.problem.empty() && all.items.size() >= 2;
    check("filter.limit.one", one.items.size() <= 1 && (!others || more_of(*one.body)),
          one.items.size() > 1 ? std::to_string(one.items.size()) + " objects for limit=1"
                               : "more is not true although the collection holds more");
  }
  auto big = list(objects, {{"limit", "100000000"}}, "objects");
  check("filter.limit.server-cap", big.problem.empty(), big.problem);

  auto typed = list(objects, {{"match[type]", "grouping"}}, "objects");
  if (!typed.problem.empty()) {
    fail("filter.type.stix-type", typed.problem);
  } else {
    bool only = std::all_of(typed.items.begin(), typed.items.end(), [](const json::Value& o) {
      return o.find_string("type") == std::optional<std::string_view>("grouping");
    });
    check("filter.type.stix-type", only, "an object of another type came back");
  }

  // next: corrupted, and a walk of the whole read collection.
  const std::size_t page = std::max<std::size_t>(options_.walk_page_size, 1);
  auto first = list(objects, {{"limit", std::to_string(page)}, {"match[version]", "all"}}, "objects");
  if (first.problem.empty() && more_of(*first.body) && next_of(*first.body)) {
    std::string token = *next_of(*first.body);
    std::reverse(token.begin(), token.end());
    token = "x" + token + "!";
    auto bad = call(
        "GET", objects + query_string({{"limit", std::to_string(page)}, {"match[version]", "all"}, {"next", token}}),
        {}, {}, {true, false, {}});
    if (!bad)
      fail("paging.next.invalid", bad.error().message());
    else
      check("paging.next.invalid", bad->status == 400, "a corrupted next answered " + status_text(*bad));
  } else {
    skip("paging.next.invalid", "the read collection fits in one page of " + std::to_string(page) + " (no next token)");
  }
  if (wanted("paging.read-walk")) {
    WalkResult w = walk(objects, {{"match[version]", "all"}}, "objects", page, true, 2000);
    std::map<std::string, int> seen;
    std::string dup;
    for (const json::Value& o : w.items)
      if (++seen[id_of(o) + "@" + version_of(o)] == 2 && dup.empty()) dup = id_of(o) + "@" + version_of(o);
    if (!w.problems.empty())
      fail("paging.read-walk", join(w.problems, "; "));
    else
      check("paging.read-walk", dup.empty(), "version " + dup + " delivered twice",
            std::to_string(w.items.size()) + " versions in " + std::to_string(w.pages) + " pages");
  }
}

void Runner::write_only_collection() {
  std::optional<Collection> wo;
  for (const Collection& c : listed_)
    if (!wo && !c.can_read && c.can_write) wo = c;
  if (!wo) {
    skip_rest({"objects.get.write-only", "manifest.write-only", "object.delete.write-only"},
              "no collection with can_read false and can_write true");
    return;
  }
  const std::string base = collection_url(wo->id);
  for (const auto& [id, url] : {std::pair<std::string_view, std::string>{"objects.get.write-only", base + "objects/"},
                                {"manifest.write-only", base + "manifest/"}}) {
    auto r = call("GET", url, {}, {}, {true, false, {}});
    if (!r)
      fail(id, r.error().message());
    else
      check(id, r->status == 403 || r->status == 404, "answered " + status_text(*r));
  }
  // A fresh id: nothing of the partner's can be deleted by a wrong answer.
  auto d = call("DELETE", base + "objects/" + fresh_id("indicator") + "/", {}, {}, {true, false, {}});
  if (!d)
    fail("object.delete.write-only", d.error().message());
  else
    check("object.delete.write-only", d->status == 403, "answered " + status_text(*d));
}

void Runner::read_only_collection() {
  // A collection this user may read but not write: the first listed (or --read-collection).
  std::optional<Collection> ro;
  if (read_ && read_->can_read && !read_->can_write) ro = read_;
  for (const Collection& c : listed_)
    if (!ro && c.can_read && !c.can_write) ro = c;
  if (!ro) {
    skip_rest({"objects.post.read-only", "object.delete.read-only"},
              "no collection with can_read true and can_write false");
    return;
  }
  const std::string base = collection_url(ro->id);
  if (wanted("objects.post.read-only")) {
    const std::string now = system_clock().now().to_millis().to_string();
    auto r = call("POST", base + "objects/",
                  envelope({indicator(fresh_id("indicator"), now, now, "must be refused: read-only collection")}), {},
                  {true, false, {}});
    if (!r)
      fail("objects.post.read-only", r.error().message());
    else
      check("objects.post.read-only", r->status == 403 || r->status == 404, "answered " + status_text(*r));
  }
  if (wanted("object.delete.read-only")) {
    auto m = list(base + "manifest/", {{"limit", "1"}}, "objects");
    if (!m.problem.empty() || m.items.empty()) {
      skip("object.delete.read-only", "the read-only collection " + ro->id + " holds no object to try");
      return;
    }
    // An existing object with a version it does not have: the permission
    // check must come first (403), and a server that gets it wrong deletes
    // nothing of the partner's data.
    auto r = call("DELETE",
                  base + "objects/" + id_of(m.items.front()) + "/" +
                      query_string({{"match[version]", "1970-01-01T00:00:00.000Z"}}),
                  {}, {}, {true, false, {}});
    if (!r)
      fail("object.delete.read-only", r.error().message());
    else
      check("object.delete.read-only", r->status == 403, "answered " + status_text(*r));
  }
}

// ---- writes ---------------------------------------------------------------------------

std::optional<json::Value> Runner::wait_for_completion(json::Value status) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options_.status_wait_seconds);
  while (status.find_string("status") == std::optional<std::string_view>("pending")) {
    if (std::chrono::steady_clock::now() > deadline) {
      fail("status.completes",
           "status " + id_of(status) + " still pending after " + std::to_string(options_.status_wait_seconds) + " s");
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto r = call("GET", api_root_url_ + "status/" + id_of(status) + "/", {}, {}, {true, false, {}});
    if (!r || r->status != 200) return std::nullopt;
    auto b = json_of(*r);
    if (!b || !b->is_object()) return std::nullopt;
    status = std::move(*b);
  }
  pass("status.completes");
  return status;
}

PostOutcome Runner::post(const std::string& collection, const std::vector<json::Value>& objects, bool record_status) {
  PostOutcome out;
  auto r = call("POST", collection_url(collection) + "objects/", envelope(objects), {}, {true, false, {}});
  if (!r) {
    out.problem = r.error().message();
    return out;
  }
  out.response = *r;
  if (r->status != 202) {
    out.problem = label("POST", r->url) + " answered " + status_text(*r);
    return out;
  }
  auto body = json_of(*r);
  if (!body || !body->is_object()) {
    out.problem = "the 202 body is not a status resource";
    return out;
  }
  if (auto ts = body->find_string("request_timestamp")) note_timestamp("status request_timestamp", std::string(*ts));
  if (record_status) {
    std::string problem;
    const auto st = body->find_string("status");
    if (!is_identifier(id_of(*body))) problem = "status id is not an identifier";
    if (!st || (*st != "complete" && *st != "pending")) problem = "status is neither complete nor pending";
    std::int64_t counts[4] = {0, 0, 0, 0};
    const char* names[4] = {"total_count", "success_count", "failure_count", "pending_count"};
    for (int i = 0; i < 4; ++i) {
      const json::Value* v = body->find(names[i]);
      auto n = v != nullptr && v->is_number() ? v->as_int64() : std::nullopt;
      if (!n || *n < 0)
        problem = std::string(names[i]) + " is missing or not a non-negative integer";
      else
        counts[i] = *n;
    }
    check("objects.post.status", problem.empty(), problem);
    check("objects.post.status-counts", counts[0] == counts[1] + counts[2] + counts[3],
          "total " + std::to_string(counts[0]) + " != success " + std::to_string(counts[1]) + " + failure " +
              std::to_string(counts[2]) + " + pending " + std::to_string(counts[3]));
    // The status endpoint answers with the same status.
    auto g = call("GET", api_root_url_ + "status/" + id_of(*body) + "/", {}, {}, {true, false, {}});
    if (!g) {
      fail("status.get.200", g.error().message());
    } else {
      auto gb = json_of(*g);
      check("status.get.200", g->status == 200 && gb && id_of(*gb) == id_of(*body),
            label("GET", g->url) + " answered " + status_text(*g));
    }
  }
  out.status = wait_for_completion(std::move(*body));
  if (!out.status) out.problem = "the status did not complete";
  return out;
}

namespace {

std::int64_t count_of(const json::Value& status, std::string_view name) {
  const json::Value* v = status.find(name);
  return v != nullptr && v->is_number() ? v->as_int64().value_or(-1) : -1;
}

}  // namespace

void Runner::writes() {
  const std::string wid = write_->id;
  const std::string base = collection_url(wid);
  progress("posting fixture objects into " + wid);
  const Timestamp t0 = system_clock().now().to_millis();
  const std::string c = t0.to_string(), v2 = t0.plus_seconds(1).to_string(), v3 = t0.plus_seconds(2).to_string();
  const std::string a = fresh_id("indicator"), b = fresh_id("malware"), sco = fresh_id("ipv4-addr");
  const std::map<std::string, std::string> names = {{a, "A"}, {b, "B"}, {sco, "C"}};
  const std::vector<json::Value> fixture = {indicator(a, c, c, "version 1"), indicator(a, c, v2, "version 2"),
                                            indicator(a, c, v3, "version 3"), malware(b, c), ipv4(sco)};
  // Five POSTs, so the five versions get five date_added in this order.
  for (std::size_t i = 0; i < fixture.size(); ++i) {
    PostOutcome p = post(wid, {fixture[i]}, i == 0);
    if (i == 0) {
      if (!p.response) {
        fail("objects.post.202", p.problem);
      } else {
        check("objects.post.202", p.response->status == 202, p.problem);
      }
    }
    if (!p.status) {
      skip_rest({"objects.", "object.", "status.", "manifest.", "filter.", "versions.", "paging."},
                "the fixture could not be posted: " + p.problem);
      return;
    }
    const bool ok = count_of(*p.status, "success_count") == 1 && count_of(*p.status, "failure_count") == 0;
    check("objects.post.success", ok,
          "posting " + names.at(id_of(fixture[i])) + " gave " + json::to_string(*p.status).substr(0, 300));
    if (!ok) {
      skip_rest({"objects.", "object.", "manifest.", "filter.", "versions.", "paging."},
                "the server did not store the fixture");
      return;
    }
  }
  const std::string ids = a + "," + b + "," + sco;

  // The manifest: one record per version, and the date_added of each.
  auto man = list(base + "manifest/", {{"match[id]", ids}, {"match[version]", "all"}}, "objects");
  std::vector<Micros> date_added;
  std::vector<std::string> date_text;
  if (!man.problem.empty()) {
    fail("manifest.per-version", man.problem);
  } else {
    std::vector<std::string> expected = {a, a, a, b, sco};
    std::vector<std::string> got;
    for (const json::Value& m : man.items) {
      got.push_back(id_of(m));
      const std::string da(m.find_string("date_added").value_or(""));
      date_text.push_back(da);
      date_added.push_back(micros_of(da).value_or(0));
      note_timestamp("manifest date_added", da);
    }
    bool versions_ok = got == expected;
    if (versions_ok) {
      const std::string fixture_versions[3] = {c, v2, v3};
      for (int i = 0; i < 3; ++i)
        versions_ok =
            versions_ok && same_version(man.items[i].find_string("version").value_or(""), fixture_versions[i]);
    }
    check("manifest.per-version", versions_ok,
          "expected A@v1, A@v2, A@v3, B, C; got " + describe_ids(man.items, names));
    if (got.size() == 5) {
      const auto v = man.items[4].find_string("version");
      check("manifest.sco-version", v && !v->empty(), "the SCO's record has no version");
    }
    auto f = list(base + "manifest/", {{"match[id]", ids}, {"match[type]", "malware"}}, "objects");
    check("manifest.filters", f.problem.empty() && f.items.size() == 1 && id_of(f.items[0]) == b,
          f.problem.empty() ? "expected only B; got " + describe_ids(f.items, names) : f.problem);
  }
  if (date_added.size() != 5) {
    skip_rest({"objects.get", "filter.", "paging.more", "paging.manifest", "paging.added-after"},
              "the fixture's manifest is unusable");
    date_added.assign(5, 0);
  }

  auto objects_of = [&](const Params& params) { return list(base + "objects/", params, "objects"); };
  // expected: labels like "A1", "B"; compares id and version.
  auto expect = [&](std::string_view id, const Params& params, const std::vector<std::string>& wanted_labels) {
    auto l = objects_of(params);
    if (!l.problem.empty()) {
      fail(id, l.problem);
      return l;
    }
    std::vector<std::string> got;
    for (const json::Value& o : l.items) {
      std::string lab = names.count(id_of(o)) ? names.at(id_of(o)) : id_of(o);
      if (lab == "A") {
        const std::string v = version_of(o);
        lab += same_version(v, c) ? "1" : same_version(v, v2) ? "2" : same_version(v, v3) ? "3" : "?";
      }
      got.push_back(lab);
    }
    check(id, got == wanted_labels,
          "expected " + (wanted_labels.empty() ? std::string("nothing") : join(wanted_labels, ", ")) + "; got " +
              (got.empty() ? std::string("nothing") : join(got, ", ")));
    return l;
  };
  {
    auto l = expect("objects.get.order", {{"match[id]", ids}, {"match[version]", "all"}}, {"A1", "A2", "A3", "B", "C"});
    if (l.problem.empty() && !l.items.empty() && date_text.size() == 5) {
      const std::string* f = l.response->header("X-TAXII-Date-Added-First");
      const std::string* la = l.response->header("X-TAXII-Date-Added-Last");
      check("objects.get.headers",
            f && la && same_version(*f, date_text.front()) && same_version(*la, date_text.back()),
            f && la ? "headers " + *f + " / " + *la + " but date_added " + date_text.front() + " / " + date_text.back()
                    : "the X-TAXII-Date-Added headers are missing");
    }
  }
  if (date_text.size() == 5)
    expect("filter.added-after", {{"match[id]", ids}, {"match[version]", "all"}, {"added_after", date_text[1]}},
           {"A3", "B", "C"});
  expect("filter.id", {{"match[id]", a + "," + b}}, {"A3", "B"});
  expect("filter.type.and", {{"match[id]", ids}, {"match[type]", "malware"}}, {"B"});
  expect("filter.type.or", {{"match[id]", ids}, {"match[type]", "indicator,malware"}}, {"A3", "B"});
  expect("filter.version.default", {{"match[id]", a}}, {"A3"});
  expect("filter.version.last", {{"match[id]", a}, {"match[version]", "last"}}, {"A3"});
  expect("filter.version.first", {{"match[id]", a}, {"match[version]", "first"}}, {"A1"});
  expect("filter.version.all", {{"match[id]", a}, {"match[version]", "all"}}, {"A1", "A2", "A3"});
  expect("filter.version.timestamp", {{"match[id]", a}, {"match[version]", v2}}, {"A2"});
  expect("filter.version.combined", {{"match[id]", a}, {"match[version]", "first,last"}}, {"A1", "A3"});
  {
    auto r = call("GET", base + "objects/" + query_string({{"match[id]", a}, {"match[version]", "all,last"}}), {}, {},
                  {true, false, {}});
    if (r) check("filter.version.all-combined", r->status == 400, "answered " + status_text(*r));
  }
  expect("filter.spec-version", {{"match[id]", a + "," + b}, {"match[spec_version]", "2.0"}}, {});
  expect("filter.spec-version", {{"match[id]", a + "," + b}, {"match[spec_version]", "2.1"}}, {"A3", "B"});
  {
    auto l = expect("filter.limit.more", {{"match[id]", ids}, {"match[version]", "all"}, {"limit", "2"}}, {"A1", "A2"});
    if (l.problem.empty()) check("filter.limit.more", more_of(*l.body), "more is not true with 3 more to come");
    auto all = expect("filter.limit.all-fit", {{"match[id]", ids}, {"match[version]", "all"}, {"limit", "5"}},
                      {"A1", "A2", "A3", "B", "C"});
    if (all.problem.empty()) check("filter.limit.all-fit", !more_of(*all.body), "more is true with nothing left");
  }

  // One object, its versions.
  {
    auto l = list(base + "objects/" + a + "/", {}, "objects");
    if (!l.problem.empty()) {
      fail("object.get.200", l.problem);
    } else {
      check("object.get.200", l.items.size() == 1 && id_of(l.items[0]) == a && same_version(version_of(l.items[0]), v3),
            "expected A@v3; got " + describe_ids(l.items, names));
      const std::string* f = l.response->header("X-TAXII-Date-Added-First");
      const std::string* la = l.response->header("X-TAXII-Date-Added-Last");
      check("object.get.headers",
            f && la && same_version(*f, date_text.size() == 5 ? date_text[2] : *f) && same_version(*f, *la),
            f && la ? "headers " + *f + " / " + *la + ", the version's date_added is " +
                          (date_text.size() == 5 ? date_text[2] : "?")
                    : "the X-TAXII-Date-Added headers are missing");
    }
    auto all = list(base + "objects/" + a + "/", {{"match[version]", "all"}}, "objects");
    check("object.get.all", all.problem.empty() && all.items.size() == 3,
          all.problem.empty() ? "expected 3 versions; got " + describe_ids(all.items, names) : all.problem);
    auto v = list(base + "objects/" + a + "/versions/", {}, "versions");
    if (!v.problem.empty()) {
      fail("versions.get.200", v.problem);
    } else {
      std::vector<std::string> got;
      for (const json::Value& s : v.items) got.push_back(s.is_string() ? s.as_string() : json::to_string(s));
      bool ok = got.size() == 3;
      for (const std::string& want : {c, v2, v3})
        ok = ok && std::any_of(got.begin(), got.end(), [&](const std::string& g) { return same_version(g, want); });
      check("versions.get.200", ok, "expected " + c + ", " + v2 + ", " + v3 + "; got " + join(got, ", "));
      const std::string* f = v.response->header("X-TAXII-Date-Added-First");
      const std::string* la = v.response->header("X-TAXII-Date-Added-Last");
      check("versions.headers", f && la, "the X-TAXII-Date-Added headers are missing");
    }
  }

  // Paging over the fixture.
  {
    const Params q = {{"match[id]", ids}, {"match[version]", "all"}};
    auto judge = [&](std::string_view id, const WalkResult& w, bool manifest) {
      std::vector<std::string> got;
      for (const json::Value& o : w.items) {
        std::string lab = names.count(id_of(o)) ? names.at(id_of(o)) : id_of(o);
        if (lab == "A") {
          const std::string v = manifest ? std::string(o.find_string("version").value_or("")) : version_of(o);
          lab += same_version(v, c) ? "1" : same_version(v, v2) ? "2" : same_version(v, v3) ? "3" : "?";
        }
        got.push_back(lab);
      }
      const std::vector<std::string> want = {"A1", "A2", "A3", "B", "C"};
      if (!w.problems.empty())
        fail(id, join(w.problems, "; "));
      else
        check(id, got == want, "walked " + join(got, ", ") + " instead of A1, A2, A3, B, C",
              std::to_string(w.pages) + " pages" + (w.used_fallback ? " (next missing: followed added_after)" : ""));
    };
    judge("paging.more-next", walk(base + "objects/", q, "objects", 2, true, 20), false);
    judge("paging.manifest", walk(base + "manifest/", q, "objects", 2, true, 20), true);
    judge("paging.added-after", walk(base + "objects/", q, "objects", 2, false, 20), false);
  }

  // POST variants.
  {
    PostOutcome dup = post(wid, {fixture[0]}, false);
    check("objects.post.duplicate", dup.status && count_of(*dup.status, "failure_count") == 0,
          dup.status ? "re-posting A@v1 gave " + json::to_string(*dup.status).substr(0, 300) : dup.problem);
  }
  {
    const std::string now = system_clock().now().to_millis().to_string();
    const std::string good = fresh_id("indicator"), bad = fresh_id("indicator");
    json::Object broken;
    broken.emplace_back("type", "indicator");
    broken.emplace_back("spec_version", "2.1");
    broken.emplace_back("id", bad);  // no created, modified, pattern: not STIX 2.1
    auto r = call("POST", base + "objects/",
                  envelope({indicator(good, now, now, "valid beside an invalid one"), json::Value(std::move(broken))}),
                  {}, {true, false, {}});
    if (!r) {
      fail("objects.post.invalid-object", r.error().message());
    } else if (r->status == 400 || r->status == 422) {
      pass("objects.post.invalid-object", "the whole envelope was refused with " + std::to_string(r->status));
    } else if (r->status == 202) {
      auto st = json_of(*r);
      if (st) st = wait_for_completion(std::move(*st));
      bool reported = false;
      if (st)
        for (const json::Value& f : list_of(*st, "failures"))
          if (id_of(f) == bad) reported = true;
      const bool counted = st && count_of(*st, "failure_count") >= 1;
      check("objects.post.invalid-object", counted && (reported || !st->find("failures")),
            st ? "the invalid object is not reported as a failure: " + json::to_string(*st).substr(0, 300)
               : "no usable status");
    } else {
      fail("objects.post.invalid-object", "answered " + status_text(*r));
    }
  }
  {
    const std::string now = system_clock().now().to_millis().to_string();
    json::Object bundle;
    bundle.emplace_back("type", "bundle");
    bundle.emplace_back("id", fresh_id("bundle"));
    bundle.emplace_back("objects", json::Array{indicator(fresh_id("indicator"), now, now, "inside a bundle")});
    auto r = call("POST", base + "objects/", json::to_string(json::Value(std::move(bundle))), {}, {true, false, {}});
    if (r)
      check("objects.post.bundle", r->status == 400 || r->status == 422, "a bundle answered " + status_text(*r));
    else
      fail("objects.post.bundle", r.error().message());
    auto nj = call("POST", base + "objects/", "this is not JSON {", {}, {true, false, {}});
    if (nj)
      check("objects.post.not-json", nj->status == 400 || nj->status == 422, "answered " + status_text(*nj));
    else
      fail("objects.post.not-json", nj.error().message());
    const std::string fresh = fresh_id("indicator");
    auto sp = call("POST", base + "objects/", envelope({indicator(fresh, now, now, "spaced Content-Type")}),
                   {{"Content-Type", "application/taxii+json; version=2.1"}}, {true, false, {}});
    if (sp)
      check("objects.post.content-type.spaced", sp->status == 202, "answered " + status_text(*sp));
    else
      fail("objects.post.content-type.spaced", sp.error().message());
    auto fj =
        call("POST", base + "objects/", envelope({indicator(fresh_id("indicator"), now, now, "application/json")}),
             {{"Content-Type", "application/json"}}, {true, false, {}});
    if (!fj)
      fail("objects.post.content-type.foreign", fj.error().message());
    else if (fj->status == 415)
      pass("objects.post.content-type.foreign", "415");
    else if (fj->status == 202)
      pass("objects.post.content-type.foreign", "processed (allowed: SPEC 3.1 lets the server choose)");
    else
      fail("objects.post.content-type.foreign", "answered " + status_text(*fj) + ", neither 415 nor 202");
  }
  if (wanted("objects.post.413")) {
    if (max_content_length_ == 0) {
      skip("objects.post.413", "no max_content_length known");
    } else if (max_content_length_ > (32ULL << 20)) {
      skip("objects.post.413",
           "max_content_length " + std::to_string(max_content_length_) + " is over the 32 MiB this suite sends");
    } else {
      const std::string now = system_clock().now().to_millis().to_string();
      std::string body = envelope({indicator(fresh_id("indicator"), now, now, "oversized")});
      body.insert(
          1, std::string(max_content_length_ + 1 - std::min<std::uint64_t>(body.size(), max_content_length_), ' '));
      auto r = call("POST", base + "objects/", body, {}, {true, false, {}});
      if (r)
        check("objects.post.413", r->status == 413, std::to_string(body.size()) + " bytes answered " + status_text(*r));
      else
        fail("objects.post.413", r.error().message());
    }
  }

  // Deletes: B whole, A's first version.
  {
    auto d = call("DELETE", base + "objects/" + b + "/", {}, {}, {true, false, {}});
    if (!d) {
      fail("object.delete.200", d.error().message());
    } else {
      check("object.delete.200", d->status == 200, "answered " + status_text(*d));
      auto g = call("GET", base + "objects/" + b + "/", {}, {}, {true, false, {}});
      auto m = list(base + "manifest/", {{"match[id]", b}}, "objects");
      check("object.delete.gone", g && g->status == 404 && m.problem.empty() && m.items.empty(),
            g ? "after DELETE: GET answered " + status_text(*g) + ", manifest lists " + std::to_string(m.items.size())
              : g.error().message());
    }
    auto dv =
        call("DELETE", base + "objects/" + a + "/" + query_string({{"match[version]", c}}), {}, {}, {true, false, {}});
    if (!dv) {
      fail("object.delete.version", dv.error().message());
    } else {
      auto v = list(base + "objects/" + a + "/versions/", {}, "versions");
      std::vector<std::string> left;
      for (const json::Value& s : v.items) left.push_back(s.is_string() ? s.as_string() : "?");
      const bool ok = dv->status == 200 && left.size() == 2 &&
                      std::none_of(left.begin(), left.end(), [&](const std::string& s) { return same_version(s, c); });
      check("object.delete.version", ok,
            "DELETE answered " + status_text(*dv) + "; versions left: " + (left.empty() ? "none" : join(left, ", ")));
    }
    auto dn = call("DELETE", base + "objects/" + fresh_id("indicator") + "/", {}, {}, {true, false, {}});
    if (dn)
      check("object.delete.404", dn->status == 404, "answered " + status_text(*dn));
    else
      fail("object.delete.404", dn.error().message());
  }
}

WalkResult Runner::walk(const std::string& url, const Params& params, std::string_view list_key, std::size_t limit,
                        bool use_next, std::size_t max_pages) {
  WalkResult w;
  std::optional<std::string> next;
  Params current = with(params, "limit", std::to_string(limit));
  std::optional<std::string> last_added_after;
  while (true) {
    if (static_cast<std::size_t>(w.pages) >= max_pages) {
      w.problems.push_back("no end after " + std::to_string(max_pages) + " pages");
      return w;
    }
    const Params q = next ? with(current, "next", *next) : current;
    auto l = list(url, q, list_key);
    ++w.pages;
    if (!l.problem.empty()) {
      w.problems.push_back("page " + std::to_string(w.pages) + ": " + l.problem);
      return w;
    }
    if (l.items.size() > limit)
      w.problems.push_back("page " + std::to_string(w.pages) + " has " + std::to_string(l.items.size()) +
                           " items for limit=" + std::to_string(limit));
    w.items.insert(w.items.end(), l.items.begin(), l.items.end());
    if (!more_of(*l.body)) return w;
    next.reset();
    if (use_next) next = next_of(*l.body);
    if (next) continue;
    // No next (or not using it): same query, added_after = X-TAXII-Date-Added-Last (SPEC 3.5).
    w.used_fallback = use_next;
    const std::string* last = l.response->header("X-TAXII-Date-Added-Last");
    if (last == nullptr) {
      w.problems.push_back("page " + std::to_string(w.pages) + ": more:true without next or X-TAXII-Date-Added-Last");
      return w;
    }
    if (last_added_after && *last_added_after == *last) {
      w.problems.push_back("page " + std::to_string(w.pages) + ": X-TAXII-Date-Added-Last did not advance");
      return w;
    }
    last_added_after = *last;
    current = with(current, "added_after", *last);
  }
}

// ---- exactly once -----------------------------------------------------------------------

void Runner::exactly_once() {
  const std::string wid = write_->id;
  const std::size_t n = std::max<std::size_t>(options_.walk_objects, 3);
  const std::size_t m = options_.walk_concurrent_objects;
  const std::size_t page = std::max<std::size_t>(options_.walk_page_size, 1);
  progress("exactly-once walk: posting " + std::to_string(n) + " objects, then walking while posting " +
           std::to_string(m) + " more");
  const std::string now = system_clock().now().to_millis().to_string();
  const std::string sentinel = fresh_id("indicator");
  PostOutcome s = post(wid, {indicator(sentinel, now, now, "exactly-once sentinel")}, false);
  auto sm = list(collection_url(wid) + "manifest/", {{"match[id]", sentinel}}, "objects");
  if (!s.status || !sm.problem.empty() || sm.items.size() != 1) {
    skip_rest({"paging.exactly-once", "paging.added-after.bulk"},
              "the sentinel object could not be posted or found: " + (s.problem.empty() ? sm.problem : s.problem));
    return;
  }
  const std::string start(sm.items[0].find_string("date_added").value_or(""));
  std::vector<std::string> before;
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<json::Value> objects;
    for (std::size_t i = batch; i < n; i += 3) {
      before.push_back(fresh_id("indicator"));
      objects.push_back(indicator(before.back(), now, now, "exactly-once batch " + std::to_string(batch)));
    }
    PostOutcome p = post(wid, objects, false);
    if (!p.status || count_of(*p.status, "success_count") != static_cast<std::int64_t>(objects.size())) {
      skip_rest({"paging.exactly-once", "paging.added-after.bulk"},
                "the walk's objects could not be posted: " + p.problem);
      return;
    }
  }

  // The writer: one object per POST while the walk runs.
  std::atomic<bool> stop{false};
  std::vector<std::string> during;
  std::mutex during_mutex;
  std::string writer_problem;
  std::thread writer([&] {
    for (std::size_t i = 0; i < m && !stop.load(); ++i) {
      const std::string id = fresh_id("indicator");
      auto r = call("POST", collection_url(wid) + "objects/",
                    envelope({indicator(id, now, now, "exactly-once concurrent " + std::to_string(i))}), {},
                    {true, false, {}});
      if (!r || r->status != 202) {
        std::lock_guard<std::mutex> g(during_mutex);
        writer_problem = r ? "a concurrent POST answered " + std::to_string(r->status) : r.error().message();
        return;
      }
      {
        std::lock_guard<std::mutex> g(during_mutex);
        during.push_back(id);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
  });
  const Params q = {{"added_after", start}, {"match[version]", "all"}};
  WalkResult w = walk(collection_url(wid) + "objects/", q, "objects", page, true, 10'000);
  stop = true;
  writer.join();

  // Every object here has one version, so the id is the key.
  std::map<std::string, int> seen;
  for (const json::Value& o : w.items) ++seen[id_of(o)];
  std::vector<std::string> twice, missing;
  for (const auto& [key, count] : seen)
    if (count > 1) twice.push_back(key);
  for (const std::string& id : before)
    if (seen[id] == 0) missing.push_back(id);
  std::size_t during_seen = 0;
  for (const std::string& id : during)
    if (seen.count(id)) ++during_seen;
  if (!w.problems.empty()) {
    fail("paging.exactly-once", join(w.problems, "; "));
  } else {
    std::string detail;
    if (!twice.empty()) detail += std::to_string(twice.size()) + " delivered twice (e.g. " + twice.front() + ")";
    if (!missing.empty())
      detail += (detail.empty() ? "" : "; ") + std::to_string(missing.size()) + " of " + std::to_string(before.size()) +
                " earlier objects never delivered (e.g. " + missing.front() + ")";
    check("paging.exactly-once", twice.empty() && missing.empty(), detail,
          std::to_string(before.size()) + " earlier and " + std::to_string(during_seen) + " of " +
              std::to_string(during.size()) + " concurrent objects in " + std::to_string(w.pages) + " pages" +
              (w.used_fallback ? " (next missing: followed added_after)" : "") +
              (writer_problem.empty() ? "" : "; writer: " + writer_problem));
  }

  // The same ground again by X-TAXII-Date-Added-Last only, now that it is still.
  if (wanted("paging.added-after.bulk")) {
    WalkResult f = walk(collection_url(wid) + "objects/", q, "objects", page, false, 10'000);
    std::map<std::string, int> fseen;
    for (const json::Value& o : f.items) ++fseen[id_of(o)];
    std::size_t lost = 0, repeated = 0;
    for (const std::string& id : before) {
      if (fseen[id] == 0) ++lost;
      if (fseen[id] > 1) ++repeated;
    }
    if (!f.problems.empty())
      fail("paging.added-after.bulk", join(f.problems, "; "));
    else
      check("paging.added-after.bulk", lost == 0 && repeated == 0,
            std::to_string(lost) + " bulk-posted objects lost and " + std::to_string(repeated) +
                " repeated: date_added is shared within a POST, so a page boundary inside it skips objects",
            std::to_string(f.pages) + " pages");
  }
}

// ---- every response -----------------------------------------------------------------------

void Runner::judge_responses() {
  std::lock_guard<std::mutex> g(observed_mutex_);
  auto judge = [&](std::string_view id, std::size_t seen, const std::vector<std::string>& bad,
                   const std::string& what) {
    if (seen == 0) {
      skip(id, "no " + what + " seen");
      return;
    }
    check(id, bad.empty(), join(bad, "; "), std::to_string(seen) + " " + what);
  };
  judge("media-type.success", successes_seen_, bad_success_types_, "successful responses");
  judge("media-type.error", errors_seen_, bad_error_types_, "error responses");
  judge("errors.title", error_bodies_seen_, bad_error_bodies_, "error bodies");
  judge("errors.http-status", error_bodies_seen_, bad_http_status_, "error bodies");
  judge("timestamps.format", timestamps_seen_, bad_timestamps_, "timestamps");
}

Result<ConformanceReport> Runner::run() {
  CTI_TRY_STATUS(check_selection(options_.only));
  CTI_TRY_STATUS(discovery());
  authentication();
  const bool root_ok = api_root();
  if (root_ok) {
    accept_and_http();
    collections();
    const std::string no_read = "no readable collection (the server lists none; name one with --read-collection)";
    if (read_ && read_->can_read) {
      read_checks();
      read_filters();
    } else {
      skip_rest({"manifest.get.200",
                 "manifest.records",
                 "manifest.order",
                 "manifest.headers",
                 "manifest.empty",
                 "objects.get.200",
                 "objects.envelope",
                 "objects.headers",
                 "objects.empty-envelope",
                 "objects.matches",
                 "object.get.404",
                 "versions.404",
                 "status.404",
                 "filter.limit.invalid",
                 "filter.limit.one",
                 "filter.limit.server-cap",
                 "filter.added-after.invalid",
                 "filter.type.stix-type",
                 "filter.repeated",
                 "paging.next.invalid",
                 "paging.read-walk"},
                read_ ? "the read collection reports can_read false" : no_read);
    }
    read_only_collection();
    write_only_collection();
    std::string no_write;
    if (options_.write_collection.empty())
      no_write = "no writable collection given (--collection)";
    else if (!write_)
      no_write = "the collection '" + options_.write_collection + "' was not found";
    else if (!write_->can_write || !write_->can_read)
      no_write = "the collection '" + options_.write_collection + "' does not report can_read and can_write true";
    if (no_write.empty()) {
      writes();
      if (any_wanted({"paging.exactly-once", "paging.added-after.bulk"})) exactly_once();
    }
    if (!no_write.empty()) {
      skip("auth.post", no_write);
      skip_rest({"objects.post", "objects.get", "status.", "manifest.", "filter.", "object.", "versions.", "paging."},
                no_write);
    }
  }
  judge_responses();
  skip_rest({""}, root_ok ? "not reached" : "the API root could not be read");

  report_.rate_limited = rate_limited_;
  for (const Assertion& a : kAssertions) {
    auto it = results_.find(std::string(a.id));
    if (it != results_.end()) report_.results.push_back(it->second);
  }
  return std::move(report_);
}

}  // namespace

// ---- public --------------------------------------------------------------------------------

std::string_view to_string(Level level) {
  switch (level) {
    case Level::must:
      return "MUST";
    case Level::should:
      return "SHOULD";
    case Level::may:
      return "MAY";
  }
  return "?";
}

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::pass:
      return "PASS";
    case Outcome::fail:
      return "FAIL";
    case Outcome::skip:
      return "SKIP";
  }
  return "?";
}

const std::vector<Assertion>& conformance_assertions() { return kAssertions; }

std::size_t ConformanceReport::count(Outcome outcome) const {
  return static_cast<std::size_t>(
      std::count_if(results.begin(), results.end(), [&](const AssertionResult& r) { return r.outcome == outcome; }));
}

std::size_t ConformanceReport::failures(Level level) const {
  return static_cast<std::size_t>(std::count_if(results.begin(), results.end(), [&](const AssertionResult& r) {
    return r.outcome == Outcome::fail && r.assertion->level == level;
  }));
}

Status check_selection(const std::vector<std::string>& only) {
  for (const std::string& p : only) {
    const bool any =
        std::any_of(kAssertions.begin(), kAssertions.end(), [&](const Assertion& a) { return matches(p, a.id); });
    if (!any) return Error(ErrorCategory::usage, "--only " + quote(p) + ": matches no assertion (see --list)");
  }
  return {};
}

Result<ConformanceReport> run_conformance(const Client& client, const ConformanceOptions& options) {
  Runner runner(client, options);
  return runner.run();
}

namespace {

// Control characters from a server never reach a terminal or a log.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
  return out;
}

std::string summary_line(const ConformanceReport& r) {
  return "summary: " + std::to_string(r.count(Outcome::pass)) + " passed, " + std::to_string(r.count(Outcome::fail)) +
         " failed (MUST " + std::to_string(r.failures(Level::must)) + ", SHOULD " +
         std::to_string(r.failures(Level::should)) + ", MAY " + std::to_string(r.failures(Level::may)) + "), " +
         std::to_string(r.count(Outcome::skip)) + " skipped";
}

}  // namespace

std::string format_report_text(const ConformanceReport& report) {
  std::string out;
  for (const AssertionResult& r : report.results) {
    const Assertion& a = *r.assertion;
    out += std::string(to_string(r.outcome)) + " " + std::string(to_string(a.level)) + " " + std::string(a.section) +
           " " + std::string(a.id) + "  " + std::string(a.description) + "\n";
    if (!r.detail.empty() && r.outcome != Outcome::pass) out += "    " + printable(r.detail) + "\n";
  }
  if (report.rate_limited > 0)
    out += "note: the server answered 429 " + std::to_string(report.rate_limited) +
           " times; the suite waited as asked and repeated those requests\n";
  out += summary_line(report) + "\n";
  return out;
}

std::string format_report_json(const ConformanceReport& report, std::string_view version) {
  json::Object o;
  o.emplace_back("tool", "taxii-conform");
  o.emplace_back("tool_version", std::string(version));
  o.emplace_back("discovery_url", report.discovery_url);
  o.emplace_back("api_root", report.api_root);
  o.emplace_back("read_collection", report.read_collection);
  o.emplace_back("write_collection", report.write_collection);
  json::Array results;
  for (const AssertionResult& r : report.results) {
    json::Object e;
    e.emplace_back("id", std::string(r.assertion->id));
    e.emplace_back("level", std::string(to_string(r.assertion->level)));
    e.emplace_back("section", std::string(r.assertion->section));
    e.emplace_back("description", std::string(r.assertion->description));
    e.emplace_back("outcome", std::string(to_string(r.outcome)));
    e.emplace_back("detail", r.detail);
    results.emplace_back(std::move(e));
  }
  o.emplace_back("results", std::move(results));
  json::Object s;
  s.emplace_back("passed", static_cast<std::int64_t>(report.count(Outcome::pass)));
  s.emplace_back("failed", static_cast<std::int64_t>(report.count(Outcome::fail)));
  s.emplace_back("skipped", static_cast<std::int64_t>(report.count(Outcome::skip)));
  s.emplace_back("must_failures", static_cast<std::int64_t>(report.failures(Level::must)));
  s.emplace_back("should_failures", static_cast<std::int64_t>(report.failures(Level::should)));
  s.emplace_back("may_failures", static_cast<std::int64_t>(report.failures(Level::may)));
  s.emplace_back("rate_limited", static_cast<std::int64_t>(report.rate_limited));
  s.emplace_back("conformant", report.conformant());
  o.emplace_back("summary", std::move(s));
  return json::to_string(json::Value(std::move(o)), json::Layout::pretty) + "\n";
}

std::string format_assertion_list() {
  std::string out;
  for (const Assertion& a : kAssertions)
    out += std::string(a.id) + "\t" + std::string(to_string(a.level)) + "\t" + std::string(a.section) + "\t" +
           std::string(a.description) + "\n";
  return out;
}

}  // namespace ctishare::taxii
