// Files the way shared/CLI.md wants them: inputs opened with exit-code-ready
// errors, outputs written atomically (temporary file beside the target,
// fsync, rename, fsync of the directory; never a half-written target; not
// rewritten when unchanged) and advisory locks on "<name>.lock" files.
#pragma once

#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "ctishare/result.h"

namespace ctishare {

// Where output goes. Writers hand over chunks; implementations decide buffering.
class Sink {
 public:
  virtual ~Sink() = default;
  // Writes all of `data`; an io error (74) when that fails.
  virtual Status write(std::string_view data) = 0;
};

// Writes to a file descriptor it does not own (stdout). A failed write,
// including a closed pipe, is an io error naming `name`.
class FdSink final : public Sink {
 public:
  FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  Status write(std::string_view data) override;

 private:
  int fd_;
  std::string name_;
};

// Collects everything in memory (tests, small documents).
class StringSink final : public Sink {
 public:
  Status write(std::string_view data) override {
    text_.append(data);
    return {};
  }
  const std::string& text() const noexcept { return text_; }
  // The text, moved out; the sink is empty after.
  std::string take() noexcept { return std::exchange(text_, {}); }

 private:
  std::string text_;
};

// An output file that appears complete or not at all.
class AtomicFile final : public Sink {
 public:
  // Creates a temporary file in the target's directory. Errors:
  // cannot_create (73) when the directory is missing, not writable, or the
  // target is a directory.
  // Caching::direct is for a large output written once through write()
  // and synced at commit: its bytes go to the disk as they are written
  // (O_DIRECT, in aligned 4 MiB blocks; the last, partial one as usual)
  // instead of first filling the page cache with a copy the commit's fsync
  // then writes out. Where the file system or the device refuses O_DIRECT
  // the file is written as usual.
  enum class Caching { buffered, direct };
  static Result<std::unique_ptr<AtomicFile>> create(const std::string& path, Caching caching = Caching::buffered);
  ~AtomicFile() override;  // removes the temporary file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status write(std::string_view data) override;

  // Flushes, fsyncs and closes the temporary file; when the target already
  // holds the same bytes, discards it and returns false; otherwise gives it
  // the target's mode (or 0666 less the umask for a new file), renames it
  // over the target, fsyncs the directory and returns true. On any failure
  // the target is untouched and the temporary file removed.
  Result<bool> commit();
  // Writes out what was written so far and starts its fdatasync(2) on
  // another thread, for a large output whose writer has other work before
  // commit(): commit() waits for it and reports its error (a failed sync
  // reports it only once), and does not sync again unless more was
  // written. Without a thread to be had, commit() syncs as usual.
  Status start_sync();

  const std::string& path() const noexcept { return path_; }
  // The temporary file, for writers that place bytes themselves (writev,
  // pwrite, ftruncate) instead of calling write(); commit() as usual. Bytes
  // placed so after start_sync() are not in its sync: call it again.
  int descriptor() const noexcept { return fd_; }

 private:
  AtomicFile(std::string path, std::string tmp, int fd) : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}
  Status flush();
  void discard();
  // Caching::direct: data into the aligned block, whole blocks written.
  Status write_direct(std::string_view data);
  // Caching::direct: the file back to ordinary writes and reads, and the
  // last, partial block written so.
  Status finish_direct();
  struct FreeBlock {
    void operator()(char* p) const noexcept;
  };

  std::string path_;
  std::string tmp_;
  int fd_;
  std::string buffer_;
  std::unique_ptr<char, FreeBlock> block_;  // Caching::direct's aligned block, while direct
  std::size_t block_used_ = 0;
  off_t direct_end_ = 0;  // the bytes written directly so far
  bool committed_ = false;
  // start_sync()'s thread and its outcome (0 or an errno); whether nothing
  // was written after it.
  std::thread sync_;
  int sync_error_ = 0;
  bool synced_ = false;
  // Waits for start_sync()'s thread; its errno, or 0.
  int join_sync();
};

// An output named on the command line: "-" is stdout (written as it comes),
// anything else an AtomicFile that appears only on commit().
class Output {
 public:
  // cannot_create (73) errors as AtomicFile::create.
  static Result<Output> open(const std::string& path);
  Sink& sink() noexcept { return *sink_; }
  // Publishes a file output (see AtomicFile::commit); a no-op for stdout.
  // Returns whether a file changed (true for stdout).
  Result<bool> commit();
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  std::unique_ptr<Sink> sink_;
  AtomicFile* file_ = nullptr;  // owned by sink_ when writing a file
};

// strerror(err) with a lower-case first letter, for messages of the form
// "'path': what failed: no such file or directory".
std::string errno_text(int err);

// "'subject': what: <errno_text(err)>", the one shape of the library's
// messages for a failed system call.
Error sys_error(ErrorCategory category, const std::string& subject, std::string_view what, int err);

// An unnamed temporary file in `dir` ("" for "."), read-write, gone when
// closed: O_TMPFILE where the file system has it, else a named one
// unlinked at once. -1 with errno set on failure.
int open_unnamed_file(const std::string& dir);

// Writes `content` to `path` atomically; returns whether the file changed.
Result<bool> write_file_atomically(const std::string& path, std::string_view content);

// Opens an input: "-" means stdin. Errors: no_input (66) when the file is
// missing, unreadable or a directory.
Result<std::unique_ptr<std::istream>> open_input(const std::string& path);

// A regular file mapped read-only for one pass from start to end, with a
// NUL byte after its last one (parsers that scan for a terminator need no
// copy). Meant for inputs replaced by rename, as every tool of the suite
// writes them: one truncated in place while mapped would end the process
// (SIGBUS), like any reader of a mapping.
class MappedInput {
 public:
  // nullptr when `path` is "-" or not a regular file (a pipe, a device):
  // read those with open_input. Errors: no_input (66) as open_input.
  static Result<std::unique_ptr<MappedInput>> open(const std::string& path);
  ~MappedInput();
  MappedInput(const MappedInput&) = delete;
  MappedInput& operator=(const MappedInput&) = delete;

  // The file's bytes; text().data()[text().size()] is '\0'.
  std::string_view text() const noexcept { return {static_cast<const char*>(base_), size_}; }
  // Hands back the pages within [from, to) (their bytes stay readable:
  // a page read again comes back from the page cache), so a pass over a
  // large file does not hold it all. Any thread.
  void release(std::size_t from, std::size_t to) const noexcept;

 private:
  MappedInput(void* base, std::size_t size, std::size_t length) : base_(base), size_(size), length_(length) {}
  void* base_;
  std::size_t size_, length_;  // the file's size; the mapping's length
};

// Reads a whole file; no_input (66) errors as open_input.
Result<std::string> read_file(const std::string& path);

// How an input is named in messages: "<stdin>" for "-".
std::string display_name(const std::string& path);

// Creates a directory and its parents (mode 0700 for new ones); cannot_create
// (73) on failure.
Status make_directories(const std::string& path);

// An exclusive advisory lock (flock) held while the object lives.
class FileLock {
 public:
  // Locks `path` (created if missing). When another process holds it, waits
  // up to `wait_seconds` (0: not at all) and then fails with temp_fail (75).
  // cannot_create (73) when the lock file cannot be created.
  static Result<FileLock> acquire(const std::string& path, int wait_seconds = 0);

  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace ctishare
