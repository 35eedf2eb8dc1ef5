// The query string of a TAXII 2.1 request (SPEC 3.4): percent-decoded,
// checked and reduced to typed filters. Private to the library.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/result.h"
#include "ctishare/taxii/store.h"
#include "ctishare/time.h"

namespace ctishare::taxii::detail {

struct QueryParams {
  std::optional<Micros> added_after;
  std::optional<std::size_t> limit;  // as asked, already capped at the server's maximum
  std::optional<std::string> next;
  std::optional<std::vector<std::string>> ids, types, spec_versions;
  std::optional<VersionMatch> versions;  // absent: the endpoint's default
  // Every filter (all parameters but `next` and `limit`), in one canonical
  // form (fixed order, values sorted), so a next token can be bound to "the
  // same query" however the client spelled or ordered it; the page size
  // may change from page to page.
  std::string canonical;
};

// Parses `query` (the part after '?', possibly empty). Any malformed
// parameter is a data error whose message says which (SPEC 3.4: 400):
// bad percent-encoding, a repeated parameter or match field, an empty
// value or list item, a bad timestamp, a limit that is not a positive
// integer, "all" combined with anything, a repeated version. Unknown
// parameters and unknown match fields are ignored (SPEC 3.4 allows it).
Result<QueryParams> parse_query(std::string_view query, std::size_t max_page_size);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). Errors
// (data): a '%' not followed by two hex digits.
Result<std::string> percent_decode(std::string_view text, bool plus_is_space);

// Microseconds since the epoch of a timestamp, rounded down (so "strictly
// after" a finer instant stays exact at microsecond resolution).
Micros to_micros(const Timestamp& t);
// A TAXII timestamp: UTC, exactly six fractional digits (SPEC 2).
std::string format_micros(Micros micros);

}  // namespace ctishare::taxii::detail
