// A black-box conformance suite for TAXII 2.1 servers: it talks HTTP to any
// server through the Client and checks what comes back against the
// specification, one assertion at a time. Each assertion has a stable id
// ("objects.post.202"), the level the specification gives it (MUST, SHOULD,
// MAY), the section it comes from and a one-line description; each run
// gives it an outcome (pass, fail, skip) and a detail saying what was seen.
//
// The write assertions post objects with fresh random UUIDs into the
// collection they are given, so runs repeat against the same server without
// interfering; they never delete anything they did not post. Without a
// writable collection only the read assertions run (the rest are skipped).
// The strongest check walks a collection page by page with `next` while
// another thread posts, and demands that every object present before the
// walk is delivered exactly once and nothing twice.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/result.h"
#include "ctishare/taxii/client.h"

namespace ctishare::taxii {

// How binding an assertion is (RFC 2119 as the specification uses it).
enum class Level { must, should, may };

// "MUST", "SHOULD", "MAY".
std::string_view to_string(Level level);

enum class Outcome { pass, fail, skip };

// "PASS", "FAIL", "SKIP".
std::string_view to_string(Outcome outcome);

// One assertion of the suite, as listed by `taxii-conform --list`.
struct Assertion {
  std::string_view id;  // "objects.get.order"
  Level level;
  std::string_view section;      // of TAXII 2.1, e.g. "3.3"
  std::string_view description;  // "objects come back in ascending date_added"
};

// Every assertion, in the order a run reports them. Ids are unique and
// stable across releases (a renamed check gets a new id).
const std::vector<Assertion>& conformance_assertions();

// An assertion's outcome in one run.
struct AssertionResult {
  const Assertion* assertion = nullptr;  // points into conformance_assertions()
  Outcome outcome = Outcome::skip;
  std::string detail;  // what was seen; empty for a plain pass
};

struct ConformanceOptions {
  // The server: its discovery URL (".../taxii2/") or its root ("https://host/"),
  // to which "taxii2/" is then added. Must be the Client's base URL origin.
  std::string url;
  // A collection (id or alias) the write assertions post into; empty: the
  // write assertions are skipped.
  std::string write_collection;
  // A collection to read; empty: the write collection, else the first
  // readable one the server lists.
  std::string read_collection;
  // Only the assertions whose id matches one of these shell patterns
  // (fnmatch: "objects.*", "*.media-type") run; empty: all.
  std::vector<std::string> only;
  // Objects the exactly-once walker posts before its walk (in three POSTs)
  // and while it walks (one per POST), and the page size it walks with.
  std::size_t walk_objects = 30;
  std::size_t walk_concurrent_objects = 15;
  std::size_t walk_page_size = 4;
  // How long to wait for a pending status to complete.
  int status_wait_seconds = 30;
  // Progress messages ("posting fixtures"), for -v; may be empty.
  std::function<void(const std::string&)> progress;
};

// The outcome of a run, in the order of conformance_assertions(); only the
// selected assertions appear.
struct ConformanceReport {
  std::string discovery_url;    // where the discovery resource was read
  std::string api_root;         // the API root tested
  std::string read_collection;  // the collections tested ("" when none)
  std::string write_collection;
  std::vector<AssertionResult> results;
  // How many 429 answers the suite waited out and repeated (pacing is not
  // judged; a server that rate-limits simply makes the run slower).
  std::size_t rate_limited = 0;

  std::size_t count(Outcome outcome) const;
  std::size_t failures(Level level) const;
  // Whether no MUST failed (SHOULD and MAY failures are reported but allowed).
  bool conformant() const { return failures(Level::must) == 0; }
};

// Checks that every pattern of `only` matches at least one assertion id.
// Errors: usage (64) naming the first pattern that matches nothing.
Status check_selection(const std::vector<std::string>& only);

// Runs the suite against the server the client points at.
// Returns the report, in which failed assertions are ordinary results.
// Errors only when there is nothing to test: the same categories as
// Client::request when the discovery URL cannot be reached (unavailable
// 69, protocol 76 for TLS failures); permission (77) when discovery
// answers 401 or 403 (credentials missing or refused); protocol (76) when
// what answers is not TAXII 2.1 (not 200, not the TAXII media type, not
// JSON); usage (64) for a bad URL or selection.
Result<ConformanceReport> run_conformance(const Client& client, const ConformanceOptions& options);

// The report as text: one line per assertion,
//   "PASS MUST 5.3 objects.get.order  objects come back in ascending date_added"
// with the detail of failures and skips on an indented line below, then a
// summary line: "summary: 61 passed, 1 failed (MUST 0, SHOULD 1, MAY 0), 3 skipped".
std::string format_report_text(const ConformanceReport& report);

// The report as one JSON document (deterministic member order), with
// "tool_version" set to `version`.
std::string format_report_json(const ConformanceReport& report, std::string_view version);

// The assertion catalogue as text, one per line: "id<TAB>LEVEL<TAB>section<TAB>description".
std::string format_assertion_list();

}  // namespace ctishare::taxii
