// taxii-pull's outputs: objects written as their pages arrive, then the
// journal that makes a delivery exactly once, the output and the cursors.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "core/digest.h"
#include "ctishare/file.h"
#include "ctishare/object.h"
#include "ctishare/taxii/pull.h"

namespace ctishare::taxii {

std::string partner_output_path(const std::string& dir, const std::string& partner, stix::OutputFraming framing) {
  return dir + "/" + partner + (framing == stix::OutputFraming::ndjson ? ".ndjson" : ".json");
}

namespace {

Status pwrite_all(int fd, std::string_view data, off_t at, const std::string& name) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(ErrorCategory::io, name, "write failed", errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    at += n;
  }
  return {};
}

// The content tag (core/digest.h) of a file's bytes from an offset on,
// taken from the writer's own buffers as it writes them in order (a
// seventh of the cost of reading 100 MB back); bytes it was not shown
// (written elsewhere, or after start() over a file already written) are
// read back from the file by finish().
class FileHasher {
 public:
  // Starts over: the bytes from `from` on, none seen yet.
  void start(off_t from) {
    done_ = from;
    tagger_ = detail::ContentTagger::create();  // (a tagger that fails says so in finish())
  }
  // `data` is about to be written at `at`; tagged when it follows what was.
  void writing(const iovec* data, std::size_t count, off_t at) {
    if (tagger_ == nullptr || at != done_) return;
    for (std::size_t i = 0; i < count; ++i) {
      tagger_->update(data[i].iov_base, data[i].iov_len);
      done_ += static_cast<off_t>(data[i].iov_len);
    }
  }
  // The tag of the bytes before `to`, all written; those it was not shown
  // are read from `fd` (the file start() named, or one holding the same
  // bytes); `name` for messages.
  Result<std::string> finish(off_t to, int fd, const std::string& name) {
    const auto cannot_tag = [&] {
      return Error(ErrorCategory::internal, "OpenSSL: cannot tag the content of " + quote(name));
    };
    if (tagger_ == nullptr) return cannot_tag();
    std::string buffer;
    while (done_ < to) {
      buffer.resize(std::min<std::size_t>(kPiece, static_cast<std::size_t>(to - done_)));
      const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), done_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return sys_error(ErrorCategory::io, name, "cannot read it back to tag its content", n < 0 ? errno : EIO);
      tagger_->update(buffer.data(), static_cast<std::size_t>(n));
      done_ += n;
    }
    auto tag = tagger_->finish();
    if (!tag) return cannot_tag();
    return std::move(*tag);
  }

 private:
  static constexpr std::size_t kPiece = 1U << 20;
  std::unique_ptr<detail::ContentTagger> tagger_;
  off_t done_ = 0;
};

// Bytes that live as long as the pool: the keys of the objects written.
class KeyPool {
 public:
  std::string_view keep(std::string_view s) {
    if (s.empty()) return {};  // (an object without a version)
    if (s.size() > left_) {
      const std::size_t size = std::max(kChunk, s.size());
      chunks_.push_back(std::make_unique<char[]>(size));
      next_ = chunks_.back().get();
      left_ = size;
    }
    char* at = next_;
    std::memcpy(at, s.data(), s.size());
    next_ += s.size();
    left_ -= s.size();
    return {at, s.size()};
  }

 private:
  static constexpr std::size_t kChunk = 1U << 20;
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* next_ = nullptr;
  std::size_t left_ = 0;
};

// The keys of one output, each with a tag (the partner that last brought
// it): open addressing over 64-bit hashes, so a new key (nearly every one)
// costs one probe into a flat array instead of a node of its own.
class KeyTable {
 public:
  struct Entry {
    ObjectKey key;
    std::uint32_t tag;
    std::uint64_t hash;  // kept: growing and rebuilding do not hash the strings again
  };
  // The entry of `key`, or nullptr.
  Entry* find(const ObjectKey& key) {
    if (slots_.empty()) return nullptr;
    const std::uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.index == 0) return nullptr;
      if (s.hash == h && entries_[s.index - 1].key == key) return &entries_[s.index - 1];
    }
  }
  // Adds a key not in the table.
  void insert(const ObjectKey& key, std::uint32_t tag) {
    if ((entries_.size() + 1) * 2 > slots_.size()) grow();
    entries_.push_back({key, tag, hash(key)});
    place(entries_.back().hash, static_cast<std::uint32_t>(entries_.size()));
  }
  // Keeps the entries `keep` accepts (rebuilding: for the rare way back).
  template <typename Keep>
  void filter(Keep keep) {
    std::erase_if(entries_, [&](const Entry& e) { return !keep(e); });
    std::fill(slots_.begin(), slots_.end(), Slot{});
    place_all();
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t index = 0;  // into entries_, plus one; 0: empty
  };
  static std::uint64_t hash(const ObjectKey& key) { return ObjectKeyHash{}(key) * 0x9E3779B97F4A7C15ULL; }
  void place(std::uint64_t h, std::uint32_t index) {
    std::size_t i = h & mask_;
    while (slots_[i].index != 0) i = (i + 1) & mask_;
    slots_[i] = {h, index};
  }
  void grow() {
    slots_.assign(std::max<std::size_t>(slots_.size() * 2, 1U << 16), Slot{});
    mask_ = slots_.size() - 1;
    place_all();
  }
  void place_all() {
    for (std::size_t i = 0; i < entries_.size(); ++i) place(entries_[i].hash, static_cast<std::uint32_t>(i + 1));
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::vector<Entry> entries_;
};

std::string journal_path(const CursorStore& cursors, const std::string& partner) {
  return cursors.partner_dir(partner) + "/pending.json";
}

// The journal of one partner: the output (its head, and the content tag of
// the bytes after it) and every cursor to write.
Status write_journal(const CursorStore& cursors, const PartnerPull& pull, const std::string& output,
                     const std::string& head, const std::string& tag, const Timestamp& now) {
  json::Array list;
  for (const auto& c : pull.collections) {
    json::Object entry;
    entry.emplace_back("path", c.cursor_path);
    entry.emplace_back("text", CursorStore::render(c.cursor, pull.api_root, c.collection.id, pull.filters, now));
    list.emplace_back(std::move(entry));
  }
  json::Object j;
  j.emplace_back("output", output);
  j.emplace_back("head", head);
  j.emplace_back("content", tag);
  j.emplace_back("cursors", std::move(list));
  CTI_TRY_STATUS(make_directories(cursors.partner_dir(pull.partner)));
  auto written = write_file_atomically(journal_path(cursors, pull.partner), json::to_string(json::Value(std::move(j))));
  if (!written) return std::move(written).error();
  return {};
}

Status remove_journal(const CursorStore& cursors, const std::string& partner) {
  const std::string path = journal_path(cursors, partner);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Error(ErrorCategory::io, quote(path) + ": cannot remove: " + std::strerror(errno));
  return {};
}

Status save_cursors(const CursorStore& cursors, const PartnerPull& pull, const Timestamp& now) {
  for (const auto& c : pull.collections)
    CTI_TRY_STATUS(cursors.save(c.cursor_path, c.cursor, pull.api_root, c.collection.id, pull.filters, now));
  return {};
}

}  // namespace

// One output file being written: the objects after a head reserved for the
// bundle's, each key once.
struct Delivery::Target {
  std::string path;                   // the target, "-" for stdout
  std::unique_ptr<AtomicFile> file;   // a file target's temporary file
  int spool = -1;                     // stdout's unnamed temporary file
  stix::OutputFraming framing = stix::OutputFraming::bundle;
  std::size_t head_size = 0;          // the bytes reserved for the bundle's head
  off_t end = 0;                      // where the next object goes
  FileHasher hash;                    // of the bytes after the head
  KeyPool pool;
  // Each key in the output, tagged with the partner ("generation") that
  // last brought it: 0 for a file's earlier content, then 1, 2, ... per begin().
  KeyTable keys;
  std::vector<ObjectKey> order;       // the output's keys as written (the bundle id follows them)
  // A bundle's id: the digest of order[0, digested), taken as keys are
  // added (not all at the end, where nothing else would run beside it).
  std::unique_ptr<stix::BundleIdDigest> id_digest = std::make_unique<stix::BundleIdDigest>();
  std::size_t digested = 0;
  std::unordered_map<std::string, std::size_t> written;  // objects written per partner
  std::uint32_t generation = 0;
  // Where the current partner began, to go back there (abandon()).
  off_t begin_end = 0;
  std::size_t begin_order = 0;
  std::vector<std::pair<ObjectKey, std::uint32_t>> retagged;  // known keys this partner re-tagged, and their old tag
  // Writes not yet made: views of the callers' bytes.
  std::vector<iovec> pending;
  // The file a file target replaces, open while every byte placed after
  // the head equals its byte at the same place: such bytes are compared,
  // not written, so an output pulled again with the same objects fills no
  // page cache and costs no disk. At the first difference the bytes so far
  // are copied from it and writing goes on as usual (reuse_until()).
  int old = -1;
  std::string scratch;     // the old file's bytes, read for comparing
  bool identical = false;  // finish_target(): the target holds every byte; none were written
  Status broken;           // a failed copy from the old file: the earlier bytes are not all there
  off_t kicked = 0;        // written bytes before this are on their way to the disk

  ~Target() {
    if (spool >= 0) ::close(spool);
    if (old >= 0) ::close(old);
  }
  int fd() const { return file != nullptr ? file->descriptor() : spool; }
  // The file holding the bytes written so far (the hash reads back from it).
  int content_fd() const { return old >= 0 ? old : fd(); }
  // For messages.
  std::string name() const { return file != nullptr ? path : std::string("<temporary file for standard output>"); }
};

Delivery::Delivery(DeliveryOptions options) : options_(std::move(options)) {}
Delivery::~Delivery() = default;

namespace {

// Whether the iovecs' bytes are those of `fd` from `at` on (a file that
// ends before them, or cannot be read, differs).
bool same_bytes(int fd, const iovec* v, std::size_t count, off_t at, std::string& scratch) {
  std::size_t left = 0;
  for (std::size_t i = 0; i < count; ++i) left += v[i].iov_len;
  scratch.resize(std::min<std::size_t>(std::max<std::size_t>(left, 1), std::size_t{1} << 20));
  std::size_t i = 0, in = 0;  // the next byte to compare: v[i], at in
  while (left > 0) {
    const ssize_t n = ::pread(fd, scratch.data(), std::min(left, scratch.size()), at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    for (std::size_t k = 0; k < static_cast<std::size_t>(n);) {
      while (v[i].iov_len == in) {
        ++i;
        in = 0;
      }
      const std::size_t m = std::min(static_cast<std::size_t>(n) - k, v[i].iov_len - in);
      if (std::memcmp(scratch.data() + k, static_cast<const char*>(v[i].iov_base) + in, m) != 0) return false;
      k += m;
      in += m;
    }
    at += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

bool holds(int fd, off_t at, std::string_view bytes, std::string& scratch) {
  iovec v{const_cast<char*>(bytes.data()), bytes.size()};
  return same_bytes(fd, &v, 1, at, scratch);
}

// The end of comparing: the bytes placed after the head so far (before
// `to`), equal to the old file's, copied from it into the temporary file.
Status reuse_until(Delivery::Target& t, off_t to) {
  const int old = t.old;
  t.old = -1;
  off_t at = static_cast<off_t>(t.head_size);
  Status copied;
  while (at < to && copied) {
    off_t in = at, out = at;
    const ssize_t n = ::copy_file_range(old, &in, t.fd(), &out, static_cast<std::size_t>(to - at), 0);
    if (n > 0) {
      at += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
      copied = sys_error(ErrorCategory::io, t.name(), "cannot copy the earlier output", errno);
      break;
    }
    // No copy_file_range between these two: read and written.
    t.scratch.resize(std::size_t{1} << 20);
    const ssize_t r = n < 0 ? ::pread(old, t.scratch.data(), std::min<std::size_t>(t.scratch.size(), to - at), at) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      copied = r < 0 ? sys_error(ErrorCategory::io, t.name(), "cannot read the earlier output", errno)
                     : Error(ErrorCategory::io, quote(t.path) + ": changed while it was being read; pull again");
      break;
    }
    copied = pwrite_all(t.fd(), std::string_view(t.scratch.data(), static_cast<std::size_t>(r)), at, t.name());
    at += r;
  }
  ::close(old);
  std::string().swap(t.scratch);
  if (!copied) t.broken = copied;  // no later partner can make this file whole
  return copied;
}

// A target with its head reserved (a bundle head has the same length for
// every id, so the real one overwrites it at the end).
// (Standard output needs no digest: it has no journal.)
Status start_target(Delivery::Target& t) {
  if (t.file != nullptr) {
    // The file this one replaces, for comparing; none, or not a regular
    // file: written from the start.
    t.old = ::open(t.path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (t.old >= 0 && (::fstat(t.old, &st) != 0 || !S_ISREG(st.st_mode))) {
      ::close(t.old);
      t.old = -1;
    }
  }
  if (t.framing != stix::OutputFraming::bundle) {
    if (t.file != nullptr) t.hash.start(0);
    return {};
  }
  const std::string placeholder = stix::compact_bundle_head("bundle--00000000-0000-4000-8000-000000000000");
  t.head_size = placeholder.size();
  t.end = static_cast<off_t>(placeholder.size());
  if (t.file != nullptr) t.hash.start(t.end);
  return pwrite_all(t.fd(), placeholder, 0, t.name());
}

}  // namespace

Result<std::unique_ptr<Delivery>> Delivery::open(const DeliveryOptions& options) {
  std::unique_ptr<Delivery> d(new Delivery(options));
  if (!options.output_dir.empty()) return d;  // a file per partner, opened by begin()
  auto t = std::make_unique<Target>();
  t->path = options.output;
  t->framing = options.framing;
  if (options.output == "-") {
    const char* tmp = std::getenv("TMPDIR");
    const std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    t->spool = open_unnamed_file(dir);
    if (t->spool < 0)
      return sys_error(ErrorCategory::cannot_create, dir, "cannot create a temporary file", errno);
  } else {
    auto file = AtomicFile::create(options.output);
    if (!file) return std::move(file).error();
    t->file = std::move(*file);
  }
  CTI_TRY_STATUS(start_target(*t));
  d->shared_ = std::move(t);
  return d;
}

namespace {

// The objects of a file an earlier pull wrote and nobody has taken yet, in
// a CollectionPull of their own (which holds their bytes).
Result<CollectionPull> read_existing(const std::string& path) {
  CollectionPull out;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return out;
  if (!S_ISREG(st.st_mode))
    return Error(ErrorCategory::cannot_create, quote(path) + ": cannot write the output here: not a regular file");
  auto in = open_input(path);
  if (!in) return std::move(in).error();
  stix::ReadOptions options;
  CTI_TRY_STATUS(stix::read_objects(**in, options, [&](stix::Object&& o, const stix::Origin&) -> Status {
    out.add(o.to_string(), std::string(o.id()), std::string(o.version()));
    return {};
  }));
  return out;
}

}  // namespace

Status Delivery::begin(const std::string& partner) {
  if (current_ != nullptr) return Error(ErrorCategory::internal, "Delivery: begin() before end() of " + quote(partner_));
  partner_ = partner;
  if (shared_ != nullptr) {
    current_ = shared_.get();
  } else {
    auto t = std::make_unique<Target>();
    t->path = partner_output_path(options_.output_dir, partner, options_.framing);
    t->framing = options_.framing;
    auto existing = read_existing(t->path);
    if (!existing) return std::move(existing).error();
    auto file = AtomicFile::create(t->path);
    if (!file) return std::move(file).error();
    t->file = std::move(*file);
    CTI_TRY_STATUS(start_target(*t));
    per_partner_.push_back(std::move(t));
    current_ = per_partner_.back().get();
    // The file's objects come first, tagged 0: this partner's pull may bring them again.
    for (const PulledObject& o : existing->objects) {
      auto offer = add(o.json, o.id, o.version);
      if (!offer) {
        per_partner_.pop_back();
        current_ = nullptr;
        return std::move(offer).error();
      }
    }
    if (Status s = flush(); !s) {
      per_partner_.pop_back();
      current_ = nullptr;
      return s;
    }
    current_->written.clear();
  }
  Target& t = *current_;
  ++t.generation;
  t.begin_end = t.end;
  t.begin_order = t.order.size();
  t.retagged.clear();
  t.written[partner] = 0;
  return {};
}

Result<Delivery::Offer> Delivery::add(std::string_view json, std::string_view id, std::string_view version) {
  if (current_ == nullptr) return Error(ErrorCategory::internal, "Delivery: add() outside begin() and end()");
  Target& t = *current_;
  if (KeyTable::Entry* found = t.keys.find(ObjectKey{id, version})) {
    if (found->tag == t.generation) return Offer{Added::duplicate, {}};
    t.retagged.emplace_back(found->key, found->tag);
    found->tag = t.generation;
    return Offer{Added::known, found->key};
  }
  const ObjectKey key{t.pool.keep(id), t.pool.keep(version)};
  t.keys.insert(key, t.generation);
  if (t.framing == stix::OutputFraming::bundle && !t.order.empty())
    t.pending.push_back({const_cast<char*>(stix::kCompactBundleSeparator.data()), stix::kCompactBundleSeparator.size()});
  t.pending.push_back({const_cast<char*>(json.data()), json.size()});
  if (t.framing == stix::OutputFraming::ndjson) t.pending.push_back({const_cast<char*>("\n"), 1});
  t.order.push_back(key);
  if (t.framing == stix::OutputFraming::bundle && t.digested + 1 == t.order.size()) {
    t.id_digest->add(key.id, key.version);
    ++t.digested;
  }
  ++t.written[partner_];
  if (t.pending.size() >= IOV_MAX - 2) CTI_TRY_STATUS(flush());
  return Offer{Added::written, key};
}

Status Delivery::flush() {
  if (current_ == nullptr) return {};
  Target& t = *current_;
  if (!t.broken) {
    t.pending.clear();
    return t.broken;
  }
  if (t.file != nullptr) t.hash.writing(t.pending.data(), t.pending.size(), t.end);
  if (t.old >= 0) {
    if (same_bytes(t.old, t.pending.data(), t.pending.size(), t.end, t.scratch)) {
      for (const iovec& v : t.pending) t.end += static_cast<off_t>(v.iov_len);
      t.pending.clear();
      return {};
    }
    if (Status s = reuse_until(t, t.end); !s) {
      t.pending.clear();
      return s;
    }
  }
  std::size_t done = 0;
  while (done < t.pending.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(t.pending.size() - done, IOV_MAX));
    const ssize_t n = ::pwritev(t.fd(), t.pending.data() + done, count, t.end);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      t.pending.clear();
      return sys_error(ErrorCategory::io, t.name(), "write failed", err);
    }
    // A short write resumes inside an iovec.
    auto left = static_cast<std::size_t>(n);
    t.end += n;
    while (left > 0) {
      iovec& v = t.pending[done];
      const std::size_t k = std::min(left, v.iov_len);
      left -= k;
      if (k == v.iov_len) {
        ++done;
      } else {
        v.iov_base = static_cast<char*>(v.iov_base) + k;
        v.iov_len -= k;
      }
    }
  }
  t.pending.clear();
  // Written out as it comes, not all at the commit's fsync.
  constexpr off_t kKick = off_t{8} << 20;
  if (t.file != nullptr && t.end - t.kicked >= kKick) {
    (void)::sync_file_range(t.fd(), t.kicked, t.end - t.kicked, SYNC_FILE_RANGE_WRITE);
    t.kicked = t.end;
  }
  return {};
}

Status Delivery::end() {
  Status s = flush();
  if (!s) {
    abandon();
    return s;
  }
  current_ = nullptr;
  return {};
}

void Delivery::abandon() {
  if (current_ == nullptr) return;
  Target& t = *current_;
  current_ = nullptr;
  if (shared_ == nullptr) {  // the partner's own file: gone with it
    per_partner_.pop_back();
    return;
  }
  t.pending.clear();
  t.end = t.begin_end;  // the next bytes overwrite the partner's; finish_target() cuts what is left
  if (t.file != nullptr) t.hash.start(static_cast<off_t>(t.head_size));  // again, without the partner's bytes
  t.order.resize(t.begin_order);
  if (t.digested > t.order.size()) {  // the digest took keys that went: taken again at the end
    t.id_digest = std::make_unique<stix::BundleIdDigest>();
    t.digested = 0;
  }
  // Keys the partner added go; keys it re-tagged get their tags back.
  std::vector<std::pair<ObjectKey, std::uint32_t>> retagged = std::move(t.retagged);
  t.keys.filter([&](const KeyTable::Entry& e) { return e.tag != t.generation; });
  for (const auto& [key, tag] : retagged) t.keys.insert(key, tag);
  t.written.erase(partner_);
}

namespace {

// Completes a target: the bundle's tail and head, and the file's length
// (bytes an abandoned partner left past the end go). Returns the head (the
// bytes before those the hash covers).
Result<std::string> finish_target(Delivery::Target& t) {
  if (!t.broken) return t.broken.error();
  std::string head;
  std::string_view tail;
  if (t.framing == stix::OutputFraming::bundle) {
    // (The tag covers only bytes after the head; finish() reads the tail.)
    for (; t.digested < t.order.size(); ++t.digested)
      t.id_digest->add(t.order[t.digested].id, t.order[t.digested].version);
    const std::string bundle_id = t.id_digest->finish();
    if (t.order.empty()) {
      // Nothing after the head: the whole file is the empty bundle.
      head = stix::compact_empty_bundle(bundle_id);
      t.end = static_cast<off_t>(head.size());
      if (t.file != nullptr) t.hash.start(t.end);
    } else {
      tail = stix::kCompactBundleTail;
      head = stix::compact_bundle_head(bundle_id);
      if (head.size() != t.head_size) return Error(ErrorCategory::internal, "Delivery: a bundle head of another length");
    }
  }
  if (t.old >= 0) {
    // Every byte after the head was the old file's: the same file when
    // its head, its tail and its length are too, and it is still the
    // target (not taken away, or replaced, while the pull ran).
    struct stat st {};
    struct stat now {};
    const off_t size = t.end + static_cast<off_t>(tail.size());
    if (::fstat(t.old, &st) == 0 && st.st_size == size && ::stat(t.path.c_str(), &now) == 0 &&
        now.st_ino == st.st_ino && now.st_dev == st.st_dev && holds(t.old, t.end, tail, t.scratch) &&
        holds(t.old, 0, head, t.scratch)) {
      t.identical = true;
      t.end = size;
      return head;
    }
    CTI_TRY_STATUS(reuse_until(t, std::min(t.end, size)));
  }
  if (!tail.empty()) {
    CTI_TRY_STATUS(pwrite_all(t.fd(), tail, t.end, t.name()));
    t.end += static_cast<off_t>(tail.size());
  }
  if (!head.empty()) CTI_TRY_STATUS(pwrite_all(t.fd(), head, 0, t.name()));
  if (::ftruncate(t.fd(), t.end) != 0) return sys_error(ErrorCategory::io, t.name(), "cannot set its length", errno);
  return head;
}

// Copies the spool to standard output.
Status copy_to_stdout(int spool, off_t size) {
  FdSink out(STDOUT_FILENO, "<stdout>");
  std::string buffer(std::min<off_t>(size, off_t{1} << 20), '\0');
  for (off_t at = 0; at < size;) {
    const ssize_t n = ::pread(spool, buffer.data(), std::min<std::size_t>(buffer.size(), size - at), at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return sys_error(ErrorCategory::io, "<temporary file>", "read failed", n < 0 ? errno : EIO);
    CTI_TRY_STATUS(out.write(std::string_view(buffer.data(), static_cast<std::size_t>(n))));
    at += n;
  }
  return {};
}

// Publishes one file target between the journals and the cursors of
// `pulls`: journal (naming the file's head and digest), rename (only when
// the bytes changed), cursors, journal removed.
Result<bool> commit_file(Delivery::Target& t, const std::vector<PartnerPull*>& pulls, const CursorStore& cursors,
                         const Timestamp& now) {
  auto head = finish_target(t);
  if (!head) return std::move(head).error();
  // The output published: nothing to do when the target already held
  // every byte (the temporary file, never written, goes).
  const auto publish = [&]() -> Result<bool> {
    if (!t.identical) return t.file->commit();
    t.file.reset();
    return false;
  };
  // One cursor to move and a target that already holds these bytes (the
  // same objects pulled into the same file again): the cursor alone moves,
  // in one atomic write, so no journal is needed to tie it to the file.
  // (finish_target() compared them as they came: no second comparison.)
  if (t.identical && pulls.size() == 1 && pulls[0]->collections.size() == 1) {
    t.file.reset();
    CTI_TRY_STATUS(save_cursors(cursors, *pulls[0], now));
    return false;
  }
  auto tag = t.hash.finish(t.end, t.content_fd(), t.name());
  if (!tag) return std::move(tag).error();
  for (const PartnerPull* p : pulls) CTI_TRY_STATUS(write_journal(cursors, *p, t.path, *head, *tag, now));
  auto changed = publish();
  if (!changed) return std::move(changed).error();  // the journal stays; the next run drops it
  for (const PartnerPull* p : pulls) {
    CTI_TRY_STATUS(save_cursors(cursors, *p, now));
    CTI_TRY_STATUS(remove_journal(cursors, p->partner));
  }
  return *changed;
}

}  // namespace

Result<std::vector<Delivered>> Delivery::commit(std::vector<PartnerPull>& pulls, const CursorStore& cursors,
                                                const Timestamp& now) {
  if (current_ != nullptr) return Error(ErrorCategory::internal, "Delivery: commit() before end() of " + quote(partner_));
  std::vector<Delivered> out;
  const auto written = [](const Target& t, const std::string& partner) {
    auto w = t.written.find(partner);
    return w == t.written.end() ? std::size_t{0} : w->second;
  };
  if (shared_ == nullptr) {
    for (auto& pull : pulls) {
      auto it = std::find_if(per_partner_.begin(), per_partner_.end(),
                             [&](const auto& t) { return t->written.count(pull.partner) != 0; });
      if (it == per_partner_.end())
        return Error(ErrorCategory::internal, "Delivery: commit() of " + quote(pull.partner) + ", which has no output");
      Target& t = **it;
      Delivered d{pull.partner, t.path, written(t, pull.partner), false};
      auto changed = commit_file(t, {&pull}, cursors, now);
      per_partner_.erase(it);
      if (!changed) return std::move(changed).error();
      d.changed = *changed;
      out.push_back(std::move(d));
    }
    return out;
  }
  Target& t = *shared_;
  for (auto& pull : pulls) out.push_back({pull.partner, options_.output, written(t, pull.partner), false});
  if (t.file == nullptr) {
    // Standard output; nothing new writes nothing there.
    if (!t.order.empty()) {
      auto head = finish_target(t);
      if (!head) return std::move(head).error();
      CTI_TRY_STATUS(copy_to_stdout(t.fd(), t.end));
      for (auto& d : out) d.changed = true;
    }
    for (auto& pull : pulls) CTI_TRY_STATUS(save_cursors(cursors, pull, now));
    return out;
  }
  std::vector<PartnerPull*> all;
  for (auto& pull : pulls) all.push_back(&pull);
  auto changed = commit_file(t, all, cursors, now);
  if (!changed) return std::move(changed).error();
  for (auto& d : out) d.changed = *changed;
  return out;
}

Result<bool> recover_journal(const CursorStore& cursors, const std::string& partner) {
  const std::string path = journal_path(cursors, partner);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  auto text = read_file(path);
  if (!text) return std::move(text).error();
  auto doc = json::parse(*text);
  const json::Value* list = doc && doc->is_object() ? doc->find("cursors") : nullptr;
  auto output = doc && doc->is_object() ? doc->find_string("output") : std::nullopt;
  // Journals of earlier versions name a SHA-256 instead of a tag.
  std::optional<std::string> tag;
  if (auto t = doc && doc->is_object() ? doc->find_string("content") : std::nullopt) {
    tag = std::string(*t);
  } else if (auto d = doc && doc->is_object() ? doc->find_string("sha256") : std::nullopt) {
    tag = "sha256:" + std::string(*d);
  }
  const std::string not_journal =
      quote(path) + ": not a taxii-pull journal; remove it (the next pull may repeat objects)";
  if (list == nullptr || !list->is_array() || !output || !tag || !detail::has_content_tag({}, *tag))
    return Error(ErrorCategory::data, not_journal);
  // The head is absent from journals of earlier versions, whose digest covers the whole file.
  const std::string head(doc->find_string("head").value_or(""));
  bool committed = false;
  auto content = read_file(std::string(*output));
  if (content && std::string_view(*content).starts_with(head) &&
      detail::has_content_tag(std::string_view(*content).substr(head.size()), *tag) == true) {
    // The output was written: the cursors it describes are due.
    for (const auto& e : list->as_array()) {
      auto p = e.is_object() ? e.find_string("path") : std::nullopt;
      auto t = e.is_object() ? e.find_string("text") : std::nullopt;
      if (!p || !t) return Error(ErrorCategory::data, quote(path) + ": a journal entry without path and text");
      auto written = write_file_atomically(std::string(*p), *t);
      if (!written) return std::move(written).error();
    }
    committed = true;
  }
  CTI_TRY_STATUS(remove_journal(cursors, partner));
  return committed;
}

Result<std::vector<Delivered>> deliver(std::vector<PartnerPull>& pulls, const CursorStore& cursors,
                                       const DeliveryOptions& options, const Timestamp& now) {
  auto delivery = Delivery::open(options);
  if (!delivery) return std::move(delivery).error();
  for (const auto& pull : pulls) {
    CTI_TRY_STATUS((*delivery)->begin(pull.partner));
    for (const auto& c : pull.collections)
      for (const PulledObject& o : c.objects) {
        auto offer = (*delivery)->add(o.json, o.id, o.version);
        if (!offer) return std::move(offer).error();
      }
    CTI_TRY_STATUS((*delivery)->end());
  }
  return (*delivery)->commit(pulls, cursors, now);
}

}  // namespace ctishare::taxii
