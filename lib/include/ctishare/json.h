// A small JSON document model of our own, read through RapidJSON with limits
// and written deterministically. Numbers keep their original text and objects
// keep member order, so a read/write round trip leaves unknown and custom
// content unchanged. Duplicate member names (forbidden by I-JSON, which STIX
// requires) are rejected on input.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ctishare/result.h"

namespace ctishare::json {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;  // insertion order kept; names unique

// A number as written in the source text ("1.50e3" stays "1.50e3").
struct Number {
  std::string text;
};

class Value {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Value() = default;
  Value(std::nullptr_t) {}                                   // NOLINT
  Value(bool b) : v_(b) {}                                   // NOLINT
  Value(int i) : v_(Number{std::to_string(i)}) {}            // NOLINT
  Value(std::int64_t i) : v_(Number{std::to_string(i)}) {}   // NOLINT
  Value(Number n) : v_(std::move(n)) {}                      // NOLINT
  Value(std::string s) : v_(std::move(s)) {}                 // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}          // NOLINT
  Value(const char* s) : v_(std::string(s)) {}               // NOLINT
  Value(Array a) : v_(std::move(a)) {}                       // NOLINT
  Value(Object o) : v_(std::move(o)) {}                      // NOLINT

  // A number from a double; NaN and infinities are not JSON and become null.
  static Value from_double(double d);

  Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
  bool is_null() const noexcept { return kind() == Kind::null; }
  bool is_bool() const noexcept { return kind() == Kind::boolean; }
  bool is_number() const noexcept { return kind() == Kind::number; }
  bool is_string() const noexcept { return kind() == Kind::string; }
  bool is_array() const noexcept { return kind() == Kind::array; }
  bool is_object() const noexcept { return kind() == Kind::object; }

  // Accessors require the matching kind.
  bool as_bool() const { return std::get<bool>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Number& as_number() const { return std::get<Number>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // The number as an integer when it is one exactly (no fraction, no
  // exponent that leaves one, within int64); nullopt otherwise.
  std::optional<std::int64_t> as_int64() const;
  // The number as a double; nullopt for non-numbers.
  std::optional<double> as_double() const;

  // Member lookup on an object; nullptr when absent or not an object.
  const Value* find(std::string_view name) const;
  Value* find(std::string_view name);
  // The member's string, or nullopt when absent or not a string.
  std::optional<std::string_view> find_string(std::string_view name) const;
  // Sets a member, replacing its value in place or appending it at the end.
  void set(std::string_view name, Value value);
  // Removes a member; returns whether it was present.
  bool erase(std::string_view name);

  friend bool operator==(const Value& a, const Value& b);

 private:
  std::variant<std::nullptr_t, bool, Number, std::string, Array, Object> v_;
};

// Bounds on untrusted input. Each breach is an ErrorCategory::data error whose
// message names the limit and the flag that raises it. Zero means no limit.
struct Limits {
  std::size_t max_depth = 64;                          // --max-depth
  std::uint64_t max_document_bytes = 1ULL << 32;       // --max-input-size (whole input)
  std::size_t max_string_bytes = 1U << 20;             // --max-string-length
  std::uint64_t max_objects = 10'000'000;              // --max-objects (STIX objects per input)
  std::size_t max_members = 100'000;                   // members of one JSON object or array
};

// Parses exactly one JSON document held in memory.
// Returns the value, or a data error naming the byte offset and the problem.
Result<Value> parse(std::string_view text, const Limits& limits = {});

// Reads a stream of top-level JSON values (one document, or one value per
// line as in NDJSON) and hands each to `on_value` as soon as it is complete.
// When `split_array_key` is set and a top-level object has an array member of
// that name (a STIX bundle's "objects"), the elements of that array are handed
// over one at a time as they are read, so the whole array is never held in
// memory; the rest of that object is handed over at its end with the array
// left out (kind envelope). A top-level array is split the same way; its
// envelope is null. Returns the first error from parsing or from `on_value`.
struct StreamEvent {
  enum class Kind { value, element, envelope };
  Kind kind;            // value: a whole top-level value; element: one array
                        // element; envelope: the rest of the split object
  std::uint64_t line;   // line where the value started (1-based; 0 from parse_split)
  std::uint64_t index;  // 0-based index of the top-level value or the element
  // An element that is an object or array: its bytes, as the byte offset
  // of its opening bracket in the input and its size (0 for others).
  std::size_t offset = 0, size = 0;
};
using ValueSink = std::function<Status(Value&&, const StreamEvent&)>;
Status parse_stream(std::istream& in, const Limits& limits, std::string_view split_array_key,
                    const ValueSink& on_value);

// Parses exactly one JSON document held in memory, as parse(), splitting
// it as parse_stream() does: each element of the top-level object's array
// member `split_array_key` (or of a top-level array) goes to `on_value` as
// soon as it is complete and is not kept, then the rest (kind envelope);
// a document without such an array goes whole (kind value). The elements
// are handed over before the document is known to be valid to its end, so
// a caller acts on them only once this returns success.
Status parse_split(std::string_view text, const Limits& limits, std::string_view split_array_key,
                   const ValueSink& on_value);

// Output layout: compact (no whitespace) or pretty (two-space indent).
enum class Layout { compact, pretty };

// Appends the serialisation of `value` to `out`. Deterministic: member order
// as stored, numbers as stored, strings escaped minimally ("\"", "\\" and
// control characters), UTF-8 otherwise. `indent` is the starting depth.
void write(const Value& value, std::string& out, Layout layout = Layout::compact, int indent = 0);
std::string to_string(const Value& value, Layout layout = Layout::compact);

// Appends `s` as a JSON string literal (with quotes) to `out`.
void write_string(std::string_view s, std::string& out);

// Whether `value`, the text of one JSON value that parse() accepts, is
// exactly what write() (compact) gives for it.
bool is_compact(std::string_view value);

// RFC 8785 (JSON Canonicalization Scheme) serialisation: members sorted by
// UTF-16 code units, numbers in ECMAScript form, minimal string escaping.
// Fails (data error) for a number that is not a finite double.
Result<std::string> canonicalize(const Value& value);

}  // namespace ctishare::json
