// Reading and writing STIX content in the suite's framings: one bundle
// (streamed: objects are handed over one at a time, so a bundle of any size
// is read in bounded memory), a bare JSON array of objects, single objects,
// and NDJSON (one object per line). Output is a bundle (compact: one object
// per line; or pretty) or NDJSON, byte for byte deterministic; a bundle
// whose id follows its content is spooled to a temporary file on the way.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/file.h"
#include "ctishare/json.h"
#include "ctishare/object.h"

namespace ctishare::stix {

struct ReadOptions {
  json::Limits limits;
};

// Where an object came from, for messages.
struct Origin {
  std::uint64_t line = 0;   // line where the object starts (1-based)
  std::uint64_t index = 0;  // 0-based position in the input
  std::string where() const;  // "object 3 (line 17)"
};

using ObjectSink = std::function<Status(Object&&, const Origin&)>;

// Reads every STIX object of `in`, whatever the framing, and hands each to
// `sink` in input order. Errors (data, 65): JSON errors and limits (with
// byte offset and line), a top-level value that is neither a bundle, an
// array nor a STIX object, an element without "type"/"id", a bundle without
// a "bundle--" id, more objects than limits.max_objects. Errors returned by
// `sink` stop the reading and are returned as they are.
Status read_objects(std::istream& in, const ReadOptions& options, const ObjectSink& sink);

// Convenience: every object of `in` in memory.
Result<std::vector<Object>> read_all(std::istream& in, const ReadOptions& options = {});

enum class OutputFraming { bundle, ndjson };

// Streams objects out as a bundle or NDJSON.
class BundleWriter {
 public:
  // `bundle_id` is used for bundle framing ("bundle--<uuid>").
  BundleWriter(Sink& sink, OutputFraming framing, json::Layout layout, std::string bundle_id);

  // Appends one object (any JSON object, typically a STIX object).
  Status add(const json::Value& object);
  // Appends an object already serialised compactly (trusted to be valid JSON).
  Status add_serialized(std::string_view compact_object);
  // For callers that serialise objects themselves (the fast path): returns
  // the buffer to append exactly one compact JSON object to; end_object()
  // must follow.
  std::string& begin_object();
  Status end_object();
  // Closes the bundle and flushes; must be called once, after the last add.
  Status finish();

 private:
  Status maybe_flush();
  Sink& sink_;
  OutputFraming framing_;
  json::Layout layout_;
  std::string bundle_id_;
  std::string buf_;
  std::string scratch_;  // pretty layout: the compact object before re-indenting
  std::uint64_t count_ = 0;
  bool started_ = false;
};

// A deterministic bundle id for given content: a version-4 UUID whose
// random bits are taken from a SHA-256 of the (id, version) pairs fed to it
// in output order. The same objects give the same id, so output files do not
// change when their content does not.
class BundleIdDigest {
 public:
  BundleIdDigest();
  ~BundleIdDigest();
  BundleIdDigest(const BundleIdDigest&) = delete;
  BundleIdDigest& operator=(const BundleIdDigest&) = delete;
  void add(std::string_view id, std::string_view version);
  std::string finish();

 private:
  void* ctx_;
};

// The compact bundle framing BundleWriter writes, for writers that place
// the objects themselves: the head, the objects (each on one line) joined
// by kCompactBundleSeparator, then kCompactBundleTail; a bundle without
// objects is compact_empty_bundle() alone ("objects" must not be empty).
// Every bundle id ("bundle--" and a UUID) gives a head of the same length.
std::string compact_bundle_head(const std::string& bundle_id);
inline constexpr std::string_view kCompactBundleSeparator = ",\n";
inline constexpr std::string_view kCompactBundleTail = "\n]}\n";
std::string compact_empty_bundle(const std::string& bundle_id);

// Writes what BundleWriter writes in compact layout, for output whose bundle
// id follows its content (the BundleIdDigest of every object's (id, version)
// in the order added), however many objects there are: they are kept in an
// unnamed temporary file, not in memory, until finish() writes the bundle to
// `sink`. Nothing reaches `sink` before finish(), so a run that fails half
// way leaves nothing behind, on stdout either; the temporary file is gone
// when the writer is, whatever happens (even a crash).
class SpooledBundleWriter {
 public:
  // Creates the temporary file in `spool_dir` (for an output file, choose
  // its directory: the space is there). NDJSON needs no spool for a sink
  // that shows nothing until it is committed (an AtomicFile): with an empty
  // `spool_dir` it goes straight to `sink` as it is added. Errors:
  // cannot_create (73) when the directory is missing or not writable;
  // internal (70) for a bundle without a `spool_dir`.
  static Result<std::unique_ptr<SpooledBundleWriter>> create(Sink& sink, OutputFraming framing,
                                                             const std::string& spool_dir);
  ~SpooledBundleWriter();
  SpooledBundleWriter(const SpooledBundleWriter&) = delete;
  SpooledBundleWriter& operator=(const SpooledBundleWriter&) = delete;

  // Appends one object; `id` and `version` as Object::id() and version().
  // An io error (74) when the temporary file cannot be written (disk full),
  // or the sink's error when writing straight to it.
  Status add(const json::Value& object, std::string_view id, std::string_view version);
  // The same for an object already serialised compactly (trusted to be
  // valid JSON on one line).
  Status add_serialized(std::string_view compact_object, std::string_view id, std::string_view version);
  // Writes the whole bundle (or the rest of the NDJSON) to the sink; once,
  // after the last add. Errors: the sink's, or io (74) reading the
  // temporary file.
  Status finish();
  // Objects added so far.
  std::uint64_t size() const noexcept { return count_; }

 private:
  SpooledBundleWriter(Sink& sink, OutputFraming framing, std::string spool_dir, int fd);
  void begin_object(std::string_view id, std::string_view version);
  Status end_object();
  Status flush();
  Sink& sink_;
  OutputFraming framing_;
  std::string spool_dir_;  // for messages
  int fd_;                 // the spool; -1 when writing straight to the sink
  std::string buf_;
  BundleIdDigest digest_;
  std::uint64_t count_ = 0;
  bool finished_ = false;
};

}  // namespace ctishare::stix
