// taxii-pull's engine: paging with next / added_after, cursors, the journal
// that makes a delivery exactly once, and the outputs.
#include "ctishare/taxii/pull.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "core/digest.h"
#include "ctishare/file.h"
#include "ctishare/object.h"

namespace ctishare::taxii {
namespace {

std::string hex(const std::array<std::uint8_t, 32>& d) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (auto b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string join_encoded(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ',';
    out += encode_query_value(v);
  }
  return out;
}

void add_param(std::string& query, std::string_view name, const std::string& value) {
  if (!query.empty()) query += '&';
  query += name;
  query += '=';
  query += value;
}

Error protocol(const std::string& url, const std::string& what) {
  return Error(ErrorCategory::protocol, quote(url) + ": " + what);
}

// The version key of a STIX object in an envelope: modified, else created,
// else "" (SCOs).
std::string version_of(const json::Value& object) {
  if (auto m = object.find_string("modified")) return std::string(*m);
  if (auto c = object.find_string("created")) return std::string(*c);
  return {};
}

std::string key_of(std::string_view id, std::string_view version) {
  std::string k(id);
  k += '|';
  k += version;
  return k;
}

// Renders the objects as the chosen framing; the bundle id follows the content.
Result<std::string> render(const std::vector<std::string>& objects,
                           const std::vector<std::pair<std::string, std::string>>& versions,
                           stix::OutputFraming framing) {
  StringSink sink;
  std::string bundle_id;
  if (framing == stix::OutputFraming::bundle) {
    stix::BundleIdDigest digest;
    for (const auto& [id, version] : versions) digest.add(id, version);
    bundle_id = digest.finish();
  }
  stix::BundleWriter writer(sink, framing, json::Layout::compact, bundle_id);
  for (const auto& o : objects) CTI_TRY_STATUS(writer.add_serialized(o));
  CTI_TRY_STATUS(writer.finish());
  return sink.text();
}

std::string partner_file_name(const std::string& partner) { return partner; }

}  // namespace

// ---- Filters and cursors ---------------------------------------------------------

std::string PullFilters::match_query() const {
  std::string q;
  if (!types.empty()) add_param(q, "match[type]", join_encoded(types));
  if (!ids.empty()) add_param(q, "match[id]", join_encoded(ids));
  if (!versions.empty()) add_param(q, "match[version]", join_encoded(versions));
  if (!spec_versions.empty()) add_param(q, "match[spec_version]", join_encoded(spec_versions));
  return q;
}

std::string CursorStore::cursor_path(const std::string& partner, const std::string& api_root,
                                     const std::string& collection_id, const PullFilters& filters) const {
  const std::string what = api_root + "\n" + collection_id + "\n" + filters.match_query();
  return partner_dir(partner) + "/" + hex(detail::sha256(what)).substr(0, 24) + ".cursor";
}

Result<std::optional<Cursor>> CursorStore::load(const std::string& path) const {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<Cursor>{};
    return Error(ErrorCategory::io, quote(path) + ": cannot read cursor: " + std::strerror(errno));
  }
  auto text = read_file(path);
  if (!text) return Error(ErrorCategory::io, text.error().message());
  const auto bad = [&](const std::string& what) {
    return Error(ErrorCategory::data, quote(path) + ": not a taxii-pull cursor (" + what +
                                          "); remove it or run with --reset-cursor to start over");
  };
  auto doc = json::parse(*text);
  if (!doc || !doc->is_object()) return bad("not a JSON object");
  Cursor c;
  auto after = doc->find_string("added_after");
  if (!after) return bad("no added_after");
  c.added_after = std::string(*after);
  if (!c.added_after.empty() && !Timestamp::parse(c.added_after)) return bad("added_after is not a timestamp");
  if (const json::Value* b = doc->find("boundary")) {
    if (!b->is_array()) return bad("boundary is not a list");
    for (const auto& k : b->as_array()) {
      if (!k.is_string()) return bad("boundary holds a non-string");
      c.boundary.push_back(k.as_string());
    }
  }
  return std::optional<Cursor>(std::move(c));
}

namespace {

std::string render_cursor(const Cursor& cursor, const std::string& api_root, const std::string& collection_id,
                          const PullFilters& filters, const Timestamp& now) {
  json::Array boundary;
  for (const auto& k : cursor.boundary) boundary.emplace_back(k);
  json::Object o;
  o.emplace_back("api_root", api_root);
  o.emplace_back("collection", collection_id);
  o.emplace_back("filters", filters.match_query());
  o.emplace_back("added_after", cursor.added_after);
  o.emplace_back("boundary", std::move(boundary));
  o.emplace_back("updated", now.to_string());
  return json::to_string(json::Value(std::move(o)), json::Layout::pretty) + "\n";
}

}  // namespace

Status CursorStore::save(const std::string& path, const Cursor& cursor, const std::string& api_root,
                         const std::string& collection_id, const PullFilters& filters, const Timestamp& now) const {
  CTI_TRY_STATUS(make_directories(path.substr(0, path.rfind('/'))));
  auto written = write_file_atomically(path, render_cursor(cursor, api_root, collection_id, filters, now));
  if (!written) return std::move(written).error();
  return {};
}

Status CursorStore::reset(const std::string& partner) const {
  std::error_code ec;
  const std::string dir = partner_dir(partner);
  if (!std::filesystem::exists(dir, ec)) return {};
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 7 && (name.ends_with(".cursor") || name == "pending.json"))
      if (::unlink(entry.path().c_str()) != 0)
        return Error(ErrorCategory::io, quote(entry.path().string()) + ": cannot remove: " + std::strerror(errno));
  }
  if (ec) return Error(ErrorCategory::io, quote(dir) + ": cannot list: " + ec.message());
  return {};
}

// ---- Pulling ---------------------------------------------------------------------

Result<CollectionPull> pull_collection(const Client& client, const CollectionInfo& collection,
                                       const std::optional<Cursor>& from, const PullSettings& settings,
                                       std::unordered_set<std::string>& seen) {
  CollectionPull out;
  out.collection = collection;
  const std::string label = collection.alias.empty() ? collection.id : collection.alias;
  if (!collection.can_read)
    return Error(ErrorCategory::permission, quote(client.settings().base_url) + ": collection " + quote(label) +
                                                " does not let us read (can_read is false)");
  auto base = client.resolve("collections/" + encode_query_value(collection.id) + "/objects/");
  if (!base) return std::move(base).error();
  const std::string objects_url = to_string(*base);

  const PullFilters& f = settings.filters;
  std::string added_after = !f.added_after.empty() ? f.added_after : (from ? from->added_after : std::string());
  out.cursor.added_after = added_after;
  std::unordered_set<std::string> boundary;
  if (from && f.added_after.empty()) {
    boundary.insert(from->boundary.begin(), from->boundary.end());
    out.cursor.boundary = from->boundary;
  }
  std::optional<Timestamp> cursor_time;
  if (!added_after.empty()) {
    auto t = Timestamp::parse(added_after);
    if (!t) return Error(ErrorCategory::usage, quote(added_after) + ": added_after is not a timestamp");
    cursor_time = *t;
  }

  json::Limits page_limits = settings.limits;
  page_limits.max_document_bytes = 0;  // the client's max_response_bytes bounds a page
  page_limits.max_members = std::max<std::size_t>(page_limits.max_members, 1'000'000);
  std::string next;
  std::size_t empty_pages = 0;
  for (;;) {
    std::string query = f.match_query();
    if (!added_after.empty()) add_param(query, "added_after", encode_query_value(added_after));
    if (f.limit > 0) add_param(query, "limit", std::to_string(f.limit));
    if (!next.empty()) add_param(query, "next", encode_query_value(next));
    const std::string url = query.empty() ? objects_url : objects_url + "?" + query;
    auto r = request_same_origin(client, "GET", url);
    if (!r) return std::move(r).error();
    if (r->status != 200) return http_error(*r, "GET");
    auto body = taxii_json(*r, page_limits);
    if (!body) return std::move(body).error();
    ++out.pages;

    bool more = false;
    if (const json::Value* m = body->find("more")) {
      if (!m->is_bool()) return protocol(r->url, "'more' is not true or false");
      more = m->as_bool();
    }
    std::string page_next;
    if (const json::Value* n = body->find("next")) {
      if (n->is_string()) {
        page_next = n->as_string();
      } else if (n->is_number() && n->as_int64()) {
        page_next = std::to_string(*n->as_int64());
      } else if (!n->is_null()) {
        return protocol(r->url, "'next' is not a string");
      }
    }
    std::vector<std::string> page_keys;
    if (json::Value* list = body->find("objects")) {
      if (!list->is_array()) return protocol(r->url, "'objects' is not a list");
      for (auto& object : list->as_array()) {
        auto id = object.is_object() ? object.find_string("id") : std::nullopt;
        if (!id || !object.find_string("type")) return protocol(r->url, "an object without a string id and type");
        std::string version = version_of(object);
        std::string key = key_of(*id, version);
        page_keys.push_back(key);
        ++out.received;
        if (boundary.count(key) != 0 || !seen.insert(key).second) {
          ++out.duplicates;
          continue;
        }
        out.versions.emplace_back(std::string(*id), std::move(version));
        out.objects.push_back(json::to_string(object));
      }
    }

    const std::string* last = r->header("X-TAXII-Date-Added-Last");
    std::optional<Timestamp> last_time;
    if (last != nullptr && !last->empty()) {
      auto t = Timestamp::parse(*last);
      if (!t) return protocol(r->url, "X-TAXII-Date-Added-Last " + quote(last->substr(0, 64)) + " is not a timestamp");
      last_time = *t;
    }
    if (!page_keys.empty()) {
      if (!last_time)
        return protocol(r->url, "objects came without X-TAXII-Date-Added-Last, so no cursor can be kept");
      // The cursor only moves forward, even past a server that ignores added_after.
      if (!cursor_time || *cursor_time < *last_time) {
        cursor_time = *last_time;
        out.cursor.added_after = *last;
      }
      out.cursor.boundary = page_keys;
      empty_pages = 0;
    } else if (++empty_pages > settings.max_empty_pages) {
      return protocol(r->url, std::to_string(empty_pages) + " empty pages in a row while the server says more");
    }
    if (settings.progress)
      settings.progress(label + ": page " + std::to_string(out.pages) + ": " + std::to_string(page_keys.size()) +
                        " object(s), " + std::to_string(out.objects.size()) + " new so far");
    if (!more) break;
    if (!page_next.empty()) {
      if (page_next == next) return protocol(r->url, "the server sent the same next token again; stopping rather than looping");
      next = std::move(page_next);
      continue;
    }
    // No next: the same query with added_after = X-TAXII-Date-Added-Last (TAXII 3.5).
    if (!last_time) return protocol(r->url, "more is true but there is neither next nor X-TAXII-Date-Added-Last");
    if (!added_after.empty()) {
      auto previous = Timestamp::parse(added_after);
      if (previous && *last_time <= *previous)
        return protocol(r->url, "the cursor does not advance (X-TAXII-Date-Added-Last " + quote(*last) +
                                    " is not after added_after " + quote(added_after) + "); stopping rather than looping");
    }
    added_after = *last;
    next.clear();
  }
  return out;
}

std::size_t PartnerPull::new_objects() const {
  std::size_t n = 0;
  for (const auto& c : collections) n += c.objects.size();
  return n;
}

Result<PartnerPull> pull_partner(const Client& client, const Endpoint& endpoint, const CursorStore& cursors,
                                 const PullSettings& settings) {
  PartnerPull out;
  out.partner = endpoint.name;
  out.api_root = endpoint.api_root;
  if (endpoint.collections.empty())
    return Error(ErrorCategory::config, "partner " + quote(endpoint.name) + ": no collections to pull");
  auto offered = list_collections(client);
  if (!offered) return std::move(offered).error();
  std::unordered_set<std::string> seen;
  for (const auto& name : endpoint.collections) {
    auto collection = find_collection(*offered, name, endpoint.name);
    if (!collection) return std::move(collection).error();
    const std::string path = cursors.cursor_path(endpoint.name, endpoint.api_root, collection->id, settings.filters);
    auto from = cursors.load(path);
    if (!from) return std::move(from).error();
    auto pulled = pull_collection(client, *collection, *from, settings, seen);
    if (!pulled) return std::move(pulled).error();
    pulled->cursor_path = path;
    out.collections.push_back(std::move(*pulled));
  }
  out.filters = settings.filters;
  return out;
}

// ---- Delivery --------------------------------------------------------------------

std::string partner_output_path(const std::string& dir, const std::string& partner, stix::OutputFraming framing) {
  return dir + "/" + partner_file_name(partner) + (framing == stix::OutputFraming::ndjson ? ".ndjson" : ".json");
}

namespace {

std::string journal_path(const CursorStore& cursors, const std::string& partner) {
  return cursors.partner_dir(partner) + "/pending.json";
}

// The journal of one partner: the output, its digest, and every cursor to write.
Status write_journal(const CursorStore& cursors, const PartnerPull& pull, const std::string& output,
                     const std::string& digest, const Timestamp& now) {
  json::Array list;
  for (const auto& c : pull.collections) {
    json::Object entry;
    entry.emplace_back("path", c.cursor_path);
    entry.emplace_back("text", render_cursor(c.cursor, pull.api_root, c.collection.id, pull.filters, now));
    list.emplace_back(std::move(entry));
  }
  json::Object j;
  j.emplace_back("output", output);
  j.emplace_back("sha256", digest);
  j.emplace_back("cursors", std::move(list));
  CTI_TRY_STATUS(make_directories(cursors.partner_dir(pull.partner)));
  auto written = write_file_atomically(journal_path(cursors, pull.partner), json::to_string(json::Value(std::move(j))));
  if (!written) return std::move(written).error();
  return {};
}

Status remove_journal(const CursorStore& cursors, const std::string& partner) {
  const std::string path = journal_path(cursors, partner);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Error(ErrorCategory::io, quote(path) + ": cannot remove: " + std::strerror(errno));
  return {};
}

Status save_cursors(const CursorStore& cursors, const PartnerPull& pull, const Timestamp& now) {
  for (const auto& c : pull.collections)
    CTI_TRY_STATUS(cursors.save(c.cursor_path, c.cursor, pull.api_root, c.collection.id, pull.filters, now));
  return {};
}

// The objects of a file an earlier pull wrote and nobody has taken yet.
struct Existing {
  std::vector<std::string> objects;
  std::vector<std::pair<std::string, std::string>> versions;
  std::unordered_set<std::string> keys;
};

Result<Existing> read_existing(const std::string& path) {
  Existing out;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return out;
  auto in = open_input(path);
  if (!in) return std::move(in).error();
  stix::ReadOptions options;
  CTI_TRY_STATUS(stix::read_objects(**in, options, [&](stix::Object&& o, const stix::Origin&) -> Status {
    std::string key = key_of(o.id(), o.version());
    if (!out.keys.insert(key).second) return {};
    out.versions.emplace_back(std::string(o.id()), std::string(o.version()));
    out.objects.push_back(o.to_string());
    return {};
  }));
  return out;
}

// Writes `content` to `path` between the journal and the cursors of `pulls`.
Result<bool> commit_file(const std::vector<PartnerPull*>& pulls, const CursorStore& cursors, const std::string& path,
                         const std::string& content, const Timestamp& now) {
  const std::string digest = hex(detail::sha256(content));
  for (const PartnerPull* p : pulls) CTI_TRY_STATUS(write_journal(cursors, *p, path, digest, now));
  auto changed = write_file_atomically(path, content);
  if (!changed) return std::move(changed).error();  // the journal stays; the next run drops it
  for (const PartnerPull* p : pulls) {
    CTI_TRY_STATUS(save_cursors(cursors, *p, now));
    CTI_TRY_STATUS(remove_journal(cursors, p->partner));
  }
  return *changed;
}

}  // namespace

Result<bool> recover_journal(const CursorStore& cursors, const std::string& partner) {
  const std::string path = journal_path(cursors, partner);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  auto text = read_file(path);
  if (!text) return std::move(text).error();
  auto doc = json::parse(*text);
  const json::Value* list = doc && doc->is_object() ? doc->find("cursors") : nullptr;
  auto output = doc && doc->is_object() ? doc->find_string("output") : std::nullopt;
  auto digest = doc && doc->is_object() ? doc->find_string("sha256") : std::nullopt;
  if (list == nullptr || !list->is_array() || !output || !digest)
    return Error(ErrorCategory::data, quote(path) + ": not a taxii-pull journal; remove it (the next pull may repeat objects)");
  bool committed = false;
  auto content = read_file(std::string(*output));
  if (content && hex(detail::sha256(*content)) == *digest) {
    // The output was written: the cursors it describes are due.
    for (const auto& e : list->as_array()) {
      auto p = e.is_object() ? e.find_string("path") : std::nullopt;
      auto t = e.is_object() ? e.find_string("text") : std::nullopt;
      if (!p || !t) return Error(ErrorCategory::data, quote(path) + ": a journal entry without path and text");
      auto written = write_file_atomically(std::string(*p), *t);
      if (!written) return std::move(written).error();
    }
    committed = true;
  }
  CTI_TRY_STATUS(remove_journal(cursors, partner));
  return committed;
}

Result<std::vector<Delivered>> deliver(std::vector<PartnerPull>& pulls, const CursorStore& cursors,
                                       const DeliveryOptions& options, const Timestamp& now) {
  std::vector<Delivered> out;
  if (!options.output_dir.empty()) {
    for (auto& pull : pulls) {
      const std::string path = partner_output_path(options.output_dir, pull.partner, options.framing);
      auto existing = read_existing(path);
      if (!existing) return std::move(existing).error();
      Delivered d{pull.partner, path, 0, false};
      for (auto& c : pull.collections) {
        for (std::size_t i = 0; i < c.objects.size(); ++i) {
          if (!existing->keys.insert(key_of(c.versions[i].first, c.versions[i].second)).second) continue;
          existing->objects.push_back(std::move(c.objects[i]));
          existing->versions.push_back(c.versions[i]);
          ++d.objects;
        }
      }
      auto content = render(existing->objects, existing->versions, options.framing);
      if (!content) return std::move(content).error();
      auto changed = commit_file({&pull}, cursors, path, *content, now);
      if (!changed) return std::move(changed).error();
      d.changed = *changed;
      out.push_back(std::move(d));
    }
    return out;
  }

  std::vector<std::string> objects;
  std::vector<std::pair<std::string, std::string>> versions;
  std::unordered_set<std::string> keys;
  std::vector<PartnerPull*> all;
  for (auto& pull : pulls) {
    all.push_back(&pull);
    Delivered d{pull.partner, options.output, 0, false};
    for (auto& c : pull.collections) {
      for (std::size_t i = 0; i < c.objects.size(); ++i) {
        if (!keys.insert(key_of(c.versions[i].first, c.versions[i].second)).second) continue;
        objects.push_back(std::move(c.objects[i]));
        versions.push_back(c.versions[i]);
        ++d.objects;
      }
    }
    out.push_back(std::move(d));
  }
  if (options.output == "-") {
    // Nothing new writes nothing to standard output.
    if (!objects.empty()) {
      auto content = render(objects, versions, options.framing);
      if (!content) return std::move(content).error();
      FdSink out_sink(STDOUT_FILENO, "<stdout>");
      CTI_TRY_STATUS(out_sink.write(*content));
      for (auto& d : out) d.changed = true;
    }
    for (auto& pull : pulls) CTI_TRY_STATUS(save_cursors(cursors, pull, now));
    return out;
  }
  auto content = render(objects, versions, options.framing);
  if (!content) return std::move(content).error();
  auto changed = commit_file(all, cursors, options.output, *content, now);
  if (!changed) return std::move(changed).error();
  for (auto& d : out) d.changed = *changed;
  return out;
}

}  // namespace ctishare::taxii
