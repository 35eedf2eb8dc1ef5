// taxii-pull's engine: fetch what a partner's collections gained since the
// last successful run, exactly once.
//
// Paging (TAXII 3.5): a run sends the same query again with `next` while
// the server says `more` and gives one; only when `next` is absent does it
// re-query with added_after = X-TAXII-Date-Added-Last of the page, echoed
// byte for byte. A `next` that repeats on a page that brought nothing new
// (a server may keep one token for a whole walk), or a date that does not move past
// the previous added_after, stops the run with a protocol error instead of
// looping. Objects are keyed by (id, version): anything that comes twice
// (an inclusive added_after, a page boundary inside a run of equal
// date_added, two collections holding one object) is delivered once.
//
// Cursors: one small JSON file per (partner, API root, collection, filter
// set) under <state>/pull/<partner>/ holding the last X-TAXII-Date-Added-Last
// and the keys of the last page (so a server that repeats the boundary
// object does not deliver it again next run). A cursor is written
// atomically and only after the output holding its objects is durably
// written. Between the two steps a journal (<state>/pull/<partner>/pending.json)
// names the output and its bytes (the head of the file, which holds the
// bundle id, and the SHA-256 of the rest): a run that finds the
// journal commits its cursors when the output holds exactly those bytes
// (the crash came after the output) and drops it otherwise (the crash came
// before, so the objects are fetched again). A run killed at any point thus
// neither loses nor repeats an object in file outputs — unless a consumer
// takes an --output-dir file away between the kill and the next run, which
// then cannot tell it was written and fetches its objects once more.
// Standard output cannot be taken back: the cursor follows right after the
// flush, and a kill between the two repeats that run's objects once.
//
// Objects are not kept in memory: each page's new ones go to the output's
// temporary file as the page arrives (see Delivery).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "ctishare/bundle.h"
#include "ctishare/json.h"
#include "ctishare/result.h"
#include "ctishare/taxii/exchange.h"
#include "ctishare/time.h"

namespace ctishare::taxii {

// The filters of a pull (TAXII 3.4); each list is ORed within, ANDed across.
struct PullFilters {
  std::vector<std::string> types, ids, versions, spec_versions;
  std::string added_after;  // explicit start: overrides the cursor for this run
  int limit = 0;            // page size to ask for; 0: the server's default
  // The match[...] part of the query ("match[type]=indicator&..."), each
  // list sorted and without repeats, so it names the filter set a cursor
  // belongs to whatever order the values came in. Empty without filters.
  std::string match_query() const;
};

// Where a pull of one collection stands.
struct Cursor {
  std::string added_after;            // the last X-TAXII-Date-Added-Last, as the server wrote it
  std::vector<std::string> boundary;  // "id|version" of the objects of the last non-empty page
};

// The cursor files of one state directory.
class CursorStore {
 public:
  explicit CursorStore(std::string state_dir) : dir_(std::move(state_dir) + "/pull") {}
  // The directory of one partner's cursors and journal.
  std::string partner_dir(const std::string& partner) const { return dir_ + "/" + partner; }
  // The cursor file of a (partner, API root, collection, filters).
  std::string cursor_path(const std::string& partner, const std::string& api_root, const std::string& collection_id,
                          const PullFilters& filters) const;
  // nullopt when there is none. Errors: data (65) for a file that is not a
  // cursor (naming it and suggesting --reset-cursor), io (74).
  Result<std::optional<Cursor>> load(const std::string& path) const;
  // Atomically; also records what the cursor is for, for people reading it.
  Status save(const std::string& path, const Cursor& cursor, const std::string& api_root,
              const std::string& collection_id, const PullFilters& filters, const Timestamp& now) const;
  // Removes every cursor (and journal) of a partner: its next pull starts over.
  Status reset(const std::string& partner) const;
  // The text save() writes.
  static std::string render(const Cursor& cursor, const std::string& api_root, const std::string& collection_id,
                            const PullFilters& filters, const Timestamp& now);

 private:
  std::string dir_;
};

// What dedup goes by: an object's id and version ("modified", else
// "created", else empty).
struct ObjectKey {
  std::string_view id, version;
  bool operator==(const ObjectKey&) const = default;
};
struct ObjectKeyHash {
  // Not noexcept on purpose: libstdc++ then keeps each key's hash in the
  // set, so growing it and walking a bucket do not hash the strings again.
  std::size_t operator()(const ObjectKey& key) const;
};
// A set of keys; views of bytes that must outlive the set.
using ObjectKeys = std::unordered_set<ObjectKey, ObjectKeyHash>;

// One object a pull brought: its compact JSON (one line) and its key.
struct PulledObject {
  std::string_view json, id, version;
};

// What a pull of one collection brought: the keys of its new objects. A
// pull from a server wrote the objects to its Delivery as they came; a pull
// built by hand (add()) holds them in `objects`, views of `storage`, for
// deliver().
struct CollectionPull {
  CollectionInfo collection;
  std::vector<ObjectKey> keys;        // new objects, in server order; views of the Delivery's (or `storage`)
  std::vector<PulledObject> objects;  // built by hand only
  Cursor cursor;                      // where the next run starts
  std::string cursor_path;
  std::size_t pages = 0, received = 0, duplicates = 0;
  std::vector<std::shared_ptr<const void>> storage;  // what `objects` point into

  // Adds an object held in strings of its own (a pull built by hand).
  void add(std::string json, std::string id, std::string version);
  // (id, version) of every new object, in order.
  std::vector<std::pair<std::string_view, std::string_view>> versions() const;
};

// How pulled objects are delivered.
struct DeliveryOptions {
  stix::OutputFraming framing = stix::OutputFraming::bundle;
  std::string output = "-";  // a file, or "-" for standard output
  std::string output_dir;    // when set: one file per partner, <dir>/<partner>.json (.ndjson)
};

// What a delivery wrote.
struct Delivered {
  std::string partner;
  std::string path;          // the file written, "-" for stdout
  std::size_t objects = 0;   // new objects delivered
  bool changed = false;      // whether the file's bytes changed
};

struct PartnerPull;

// Where a run's pulled objects go as they arrive: each page's new objects
// are written to the temporary file of the output (beside the target; for
// standard output an unnamed file in $TMPDIR) and then forgotten, so a pull
// holds its keys in memory, not its objects. Nothing is visible before
// commit(), which writes the bundle's head (its id follows the content),
// the journal and the cursors. One output holds each (id, version) once:
// an object another partner (or, with output_dir, an earlier run not yet
// taken away) put there is not written again.
class Delivery {
 public:
  // Errors: those of the output (73).
  static Result<std::unique_ptr<Delivery>> open(const DeliveryOptions& options);
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  // Starts a partner's objects. With output_dir this opens the partner's
  // file, taking in first the objects of a file its consumer has not taken
  // yet. Errors: those of the output (73, 74), data (65) for a file there
  // that is not STIX.
  Status begin(const std::string& partner);
  enum class Added : std::uint8_t {
    written,    // new: written to the output
    known,      // new to this partner's pull, already in the output: not written again
    duplicate,  // this partner's pull brought it before: dropped
  };
  struct Offer {
    Added added;
    ObjectKey key;  // views that live as long as the Delivery (empty for a duplicate)
  };
  // Offers one object of the current partner: its compact JSON on one
  // line (which must stay until flush()) and its key. Errors: io (74).
  Result<Offer> add(std::string_view json, std::string_view id, std::string_view version);
  // Writes what add() took; call it before the bytes given to add() go away.
  Status flush();
  // The current partner is complete.
  Status end();
  // The current partner failed: none of its objects stays in the output.
  void abandon();
  // Makes the output of `pulls` (partners ended here) visible: writes the
  // journal of each, the output (atomically; only when its bytes change),
  // then each cursor. With output_dir each partner's file is separate and
  // may be committed alone; otherwise call it once, with every partner.
  // Standard output with nothing new gets nothing. Errors: those of the
  // output (73, 74) and of the state directory; cursors are then left as
  // they were.
  Result<std::vector<Delivered>> commit(std::vector<PartnerPull>& pulls, const CursorStore& cursors,
                                        const Timestamp& now);

  struct Target;  // one output file (defined where Delivery is)

 private:
  explicit Delivery(DeliveryOptions options);
  DeliveryOptions options_;
  std::unique_ptr<Target> shared_;                      // -o FILE or stdout
  std::vector<std::unique_ptr<Target>> per_partner_;    // output_dir
  Target* current_ = nullptr;
  std::string partner_;
};

struct PullSettings {
  PullFilters filters;
  json::Limits limits;                                     // per object and per page
  std::size_t max_empty_pages = 100;                       // `more` with empty pages, then stop
  std::function<void(const std::string&)> progress;        // -v messages; may be empty
};

// Pulls one collection: from the cursor (or filters.added_after) to the end,
// offering every object to `out` (a partner begun there) page by page.
// Errors: those of the client, http_error() and `out`; protocol (76) for a
// non-TAXII body, an envelope of the wrong shape, or a cursor that does not
// advance; permission (77) when the collection cannot be read.
Result<CollectionPull> pull_collection(const Client& client, const CollectionInfo& collection,
                                       const std::optional<Cursor>& from, const PullSettings& settings,
                                       Delivery& out);

// One partner's pull: its collections and their cursors.
struct PartnerPull {
  std::string partner;
  std::string api_root;
  PullFilters filters;
  std::vector<CollectionPull> collections;
  std::size_t new_objects() const;
};

// Resolves the endpoint's collections (ids or aliases) and pulls each from
// its cursor into `out` (begun and ended for the endpoint's name; abandoned
// on failure). Nothing is visible before out.commit(). Errors as
// pull_collection and find_collection; the partner's first failure ends its
// pull.
Result<PartnerPull> pull_partner(const Client& client, const Endpoint& endpoint, const CursorStore& cursors,
                                 const PullSettings& settings, Delivery& out);

// Completes or drops a journal left by a run that died between its output
// and its cursors (see above). Returns whether cursors were committed.
Result<bool> recover_journal(const CursorStore& cursors, const std::string& partner);

// Writes pulls built by hand (CollectionPull::add) through a Delivery: all
// into `output`, or one file per partner into output_dir, where a file not
// yet taken away by its consumer is added to, never replaced, so a second
// pull before the consumer runs loses nothing; then saves every cursor,
// with the journal in between. Errors: those of the output (73, 74) and of
// the state directory; cursors are then left as they were.
Result<std::vector<Delivered>> deliver(std::vector<PartnerPull>& pulls, const CursorStore& cursors,
                                       const DeliveryOptions& options, const Timestamp& now);

// The file one partner's objects go to under `dir`.
std::string partner_output_path(const std::string& dir, const std::string& partner, stix::OutputFraming framing);

}  // namespace ctishare::taxii
