// Parsing and checking STIX 2.1 patterns (§9). parse() reads a pattern into
// a flat syntax tree (arena: nodes in vectors, linked by index, children
// before parents); check() judges a parsed pattern against what §6 and §9
// say beyond the grammar. Building patterns is ctishare/pattern.h.
//
// The grammar is the one of oasis-open/cti-stix2-json-schemas
// pattern_grammar/STIXPattern.g4, minus the forms the specification text
// rules out: '==' and '<>', a '+' sign, comments, 'IN ()', negative or
// signed list indexes, dates that do not exist (30 February, second 60).
// Keywords are case-sensitive upper case ("true" and "false" lower case);
// whitespace is any Unicode WSpace code point. Where grammar and text differ
// or are silent: ".5" is a float and "1." is not (grammar); hex constants
// may use either case (grammar; the text says lower case); b'' is refused
// (grammar) and line feeds inside b'...' are ignored (text, §9.2); integers
// must fit in 64 bits; timestamp years are 0001-9999; a number directly
// followed by a letter ("5SECONDS", "1e5") is refused. Columns are 1-based
// byte offsets into the pattern text (a pattern spanning several lines is
// counted as one string).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/result.h"
#include "ctishare/time.h"

namespace ctishare::stix::pattern {

// An index into one of the vectors of ParsedPattern.
using NodeIndex = std::uint32_t;
inline constexpr NodeIndex kNoNode = 0xffffffffU;

// A piece of ParsedPattern::strings.
struct Span {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};

enum class StepKind : std::uint8_t {
  property,   // .name or .'quoted name' (the first step is always one)
  index,      // [n], n >= 0
  any_index,  // [*]
};

struct PathStep {
  StepKind kind = StepKind::property;
  std::uint32_t column = 0;
  Span name;               // property: the name, unquoted and unescaped
  std::int64_t index = 0;  // index
};

// "<type>:<step>...". steps index ParsedPattern::steps.
struct PropertyPath {
  Span type;
  std::uint32_t column = 0;
  std::uint32_t first_step = 0;
  std::uint32_t step_count = 0;  // >= 1
};

enum class LiteralKind : std::uint8_t { string, integer, floating, boolean, binary, hex, timestamp };

// One constant. `text` holds, by kind: string the unescaped UTF-8 value;
// binary and hex the decoded bytes; timestamp the text between the quotes.
struct Literal {
  LiteralKind kind = LiteralKind::string;
  std::uint32_t column = 0;
  Span text;
  std::int64_t integer = 0;  // integer
  double number = 0;         // floating (and integer, converted)
  bool boolean = false;      // boolean
  Timestamp timestamp;       // timestamp
};

enum class TestOperator : std::uint8_t {
  equal,
  not_equal,
  less,
  less_equal,
  greater,
  greater_equal,
  in,
  like,
  matches,
  issubset,
  issuperset,
  exists,
};

// One comparison: "<path> [NOT] <op> <literal>", "<path> [NOT] IN (...)"
// or "[NOT] EXISTS <path>". literals index ParsedPattern::literals
// (one, several for IN, none for EXISTS).
struct Test {
  TestOperator op = TestOperator::equal;
  bool negated = false;
  std::uint32_t column = 0;     // the path, or NOT / EXISTS when they come first
  std::uint32_t op_column = 0;  // the operator (EXISTS for EXISTS)
  PropertyPath path;
  std::uint32_t first_literal = 0;
  std::uint32_t literal_count = 0;
};

// The comparison level, inside one "[...]". and_ / or_ have two or more
// operands (indices into ParsedPattern::comparisons, listed in
// ParsedPattern::operands). Parentheses leave no node of their own.
enum class ComparisonKind : std::uint8_t { test, and_, or_ };

struct ComparisonNode {
  ComparisonKind kind = ComparisonKind::test;
  std::uint32_t column = 0;
  NodeIndex test = kNoNode;  // test: index into ParsedPattern::tests
  std::uint32_t first_operand = 0;
  std::uint32_t operand_count = 0;
};

// The observation level. and_ / or_ / followed_by have two or more
// operands in source order (indices into ParsedPattern::observations,
// listed in ParsedPattern::operands); like the grammar they are
// left-associative, so a FOLLOWEDBY b FOLLOWEDBY c is (a FOLLOWEDBY b)
// FOLLOWEDBY c. A parenthesised expression is a group node, so that
// qualifiers on "( ... )" stay apart from those inside.
enum class ObservationKind : std::uint8_t { observation, group, and_, or_, followed_by };

enum class QualifierKind : std::uint8_t { within, repeats, start_stop };

// WITHIN x SECONDS: literal is x (integer or floating). REPEATS x TIMES:
// literal is x (integer). START x STOP y: literal is x, literal + 1 is y
// (timestamps).
struct Qualifier {
  QualifierKind kind = QualifierKind::within;
  std::uint32_t column = 0;
  NodeIndex literal = kNoNode;
};

struct ObservationNode {
  ObservationKind kind = ObservationKind::observation;
  std::uint32_t column = 0;
  NodeIndex comparison = kNoNode;  // observation: the root ComparisonNode of "[...]"
  NodeIndex child = kNoNode;       // group: the node inside the parentheses
  std::uint32_t first_operand = 0;
  std::uint32_t operand_count = 0;
  std::uint32_t first_qualifier = 0;  // observation and group: qualifiers in source order
  std::uint32_t qualifier_count = 0;
};

// A parsed pattern. Every node comes after the nodes it refers to, so a
// forward walk over a vector visits children before parents. Reuse one
// ParsedPattern across parse() calls to keep its capacity.
struct ParsedPattern {
  std::string strings;  // names and decoded literal values, referred to by Span
  std::vector<ObservationNode> observations;
  std::vector<ComparisonNode> comparisons;
  std::vector<Test> tests;
  std::vector<PathStep> steps;
  std::vector<Literal> literals;
  std::vector<Qualifier> qualifiers;
  std::vector<NodeIndex> operands;
  NodeIndex root = kNoNode;  // into observations

  // Empties every vector, keeping capacity.
  void clear();

  std::string_view text(Span span) const { return std::string_view(strings).substr(span.offset, span.size); }
  std::span<const PathStep> steps_of(const Test& t) const {
    return {steps.data() + t.path.first_step, t.path.step_count};
  }
  std::span<const Literal> literals_of(const Test& t) const {
    return {literals.data() + t.first_literal, t.literal_count};
  }
  std::span<const Qualifier> qualifiers_of(const ObservationNode& n) const {
    return {qualifiers.data() + n.first_qualifier, n.qualifier_count};
  }
  std::span<const NodeIndex> operands_of(const ObservationNode& n) const {
    return {operands.data() + n.first_operand, n.operand_count};
  }
  std::span<const NodeIndex> operands_of(const ComparisonNode& n) const {
    return {operands.data() + n.first_operand, n.operand_count};
  }
};

struct ParseOptions {
  // More levels of brackets and parentheses (counted together) than this
  // are an error; the parser recurses once per level, nowhere else.
  std::size_t max_depth = 100;
};

// Where and why a pattern does not parse: message is one line, lower-case
// start, no final period, without the column (e.g. "expected ']' but found
// 'AND'").
struct ParseError {
  std::size_t column = 0;
  std::string message;
};

// Parses `text` into `out` (cleared first; its capacity is reused).
// Returns true on success; on failure returns false, fills `error`, and
// leaves `out` valid but incomplete.
bool parse(std::string_view text, ParsedPattern& out, ParseError& error, const ParseOptions& options = {});

// Parses `text`. Returns the pattern, or a data error whose message is
// "column N: <what>".
Result<ParsedPattern> parse(std::string_view text, const ParseOptions& options = {});

// "column N: <message>".
std::string to_string(const ParseError& error);

// The pattern written back in canonical form: single spaces, names quoted
// only where needed, strings re-escaped, binary as base64, hex in lower
// case, and parentheses where the source had them (observation level) or
// where precedence needs them (comparison level). Parsing the result gives
// the same tree.
std::string to_string(const ParsedPattern& pattern);

// What check() found, by how the validator reports it.
enum class IssueKind : std::uint8_t {
  error,            // breaks a MUST of §9, §6 or §3.1 (e.g. a malformed hash, an SDO type)
  custom_object,    // a well-formed object type that is not a STIX cyber-observable type
  custom_property,  // a property, extension or hash name the specification does not
                    // define, or a path step the property cannot have
  literal_type,     // a literal that cannot match the property it is compared with
};

struct Issue {
  IssueKind kind = IssueKind::error;
  std::size_t column = 0;
  std::string message;  // one line, lower-case start, no final period, no column
};

// "error", "custom-object", "custom-property", "literal-type".
std::string_view to_string(IssueKind kind);

// Checks a parsed pattern and appends what it finds to `issues`, in column
// order. Checks: object types (SCOs of §6) and property names, predefined
// extensions, hash names and value formats, MATCHES regular expressions
// (PCRE2, UTF + DOTALL), one object type per AND inside "[...]", positive
// WITHIN / REPEATS, START before STOP, ISSUBSET / ISSUPERSET operands,
// homogeneous IN sets, and literal kinds against property kinds. Never
// fails; runs in time linear in the pattern (regex compilation aside).
void check(const ParsedPattern& pattern, std::vector<Issue>& issues);

// The issues of a parsed pattern (see above); empty when it is clean.
std::vector<Issue> check(const ParsedPattern& pattern);

// Parses and checks `text`: a parse error becomes one IssueKind::error
// issue. Returns every issue; empty when the pattern is clean.
std::vector<Issue> parse_and_check(std::string_view text, const ParseOptions& options = {});

// Whether any issue is of kind error.
bool has_errors(const std::vector<Issue>& issues);

}  // namespace ctishare::stix::pattern
