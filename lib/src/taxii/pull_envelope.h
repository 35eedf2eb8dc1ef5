// How taxii-pull reads one page (a TAXII envelope) without building a tree:
// a scan over the bytes for the pages servers send, and RapidJSON's reader
// for everything else. Private to pull.cpp; declared here so the tests can
// hold the two against each other.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/json.h"
#include "ctishare/result.h"

namespace ctishare::taxii::internal {

// One element of "objects": its JSON on one line, and the members the
// engine needs (version: "modified", else "created", else empty), decoded.
// Views of the body, or of the envelope's arena.
struct EnvelopeObject {
  std::string_view json, id, type, version;
};

struct Envelope {
  std::vector<EnvelopeObject> objects;
  std::optional<bool> more;
  std::string next;
  bool next_present = false, objects_not_list = false, more_not_bool = false, next_not_string = false;
  // The bytes views point to when they are not the body's: objects the
  // reader re-wrote, strings it decoded. Null when every view is of the body.
  std::shared_ptr<std::deque<std::string>> arena;
};

// The envelope in `body`, each object taken byte for byte when the body is
// on one line (what servers send) and otherwise re-written compactly, so
// every object is one line of output either way. The limits on untrusted
// JSON (depth, string length, members, duplicate names, lone surrogates)
// are checked as the suite's parser checks them. Errors: data (65) for a
// page over a limit, protocol (76) for one that is not JSON or not an
// envelope ("objects" not a list, "more" not a boolean, "next" not a string).
Result<Envelope> read_envelope(const std::string& url, std::string_view body, const json::Limits& limits);

// read_envelope's two ways. scan_envelope() returns nullopt for any page it
// does not know how to read exactly as parse_envelope() does, errors
// included; read_envelope() then calls parse_envelope(), RapidJSON's reader.
std::optional<Envelope> scan_envelope(std::string_view body, const json::Limits& limits);
Result<Envelope> parse_envelope(const std::string& url, std::string_view body, const json::Limits& limits);

}  // namespace ctishare::taxii::internal
