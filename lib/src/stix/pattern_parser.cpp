// A hand-written lexer and recursive-descent parser for STIX 2.1 patterns
// (§9, grammar of STIXPattern.g4). Operator chains are parsed with loops
// into n-ary nodes, so only parentheses and brackets recurse, and their
// depth is limited. Every literal is scanned once (no backtracking), so the
// time is linear in the length of the pattern.
#include "ctishare/pattern_parser.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <tuple>

namespace ctishare::stix::pattern {

void ParsedPattern::clear() {
  strings.clear();
  observations.clear();
  comparisons.clear();
  tests.clear();
  steps.clear();
  literals.clear();
  qualifiers.clear();
  operands.clear();
  root = kNoNode;
}

namespace {

// ---------------------------------------------------------------------------
// Characters

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_alpha(c) || is_digit(c); }

// The length of the whitespace code point at s[i] (WSpace=Y, the set the
// grammar lists), or 0.
std::size_t whitespace_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d)) return 1;
  if (c < 0x80) return 0;
  auto at = [&](std::size_t k) -> unsigned { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0U; };
  if (c == 0xc2 && (at(1) == 0x85 || at(1) == 0xa0)) return 2;  // U+0085, U+00A0
  if (c == 0xe1 && at(1) == 0x9a && at(2) == 0x80) return 3;    // U+1680
  if (c == 0xe2 && at(1) == 0x80) {
    const unsigned c2 = at(2);
    if ((c2 >= 0x80 && c2 <= 0x8a) || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf)
      return 3;  // U+2000-200A, 2028, 2029, 202F
  }
  if (c == 0xe2 && at(1) == 0x81 && at(2) == 0x9f) return 3;  // U+205F
  if (c == 0xe3 && at(1) == 0x80 && at(2) == 0x80) return 3;  // U+3000
  return 0;
}

// Decodes the UTF-8 sequence at s[i]: its length (0 when invalid) and code point.
std::size_t utf8_decode(std::string_view s, std::size_t i, char32_t& cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  std::size_t len = 0;
  char32_t min = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    cp = c & 0x1fU;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    cp = c & 0x0fU;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    cp = c & 0x07U;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0U) != 0x80U) return 0;
    cp = (cp << 6) | (cc & 0x3fU);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

// The offset of the first byte of s that is not valid UTF-8, or npos.
std::size_t invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    // Fast path: eight ASCII bytes at a time.
    if (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    char32_t cp = 0;
    const std::size_t len = utf8_decode(s, i, cp);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

// Appends an excerpt of raw source text for a message: at most `max` bytes
// (cut on a code point boundary, "..." added), control characters and bytes
// that are not UTF-8 written as escapes so the message stays one line.
void append_excerpt(std::string& out, std::string_view raw, std::size_t max = 40) {
  std::size_t i = 0;
  while (i < raw.size()) {
    if (i >= max) {
      out += "... (" + std::to_string(raw.size()) + " bytes)";
      return;
    }
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      switch (c) {
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
      }
      ++i;
      continue;
    }
    char32_t cp = 0;
    const std::size_t len = utf8_decode(raw, i, cp);
    if (len == 0) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      ++i;
      continue;
    }
    out.append(raw.substr(i, len));
    i += len;
  }
}

std::string code_point_name(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

// ---------------------------------------------------------------------------
// Tokens

enum class Tok : std::uint8_t {
  end,
  error,
  lbrack,
  rbrack,
  lparen,
  rparen,
  comma,
  colon,
  dot,
  star,
  eq,
  neq,
  lt,
  le,
  gt,
  ge,
  string,
  binary,
  hex,
  timestamp,
  integer,
  floating,
  boolean,
  ident,         // [A-Za-z_][A-Za-z0-9_]*
  ident_hyphen,  // [A-Za-z_][A-Za-z0-9_-]* with a '-'
  kw_and,
  kw_or,
  kw_not,
  kw_followedby,
  kw_like,
  kw_matches,
  kw_issuperset,
  kw_issubset,
  kw_exists,
  kw_last,
  kw_in,
  kw_start,
  kw_stop,
  kw_seconds,
  kw_within,
  kw_repeats,
  kw_times,
};

struct Keyword {
  std::string_view text;
  Tok tok;
};

constexpr std::array<Keyword, 19> kKeywords = {{
    {"AND", Tok::kw_and},
    {"OR", Tok::kw_or},
    {"NOT", Tok::kw_not},
    {"FOLLOWEDBY", Tok::kw_followedby},
    {"LIKE", Tok::kw_like},
    {"MATCHES", Tok::kw_matches},
    {"ISSUPERSET", Tok::kw_issuperset},
    {"ISSUBSET", Tok::kw_issubset},
    {"EXISTS", Tok::kw_exists},
    {"LAST", Tok::kw_last},
    {"IN", Tok::kw_in},
    {"START", Tok::kw_start},
    {"STOP", Tok::kw_stop},
    {"SECONDS", Tok::kw_seconds},
    {"WITHIN", Tok::kw_within},
    {"REPEATS", Tok::kw_repeats},
    {"TIMES", Tok::kw_times},
    {"true", Tok::boolean},
    {"false", Tok::boolean},
}};

Tok keyword(std::string_view word) {
  if (word.size() < 2 || word.size() > 10) return Tok::ident;
  for (const auto& k : kKeywords)
    if (k.text == word) return k.tok;
  return Tok::ident;
}

// A keyword written in another case ("and", "Within"), for a hint.
bool is_miscased_keyword(std::string_view word) {
  if (word.size() < 2 || word.size() > 10) return false;
  for (const auto& k : kKeywords) {
    if (k.text.size() != word.size() || k.text == word) continue;
    bool same = true;
    for (std::size_t i = 0; i < word.size() && same; ++i) {
      char a = word[i], b = k.text[i];
      if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 'a' + 'A');
      if (b >= 'a' && b <= 'z') b = static_cast<char>(b - 'a' + 'A');
      same = a == b;
    }
    if (same) return true;
  }
  return false;
}

bool is_keyword_token(Tok t) { return t >= Tok::kw_and || t == Tok::boolean; }

struct Token {
  Tok kind = Tok::end;
  std::uint32_t start = 0;  // byte offsets into the source
  std::uint32_t end = 0;
  Span text;  // string: unescaped value; binary / hex: decoded bytes
  std::int64_t integer = 0;
  double number = 0;
  bool boolean = false;
  bool negative = false;  // a number written with '-'
};

// ---------------------------------------------------------------------------
// Lexer

class Lexer {
 public:
  Lexer(std::string_view src, std::string& pool, ParseError& error) : src_(src), pool_(pool), error_(error) {}

  Token next();

  // The timestamp of the last timestamp token.
  Timestamp& timestamp() { return timestamp_; }

 private:
  Token fail(std::size_t at, std::string message) {
    error_.column = at + 1;
    error_.message = std::move(message);
    Token t;
    t.kind = Tok::error;
    t.start = t.end = static_cast<std::uint32_t>(at);
    return t;
  }
  Token make(Tok kind, std::size_t start, std::size_t end) {
    Token t;
    t.kind = kind;
    t.start = static_cast<std::uint32_t>(start);
    t.end = static_cast<std::uint32_t>(end);
    pos_ = end;
    return t;
  }
  Token lex_string(std::size_t start);
  Token lex_binary(std::size_t start);
  Token lex_hex(std::size_t start);
  Token lex_timestamp(std::size_t start);
  Token lex_number(std::size_t start);
  Token unexpected(std::size_t at);
  // The closing quote of a b'', h'' or t'' literal whose content starts at
  // `from`, or npos.
  std::size_t closing_quote(std::size_t from) const { return src_.find('\'', from); }

  std::string_view src_;
  std::string& pool_;
  ParseError& error_;
  std::size_t pos_ = 0;
  Timestamp timestamp_;
};

Token Lexer::next() {
  const std::size_t n = src_.size();
  while (pos_ < n) {
    const std::size_t w = whitespace_length(src_, pos_);
    if (w == 0) break;
    pos_ += w;
  }
  if (pos_ >= n) return make(Tok::end, n, n);
  const std::size_t s = pos_;
  const char c = src_[s];
  const char c1 = s + 1 < n ? src_[s + 1] : '\0';
  switch (c) {
    case '[':
      return make(Tok::lbrack, s, s + 1);
    case ']':
      return make(Tok::rbrack, s, s + 1);
    case '(':
      return make(Tok::lparen, s, s + 1);
    case ')':
      return make(Tok::rparen, s, s + 1);
    case ',':
      return make(Tok::comma, s, s + 1);
    case ':':
      return make(Tok::colon, s, s + 1);
    case '*':
      return make(Tok::star, s, s + 1);
    case '=':
      if (c1 == '=') return fail(s, "'==' is not a STIX operator (use '=')");
      return make(Tok::eq, s, s + 1);
    case '!':
      if (c1 == '=') return make(Tok::neq, s, s + 2);
      return fail(s, "unexpected '!' (the operator is '!=')");
    case '<':
      if (c1 == '=') return make(Tok::le, s, s + 2);
      if (c1 == '>') return fail(s, "'<>' is not a STIX operator (use '!=')");
      return make(Tok::lt, s, s + 1);
    case '>':
      if (c1 == '=') return make(Tok::ge, s, s + 2);
      return make(Tok::gt, s, s + 1);
    case '\'':
      return lex_string(s);
    case '/':
      if (c1 == '*' || c1 == '/') return fail(s, "comments are not allowed in STIX patterns");
      return unexpected(s);
    case '+':
      return fail(s, "unexpected '+' (numbers are written without a '+' sign)");
    case '.':
      if (is_digit(c1)) return lex_number(s);
      return make(Tok::dot, s, s + 1);
    case '-':
      return lex_number(s);
    default:
      break;
  }
  if (is_digit(c)) return lex_number(s);
  if (is_alpha(c)) {
    if (c1 == '\'') {
      if (c == 'b') return lex_binary(s);
      if (c == 'h') return lex_hex(s);
      if (c == 't') return lex_timestamp(s);
    }
    std::size_t e = s + 1;
    bool hyphen = false;
    while (e < n && (is_ident_char(src_[e]) || src_[e] == '-')) {
      hyphen = hyphen || src_[e] == '-';
      ++e;
    }
    if (hyphen) return make(Tok::ident_hyphen, s, e);
    const Tok k = keyword(src_.substr(s, e - s));
    Token t = make(k, s, e);
    if (k == Tok::boolean) t.boolean = src_[s] == 't';
    return t;
  }
  return unexpected(s);
}

Token Lexer::unexpected(std::size_t at) {
  const auto c = static_cast<unsigned char>(src_[at]);
  std::string m = "unexpected character ";
  if (c == 0) {
    m += "NUL (U+0000)";
  } else if (c < 0x20 || c == 0x7f) {
    m += code_point_name(c);
  } else if (c < 0x80) {
    m += '\'';
    m += static_cast<char>(c);
    m += '\'';
    if (c == '"') m += " (STIX strings are quoted with ')";
  } else {
    char32_t cp = 0;
    const std::size_t len = utf8_decode(src_, at, cp);
    if (len == 0)
      return fail(
          at, "invalid UTF-8 (byte 0x" + [&] {
            char b[3];
            std::snprintf(b, sizeof b, "%02x", c);
            return std::string(b);
          }() + ")");
    m += code_point_name(cp);
    m += " '";
    m.append(src_.substr(at, len));
    m += '\'';
  }
  return fail(at, std::move(m));
}

Token Lexer::lex_string(std::size_t start) {
  const std::size_t n = src_.size();
  const auto offset = static_cast<std::uint32_t>(pool_.size());
  std::size_t i = start + 1;
  std::size_t chunk = i;
  while (true) {
    const std::size_t q = src_.find_first_of("'\\", i);
    if (q == std::string_view::npos) {
      pool_.resize(offset);
      return fail(start, "unterminated string literal");
    }
    if (src_[q] == '\'') {
      const std::string_view raw = src_.substr(start + 1, q - start - 1);
      const std::size_t bad = invalid_utf8(raw);
      if (bad != std::string_view::npos) {
        pool_.resize(offset);
        return fail(start + 1 + bad, "invalid UTF-8 in string literal");
      }
      pool_.append(src_.substr(chunk, q - chunk));
      Token t = make(Tok::string, start, q + 1);
      t.text = {offset, static_cast<std::uint32_t>(pool_.size() - offset)};
      return t;
    }
    // A backslash: only \' and \\ exist.
    const char e = q + 1 < n ? src_[q + 1] : '\0';
    if (e != '\'' && e != '\\') {
      pool_.resize(offset);
      if (q + 1 >= n) return fail(start, "unterminated string literal");
      std::string m = "invalid escape '\\";
      append_excerpt(m, src_.substr(q + 1, 1), 1);
      m += "' in string literal (only \\' and \\\\ are allowed)";
      return fail(q, std::move(m));
    }
    pool_.append(src_.substr(chunk, q - chunk));
    pool_ += e;
    i = q + 2;
    chunk = i;
  }
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

Token Lexer::lex_binary(std::size_t start) {
  const std::size_t q = closing_quote(start + 2);
  if (q == std::string_view::npos) return fail(start, "unterminated binary literal");
  const auto offset = static_cast<std::uint32_t>(pool_.size());
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t chars = 0;  // base64 characters, padding included
  std::size_t padding = 0;
  for (std::size_t i = start + 2; i < q; ++i) {
    const char c = src_[i];
    if (c == '\n' || c == '\r') continue;  // §9.2: line feeds MUST be ignored
    if (c == '=') {
      ++padding;
      ++chars;
      continue;
    }
    const int v = base64_value(c);
    if (v < 0 || padding != 0) {
      pool_.resize(offset);
      std::string m = v < 0 ? "invalid base64 character '" : "base64 data after padding '";
      append_excerpt(m, src_.substr(i, 1), 1);
      m += "' in binary literal";
      return fail(i, std::move(m));
    }
    ++chars;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      pool_ += static_cast<char>((acc >> bits) & 0xffU);
    }
  }
  if (chars == 0) {
    pool_.resize(offset);
    return fail(start, "empty binary literal");
  }
  if (chars % 4 != 0 || padding > 2) {
    pool_.resize(offset);
    return fail(start, "invalid base64 in binary literal (the length must be a multiple of 4, with at most two '=')");
  }
  Token t = make(Tok::binary, start, q + 1);
  t.text = {offset, static_cast<std::uint32_t>(pool_.size() - offset)};
  return t;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Token Lexer::lex_hex(std::size_t start) {
  const std::size_t q = closing_quote(start + 2);
  if (q == std::string_view::npos) return fail(start, "unterminated hex literal");
  const auto offset = static_cast<std::uint32_t>(pool_.size());
  for (std::size_t i = start + 2; i < q; i += 2) {
    const int hi = hex_value(src_[i]);
    const int lo = i + 1 < q ? hex_value(src_[i + 1]) : 0;
    if (hi < 0 || lo < 0) {
      pool_.resize(offset);
      const std::size_t at = hi < 0 ? i : i + 1;
      std::string m = "invalid hex digit '";
      append_excerpt(m, src_.substr(at, 1), 1);
      m += "' in hex literal";
      return fail(at, std::move(m));
    }
    if (i + 1 >= q) {
      pool_.resize(offset);
      return fail(start, "odd number of digits in hex literal");
    }
    pool_ += static_cast<char>(hi * 16 + lo);
  }
  Token t = make(Tok::hex, start, q + 1);
  t.text = {offset, static_cast<std::uint32_t>(pool_.size() - offset)};
  return t;
}

Token Lexer::lex_timestamp(std::size_t start) {
  const std::size_t q = closing_quote(start + 2);
  if (q == std::string_view::npos) return fail(start, "unterminated timestamp literal");
  const std::string_view body = src_.substr(start + 2, q - start - 2);
  auto bad = [&](std::string_view why) {
    std::string m = "invalid timestamp t'";
    append_excerpt(m, body);
    m += "': ";
    m += why;
    return fail(start, std::move(m));
  };
  // The shape first (digits, separators, fraction, 'Z'), for a precise
  // message and so a long literal is never copied into one.
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  bool shape = body.size() >= kShape.size() + 1;
  for (std::size_t i = 0; shape && i < kShape.size(); ++i)
    shape = kShape[i] == 'd' ? is_digit(body[i]) : body[i] == kShape[i];
  std::size_t i = kShape.size();
  if (shape && body[i] == '.') {
    ++i;
    const std::size_t digits_from = i;
    while (i < body.size() && is_digit(body[i])) ++i;
    if (i == digits_from) return bad("a decimal point must be followed by digits");
  }
  if (!shape || i + 1 != body.size() || body[i] != 'Z') {
    if (shape && i < body.size() && (body[i] == '+' || body[i] == '-' || body[i] == 'z'))
      return bad("STIX timestamps are UTC with a literal 'Z'");
    return bad("expected YYYY-MM-DDTHH:MM:SS[.s+]Z");
  }
  auto parsed = Timestamp::parse(body);
  if (!parsed) {
    // The message of Timestamp::parse is "invalid timestamp '<text>': <why>".
    std::string_view why = parsed.error().message();
    const std::size_t colon = why.find("': ");
    why = colon == std::string_view::npos ? std::string_view("invalid date or time") : why.substr(colon + 3);
    return bad(why);
  }
  timestamp_ = std::move(*parsed);
  return make(Tok::timestamp, start, q + 1);
}

Token Lexer::lex_number(std::size_t start) {
  const std::size_t n = src_.size();
  std::size_t i = start;
  const bool negative = src_[i] == '-';
  if (negative) ++i;
  const std::size_t int_from = i;
  while (i < n && is_digit(src_[i])) ++i;
  const std::size_t int_digits = i - int_from;
  bool floating = false;
  if (i < n && src_[i] == '.') {
    if (i + 1 < n && is_digit(src_[i + 1])) {
      floating = true;
      ++i;
      while (i < n && is_digit(src_[i])) ++i;
    } else if (int_digits != 0) {
      std::string m = "invalid number '";
      append_excerpt(m, src_.substr(start, i + 1 - start));
      m += "' (a digit must follow the decimal point)";
      return fail(start, std::move(m));
    }
  }
  if (int_digits == 0 && !floating) return fail(start, "unexpected '-' (not followed by a number)");
  if (i < n && (is_ident_char(src_[i]) || src_[i] == '.')) {
    std::size_t e = i;
    while (e < n && (is_ident_char(src_[e]) || src_[e] == '.' || src_[e] == '-')) ++e;
    std::string m = "invalid number '";
    append_excerpt(m, src_.substr(start, e - start));
    m += '\'';
    return fail(start, std::move(m));
  }
  const std::string_view text = src_.substr(start, i - start);
  if (!floating) {
    if (int_digits > 1 && src_[int_from] == '0') {
      std::string m = "invalid integer '";
      append_excerpt(m, text);
      m += "' (leading zeros are not allowed)";
      return fail(start, std::move(m));
    }
    std::int64_t v = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
      std::string m = "integer '";
      append_excerpt(m, text);
      m += "' is out of range";
      return fail(start, std::move(m));
    }
    Token t = make(Tok::integer, start, i);
    t.integer = v;
    t.number = static_cast<double>(v);
    t.negative = negative;
    return t;
  }
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
    std::string m = "number '";
    append_excerpt(m, text);
    m += "' is out of range";
    return fail(start, std::move(m));
  }
  Token t = make(Tok::floating, start, i);
  t.number = v;
  t.negative = negative;
  return t;
}

// ---------------------------------------------------------------------------
// Parser

// The operand stack of n-ary nodes being built, shared by nested levels and
// kept between calls so that parsing allocates nothing once warm.
thread_local std::vector<NodeIndex> t_operand_stack;

class Parser {
 public:
  Parser(std::string_view src, ParsedPattern& out, ParseError& error, const ParseOptions& options)
      : src_(src), out_(out), error_(error), options_(options), lex_(src, out.strings, error) {}

  bool run() {
    stack_base_ = t_operand_stack.size();
    next();
    if (failed_) return false;
    const NodeIndex root = parse_followedby();
    if (failed_) return cleanup();
    if (tok_.kind != Tok::end) {
      if (tok_.kind == Tok::rparen) return fail_at(tok_.start, "unbalanced ')'") || cleanup();
      return expected("'AND', 'OR', 'FOLLOWEDBY', a qualifier or the end of the pattern") || cleanup();
    }
    out_.root = root;
    return true;
  }

 private:
  bool cleanup() {
    t_operand_stack.resize(stack_base_);
    return false;
  }

  void next() {
    tok_ = lex_.next();
    if (tok_.kind == Tok::error) failed_ = true;
  }

  // Records an error (the first one wins) and returns false.
  bool fail_at(std::size_t offset, std::string message) {
    if (!failed_ || error_.message.empty()) {
      error_.column = offset + 1;
      error_.message = std::move(message);
    }
    failed_ = true;
    return false;
  }

  std::string describe(const Token& t) const {
    std::string d;
    const std::string_view raw = src_.substr(t.start, t.end - t.start);
    switch (t.kind) {
      case Tok::end:
        return "the end of the pattern";
      case Tok::string:
        d = "string ";
        append_excerpt(d, raw);
        return d;
      case Tok::binary:
        d = "binary literal ";
        break;
      case Tok::hex:
        d = "hex literal ";
        break;
      case Tok::timestamp:
        d = "timestamp ";
        break;
      case Tok::integer:
        d = "integer ";
        break;
      case Tok::floating:
        d = "number ";
        break;
      default:
        break;
    }
    if (!d.empty()) {
      append_excerpt(d, raw);
      return d;
    }
    d = '\'';
    append_excerpt(d, raw);
    d += '\'';
    if ((t.kind == Tok::ident || t.kind == Tok::ident_hyphen) && is_miscased_keyword(raw))
      d += " (keywords are upper case)";
    return d;
  }

  bool expected(std::string_view what) {
    if (failed_) return false;
    std::string m = "expected ";
    m += what;
    m += " but found ";
    m += describe(tok_);
    return fail_at(tok_.start, std::move(m));
  }

  bool expect(Tok kind, std::string_view what) {
    if (failed_) return false;
    if (tok_.kind != kind) return expected(what);
    next();
    return !failed_;
  }

  bool enter(std::size_t offset) {
    if (++depth_ > options_.max_depth)
      return fail_at(offset,
                     "brackets and parentheses nested more than " + std::to_string(options_.max_depth) + " deep");
    return true;
  }

  std::uint32_t column(const Token& t) const { return t.start + 1; }

  Span pool_copy(std::string_view s) {
    const auto offset = static_cast<std::uint32_t>(out_.strings.size());
    out_.strings.append(s);
    return {offset, static_cast<std::uint32_t>(s.size())};
  }

  // Moves operands [from, top) of the stack into out_.operands.
  std::pair<std::uint32_t, std::uint32_t> take_operands(std::size_t from) {
    const auto first = static_cast<std::uint32_t>(out_.operands.size());
    out_.operands.insert(out_.operands.end(), t_operand_stack.begin() + static_cast<std::ptrdiff_t>(from),
                         t_operand_stack.end());
    const auto count = static_cast<std::uint32_t>(t_operand_stack.size() - from);
    t_operand_stack.resize(from);
    return {first, count};
  }

  // --- observation level -------------------------------------------------

  // An n-ary chain "a OP b OP c" (left-associative, no recursion per
  // operand): one node of `kind` in `nodes` holding every operand.
  template <typename Node, typename NodeKind, typename Operand>
  NodeIndex parse_chain(Tok op, NodeKind kind, std::vector<Node>& nodes, Operand operand) {
    const NodeIndex first = operand();
    if (failed_ || tok_.kind != op) return first;
    const std::uint32_t col = column(tok_);
    const std::size_t base = t_operand_stack.size();
    t_operand_stack.push_back(first);
    while (tok_.kind == op) {
      next();
      if (failed_) return kNoNode;
      const NodeIndex rhs = operand();
      if (failed_) return kNoNode;
      t_operand_stack.push_back(rhs);
    }
    Node node;
    node.kind = kind;
    node.column = col;
    std::tie(node.first_operand, node.operand_count) = take_operands(base);
    nodes.push_back(node);
    return static_cast<NodeIndex>(nodes.size() - 1);
  }

  NodeIndex parse_followedby() {
    return parse_chain(Tok::kw_followedby, ObservationKind::followed_by, out_.observations,
                                   [this] { return parse_observation_or(); });
  }
  NodeIndex parse_observation_or() {
    return parse_chain(Tok::kw_or, ObservationKind::or_, out_.observations, [this] { return parse_observation_and(); });
  }
  NodeIndex parse_observation_and() {
    return parse_chain(Tok::kw_and, ObservationKind::and_, out_.observations,
                                   [this] { return parse_observation_expression(); });
  }

  NodeIndex parse_observation_expression() {
    ObservationNode node;
    node.column = column(tok_);
    if (tok_.kind == Tok::lbrack) {
      if (!enter(tok_.start)) return kNoNode;
      next();
      if (failed_) return kNoNode;
      if (tok_.kind == Tok::rbrack) {
        expected("a comparison");
        return kNoNode;
      }
      node.kind = ObservationKind::observation;
      node.comparison = parse_comparison_or();
      if (!expect(Tok::rbrack, "']'")) return kNoNode;
      --depth_;
    } else if (tok_.kind == Tok::lparen) {
      if (!enter(tok_.start)) return kNoNode;
      next();
      if (failed_) return kNoNode;
      node.kind = ObservationKind::group;
      node.child = parse_followedby();
      if (!expect(Tok::rparen, "')'")) return kNoNode;
      --depth_;
    } else {
      expected("'[' or '('");
      return kNoNode;
    }
    node.first_qualifier = static_cast<std::uint32_t>(out_.qualifiers.size());
    unsigned seen = 0;
    while (tok_.kind == Tok::kw_within || tok_.kind == Tok::kw_repeats || tok_.kind == Tok::kw_start) {
      const Tok kw = tok_.kind;
      Qualifier q;
      q.column = column(tok_);
      q.kind = kw == Tok::kw_within    ? QualifierKind::within
               : kw == Tok::kw_repeats ? QualifierKind::repeats
                                       : QualifierKind::start_stop;
      const unsigned bit = 1U << static_cast<unsigned>(q.kind);
      if ((seen & bit) != 0) {
        fail_at(tok_.start, std::string("more than one ") +
                                (kw == Tok::kw_within    ? "WITHIN"
                                 : kw == Tok::kw_repeats ? "REPEATS"
                                                         : "START/STOP") +
                                " qualifier on one observation expression");
        return kNoNode;
      }
      seen |= bit;
      next();
      if (failed_) return kNoNode;
      q.literal = static_cast<NodeIndex>(out_.literals.size());
      if (kw == Tok::kw_within) {
        if ((tok_.kind != Tok::integer && tok_.kind != Tok::floating) || tok_.negative) {
          expected("a positive number of seconds after WITHIN");
          return kNoNode;
        }
        add_literal();
        if (!expect(Tok::kw_seconds, "'SECONDS'")) return kNoNode;
      } else if (kw == Tok::kw_repeats) {
        if (tok_.kind != Tok::integer || tok_.negative) {
          expected("a positive integer after REPEATS");
          return kNoNode;
        }
        add_literal();
        if (!expect(Tok::kw_times, "'TIMES'")) return kNoNode;
      } else {
        if (tok_.kind != Tok::timestamp) {
          expected("a timestamp t'...' after START");
          return kNoNode;
        }
        add_literal();
        if (!expect(Tok::kw_stop, "'STOP'")) return kNoNode;
        if (tok_.kind != Tok::timestamp) {
          expected("a timestamp t'...' after STOP");
          return kNoNode;
        }
        add_literal();
      }
      if (failed_) return kNoNode;
      out_.qualifiers.push_back(q);
      ++node.qualifier_count;
    }
    out_.observations.push_back(node);
    return static_cast<NodeIndex>(out_.observations.size() - 1);
  }

  // --- comparison level --------------------------------------------------

  NodeIndex parse_comparison_or() {
    return parse_chain(Tok::kw_or, ComparisonKind::or_, out_.comparisons, [this] { return parse_comparison_and(); });
  }
  NodeIndex parse_comparison_and() {
    return parse_chain(Tok::kw_and, ComparisonKind::and_, out_.comparisons, [this] { return parse_test(); });
  }

  NodeIndex parse_test() {
    if (tok_.kind == Tok::lparen) {
      if (!enter(tok_.start)) return kNoNode;
      next();
      if (failed_) return kNoNode;
      const NodeIndex inner = parse_comparison_or();
      if (!expect(Tok::rparen, "')'")) return kNoNode;
      --depth_;
      return inner;
    }
    Test test;
    test.column = column(tok_);
    if (tok_.kind == Tok::kw_not || tok_.kind == Tok::kw_exists) {
      if (tok_.kind == Tok::kw_not) {
        test.negated = true;
        next();
        if (failed_) return kNoNode;
        if (tok_.kind != Tok::kw_exists) {
          expected("'EXISTS' (NOT before a path only negates EXISTS; elsewhere it goes before the operator)");
          return kNoNode;
        }
      }
      test.op = TestOperator::exists;
      test.op_column = column(tok_);
      next();
      if (failed_ || !parse_path(test.path)) return kNoNode;
      return push_test(test);
    }
    if (!parse_path(test.path)) return kNoNode;
    if (tok_.kind == Tok::kw_not) {
      test.negated = true;
      next();
      if (failed_) return kNoNode;
    }
    test.op_column = column(tok_);
    test.first_literal = static_cast<std::uint32_t>(out_.literals.size());
    const Tok op = tok_.kind;
    switch (op) {
      case Tok::eq:
      case Tok::neq:
        test.op = op == Tok::eq ? TestOperator::equal : TestOperator::not_equal;
        next();
        if (failed_ || !parse_literal(true, op == Tok::eq ? "'='" : "'!='")) return kNoNode;
        break;
      case Tok::lt:
      case Tok::le:
      case Tok::gt:
      case Tok::ge:
        test.op = op == Tok::lt   ? TestOperator::less
                  : op == Tok::le ? TestOperator::less_equal
                  : op == Tok::gt ? TestOperator::greater
                                  : TestOperator::greater_equal;
        next();
        if (failed_ || !parse_literal(false, "an ordering operator")) return kNoNode;
        break;
      case Tok::kw_in:
        test.op = TestOperator::in;
        next();
        if (!expect(Tok::lparen, "'(' after IN")) return kNoNode;
        if (tok_.kind == Tok::rparen) {
          fail_at(tok_.start, "empty set after IN");
          return kNoNode;
        }
        while (true) {
          if (!parse_literal(true, "IN")) return kNoNode;
          if (tok_.kind == Tok::rparen) break;
          if (!expect(Tok::comma, "',' or ')'")) return kNoNode;
        }
        next();
        if (failed_) return kNoNode;
        break;
      case Tok::kw_like:
      case Tok::kw_matches:
      case Tok::kw_issubset:
      case Tok::kw_issuperset: {
        test.op = op == Tok::kw_like       ? TestOperator::like
                  : op == Tok::kw_matches  ? TestOperator::matches
                  : op == Tok::kw_issubset ? TestOperator::issubset
                                           : TestOperator::issuperset;
        const std::string_view name = src_.substr(tok_.start, tok_.end - tok_.start);
        next();
        if (failed_) return kNoNode;
        if (tok_.kind != Tok::string) {
          expected(std::string("a string after ") + std::string(name));
          return kNoNode;
        }
        add_literal();
        if (failed_) return kNoNode;
        break;
      }
      case Tok::kw_exists:
        fail_at(tok_.start, "the EXISTS keyword goes before the object path ([EXISTS type:property])");
        return kNoNode;
      default:
        expected(test.negated ? "a comparison operator after NOT" : "a comparison operator");
        return kNoNode;
    }
    test.literal_count = static_cast<std::uint32_t>(out_.literals.size()) - test.first_literal;
    return push_test(test);
  }

  NodeIndex push_test(const Test& test) {
    out_.tests.push_back(test);
    ComparisonNode node;
    node.kind = ComparisonKind::test;
    node.column = test.column;
    node.test = static_cast<NodeIndex>(out_.tests.size() - 1);
    out_.comparisons.push_back(node);
    return static_cast<NodeIndex>(out_.comparisons.size() - 1);
  }

  // A literal for an operator; booleans only where `allow_boolean`.
  bool parse_literal(bool allow_boolean, std::string_view after) {
    switch (tok_.kind) {
      case Tok::string:
      case Tok::binary:
      case Tok::hex:
      case Tok::timestamp:
      case Tok::integer:
      case Tok::floating:
        break;
      case Tok::boolean:
        if (allow_boolean) break;
        return fail_at(tok_.start,
                       "a boolean cannot be ordered ('<', '<=', '>', '>=' take a number, string, "
                       "binary, hex or timestamp)");
      default:
        return expected(std::string("a literal after ") + std::string(after));
    }
    add_literal();
    return !failed_;
  }

  void add_literal() {
    Literal lit;
    lit.column = column(tok_);
    switch (tok_.kind) {
      case Tok::string:
        lit.kind = LiteralKind::string;
        break;
      case Tok::binary:
        lit.kind = LiteralKind::binary;
        break;
      case Tok::hex:
        lit.kind = LiteralKind::hex;
        break;
      case Tok::integer:
        lit.kind = LiteralKind::integer;
        break;
      case Tok::floating:
        lit.kind = LiteralKind::floating;
        break;
      case Tok::boolean:
        lit.kind = LiteralKind::boolean;
        break;
      case Tok::timestamp:
        lit.kind = LiteralKind::timestamp;
        lit.timestamp = std::move(lex_.timestamp());
        lit.text = pool_copy(src_.substr(tok_.start + 2, tok_.end - tok_.start - 3));
        break;
      default:
        break;
    }
    if (lit.kind != LiteralKind::timestamp) lit.text = tok_.text;
    lit.integer = tok_.integer;
    lit.number = tok_.number;
    lit.boolean = tok_.boolean;
    out_.literals.push_back(std::move(lit));
    next();
  }

  // A property name in a path: an identifier or a quoted string.
  bool parse_step_name(PathStep& step, bool first) {
    step.kind = StepKind::property;
    step.column = column(tok_);
    const std::string_view raw = src_.substr(tok_.start, tok_.end - tok_.start);
    if (tok_.kind == Tok::ident) {
      step.name = pool_copy(raw);
    } else if (tok_.kind == Tok::string) {
      step.name = tok_.text;
    } else if (tok_.kind == Tok::ident_hyphen) {
      std::string m = "property name '";
      append_excerpt(m, raw);
      m += "' contains '-' and must be quoted ('";
      append_excerpt(m, raw);
      m += "')";
      return fail_at(tok_.start, std::move(m));
    } else if (is_keyword_token(tok_.kind)) {
      std::string m = "keyword '";
      m.append(raw);
      m += "' used as a property name (quote it: '";
      m.append(raw);
      m += "')";
      return fail_at(tok_.start, std::move(m));
    } else {
      return expected(first ? "a property name after ':'" : "a property name after '.'");
    }
    next();
    return !failed_;
  }

  bool parse_path(PropertyPath& path) {
    path.column = column(tok_);
    if (tok_.kind != Tok::ident && tok_.kind != Tok::ident_hyphen) {
      if (is_keyword_token(tok_.kind) || tok_.kind == Tok::rbrack || tok_.kind == Tok::end)
        return expected("an object path");
      return expected("an object path (type:property)");
    }
    path.type = pool_copy(src_.substr(tok_.start, tok_.end - tok_.start));
    next();
    if (!expect(Tok::colon, "':' after the object type")) return false;
    path.first_step = static_cast<std::uint32_t>(out_.steps.size());
    PathStep step;
    if (!parse_step_name(step, true)) return false;
    out_.steps.push_back(step);
    while (tok_.kind == Tok::dot || tok_.kind == Tok::lbrack) {
      if (tok_.kind == Tok::dot) {
        next();
        if (failed_) return false;
        PathStep s;
        if (!parse_step_name(s, false)) return false;
        out_.steps.push_back(s);
        continue;
      }
      PathStep s;
      s.column = column(tok_);
      next();
      if (failed_) return false;
      if (tok_.kind == Tok::star) {
        s.kind = StepKind::any_index;
      } else if (tok_.kind == Tok::integer && !tok_.negative) {
        s.kind = StepKind::index;
        s.index = tok_.integer;
      } else if (tok_.kind == Tok::integer) {
        return fail_at(tok_.start, "list index must not be negative");
      } else {
        return expected("a list index (a non-negative integer or '*')");
      }
      next();
      if (!expect(Tok::rbrack, "']' after the list index")) return false;
      out_.steps.push_back(s);
    }
    path.step_count = static_cast<std::uint32_t>(out_.steps.size()) - path.first_step;
    return true;
  }

  std::string_view src_;
  ParsedPattern& out_;
  ParseError& error_;
  const ParseOptions& options_;
  Lexer lex_;
  Token tok_;
  bool failed_ = false;
  std::size_t depth_ = 0;
  std::size_t stack_base_ = 0;
};

// ---------------------------------------------------------------------------
// Writing patterns back

bool plain_name(std::string_view s) {
  if (s.empty() || !is_alpha(s[0])) return false;
  for (char c : s)
    if (!is_ident_char(c)) return false;
  return keyword(s) == Tok::ident;
}

void append_string_literal(std::string& out, std::string_view value) {
  out += '\'';
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
}

void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16U) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8U) | static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18U) & 63U];
    out += kAlphabet[(v >> 12U) & 63U];
    out += kAlphabet[(v >> 6U) & 63U];
    out += kAlphabet[v & 63U];
  }
  if (i < bytes.size()) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16U;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8U;
    out += kAlphabet[(v >> 18U) & 63U];
    out += kAlphabet[(v >> 12U) & 63U];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6U) & 63U] : '=';
    out += '=';
  }
}

void append_number(std::string& out, double v) {
  // Any finite double fits: at most 309 integer digits, or "0." and 340
  // fraction digits for the smallest subnormal.
  char buf[400];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (r.ec != std::errc()) return;  // not reached (the parser refuses infinities)
  std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
  out += s;
  if (s.find('.') == std::string_view::npos) out += ".0";
}

class Writer {
 public:
  explicit Writer(const ParsedPattern& p) : p_(p) {}

  void observation(NodeIndex i) {
    const ObservationNode& n = p_.observations[i];
    switch (n.kind) {
      case ObservationKind::observation:
        out += '[';
        comparison(n.comparison);
        out += ']';
        break;
      case ObservationKind::group:
        out += '(';
        observation(n.child);
        out += ')';
        break;
      case ObservationKind::and_:
      case ObservationKind::or_:
      case ObservationKind::followed_by: {
        const char* sep = n.kind == ObservationKind::and_  ? " AND "
                          : n.kind == ObservationKind::or_ ? " OR "
                                                           : " FOLLOWEDBY ";
        bool first = true;
        for (NodeIndex o : p_.operands_of(n)) {
          if (!first) out += sep;
          first = false;
          observation(o);
        }
        break;
      }
    }
    for (const Qualifier& q : p_.qualifiers_of(n)) {
      switch (q.kind) {
        case QualifierKind::within:
          out += " WITHIN ";
          literal(p_.literals[q.literal]);
          out += " SECONDS";
          break;
        case QualifierKind::repeats:
          out += " REPEATS ";
          literal(p_.literals[q.literal]);
          out += " TIMES";
          break;
        case QualifierKind::start_stop:
          out += " START ";
          literal(p_.literals[q.literal]);
          out += " STOP ";
          literal(p_.literals[q.literal + 1]);
          break;
      }
    }
  }

  void comparison(NodeIndex i) {
    const ComparisonNode& n = p_.comparisons[i];
    if (n.kind == ComparisonKind::test) {
      test(p_.tests[n.test]);
      return;
    }
    bool first = true;
    for (NodeIndex o : p_.operands_of(n)) {
      if (!first) out += n.kind == ComparisonKind::and_ ? " AND " : " OR ";
      first = false;
      const ComparisonKind k = p_.comparisons[o].kind;
      // An and_ inside an and_ (or or_ inside or_) came from parentheses;
      // an or_ inside an and_ needs them.
      const bool parens = k == n.kind || (n.kind == ComparisonKind::and_ && k == ComparisonKind::or_);
      if (parens) out += '(';
      comparison(o);
      if (parens) out += ')';
    }
  }

  void test(const Test& t) {
    if (t.op == TestOperator::exists) {
      if (t.negated) out += "NOT ";
      out += "EXISTS ";
      path(t);
      return;
    }
    path(t);
    out += ' ';
    if (t.negated) out += "NOT ";
    static constexpr const char* kOps[] = {
        "=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"};
    out += kOps[static_cast<std::size_t>(t.op)];
    out += ' ';
    const auto lits = p_.literals_of(t);
    if (t.op == TestOperator::in) out += '(';
    for (std::size_t k = 0; k < lits.size(); ++k) {
      if (k != 0) out += ", ";
      literal(lits[k]);
    }
    if (t.op == TestOperator::in) out += ')';
  }

  void path(const Test& t) {
    out += p_.text(t.path.type);
    out += ':';
    bool first = true;
    for (const PathStep& s : p_.steps_of(t)) {
      switch (s.kind) {
        case StepKind::property: {
          if (!first) out += '.';
          const std::string_view name = p_.text(s.name);
          if (plain_name(name)) {
            out += name;
          } else {
            append_string_literal(out, name);
          }
          break;
        }
        case StepKind::index:
          out += '[';
          out += std::to_string(s.index);
          out += ']';
          break;
        case StepKind::any_index:
          out += "[*]";
          break;
      }
      first = false;
    }
  }

  void literal(const Literal& l) {
    const std::string_view text = p_.text(l.text);
    switch (l.kind) {
      case LiteralKind::string:
        append_string_literal(out, text);
        break;
      case LiteralKind::integer:
        out += std::to_string(l.integer);
        break;
      case LiteralKind::floating:
        append_number(out, l.number);
        break;
      case LiteralKind::boolean:
        out += l.boolean ? "true" : "false";
        break;
      case LiteralKind::binary:
        out += "b'";
        append_base64(out, text);
        out += '\'';
        break;
      case LiteralKind::hex: {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "h'";
        for (char c : text) {
          out += kHex[static_cast<unsigned char>(c) >> 4U];
          out += kHex[static_cast<unsigned char>(c) & 15U];
        }
        out += '\'';
        break;
      }
      case LiteralKind::timestamp:
        out += "t'";
        out += text;
        out += '\'';
        break;
    }
  }

  std::string out;

 private:
  const ParsedPattern& p_;
};

}  // namespace

bool parse(std::string_view text, ParsedPattern& out, ParseError& error, const ParseOptions& options) {
  out.clear();
  error.column = 0;
  error.message.clear();
  if (text.size() >= 0xffffffffU) {
    error.column = 1;
    error.message = "pattern longer than 4 GiB";
    return false;
  }
  out.strings.reserve(text.size());
  Parser parser(text, out, error, options);
  return parser.run();
}

Result<ParsedPattern> parse(std::string_view text, const ParseOptions& options) {
  ParsedPattern p;
  ParseError e;
  if (!parse(text, p, e, options)) return Error(ErrorCategory::data, to_string(e));
  return p;
}

std::string to_string(const ParseError& error) {
  return "column " + std::to_string(error.column) + ": " + error.message;
}

std::string to_string(const ParsedPattern& pattern) {
  if (pattern.root == kNoNode) return {};
  Writer w(pattern);
  w.observation(pattern.root);
  return std::move(w.out);
}

}  // namespace ctishare::stix::pattern
