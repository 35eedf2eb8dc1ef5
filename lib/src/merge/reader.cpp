// One SAX pass over a feed, keeping only what feed-merge stores.
#include "merge/reader.h"

#include "core/utf8.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <optional>
#include <string_view>

namespace ctishare::merge::detail {
namespace {

// The input in 1 MiB chunks, bounded by the input-size limit.
class ChunkStream {
 public:
  using Ch = char;
  ChunkStream(std::istream& in, std::uint64_t max_bytes) : in_(in), max_bytes_(max_bytes), buf_(1 << 20) {}
  Ch Peek() {
    if (pos_ == len_) fill();
    return pos_ < len_ ? buf_[pos_] : '\0';
  }
  Ch Take() {
    if (pos_ == len_) fill();
    return pos_ < len_ ? buf_[pos_++] : '\0';
  }
  std::size_t Tell() const { return static_cast<std::size_t>(base_ + pos_); }
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  std::size_t PutEnd(Ch*) { return 0; }

  std::uint64_t line() {
    line_ += static_cast<std::uint64_t>(std::count(buf_.data() + counted_, buf_.data() + pos_, '\n'));
    counted_ = pos_;
    return line_;
  }
  // Skips whitespace; true at the end of the input.
  bool at_end() {
    for (;;) {
      const char c = Peek();
      if (pos_ == len_) return true;
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
      ++pos_;
    }
  }
  bool over_limit() const { return over_limit_; }
  bool read_failed() const { return read_failed_; }
  // Whether the input holds a byte that is not UTF-8 (or ends inside a
  // sequence), and where.
  bool bad_utf8() const { return bad_utf8_ || (eof_ && !utf8_.complete()); }
  std::uint64_t bad_utf8_at() const { return bad_utf8_ ? bad_utf8_at_ : base_ + len_; }

 private:
  void fill() {
    if (over_limit_ || eof_) return;
    line();
    base_ += len_;
    counted_ = pos_ = len_ = 0;
    in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    len_ = static_cast<std::size_t>(in_.gcount());
    if (len_ == 0) {
      eof_ = true;
      if (in_.bad()) read_failed_ = true;
      return;
    }
    if (max_bytes_ != 0 && base_ + len_ > max_bytes_) {
      over_limit_ = true;
      len_ = static_cast<std::size_t>(max_bytes_ - std::min(base_, max_bytes_));
    }
    std::size_t bad = 0;
    if (!utf8_.feed(reinterpret_cast<const unsigned char*>(buf_.data()), len_, bad)) {
      // The parser sees the input end before the bad byte.
      bad_utf8_at_ = base_ + bad;
      bad_utf8_ = true;
      len_ = bad;
      eof_ = true;
    }
  }

  std::istream& in_;
  std::uint64_t max_bytes_;
  std::vector<char> buf_;
  std::uint64_t base_ = 0, line_ = 1;
  std::size_t pos_ = 0, len_ = 0, counted_ = 0;
  bool eof_ = false, over_limit_ = false, read_failed_ = false, bad_utf8_ = false;
  std::uint64_t bad_utf8_at_ = 0;
  ctishare::detail::Utf8Check utf8_;
};

enum Field : int {
  kNone = -1,
  kType,
  kId,
  kCreated,
  kModified,
  kCreatedBy,
  kPattern,
  kValidFrom,
  kValidUntil,
  kConfidence,
  kRevoked,
  kMarkingRefs,
  kGranular,
  kIndicatorRef,
  kSource,
  kSourceTrust,
  kObjects,
  kFieldCount
};

Field field_of(std::string_view key) {
  static constexpr std::array<std::string_view, kFieldCount> kNames = {
      "type",          "id",          "created",      "modified", "created_by_ref",      "pattern",
      "valid_from",    "valid_until", "confidence",   "revoked",  "object_marking_refs", "granular_markings",
      "indicator_ref", "source",      "source_trust", "objects"};
  for (int i = 0; i < kFieldCount; ++i)
    if (kNames[static_cast<std::size_t>(i)] == key) return static_cast<Field>(i);
  return kNone;
}

// The handler. Depth counts open containers. A STIX object is an object at
// depth 1 (a lone object, or NDJSON), at depth 2 in a top-level array, or at
// depth 3 in a bundle's "objects" array.
class Handler {
 public:
  Handler(ChunkStream& stream, const json::Limits& limits, const std::function<Status(const RawObject&)>& sink)
      : stream_(stream), limits_(limits), sink_(sink) {}

  bool Null() { return scalar(); }
  bool Bool(bool b) {
    if (Frame* f = current(); f != nullptr && depth_ == f->depth && f->key == kRevoked) f->obj.revoked = b;
    return scalar();
  }
  // Numbers arrive as RawNumber (kParseNumbersAsStringsFlag); these only
  // complete the handler interface.
  bool Int(int) { return scalar(); }
  bool Uint(unsigned) { return scalar(); }
  bool Int64(std::int64_t) { return scalar(); }
  bool Uint64(std::uint64_t) { return scalar(); }
  bool Double(double) { return scalar(); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    if (Frame* f = current(); f != nullptr && depth_ == f->depth) {
      if (f->key == kConfidence) f->obj.confidence.assign(s, n);
      if (f->key == kSourceTrust) f->obj.source_trust.assign(s, n);
    }
    return scalar();
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (n > limits_.max_string_bytes)
      return limit("string longer than the limit of " + std::to_string(limits_.max_string_bytes) +
                   " bytes (--max-string-length)");
    Frame* f = current();
    if (f == nullptr) return scalar();
    const std::string_view v(s, n);
    if (depth_ == f->depth) {
      RawObject& o = f->obj;
      switch (f->key) {
        case kType:
          o.type = v;
          break;
        case kId:
          o.id = v;
          break;
        case kCreated:
          o.created = v;
          break;
        case kModified:
          o.modified = v;
          break;
        case kCreatedBy:
          o.created_by_ref = v;
          break;
        case kPattern:
          o.pattern = v;
          break;
        case kValidFrom:
          o.valid_from = v;
          break;
        case kValidUntil:
          o.valid_until = v;
          break;
        case kIndicatorRef:
          o.indicator_ref = v;
          break;
        case kSource:
          o.source = v;
          break;
        case kConfidence:
          o.confidence_not_number = true;
          break;
        default:
          break;
      }
    } else if (depth_ == f->depth + 1 && f->key == kMarkingRefs && f->in_array) {
      f->obj.markings.emplace_back(v);
    } else if (depth_ == f->depth + 2 && f->key == kGranular && f->granular_key) {
      f->obj.markings.emplace_back(v);
    }
    return scalar();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (n > limits_.max_string_bytes)
      return limit("string longer than the limit of " + std::to_string(limits_.max_string_bytes) +
                   " bytes (--max-string-length)");
    Frame* f = current();
    if (f == nullptr) return true;
    const std::string_view k(s, n);
    if (depth_ == f->depth) {
      f->key = field_of(k);
      if (f->key != kNone) {
        const unsigned bit = 1U << static_cast<unsigned>(f->key);
        if ((f->seen & bit) != 0) return fail("the member " + std::string(k) + " appears twice in one object");
        f->seen |= bit;
        if (f->key == kConfidence) f->obj.has_confidence = true;
      }
    } else if (depth_ == f->depth + 2 && f->key == kGranular) {
      f->granular_key = k == "marking_ref";
    }
    return true;
  }
  bool StartObject() {
    if (!open()) return false;
    if (depth_ == 1) {
      begin(top_, 1);
    } else if ((depth_ == 2 && top_array_) || (depth_ == 3 && bundle_array_)) {
      begin(inner_, depth_);
    } else if (Frame* f = current(); f != nullptr && depth_ == f->depth + 1 && f->key == kConfidence) {
      f->obj.confidence_not_number = true;
    }
    return true;
  }
  bool EndObject(rapidjson::SizeType members) {
    if (members > limits_.max_members)
      return limit("more than " + std::to_string(limits_.max_members) + " members in one JSON object or array");
    if (inner_.active && depth_ == inner_.depth) {
      inner_.active = false;
      if (!emit(inner_.obj)) return false;
    } else if (top_.active && depth_ == 1) {
      top_.active = false;
      // A bundle's own properties are not an object of the feed.
      if (top_.obj.type != "bundle" && !emit(top_.obj)) return false;
    }
    --depth_;
    return true;
  }
  bool StartArray() {
    if (!open()) return false;
    if (depth_ == 1) {
      top_array_ = true;
    } else if (depth_ == 2 && top_.active && !inner_.active && top_.key == kObjects) {
      bundle_array_ = true;
    } else if (Frame* f = current(); f != nullptr && depth_ == f->depth + 1) {
      if (f->key == kMarkingRefs) f->in_array = true;
      if (f->key == kConfidence) f->obj.confidence_not_number = true;
    }
    return true;
  }
  bool EndArray(rapidjson::SizeType elements) {
    if (elements > limits_.max_members)
      return limit("more than " + std::to_string(limits_.max_members) + " members in one JSON object or array");
    if (depth_ == 1) top_array_ = false;
    if (depth_ == 2 && bundle_array_) bundle_array_ = false;
    if (Frame* f = current(); f != nullptr && depth_ == f->depth + 1) f->in_array = false;
    --depth_;
    return true;
  }

  // Called between top-level values.
  void reset() { depth_ = 0, top_array_ = bundle_array_ = false, top_.active = inner_.active = false; }
  const std::optional<Error>& error() const { return error_; }

 private:
  struct Frame {
    RawObject obj;
    int depth = 0;
    bool active = false;
    Field key = kNone;
    unsigned seen = 0;
    bool in_array = false, granular_key = false;
  };

  Frame* current() {
    if (inner_.active) return &inner_;
    if (top_.active) return &top_;
    return nullptr;
  }
  void begin(Frame& f, int depth) {
    f.obj.clear();
    f.obj.line = stream_.line();
    f.obj.index = count_;
    f.depth = depth;
    f.active = true;
    f.key = kNone;
    f.seen = 0;
    f.in_array = f.granular_key = false;
  }
  bool open() {
    if (++depth_ > static_cast<int>(limits_.max_depth))
      return limit("JSON nested deeper than the limit of " + std::to_string(limits_.max_depth) +
                   " levels (--max-depth)");
    return true;
  }
  bool scalar() {
    if (depth_ == 0) return fail("a top-level value that is neither an object nor an array");
    return true;
  }
  bool emit(const RawObject& o) {
    if (++count_ > limits_.max_objects)
      return limit("more than " + std::to_string(limits_.max_objects) + " objects in the input (--max-objects)");
    Status s = sink_(o);
    if (!s) {
      error_ = std::move(s).error();
      return false;
    }
    return true;
  }
  bool limit(const std::string& what) { return fail(what); }
  bool fail(const std::string& what) {
    if (!error_) error_ = Error(ErrorCategory::data, "line " + std::to_string(stream_.line()) + ": " + what);
    return false;
  }

  ChunkStream& stream_;
  const json::Limits& limits_;
  const std::function<Status(const RawObject&)>& sink_;
  int depth_ = 0;
  bool top_array_ = false, bundle_array_ = false;
  Frame top_, inner_;
  std::uint64_t count_ = 0;
  std::optional<Error> error_;
};

}  // namespace

void RawObject::clear() {
  for (std::string* s : {&type, &id, &created, &modified, &created_by_ref, &pattern, &valid_from, &valid_until,
                         &confidence, &indicator_ref, &source, &source_trust})
    s->clear();
  has_confidence = confidence_not_number = revoked = false;
  markings.clear();
}

Status read_raw_objects(std::istream& in, const json::Limits& limits,
                        const std::function<Status(const RawObject&)>& sink) {
  ChunkStream stream(in, limits.max_document_bytes);
  Handler handler(stream, limits, sink);
  rapidjson::Reader reader;
  // UTF-8 is checked a chunk at a time by the stream (far faster than
  // rapidjson's per-character check), so the parser need not.
  constexpr unsigned kFlags = rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseNumbersAsStringsFlag;
  while (!stream.at_end()) {
    handler.reset();
    const rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, handler);
    if (stream.read_failed()) return Error(ErrorCategory::io, "read failed");
    if (handler.error()) return *handler.error();
    if (stream.bad_utf8())
      return Error(ErrorCategory::data,
                   "invalid JSON at byte " + std::to_string(stream.bad_utf8_at()) + ": invalid UTF-8");
    if (stream.over_limit())
      return Error(ErrorCategory::data, "input larger than the limit of " + std::to_string(limits.max_document_bytes) +
                                            " bytes (--max-input-size)");
    if (!ok) {
      std::string what = rapidjson::GetParseError_En(ok.Code());
      if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
      if (!what.empty() && what.back() == '.') what.pop_back();
      return Error(ErrorCategory::data, "invalid JSON at byte " + std::to_string(ok.Offset()) + " (line " +
                                            std::to_string(stream.line()) + "): " + what);
    }
  }
  if (stream.read_failed()) return Error(ErrorCategory::io, "read failed");
  if (stream.bad_utf8())
    return Error(ErrorCategory::data,
                 "invalid JSON at byte " + std::to_string(stream.bad_utf8_at()) + ": invalid UTF-8");
  return {};
}

}  // namespace ctishare::merge::detail
