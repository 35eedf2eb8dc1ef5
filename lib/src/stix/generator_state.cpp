// stix-gen's state file: loading into compact entries, lookup by pattern,
// and saving by merging the old file with this run's entries in id order.
// Beside it, revoke(1)'s holds: a small file of their own, and a scan of the
// state that finds a few entries without loading it.
#include "generator_state.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "core/digest.h"
#include "ctishare/file.h"
#include "ctishare/object.h"

namespace ctishare::stix::detail {

namespace {

constexpr std::string_view kStateHeader = "ctishare-stix-gen-state 1";
constexpr std::string_view kHoldsHeader = "ctishare-stix-gen-holds 1";

bool parse_hex(std::string_view text, Digest& out) {
  auto v = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  if (text.size() != 32) return false;
  for (std::size_t i = 0; i < 16; ++i) {
    int hi = v(text[2 * i]), lo = v(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

void append_hex(std::string& out, const Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (auto b : d) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
}

// Splits a line into at most N tab-separated fields; returns how many.
template <std::size_t N>
std::size_t split_tabs(std::string_view line, std::array<std::string_view, N>& f) {
  std::size_t n = 0, start = 0;
  for (;;) {
    auto tab = line.find('\t', start);
    if (n == N) return N + 1;  // too many
    f[n++] = line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
    if (tab == std::string_view::npos) return n;
    start = tab + 1;
  }
}

constexpr std::string_view kIdPrefix = "indicator--";

// The block scan_state() reads at a time: small enough to stay in the cache
// between the kernel's copy and the comparisons (256 KiB took half the time
// of 8 MiB, and mapping the file more than either, on a million entries).
constexpr std::size_t kScanBlock = 256U << 10;

std::string in_dir(const std::string& dir, std::string_view name) { return dir + "/" + std::string(name); }

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// An entry of the state as scan_state() finds it.
struct ScannedEntry {
  std::string id, pattern, modified, creator;
  bool revoked = false;
};

// Finds the entries of `patterns` and `ids` in the state file at `path`
// without loading it: the file is read in blocks that stay in the cache and
// each line only compared at known offsets, so a million-entry state costs
// one read, not a million parsed lines. A missing file has no entries.
Result<std::vector<ScannedEntry>> scan_state(const std::string& path, const std::vector<std::string>& patterns,
                                             const std::vector<std::string>& ids) {
  std::vector<ScannedEntry> found;
  if (patterns.empty() && ids.empty()) return found;
  // A pattern is the second field of its line, an id the third; the fields
  // are escaped, so a tab inside one cannot mislead the comparison.
  std::vector<std::string> escaped;
  for (const auto& p : patterns) escaped.push_back(escape_field(p));
  constexpr std::string_view kRecord = "indicator\t";
  auto corrupt = [&](const std::string& why) {
    return Error(ErrorCategory::data, quote(path) + ": corrupt state file: " + why + " (move it away to start over)");
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return found;
    return Error(ErrorCategory::io, quote(path) + ": cannot read: " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  std::size_t capacity = kScanBlock;
  auto buf = std::make_unique<char[]>(capacity);
  buf[0] = '\n';  // every line, the first included, follows a newline
  std::size_t size = 1;
  bool header_checked = false;
  std::array<std::string_view, 10> f;
  for (bool eof = false; !eof;) {
    if (size == capacity) {  // a line longer than the buffer
      auto bigger = std::make_unique<char[]>(capacity * 2);
      std::memcpy(bigger.get(), buf.get(), size);
      buf = std::move(bigger);
      capacity *= 2;
    }
    const ssize_t n = ::read(fd, buf.get() + size, capacity - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(ErrorCategory::io, quote(path) + ": read failed: " + std::strerror(errno));
    }
    eof = n == 0;
    size += static_cast<std::size_t>(n);
    // Whole lines only; the rest waits for the next block.
    const char* last_newline = static_cast<const char*>(::memrchr(buf.get(), '\n', size));
    const std::size_t whole = eof ? size : static_cast<std::size_t>(last_newline - buf.get());
    if (!header_checked && (whole > kStateHeader.size() || eof)) {
      if (std::string_view(buf.get() + 1, std::min(size - 1, kStateHeader.size() + 1)) !=
          std::string(kStateHeader) + "\n")
        return corrupt("unknown header");
      header_checked = true;
    }
    const std::string_view block(buf.get(), whole);
    for (std::size_t at = 0; at < block.size();) {  // block[at] is the newline before a line
      std::size_t end = block.find('\n', at + 1);
      if (end == std::string_view::npos) end = block.size();
      const std::string_view line = block.substr(at + 1, end - at - 1);
      at = end;
      if (line.substr(0, kRecord.size()) != kRecord) continue;
      const std::string_view rest = line.substr(kRecord.size());
      bool wanted = false;
      for (const auto& p : escaped)
        if (rest.size() > p.size() && rest[p.size()] == '\t' && rest.substr(0, p.size()) == p) wanted = true;
      if (!wanted && !ids.empty()) {
        const std::size_t tab = rest.find('\t');
        const std::string_view id = tab == std::string_view::npos ? std::string_view() : rest.substr(tab + 1);
        for (const auto& i : ids)
          if (id.size() > i.size() && id[i.size()] == '\t' && id.substr(0, i.size()) == i) wanted = true;
      }
      if (!wanted) continue;
      if (split_tabs(line, f) != 10) return corrupt("bad record " + quote(line.substr(0, 200)));
      ScannedEntry e;
      e.id = std::string(f[2]);
      if (!Timestamp::parse(f[4])) return corrupt("bad timestamp for " + quote(e.id));
      if (f[9].substr(0, 10) != "identity--") return corrupt("bad creator identity for " + quote(e.id));
      e.pattern = unescape_field(f[1]);
      e.modified = std::string(f[4]);
      e.revoked = f[8] == "1";
      e.creator = std::string(f[9]);
      found.push_back(std::move(e));
    }
    // Keep the partial line, with the newline before it.
    std::memmove(buf.get(), buf.get() + whole, size - whole);
    size -= whole;
  }
  if (!header_checked) return corrupt("unknown header");
  // A line named by its pattern and by its id counts once.
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  found.erase(std::unique(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.id == b.id; }),
              found.end());
  return found;
}

std::string holds_text(const std::vector<Hold>& holds) {
  std::string out(kHoldsHeader);
  out += '\n';
  for (const Hold& h : holds) {
    out +=
        "hold\t" + h.indicator_id + "\t" + h.identity_id + "\t" + h.modified + (h.lifted ? "\tlifted\t" : "\theld\t");
    append_escaped_field(out, h.pattern);
    out += '\t';
    append_escaped_field(out, h.reason);
    out += '\n';
  }
  return out;
}

void sort_holds(std::vector<Hold>& holds) {
  std::sort(holds.begin(), holds.end(), [](const Hold& a, const Hold& b) { return a.indicator_id < b.indicator_id; });
}

}  // namespace

std::string escape_field(std::string_view s) {
  std::string out;
  append_escaped_field(out, s);
  return out;
}

void append_escaped_field(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
}

std::string unescape_field(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[++i];
      out += n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r' : n;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::uint32_t StringTable::intern(std::string_view s) {
  auto it = index_.find(s);
  if (it != index_.end()) return it->second;
  auto i = static_cast<std::uint32_t>(strings_.size());
  strings_.emplace_back(s);
  parsed_.emplace_back();
  index_.emplace(strings_.back(), i);
  return i;
}

const Timestamp& StringTable::time(std::uint32_t i) {
  if (!parsed_[i]) parsed_[i] = *Timestamp::parse(strings_[i]);
  return *parsed_[i];
}

IndicatorState::Key IndicatorState::key_of(std::string_view creator, std::string_view pattern) {
  // A cryptographic hash: nobody can craft a value whose pattern takes over
  // another indicator's id.
  std::string text;
  text.reserve(creator.size() + 1 + pattern.size());
  text += creator;
  text += '\n';
  text += pattern;
  const auto md = ctishare::detail::sha256(text);
  Key k{};
  std::copy(md.begin(), md.begin() + k.size(), k.begin());
  return k;
}

std::optional<std::uint32_t> IndicatorState::lookup(const Key& key) const {
  if (index_.empty()) return std::nullopt;
  const std::size_t mask = index_.size() - 1;
  std::uint64_t h = 0;
  std::memcpy(&h, key.data(), sizeof h);
  for (std::size_t pos = h & mask;; pos = (pos + 1) & mask) {
    const std::uint32_t slot = index_[pos];
    if (slot == 0) return std::nullopt;
    if (keys_[slot - 1] == key && !superseded_[slot - 1]) return slot - 1;
  }
}

void IndicatorState::index_add(std::uint32_t entry) {
  if ((entries_.size() + 1) * 3 > index_.size() * 2) grow_index();
  const std::size_t mask = index_.size() - 1;
  std::uint64_t h = 0;
  std::memcpy(&h, keys_[entry].data(), sizeof h);
  std::size_t pos = h & mask;
  while (index_[pos] != 0) pos = (pos + 1) & mask;
  index_[pos] = entry + 1;
}

void IndicatorState::grow_index() {
  std::size_t capacity = 1024;
  while (capacity * 2 < (entries_.size() + 1) * 3) capacity *= 2;
  capacity *= 2;
  index_.assign(capacity, 0);
  const std::size_t mask = capacity - 1;
  for (std::uint32_t e = 0; e < entries_.size(); ++e) {
    std::uint64_t h = 0;
    std::memcpy(&h, keys_[e].data(), sizeof h);
    std::size_t pos = h & mask;
    while (index_[pos] != 0) pos = (pos + 1) & mask;
    index_[pos] = e + 1;
  }
}

Status IndicatorState::load(const std::string& path) {
  path_ = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // First run: a fresh key for the content digests.
    if (RAND_bytes(digest_key.data(), static_cast<int>(digest_key.size())) != 1)
      return Error(ErrorCategory::internal, "the random number generator failed");
    return {};
  }
  bool have_key = false;
  std::string line;
  std::uint64_t n = 0;
  auto corrupt = [&](const std::string& why) {
    return Error(ErrorCategory::data, quote(path) + ": line " + std::to_string(n) + ": corrupt state file: " + why +
                                          " (move it away to start over)");
  };
  auto time_field = [&](std::string_view t, std::uint32_t& out) {
    out = times.intern(t);
    // A timestamp is checked once, when first seen.
    return Timestamp::parse(times[out]).has_value();
  };
  std::array<std::string_view, 10> f;
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) {
      if (line != kStateHeader) return corrupt("unknown header");
      continue;
    }
    const std::size_t count = split_tabs(line, f);
    if (f[0] == "digest-key" && count == 2 && n == 2) {
      Digest k{};
      if (!parse_hex(f[1], k)) return corrupt("bad digest key");
      std::copy(k.begin(), k.end(), digest_key.begin());
      have_key = true;
    } else if (!have_key) {
      return corrupt("no digest key");
    } else if (f[0] == "identity" && count == 6) {
      auto id = Identifier::parse(f[2]);
      if (!id || id->type != "identity" || !Timestamp::parse(f[4]) || !Timestamp::parse(f[5]))
        return corrupt("bad identity");
      identities[unescape_field(f[1])] = IdentityEntry{id->to_string(), unescape_field(f[3]), std::string(f[4]), std::string(f[5])};
    } else if (f[0] == "indicator" && count == 10) {
      StateEntry e;
      std::optional<Uuid> id;
      if (f[2].substr(0, kIdPrefix.size()) == kIdPrefix) id = Uuid::parse(f[2].substr(kIdPrefix.size()));
      if (!id) return corrupt("bad indicator id");
      e.id = *id;
      if (!time_field(f[3], e.created) || !time_field(f[4], e.modified) || !time_field(f[5], e.valid_from) ||
          !time_field(f[6], e.valid_until))
        return corrupt("bad timestamp");
      if (!parse_hex(f[7], e.digest)) return corrupt("bad digest");
      e.revoked = f[8] == "1";
      auto creator = Identifier::parse(f[9]);
      if (!creator || creator->type != "identity") return corrupt("bad creator identity");
      e.creator = creators.intern(f[9]);
      const bool escaped = f[1].find('\\') != std::string_view::npos;
      entries_.push_back(e);
      keys_.push_back(key_of(f[9], escaped ? std::string_view(unescape_field(f[1])) : f[1]));
      superseded_.push_back(false);
    } else {
      return corrupt("unexpected record");
    }
  }
  if (in.bad()) return Error(ErrorCategory::io, quote(path) + ": read failed");
  if (!have_key) return corrupt(n == 0 ? "empty file" : "no digest key");
  file_entries_ = entries_.size();
  grow_index();
  return {};
}

StateEntry* IndicatorState::find(std::string_view pattern, std::string_view creator) {
  auto e = lookup(key_of(creator, pattern));
  return e ? &entries_[*e] : nullptr;
}

void IndicatorState::put(std::string_view pattern, const StateEntry& entry) {
  const Key key = key_of(creators[entry.creator], pattern);
  if (auto old = lookup(key)) superseded_[*old] = true;
  entries_.push_back(entry);
  keys_.push_back(key);
  superseded_.push_back(false);
  const auto e = static_cast<std::uint32_t>(entries_.size() - 1);
  added_patterns_.emplace(e, std::string(pattern));
  index_add(e);
}

Status IndicatorState::save(const std::string& path, const std::vector<const StateEntry*>& fresh,
                            const PatternOf& pattern_of) {
  auto file = AtomicFile::create(path);
  if (!file) return std::move(file).error();
  std::string buf(kStateHeader);
  buf += "\ndigest-key\t";
  Digest key{};
  std::copy(digest_key.begin(), digest_key.end(), key.begin());
  append_hex(buf, key);
  buf += '\n';
  for (const auto& [name, e] : identities)
    buf += "identity\t" + escape_field(name) + "\t" + e.id + "\t" + escape_field(e.identity_class) + "\t" + e.created + "\t" +
           e.modified + "\n";
  auto flush = [&]() -> Status {
    if (buf.size() < (1U << 20)) return {};
    Status s = (*file)->write(buf);
    buf.clear();
    return s;
  };
  // `pattern` is written as it is when `escaped`, else escaped here.
  auto write_entry = [&](const StateEntry& e, std::string_view pattern, bool escaped) {
    buf += "indicator\t";
    if (escaped) buf += pattern;
    else append_escaped_field(buf, pattern);
    buf += '\t';
    buf += kIdPrefix;
    e.id.append_to(buf);
    for (std::uint32_t t : {e.created, e.modified, e.valid_from, e.valid_until}) {
      buf += '\t';
      buf += times[t];
    }
    buf += '\t';
    append_hex(buf, e.digest);
    buf += e.revoked ? "\t1\t" : "\t0\t";
    buf += creators[e.creator];
    buf += '\n';
  };

  // Kept entries added after loading (seeded), in id order.
  std::vector<std::uint32_t> added;
  for (std::uint32_t e = static_cast<std::uint32_t>(file_entries_); e < entries_.size(); ++e)
    if (!superseded_[e]) added.push_back(e);
  std::sort(added.begin(), added.end(), [&](auto a, auto b) { return entries_[a].id < entries_[b].id; });

  // Kept entries of the old file, in file order (which is id order), with
  // their pattern text taken from the file as it is.
  std::ifstream old;
  if (file_entries_ != 0) old.open(path_, std::ios::binary);
  std::string line;
  std::size_t file_entry = 0;
  std::array<std::string_view, 9> f;
  bool have_old = false;
  std::size_t old_entry = 0;
  std::string_view old_pattern;
  auto next_old = [&]() {
    have_old = false;
    while (file_entry < file_entries_ && std::getline(old, line)) {
      if (line.rfind("indicator\t", 0) != 0) continue;
      const std::size_t e = file_entry++;
      if (superseded_[e]) continue;
      split_tabs(line, f);
      old_entry = e;
      old_pattern = f[1];
      have_old = true;
      return;
    }
  };

  next_old();
  std::size_t fi = 0, ai = 0;
  for (;;) {
    // The smallest id of the three sources goes next.
    const StateEntry* best = nullptr;
    int source = -1;
    if (have_old) {
      best = &entries_[old_entry];
      source = 0;
    }
    if (fi < fresh.size() && (best == nullptr || fresh[fi]->id < best->id)) {
      best = fresh[fi];
      source = 1;
    }
    if (ai < added.size() && (best == nullptr || entries_[added[ai]].id < best->id)) {
      best = &entries_[added[ai]];
      source = 2;
    }
    if (best == nullptr) break;
    if (source == 0) {
      write_entry(*best, old_pattern, true);
      next_old();
    } else if (source == 1) {
      write_entry(*best, pattern_of(fi), false);
      ++fi;
    } else {
      write_entry(*best, added_patterns_.at(added[ai]), false);
      ++ai;
    }
    CTI_TRY_STATUS(flush());
  }
  if (file_entries_ != 0 && (old.bad() || file_entry != file_entries_))
    return Error(ErrorCategory::io, quote(path_) + ": read failed while saving the state");
  CTI_TRY_STATUS((*file)->write(buf));
  auto committed = (*file)->commit();
  if (!committed) return std::move(committed).error();
  return {};
}

Result<std::vector<Hold>> read_holds(const std::string& path) {
  std::vector<Hold> holds;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!exists(path)) return holds;
    return Error(ErrorCategory::io, quote(path) + ": cannot read");
  }
  std::string line;
  std::uint64_t n = 0;
  auto corrupt = [&](const std::string& why) {
    return Error(ErrorCategory::data, quote(path) + ": line " + std::to_string(n) + ": corrupt holds file: " + why);
  };
  std::array<std::string_view, 7> f;
  while (std::getline(in, line)) {
    if (++n == 1) {
      if (line != kHoldsHeader) return corrupt("unknown header");
      continue;
    }
    if (split_tabs(line, f) != 7 || f[0] != "hold") return corrupt("unexpected record");
    auto id = Identifier::parse(f[1]);
    auto creator = Identifier::parse(f[2]);
    if (!id || id->type != "indicator" || id->to_string() != f[1]) return corrupt("bad indicator id");
    if (!creator || creator->type != "identity") return corrupt("bad identity id");
    if (!Timestamp::parse(f[3])) return corrupt("bad timestamp");
    if (f[4] != "held" && f[4] != "lifted") return corrupt("neither held nor lifted");
    holds.push_back(Hold{std::string(f[1]), std::string(f[2]), unescape_field(f[5]), std::string(f[3]),
                         unescape_field(f[6]), f[4] == "lifted"});
  }
  if (in.bad()) return Error(ErrorCategory::io, quote(path) + ": read failed");
  if (n == 0) return corrupt("empty file");
  sort_holds(holds);
  return holds;
}

}  // namespace ctishare::stix::detail

namespace ctishare::stix {

using detail::kHoldsFile;
using detail::kLockFile;
using detail::kStateFile;

Result<Holds> Holds::open(const std::string& state_dir, int wait_seconds) {
  Holds h;
  h.dir_ = state_dir;
  const std::string holds_path = detail::in_dir(state_dir, kHoldsFile);
  const std::string state_path = detail::in_dir(state_dir, kStateFile);
  if (wait_seconds >= 0 && (detail::exists(state_path) || detail::exists(holds_path))) {
    auto lock = FileLock::acquire(detail::in_dir(state_dir, kLockFile), wait_seconds);
    if (!lock) return std::move(lock).error();
    h.lock_.emplace(std::move(*lock));
  }
  h.has_state_ = detail::exists(state_path);
  auto holds = detail::read_holds(holds_path);
  if (!holds) return std::move(holds).error();
  h.holds_ = std::move(*holds);
  return h;
}

Result<std::vector<Hold>> Holds::find(const std::vector<std::string>& patterns, const std::vector<std::string>& ids,
                                      const Timestamp& now, const std::string& reason) const {
  std::vector<Hold> out;
  if (!has_state_) return out;
  std::vector<std::string> canonical_ids;
  for (const auto& i : ids)
    if (auto id = Identifier::parse(i); id && id->type == "indicator") canonical_ids.push_back(id->to_string());
  auto found = detail::scan_state(detail::in_dir(dir_, kStateFile), patterns, canonical_ids);
  if (!found) return std::move(found).error();
  for (const auto& e : *found) {
    auto kept = std::lower_bound(holds_.begin(), holds_.end(), e.id,
                                 [](const Hold& h, const std::string& id) { return h.indicator_id < id; });
    Hold h;
    if (kept != holds_.end() && kept->indicator_id == e.id) {
      h = *kept;  // its revoked version exists already
    } else {
      h.indicator_id = e.id;
      h.identity_id = e.creator;
      h.pattern = e.pattern;
      h.modified = e.revoked ? e.modified
                             : next_version_time(*Timestamp::parse(e.modified), now).with_min_precision(3).to_string();
    }
    h.reason = reason;
    h.lifted = false;
    out.push_back(std::move(h));
  }
  return out;
}

void Holds::add(const std::vector<Hold>& holds) {
  for (const Hold& h : holds) {
    auto kept =
        std::find_if(holds_.begin(), holds_.end(), [&](const Hold& k) { return k.indicator_id == h.indicator_id; });
    if (kept != holds_.end()) *kept = h;
    else holds_.push_back(h);
  }
  detail::sort_holds(holds_);
}

std::vector<Hold> Holds::lift(const std::vector<std::string>& patterns, const std::vector<std::string>& ids) {
  std::vector<Hold> lifted;
  for (Hold& h : holds_) {
    if (h.lifted) continue;
    const bool named =
        std::find(patterns.begin(), patterns.end(), h.pattern) != patterns.end() ||
        std::any_of(ids.begin(), ids.end(), [&](const std::string& i) {
          auto id = Identifier::parse(i);
          return id && id->to_string() == h.indicator_id;
        });
    if (!named) continue;
    h.lifted = true;
    lifted.push_back(h);
  }
  return lifted;
}

Status Holds::save() const {
  auto written = write_file_atomically(detail::in_dir(dir_, kHoldsFile), detail::holds_text(holds_));
  if (!written) return std::move(written).error();
  return {};
}

}  // namespace ctishare::stix
