// SQLite helpers shared by the library's stores (the TAXII server's and
// feed-merge's): statements that reset themselves, bound values, and the
// instant-ordered text key of a STIX version.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ctishare::detail {

// The instant-ordered key of a version in time order, equal for equal instants. A STIX
// timestamp becomes "YYYY-MM-DDTHH:MM:SS." plus its fraction without
// trailing zeros; anything else (non-STIX content, no version) becomes "~"
// plus the text, which sorts after every timestamp and compares as text.
inline std::string version_key(std::string_view v) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  bool ok = v.size() >= 20 && v.back() == 'Z';
  for (std::size_t i = 0; ok && i < kShape.size(); ++i) ok = kShape[i] == 'd' ? digit(v[i]) : v[i] == kShape[i];
  std::string_view fraction;
  if (ok && v.size() > 20) {
    ok = v[19] == '.' && v.size() > 21;
    if (ok) fraction = v.substr(20, v.size() - 21);
    for (char c : fraction) ok = ok && digit(c);
  }
  std::string key;
  if (!ok) {
    key.reserve(v.size() + 1);
    key += '~';
    key += v;
    return key;
  }
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  key.reserve(20 + fraction.size());
  key += v.substr(0, 19);
  key += '.';
  key += fraction;
  return key;
}

// A value bound to a `?` of a statement built at run time.
struct Bind {
  bool is_int = false;
  std::int64_t i = 0;
  std::string s;
};
using Binds = std::vector<Bind>;

// A prepared statement in use: reset (cached) or finalized (one-off) when
// it goes out of scope, so a failed call never leaves a statement busy.
class Stmt {
 public:
  Stmt(sqlite3_stmt* stmt, bool owned) : stmt_(stmt), owned_(owned) {}
  Stmt(Stmt&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)), owned_(other.owned_), bind_rc_(other.bind_rc_) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (stmt_ == nullptr) return;
    if (owned_) {
      sqlite3_finalize(stmt_);
    } else {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  // Text is bound without copying: it must outlive the next step().
  void bind(int index, std::string_view text) {
    note(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  // Bytes bound as a BLOB, without copying, as text is.
  void bind_blob(int index, std::string_view bytes) {
    note(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC));
  }
  void bind(int index, std::int64_t value) { note(sqlite3_bind_int64(stmt_, index, value)); }
  void bind(int index, double value) { note(sqlite3_bind_double(stmt_, index, value)); }
  void bind_null(int index) { note(sqlite3_bind_null(stmt_, index)); }
  void bind_all(const Binds& binds, int first = 1) {
    for (std::size_t i = 0; i < binds.size(); ++i) {
      int index = first + static_cast<int>(i);
      if (binds[i].is_int) {
        bind(index, binds[i].i);
      } else {
        bind(index, binds[i].s);
      }
    }
  }

  // SQLITE_ROW, SQLITE_DONE or an error code (a failed bind included).
  int step() {
    if (bind_rc_ != SQLITE_OK) return bind_rc_;
    return sqlite3_step(stmt_);
  }
  void reset() { sqlite3_reset(stmt_); }

  std::int64_t int_at(int col) const { return sqlite3_column_int64(stmt_, col); }
  double double_at(int col) const { return sqlite3_column_double(stmt_, col); }
  bool null_at(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string_view blob_at(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    if (p == nullptr) return {};
    return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))};
  }
  std::string_view text_at(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    if (p == nullptr) return {};
    return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))};
  }

 private:
  void note(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  sqlite3_stmt* stmt_;
  bool owned_;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace ctishare::detail
