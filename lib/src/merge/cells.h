// The compact cells of feed-merge's store: how a timestamp, an id and an
// observation's properties are written to the store and read back. Each
// encoder uses a compact form only when decoding it gives back the same
// text, so reading a store always returns exactly what was written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ctishare::merge::detail {

inline constexpr std::string_view kIndicatorPrefix = "indicator--";
inline constexpr std::string_view kIdentityPrefix = "identity--";

// Milliseconds since the epoch (not negative, before year 10000) as
// "YYYY-MM-DDTHH:MM:SS.sssZ".
void format_time(std::int64_t ms, char (&text)[24]);

// The milliseconds a timestamp is stored as, when it has that form
// ("YYYY-MM-DDTHH:MM:SS.sssZ", years 1970-9999, a real date).
std::optional<std::int64_t> time_number(std::string_view text);

// "<prefix><uuid>" with the UUID in canonical lower-case form, as its 16 bytes.
bool uuid_bytes(std::string_view text, std::string_view prefix, unsigned char (&out)[16]);

// The text uuid_bytes read: `prefix` and the UUID in lower case.
void format_uuid(const unsigned char* bytes, std::string_view prefix, std::string& out);

// Schema 4's report cell: what one observation says of its value besides
// the table's key (type, value, id, source), in one BLOB instead of ten
// columns. Encoded from a version as the store keeps it; decoded into
// views of the cell's bytes.
struct ReportCell {
  // A time: its milliseconds (compact), else its text.
  struct Time {
    std::optional<std::int64_t> ms;
    std::string_view text;
  };
  // A reference: its UUID's 16 bytes (compact), else its text.
  struct Ref {
    const unsigned char* bytes = nullptr;
    std::string_view text;
  };
  double trust = 0;
  std::int64_t kind = 0;  // trust::Kind's number
  std::optional<double> confidence;
  bool revoked = false;
  Time version, created, valid_from, valid_until;
  Ref created_by;
  std::string_view tlp;
};

// `cell` into `out` (replacing what it held). False when a value has no
// encoding (a kind outside 0-255, milliseconds outside format_time's
// range); `out` then holds no cell.
bool encode_report(const ReportCell& cell, std::string& out);

// The report in `bytes` into `cell` (its views point into `bytes`). False
// when the bytes are not one report cell (cut short, too long, damaged).
bool decode_report(std::string_view bytes, ReportCell& cell);

}  // namespace ctishare::merge::detail
