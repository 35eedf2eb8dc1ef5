// Tests of ctishare/file.h: atomic outputs, inputs, directories and locks.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ctishare/file.h"
#include "support/temp_dir.h"

using namespace ctishare;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

using ctishare::test::slurp;
using ctishare::test::spit;
using ctishare::test::TempDir;

namespace {

// Sets the umask for the scope.
class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }

 private:
  mode_t old_;
};

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

struct stat stat_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) FAIL("stat failed for " << path);
  return st;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

// ---------------------------------------------------------------- AtomicFile

TEST_CASE("file: AtomicFile appears only on commit", "[core][file]") {
  TempDir dir;
  const std::string target = dir / "out.json";
  auto f = AtomicFile::create(target);
  REQUIRE(f);
  CHECK((*f)->path() == target);
  REQUIRE((*f)->write("{\"a\":"));
  REQUIRE((*f)->write("1}\n"));
  CHECK_FALSE(exists(target));
  // The temporary file lives beside the target.
  CHECK(entries(dir.path()).size() == 1);

  auto c = (*f)->commit();
  REQUIRE(c);
  CHECK(*c == true);
  CHECK(slurp(target) == "{\"a\":1}\n");
  f->reset();
  CHECK(entries(dir.path()) == std::vector<std::string>{"out.json"});
}

TEST_CASE("file: an AtomicFile destroyed without commit leaves nothing behind", "[core][file]") {
  TempDir dir;
  const std::string fresh = dir / "fresh.txt";
  const std::string existing = dir / "existing.txt";
  spit(existing, "original\n");
  {
    auto a = AtomicFile::create(fresh);
    auto b = AtomicFile::create(existing);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE((*a)->write("partial"));
    REQUIRE((*b)->write(std::string(2 << 20, 'x')));  // forces a flush to the temporary file
    CHECK(entries(dir.path()).size() == 3);
  }
  CHECK_FALSE(exists(fresh));
  CHECK(slurp(existing) == "original\n");
  CHECK(entries(dir.path()) == std::vector<std::string>{"existing.txt"});
}

TEST_CASE("file: committing identical content changes nothing", "[core][file]") {
  TempDir dir;
  const std::string target = dir / "same.txt";
  const std::string content = "line one\nline two\n" + std::string(100000, 'z');
  auto first = write_file_atomically(target, content);
  REQUIRE(first);
  CHECK(*first == true);
  const struct stat before = stat_of(target);

  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto again = write_file_atomically(target, content);
  REQUIRE(again);
  CHECK(*again == false);
  const struct stat after = stat_of(target);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  CHECK(entries(dir.path()) == std::vector<std::string>{"same.txt"});

  // Same size, different bytes: rewritten.
  std::string changed = content;
  changed.back() = 'y';
  auto third = write_file_atomically(target, changed);
  REQUIRE(third);
  CHECK(*third == true);
  CHECK(slurp(target) == changed);
  CHECK(stat_of(target).st_ino != before.st_ino);
  CHECK(entries(dir.path()) == std::vector<std::string>{"same.txt"});

  // Empty content over an empty file is unchanged too.
  const std::string empty = dir / "empty";
  REQUIRE(write_file_atomically(empty, ""));
  auto e2 = write_file_atomically(empty, "");
  REQUIRE(e2);
  CHECK(*e2 == false);
}

TEST_CASE("file: start_sync() before commit keeps every byte and the usual outcomes", "[core][file]") {
  TempDir dir;
  const std::string target = dir / "out.csv";
  REQUIRE(write_file_atomically(target, "old\n"));
  const struct stat before = stat_of(target);
  for (const auto caching : {AtomicFile::Caching::buffered, AtomicFile::Caching::direct}) {
    // The same bytes: kept, not replaced, though already synced.
    {
      auto f = AtomicFile::create(target, caching);
      REQUIRE(f);
      REQUIRE((*f)->write("old\n"));
      REQUIRE((*f)->start_sync());
      auto committed = (*f)->commit();
      REQUIRE(committed);
      CHECK(*committed == false);
    }
    CHECK(stat_of(target).st_ino == before.st_ino);
    // Synced, then dropped: the target is untouched and nothing is left.
    {
      auto f = AtomicFile::create(target, caching);
      REQUIRE(f);
      REQUIRE((*f)->write("never\n"));
      REQUIRE((*f)->start_sync());
    }
    CHECK(slurp(target) == "old\n");
    CHECK(entries(dir.path()) == std::vector<std::string>{"out.csv"});
  }
  // More than a direct block with a partial one after it, and bytes written
  // after the sync began: all of them are in the committed file.
  std::string big(5U << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4099) big[i] = '\n';
  auto f = AtomicFile::create(target, AtomicFile::Caching::direct);
  REQUIRE(f);
  REQUIRE((*f)->write(big));
  REQUIRE((*f)->start_sync());
  REQUIRE((*f)->write("after the sync\n"));
  auto committed = (*f)->commit();
  REQUIRE(committed);
  CHECK(*committed == true);
  CHECK(slurp(target) == big + "after the sync\n");
  CHECK(entries(dir.path()) == std::vector<std::string>{"out.csv"});
  CHECK_FALSE((*f)->start_sync());  // after commit: an error
}

TEST_CASE("file: commit over an old file leaves no name of it behind, and its other links keep it",
          "[core][file]") {
  TempDir dir;
  const std::string target = dir / "out.csv";
  const std::string linked = dir / "yesterday.csv";
  REQUIRE(write_file_atomically(target, "old\n"));
  REQUIRE(::link(target.c_str(), linked.c_str()) == 0);  // an operator's own second name
  auto f = AtomicFile::create(target);
  REQUIRE(f);
  REQUIRE((*f)->write("new\n"));
  auto committed = (*f)->commit();
  REQUIRE(committed);
  CHECK(*committed == true);
  CHECK(slurp(target) == "new\n");
  CHECK(slurp(linked) == "old\n");
  CHECK(stat_of(linked).st_nlink == 1);  // the commit's own second name is gone
  CHECK(entries(dir.path()) == std::vector<std::string>{"out.csv", "yesterday.csv"});
}

TEST_CASE("file: Caching::direct writes the same bytes as buffered writing", "[core][file]") {
  // Sizes around the 4 KiB alignment and the 4 MiB block, written in
  // pieces of varying size (some larger than a block), then the same bytes
  // again (kept: unchanged), on the test's directory and, where there is
  // one, on tmpfs (no O_DIRECT: written as usual).
  std::vector<std::string> dirs;
  TempDir dir;
  dirs.push_back(dir.path());
  std::string shm = "/dev/shm/ctishare-test.XXXXXX";
  if (::mkdtemp(shm.data()) != nullptr) {
    dirs.push_back(shm);
  } else {
    shm.clear();
  }
  const std::size_t block = 4U << 20;
  for (const std::string& where : dirs) {
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096}, block - 1,
                                   block, block + 1, 2 * block + 4096 * 3 + 17}) {
      INFO(where << ": " << size << " bytes");
      std::string content(size, '\0');
      for (std::size_t i = 0; i < size; ++i) content[i] = static_cast<char>('a' + (i * 7 + i / 4099) % 26);
      const std::string target = where + "/direct.csv";
      for (int pass = 0; pass < 2; ++pass) {
        auto f = AtomicFile::create(target, AtomicFile::Caching::direct);
        REQUIRE(f);
        std::size_t at = 0, piece = 1;
        while (at < size) {
          const std::size_t n = std::min(piece, size - at);
          REQUIRE((*f)->write(std::string_view(content).substr(at, n)));
          at += n;
          piece = piece * 3 + 5;  // 1, 8, 29, ... past a block
          if (piece > 3 * block) piece = 100;
        }
        auto committed = (*f)->commit();
        REQUIRE(committed);
        CHECK(*committed == (pass == 0));  // the second pass finds the same bytes
        const std::string back = slurp(target);
        CHECK(back.size() == size);
        CHECK((back == content));  // (not decomposed: no megabyte message)
      }
      std::filesystem::remove(target);
    }
  }
  if (!shm.empty()) std::filesystem::remove_all(shm);
}

TEST_CASE("file: a large unchanged output is kept, and one byte anywhere makes it new", "[core][file]") {
  // Past 16 MB the comparison runs in two halves at once: a difference in
  // either half, at either end of it, and in the megabyte reads between,
  // must be seen.
  TempDir dir;
  const std::string target = dir / "large.csv";
  std::string content(20 * 1000 * 1000 + 7, 'a');
  for (std::size_t i = 0; i < content.size(); i += 4099) content[i] = static_cast<char>('b' + i % 23);
  REQUIRE(write_file_atomically(target, content));
  auto same = write_file_atomically(target, content);
  REQUIRE(same);
  CHECK(*same == false);
  for (const std::size_t at :
       {std::size_t{0}, (std::size_t{1} << 20) + 3, content.size() / 2 - 1, content.size() / 2, content.size() - 1}) {
    std::string changed = content;
    changed[at] ^= 1;
    auto r = write_file_atomically(target, changed);
    REQUIRE(r);
    CHECK(*r == true);
    CHECK((slurp(target) == changed));                // (not decomposed: no 20 MB message)
    REQUIRE(write_file_atomically(target, content));  // back, for the next one
  }
}

TEST_CASE("file: commit keeps the mode of an existing target", "[core][file]") {
  TempDir dir;
  const std::string target = dir / "report.json";
  spit(target, "old");
  REQUIRE(::chmod(target.c_str(), 0640) == 0);
  auto r = write_file_atomically(target, "new content");
  REQUIRE(r);
  CHECK(*r == true);
  CHECK(slurp(target) == "new content");
  CHECK((stat_of(target).st_mode & 07777) == 0640);

  REQUIRE(::chmod(target.c_str(), 0604) == 0);
  REQUIRE(write_file_atomically(target, "newer"));
  CHECK((stat_of(target).st_mode & 07777) == 0604);
}

TEST_CASE("file: a new file gets 0666 less the umask", "[core][file]") {
  TempDir dir;
  {
    UmaskGuard g(027);
    REQUIRE(write_file_atomically(dir / "a", "x"));
  }
  {
    UmaskGuard g(022);
    REQUIRE(write_file_atomically(dir / "b", "x"));
  }
  {
    UmaskGuard g(0);
    REQUIRE(write_file_atomically(dir / "c", "x"));
  }
  CHECK((stat_of(dir / "a").st_mode & 07777) == 0640);
  CHECK((stat_of(dir / "b").st_mode & 07777) == 0644);
  CHECK((stat_of(dir / "c").st_mode & 07777) == 0666);
}

TEST_CASE("file: new files committed on two threads at once all get 0666 less the umask", "[core][file]") {
  // The umask is read without being set (setting it to read it let a
  // thread committing at the same moment see 0 and make its file 0666).
  TempDir dir;
  UmaskGuard g(027);
  // (Catch's assertions are for one thread: each side only counts.)
  const auto commit_many = [&](const std::string& prefix) {
    int committed = 0;
    for (int i = 0; i < 300; ++i) {
      auto f = AtomicFile::create(dir / (prefix + std::to_string(i)));
      if (f && (*f)->write("x") && (*f)->commit()) ++committed;
    }
    return committed;
  };
  int other_committed = 0;
  std::thread other([&] { other_committed = commit_many("b"); });
  CHECK(commit_many("a") == 300);
  other.join();
  CHECK(other_committed == 300);
  for (const auto& name : entries(dir.path())) {
    INFO(name);
    CHECK((stat_of(dir / name).st_mode & 07777) == 0640);
  }
  const mode_t now = ::umask(027);
  CHECK(now == 027);
}

TEST_CASE("file: AtomicFile cannot be created in a missing directory or over a directory", "[core][file]") {
  TempDir dir;
  SECTION("missing directory") {
    const std::string target = dir / "missing/sub/out.json";
    auto f = AtomicFile::create(target);
    REQUIRE_FALSE(f);
    CHECK(f.error().category() == ErrorCategory::cannot_create);
    CHECK(exit_code(f.error().category()) == 73);
    CHECK_THAT(f.error().message(), Contains(quote(target)));
  }
  SECTION("target is a directory") {
    REQUIRE(::mkdir((dir / "adir").c_str(), 0700) == 0);
    auto f = AtomicFile::create(dir / "adir");
    REQUIRE_FALSE(f);
    CHECK(f.error().category() == ErrorCategory::cannot_create);
    CHECK_THAT(f.error().message(), Contains("directory"));
    CHECK(entries(dir.path()) == std::vector<std::string>{"adir"});
  }
  SECTION("write_file_atomically reports the same") {
    auto w = write_file_atomically(dir / "nope/out", "x");
    REQUIRE_FALSE(w);
    CHECK(w.error().category() == ErrorCategory::cannot_create);
    CHECK(entries(dir.path()).empty());
  }
}

TEST_CASE("file: AtomicFile refuses use after commit", "[core][file]") {
  TempDir dir;
  auto f = AtomicFile::create(dir / "once");
  REQUIRE(f);
  REQUIRE((*f)->write("a"));
  REQUIRE((*f)->commit());
  Status w = (*f)->write("b");
  REQUIRE_FALSE(w);
  CHECK(w.error().category() == ErrorCategory::internal);
  auto c = (*f)->commit();
  REQUIRE_FALSE(c);
  CHECK(c.error().category() == ErrorCategory::internal);
  CHECK(slurp(dir / "once") == "a");
}

TEST_CASE("file: large outputs are written whole", "[core][file]") {
  TempDir dir;
  std::string big;
  for (int i = 0; big.size() < (3U << 20); ++i) big += std::to_string(i) + "\n";
  auto f = AtomicFile::create(dir / "big");
  REQUIRE(f);
  for (std::size_t off = 0; off < big.size(); off += 70000) REQUIRE((*f)->write(std::string_view(big).substr(off, 70000)));
  REQUIRE((*f)->commit());
  CHECK(slurp(dir / "big") == big);
}

TEST_CASE("file: relative target in the current directory", "[core][file]") {
  TempDir dir;
  char old[4096];
  REQUIRE(::getcwd(old, sizeof old) != nullptr);
  REQUIRE(::chdir(dir.path().c_str()) == 0);
  auto r = write_file_atomically("plain.txt", "here");
  REQUIRE(::chdir(old) == 0);
  REQUIRE(r);
  CHECK(slurp(dir / "plain.txt") == "here");
  CHECK(entries(dir.path()) == std::vector<std::string>{"plain.txt"});
}

// ---------------------------------------------------------------- Output and sinks

TEST_CASE("file: Output::open(\"-\") writes to stdout", "[core][file]") {
  auto o = Output::open("-");
  REQUIRE(o);
  CHECK(o->path() == "-");
  CHECK(dynamic_cast<FdSink*>(&o->sink()) != nullptr);
  auto c = o->commit();
  REQUIRE(c);
  CHECK(*c == true);
}

TEST_CASE("file: Output to a file appears on commit", "[core][file]") {
  TempDir dir;
  const std::string target = dir / "o.txt";
  auto o = Output::open(target);
  REQUIRE(o);
  CHECK(o->path() == target);
  CHECK(dynamic_cast<AtomicFile*>(&o->sink()) != nullptr);
  REQUIRE(o->sink().write("hello"));
  CHECK_FALSE(exists(target));
  auto c = o->commit();
  REQUIRE(c);
  CHECK(*c == true);
  CHECK(slurp(target) == "hello");

  auto o2 = Output::open(target);
  REQUIRE(o2);
  REQUIRE(o2->sink().write("hello"));
  auto c2 = o2->commit();
  REQUIRE(c2);
  CHECK(*c2 == false);

  auto bad = Output::open(dir / "missing/o.txt");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().category() == ErrorCategory::cannot_create);
}

TEST_CASE("file: FdSink writes all bytes and reports failures", "[core][file]") {
  TempDir dir;
  const std::string path = dir / "fd.txt";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  {
    FdSink sink(fd, "fd.txt");
    REQUIRE(sink.write("abc"));
    REQUIRE(sink.write(""));
    REQUIRE(sink.write(std::string(200000, 'q')));
  }
  ::close(fd);
  CHECK(slurp(path) == "abc" + std::string(200000, 'q'));

  int full = ::open("/dev/full", O_WRONLY);
  if (full >= 0) {
    FdSink sink(full, "<stdout>");
    Status s = sink.write("data");
    ::close(full);
    REQUIRE_FALSE(s);
    CHECK(s.error().category() == ErrorCategory::io);
    CHECK(exit_code(s.error().category()) == 74);
    CHECK_THAT(s.error().message(), Contains("'<stdout>'"));
  }

  FdSink closed(-1, "closed");
  Status s = closed.write("x");
  REQUIRE_FALSE(s);
  CHECK(s.error().category() == ErrorCategory::io);
  CHECK_THAT(s.error().message(), Contains("'closed'"));
}

TEST_CASE("file: StringSink collects", "[core][file]") {
  StringSink s;
  REQUIRE(s.write("a"));
  REQUIRE(s.write("bc"));
  CHECK(s.text() == "abc");
}

// ---------------------------------------------------------------- inputs

TEST_CASE("file: open_input and read_file", "[core][file]") {
  TempDir dir;
  const std::string path = dir / "in.bin";
  std::string content("line\n\0binary\xff", 13);
  content += std::string(150000, 'r');  // more than one read buffer
  spit(path, content);

  auto in = open_input(path);
  REQUIRE(in);
  REQUIRE(*in != nullptr);
  std::string first;
  std::getline(**in, first);
  CHECK(first == "line");

  auto text = read_file(path);
  REQUIRE(text);
  CHECK(*text == content);

  spit(dir / "empty", "");
  auto empty = read_file(dir / "empty");
  REQUIRE(empty);
  CHECK(empty->empty());

  auto std_in = open_input("-");
  REQUIRE(std_in);
  CHECK(*std_in != nullptr);
  CHECK((*std_in)->rdbuf() == std::cin.rdbuf());
}

TEST_CASE("file: missing inputs and directories are no_input errors", "[core][file]") {
  TempDir dir;
  const std::string missing = dir / "nope.json";
  auto in = open_input(missing);
  REQUIRE_FALSE(in);
  CHECK(in.error().category() == ErrorCategory::no_input);
  CHECK(exit_code(in.error().category()) == 66);
  CHECK_THAT(in.error().message(), Contains(quote(missing)));

  auto d = open_input(dir.path());
  REQUIRE_FALSE(d);
  CHECK(d.error().category() == ErrorCategory::no_input);
  CHECK_THAT(d.error().message(), Contains("directory"));

  auto r = read_file(missing);
  REQUIRE_FALSE(r);
  CHECK(r.error().category() == ErrorCategory::no_input);
  auto rd = read_file(dir.path());
  REQUIRE_FALSE(rd);
  CHECK(rd.error().category() == ErrorCategory::no_input);

  if (::geteuid() != 0) {  // root reads anything
    spit(dir / "secret", "x");
    REQUIRE(::chmod((dir / "secret").c_str(), 0) == 0);
    auto u = open_input(dir / "secret");
    REQUIRE_FALSE(u);
    CHECK(u.error().category() == ErrorCategory::no_input);
  }
}

TEST_CASE("file: display_name", "[core][file]") {
  CHECK(display_name("-") == "<stdin>");
  CHECK(display_name("in.json") == "in.json");
  CHECK(display_name("/tmp/-") == "/tmp/-");
  CHECK(display_name("") == "");
}

// ---------------------------------------------------------------- directories

TEST_CASE("file: make_directories creates nested directories", "[core][file]") {
  TempDir dir;
  UmaskGuard g(022);
  const std::string deep = dir / "a/b/c";
  REQUIRE(make_directories(deep));
  for (const std::string& p : {dir / "a", dir / "a/b", deep}) {
    INFO(p);
    const struct stat st = stat_of(p);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 07777) == 0700);
  }
  // Existing directories are fine, and their mode is left alone.
  REQUIRE(::chmod((dir / "a").c_str(), 0755) == 0);
  CHECK(make_directories(deep));
  CHECK(make_directories(dir / "a/b/c/"));
  CHECK((stat_of(dir / "a").st_mode & 07777) == 0755);
  CHECK(make_directories(dir.path()));
}

TEST_CASE("file: make_directories fails where a file is in the way", "[core][file]") {
  TempDir dir;
  spit(dir / "file", "x");
  Status s = make_directories(dir / "file");
  REQUIRE_FALSE(s);
  CHECK(s.error().category() == ErrorCategory::cannot_create);
  Status s2 = make_directories(dir / "file/sub/dir");
  REQUIRE_FALSE(s2);
  CHECK(s2.error().category() == ErrorCategory::cannot_create);
  CHECK(exit_code(s2.error().category()) == 73);
}

// ---------------------------------------------------------------- FileLock

TEST_CASE("file: FileLock excludes a second holder until released", "[core][file]") {
  TempDir dir;
  const std::string lock = dir / "state.lock";
  {
    auto first = FileLock::acquire(lock);
    REQUIRE(first);
    CHECK(exists(lock));

    auto second = FileLock::acquire(lock);
    REQUIRE_FALSE(second);
    CHECK(second.error().category() == ErrorCategory::temp_fail);
    CHECK(exit_code(second.error().category()) == 75);
    CHECK_THAT(second.error().message(), Contains(quote(lock)));
    CHECK_THAT(second.error().message(), Contains("--wait"));
  }
  auto again = FileLock::acquire(lock);
  CHECK(again);
}

TEST_CASE("file: FileLock waits, then fails", "[core][file]") {
  TempDir dir;
  const std::string lock = dir / "w.lock";
  auto held = FileLock::acquire(lock);
  REQUIRE(held);
  const auto start = std::chrono::steady_clock::now();
  auto waited = FileLock::acquire(lock, 1);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(waited);
  CHECK(waited.error().category() == ErrorCategory::temp_fail);
  CHECK_THAT(waited.error().message(), Contains("waited 1 s"));
  // It did wait (loosely: the deadline is one second).
  CHECK(elapsed >= std::chrono::milliseconds(500));
}

TEST_CASE("file: FileLock waiting succeeds when the holder lets go", "[core][file]") {
  TempDir dir;
  const std::string lock = dir / "r.lock";
  std::optional<FileLock> held;
  {
    auto h = FileLock::acquire(lock);
    REQUIRE(h);
    held.emplace(std::move(*h));
  }
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    held.reset();
  });
  auto got = FileLock::acquire(lock, 10);
  releaser.join();
  CHECK(got);
}

TEST_CASE("file: FileLock moves keep the lock", "[core][file]") {
  TempDir dir;
  const std::string p1 = dir / "1.lock";
  const std::string p2 = dir / "2.lock";
  auto a = FileLock::acquire(p1);
  auto b = FileLock::acquire(p2);
  REQUIRE(a);
  REQUIRE(b);
  {
    FileLock moved(std::move(*a));
    CHECK_FALSE(FileLock::acquire(p1));  // still held by `moved`
  }
  CHECK(FileLock::acquire(p1));  // released with `moved`; the moved-from one holds nothing

  auto c = FileLock::acquire(p1);
  REQUIRE(c);
  *c = std::move(*b);  // releases p1, takes over p2
  CHECK(FileLock::acquire(p1));
  CHECK_FALSE(FileLock::acquire(p2));
}

TEST_CASE("file: FileLock in a missing directory cannot be created", "[core][file]") {
  TempDir dir;
  auto l = FileLock::acquire(dir / "missing/x.lock");
  REQUIRE_FALSE(l);
  CHECK(l.error().category() == ErrorCategory::cannot_create);
}
