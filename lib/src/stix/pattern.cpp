// Serialising STIX pattern syntax trees with correct escaping.
#include "ctishare/pattern.h"

namespace ctishare::stix::pattern {

std::string string_literal(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '\'';
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

std::string path_step(std::string_view step) {
  bool plain = !step.empty() && !(step[0] >= '0' && step[0] <= '9');
  for (char c : step)
    plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  return plain ? std::string(step) : string_literal(step);
}

std::string to_string(const ObjectPath& path) {
  std::string out = path.object_type;
  out += ':';
  for (std::size_t i = 0; i < path.steps.size(); ++i) {
    if (i != 0) out += '.';
    out += path_step(path.steps[i]);
  }
  return out;
}

namespace {
const char* operator_text(Operator op) {
  switch (op) {
    case Operator::equal: return "=";
    case Operator::not_equal: return "!=";
    case Operator::less: return "<";
    case Operator::less_equal: return "<=";
    case Operator::greater: return ">";
    case Operator::greater_equal: return ">=";
    case Operator::like: return "LIKE";
    case Operator::matches: return "MATCHES";
    case Operator::issubset: return "ISSUBSET";
    case Operator::issuperset: return "ISSUPERSET";
  }
  return "=";
}
}  // namespace

std::string to_string(const Comparison& c) {
  std::string out = to_string(c.path);
  out += ' ';
  if (c.negated) out += "NOT ";
  out += operator_text(c.op);
  out += ' ';
  out += string_literal(c.value);
  return out;
}

std::string to_string(const Observation& o) {
  std::string out = "[";
  for (std::size_t i = 0; i < o.comparisons.size(); ++i) {
    if (i != 0) out += o.join == Join::and_ ? " AND " : " OR ";
    out += to_string(o.comparisons[i]);
  }
  out += ']';
  return out;
}

std::string to_string(const Pattern& p) {
  std::string out;
  const char* sep = p.join == ObservationJoin::and_ ? " AND " : p.join == ObservationJoin::or_ ? " OR " : " FOLLOWEDBY ";
  for (std::size_t i = 0; i < p.observations.size(); ++i) {
    if (i != 0) out += sep;
    out += to_string(p.observations[i]);
  }
  return out;
}

void append_equality(std::string& out, std::string_view object_type, std::string_view path, std::string_view value) {
  out += '[';
  out += object_type;
  out += ':';
  out += path;
  out += " = '";
  std::size_t start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\'' && value[i] != '\\') continue;
    out.append(value.data() + start, i - start);
    out += '\\';
    start = i;
  }
  out.append(value.data() + start, value.size() - start);
  out += "']";
}

}  // namespace ctishare::stix::pattern
