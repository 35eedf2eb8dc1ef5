// The suite's append-only, hash-chained audit log: every exchange (a TAXII
// request served, a push, a pull, a revocation) becomes one JSON line that
// carries the SHA-256 of the line before it, so an edited, deleted, inserted
// or reordered line, or a file cut off mid-line, is found by verify_log().
// There is no secret key: whoever rewrites every line after an edit can
// forge a consistent chain, and removing whole lines from the end leaves a
// shorter chain that is still intact. The writer therefore keeps a
// checkpoint beside the log (see kCheckpointSuffix) naming the last record
// it made durable; verify_log() checks the log against it, which catches
// removed trailing lines and a rewritten chain as long as the checkpoint
// itself was left alone. The log detects accidents, naive edits and torn
// writes; it is not a signature. Keep a copy of the checkpoint elsewhere
// (verify against it with VerifyOptions::checkpoint) to catch the rest.
//
// Format (JSON Lines, one record per line, members always in this order):
//   {"seq":N,"time":"YYYY-MM-DDTHH:MM:SS.ffffffZ","tool":…,"actor":…,
//    "action":…,"target":…,"collection":…,"objects":N,"result":…,
//    "remote":…,"detail":…,"ids":…,"prev":"<64 hex>","hash":"<64 hex>"}
// seq counts from 1 in each file. ids is the ids_digest() of the objects
// concerned ("sha256:<64 hex>"), "" when none. prev is the SHA-256 of the
// previous line's bytes without its newline (64 zeros for the first
// record); hash is the SHA-256 of this line's text up to, not including,
// ,"hash":. Strings are escaped so that a record is always exactly one line
// of printable text.
//
// Checkpoint (<log>.checkpoint, mode 0600, one line):
//   {"seq":N,"hash":"<64 hex>","time":"YYYY-MM-DDTHH:MM:SS.ffffffZ"}
// seq and hash are those of the last record the writer made durable (hash
// is that record's "hash" member); time is when the checkpoint was written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
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
  std::string ids;            // ids_digest() of the objects concerned, "" when none
};

// The digest of the objects an event concerns, for Event::ids: the
// (id, version) pairs are sorted and "sha256:" + the hex SHA-256 of the
// lines "id|version\n" concatenated is returned, so the order of the input
// does not matter; "" for no pairs. version is the object's modified time
// (or "" for unversioned objects). Neither may contain '|' or a newline
// (STIX ids and timestamps do not).
std::string ids_digest(std::vector<std::pair<std::string, std::string>> id_versions);
// The same, of views: for a caller holding many objects, no copy of each.
std::string ids_digest_views(std::vector<std::pair<std::string_view, std::string_view>> id_versions);

// Longest value of one string field, in bytes; longer ones are cut at a
// UTF-8 boundary and end in "...".
inline constexpr std::size_t kMaxFieldBytes = 4096;

// The action of the record a writer adds after finding the file's last line
// incomplete (a crash or a full disk interrupted an earlier append): its
// prev is the hash of that incomplete line, so the chain runs through it.
inline constexpr const char* kRecoverAction = "audit.recover";

// The checkpoint of the log at `path` is the file `path` + kCheckpointSuffix.
inline constexpr const char* kCheckpointSuffix = ".checkpoint";

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
//
// The writer also keeps the checkpoint <path>.checkpoint, naming the last
// record it made durable; the file is replaced atomically (a temporary file
// in the same directory, fsync, rename, fsync of the directory). Under
// SyncPolicy::every_record it is rewritten after every append; under
// SyncPolicy::on_request by sync(), at most once a second of `clock` (any
// sync() when the clock went backwards), and when the writer is destroyed.
// The first record of a new file (a created or rotated log) is synced and
// checkpointed at once under either policy, so the checkpoint describes the
// file now at `path`; a writer whose file was rotated away writes no
// checkpoint for it. With several writers the checkpoint names whichever
// record was checkpointed last, which may lag behind the log: that is
// normal, records after the checkpoint are verified by the chain alone.
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
  // SyncPolicy::every_record, fdatasync and a new checkpoint. When the file
  // ends in an incomplete line, that line is ended and a kRecoverAction
  // record added first. When `path` no longer names the open file (the log
  // was rotated by renaming it), the old file is synced and a new one
  // started at seq 1.
  // Errors: io (74) when the file cannot be locked, read, written or synced;
  // a failed write is cut back off the file so no half record is left. io
  // (74) too when the checkpoint cannot be written; the record is then in
  // the log and durable.
  Status append(const Event& event);

  // Makes every appended record durable (fdatasync) and, at most once a
  // second, writes the checkpoint (see above). io (74) on failure.
  Status sync();

  const std::string& path() const;

 private:
  struct State;
  explicit AuditLog(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// How verify_log() finds the checkpoint to check the log against.
struct VerifyOptions {
  // The checkpoint file, e.g. a copy kept on another host. Empty: the log's
  // own <path>.checkpoint when that exists (none for "-" or a stream).
  std::string checkpoint;
  // Check the chain only, whatever `checkpoint` says.
  bool no_checkpoint = false;
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
  // The checkpoint file the log was checked against ("" when none) and the
  // record it names (0 when none).
  std::string checkpoint_used;
  std::uint64_t checkpoint_seq = 0;
};

// Checks every line of a log: that it is a record in the format above,
// that its hash matches its text, that seq counts up by one from 1 and that
// prev is the hash of the line before. A last line without its newline is a
// problem (a torn write or a truncated file) until a writer appends again
// and recovers it. With a checkpoint (see VerifyOptions), the log must also
// hold the record it names, with the hash it names: a log that ends before
// that record is a problem ("the log ends at record 7 but its checkpoint
// names record 9 (truncated?)", bad_line the line after the last) and so is
// a record of that seq with another hash ("record 9 does not match the
// checkpoint (rewritten?)"). Returns the report; a broken chain is ok=false,
// not an Error. Errors: no_input (66) when the log or a named checkpoint is
// missing or unreadable ("-" reads standard input), io (74) when reading
// fails midway, data (65) when the checkpoint file is not a checkpoint.
Result<VerifyReport> verify_log(const std::string& path, const VerifyOptions& options);

// The same with default options: the log's own checkpoint when it exists.
Result<VerifyReport> verify_log(const std::string& path);

// The chain alone over a stream (no checkpoint); `name` is used in error
// messages.
Result<VerifyReport> verify_log(std::istream& in, const std::string& name);

// Where the suite's audit log lives (shared/CLI.md): $CTISHARE_AUDIT_LOG,
// else [state] audit_log, else audit.jsonl in the state directory
// (resolve_state_dir(config, "")).
std::string default_log_path(const Config& config);

}  // namespace ctishare::audit
