// The hash-chained audit log: a writer that appends one JSON line per
// exchange under an exclusive flock (so the server and cron tools can share
// one file) and a verifier that walks the chain line by line. The record
// format is documented in ctishare/audit.h; both sides live here so they
// cannot drift apart. The writer also keeps the checkpoint beside the log,
// which the verifier checks the log against.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "ctishare/audit.h"
#include "ctishare/file.h"
#include "ctishare/json.h"

namespace ctishare::audit {

namespace {

constexpr std::string_view kZeroHash = "0000000000000000000000000000000000000000000000000000000000000000";
constexpr std::string_view kHashKey = ",\"hash\":\"";
// ,"hash":" + 64 hex digits + "}
constexpr std::size_t kHashSuffixBytes = 9 + 64 + 2;
// The longest last line the writer reads back to find seq and prev.
constexpr std::size_t kMaxTailBytes = 64U << 20;
// The largest checkpoint file verify_log() reads.
constexpr std::size_t kMaxCheckpointBytes = 4096;
// The least time between two checkpoints under SyncPolicy::on_request.
constexpr std::int64_t kCheckpointIntervalMillis = 1000;

using detail::sha256_hex;
using detail::to_hex;

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// Decodes one UTF-8 sequence at s[i]; returns its length and sets `cp`, or
// returns 0 for an invalid sequence (overlong forms, surrogates, > U+10FFFF,
// truncated).
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  char32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// Code points written as \uXXXX although JSON would allow them raw: they
// could end a line or disguise text in a terminal or log viewer (C0 and C1
// controls, DEL, line and paragraph separators, bidirectional overrides).
bool must_escape(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// "\uXXXX" for a code point of the Basic Multilingual Plane (every one
// must_escape() selects is).
void append_escaped_u(char32_t cp, std::string& out) {
  static const char* const digits = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += digits[(cp >> shift) & 0xF];
}

// Appends `s` as a JSON string literal that is one line of printable text:
// stricter than json::write_string, which passes invalid UTF-8 and C1
// controls through. Invalid bytes become U+FFFD; values over kMaxFieldBytes
// are cut at a character boundary and end in "...".
void append_string(std::string_view s, std::string& out) {
  bool cut = false;
  if (s.size() > kMaxFieldBytes) {
    std::size_t n = kMaxFieldBytes - 3;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s = s.substr(0, n);
    cut = true;
  }
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    const std::size_t len = decode_utf8(s, i, cp);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (must_escape(cp)) {
      append_escaped_u(cp, out);
    } else {
      out.append(s.data() + i, len);
    }
    i += len;
  }
  if (cut) out += "...";
  out += '"';
}

void append_member(std::string_view name, std::string_view value, std::string& out) {
  out += ",\"";
  out += name;
  out += "\":";
  append_string(value, out);
}

// One record's line without its newline.
std::string format_record(std::uint64_t seq, const std::string& time, const Event& e, const std::string& prev) {
  std::string line = "{\"seq\":" + std::to_string(seq);
  append_member("time", time, line);
  append_member("tool", e.tool, line);
  append_member("actor", e.actor, line);
  append_member("action", e.action, line);
  append_member("target", e.target, line);
  append_member("collection", e.collection, line);
  line += ",\"objects\":" + std::to_string(e.objects < -1 ? -1 : e.objects);
  append_member("result", e.result, line);
  append_member("remote", e.remote, line);
  append_member("detail", e.detail, line);
  append_member("ids", e.ids, line);
  line += ",\"prev\":\"" + prev + "\"";
  const std::string hash = sha256_hex(line);
  line += kHashKey;
  line += hash;
  line += "\"}";
  return line;
}

// The seq a line claims ({"seq":N,...), 0 when it claims none.
std::uint64_t leading_seq(std::string_view line) {
  constexpr std::string_view kPrefix = "{\"seq\":";
  if (line.substr(0, kPrefix.size()) != kPrefix) return 0;
  std::uint64_t seq = 0;
  for (std::size_t i = kPrefix.size(); i < line.size() && i < kPrefix.size() + 19; ++i) {
    if (line[i] < '0' || line[i] > '9') break;
    seq = seq * 10 + static_cast<std::uint64_t>(line[i] - '0');
  }
  return seq;
}

// The record hash member of a line format_record() made.
std::string record_hash(std::string_view line) { return std::string(line.substr(line.size() - 66, 64)); }

std::string time_text(const Timestamp& t) { return Timestamp::from_unix(t.unix_seconds(), t.nanos(), 6).to_string(); }

std::int64_t millis_of(const Timestamp& t) { return t.unix_seconds() * 1000 + t.nanos() / 1'000'000; }

Status write_all(int fd, std::string_view data, const std::string& path,
                 std::string_view what = "cannot write audit log") {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(ErrorCategory::io, path, what, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status sync_directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error(ErrorCategory::io, dir, "cannot sync directory", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) return sys_error(ErrorCategory::io, dir, "cannot sync directory", err);
  return {};
}

// Replaces the file at `path` with `content` atomically and durably: a
// temporary file of mode 0600 beside it, fsync, rename, fsync of the
// directory.
Status replace_file_durably(const std::string& path, std::string_view content) {
  constexpr std::string_view kWhat = "cannot write audit checkpoint";
  std::string tmp = path + ".XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return sys_error(ErrorCategory::io, path, kWhat, errno);
  auto fail = [&](int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return sys_error(ErrorCategory::io, path, kWhat, err);
  };
  if (::fchmod(fd, 0600) != 0) return fail(errno);
  if (auto written = write_all(fd, content, path, kWhat); !written) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return written;
  }
  if (::fsync(fd) != 0) return fail(errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return sys_error(ErrorCategory::io, path, kWhat, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return sys_error(ErrorCategory::io, path, kWhat, err);
  }
  return sync_directory_of(path);
}

}  // namespace

std::string ids_digest(std::vector<std::pair<std::string, std::string>> id_versions) {
  return ids_digest_views(
      std::vector<std::pair<std::string_view, std::string_view>>(id_versions.begin(), id_versions.end()));
}

namespace {

using IdVersion = std::pair<std::string_view, std::string_view>;

// A pair's place in the sort: eight bytes of its id, big-endian, from the
// offset its group is at (zeros past the end), and where it is.
struct SortItem {
  std::uint64_t key;
  std::uint32_t index;
  bool ends;  // the id ends inside these eight bytes: the key alone cannot order it
};

std::uint64_t key_at(std::string_view id, std::size_t at) {
  std::uint64_t k = 0;
  for (std::size_t i = 0; i < 8; ++i) k = k << 8 | (at + i < id.size() ? static_cast<unsigned char>(id[at + i]) : 0U);
  return k;
}

// Orders items [b, e), whose ids agree on their first `at` bytes, by
// (id, version): by eight bytes of the ids at a time (past the bytes the
// whole group shares), so a sort compares integers instead of strings;
// a small group, or one with an id that ends, takes the full comparison.
void sort_from(SortItem* b, SortItem* e, const std::vector<IdVersion>& pairs, std::size_t at) {
  const auto full = [&](const SortItem& x, const SortItem& y) { return pairs[x.index] < pairs[y.index]; };
  if (e - b < 16) {
    std::sort(b, e, full);
    return;
  }
  // The bytes every id of the group shares from `at` on.
  const std::string_view first = pairs[b->index].first;
  std::size_t shared = first.size();
  for (const SortItem* i = b + 1; i < e && shared > at; ++i) {
    const std::string_view id = pairs[i->index].first;
    std::size_t n = at;
    const std::size_t limit = std::min(shared, id.size());
    while (n < limit && id[n] == first[n]) ++n;
    shared = n;
  }
  at = shared;
  for (SortItem* i = b; i < e; ++i) {
    const std::string_view id = pairs[i->index].first;
    i->key = key_at(id, at);
    i->ends = id.size() <= at + 8;
  }
  std::sort(b, e, [](const SortItem& x, const SortItem& y) { return x.key < y.key; });
  for (SortItem* g = b; g < e;) {
    SortItem* h = g + 1;
    bool ends = g->ends;
    for (; h < e && h->key == g->key; ++h) ends = ends || h->ends;
    if (h - g > 1) {
      if (ends) {
        std::sort(g, h, full);
      } else {
        sort_from(g, h, pairs, at + 8);
      }
    }
    g = h;
  }
}

}  // namespace

std::string ids_digest_views(std::vector<std::pair<std::string_view, std::string_view>> id_versions) {
  if (id_versions.empty()) return {};
  // (id, version) order; a hundred thousand pairs sort in a fifth of the
  // time std::sort of the pairs takes, at the end of every large pull.
  std::vector<SortItem> order(id_versions.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i].index = static_cast<std::uint32_t>(i);
  sort_from(order.data(), order.data() + order.size(), id_versions, 0);
  std::size_t bytes = 0;
  for (const auto& [id, version] : id_versions) bytes += id.size() + version.size() + 2;
  std::string text;
  text.reserve(bytes);
  for (const SortItem& item : order) {
    const auto& [id, version] = id_versions[item.index];
    text += id;
    text += '|';
    text += version;
    text += '\n';
  }
  return "sha256:" + sha256_hex(text);
}

// ---------------------------------------------------------------- writer

struct AuditLog::State {
  std::string path;
  const Clock* clock = nullptr;
  SyncPolicy policy = SyncPolicy::every_record;
  int fd = -1;
  std::mutex mu;
  // Held by sync() for its whole run, taken before `mu`: one fdatasync at a
  // time, and a caller that waited for another's finds its records synced
  // (group commit). The fdatasync itself runs without `mu`, so appends go
  // on while the disk flushes.
  std::mutex sync_mu;
  // Counts the files opened, so a sync of a file since rotated away does
  // not mark the new file's records durable.
  std::uint64_t generation = 0;
  // The file's size after this writer's last append; -1 until known. Any
  // other size means another writer (or a crash) changed the tail.
  off_t known_size = -1;
  std::uint64_t last_seq = 0;
  std::string prev_hash;  // of the last complete line
  std::string torn_line;  // an incomplete last line, to be recovered
  bool torn = false;
  bool unsynced = false;
  // The last record this writer appended to the open file, the last of
  // those made durable, and the one its last checkpoint named (seq 0: none).
  std::uint64_t appended_seq = 0;
  std::string appended_hash;
  std::uint64_t durable_seq = 0;
  std::string durable_hash;
  std::uint64_t checkpoint_seq = 0;
  std::string checkpoint_hash;
  std::optional<std::int64_t> checkpoint_millis;  // clock time of the last checkpoint

  ~State() {
    if (fd < 0) return;
    // Closing: make everything durable and checkpoint it. Errors cannot be
    // reported here; the log itself stays verifiable.
    if (unsynced && ::fdatasync(fd) == 0) mark_durable();
    (void)checkpoint(true);
    ::close(fd);
  }

  // Opens (or creates, mode 0600) the file at `path`, replacing any fd
  // held, and forgets the records of the file held before. cannot_create
  // (73) errors as AuditLog::open.
  Status open_file();
  // Whether `path` no longer names the open file (the log was rotated).
  bool renamed_away() const;
  // Reads the end of a file of `size` bytes backwards until the last
  // complete line (and any incomplete line after it) is in hand.
  Status load_tail(off_t size);
  // Records that everything appended so far is on disk.
  void mark_durable() {
    unsynced = false;
    durable_seq = appended_seq;
    durable_hash = appended_hash;
  }
  // Writes the checkpoint for the last durable record when it names
  // another one than the last checkpoint, the file is still the one at
  // `path`, and `force` or a second has passed since the last checkpoint.
  Status checkpoint(bool force);
};

Status AuditLog::State::checkpoint(bool force) {
  if (durable_seq == 0 || (durable_seq == checkpoint_seq && durable_hash == checkpoint_hash)) return {};
  if (renamed_away()) return {};  // describes a rotated file: the new one gets its own
  const Timestamp now = clock->now();
  const std::int64_t millis = millis_of(now);
  if (!force && checkpoint_millis && millis >= *checkpoint_millis &&
      millis - *checkpoint_millis < kCheckpointIntervalMillis)
    return {};
  const std::string text = "{\"seq\":" + std::to_string(durable_seq) + ",\"hash\":\"" + durable_hash +
                           "\",\"time\":\"" + time_text(now) + "\"}\n";
  CTI_TRY_STATUS(replace_file_durably(path + kCheckpointSuffix, text));
  checkpoint_seq = durable_seq;
  checkpoint_hash = durable_hash;
  checkpoint_millis = millis;
  return {};
}

Status AuditLog::State::load_tail(off_t size) {
  last_seq = 0;
  prev_hash = std::string(kZeroHash);
  torn = false;
  torn_line.clear();
  if (size == 0) return {};
  std::string tail;
  off_t offset = size;
  std::array<char, 65536> buf{};
  // Two newlines bound the last complete line whether or not the file ends
  // in one; the start of the file bounds it too.
  while (offset > 0) {
    std::size_t newlines = 0;
    for (char c : tail) newlines += c == '\n' ? 1 : 0;
    if (newlines >= 2) break;
    if (tail.size() >= kMaxTailBytes)
      return Error(ErrorCategory::io, quote(path) + ": cannot append to audit log: last line longer than " +
                                          std::to_string(kMaxTailBytes) + " bytes");
    const auto chunk = static_cast<std::size_t>(std::min<off_t>(offset, static_cast<off_t>(buf.size())));
    offset -= static_cast<off_t>(chunk);
    std::size_t got = 0;
    while (got < chunk) {
      const ssize_t n = ::pread(fd, buf.data() + got, chunk - got, offset + static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return sys_error(ErrorCategory::io, path, "cannot read audit log", errno);
      if (n == 0) return Error(ErrorCategory::io, quote(path) + ": cannot read audit log: file shrank while locked");
      got += static_cast<std::size_t>(n);
    }
    tail.insert(0, buf.data(), chunk);
  }
  std::size_t end = tail.size();  // one past the last complete line's newline
  if (tail.back() != '\n') {
    const auto nl = tail.rfind('\n');
    torn = true;
    torn_line = tail.substr(nl == std::string::npos ? 0 : nl + 1);
    if (nl == std::string::npos) return {};  // no complete line at all
    end = nl + 1;
  }
  // The last complete line is tail[start, end - 1).
  std::size_t start = 0;
  if (end >= 2) {
    const auto nl = tail.rfind('\n', end - 2);
    start = nl == std::string::npos ? 0 : nl + 1;
  }
  if (start == 0 && offset > 0)
    return Error(ErrorCategory::io, quote(path) + ": cannot append to audit log: could not find the last line");
  const std::string_view last(tail.data() + start, end - 1 - start);
  last_seq = leading_seq(last);
  prev_hash = sha256_hex(last);
  return {};
}

AuditLog::AuditLog(std::unique_ptr<State> state) : state_(std::move(state)) {}
AuditLog::AuditLog(AuditLog&&) noexcept = default;
AuditLog& AuditLog::operator=(AuditLog&&) noexcept = default;
AuditLog::~AuditLog() = default;

const std::string& AuditLog::path() const { return state_->path; }

Status AuditLog::State::open_file() {
  if (fd >= 0) ::close(fd);
  fd = -1;
  ++generation;
  known_size = -1;
  appended_seq = durable_seq = checkpoint_seq = 0;
  appended_hash.clear();
  durable_hash.clear();
  checkpoint_hash.clear();
  bool created = false;
  for (int attempt = 0; fd < 0; ++attempt) {
    fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd >= 0) break;
    if (errno != ENOENT || attempt > 3)
      return sys_error(ErrorCategory::cannot_create, path, "cannot open audit log", errno);
    fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      created = true;
      break;
    }
    if (errno != EEXIST) return sys_error(ErrorCategory::cannot_create, path, "cannot create audit log", errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sys_error(ErrorCategory::cannot_create, path, "cannot open audit log", errno);
  if (!S_ISREG(st.st_mode))
    return Error(ErrorCategory::cannot_create, quote(path) + ": cannot open audit log: not a regular file");
  if (created) {
    // The umask may only have removed bits; make the mode exactly 0600 and
    // the new directory entry durable.
    if (::fchmod(fd, 0600) != 0)
      return sys_error(ErrorCategory::cannot_create, path, "cannot set mode of audit log", errno);
    auto synced = sync_directory_of(path);
    if (!synced) return Error(ErrorCategory::cannot_create, synced.error().message());
  }
  return {};
}

bool AuditLog::State::renamed_away() const {
  if (fd < 0) return true;  // an earlier reopen failed: try again
  struct stat open_st {};
  struct stat path_st {};
  if (::fstat(fd, &open_st) != 0) return false;
  if (::stat(path.c_str(), &path_st) != 0) return errno == ENOENT;
  return open_st.st_ino != path_st.st_ino || open_st.st_dev != path_st.st_dev;
}

Result<AuditLog> AuditLog::open(const std::string& path, const Clock& clock, SyncPolicy policy) {
  auto state = std::make_unique<State>();
  state->path = path;
  state->clock = &clock;
  state->policy = policy;
  CTI_TRY_STATUS(state->open_file());
  return AuditLog(std::move(state));
}

Status AuditLog::append(const Event& event) {
  State& s = *state_;
  std::lock_guard<std::mutex> guard(s.mu);
  if (s.renamed_away()) {
    // The log was rotated (renamed or removed): start the new file. Records
    // not yet synced to the old one are synced first.
    if (s.unsynced && ::fdatasync(s.fd) != 0)
      return sys_error(ErrorCategory::io, s.path, "cannot sync audit log", errno);
    s.unsynced = false;
    auto reopened = s.open_file();
    if (!reopened) return Error(ErrorCategory::io, reopened.error().message());
  }
  while (::flock(s.fd, LOCK_EX) != 0) {
    if (errno != EINTR) return sys_error(ErrorCategory::io, s.path, "cannot lock audit log", errno);
  }
  struct Unlock {
    int fd;
    ~Unlock() { ::flock(fd, LOCK_UN); }
  } unlock{s.fd};

  struct stat st {};
  if (::fstat(s.fd, &st) != 0) return sys_error(ErrorCategory::io, s.path, "cannot read audit log", errno);
  if (st.st_size != s.known_size) CTI_TRY_STATUS(s.load_tail(st.st_size));

  const std::string time = time_text(s.clock->now());
  std::uint64_t seq = s.last_seq;
  std::string prev = s.prev_hash;
  std::string out;
  if (s.torn) {
    // End the incomplete line and chain through it, so verify_log() can
    // tell an interrupted write (recovered here) from a truncated file.
    out += '\n';
    Event recover;
    recover.tool = event.tool;
    recover.action = kRecoverAction;
    recover.target = s.path;
    recover.result = "ok";
    recover.detail = "the line before is an incomplete record of " + std::to_string(s.torn_line.size()) +
                     " bytes left by an interrupted write";
    const std::string line = format_record(++seq, time, recover, sha256_hex(s.torn_line));
    out += line;
    out += '\n';
    prev = sha256_hex(line);
  }
  const std::string line = format_record(++seq, time, event, prev);
  out += line;
  out += '\n';

  auto written = write_all(s.fd, out, s.path);
  if (!written) {
    // Cut a partial record off again; should that fail too, the next append
    // re-reads the tail, finds the incomplete line and recovers it.
    s.known_size = ::ftruncate(s.fd, st.st_size) == 0 ? st.st_size : -1;
    return written;
  }
  s.known_size = st.st_size + static_cast<off_t>(out.size());
  s.last_seq = seq;
  s.prev_hash = sha256_hex(line);
  s.torn = false;
  s.torn_line.clear();
  s.appended_seq = seq;
  s.appended_hash = record_hash(line);
  s.unsynced = true;
  // The first record of a new file is checkpointed at once under either
  // policy, so that the checkpoint of a rotated log soon describes the new
  // file rather than the old one.
  if (s.policy == SyncPolicy::every_record || st.st_size == 0) {
    if (::fdatasync(s.fd) != 0) return sys_error(ErrorCategory::io, s.path, "cannot sync audit log", errno);
    s.mark_durable();
    return s.checkpoint(true);
  }
  return {};
}

Status AuditLog::sync() {
  State& s = *state_;
  std::lock_guard<std::mutex> sync_guard(s.sync_mu);
  std::unique_lock<std::mutex> guard(s.mu);
  if (s.unsynced) {
    // The records appended so far are flushed through a duplicate of the
    // descriptor (a rotation may close the original meanwhile) with `mu`
    // released; only those records are then marked durable.
    const int fd = ::dup(s.fd);
    if (fd < 0) return sys_error(ErrorCategory::io, s.path, "cannot sync audit log", errno);
    const std::uint64_t seq = s.appended_seq;
    const std::string hash = s.appended_hash;
    const std::uint64_t generation = s.generation;
    guard.unlock();
    const int rc = ::fdatasync(fd);
    const int err = errno;
    ::close(fd);
    guard.lock();
    if (rc != 0) return sys_error(ErrorCategory::io, s.path, "cannot sync audit log", err);
    if (generation == s.generation && seq > s.durable_seq) {
      s.durable_seq = seq;
      s.durable_hash = hash;
      s.unsynced = s.appended_seq != seq;
    }
  }
  return s.checkpoint(false);
}

// ---------------------------------------------------------------- verifier

namespace {

// The fields verify_log() needs from one line, or why the line is not a
// well-formed record with a matching hash.
struct CheckedRecord {
  std::string problem;  // empty when the line is a record whose hash matches
  std::uint64_t seq = 0;
  std::string prev;
  std::string action;
};

constexpr std::array<std::string_view, 14> kMembers = {"seq",    "time",       "tool",    "actor",  "action",
                                                       "target", "collection", "objects", "result", "remote",
                                                       "detail", "ids",        "prev",    "hash"};
constexpr std::size_t kPrevMember = 12;

CheckedRecord check_record(std::string_view line) {
  CheckedRecord r;
  if (line.empty()) {
    r.problem = "empty line";
    return r;
  }
  if (line.size() < kHashSuffixBytes || line.substr(line.size() - 2) != "\"}" ||
      line.substr(line.size() - kHashSuffixBytes, kHashKey.size()) != kHashKey ||
      !is_hex64(line.substr(line.size() - 66, 64))) {
    r.problem = "not an audit record: no hash at the end of the line";
    return r;
  }
  const std::string_view body = line.substr(0, line.size() - kHashSuffixBytes);
  if (sha256_hex(body) != line.substr(line.size() - 66, 64)) {
    r.problem = "hash does not match the record (edited?)";
    return r;
  }
  auto doc = json::parse(line);
  if (!doc) {
    r.problem = "not an audit record: " + doc.error().message();
    return r;
  }
  if (!doc->is_object() || doc->as_object().size() != kMembers.size()) {
    r.problem = "not an audit record: members differ from the audit format";
    return r;
  }
  const auto& members = doc->as_object();
  for (std::size_t i = 0; i < kMembers.size(); ++i) {
    const bool numeric = kMembers[i] == "seq" || kMembers[i] == "objects";
    if (members[i].first != kMembers[i] || (numeric ? !members[i].second.as_int64() : !members[i].second.is_string())) {
      r.problem = "not an audit record: member " + std::to_string(i + 1) + " should be " + quote(kMembers[i]);
      return r;
    }
  }
  const auto seq = *members[0].second.as_int64();
  if (seq < 1) {
    r.problem = "not an audit record: seq is not a positive integer";
    return r;
  }
  if (!Timestamp::parse(members[1].second.as_string())) {
    r.problem = "not an audit record: time is not an RFC 3339 timestamp";
    return r;
  }
  r.prev = members[kPrevMember].second.as_string();
  if (!is_hex64(r.prev)) {
    r.problem = "not an audit record: prev is not a SHA-256 in hex";
    return r;
  }
  r.seq = static_cast<std::uint64_t>(seq);
  r.action = members[4].second.as_string();
  return r;
}

// Whether `next` is a recovery record that chains to `line` as the
// incomplete record before it, at the expected seq.
bool recovers(std::string_view line, std::string_view next, std::uint64_t expected_seq) {
  if (next.find("\"action\":\"audit.recover\"") == std::string_view::npos) return false;
  const CheckedRecord r = check_record(next);
  return r.problem.empty() && r.action == kRecoverAction && r.seq == expected_seq && r.prev == sha256_hex(line);
}

// What a checkpoint file says.
struct Checkpoint {
  std::uint64_t seq = 0;
  std::string hash;
};

// Reads and checks a checkpoint file: one line holding a JSON object with
// exactly the members seq (a positive integer), hash (64 hex digits) and
// time (an RFC 3339 timestamp). no_input (66) when it cannot be read, data
// (65) when it is not a checkpoint.
Result<Checkpoint> read_checkpoint(const std::string& path) {
  auto in = open_input(path);
  if (!in) return std::move(in).error();
  std::string text(kMaxCheckpointBytes + 1, '\0');
  (*in)->read(text.data(), static_cast<std::streamsize>(text.size()));
  if ((*in)->bad()) return Error(ErrorCategory::io, quote(display_name(path)) + ": read failed");
  text.resize(static_cast<std::size_t>((*in)->gcount()));
  const auto invalid = [&](const std::string& why) {
    return Error(ErrorCategory::data, quote(display_name(path)) + ": not an audit checkpoint: " + why);
  };
  if (text.size() > kMaxCheckpointBytes)
    return invalid("longer than " + std::to_string(kMaxCheckpointBytes) + " bytes");
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (text.find('\n') != std::string::npos) return invalid("more than one line");
  auto doc = json::parse(text);
  if (!doc) return invalid(doc.error().message());
  if (!doc->is_object() || doc->as_object().size() != 3)
    return invalid("expected {\"seq\":N,\"hash\":\"<64 hex>\",\"time\":\"...\"}");
  const json::Value* seq = doc->find("seq");
  const auto hash = doc->find_string("hash");
  const auto time = doc->find_string("time");
  if (seq == nullptr || !seq->as_int64() || *seq->as_int64() < 1) return invalid("seq is not a positive integer");
  if (!hash || !is_hex64(*hash)) return invalid("hash is not a SHA-256 in hex");
  if (!time || !Timestamp::parse(*time)) return invalid("time is not an RFC 3339 timestamp");
  return Checkpoint{static_cast<std::uint64_t>(*seq->as_int64()), std::string(*hash)};
}

// The chain check of verify_log(), and the checkpoint check when
// `checkpoint` is given.
Result<VerifyReport> verify_stream(std::istream& in, const std::string& name, const Checkpoint* checkpoint) {
  VerifyReport report;
  std::string prev_hash(kZeroHash);
  std::uint64_t expected_seq = 1;
  // One line of lookahead: a recovery record vouches for the line before it.
  std::string line, next;
  bool have_line = static_cast<bool>(std::getline(in, line));
  bool line_ended = have_line && !in.eof();
  std::size_t number = 0;
  const auto fail = [&](std::size_t at, std::string problem) {
    report.ok = false;
    report.bad_line = at;
    report.problem = std::move(problem);
    return report;
  };
  while (have_line) {
    ++number;
    const bool have_next = line_ended && static_cast<bool>(std::getline(in, next));
    const bool next_ended = have_next && !in.eof();
    if (in.bad()) return Error(ErrorCategory::io, quote(name) + ": read failed");
    if (!line_ended) return fail(number, "last line has no newline: an interrupted write or a truncated file");
    if (have_next && next_ended && recovers(line, next, expected_seq)) {
      report.recovered_lines.push_back(number);
      prev_hash = sha256_hex(line);
    } else {
      const CheckedRecord r = check_record(line);
      if (!r.problem.empty()) return fail(number, r.problem);
      if (r.seq != expected_seq)
        return fail(number, "seq " + std::to_string(r.seq) + " where " + std::to_string(expected_seq) +
                                " was expected (line deleted, inserted or reordered?)");
      if (r.prev != prev_hash)
        return fail(number, "prev does not match the line before (line deleted, inserted, reordered or edited?)");
      if (checkpoint != nullptr && r.seq == checkpoint->seq && record_hash(line) != checkpoint->hash)
        return fail(number, "record " + std::to_string(r.seq) + " does not match the checkpoint (rewritten?)");
      prev_hash = sha256_hex(line);
      ++expected_seq;
      ++report.records;
    }
    line.swap(next);
    have_line = have_next;
    line_ended = next_ended;
  }
  if (in.bad()) return Error(ErrorCategory::io, quote(name) + ": read failed");
  const std::uint64_t last_seq = expected_seq - 1;
  if (checkpoint != nullptr && checkpoint->seq > last_seq)
    return fail(number + 1, "the log ends at record " + std::to_string(last_seq) + " but its checkpoint names record " +
                                std::to_string(checkpoint->seq) + " (truncated?)");
  return report;
}

}  // namespace

Result<VerifyReport> verify_log(std::istream& in, const std::string& name) { return verify_stream(in, name, nullptr); }

Result<VerifyReport> verify_log(const std::string& path, const VerifyOptions& options) {
  auto in = open_input(path);
  if (!in) return std::move(in).error();
  std::string checkpoint_path;
  if (!options.no_checkpoint) {
    if (!options.checkpoint.empty()) {
      checkpoint_path = options.checkpoint;
    } else if (path != "-") {
      // The log's own checkpoint, when there is one (anything but a
      // missing file is looked at, so an unreadable one is reported).
      struct stat st {};
      const std::string own = path + kCheckpointSuffix;
      if (::stat(own.c_str(), &st) == 0 || errno != ENOENT) checkpoint_path = own;
    }
  }
  if (checkpoint_path.empty()) return verify_stream(**in, display_name(path), nullptr);
  auto checkpoint = read_checkpoint(checkpoint_path);
  if (!checkpoint) return std::move(checkpoint).error();
  auto report = verify_stream(**in, display_name(path), &*checkpoint);
  if (report) {
    report->checkpoint_used = checkpoint_path;
    report->checkpoint_seq = checkpoint->seq;
  }
  return report;
}

Result<VerifyReport> verify_log(const std::string& path) { return verify_log(path, VerifyOptions{}); }

std::string default_log_path(const Config& config) {
  const char* env = std::getenv("CTISHARE_AUDIT_LOG");
  if (env != nullptr && *env != '\0') return env;
  if (!config.audit_log.empty()) return config.audit_log;
  return resolve_state_dir(config, "") + "/audit.jsonl";
}

}  // namespace ctishare::audit
