// JSON reading (RapidJSON SAX into json::Value, with limits and duplicate-name
// detection), deterministic writing, and RFC 8785 canonicalisation.
#include "ctishare/json.h"

#include "core/utf8.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

namespace ctishare::json {

// ---------------------------------------------------------------- Value

Value Value::from_double(double d) {
  if (!std::isfinite(d)) return Value();
  std::array<char, 32> buf{};
  auto res = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  return Value(Number{std::string(buf.data(), res.ptr)});
}

std::optional<std::int64_t> Value::as_int64() const {
  if (!is_number()) return std::nullopt;
  const std::string& t = as_number().text;
  std::int64_t out = 0;
  auto res = std::from_chars(t.data(), t.data() + t.size(), out);
  if (res.ec == std::errc() && res.ptr == t.data() + t.size()) return out;
  // Forms such as 1.0 or 1e2 are integers too.
  auto d = as_double();
  if (!d || std::floor(*d) != *d || std::fabs(*d) > 9007199254740991.0) return std::nullopt;
  return static_cast<std::int64_t>(*d);
}

std::optional<double> Value::as_double() const {
  if (!is_number()) return std::nullopt;
  const std::string& t = as_number().text;
  double out = 0;
  auto res = std::from_chars(t.data(), t.data() + t.size(), out);
  if (res.ec != std::errc() || res.ptr != t.data() + t.size()) return std::nullopt;
  return out;
}

const Value* Value::find(std::string_view name) const {
  if (!is_object()) return nullptr;
  for (const auto& m : as_object())
    if (m.first == name) return &m.second;
  return nullptr;
}

Value* Value::find(std::string_view name) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(name));
}

std::optional<std::string_view> Value::find_string(std::string_view name) const {
  const Value* v = find(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->as_string());
}

void Value::set(std::string_view name, Value value) {
  if (!is_object()) v_ = Object{};
  if (Value* existing = find(name)) {
    *existing = std::move(value);
    return;
  }
  as_object().emplace_back(std::string(name), std::move(value));
}

bool Value::erase(std::string_view name) {
  if (!is_object()) return false;
  auto& o = as_object();
  auto it = std::find_if(o.begin(), o.end(), [&](const Member& m) { return m.first == name; });
  if (it == o.end()) return false;
  o.erase(it);
  return true;
}

bool operator==(const Number& a, const Number& b) { return a.text == b.text; }

bool operator==(const Value& a, const Value& b) { return a.v_ == b.v_; }

// ---------------------------------------------------------------- reading

namespace {

constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                            rapidjson::kParseNumbersAsStringsFlag;
// For text already known to be UTF-8 (detail::valid_utf8, as strict as
// RapidJSON's own check, ASCII eight bytes at a time): RapidJSON validates
// strings a character at a time, the largest part of parsing a STIX object.
// Text that fails the check is parsed with RapidJSON's, for its error.
constexpr unsigned kFlagsValidUtf8 = kFlags & ~rapidjson::kParseValidateEncodingFlag;

// A RapidJSON input stream over std::istream with a 64 KiB buffer, a byte
// budget and line counting.
class IStreamSource {
 public:
  using Ch = char;
  IStreamSource(std::istream& in, std::uint64_t max_bytes) : in_(in), max_bytes_(max_bytes) {}

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

  // Lines are counted only when asked for (once per object), not per
  // character: the newlines between the last count and the read position.
  std::uint64_t line() {
    line_ += static_cast<std::uint64_t>(std::count(buf_.data() + counted_, buf_.data() + pos_, '\n'));
    counted_ = pos_;
    return line_;
  }
  // True at the real end of the input (Peek() also returns '\0' for a NUL byte).
  bool at_end() {
    Peek();
    return pos_ == len_;
  }
  bool over_limit() const { return over_limit_; }
  bool read_failed() const { return read_failed_; }

 private:
  [[gnu::noinline]] void fill() {
    if (over_limit_ || eof_) return;
    line();  // count the rest of the old buffer before it is replaced
    base_ += len_;
    counted_ = 0;
    pos_ = 0;
    len_ = 0;
    in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    len_ = static_cast<std::size_t>(in_.gcount());
    pos_ = 0;
    if (len_ == 0) {
      eof_ = true;
      if (in_.bad()) read_failed_ = true;
      return;
    }
    if (max_bytes_ != 0 && base_ + len_ > max_bytes_) {
      // Hand out only what fits; the parser then sees a premature end.
      len_ = static_cast<std::size_t>(max_bytes_ - base_);
      over_limit_ = true;
    }
  }

  std::istream& in_;
  std::uint64_t max_bytes_;
  std::array<char, 65536> buf_{};
  std::size_t pos_ = 0;
  std::size_t len_ = 0;
  std::uint64_t base_ = 0;     // bytes of the input before buf_
  std::size_t counted_ = 0;    // buf_ position up to which newlines are in line_
  std::uint64_t line_ = 1;
  bool eof_ = false;
  bool over_limit_ = false;
  bool read_failed_ = false;
};

Status check_duplicates(const Object& o) {
  const std::size_t n = o.size();
  if (n < 2) return {};
  if (n <= 16) {
    for (std::size_t i = 1; i < n; ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (o[i].first == o[j].first)
          return Error(ErrorCategory::data, "duplicate member name " + quote(o[i].first));
    return {};
  }
  std::vector<std::string_view> names;
  names.reserve(n);
  for (const auto& m : o) names.emplace_back(m.first);
  std::sort(names.begin(), names.end());
  auto it = std::adjacent_find(names.begin(), names.end());
  if (it != names.end())
    return Error(ErrorCategory::data, "duplicate member name " + quote(*it));
  return {};
}

// SAX handler building Values; in split mode hands array elements of the
// named top-level member to a sink one at a time.
template <typename Source>
class Builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Builder<Source>> {
 public:
  Builder(const Limits& limits, Source* source, std::string_view split_key, const ValueSink* sink)
      : limits_(limits), source_(source), split_key_(split_key), sink_(sink) {}

  void reset() {
    root_ = Value();
    stack_.clear();
    element_root_ = Value();
    splitting_ = false;
    split_done_ = false;
    key_.clear();
    element_index_ = 0;
  }

  bool Null() { return place(Value()); }
  bool Bool(bool b) { return place(Value(b)); }
  bool Int(int) { return fail_internal(); }
  bool Uint(unsigned) { return fail_internal(); }
  bool Int64(std::int64_t) { return fail_internal(); }
  bool Uint64(std::uint64_t) { return fail_internal(); }
  bool Double(double) { return fail_internal(); }
  bool RawNumber(const char* s, rapidjson::SizeType len, bool) {
    return place(Value(Number{std::string(s, len)}));
  }
  bool String(const char* s, rapidjson::SizeType len, bool) {
    if (!check_string(len) || !check_surrogates(s, len)) return false;
    return place(Value(std::string(s, len)));
  }
  bool Key(const char* s, rapidjson::SizeType len, bool) {
    if (!check_string(len) || !check_surrogates(s, len)) return false;
    if (split_done_ && split_level_ == 1 && stack_.size() == 1 && std::string_view(s, len) == split_key_)
      return fail(Error(ErrorCategory::data, "duplicate member name " + quote(split_key_)));
    key_.assign(s, len);
    return true;
  }
  bool StartObject() { return open(Value(Object{})); }
  bool EndObject(rapidjson::SizeType) {
    Value* top = stack_.back();
    Status dup = check_duplicates(top->as_object());
    if (!dup) return fail(std::move(dup).error());
    return close();
  }
  bool StartArray() {
    if (!split_key_.empty() && !splitting_ && !split_done_ &&
        ((stack_.size() == 1 && root_.is_object() && key_ == split_key_) || stack_.empty())) {
      // The named member of a top-level object, or a top-level array: its
      // elements are handed over one at a time.
      splitting_ = true;
      split_level_ = stack_.size();
      key_.clear();
      return true;
    }
    return open(Value(Array{}));
  }
  bool EndArray(rapidjson::SizeType) {
    if (splitting_ && stack_.size() == split_level_) {
      splitting_ = false;
      split_done_ = true;
      return true;
    }
    return close();
  }

  Value take_root() { return std::move(root_); }
  bool was_split() const { return split_done_; }
  Error& error() { return error_; }
  bool has_error() const { return has_error_; }

 private:
  bool check_string(rapidjson::SizeType len) {
    if (limits_.max_string_bytes != 0 && len > limits_.max_string_bytes)
      return fail(Error(ErrorCategory::data,
                        "string longer than the limit of " + std::to_string(limits_.max_string_bytes) +
                            " bytes (--max-string-length)"));
    return true;
  }

  // RapidJSON 1.1 decodes an escaped lone low surrogate ("\udc00") into
  // bytes that are not UTF-8 (ED B0..BF ..); I-JSON forbids them.
  bool check_surrogates(const char* s, rapidjson::SizeType len) {
    for (rapidjson::SizeType i = 0; i + 1 < len; ++i)
      if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0)
        return fail(Error(ErrorCategory::data, "string holds a lone UTF-16 surrogate, which is not valid Unicode"));
    return true;
  }

  bool fail_internal() { return fail(Error(ErrorCategory::internal, "unexpected number event")); }

  bool fail(Error e) {
    error_ = std::move(e);
    has_error_ = true;
    return false;
  }

  // Places a value at the current position; returns it through `placed`.
  bool place_at(Value v, Value** placed) {
    if (splitting_ && stack_.size() == split_level_) {
      // A new element of the split array begins.
      element_root_ = std::move(v);
      element_line_ = source_ != nullptr ? source_->line() : 1;
      *placed = &element_root_;
      return true;
    }
    if (stack_.empty()) {
      root_ = std::move(v);
      *placed = &root_;
      return true;
    }
    Value* top = stack_.back();
    if (top->is_object()) {
      auto& o = top->as_object();
      if (limits_.max_members != 0 && o.size() >= limits_.max_members)
        return fail(members_error());
      o.emplace_back(std::move(key_), std::move(v));
      key_.clear();
      *placed = &o.back().second;
    } else {
      auto& a = top->as_array();
      if (limits_.max_members != 0 && a.size() >= limits_.max_members)
        return fail(members_error());
      a.push_back(std::move(v));
      *placed = &a.back();
    }
    return true;
  }

  Error members_error() const {
    return Error(ErrorCategory::data, "more than " + std::to_string(limits_.max_members) +
                                          " members in one JSON object or array");
  }

  bool place(Value v) {
    Value* placed = nullptr;
    if (!place_at(std::move(v), &placed)) return false;
    if (splitting_ && stack_.size() == split_level_) return emit_element();
    return true;
  }

  bool open(Value v) {
    // An element of the split array that is a container: its opening
    // bracket was the last byte read.
    if (splitting_ && stack_.size() == split_level_ && source_ != nullptr) element_offset_ = source_->Tell() - 1;
    Value* placed = nullptr;
    if (!place_at(std::move(v), &placed)) return false;
    stack_.push_back(placed);
    // Depth counts every open container, the split array included.
    std::size_t depth = stack_.size() + (splitting_ ? 1 : 0);
    if (limits_.max_depth != 0 && depth > limits_.max_depth)
      return fail(Error(ErrorCategory::data, "JSON nested deeper than the limit of " +
                                                 std::to_string(limits_.max_depth) + " levels (--max-depth)"));
    return true;
  }

  bool close() {
    stack_.pop_back();
    if (splitting_ && stack_.size() == split_level_) {
      // Its closing bracket was the last byte read.
      if (source_ != nullptr) element_size_ = source_->Tell() - element_offset_;
      return emit_element();
    }
    return true;
  }

  bool emit_element() {
    StreamEvent ev{StreamEvent::Kind::element, element_line_, element_index_++, element_offset_, element_size_};
    element_offset_ = element_size_ = 0;
    Status s = (*sink_)(std::move(element_root_), ev);
    element_root_ = Value();
    if (!s) return fail(std::move(s).error());
    return true;
  }

  const Limits& limits_;
  Source* source_;
  std::string_view split_key_;
  const ValueSink* sink_;
  Value root_;
  Value element_root_;
  std::vector<Value*> stack_;
  std::string key_;
  bool splitting_ = false;
  bool split_done_ = false;
  std::size_t split_level_ = 1;  // open containers around the split array's elements
  std::uint64_t element_index_ = 0;
  std::uint64_t element_line_ = 1;
  std::size_t element_offset_ = 0, element_size_ = 0;
  Error error_{ErrorCategory::internal, {}};
  bool has_error_ = false;
};

Error syntax_error(const rapidjson::ParseResult& r, std::uint64_t line) {
  std::string msg = "invalid JSON at byte " + std::to_string(r.Offset());
  if (line != 0) msg += " (line " + std::to_string(line) + ")";
  msg += ": ";
  std::string what = rapidjson::GetParseError_En(r.Code());
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  if (!what.empty() && what.back() == '.') what.pop_back();
  return Error(ErrorCategory::data, msg + what);
}

}  // namespace

namespace {
// A Builder's view of an in-memory document (parse_split): positions, and
// no line numbers.
struct MemorySource {
  const rapidjson::MemoryStream& stream;
  std::uint64_t line() const { return 0; }
  std::size_t Tell() const { return stream.Tell(); }
};

// Runs `builder` over the document `text` read through `ms`: what parse()
// and parse_split() share.
template <typename Source>
Status parse_memory(std::string_view text, const Limits& limits, rapidjson::MemoryStream& ms,
                    Builder<Source>& builder) {
  if (limits.max_document_bytes != 0 && text.size() > limits.max_document_bytes)
    return Error(ErrorCategory::data, "input larger than the limit of " + std::to_string(limits.max_document_bytes) +
                                          " bytes (--max-input-size)");
  rapidjson::Reader reader;
  rapidjson::ParseResult r =
      detail::valid_utf8(text) ? reader.Parse<kFlagsValidUtf8>(ms, builder) : reader.Parse<kFlags>(ms, builder);
  if (builder.has_error()) return std::move(builder.error());
  if (r.IsError()) return syntax_error(r, 0);
  // RapidJSON reads a NUL byte as the end of the input; there must be none.
  if (ms.Tell() != text.size())
    return Error(ErrorCategory::data, "invalid JSON at byte " + std::to_string(ms.Tell()) + ": NUL byte in the input");
  return {};
}
}  // namespace

Result<Value> parse(std::string_view text, const Limits& limits) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  Builder<IStreamSource> builder(limits, nullptr, {}, nullptr);
  CTI_TRY_STATUS(parse_memory(text, limits, ms, builder));
  return builder.take_root();
}

Status parse_split(std::string_view text, const Limits& limits, std::string_view split_array_key,
                   const ValueSink& on_value) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  MemorySource source{ms};
  Builder<MemorySource> builder(limits, &source, split_array_key, &on_value);
  CTI_TRY_STATUS(parse_memory(text, limits, ms, builder));
  StreamEvent ev{builder.was_split() ? StreamEvent::Kind::envelope : StreamEvent::Kind::value, 0, 0};
  return on_value(builder.take_root(), ev);
}

Status parse_stream(std::istream& in, const Limits& limits, std::string_view split_array_key,
                    const ValueSink& on_value) {
  IStreamSource src(in, limits.max_document_bytes);
  Builder<IStreamSource> builder(limits, &src, split_array_key, &on_value);
  rapidjson::Reader reader;
  std::uint64_t index = 0;
  // A UTF-8 byte order mark is allowed at the very start (RFC 8259 §8.1).
  if (static_cast<unsigned char>(src.Peek()) == 0xEF) {
    src.Take();
    if (static_cast<unsigned char>(src.Take()) != 0xBB || static_cast<unsigned char>(src.Take()) != 0xBF)
      return Error(ErrorCategory::data, "invalid JSON at byte 0: invalid encoding");
  }
  for (;;) {
    char c = src.Peek();
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      src.Take();
      c = src.Peek();
    }
    if (c == '\0') {
      if (src.at_end()) break;
      return Error(ErrorCategory::data, "invalid JSON at byte " + std::to_string(src.Tell()) + " (line " +
                                            std::to_string(src.line()) + "): NUL byte in the input");
    }
    const std::uint64_t line = src.line();
    builder.reset();
    rapidjson::ParseResult r = reader.Parse<kFlags | rapidjson::kParseStopWhenDoneFlag>(src, builder);
    if (builder.has_error()) return std::move(builder.error());
    if (src.read_failed()) return Error(ErrorCategory::io, "read failed");
    if (src.over_limit())
      return Error(ErrorCategory::data, "input larger than the limit of " +
                                            std::to_string(limits.max_document_bytes) + " bytes (--max-input-size)");
    if (r.IsError()) return syntax_error(r, src.line());
    StreamEvent ev{builder.was_split() ? StreamEvent::Kind::envelope : StreamEvent::Kind::value, line, index};
    CTI_TRY_STATUS(on_value(builder.take_root(), ev));
    ++index;
  }
  if (src.read_failed()) return Error(ErrorCategory::io, "read failed");
  return {};
}

// ---------------------------------------------------------------- writing

namespace {
// Bytes that need an escape in a JSON string.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
  t['"'] = t['\\'] = true;
  return t;
}();
}  // namespace

namespace {
// True when any of the 8 bytes in `w` is below 0x20, '"' or '\\' (SWAR).
inline bool word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t x) { return ((x - kOnes) & ~x & kHigh) != 0; };
  const bool below_space = ((w - kOnes * 0x20) & ~w & kHigh) != 0;
  return below_space || has_zero(w ^ (kOnes * '"')) || has_zero(w ^ (kOnes * '\\'));
}
}  // namespace

void write_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    // Skip 8 clean bytes at a time; most strings need no escape at all.
    if (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!word_needs_escape(w)) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (!kNeedsEscape[c]) {
      ++i;
      continue;
    }
    out.append(s.data() + start, i - start);
    start = i + 1;
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(s.data() + start, s.size() - start);
  out += '"';
}

namespace {
void newline(std::string& out, int depth) {
  out += '\n';
  out.append(static_cast<std::size_t>(depth) * 2, ' ');
}
}  // namespace

void write(const Value& v, std::string& out, Layout layout, int indent) {
  const bool pretty = layout == Layout::pretty;
  switch (v.kind()) {
    case Value::Kind::null: out += "null"; return;
    case Value::Kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::number: out += v.as_number().text; return;
    case Value::Kind::string: write_string(v.as_string(), out); return;
    case Value::Kind::array: {
      const auto& a = v.as_array();
      out += '[';
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i != 0) out += ',';
        if (pretty) newline(out, indent + 1);
        write(a[i], out, layout, indent + 1);
      }
      if (pretty && !a.empty()) newline(out, indent);
      out += ']';
      return;
    }
    case Value::Kind::object: {
      const auto& o = v.as_object();
      out += '{';
      for (std::size_t i = 0; i < o.size(); ++i) {
        if (i != 0) out += ',';
        if (pretty) newline(out, indent + 1);
        write_string(o[i].first, out);
        out += pretty ? ": " : ":";
        write(o[i].second, out, layout, indent + 1);
      }
      if (pretty && !o.empty()) newline(out, indent);
      out += '}';
      return;
    }
  }
}

std::string to_string(const Value& value, Layout layout) {
  std::string out;
  write(value, out, layout);
  return out;
}

// ---------------------------------------------------------------- spans

namespace {

// Walks text that parse() accepted, so it checks only what it must to find
// its way (and never reads past the end whatever the text). Whether a
// value's bytes are write()'s compact form is decided on the way: parse()
// keeps member order and number text, so only whitespace between tokens
// and the choice of escapes can differ.
class CompactScanner {
 public:
  explicit CompactScanner(std::string_view text) : t_(text) {}

  // Whether the text is one value written exactly as write() would.
  bool compact_value() {
    bool compact = true;
    skip_value(compact);
    return compact && i_ == t_.size();
  }

 private:
  char peek() const { return i_ < t_.size() ? t_[i_] : '\0'; }
  static bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

  // One value from i_; containers to their closing bracket.
  void skip_value(bool& compact) {
    std::size_t depth = 0;
    do {
      const char c = peek();
      if (c == '"') {
        skip_string(compact);
      } else if (c == '{' || c == '[') {
        ++depth;
        ++i_;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return;  // not a value: the caller's bracket
        --depth;
        ++i_;
      } else if (c == ',' || c == ':') {
        ++i_;
      } else if (space(c)) {
        compact = false;
        ++i_;
      } else {  // a number, true, false or null: up to the next delimiter
        while (i_ < t_.size() && !space(t_[i_]) && t_[i_] != ',' && t_[i_] != ':' && t_[i_] != '}' && t_[i_] != ']')
          ++i_;
      }
    } while (depth > 0 && i_ < t_.size());
  }

  // The string starting at i_ (a '"'), through its closing quote. Compact
  // when every escape is the one write_string() chooses: \" \\ \b \f \n \r
  // \t, and \u00xx (lower-case hex) for the other control characters.
  void skip_string(bool& compact) {
    ++i_;
    const std::size_t n = t_.size();
    while (i_ < n) {
      if (i_ + 8 <= n) {
        std::uint64_t w;
        std::memcpy(&w, t_.data() + i_, 8);
        if (!word_needs_escape(w)) {
          i_ += 8;
          continue;
        }
      }
      const char c = t_[i_];
      if (c == '"') {
        ++i_;
        return;
      }
      if (c != '\\') {
        // A raw control character cannot be in parsed text; never compact.
        if (static_cast<unsigned char>(c) < 0x20) compact = false;
        ++i_;
        continue;
      }
      const char e = i_ + 1 < n ? t_[i_ + 1] : '\0';
      if (e == 'u') {
        const std::string_view hex = i_ + 2 <= n ? t_.substr(i_ + 2, 4) : std::string_view();
        const auto lower_hex = [](char h) { return (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f'); };
        const bool control =
            hex.size() == 4 && hex[0] == '0' && hex[1] == '0' && (hex[2] == '0' || hex[2] == '1') && lower_hex(hex[3]);
        // Control characters with a short escape are written with it.
        const bool short_form = control && hex[2] == '0' &&
                                (hex[3] == '8' || hex[3] == '9' || hex[3] == 'a' || hex[3] == 'c' || hex[3] == 'd');
        if (!control || short_form) compact = false;
        i_ += 6;
        continue;
      }
      if (e != '"' && e != '\\' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') compact = false;
      i_ += 2;
    }
  }

  std::string_view t_;
  std::size_t i_ = 0;
};

}  // namespace

bool is_compact(std::string_view value) { return CompactScanner(value).compact_value(); }

// ---------------------------------------------------------------- RFC 8785

namespace {

std::u16string utf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    char32_t cp = 0;
    std::size_t n = 1;
    if (c < 0x80) cp = c;
    else if ((c >> 5) == 0x6) { cp = c & 0x1F; n = 2; }
    else if ((c >> 4) == 0xE) { cp = c & 0x0F; n = 3; }
    else { cp = c & 0x07; n = 4; }
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (cp >> 10));
      out += static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

// ECMAScript Number.prototype.toString for a finite double (RFC 8785 §3.2.2.3).
std::string es_number(double d) {
  if (d == 0) return "0";
  std::string out;
  if (d < 0) {
    out += '-';
    d = -d;
  }
  std::array<char, 64> buf{};
  auto res = std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
  std::string_view sci(buf.data(), static_cast<std::size_t>(res.ptr - buf.data()));
  auto epos = sci.find('e');
  std::string digits;
  for (char ch : sci.substr(0, epos))
    if (ch != '.') digits += ch;
  int exp10 = 0;
  std::string_view es = sci.substr(epos + 1);
  std::from_chars(es.data() + (es[0] == '+' ? 1 : 0), es.data() + es.size(), exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n));
    out += '.';
    out += digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += 'e';
    out += (n - 1) >= 0 ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

Status canonical(const Value& v, std::string& out) {
  switch (v.kind()) {
    case Value::Kind::null:
    case Value::Kind::boolean:
    case Value::Kind::string: write(v, out); return {};
    case Value::Kind::number: {
      auto d = v.as_double();
      if (!d || !std::isfinite(*d))
        return Error(ErrorCategory::data, "number " + quote(v.as_number().text) + " is not a finite double");
      out += es_number(*d);
      return {};
    }
    case Value::Kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out += ',';
        first = false;
        CTI_TRY_STATUS(canonical(e, out));
      }
      out += ']';
      return {};
    }
    case Value::Kind::object: {
      const auto& o = v.as_object();
      std::vector<std::pair<std::u16string, const Member*>> sorted;
      sorted.reserve(o.size());
      for (const auto& m : o) sorted.emplace_back(utf16(m.first), &m);
      std::sort(sorted.begin(), sorted.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      bool first = true;
      for (const auto& [key, m] : sorted) {
        if (!first) out += ',';
        first = false;
        write_string(m->first, out);
        out += ':';
        CTI_TRY_STATUS(canonical(m->second, out));
      }
      out += '}';
      return {};
    }
  }
  return {};
}

}  // namespace

Result<std::string> canonicalize(const Value& value) {
  std::string out;
  CTI_TRY_STATUS(canonical(value, out));
  return out;
}

}  // namespace ctishare::json
