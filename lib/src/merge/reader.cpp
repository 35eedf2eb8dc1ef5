// One SAX pass over a feed, keeping only what feed-merge stores.
#include "merge/reader.h"

#include "core/utf8.h"

// RapidJSON's SIMD scanning of strings and whitespace, for inputs in memory
// (StringStream). Only this file parses with it: those loads may read up to
// 15 bytes past a string's terminator, which a mapping's page allows but
// a heap buffer does not (AddressSanitizer would say so). The memory
// path's flags (kMemoryFlags) are its own, so no instantiation is shared
// with another file's parser.
#if defined(__SSE2__)
#define RAPIDJSON_SSE2
#elif defined(__ARM_NEON)
#define RAPIDJSON_NEON
#endif
#include <pthread.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <exception>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

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
  void object_start() {}
  bool within_part() const { return true; }
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

// An input in memory, followed by a NUL byte, read through rapidjson's
// StringStream: the part [from, limit) of it, offsets and lines counted
// from its start. The UTF-8 check runs a little ahead of the parser, and
// the pages behind it are handed back through `progress`.
class MemorySource {
 public:
  MemorySource(std::string_view text, std::size_t from, std::size_t limit, std::uint64_t first_line,
               const std::function<void(std::size_t, std::size_t)>& progress)
      : stream(text.data()),
        begin_(text.data()),
        end_(text.data() + limit),
        counted_(text.data() + from),
        checked_(text.data() + from),
        line_(first_line),
        reported_(from),
        progress_(progress) {
    stream.src_ = text.data() + from;
  }

  rapidjson::StringStream stream;

  std::uint64_t line() {
    line_ += static_cast<std::uint64_t>(std::count(counted_, stream.src_, '\n'));
    counted_ = stream.src_;
    return line_;
  }
  std::size_t offset() const { return static_cast<std::size_t>(stream.src_ - begin_); }
  // At the start of each object.
  void object_start() {
    const char* at = stream.src_;
    if (checked_ < end_ && !bad_ && at + kAhead / 2 > checked_)
      check(std::min<std::size_t>(static_cast<std::size_t>(std::max(end_ - at, std::ptrdiff_t{0})), kAhead));
    if (progress_ && static_cast<std::size_t>(at - begin_) >= reported_ + kAhead) {
      const auto now = static_cast<std::size_t>(at - begin_);
      progress_(reported_, now);
      reported_ = now;
    }
  }
  // Checks UTF-8 up to `offset` (within the part); the offset of the
  // first bad byte at or before it, if any (the part's end when it ends
  // inside a sequence).
  std::optional<std::size_t> bad_utf8_at_or_before(std::size_t offset) {
    const char* upto = begin_ + std::min(offset + 1, limit());
    if (!bad_ && checked_ < upto) check(static_cast<std::size_t>(upto - checked_));
    if (bad_ && *bad_ <= offset) return bad_;
    return std::nullopt;
  }
  bool within_part() const { return stream.src_ <= end_; }
  // True at the end of the part (whitespace skipped), or past it.
  bool at_end() {
    while (stream.src_ < end_ &&
           (*stream.src_ == ' ' || *stream.src_ == '\t' || *stream.src_ == '\n' || *stream.src_ == '\r'))
      ++stream.src_;
    return stream.src_ >= end_;
  }
  std::size_t limit() const { return static_cast<std::size_t>(end_ - begin_); }

 private:
  static constexpr std::size_t kAhead = 8U << 20;
  void check(std::size_t bytes) {
    bytes = std::min<std::size_t>(bytes, static_cast<std::size_t>(end_ - checked_));
    std::size_t bad = 0;
    if (!utf8_.feed(reinterpret_cast<const unsigned char*>(checked_), bytes, bad)) {
      bad_ = static_cast<std::size_t>(checked_ - begin_) + bad;
      checked_ = end_;
      return;
    }
    checked_ += bytes;
    if (checked_ == end_ && !utf8_.complete()) bad_ = limit();
  }

  const char* begin_;
  const char* end_;
  const char* counted_;
  const char* checked_;
  std::uint64_t line_;
  std::size_t reported_;
  std::optional<std::size_t> bad_;
  ctishare::detail::Utf8Check utf8_;
  const std::function<void(std::size_t, std::size_t)>& progress_;
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

// A member name's field. Every object has a dozen members or more, most of
// them none of these: a name is compared only with those of its length and
// first letter.
Field field_of(std::string_view key) {
  static constexpr std::array<std::string_view, kFieldCount> kNames = {
      "type",          "id",          "created",      "modified", "created_by_ref",      "pattern",
      "valid_from",    "valid_until", "confidence",   "revoked",  "object_marking_refs", "granular_markings",
      "indicator_ref", "source",      "source_trust", "objects"};
  if (key.empty()) return kNone;
  for (int i = 0; i < kFieldCount; ++i) {
    const std::string_view name = kNames[static_cast<std::size_t>(i)];
    if (name.size() == key.size() && name[0] == key[0] && std::memcmp(name.data(), key.data(), key.size()) == 0)
      return static_cast<Field>(i);
  }
  return kNone;
}

// The handler. Depth counts open containers. A STIX object is an object at
// depth 1 (a lone object, or NDJSON), at depth 2 in a top-level array, or at
// depth 3 in a bundle's "objects" array.
template <typename Source>
class Handler {
 public:
  Handler(Source& stream, const json::Limits& limits, const std::function<Status(const RawObject&)>& sink)
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
      // A part of an input (see read_raw_objects_in_halves) whose value
      // runs on past its end has been split in the wrong place: stop now.
      if (!stream_.within_part()) return fail("a value runs past the part read");
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
  std::uint64_t objects() const { return count_; }

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
    stream_.object_start();
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

  Source& stream_;
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

namespace {

// UTF-8 is checked by the sources, a chunk at a time (far faster than
// rapidjson's per-character check), so the parser need not.
constexpr unsigned kFlags = rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseNumbersAsStringsFlag;
// The same for the memory path: full precision changes nothing where
// numbers stay text, but gives its instantiations their own names (see
// RAPIDJSON_SSE2 above).
constexpr unsigned kMemoryFlags = kFlags | rapidjson::kParseFullPrecisionFlag;

Error parse_error(const rapidjson::ParseResult& ok, std::uint64_t line) {
  std::string what = rapidjson::GetParseError_En(ok.Code());
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  if (!what.empty() && what.back() == '.') what.pop_back();
  return Error(ErrorCategory::data,
               "invalid JSON at byte " + std::to_string(ok.Offset()) + " (line " + std::to_string(line) + "): " + what);
}

Error utf8_error(std::uint64_t at) {
  return Error(ErrorCategory::data, "invalid JSON at byte " + std::to_string(at) + ": invalid UTF-8");
}

Error size_error(const json::Limits& limits) {
  return Error(ErrorCategory::data, "input larger than the limit of " + std::to_string(limits.max_document_bytes) +
                                        " bytes (--max-input-size)");
}

}  // namespace

Status read_raw_objects(std::istream& in, const json::Limits& limits,
                        const std::function<Status(const RawObject&)>& sink) {
  ChunkStream stream(in, limits.max_document_bytes);
  Handler<ChunkStream> handler(stream, limits, sink);
  rapidjson::Reader reader;
  while (!stream.at_end()) {
    handler.reset();
    const rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, handler);
    if (stream.read_failed()) return Error(ErrorCategory::io, "read failed");
    if (handler.error()) return *handler.error();
    if (stream.bad_utf8()) return utf8_error(stream.bad_utf8_at());
    if (stream.over_limit()) return size_error(limits);
    if (!ok) return parse_error(ok, stream.line());
  }
  if (stream.read_failed()) return Error(ErrorCategory::io, "read failed");
  if (stream.bad_utf8()) return utf8_error(stream.bad_utf8_at());
  return {};
}

namespace {

// One part of an input in memory read, [from, limit): where the reading
// stopped (the end of the last value read, or an error's offset), the
// objects read, and the outcome.
struct PartRead {
  Status status;
  std::size_t stopped = 0;
  std::uint64_t objects = 0;
};

PartRead read_part(std::string_view text, std::size_t from, std::size_t limit, std::uint64_t first_line,
                   const json::Limits& limits, const std::function<Status(const RawObject&)>& sink,
                   const std::function<void(std::size_t, std::size_t)>& progress) {
  MemorySource source(text, from, limit, first_line, progress);
  Handler<MemorySource> handler(source, limits, sink);
  rapidjson::Reader reader;
  PartRead out;
  while (!source.at_end()) {
    handler.reset();
    const rapidjson::ParseResult ok = reader.Parse<kMemoryFlags>(source.stream, handler);
    if (!handler.error() && ok) continue;
    out.stopped = ok ? source.offset() : ok.Offset();
    out.objects = handler.objects();
    // As the stream does: a bad byte the parser reached comes first.
    if (auto bad = source.bad_utf8_at_or_before(out.stopped)) {
      out.status = utf8_error(*bad);
    } else if (handler.error()) {
      out.status = *handler.error();
    } else {
      out.status = parse_error(ok, source.line());
    }
    return out;
  }
  out.stopped = source.offset();
  out.objects = handler.objects();
  if (auto bad = source.bad_utf8_at_or_before(limit)) out.status = utf8_error(*bad);
  return out;
}

}  // namespace

Status read_raw_objects(std::string_view text, const json::Limits& limits,
                        const std::function<Status(const RawObject&)>& sink,
                        const std::function<void(std::size_t, std::size_t)>& progress) {
  if (limits.max_document_bytes != 0 && text.size() > limits.max_document_bytes) return size_error(limits);
  return read_part(text, 0, text.size(), 1, limits, sink, progress).status;
}

std::optional<HalvesRead> read_raw_objects_in_halves(std::string_view text, const json::Limits& limits,
                                                     const std::function<Status(const RawObject&)>& first,
                                                     const std::function<Status(const RawObject&)>& second,
                                                     const std::function<void(std::size_t, std::size_t)>& progress) {
  if (text.size() < kHalvesFrom) return std::nullopt;
  if (limits.max_document_bytes != 0 && text.size() > limits.max_document_bytes)
    return HalvesRead{size_error(limits), std::nullopt};
  // The second half starts at a line that starts with '{', after one that
  // ends with '}' (not "}," as between a bundle's objects), near the middle.
  std::size_t split = text.find('\n', text.size() / 2);
  if (split == std::string_view::npos || split + 1 >= text.size() || text[split + 1] != '{') return std::nullopt;
  std::size_t last = split;
  while (last > 0 && (text[last - 1] == '\r' || text[last - 1] == ' ' || text[last - 1] == '\t')) --last;
  if (last == 0 || text[last - 1] != '}') return std::nullopt;
  ++split;
  PartRead late;
  std::exception_ptr failure;
  std::thread other;
  try {
    other = std::thread([&] {
      pthread_setname_np(pthread_self(), "fm-read-half");
      try {
        // The lines before the split, counted a piece at a time, each piece's
        // pages handed back at once (the first half reads them later).
        std::uint64_t lines = 0;
        for (std::size_t at = 0; at < split;) {
          const std::size_t end = std::min(split, at + (8U << 20));
          lines += static_cast<std::uint64_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(at),
                                                         text.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
          if (progress) progress(at, end);
          at = end;
        }
        late = read_part(text, split, text.size(), 1 + lines, limits, second, progress);
      } catch (...) {
        failure = std::current_exception();
      }
    });
  } catch (const std::system_error&) {
    return std::nullopt;  // no thread to be had: read it whole
  }
  PartRead early;
  try {
    early = read_part(text, 0, split, 1, limits, first, progress);
  } catch (...) {
    other.join();
    throw;
  }
  other.join();
  if (failure) std::rethrow_exception(failure);
  // An error before the line break is the input's first.
  if (!early.status) {
    if (early.stopped < split) return HalvesRead{early.status, std::nullopt};
    return std::nullopt;
  }
  // A value that runs across the line break: not one value per line there.
  if (early.stopped != split) return std::nullopt;
  // Too many objects: a whole read says where the limit was crossed.
  if (early.objects + late.objects > limits.max_objects) return std::nullopt;
  return HalvesRead{late.status, early.objects};
}

}  // namespace ctishare::merge::detail
