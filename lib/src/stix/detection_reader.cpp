// Detection rows from CSV (RFC 4180), TSV, NDJSON and the command line.
#include "detection_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "ctishare/file.h"
#include "ctishare/marking.h"
#include "ctishare/memory.h"
#include "ctishare/time.h"

namespace ctishare::stix::detail {

namespace {

enum Field { kValue, kConfidence, kType, kLabels, kDescription, kFirstSeen, kLastSeen, kValidUntil, kTlp, kFieldCount };
constexpr std::string_view kFieldNames[kFieldCount] = {"value",     "confidence", "type",        "labels", "description",
                                                       "first_seen", "last_seen",  "valid_until", "tlp"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

int field_index(std::string_view name) {
  std::string n(trim(name));
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (int i = 0; i < kFieldCount; ++i)
    if (kFieldNames[i] == n) return i;
  return -1;
}

// Splits one CSV record (which may span lines when quoted fields hold
// newlines) into fields. Returns false when a quote is left open.
bool split_csv(std::string_view rec, std::vector<std::string>& out) {
  // Fields are written into the strings `out` already holds, so reading a
  // file does not allocate per field.
  std::size_t n = 0;
  auto next = [&]() -> std::string& {
    if (n == out.size()) out.emplace_back();
    std::string& f = out[n++];
    f.clear();
    return f;
  };
  if (rec.find('"') == std::string_view::npos) {
    // The common case: no quoting, so fields are the spans between commas.
    std::size_t start = 0;
    for (;;) {
      auto comma = rec.find(',', start);
      std::string_view field = trim(rec.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      next().assign(field.data(), field.size());
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    out.resize(n);
    return true;
  }
  std::string* cur = &next();
  bool quoted = false, was_quoted = false;
  auto finish_field = [&]() {
    if (!was_quoted) {
      std::string_view t = trim(*cur);
      if (t.size() != cur->size()) *cur = std::string(t);
    }
  };
  for (std::size_t i = 0; i < rec.size(); ++i) {
    char c = rec[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < rec.size() && rec[i + 1] == '"') {
          *cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        *cur += c;
      }
    } else if (c == '"' && trim(*cur).empty()) {
      cur->clear();
      quoted = was_quoted = true;
    } else if (c == ',') {
      finish_field();
      cur = &next();
      was_quoted = false;
    } else {
      *cur += c;
    }
  }
  if (quoted) return false;
  finish_field();
  out.resize(n);
  return true;
}

void split_tsv(std::string_view rec, std::vector<std::string>& out) {
  std::size_t n = 0, start = 0;
  for (;;) {
    auto tab = rec.find('\t', start);
    std::string_view field = trim(rec.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (n == out.size()) out.emplace_back();
    out[n++].assign(field.data(), field.size());
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  out.resize(n);
}

// Lines of a stream, read a megabyte at a time; each line is a view into the
// buffer, valid until the next call (no copy per line, unlike getline).
class LineReader {
 public:
  explicit LineReader(std::istream& in) : in_(in) {}
  bool next(std::string_view& line) {
    for (;;) {
      const char* begin = buf_.data() + pos_;
      const char* nl = static_cast<const char*>(std::memchr(begin, '\n', len_ - pos_));
      if (nl != nullptr) {
        line = std::string_view(begin, static_cast<std::size_t>(nl - begin));
        pos_ = static_cast<std::size_t>(nl - buf_.data()) + 1;
        return true;
      }
      if (eof_) {
        if (pos_ == len_) return false;
        line = std::string_view(begin, len_ - pos_);  // last line without a newline
        pos_ = len_;
        return true;
      }
      // Keep the partial line, then read more after it.
      std::memmove(buf_.data(), begin, len_ - pos_);
      len_ -= pos_;
      pos_ = 0;
      if (buf_.size() - len_ < (1U << 19)) buf_.resize(buf_.size() * 2);
      in_.read(buf_.data() + len_, static_cast<std::streamsize>(buf_.size() - len_));
      const auto got = static_cast<std::size_t>(in_.gcount());
      if (got == 0) eof_ = true;
      len_ += got;
    }
  }
  bool failed() const { return in_.bad(); }

 private:
  std::istream& in_;
  std::string buf_ = std::string(1U << 20, '\0');
  std::size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
};

// Strict UTF-8 (RFC 3629): no overlong forms, surrogates or values past
// U+10FFFF. Text that is not UTF-8 cannot be written as JSON.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    char32_t cp = 0;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

// True when a CSV record ends inside a quoted field (a quote opens quoting
// only at the start of a field, as in split_csv; elsewhere it is a literal).
bool inside_quoted_field(std::string_view rec) {
  bool quoted = false, field_start = true;
  for (std::size_t i = 0; i < rec.size(); ++i) {
    const char c = rec[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < rec.size() && rec[i + 1] == '"') ++i;
        else quoted = false;
      }
    } else if (c == '"' && field_start) {
      quoted = true;
    } else if (c == ',') {
      field_start = true;
      continue;
    }
    if (c != ' ' && c != '\t') field_start = false;
  }
  return quoted;
}

// A field for a message: quoted, and cut at 80 bytes so that a hostile cell
// cannot make a message megabytes long.
std::string quote_short(std::string_view field) {
  if (field.size() <= 80) return quote(field);
  return quote(field.substr(0, 77)) + "...";
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

class Reader {
 public:
  Reader(const GenerateOptions& options, DetectionSet& set, const DiagnosticSink& diag)
      : options_(options), set_(set), diag_(diag) {}

  Status read_input(const std::string& path);
  void add_cli_values();

 private:
  struct RowFields {
    std::string_view f[kFieldCount];
    bool has[kFieldCount] = {};
    std::vector<std::string> label_list;  // NDJSON arrays
  };

  void row_error(std::uint64_t line, const std::string& message) {
    ++set_.invalid;
    diag_(Severity::error, quote(set_.sources[source_]) + ": line " + std::to_string(line) + ": " + message);
  }
  void process_row(const RowFields& row, std::uint64_t line);
  Status read_delimited(std::istream& in, std::string first, std::uint64_t first_line, bool tsv);
  Status read_ndjson(std::istream& in, std::string first, std::uint64_t first_line);
  std::uint32_t intern(Attributes&& a);
  // The --max-input-size and --max-objects limits, for the input read so far.
  Status check_limits(std::uint64_t input_bytes) const {
    const json::Limits& l = options_.limits;
    if (l.max_document_bytes != 0 && input_bytes > l.max_document_bytes)
      return Error(ErrorCategory::data, quote(set_.sources[source_]) + ": input larger than the limit of " +
                                            std::to_string(l.max_document_bytes) + " bytes (--max-input-size)");
    if (l.max_objects != 0 && set_.rows >= l.max_objects)
      return Error(ErrorCategory::data, "more than " + std::to_string(l.max_objects) + " detections (--max-objects)");
    return {};
  }

  const GenerateOptions& options_;
  DetectionSet& set_;
  const DiagnosticSink& diag_;
  std::uint32_t source_ = 0;
  std::unordered_map<std::string, std::uint32_t> interned_;
  std::optional<std::uint32_t> empty_index_;
};

std::uint32_t Reader::intern(Attributes&& a) {
  // Most rows carry no attributes at all: one shared entry, no key to build.
  if (a.labels.empty() && a.description.empty() && a.first_seen.empty() && a.last_seen.empty() &&
      a.valid_until.empty() && a.tlp < 0) {
    if (!empty_index_) {
      empty_index_ = static_cast<std::uint32_t>(set_.attributes.size());
      set_.attributes.push_back(std::move(a));
    }
    return *empty_index_;
  }
  std::string key;
  for (const auto& l : a.labels) {
    key += l;
    key += '\x1e';
  }
  key += '\x1f';
  key += a.description;
  key += '\x1f';
  key += a.first_seen;
  key += '\x1f';
  key += a.last_seen;
  key += '\x1f';
  key += a.valid_until;
  key += '\x1f';
  key += std::to_string(a.tlp);
  auto it = interned_.find(key);
  if (it != interned_.end()) return it->second;
  auto index = static_cast<std::uint32_t>(set_.attributes.size());
  set_.attributes.push_back(std::move(a));
  interned_.emplace(std::move(key), index);
  return index;
}

void Reader::process_row(const RowFields& row, std::uint64_t line) {
  ++set_.rows;
  for (int i = 0; i < kFieldCount; ++i)
    if (row.has[i] && !valid_utf8(row.f[i]))
      return row_error(line, "field " + quote(kFieldNames[i]) + " is not valid UTF-8");
  for (const auto& l : row.label_list)
    if (!valid_utf8(l)) return row_error(line, "field 'labels' is not valid UTF-8");
  std::string_view value = trim(row.f[kValue]);
  if (!row.has[kValue] || value.empty()) return row_error(line, "missing value");
  std::optional<ObservableType> hint;
  bool any_hash = false;
  if (row.has[kType] && !trim(row.f[kType]).empty()) {
    hint = parse_observable_type(trim(row.f[kType]), &any_hash);
    if (!hint)
      return row_error(line, "unknown type " + quote_short(trim(row.f[kType])) +
                                 " (expected domain, url, ipv4, ipv6, email, md5, sha1, sha256, sha512 or hash)");
  }
  auto observable = classify_observable(value, hint, any_hash);
  if (!observable) return row_error(line, observable.error().message());
  if (!row.has[kConfidence] || trim(row.f[kConfidence]).empty()) return row_error(line, quote(value) + ": missing confidence");
  auto conf = parse_confidence(trim(row.f[kConfidence]));
  if (!conf) return row_error(line, quote(value) + ": " + conf.error().message());
  if (options_.scale == ConfidenceScale::unit && conf->unit < 0)
    return row_error(line, quote(value) + ": confidence " + quote_short(trim(row.f[kConfidence])) + " is above 1 (--confidence-scale unit)");
  if (conf->percent < 0)
    return row_error(line, quote(value) + ": confidence " + quote_short(trim(row.f[kConfidence])) + " is above 100");

  Attributes a;
  auto add_label = [&](std::string_view l) -> bool {
    l = trim(l);
    if (l.empty()) return true;
    if (std::any_of(l.begin(), l.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) return false;
    if (std::find(a.labels.begin(), a.labels.end(), l) == a.labels.end()) a.labels.emplace_back(l);
    return true;
  };
  for (const auto& l : row.label_list)
    if (!add_label(l)) return row_error(line, quote(value) + ": control character in a label");
  if (row.has[kLabels]) {
    std::string_view rest = row.f[kLabels];
    while (!rest.empty()) {
      auto semi = rest.find(';');
      if (!add_label(rest.substr(0, semi))) return row_error(line, quote(value) + ": control character in a label");
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  if (row.has[kDescription]) {
    a.description = std::string(trim(row.f[kDescription]));
    if (options_.limits.max_string_bytes != 0 && a.description.size() > options_.limits.max_string_bytes)
      return row_error(line, quote(value) + ": description longer than the limit (--max-string-length)");
  }
  struct TimeField {
    Field field;
    std::string* out;
  };
  for (auto [field, out] : {TimeField{kFirstSeen, &a.first_seen}, TimeField{kLastSeen, &a.last_seen}, TimeField{kValidUntil, &a.valid_until}}) {
    if (!row.has[field] || trim(row.f[field]).empty()) continue;
    auto t = normalise_detection_time(trim(row.f[field]));
    if (!t) return row_error(line, quote(value) + ": " + std::string(kFieldNames[field]) + ": " + t.error().message());
    *out = std::move(*t);
  }
  if (!a.valid_until.empty() && !a.first_seen.empty() &&
      !(*Timestamp::parse(a.first_seen) < *Timestamp::parse(a.valid_until)))
    return row_error(line, quote(value) + ": valid_until must be later than first_seen");
  if (row.has[kTlp] && !trim(row.f[kTlp]).empty()) {
    auto tlp = parse_tlp(trim(row.f[kTlp]));
    if (!tlp) return row_error(line, quote(value) + ": unknown TLP level " + quote_short(trim(row.f[kTlp])) +
                                         " (expected clear, green, amber, amber+strict or red)");
    a.tlp = static_cast<int>(*tlp);
  }

  Record r;
  r.value_offset = set_.pool.size();
  r.value_length = static_cast<std::uint32_t>(observable->value.size());
  set_.pool += observable->value;
  r.attributes = intern(std::move(a));
  r.source = source_;
  r.line = static_cast<std::uint32_t>(line);
  r.raw_confidence = conf->raw;
  r.type = static_cast<std::uint8_t>(observable->type);
  r.confidence_unit = static_cast<std::int16_t>(conf->unit);
  r.confidence_percent = static_cast<std::int16_t>(conf->percent);
  set_.records.push_back(r);
}

Status Reader::read_delimited(std::istream& in, std::string first, std::uint64_t first_line, bool tsv) {
  const std::string& name = set_.sources[source_];
  std::vector<std::string> cells;
  if (tsv) split_tsv(first, cells);
  else if (!split_csv(first, cells)) return Error(ErrorCategory::data, quote(name) + ": line 1: unterminated quote in the header");
  std::vector<int> column(cells.size(), -1);
  bool seen[kFieldCount] = {};
  for (std::size_t i = 0; i < cells.size(); ++i) {
    int f = field_index(cells[i]);
    if (f >= 0) {
      if (seen[f]) return Error(ErrorCategory::data, quote(name) + ": line 1: duplicate column " + quote(kFieldNames[f]));
      seen[f] = true;
    } else {
      diag_(Severity::warning, quote(name) + ": line 1: ignoring unknown column " + quote(trim(cells[i])));
    }
    column[i] = f;
  }
  for (Field req : {kValue, kConfidence})
    if (!seen[req])
      return Error(ErrorCategory::data, quote(name) + ": line 1: the header has no " + quote(kFieldNames[req]) +
                                            " column (a header with 'value' and 'confidence' is required)");
  LineReader lines(in);
  std::string_view line;
  std::string joined;
  std::uint64_t lineno = first_line;
  std::uint64_t bytes = first.size() + 1;
  while (lines.next(line)) {
    const std::uint64_t start = ++lineno;
    bytes += line.size() + 1;
    CTI_TRY_STATUS(check_limits(bytes));
    if (!tsv && line.find('"') != std::string_view::npos && inside_quoted_field(line)) {
      // A quoted field holds a newline: join lines until it closes, but
      // never past the longest string a field may be.
      joined.assign(line);
      std::string_view more;
      while (inside_quoted_field(joined) && joined.size() <= options_.limits.max_string_bytes && lines.next(more)) {
        ++lineno;
        joined += '\n';
        joined += more;
      }
      line = joined;
    }
    std::string_view t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (tsv) split_tsv(line, cells);
    else if (!split_csv(line, cells)) {
      ++set_.rows;
      row_error(start, "unterminated quote");
      continue;
    }
    if (cells.size() != column.size()) {
      ++set_.rows;
      row_error(start, "row has " + std::to_string(cells.size()) + " fields, the header has " + std::to_string(column.size()));
      continue;
    }
    RowFields row;
    for (std::size_t i = 0; i < cells.size(); ++i)
      if (column[i] >= 0) {
        row.f[column[i]] = cells[i];
        row.has[column[i]] = true;
      }
    process_row(row, start);
  }
  if (lines.failed()) return Error(ErrorCategory::io, quote(name) + ": read failed");
  return {};
}

Status Reader::read_ndjson(std::istream& in, std::string line, std::uint64_t first_line) {
  std::uint64_t lineno = first_line - 1;
  std::uint64_t bytes = 0;
  bool first = true;
  std::vector<std::string> warned;
  do {
    if (!first && !std::getline(in, line)) break;
    first = false;
    ++lineno;
    bytes += line.size() + 1;
    CTI_TRY_STATUS(check_limits(bytes));
    std::string_view t = trim(line);
    if (t.empty()) continue;
    auto v = json::parse(t, options_.limits);
    if (!v) {
      ++set_.rows;
      row_error(lineno, v.error().message());
      continue;
    }
    if (!v->is_object()) {
      ++set_.rows;
      row_error(lineno, "not a JSON object");
      continue;
    }
    RowFields row;
    bool bad = false;
    for (const auto& [key, val] : v->as_object()) {
      int f = field_index(key);
      if (f < 0) {
        if (std::find(warned.begin(), warned.end(), key) == warned.end()) {
          warned.push_back(key);
          diag_(Severity::warning, quote(set_.sources[source_]) + ": line " + std::to_string(lineno) +
                                       ": ignoring unknown field " + quote(key));
        }
        continue;
      }
      if (val.is_null()) continue;
      if (f == kLabels && val.is_array()) {
        for (const auto& l : val.as_array()) {
          if (!l.is_string()) bad = true;
          else row.label_list.push_back(l.as_string());
        }
        if (bad) {
          ++set_.rows;
          row_error(lineno, "field 'labels' must be a list of strings");
          break;
        }
        continue;
      }
      if (val.is_string()) row.f[f] = val.as_string();
      else if (val.is_number() && f == kConfidence) row.f[f] = val.as_number().text;
      else bad = true;
      row.has[f] = true;
      if (bad) {
        ++set_.rows;
        row_error(lineno, "field " + quote(key) + " has the wrong JSON type");
        break;
      }
    }
    if (!bad) process_row(row, lineno);
  } while (true);
  if (in.bad()) return Error(ErrorCategory::io, quote(set_.sources[source_]) + ": read failed");
  return {};
}

Status Reader::read_input(const std::string& path) {
  source_ = static_cast<std::uint32_t>(set_.sources.size());
  set_.sources.push_back(display_name(path));
  auto in = open_input(path);
  if (!in) return std::move(in).error();
  std::istream& s = **in;
  // A file's size bounds what it adds: reserving once avoids copying the
  // pool and the records each time they would double.
  if (struct stat st {}; path != "-" && ::stat(path.c_str(), &st) == 0 && st.st_size > 0) {
    set_.pool.reserve(set_.pool.size() + static_cast<std::size_t>(st.st_size));
    set_.records.reserve(set_.records.size() + static_cast<std::size_t>(st.st_size) / 48);
    advise_huge_pages(set_.pool.data(), set_.pool.capacity());
    advise_huge_pages(set_.records.data(), set_.records.capacity() * sizeof(Record));
  }
  std::string first;
  // The first non-blank line decides the format when nothing else does.
  std::uint64_t first_line = 0;
  while (std::getline(s, first)) {
    ++first_line;
    if (!trim(first).empty()) break;
  }
  if (trim(first).empty()) return {};  // empty input: nothing to do
  if (first.size() >= 3 && static_cast<unsigned char>(first[0]) == 0xEF) first.erase(0, 3);  // UTF-8 BOM
  DetectionFormat format = options_.format;
  if (format == DetectionFormat::automatic) {
    if (ends_with(path, ".csv")) format = DetectionFormat::csv;
    else if (ends_with(path, ".tsv") || ends_with(path, ".tab")) format = DetectionFormat::tsv;
    else if (ends_with(path, ".ndjson") || ends_with(path, ".jsonl")) format = DetectionFormat::ndjson;
    else if (trim(first)[0] == '{') format = DetectionFormat::ndjson;
    else if (first.find('\t') != std::string::npos) format = DetectionFormat::tsv;
    else format = DetectionFormat::csv;
  }
  switch (format) {
    case DetectionFormat::ndjson: return read_ndjson(s, std::move(first), first_line);
    case DetectionFormat::tsv: return read_delimited(s, std::move(first), first_line, true);
    default: return read_delimited(s, std::move(first), first_line, false);
  }
}

void Reader::add_cli_values() {
  source_ = static_cast<std::uint32_t>(set_.sources.size());
  set_.sources.push_back("<command line>");
  std::uint64_t n = 0;
  for (const auto& [value, confidence] : options_.cli_values) {
    RowFields row;
    row.f[kValue] = value;
    row.has[kValue] = true;
    row.f[kConfidence] = confidence;
    row.has[kConfidence] = true;
    process_row(row, ++n);
  }
}

}  // namespace

std::string DetectionSet::where(const Record& r) const {
  return quote(sources[r.source]) + ": line " + std::to_string(r.line);
}

Result<std::string> normalise_detection_time(std::string_view text) {
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    std::string full = std::string(text) + "T00:00:00Z";
    auto t = Timestamp::parse(full);
    if (!t) return Error(ErrorCategory::data, "invalid date " + quote(text));
    return full;
  }
  auto t = Timestamp::parse(text);
  if (!t) return std::move(t).error();
  return std::string(text);
}

Result<Confidence> parse_confidence(std::string_view text) {
  auto bad = [&](std::string_view why) { return Error(ErrorCategory::data, "confidence " + quote(text) + " " + std::string(why)); };
  std::string_view s = text;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (!s.empty() && s[0] == '-') return bad("is negative");
  std::string digits;  // short: fits the small-string buffer, no allocation
  int exp10 = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    digits += s[i++];
    any = true;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      digits += s[i++];
      --exp10;
      any = true;
    }
  }
  if (!any) return bad("is not a number");
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    int e = 0;
    auto res = std::from_chars(s.data() + i + (i < s.size() && s[i] == '+' ? 1 : 0), s.data() + s.size(), e);
    if (res.ec != std::errc() || res.ptr != s.data() + s.size() || e > 1000 || e < -1000) return bad("is not a number");
    exp10 += e;
    i = s.size();
  }
  if (i != s.size()) return bad("is not a number");
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  Confidence c;
  std::from_chars(s.data(), s.data() + s.size(), c.raw);
  // round(digits x 10^(exp10 + shift)), half away from zero; -1 above 100.
  auto scaled = [&](int shift) -> int {
    if (digits.empty()) return 0;
    int e = exp10 + shift;
    auto n = static_cast<int>(digits.size());
    if (e >= 0) {
      if (n + e > 3) return -1;
      int v = std::atoi(digits.c_str());
      for (int k = 0; k < e; ++k) v *= 10;
      return v > 100 ? -1 : v;
    }
    int k = -e;
    int whole = 0;
    char dropped = '0';
    if (k >= n) {
      dropped = k == n ? digits[0] : '0';
    } else {
      if (n - k > 3) return -1;
      whole = std::atoi(digits.substr(0, static_cast<std::size_t>(n - k)).c_str());
      dropped = digits[static_cast<std::size_t>(n - k)];
    }
    int v = whole + (dropped >= '5' ? 1 : 0);
    return v > 100 ? -1 : v;
  };
  c.unit = c.raw <= 1.0 ? scaled(2) : -1;
  c.percent = scaled(0);
  return c;
}

Status read_detections(const GenerateOptions& options, DetectionSet& set, const DiagnosticSink& diagnostics) {
  Reader reader(options, set, diagnostics);
  for (const auto& path : options.inputs) CTI_TRY_STATUS(reader.read_input(path));
  if (!options.cli_values.empty()) reader.add_cli_values();
  return {};
}

}  // namespace ctishare::stix::detail
