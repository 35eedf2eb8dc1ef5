// feed-merge's input reader: the few properties it needs from each STIX
// object, read in one SAX pass without building a document (a million
// scored indicators are over a gigabyte of JSON). Accepts what
// stix::read_objects accepts: a bundle, an array of objects, one object, or
// NDJSON, under the same json::Limits.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/json.h"
#include "ctishare/result.h"

namespace ctishare::merge::detail {

// One STIX object's properties of interest (strings as written).
struct RawObject {
  std::string type, id, created, modified, created_by_ref, pattern, valid_from, valid_until;
  std::string confidence;  // the number as written; "" when absent
  bool has_confidence = false;
  bool confidence_not_number = false;
  bool revoked = false;
  std::vector<std::string> markings;  // object_marking_refs and granular marking_refs
  // x-ctishare-assessment
  std::string indicator_ref, source, source_trust;
  std::uint64_t line = 0;   // where the object starts (1-based)
  std::uint64_t index = 0;  // 0-based position in the input
  void clear();
};

// Hands every STIX object of `in` to `sink` in input order. Errors (data,
// 65): broken JSON (with byte offset), a limit exceeded, a top-level value
// that is not an object or array, a property of interest given twice;
// io (74) when reading fails; `sink`'s errors as they are.
Status read_raw_objects(std::istream& in, const json::Limits& limits,
                        const std::function<Status(const RawObject&)>& sink);

// The same over an input in memory that is followed by a NUL byte
// (text.data()[text.size()] == '\0', as MappedInput gives it), faster.
// `progress`, when set, is told now and then of a range of offsets the
// reader will not look at again.
Status read_raw_objects(std::string_view text, const json::Limits& limits,
                        const std::function<Status(const RawObject&)>& sink,
                        const std::function<void(std::size_t, std::size_t)>& progress = {});

// Inputs this large may be read in halves.
inline constexpr std::size_t kHalvesFrom = 16U << 20;

// The same on two threads at once for a large input of one object per
// line (NDJSON): `first` gets the objects before a line break near the
// middle, `second` (on another thread) those after it, with their indexes
// counted from 0 again.
// Lines and offsets in messages are the input's. Returns nullopt when the
// input cannot be read so (too small, no line starting with '{' after the
// middle, a value running across it, or more objects than the limit):
// read it whole then, which gives the same objects and the same first
// error.
struct HalvesRead {
  Status status;
  // Set when the second half counts (the first had no error): how many
  // objects the first half had.
  std::optional<std::uint64_t> first_objects;
};
std::optional<HalvesRead> read_raw_objects_in_halves(std::string_view text, const json::Limits& limits,
                                                     const std::function<Status(const RawObject&)>& first,
                                                     const std::function<Status(const RawObject&)>& second,
                                                     const std::function<void(std::size_t, std::size_t)>& progress);

}  // namespace ctishare::merge::detail
