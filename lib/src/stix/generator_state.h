// stix-gen's state: for every pattern it has published, the indicator's id,
// created, last modified, validity and a digest of the content, plus the
// producer identities. Kept compact for million-entry states: entries in a
// vector, found through an open-addressing index on a SHA-256 of the
// pattern; the patterns themselves stay in the file and are copied from it
// when the state is saved. Beside it, revoke(1)'s holds (see Holds in
// ctishare/generator.h). Private to the generator.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/digest.h"
#include "ctishare/generator.h"
#include "ctishare/result.h"
#include "ctishare/time.h"
#include "ctishare/uuid.h"

namespace ctishare::stix::detail {

using ctishare::detail::SipKey;

// The files in the state directory.
inline constexpr std::string_view kStateFile = "stix-gen.state";
inline constexpr std::string_view kLockFile = "stix-gen.lock";
inline constexpr std::string_view kHoldsFile = "stix-gen.holds";

// Reads revoke(1)'s holds from `path`, sorted by indicator id; a missing file
// holds none. Errors: data (65) for a corrupt file, naming the line; io (74).
Result<std::vector<Hold>> read_holds(const std::string& path);

// Timestamps repeat across indicators (every new one of a run shares "now"),
// so they are stored once and referred to by index.
class StringTable {
 public:
  // Returns the index of `s`, adding it when new.
  std::uint32_t intern(std::string_view s);
  const std::string& operator[](std::uint32_t i) const { return strings_[i]; }
  // The string as a timestamp (callers intern only valid ones), parsed once.
  const Timestamp& time(std::uint32_t i);

 private:
  std::deque<std::string> strings_;  // stable addresses for the views below
  std::deque<std::optional<Timestamp>> parsed_;
  std::unordered_map<std::string_view, std::uint32_t> index_;
};

using Digest = std::array<std::uint8_t, 16>;

// What the state remembers about one indicator.
struct StateEntry {
  Uuid id;
  std::uint32_t created = 0, modified = 0, valid_from = 0, valid_until = 0;  // in IndicatorState::times
  Digest digest{};
  std::uint32_t creator = 0;  // the identity that created it, in IndicatorState::creators
  bool revoked = false;
};

struct IdentityEntry {
  std::string id;
  std::string identity_class;
  std::string created;
  std::string modified;
};

class IndicatorState {
 public:
  StringTable times;
  StringTable creators;  // identity ids
  // The key of the content digests; random per state, kept in the file.
  SipKey digest_key{};
  std::map<std::string, IdentityEntry> identities;  // by name

  // Reads `path` (a missing file is an empty state with a new random digest
  // key). Errors: data (65) for a corrupt file, naming the line; io (74) for
  // read failures; internal (70) when the random generator fails.
  Status load(const std::string& path);

  // The entry of a pattern created by `creator` (an identity id), or
  // nullptr. Only the creator of an indicator may version it (STIX 2.1
  // §3.6), so the same pattern under another identity is another indicator.
  StateEntry* find(std::string_view pattern, std::string_view creator);
  // Adds or replaces the entry of a pattern (used when seeding from an
  // earlier bundle); entry.creator must be set.
  void put(std::string_view pattern, const StateEntry& entry);
  // Marks an entry find() returned as replaced by this run (it is not saved
  // again).
  void supersede(const StateEntry* entry) { superseded_[static_cast<std::size_t>(entry - entries_.data())] = true; }
  bool empty() const { return entries_.empty(); }

  // Writes the saved state to `out`: identities, then every entry not
  // superseded merged in id order with `fresh` — this run's entries, in id
  // order, each given with its pattern by `pattern_of`. Reads the old file
  // again for the patterns it holds.
  using PatternOf = std::function<const std::string&(std::size_t)>;
  Status save(const std::string& path, const std::vector<const StateEntry*>& fresh, const PatternOf& pattern_of);

 private:
  using Key = Digest;
  static Key key_of(std::string_view creator, std::string_view pattern);
  std::optional<std::uint32_t> lookup(const Key& key) const;
  void index_add(std::uint32_t entry);
  void grow_index();

  std::string path_;                 // where entries [0, file_entries_) came from, in order
  std::size_t file_entries_ = 0;
  std::vector<StateEntry> entries_;  // file entries, then added ones
  std::vector<Key> keys_;
  std::vector<bool> superseded_;
  std::unordered_map<std::uint32_t, std::string> added_patterns_;  // entries put() after loading
  std::vector<std::uint32_t> index_;  // open addressing: entry + 1, 0 = empty
};

// Escaping of tab-separated state fields.
std::string escape_field(std::string_view s);
void append_escaped_field(std::string& out, std::string_view s);
std::string unescape_field(std::string_view s);

}  // namespace ctishare::stix::detail
