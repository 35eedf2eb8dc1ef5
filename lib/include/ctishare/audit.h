// The suite's append-only, hash-chained audit log: every exchange (a TAXII
// request served, a push, a pull, a revocation) becomes one JSON line that
// carries the SHA-256 of the line before it, so an edited, deleted, inserted
// or reordered line, or a file cut off mid-line, is found by verify_log().
// There is no secret key: whoever rewrites every line after an edit can
// forge a consistent chain, and removing whole lines from the end leaves a
// shorter chain that is still intact. The log detects accidents, naive edits
// and torn writes; it is not a signature. Keep a copy of the last hash
// elsewhere to catch the rest.
//
// Format (JSON Lines, one record per line, members always in this order):
//   {"seq":N,"time":"YYYY-MM-DDTHH:MM:SS.ffffffZ","tool":…,"actor":…,
//    "action":…,"target":…,"collection":…,"objects":N,"result":…,
//    "remote":…,"detail":…,"prev":"<64 hex>","hash":"<64 hex>"}
// seq counts from 1 in each file. prev is the SHA-256 of the previous line's
// bytes without its newline (64 zeros for the first record); hash is the
// SHA-256 of this line's text up to, not including, ,"hash":. Strings are
// escaped so that a record is always exactly one line of printable text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "ctishare/config.h"
#include "ctishare/result.h"
#include "ctishare/time.h"

namespace ctishare::audit {

// One audited exchange. Strings may hold anything: control characters and
// invalid UTF-8 are escaped or replaced on the way into the log, and each
// field is cut at kMaxFieldBytes.
struct Event {
  std::string tool;           // "taxii-serve", "taxii-push", ...
  std::string actor;          // authenticated user / local user / partner name
  std::string action;         // e.g. "objects.read", "objects.add", "object.delete", "push", "pull", "revoke"
  std::string target;         // API root URL / partner / path
  std::string collection;     // collection id, "" when none
  std::int64_t objects = -1;  // how many objects; -1 = not applicable
  std::string result;         // "ok", "denied", "error", or an HTTP status like "202"
  std::string remote;         // peer address, "" when none
  std::string detail;         // free text, one line
};

// Longest value of one string field, in bytes; longer ones are cut at a
// UTF-8 boundary and end in "...".
inline constexpr std::size_t kMaxFieldBytes = 4096;

// The action of the record a writer adds after finding the file's last line
// incomplete (a crash or a full disk interrupted an earlier append): its
// prev is the hash of that incomplete line, so the chain runs through it.
inline constexpr const char* kRecoverAction = "audit.recover";

// When appended records reach the disk.
enum class SyncPolicy {
  every_record,  // fdatasync after each append (the CLI tools)
  on_request,    // only when sync() is called (the server calls it after
                 // writes and periodically)
};

// A writer of one log file. Several processes may append to the same file:
// each append holds flock(LOCK_EX) on it and, when the file has changed
// since this writer last wrote, re-reads the last line for seq and prev.
// Thread-safe; movable, not copyable.
class AuditLog {
 public:
  // Opens `path` for appending, creating it with mode 0600 when missing (an
  // existing file keeps its mode). `clock` must outlive the AuditLog.
  // Errors: cannot_create (73) when the parent directory is missing, the
  // file cannot be opened for writing or is not a regular file.
  static Result<AuditLog> open(const std::string& path, const Clock& clock,
                               SyncPolicy policy = SyncPolicy::every_record);

  AuditLog(AuditLog&&) noexcept;
  AuditLog& operator=(AuditLog&&) noexcept;
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  ~AuditLog();

  // Appends one record for `event` with one write(2) and, under
  // SyncPolicy::every_record, fdatasync. When the file ends in an incomplete
  // line, that line is ended and a kRecoverAction record added first. When
  // `path` no longer names the open file (the log was rotated by renaming
  // it), the old file is synced and a new one started at seq 1.
  // Errors: io (74) when the file cannot be locked, read, written or synced;
  // a failed write is cut back off the file so no half record is left.
  Status append(const Event& event);

  // Makes every appended record durable (fdatasync). io (74) on failure.
  Status sync();

  const std::string& path() const;

 private:
  struct State;
  explicit AuditLog(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// What verify_log() found.
struct VerifyReport {
  std::size_t records = 0;   // records read before the first problem (all when ok)
  bool ok = true;            // the whole chain is intact
  std::size_t bad_line = 0;  // 1-based line of the first problem, 0 when ok
  std::string problem;       // e.g. "hash does not match the record (edited?)"
  // Lines holding an incomplete record from an interrupted write that the
  // next line recovered (see kRecoverAction); they do not make ok false.
  std::vector<std::size_t> recovered_lines;
};

// Checks every line of a log: that it is a record in the format above,
// that its hash matches its text, that seq counts up by one from 1 and that
// prev is the hash of the line before. A last line without its newline is a
// problem (a torn write or a truncated file) until a writer appends again
// and recovers it. Returns the report; a broken chain is ok=false, not an
// Error. Errors: no_input (66) when the file is missing or unreadable
// ("-" reads standard input), io (74) when reading fails midway.
Result<VerifyReport> verify_log(const std::string& path);

// The same over a stream; `name` is used in error messages.
Result<VerifyReport> verify_log(std::istream& in, const std::string& name);

// Where the suite's audit log lives (shared/CLI.md): $CTISHARE_AUDIT_LOG,
// else [state] audit_log, else audit.jsonl in the state directory
// (resolve_state_dir(config, "")).
std::string default_log_path(const Config& config);

}  // namespace ctishare::audit
