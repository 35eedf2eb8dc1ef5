// Where a TAXII server keeps its collections: object versions with their
// date_added, and the status resources of POSTs. The TAXII handler talks
// only to this interface, so SQLite (the embedded default) and PostgreSQL
// can stand behind it without the handler changing.
//
// Time is kept as microseconds since the Unix epoch. Every object version
// added to a collection gets a date_added strictly greater than every
// earlier one in that collection (ties are impossible), so paging on
// date_added never loses or repeats an object.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/result.h"

namespace ctishare::taxii {

using Micros = std::int64_t;  // microseconds since 1970-01-01T00:00:00Z

// One version of one object in one collection.
struct StoredObject {
  std::string id;            // STIX id
  std::string version;       // modified, else created, else "" (what TAXII calls the version)
  std::string spec_version;  // "2.1" when the object does not say
  std::string type;
  Micros date_added = 0;
  std::string json;          // the object, compact, byte for byte as stored
};

// An object version to add; `json` must be one compact STIX object and the
// other fields taken from it (the handler validates before it adds).
struct NewObject {
  std::string id, version, spec_version, type, json;
};

// What happened to one NewObject.
struct AddOutcome {
  enum class Kind {
    added,      // stored; date_added assigned
    duplicate,  // the same version with the same content was already there: a success (TAXII 5.5)
    conflict,   // the same id and version with different content is stored: refused
  };
  Kind kind = Kind::added;
  Micros date_added = 0;  // added / duplicate: the stored date_added
};

// match[version] (TAXII 3.4.1). Default: last. Versions compare by instant
// ("…:00Z" and "…:00.000Z" are the same version, "…:00Z" is older than
// "…:00.5Z"); non-timestamp versions sort after all timestamps, as text.
// With none of all/first/last/exact set nothing is selected (so a faulty
// request can never make remove() delete every version).
struct VersionMatch {
  bool all = false;    // every version (excludes the others)
  bool first = false;  // the oldest version of each object (by version string order of instants)
  bool last = true;    // the newest version of each object
  std::vector<std::string> exact;  // versions named by timestamp
};

// One listing request. Filters AND together; values within one filter OR.
// first/last are judged over the whole collection (the object's current
// first/last version), then added_after and the position cut the result:
// a client syncing with added_after sees each object's newest version once.
struct Query {
  std::string collection;                  // collection id
  std::optional<Micros> added_after;       // date_added strictly after
  std::optional<Micros> position;          // from a next token: date_added strictly after
  std::vector<std::string> ids;            // match[id]
  std::vector<std::string> types;          // match[type]
  std::vector<std::string> spec_versions;  // match[spec_version]; empty: each object's latest spec_version only
                                           // (latest by text order: "2.1" > "2.0")
  VersionMatch versions;
  std::size_t limit = 100;                 // > 0; the page holds at most this many
  // What the page carries of each object. A store may always give more
  // (every field), so readers of `envelope` pages take Page::joined_json
  // when it is set and each object's json otherwise.
  enum class Content {
    full,      // every field of StoredObject
    metadata,  // every field but json (manifest, versions)
    envelope,  // date_added only; the objects' json, joined by ',', in Page::joined_json
  };
  Content content = Content::full;
};

struct Page {
  std::vector<StoredObject> objects;  // ascending date_added
  bool more = false;                  // further matching objects exist after the last one
  // Query::Content::envelope: the objects' json in page order, separated by
  // ',' (the body of an envelope's "objects" list, copied once); "" otherwise.
  std::string joined_json;
};

// A POST's status resource (TAXII 4.3).
struct StatusDetail {
  std::string id, version, message;
};
struct StatusRecord {
  std::string id;              // UUID of the status resource
  std::string api_root;        // path of the API root it belongs to
  std::string user;            // who posted (only they may read it)
  bool complete = true;
  Micros request_timestamp = 0;
  std::uint64_t total = 0, success = 0, failure = 0, pending = 0;
  std::vector<StatusDetail> successes, failures, pendings;
};

class Store {
 public:
  virtual ~Store() = default;

  // Adds the versions to `collection` in one transaction, durable (synced)
  // before it returns, in the given order; one outcome per object, in order.
  // A version is identified by (id, version instant). Errors: io / internal
  // on storage failure (then nothing of this call is stored).
  virtual Result<std::vector<AddOutcome>> add(std::string_view collection, const std::vector<NewObject>& objects) = 0;

  // The page of `query`. Errors: storage failures.
  virtual Result<Page> query(const Query& query) = 0;

  // Deletes the versions of `id` in `collection` that `versions` and
  // `spec_versions` select (same rules as Query); returns how many went.
  virtual Result<std::uint64_t> remove(std::string_view collection, std::string_view id, const VersionMatch& versions,
                                       const std::vector<std::string>& spec_versions) = 0;

  // add() and then put_status() of the status `make_status` builds from the
  // outcomes, in one transaction where the backend has them (one commit,
  // one sync; a crash can never leave the objects without their status).
  // Errors as add() and put_status(); on error neither is stored.
  virtual Result<std::vector<AddOutcome>> add_with_status(
      std::string_view collection, const std::vector<NewObject>& objects,
      const std::function<StatusRecord(const std::vector<AddOutcome>&)>& make_status) {
    auto outcomes = add(collection, objects);
    if (!outcomes) return outcomes;
    if (auto saved = put_status(make_status(*outcomes)); !saved) return std::move(saved).error();
    return outcomes;
  }

  // Status resources: saved durably; read back by id; those completed
  // before `cutoff` may be dropped.
  virtual Status put_status(const StatusRecord& status) = 0;
  virtual Result<std::optional<StatusRecord>> get_status(std::string_view id) = 0;
  virtual Status expire_statuses(Micros cutoff) = 0;
};

// The SQLite store: one file (created with its schema on first use, mode
// 0600), WAL journal, synchronous=FULL. `path` ":memory:" is for tests.
// Errors: cannot_create (73) when the file cannot be created or opened,
// data (65) when it is not a ctishare store (or one of a newer schema).
// Later failures: io (74) with SQLite's message, temp_fail (75) when another
// process holds the database lock past the busy timeout.
//
// Thread safety: a store is one SQLite connection guarded by a mutex inside
// it, so any number of threads may call one store; calls run one at a time.
// Other processes may open the same file (WAL; writers wait up to 5 s).
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);
// The same with the clock that stamps date_added (tests fix time with it).
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, std::function<Micros()> now_micros);

}  // namespace ctishare::taxii
