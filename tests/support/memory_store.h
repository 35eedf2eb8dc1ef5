// An in-memory taxii::Store for tests of the TAXII handler. It follows the
// semantics documented in ctishare/taxii/store.h, in this order for a query:
//   1. the collection's versions narrowed by match[id] and match[type];
//   2. match[spec_version]: the listed spec versions, or when none are
//      listed each object's latest spec version (text order) only;
//   3. match[version]: all, or per object its first / last version (by the
//      instant of the version string) and the exact versions named — judged
//      over what steps 1-2 left, i.e. the whole collection, not the page;
//   4. added_after and the paging position (date_added strictly after);
//   5. ascending date_added, cut at limit; more when anything is left.
// date_added comes from a counter that starts at `start` and grows by one
// microsecond per version, so it is strictly increasing as the header
// demands. `fail` makes every call an io error (for the handler's 503 path).
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ctishare/taxii/store.h"
#include "ctishare/time.h"

namespace ctishare::taxii::testing {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(Micros start = 1'767'225'600'000'000) : next_(start) {}  // 2026-01-01T00:00:00Z

  bool fail = false;

  Result<std::vector<AddOutcome>> add(std::string_view collection, const std::vector<NewObject>& objects) override {
    if (fail) return io_error();
    auto& rows = collections_[std::string(collection)];
    std::vector<AddOutcome> out;
    for (const NewObject& o : objects) {
      auto same = std::find_if(rows.begin(), rows.end(), [&](const StoredObject& s) {
        return s.id == o.id && same_version(s.version, o.version);
      });
      if (same != rows.end()) {
        out.push_back({same->json == o.json ? AddOutcome::Kind::duplicate : AddOutcome::Kind::conflict,
                       same->json == o.json ? same->date_added : 0});
        continue;
      }
      StoredObject s{o.id, o.version, o.spec_version.empty() ? "2.1" : o.spec_version, o.type, next_++, o.json};
      out.push_back({AddOutcome::Kind::added, s.date_added});
      rows.push_back(std::move(s));
    }
    return out;
  }

  Result<Page> query(const Query& q) override {
    if (fail) return io_error();
    std::vector<StoredObject> selected = select(q.collection, q.ids, q.types, q.spec_versions, q.versions);
    std::erase_if(selected, [&](const StoredObject& s) {
      return (q.added_after && s.date_added <= *q.added_after) || (q.position && s.date_added <= *q.position);
    });
    std::sort(selected.begin(), selected.end(),
              [](const StoredObject& a, const StoredObject& b) { return a.date_added < b.date_added; });
    Page page;
    page.more = selected.size() > q.limit;
    if (page.more) selected.resize(q.limit);
    page.objects = std::move(selected);
    return page;
  }

  Result<std::uint64_t> remove(std::string_view collection, std::string_view id, const VersionMatch& versions,
                               const std::vector<std::string>& spec_versions) override {
    if (fail) return io_error();
    const auto doomed = select(std::string(collection), {std::string(id)}, {}, spec_versions, versions);
    auto& rows = collections_[std::string(collection)];
    const auto before = rows.size();
    std::erase_if(rows, [&](const StoredObject& s) {
      return std::any_of(doomed.begin(), doomed.end(),
                         [&](const StoredObject& d) { return d.id == s.id && d.version == s.version; });
    });
    return static_cast<std::uint64_t>(before - rows.size());
  }

  Status put_status(const StatusRecord& status) override {
    if (fail) return io_error();
    statuses_[status.id] = status;
    return {};
  }
  Result<std::optional<StatusRecord>> get_status(std::string_view id) override {
    if (fail) return io_error();
    auto it = statuses_.find(std::string(id));
    if (it == statuses_.end()) return std::optional<StatusRecord>();
    return std::optional<StatusRecord>(it->second);
  }
  Status expire_statuses(Micros cutoff) override {
    if (fail) return io_error();
    std::erase_if(statuses_,
                  [&](const auto& kv) { return kv.second.complete && kv.second.request_timestamp < cutoff; });
    return {};
  }

  std::size_t size(const std::string& collection) const {
    auto it = collections_.find(collection);
    return it == collections_.end() ? 0 : it->second.size();
  }
  std::size_t status_count() const { return statuses_.size(); }

 private:
  static Error io_error() { return Error(ErrorCategory::io, "memory store: injected failure"); }

  // Orders two version strings by instant, as store.h says: timestamps by
  // instant, anything else ("" for SCOs) after all timestamps, as text.
  static bool version_before(const std::string& a, const std::string& b) {
    auto ta = Timestamp::parse(a), tb = Timestamp::parse(b);
    if (ta && tb) return *ta < *tb;
    if (ta.has_value() != tb.has_value()) return ta.has_value();
    return a < b;
  }
  // A version is identified by its instant ("…:00Z" is "…:00.000Z").
  static bool same_version(const std::string& a, const std::string& b) {
    auto ta = Timestamp::parse(a), tb = Timestamp::parse(b);
    return ta && tb ? *ta == *tb : a == b;
  }

  std::vector<StoredObject> select(const std::string& collection, const std::vector<std::string>& ids,
                                   const std::vector<std::string>& types, const std::vector<std::string>& spec_versions,
                                   const VersionMatch& versions) const {
    std::vector<StoredObject> rows;
    auto it = collections_.find(collection);
    if (it == collections_.end()) return rows;
    auto listed = [](const std::vector<std::string>& list, const std::string& v) {
      return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
    };
    for (const StoredObject& s : it->second)
      if (listed(ids, s.id) && listed(types, s.type) &&
          (spec_versions.empty() || listed(spec_versions, s.spec_version)))
        rows.push_back(s);
    if (spec_versions.empty()) {
      std::map<std::string, std::string> latest;
      for (const StoredObject& s : rows) {
        auto [pos, fresh] = latest.emplace(s.id, s.spec_version);
        if (!fresh && pos->second < s.spec_version) pos->second = s.spec_version;  // text order, as store.h says
      }
      std::erase_if(rows, [&](const StoredObject& s) { return s.spec_version != latest[s.id]; });
    }
    if (versions.all) return rows;
    std::map<std::string, std::pair<std::string, std::string>> bounds;  // id -> (first, last)
    for (const StoredObject& s : rows) {
      auto [pos, fresh] = bounds.emplace(s.id, std::make_pair(s.version, s.version));
      if (fresh) continue;
      if (version_before(s.version, pos->second.first)) pos->second.first = s.version;
      if (version_before(pos->second.second, s.version)) pos->second.second = s.version;
    }
    std::erase_if(rows, [&](const StoredObject& s) {
      const auto& b = bounds[s.id];
      if (versions.first && same_version(s.version, b.first)) return false;
      if (versions.last && same_version(s.version, b.second)) return false;
      return std::none_of(versions.exact.begin(), versions.exact.end(),
                          [&](const std::string& e) { return same_version(e, s.version); });
    });
    return rows;
  }

  Micros next_;
  std::map<std::string, std::vector<StoredObject>> collections_;
  std::map<std::string, StatusRecord> statuses_;
};

}  // namespace ctishare::taxii::testing
