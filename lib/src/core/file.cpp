// Atomic output files, input opening, directories and advisory locks (POSIX).
#include "ctishare/file.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <system_error>
#include <thread>
#include <vector>

namespace ctishare {

std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

Error sys_error(ErrorCategory category, const std::string& subject, std::string_view what, int err) {
  return Error(category, quote(subject) + ": " + std::string(what) + ": " + errno_text(err));
}

namespace {

// The process's umask, read without changing it: umask() can only be read
// by setting it, and a thread creating a file meanwhile (feed-merge writes
// its outputs on two) would get the wrong mode. /proc/self/status has it
// (Linux 4.7 and later); only without it is it set and restored.
mode_t process_umask() {
  if (std::FILE* f = std::fopen("/proc/self/status", "re")) {
    char line[256];
    unsigned value = 0;
    bool found = false;
    while (!found && std::fgets(line, sizeof line, f) != nullptr) found = std::sscanf(line, "Umask: %o", &value) == 1;
    std::fclose(f);
    if (found) return static_cast<mode_t>(value);
  }
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(ErrorCategory::io, name, "write failed", errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Whether bytes [from, to) of `a` and `b` are the same; stops early when
// `differ` is set (by the other half).
// Buffers that cannot be had count as a difference: the output is then
// written, never wrongly kept.
bool same_range(int a, int b, off_t from, off_t to, std::atomic<bool>& differ) noexcept {
  constexpr std::size_t kPiece = 1U << 20;  // a megabyte a read: a third fewer cycles than 64 KiB
  std::vector<char> x, y;
  try {
    x.resize(std::min<std::size_t>(kPiece, static_cast<std::size_t>(to - from)));
    y.resize(x.size());
  } catch (const std::exception&) {
    differ = true;
    return false;
  }
  const auto read_all = [](int fd, char* into, std::size_t size, off_t at) {
    std::size_t got = 0;
    while (got < size) {
      const ssize_t k = ::pread(fd, into + got, size - got, at + static_cast<off_t>(got));
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) return false;
      got += static_cast<std::size_t>(k);
    }
    return true;
  };
  for (off_t off = from; off < to && !differ.load(std::memory_order_relaxed);) {
    const std::size_t n = std::min<std::size_t>(x.size(), static_cast<std::size_t>(to - off));
    if (!read_all(a, x.data(), n, off) || !read_all(b, y.data(), n, off) || std::memcmp(x.data(), y.data(), n) != 0) {
      differ = true;
      return false;
    }
    off += static_cast<off_t>(n);
  }
  return !differ;
}

// True when the file at `path` holds exactly the bytes of file descriptor
// `fd`. A large file is compared in two halves at once: the comparison is
// the last thing before an unchanged output is kept, so nothing else waits
// for the second core.
bool same_content(const std::string& path, int fd) {
  struct stat a {}, b {};
  if (::stat(path.c_str(), &a) != 0 || ::fstat(fd, &b) != 0 || a.st_size != b.st_size) return false;
  int other = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (other < 0) return false;
  std::atomic<bool> differ{false};
  const off_t size = b.st_size, half = size / 2;
  bool same = false;
  std::thread first_half;
  bool first = true;
  if (size >= (off_t{16} << 20) && std::thread::hardware_concurrency() > 1) {
    try {
      first_half = std::thread([&] { first = same_range(fd, other, 0, half, differ); });
    } catch (const std::exception&) {  // no thread: in one piece
    }
  }
  if (first_half.joinable()) {
    const bool second = same_range(fd, other, half, size, differ);
    first_half.join();
    same = first && second;
  } else {
    same = same_range(fd, other, 0, size, differ);
  }
  ::close(other);
  return same;
}

}  // namespace

Status FdSink::write(std::string_view data) { return write_all(fd_, data, name_); }

int open_unnamed_file(const std::string& dir) {
  const std::string where = dir.empty() ? std::string(".") : dir;
  int fd = ::open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
  std::string name = where + "/.ctishare-spool.XXXXXX";
  fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(name.c_str());
  return fd;
}

namespace {
constexpr std::size_t kDirectAlign = 4096;      // the largest logical block size in use
constexpr std::size_t kDirectBlock = 4U << 20;  // a write's size
}  // namespace

void AtomicFile::FreeBlock::operator()(char* p) const noexcept { std::free(p); }

Result<std::unique_ptr<AtomicFile>> AtomicFile::create(const std::string& path, Caching caching) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return Error(ErrorCategory::cannot_create, quote(path) + ": cannot write output: is a directory");
  std::string tmp = dir_of(path) + "/." + path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1) +
                    ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return sys_error(ErrorCategory::cannot_create, path, "cannot create output", errno);
  std::unique_ptr<AtomicFile> file(new AtomicFile(path, std::move(tmp), fd));
  if (caching == Caching::direct) {
    void* block = nullptr;
    const int flags = ::fcntl(fd, F_GETFL);
    // (No block, or no O_DIRECT here, as on tmpfs: written as usual.)
    if (flags >= 0 && ::posix_memalign(&block, kDirectAlign, kDirectBlock) == 0) {
      file->block_.reset(static_cast<char*>(block));
      if (::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) file->block_.reset();
    }
  }
  return file;
}

AtomicFile::~AtomicFile() {
  join_sync();  // before the descriptor closes
  if (!committed_) discard();
}

int AtomicFile::join_sync() {
  if (sync_.joinable()) sync_.join();
  return sync_error_;
}

Status AtomicFile::start_sync() {
  if (fd_ < 0) return Error(ErrorCategory::internal, quote(path_) + ": sync after commit");
  CTI_TRY_STATUS(flush());
  join_sync();
  try {
    sync_ = std::thread([this, fd = fd_] {
      pthread_setname_np(pthread_self(), "ctishare-sync");  // as top -H and perf show it
      // The first failure stays: the kernel reports a writeback error to
      // a descriptor once, so a later sync may succeed over lost bytes.
      if (::fdatasync(fd) != 0 && sync_error_ == 0) sync_error_ = errno;
    });
    synced_ = true;
  } catch (const std::system_error&) {
    // No thread: commit() syncs it all.
  }
  return {};
}

void AtomicFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
}

Status AtomicFile::write(std::string_view data) {
  if (fd_ < 0) return Error(ErrorCategory::internal, quote(path_) + ": write after commit");
  synced_ = synced_ && data.empty();
  if (block_ != nullptr) return write_direct(data);
  if (buffer_.size() + data.size() < (1U << 20)) {
    buffer_.append(data);
    return {};
  }
  CTI_TRY_STATUS(flush());
  if (data.size() >= (1U << 16)) return write_all(fd_, data, path_);
  buffer_.append(data);
  return {};
}

Status AtomicFile::flush() {
  if (block_ != nullptr) return finish_direct();
  Status s = write_all(fd_, buffer_, path_);
  buffer_.clear();
  return s;
}

Status AtomicFile::write_direct(std::string_view data) {
  while (!data.empty()) {
    const std::size_t n = std::min(data.size(), kDirectBlock - block_used_);
    std::memcpy(block_.get() + block_used_, data.data(), n);
    block_used_ += n;
    data.remove_prefix(n);
    if (block_used_ < kDirectBlock) break;
    for (std::size_t done = 0; done < kDirectBlock;) {
      const ssize_t k = ::pwrite(fd_, block_.get() + done, kDirectBlock - done, direct_end_);
      if (k < 0 && errno == EINTR) continue;
      if (k == 0) return sys_error(ErrorCategory::io, path_, "write failed", EIO);
      // Refused (EINVAL: an alignment this device does not take) or cut
      // short off a block boundary: the rest is written as usual.
      if ((k < 0 && errno == EINVAL) || (k >= 0 && (done + static_cast<std::size_t>(k)) % kDirectAlign != 0)) {
        if (k > 0) {
          done += static_cast<std::size_t>(k);
          direct_end_ += k;
        }
        std::string rest(block_.get() + done, kDirectBlock - done);
        rest += data;
        block_used_ = 0;
        CTI_TRY_STATUS(finish_direct());
        return write_all(fd_, rest, path_);
      }
      if (k < 0) return sys_error(ErrorCategory::io, path_, "write failed", errno);
      done += static_cast<std::size_t>(k);
      direct_end_ += k;
    }
    block_used_ = 0;
  }
  return {};
}

Status AtomicFile::finish_direct() {
  // Back to ordinary writes for the last, partial block (and anything
  // after): no padding to cut off, and no alignment to meet.
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0)
    return sys_error(ErrorCategory::io, path_, "cannot leave direct writing", errno);
  if (::lseek(fd_, direct_end_, SEEK_SET) < 0) return sys_error(ErrorCategory::io, path_, "cannot seek", errno);
  const std::string_view tail(block_.get(), block_used_);
  block_used_ = 0;
  Status written = write_all(fd_, tail, path_);
  block_.reset();
  return written;
}

Result<bool> AtomicFile::commit() {
  if (fd_ < 0) return Error(ErrorCategory::internal, quote(path_) + ": commit twice");
  Status s = flush();
  if (!s) {
    discard();
    return std::move(s).error();
  }
  if (const int err = join_sync(); err != 0) {
    discard();
    return sys_error(ErrorCategory::io, path_, "fsync failed", err);
  }
  // Compared before the sync: an unchanged output costs no fsync.
  if (same_content(path_, fd_)) {
    discard();
    committed_ = true;
    return false;
  }
  if (!synced_ && ::fsync(fd_) != 0) {
    int err = errno;
    discard();
    return sys_error(ErrorCategory::io, path_, "fsync failed", err);
  }
  struct stat st {};
  mode_t mode = 0;
  if (::stat(path_.c_str(), &st) == 0) {
    mode = st.st_mode & 07777;
  } else {
    mode = 0666 & ~process_umask();
  }
  if (::fchmod(fd_, mode) != 0) {
    int err = errno;
    discard();
    return sys_error(ErrorCategory::io, path_, "cannot set the mode", err);
  }
  if (::close(fd_) != 0) {
    int err = errno;
    fd_ = -1;
    discard();
    return sys_error(ErrorCategory::io, path_, "close failed", err);
  }
  fd_ = -1;
  // The old file keeps a second name beside the temporary one until the new
  // one is in place: renaming over its last name would free its blocks
  // inside the rename, holding the directory, in which nothing can then be
  // created (60 ms for 280 MB on ext4); dropping the second name afterwards
  // frees them outside the lock. A killed writer leaves it under the
  // temporary files' prefix, for whoever sweeps those.
  const std::string displaced = tmp_ + ".old";
  const bool kept = ::link(path_.c_str(), displaced.c_str()) == 0;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    if (kept) ::unlink(displaced.c_str());
    discard();
    return sys_error(ErrorCategory::cannot_create, path_, "cannot replace output", err);
  }
  if (kept) ::unlink(displaced.c_str());
  tmp_.clear();
  committed_ = true;
  int dfd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    if (rc != 0 && err != EINVAL) return sys_error(ErrorCategory::io, dir_of(path_), "fsync of the directory failed", err);
  }
  return true;
}

namespace {

// A device or FIFO named as output (-o /dev/null, -o /dev/stderr, a named
// pipe): written in place. Renaming a temporary file over it, as atomic
// output does for regular files, would replace the device with a file.
class DeviceSink final : public Sink {
 public:
  DeviceSink(int fd, std::string name) : fd_(fd), inner_(fd, std::move(name)) {}
  ~DeviceSink() override { ::close(fd_); }
  DeviceSink(const DeviceSink&) = delete;
  DeviceSink& operator=(const DeviceSink&) = delete;
  Status write(std::string_view data) override { return inner_.write(data); }

 private:
  int fd_;
  FdSink inner_;
};

}  // namespace

Result<Output> Output::open(const std::string& path) {
  Output out;
  out.path_ = path;
  if (path == "-") {
    out.sink_ = std::make_unique<FdSink>(STDOUT_FILENO, "<stdout>");
    return out;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      return Error(ErrorCategory::cannot_create, quote(path) + ": cannot open output: " + std::strerror(errno));
    out.sink_ = std::make_unique<DeviceSink>(fd, path);
    return out;
  }
  auto file = AtomicFile::create(path);
  if (!file) return std::move(file).error();
  out.file_ = file->get();
  out.sink_ = std::move(*file);
  return out;
}

Result<bool> Output::commit() {
  if (file_ == nullptr) return true;
  return file_->commit();
}

Result<bool> write_file_atomically(const std::string& path, std::string_view content) {
  auto file = AtomicFile::create(path);
  if (!file) return std::move(file).error();
  CTI_TRY_STATUS((*file)->write(content));
  return (*file)->commit();
}

std::string display_name(const std::string& path) { return path == "-" ? "<stdin>" : path; }

Result<std::unique_ptr<std::istream>> open_input(const std::string& path) {
  if (path == "-") {
    // A non-owning stream over std::cin's buffer.
    return std::unique_ptr<std::istream>(new std::istream(std::cin.rdbuf()));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys_error(ErrorCategory::no_input, path, "cannot open input", errno);
  if (S_ISDIR(st.st_mode)) return Error(ErrorCategory::no_input, quote(path) + ": cannot open input: is a directory");
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*in) return sys_error(ErrorCategory::no_input, path, "cannot open input", errno);
  return std::unique_ptr<std::istream>(std::move(in));
}

Result<std::unique_ptr<MappedInput>> MappedInput::open(const std::string& path) {
  if (path == "-") return std::unique_ptr<MappedInput>();
  // Only a regular file is opened here: opening a named pipe to look at it
  // would take its writer's data (open_input opens it once, for good).
  struct stat named {};
  if (::stat(path.c_str(), &named) != 0) return sys_error(ErrorCategory::no_input, path, "cannot open input", errno);
  if (S_ISDIR(named.st_mode))
    return Error(ErrorCategory::no_input, quote(path) + ": cannot open input: is a directory");
  if (!S_ISREG(named.st_mode)) return std::unique_ptr<MappedInput>();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error(ErrorCategory::no_input, path, "cannot open input", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return sys_error(ErrorCategory::no_input, path, "cannot open input", err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error(ErrorCategory::no_input, quote(path) + ": cannot open input: is a directory");
  }
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const auto size = static_cast<std::size_t>(st.st_size);
  // One page more than the file needs, zeros: the byte after the file's
  // last one is then always '\0' (a mapping's last page is zero-filled
  // past the end of the file, and a file that ends on a page boundary
  // is followed by the anonymous page). Anything that cannot be mapped
  // is read as a stream instead.
  const std::size_t length = (size / page + 1) * page;
  void* base =
      S_ISREG(st.st_mode) ? ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
  if (base != MAP_FAILED && size > 0 && ::mmap(base, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
    ::munmap(base, length);
    base = MAP_FAILED;
  }
  ::close(fd);
  if (base == MAP_FAILED) return std::unique_ptr<MappedInput>();
  if (size > 0) (void)::madvise(base, size, MADV_SEQUENTIAL);
  return std::unique_ptr<MappedInput>(new MappedInput(base, size, length));
}

MappedInput::~MappedInput() { ::munmap(base_, length_); }

void MappedInput::release(std::size_t from, std::size_t to) const noexcept {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  from = from / page * page;
  to = std::min(to, size_) / page * page;
  if (to > from) (void)::madvise(static_cast<char*>(base_) + from, to - from, MADV_DONTNEED);
}

Result<std::string> read_file(const std::string& path) {
  auto in = open_input(path);
  if (!in) return std::move(in).error();
  std::string text;
  std::array<char, 65536> buf{};
  while ((*in)->read(buf.data(), buf.size()) || (*in)->gcount() > 0)
    text.append(buf.data(), static_cast<std::size_t>((*in)->gcount()));
  if ((*in)->bad()) return Error(ErrorCategory::io, quote(display_name(path)) + ": read failed");
  return text;
}

Status make_directories(const std::string& path) {
  if (path.empty()) return {};
  std::string partial;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
      return sys_error(ErrorCategory::cannot_create, partial, "cannot create directory", errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Error(ErrorCategory::cannot_create, quote(path) + ": cannot create directory: not a directory");
  return {};
}

Result<FileLock> FileLock::acquire(const std::string& path, int wait_seconds) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return sys_error(ErrorCategory::cannot_create, path, "cannot create lock file", errno);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return FileLock(fd);
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      ::close(fd);
      return sys_error(ErrorCategory::cannot_create, path, "cannot lock", err);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd);
      return Error(ErrorCategory::temp_fail,
                   quote(path) + ": another run holds the lock" +
                       (wait_seconds > 0 ? " (waited " + std::to_string(wait_seconds) + " s)" : std::string()) +
                       "; try again later or use --wait SECONDS");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ctishare
