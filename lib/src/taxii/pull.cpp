// taxii-pull's engine: paging with next / added_after, cursors, the journal
// that makes a delivery exactly once, and the outputs.
#include "ctishare/taxii/pull.h"

#include <openssl/evp.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#endif
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <unordered_map>

#include "core/digest.h"
#include "ctishare/file.h"
#include "ctishare/object.h"
#include "taxii/pull_envelope.h"

namespace ctishare::taxii {
namespace {

using internal::Envelope;
using internal::EnvelopeObject;

// Sorted and without repeats: the same filter set always gives the same
// query, and so the same cursor, whatever order the flags came in.
std::string join_encoded(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
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

std::string key_of(std::string_view id, std::string_view version) {
  std::string k(id);
  k += '|';
  k += version;
  return k;
}

// Adds the keys a cursor's boundary entry ("id|version", as key_of writes
// it) stands for: one per '|' in it, so an id or version holding a '|'
// still matches the entry it was written as.
void add_boundary_keys(std::string_view entry, ObjectKeys& keys) {
  for (std::size_t bar = entry.find('|'); bar != std::string_view::npos; bar = entry.find('|', bar + 1))
    keys.insert(ObjectKey{entry.substr(0, bar), entry.substr(bar + 1)});
}

// The reader's way (parse_envelope): RapidJSON's SAX reader with a handler
// that picks up the members the engine needs and checks the limits as the
// suite's parser does; objects are taken byte for byte from a body on one
// line and otherwise re-written compactly as they are parsed (numbers keep
// their text), so every object is one line of output either way. Decoded
// strings and re-written objects go to the envelope's arena.
class EnvelopeHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, EnvelopeHandler> {
 public:
  // `raw`: objects are copied from `body` at the stream's positions instead
  // of being re-written.
  EnvelopeHandler(Envelope& out, const json::Limits& limits, const rapidjson::MemoryStream& stream,
                  std::string_view body, bool raw)
      : out_(out), limits_(limits), stream_(stream), body_(body), raw_(raw), writer_(buffer_) {}

  bool Null() { return scalar([&] { return writer_.Null(); }, kNull); }
  bool Bool(bool b) { return scalar([&] { return writer_.Bool(b); }, b ? kTrue : kFalse); }
  bool RawNumber(const char* s, rapidjson::SizeType len, bool) {
    if (depth_ == 1 && key_ == "next") out_.next.assign(s, len);  // an integer next token
    return scalar([&] { return writer_.RawValue(s, len, rapidjson::kNumberType); }, kNumber);
  }
  bool String(const char* s, rapidjson::SizeType len, bool) {
    if (!check_string(s, len)) return false;
    if (depth_ == 1) {
      if (key_ == "next") {
        out_.next.assign(s, len);
        out_.next_present = true;
      } else if (key_ == "more") {
        out_.more_not_bool = true;
      } else if (key_ == "objects") {
        out_.objects_not_list = true;
      }
      return true;
    }
    if (depth_ == 2 && in_objects_) return fail("an element of 'objects' is not an object");
    if (object_open_ && depth_ == 3) {
      // A top-level member of an object: remember what the engine needs.
      if (key_ == "id") current_.id = keep(s, len);
      else if (key_ == "type") current_.type = keep(s, len);
      else if (key_ == "modified") current_.version = keep(s, len), has_modified_ = true;
      else if (key_ == "created" && !has_modified_) current_.version = keep(s, len);
    }
    return !in_object() || writer_.String(s, len);
  }
  bool Key(const char* s, rapidjson::SizeType len, bool) {
    if (!check_string(s, len)) return false;
    key_.assign(s, len);
    Names& names = names_.back();
    if (!names.add(key_)) return fail("duplicate member name " + quote(key_));
    if (limits_.max_members != 0 && names.size() > limits_.max_members)
      return fail("an object has more members than the limit");
    return !in_object() || writer_.Key(s, len);
  }
  bool StartObject() {
    if (!enter()) return false;
    names_.emplace_back();
    if (depth_ == 3 && in_objects_) {  // an element of "objects" begins
      buffer_.Clear();
      writer_.Reset(buffer_);
      current_ = EnvelopeObject{};
      has_modified_ = false;
      object_open_ = true;
      begin_ = stream_.Tell();  // the iterative parser calls before it takes the brace
    } else if (depth_ == 2 && key_ == "objects") {
      out_.objects_not_list = true;
    } else if (depth_ == 2 && (key_ == "more" || key_ == "next")) {
      (key_ == "more" ? out_.more_not_bool : out_.next_not_string) = true;
    }
    return !in_object() || writer_.StartObject();
  }
  bool EndObject(rapidjson::SizeType n) {
    names_.pop_back();
    if (in_object() && !writer_.EndObject(n)) return false;
    if (depth_ == 3 && object_open_) {
      if (raw_) current_.json = body_.substr(begin_, stream_.Tell() + 1 - begin_);  // brace not yet taken
      else current_.json = keep(buffer_.GetString(), buffer_.GetSize());
      object_open_ = false;
      out_.objects.push_back(current_);
    }
    --depth_;
    return true;
  }
  bool StartArray() {
    if (!enter()) return false;
    if (depth_ == 2 && key_ == "objects") {
      in_objects_ = true;
      return true;
    }
    if (depth_ == 3 && in_objects_) return fail("an element of 'objects' is not an object");
    if (depth_ == 2 && (key_ == "more" || key_ == "next")) (key_ == "more" ? out_.more_not_bool : out_.next_not_string) = true;
    return !in_object() || writer_.StartArray();
  }
  bool EndArray(rapidjson::SizeType n) {
    if (depth_ == 2 && in_objects_) {
      in_objects_ = false;
      --depth_;
      return true;
    }
    if (in_object() && !writer_.EndArray(n)) return false;
    --depth_;
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  enum Scalar { kNull, kTrue, kFalse, kNumber };
  // The member names of one open object: a short list, a set past 32.
  class Names {
   public:
    bool add(const std::string& name) {
      if (set_.empty() && list_.size() < 32) {
        if (std::find(list_.begin(), list_.end(), name) != list_.end()) return false;
        list_.push_back(name);
        return true;
      }
      if (set_.empty()) set_.insert(list_.begin(), list_.end());
      return set_.insert(name).second;
    }
    std::size_t size() const { return set_.empty() ? list_.size() : set_.size(); }

   private:
    std::vector<std::string> list_;
    std::unordered_set<std::string> set_;
  };
  bool in_object() const { return object_open_ && !raw_; }
  bool enter() {
    ++depth_;
    if (limits_.max_depth != 0 && static_cast<std::size_t>(depth_) > limits_.max_depth)
      return fail("nesting deeper than the limit (--max-depth)");
    return true;
  }
  template <typename Write>
  bool scalar(Write write, Scalar kind) {
    if (depth_ == 1) {
      if (key_ == "more") {
        if (kind == kTrue || kind == kFalse) out_.more = kind == kTrue;
        else out_.more_not_bool = true;
      } else if (key_ == "next" && kind == kNumber) {
        out_.next_present = true;
      } else if (key_ == "next" && kind != kNull) {
        out_.next_not_string = true;
      } else if (key_ == "objects" && kind != kNull) {
        out_.objects_not_list = true;
      }
      return true;
    }
    if (depth_ == 2 && in_objects_) return fail("an element of 'objects' is not an object");
    return !in_object() || write();
  }
  bool check_string(const char* s, rapidjson::SizeType len) {
    if (limits_.max_string_bytes != 0 && len > limits_.max_string_bytes)
      return fail("a string is longer than the limit (--max-string-length)");
    for (rapidjson::SizeType i = 0; i + 1 < len; ++i)
      if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0)
        return fail("a string holds a lone UTF-16 surrogate");
    return true;
  }
  bool fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
    return false;
  }
  // A copy of a decoded string or a re-written object in the envelope's
  // arena, whose strings stay where they are.
  std::string_view keep(const char* s, std::size_t len) {
    if (!out_.arena) out_.arena = std::make_shared<std::deque<std::string>>();
    return out_.arena->emplace_back(s, len);
  }

  Envelope& out_;
  const json::Limits& limits_;
  const rapidjson::MemoryStream& stream_;
  std::string_view body_;
  bool raw_;
  std::size_t begin_ = 0;
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
  EnvelopeObject current_;
  std::vector<Names> names_{};
  std::string key_, error_;
  int depth_ = 0;
  bool in_objects_ = false, object_open_ = false, has_modified_ = false;
};

// A line break can only be formatting (JSON strings hold none raw): a body
// without one inside has its objects copied, anything else re-written.
bool one_line(std::string_view body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ')) body.remove_suffix(1);
  // (memchr per character: find_first_of would call it once per byte.)
  return std::memchr(body.data(), '\n', body.size()) == nullptr &&
         std::memchr(body.data(), '\r', body.size()) == nullptr;
}

// ---- The envelope scan ---------------------------------------------------------------

// read_envelope's fast path. RapidJSON's reader copies every string into its
// own stack and calls the handler once per token, and the handler keeps the
// names of every open object as strings: for a page of a thousand objects
// that is most of taxii-pull's CPU. The scan walks the bytes once instead,
// checks what the reader checks (the grammar, UTF-8, the limits, duplicate
// names) and keeps only views of the body. It knows the envelopes servers
// send: one line, names without escapes, plain numbers. For anything else
// (an error included) it gives up and the reader reads the page, so every
// page the scan passes on is one the reader accepts with the same result,
// and every message is the reader's.
#if defined(__x86_64__)
// skip_plain()'s loop with AVX2, for CPUs that have it (the build targets
// plain x86-64): from `p`, with at least 64 bytes before `end`, to the first
// byte a string needs to look at, or to where fewer than 64 bytes are left.
__attribute__((target("avx2"))) const char* skip_plain_avx2(const char* p, const char* end) {
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i backslash = _mm256_set1_epi8('\\');
  const __m256i space = _mm256_set1_epi8(0x20);
  while (end - p >= 64) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    // Signed, as in skip_plain(): "below 0x20" takes the bytes from 0x80.
    const __m256i special_a = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(a, quote), _mm256_cmpeq_epi8(a, backslash)), _mm256_cmpgt_epi8(space, a));
    const __m256i special_b = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(b, quote), _mm256_cmpeq_epi8(b, backslash)), _mm256_cmpgt_epi8(space, b));
    const auto low = static_cast<std::uint32_t>(_mm256_movemask_epi8(special_a));
    const auto high = static_cast<std::uint32_t>(_mm256_movemask_epi8(special_b));
    const std::uint64_t mask = std::uint64_t{high} << 32 | low;
    if (mask != 0) return p + __builtin_ctzll(mask);
    p += 64;
  }
  return p;
}

const bool kHaveAvx2 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
}();
#endif

class EnvelopeScan {
 public:
  EnvelopeScan(std::string_view body, const json::Limits& limits)
      : p_(body.data()), end_(body.data() + body.size()), limits_(limits) {}

  // Fills `out` (views of the body); false to leave the page to the reader.
  bool run(Envelope& out) {
    skip_space();
    if (p_ == end_ || *p_ != '{' || !enter(1)) return false;
    ++p_;
    Names& names = names_at(1);
    skip_space();
    if (!(p_ < end_ && closes('}'))) {
      for (;;) {
        std::string_view key;
        if (!name(names, key)) return false;
        skip_space();
        if (p_ == end_) return false;
        if (key == "more") {
          if (literal("true")) {
            out.more = true;
          } else if (literal("false")) {
            out.more = false;
          } else {
            return false;
          }
        } else if (key == "next") {
          if (*p_ == '"') {
            std::string_view token;
            bool escaped = false;
            if (!string(token, escaped) || escaped) return false;
            out.next.assign(token);
            out.next_present = true;
          } else if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) {
            const char* begin = p_;
            if (!number()) return false;
            out.next.assign(begin, p_);
            out.next_present = true;
          } else if (!literal("null")) {
            return false;
          }
        } else if (key == "objects") {
          if (*p_ == '[') {
            if (!objects(out)) return false;
          } else if (!literal("null")) {
            return false;
          }
        } else if (!value(1)) {
          return false;
        }
        if (!next_member()) return false;
        if (closes('}')) break;
      }
    }
    skip_space();
    return p_ == end_;
  }

 private:
  // Deeper nesting than this goes to the reader, whose parse is iterative.
  static constexpr int kMaxDepth = 200;
  // The member names of one open object; a larger object goes to the reader
  // (whose set of names keeps a long object from costing quadratic time).
  static constexpr std::size_t kMaxNames = 64;
  struct Names {
    std::vector<std::string_view> list;
    // A bit per name taken, by its length and last byte: a name whose bit
    // is clear is new without a search (most of a STIX object's are).
    std::uint64_t bits = 0;
    void clear() {
      list.clear();
      bits = 0;
    }
    static std::uint64_t bit(std::string_view name) {
      const unsigned last = name.empty() ? 0U : static_cast<unsigned char>(name.back());
      return std::uint64_t{1} << ((name.size() * 7 + last) & 63U);
    }
  };

  static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  void skip_space() {
    while (p_ < end_ && space(*p_)) ++p_;
  }
  // Whether a container at `depth` (the envelope is 1) is within the limit.
  bool enter(int depth) const {
    return depth <= kMaxDepth && (limits_.max_depth == 0 || static_cast<std::size_t>(depth) <= limits_.max_depth);
  }
  // The names of the object open at `depth`, emptied.
  Names& names_at(int depth) {
    if (names_.size() <= static_cast<std::size_t>(depth)) names_.resize(static_cast<std::size_t>(depth) + 1);
    Names& n = names_[static_cast<std::size_t>(depth)];
    n.clear();
    return n;
  }
  // After a member or an element: skips to the ',' (taken, then to the next
  // token) or the closing bracket (left for the caller).
  bool next_member() {
    skip_space();
    if (p_ == end_) return false;
    if (*p_ == ',') {
      ++p_;
      skip_space();
      return p_ < end_ && *p_ != '}' && *p_ != ']';
    }
    return *p_ == '}' || *p_ == ']';
  }
  // After next_member(): whether the container ends here (then past it).
  bool closes(char bracket) {
    if (*p_ != bracket) return false;
    ++p_;
    return true;
  }
  // A member name and its ':'; the name new in `names` and without escapes.
  bool name(Names& names, std::string_view& key) {
    if (p_ == end_ || *p_ != '"') return false;
    bool escaped = false;
    if (!string(key, escaped) || escaped) return false;
    const std::size_t taken = names.list.size();
    if (taken >= kMaxNames || (limits_.max_members != 0 && taken >= limits_.max_members)) return false;
    const std::uint64_t bit = Names::bit(key);
    if ((names.bits & bit) != 0 && std::find(names.list.begin(), names.list.end(), key) != names.list.end())
      return false;
    names.bits |= bit;
    names.list.push_back(key);
    skip_space();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    skip_space();
    return true;
  }
  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }
  // -?(0|[1-9][0-9]*)(.[0-9]+)? with few enough digits that the reader
  // cannot find it too big; an exponent goes to the reader.
  bool number() {
    if (*p_ == '-') ++p_;
    const char* digits = p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      if (p_ == digits || p_ - digits > 15) return false;
    }
    if (p_ < end_ && *p_ == '.') {
      const char* fraction = ++p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      if (p_ == fraction || p_ - fraction > 15) return false;
    }
    return p_ == end_ || (*p_ != 'e' && *p_ != 'E' && !(*p_ >= '0' && *p_ <= '9'));
  }
  // The bytes up to the first one a string needs to look at: '"', '\\', a
  // control character or a byte of a multi-byte sequence.
  static const char* skip_plain(const char* p, const char* end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    bool first = true;
    while (end - p >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      // Signed: bytes from 0x80 are negative, so "less than 0x20" takes them too.
      const __m128i special =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), _mm_cmplt_epi8(v, space));
      const int mask = _mm_movemask_epi8(special);
      if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
      p += 16;
#if defined(__x86_64__)
      // Past the first 16 bytes the string is a long one (a description):
      // 64 bytes a step where the processor has AVX2.
      if (first && kHaveAvx2 && end - p >= 64) {
        p = skip_plain_avx2(p, end);
        if (end - p >= 64) return p;  // (stopped at a byte to look at)
      }
#endif
      first = false;
    }
#endif
    while (p < end) {
      const auto c = static_cast<unsigned char>(*p);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      ++p;
    }
    return p;
  }
  // The length of the well-formed UTF-8 sequence (RFC 3629: no overlong
  // forms, no surrogates, nothing past U+10FFFF) at `p`, a byte from 0x80;
  // 0 when there is none.
  static int utf8_sequence(const char* p, const char* end) {
    const auto at = [&](int i) { return static_cast<unsigned char>(p[i]); };
    const auto tail = [&](int i) { return (at(i) & 0xC0) == 0x80; };
    const unsigned char c = at(0);
    const std::ptrdiff_t left = end - p;
    if (c >= 0xC2 && c <= 0xDF) return left >= 2 && tail(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
      if (left < 3 || !tail(1) || !tail(2)) return 0;
      if (c == 0xE0 && at(1) < 0xA0) return 0;   // overlong
      if (c == 0xED && at(1) >= 0xA0) return 0;  // a surrogate
      return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      if (left < 4 || !tail(1) || !tail(2) || !tail(3)) return 0;
      if (c == 0xF0 && at(1) < 0x90) return 0;   // overlong
      if (c == 0xF4 && at(1) >= 0x90) return 0;  // past U+10FFFF
      return 4;
    }
    return 0;
  }
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  // A string at '"': `raw` is what lies between the quotes, `escaped` says
  // whether it holds an escape. Its decoded length is checked against the
  // limit; a \u escape of a surrogate goes to the reader.
  bool string(std::string_view& raw, bool& escaped) {
    const char* begin = ++p_;
    std::size_t saved = 0;  // bytes the escapes take beyond what they stand for
    escaped = false;
    for (;;) {
      p_ = skip_plain(p_, end_);
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c == '\\') {
        escaped = true;
        if (end_ - p_ < 2) return false;
        switch (p_[1]) {
          case '"':
          case '\\':
          case '/':
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
            p_ += 2;
            ++saved;
            break;
          case 'u': {
            if (end_ - p_ < 6) return false;
            int code = 0;
            for (int i = 2; i < 6; ++i) {
              const int h = hex(p_[i]);
              if (h < 0) return false;
              code = code * 16 + h;
            }
            if (code >= 0xD800 && code <= 0xDFFF) return false;
            p_ += 6;
            saved += code < 0x80 ? 5 : code < 0x800 ? 4 : 3;
            break;
          }
          default:
            return false;
        }
        continue;
      }
      if (c < 0x20) return false;
      const int n = utf8_sequence(p_, end_);
      if (n == 0) return false;
      p_ += n;
    }
    raw = std::string_view(begin, static_cast<std::size_t>(p_ - begin));
    ++p_;
    return limits_.max_string_bytes == 0 || raw.size() - saved <= limits_.max_string_bytes;
  }
  // Any value, inside a container at `depth`.
  bool value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"': {
        std::string_view s;
        bool escaped = false;
        return string(s, escaped);
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  bool object(int depth) {
    if (!enter(depth)) return false;
    ++p_;
    Names& names = names_at(depth);
    skip_space();
    if (p_ < end_ && closes('}')) return true;
    for (;;) {
      std::string_view key;
      if (!name(names, key) || !value(depth) || !next_member()) return false;
      if (closes('}')) return true;
    }
  }
  bool array(int depth) {
    if (!enter(depth)) return false;
    ++p_;
    skip_space();
    if (p_ < end_ && closes(']')) return true;
    for (;;) {
      if (!value(depth) || !next_member()) return false;
      if (closes(']')) return true;
    }
  }
  // The "objects" list: every element an object, taken byte for byte.
  bool objects(Envelope& out) {
    if (!enter(2)) return false;
    ++p_;
    skip_space();
    if (p_ < end_ && closes(']')) return true;
    for (;;) {
      if (p_ == end_ || *p_ != '{') return false;
      EnvelopeObject o;
      if (!stix_object(o)) return false;
      out.objects.push_back(o);
      if (!next_member()) return false;
      if (closes(']')) return true;
    }
  }
  // One element of "objects" (depth 3), picking up id, type and version.
  bool stix_object(EnvelopeObject& o) {
    if (!enter(3)) return false;
    const char* begin = p_++;
    Names& names = names_at(3);
    std::string_view modified, created;
    bool has_modified = false, has_created = false;
    skip_space();
    if (!(p_ < end_ && closes('}'))) {
      for (;;) {
        std::string_view key;
        if (!name(names, key) || p_ == end_) return false;
        if (*p_ == '"') {
          std::string_view s;
          bool escaped = false;
          if (!string(s, escaped)) return false;
          std::string_view* kept = key == "id"         ? &o.id
                                   : key == "type"     ? &o.type
                                   : key == "modified" ? &modified
                                   : key == "created"  ? &created
                                                       : nullptr;
          if (kept != nullptr) {
            if (escaped) return false;  // the reader decodes it
            *kept = s;
            has_modified = has_modified || kept == &modified;
            has_created = has_created || kept == &created;
          }
        } else if (!value(3)) {
          return false;
        }
        if (!next_member()) return false;
        if (closes('}')) break;
      }
    }
    o.version = has_modified ? modified : has_created ? created : std::string_view();
    o.json = std::string_view(begin, static_cast<std::size_t>(p_ - begin));
    return true;
  }

  const char* p_;
  const char* end_;
  const json::Limits& limits_;
  std::deque<Names> names_;  // by depth; a deque, so growing it leaves open objects' names where they are
};

}  // namespace

namespace internal {

std::optional<Envelope> scan_envelope(std::string_view body, const json::Limits& limits) {
  if (!one_line(body)) return std::nullopt;
  Envelope out;
  if (!EnvelopeScan(body, limits).run(out)) return std::nullopt;
  return out;
}

Result<Envelope> parse_envelope(const std::string& url, std::string_view body, const json::Limits& limits) {
  Envelope out;
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(body.data(), body.size());
  EnvelopeHandler handler(out, limits, stream, body, one_line(body));
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag;
  const rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, handler);
  if (!ok) {
    const std::string at = " (at byte " + std::to_string(ok.Offset()) + ")";
    // Over a limit on untrusted JSON is bad input data (65); broken JSON is the server's protocol error (76).
    if (!handler.error().empty()) return Error(ErrorCategory::data, quote(url) + ": " + handler.error() + at);
    return protocol(url, std::string("response is not valid JSON: ") + rapidjson::GetParseError_En(ok.Code()) + at);
  }
  if (out.objects_not_list) return protocol(url, "'objects' is not a list");
  if (out.more_not_bool) return protocol(url, "'more' is not true or false");
  if (out.next_not_string) return protocol(url, "'next' is not a string");
  return out;
}

Result<Envelope> read_envelope(const std::string& url, std::string_view body, const json::Limits& limits) {
  if (auto scanned = scan_envelope(body, limits)) return std::move(*scanned);
  return parse_envelope(url, body, limits);
}

}  // namespace internal

namespace {

// The next token an envelope names in its first members, read without
// parsing: `{"more":true,"next":"TOKEN"` with no escape in TOKEN, the shape
// taxii-serve (and most servers) send. Only a guess, to fetch the following
// page while this one is checked: the parsed envelope decides whether that
// fetch is used, so a wrong guess costs one request and changes nothing.
// nullopt: no such token; an empty string: `body` is too short to tell.
constexpr std::string_view kHintPrefix = "{\"more\":true,\"next\":\"";
constexpr std::size_t kHintMaxToken = 4096;
std::optional<std::string> next_token_hint(std::string_view body) {
  if (body.size() < kHintPrefix.size())
    return kHintPrefix.starts_with(body) ? std::optional<std::string>("") : std::nullopt;
  if (!body.starts_with(kHintPrefix)) return std::nullopt;
  body.remove_prefix(kHintPrefix.size());
  const std::size_t end = body.substr(0, kHintMaxToken).find('"');
  if (end == std::string_view::npos) return body.size() < kHintMaxToken ? std::optional<std::string>("") : std::nullopt;
  const std::string_view token = body.substr(0, end);
  if (token.empty() || token.find('\\') != std::string_view::npos) return std::nullopt;
  return std::string(token);
}

// A page URL: the query without next (`base`), and the token.
std::string with_next(const std::string& base, std::string_view token) {
  if (token.empty()) return base;
  return base + (base.find('?') == std::string::npos ? '?' : '&') + "next=" + encode_query_value(std::string(token));
}

// Pages fetched ahead of the loop, each on a thread of its own. A page's
// first bytes name the next token (next_token_hint), so its fetch starts
// the following page's as soon as they arrive: the server prepares page
// N+2 while N+1 is still on its way and the loop checks N. At most
// kPagesAhead pages past the one the loop is at are requested.
// Nothing is delivered or saved here, so the cursor rule is untouched:
// objects and cursors are committed together by deliver().
class PageFetcher {
 public:
  static constexpr std::size_t kPagesAhead = 4;
  struct Fetch {
    std::string base, url;  // the query without next, and the URL asked for
    std::size_t index = 0;  // the page's number in the walk
    std::future<Result<Response>> response;
    // Started by this fetch's thread, before `response` is ready.
    std::unique_ptr<Fetch> successor;
    Fetch() = default;
    Fetch(const Fetch&) = delete;
    Fetch& operator=(const Fetch&) = delete;
    ~Fetch() {
      if (response.valid()) response.wait();  // its thread may still set successor
      successor.reset();
    }
  };

  explicit PageFetcher(const Client& client) : client_(client) {}

  // Page `index` of the walk at with_next(base, token), fetched on its own
  // thread; nullptr when no thread can be had (the caller fetches it).
  std::unique_ptr<Fetch> start(const std::string& base, std::string_view token, std::size_t index) {
    auto f = std::make_unique<Fetch>();
    f->base = base;
    f->url = with_next(base, token);
    f->index = index;
    RequestOptions options;
    options.on_body_start = [this, self = f.get()](std::string_view body) {
      auto hint = next_token_hint(body);
      if (hint && hint->empty()) return false;  // not enough bytes yet
      // (Once per page: a retried request shows its first bytes again.)
      if (hint && self->successor == nullptr && self->index + 1 <= at_.load() + kPagesAhead)
        self->successor = start(self->base, *hint, self->index + 1);
      return true;
    };
    try {
      f->response =
          std::async(std::launch::async, [this, u = f->url, options = std::move(options)]() -> Result<Response> {
            try {
              return request_same_origin(client_, "GET", u, {}, options);
            } catch (const std::exception& e) {
              return Error(ErrorCategory::internal, quote(u) + ": " + e.what());
            }
          });
    } catch (const std::exception&) {
      return nullptr;
    }
    return f;
  }
  // The loop is at page `index` (waiting for it or checking it).
  void at(std::size_t index) { at_ = index; }

 private:
  const Client& client_;
  std::atomic<std::size_t> at_{0};
};

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
  return partner_dir(partner) + "/" + detail::sha256_hex(what).substr(0, 24) + ".cursor";
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

std::string CursorStore::render(const Cursor& cursor, const std::string& api_root, const std::string& collection_id,
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

Status CursorStore::save(const std::string& path, const Cursor& cursor, const std::string& api_root,
                         const std::string& collection_id, const PullFilters& filters, const Timestamp& now) const {
  CTI_TRY_STATUS(make_directories(path.substr(0, path.rfind('/'))));
  auto written = write_file_atomically(path, render(cursor, api_root, collection_id, filters, now));
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
                                       Delivery& delivery) {
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
  // The cursor moves only to a date the server sent: an --added-after in
  // the future (a typo) must not make later runs skip what it passed over.
  out.cursor.added_after = from ? from->added_after : std::string();
  // The objects of the cursor's last page, not to be delivered again.
  ObjectKeys boundary;
  if (from && f.added_after.empty()) {
    out.cursor.boundary = from->boundary;
    for (const std::string& k : from->boundary) add_boundary_keys(k, boundary);
  }
  if (!added_after.empty() && !Timestamp::parse(added_after))
    return Error(ErrorCategory::usage, quote(added_after) + ": added_after is not a timestamp");
  std::optional<Timestamp> cursor_time;
  if (!out.cursor.added_after.empty()) {
    auto t = Timestamp::parse(out.cursor.added_after);
    if (t) cursor_time = *t;
  }

  const json::Limits& page_limits = settings.limits;  // a page's size is bounded by the client's max_response_bytes
  std::string next;
  std::size_t empty_pages = 0;
  // The page URL without next.
  const auto page_base = [&]() {
    std::string query = f.match_query();
    if (!added_after.empty()) add_param(query, "added_after", encode_query_value(added_after));
    if (f.limit > 0) add_param(query, "limit", std::to_string(f.limit));
    return query.empty() ? objects_url : objects_url + "?" + query;
  };
  PageFetcher fetcher(client);
  std::unique_ptr<PageFetcher::Fetch> ahead;  // the next page's fetch, when its URL could be guessed
  // The last page that held objects (and the bytes its views are of).
  std::optional<Envelope> boundary_page;
  std::shared_ptr<const std::string> boundary_body;
  for (;;) {
    const std::string query_base = page_base();
    const std::string url = with_next(query_base, next);
    fetcher.at(out.pages + 1);
    std::unique_ptr<PageFetcher::Fetch> current;
    if (ahead != nullptr && ahead->url == url) current = std::move(ahead);
    ahead.reset();  // a wrong guess: waited for and dropped, with what it started
    if (current == nullptr) current = fetcher.start(query_base, next, out.pages + 1);
    std::optional<Result<Response>> fetched;
    if (current != nullptr) {
      fetched.emplace(current->response.get());
      ahead = std::move(current->successor);
    } else {
      fetched.emplace(request_same_origin(client, "GET", url));  // no thread: in turn
    }
    Result<Response>& r = *fetched;
    if (!r) return std::move(r).error();
    if (r->status != 200) return http_error(*r, "GET");
    CTI_TRY_STATUS(check_taxii_media_type(*r));
    // The page's bytes stay with the pull (when it brings something new):
    // its objects are views of them.
    const auto body = std::make_shared<const std::string>(std::move(r->body));
    if (ahead == nullptr) {
      if (auto hint = next_token_hint(*body); hint && !hint->empty())
        ahead = fetcher.start(query_base, *hint, out.pages + 2);
    }
    auto envelope = internal::read_envelope(r->url, *body, page_limits);
    if (!envelope) return std::move(envelope).error();
    ++out.pages;
    const bool more = envelope->more.value_or(false);
    std::string page_next = std::move(envelope->next);
    const std::size_t new_before = out.keys.size(), page_objects = envelope->objects.size();
    for (const EnvelopeObject& object : envelope->objects) {
      if (object.id.empty() || object.type.empty()) return protocol(r->url, "an object without a string id and type");
      ++out.received;
      if (boundary.count(ObjectKey{object.id, object.version}) != 0) {
        ++out.duplicates;
        continue;
      }
      auto offer = delivery.add(object.json, object.id, object.version);
      if (!offer) return std::move(offer).error();
      if (offer->added == Delivery::Added::duplicate) {
        ++out.duplicates;
        continue;
      }
      out.keys.push_back(offer->key);
    }
    CTI_TRY_STATUS(delivery.flush());  // before the page's bytes go
    if (settings.limits.max_objects != 0 && out.keys.size() > settings.limits.max_objects)
      return Error(ErrorCategory::data, quote(r->url) + ": more than " + std::to_string(settings.limits.max_objects) +
                                            " new objects in one run (--max-objects)");

    const std::string* last = r->header("X-TAXII-Date-Added-Last");
    std::optional<Timestamp> last_time;
    if (last != nullptr && !last->empty()) {
      auto t = Timestamp::parse(*last);
      if (!t) return protocol(r->url, "X-TAXII-Date-Added-Last " + quote(last->substr(0, 64)) + " is not a timestamp");
      last_time = *t;
    }
    if (page_objects != 0) {
      if (!last_time)
        return protocol(r->url, "objects came without X-TAXII-Date-Added-Last, so no cursor can be kept");
      // The cursor only moves forward, even past a server that ignores added_after.
      if (!cursor_time || *cursor_time < *last_time) {
        cursor_time = *last_time;
        out.cursor.added_after = *last;
      }
      boundary_body = body;
      boundary_page = std::move(*envelope);  // its keys become the boundary after the last page
      empty_pages = 0;
    } else if (++empty_pages > settings.max_empty_pages) {
      return protocol(r->url, std::to_string(empty_pages) + " empty pages in a row while the server says more");
    }
    if (settings.progress)
      settings.progress(label + ": page " + std::to_string(out.pages) + ": " + std::to_string(page_objects) +
                        " object(s), " + std::to_string(out.keys.size()) + " new so far");
    if (!more) break;
    if (!page_next.empty()) {
      // Some servers keep one token for a whole walk (medallion does): the
      // same token is fine while it brings objects not seen before.
      if (page_next == next && out.keys.size() == new_before)
        return protocol(r->url, "the server sent the same next token again and nothing new; stopping rather than looping");
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
  if (boundary_page) {
    out.cursor.boundary.clear();
    for (const EnvelopeObject& object : boundary_page->objects)
      out.cursor.boundary.push_back(key_of(object.id, object.version));
  }
  return out;
}

std::size_t ObjectKeyHash::operator()(const ObjectKey& key) const {
  const std::hash<std::string_view> hash;
  return hash(key.id) * 31 + hash(key.version);
}

void CollectionPull::add(std::string json, std::string id, std::string version) {
  // One allocation holds the three; its strings never move.
  auto held = std::make_shared<const std::array<std::string, 3>>(
      std::array<std::string, 3>{std::move(json), std::move(id), std::move(version)});
  objects.push_back({(*held)[0], (*held)[1], (*held)[2]});
  keys.push_back({(*held)[1], (*held)[2]});
  storage.push_back(std::move(held));
}

std::vector<std::pair<std::string_view, std::string_view>> CollectionPull::versions() const {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  out.reserve(keys.size());
  for (const ObjectKey& k : keys) out.emplace_back(k.id, k.version);
  return out;
}

std::size_t PartnerPull::new_objects() const {
  std::size_t n = 0;
  for (const auto& c : collections) n += c.keys.size();
  return n;
}

namespace {

Result<PartnerPull> pull_collections(const Client& client, const Endpoint& endpoint, const CursorStore& cursors,
                                     const PullSettings& settings, Delivery& delivery) {
  PartnerPull out;
  out.partner = endpoint.name;
  out.api_root = endpoint.api_root;
  if (endpoint.collections.empty())
    return Error(ErrorCategory::config, "partner " + quote(endpoint.name) + ": no collections to pull");
  auto offered = list_collections(client);
  if (!offered) return std::move(offered).error();
  for (const auto& name : endpoint.collections) {
    auto collection = find_collection(*offered, name, endpoint.name);
    if (!collection) return std::move(collection).error();
    const std::string path = cursors.cursor_path(endpoint.name, endpoint.api_root, collection->id, settings.filters);
    auto from = cursors.load(path);
    if (!from) return std::move(from).error();
    auto pulled = pull_collection(client, *collection, *from, settings, delivery);
    if (!pulled) return std::move(pulled).error();
    pulled->cursor_path = path;
    out.collections.push_back(std::move(*pulled));
  }
  out.filters = settings.filters;
  return out;
}

}  // namespace

Result<PartnerPull> pull_partner(const Client& client, const Endpoint& endpoint, const CursorStore& cursors,
                                 const PullSettings& settings, Delivery& out) {
  CTI_TRY_STATUS(out.begin(endpoint.name));
  auto pulled = pull_collections(client, endpoint, cursors, settings, out);
  if (!pulled) {
    out.abandon();
    return pulled;
  }
  CTI_TRY_STATUS(out.end());
  return pulled;
}

}  // namespace ctishare::taxii
