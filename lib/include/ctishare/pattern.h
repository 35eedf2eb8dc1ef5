// Building STIX patterns (§9) from a small syntax tree, so that values are
// always escaped: a quote or backslash inside a value can neither end the
// string literal nor add a comparison. Parsing patterns is separate.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ctishare::stix::pattern {

// An object path: "<type>:<step>(.<step>)*". Steps that are not plain
// identifiers (e.g. "SHA-256") are written quoted: file:hashes.'SHA-256'.
struct ObjectPath {
  std::string object_type;
  std::vector<std::string> steps;
};

enum class Operator { equal, not_equal, less, less_equal, greater, greater_equal, like, matches, issubset, issuperset };

// "<path> <op> '<value>'" with the value as an escaped string literal.
struct Comparison {
  ObjectPath path;
  Operator op = Operator::equal;
  std::string value;
  bool negated = false;  // NOT before the operator
};

enum class Join { and_, or_ };

// "[" comparisons joined by AND/OR "]".
struct Observation {
  std::vector<Comparison> comparisons;
  Join join = Join::and_;
};

// Observations joined by AND/OR/FOLLOWEDBY.
enum class ObservationJoin { and_, or_, followed_by };
struct Pattern {
  std::vector<Observation> observations;
  ObservationJoin join = ObservationJoin::or_;
};

// The escaped string literal, quotes included: ' -> \' and \ -> \\.
std::string string_literal(std::string_view value);
// One path step, quoted when it is not [A-Za-z_][A-Za-z0-9_]*.
std::string path_step(std::string_view step);

std::string to_string(const ObjectPath& path);
std::string to_string(const Comparison& comparison);
std::string to_string(const Observation& observation);
std::string to_string(const Pattern& pattern);

// Appends "[<type>:<path> = '<value>']" to `out` — the common case, without
// building a tree (the hot path of stix-gen). `path` is written as given, so
// its steps must already be in path_step form (e.g. "hashes.'SHA-256'");
// the value is escaped.
void append_equality(std::string& out, std::string_view object_type, std::string_view path, std::string_view value);

}  // namespace ctishare::stix::pattern
