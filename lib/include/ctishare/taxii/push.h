// taxii-push's engine: choose what a partner may receive (the TLP ceiling),
// cut it into TAXII envelopes that fit the API root's max_content_length,
// POST them, follow each status resource until it is complete, and account
// for every object: accepted, rejected (with the server's message), or
// still pending when the wait ran out.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "ctishare/marking.h"
#include "ctishare/object.h"
#include "ctishare/result.h"
#include "ctishare/taxii/exchange.h"

namespace ctishare::taxii {

using IdVersion = std::pair<std::string, std::string>;

// An object the ceiling held back.
struct HeldBack {
  std::string id, version;
  stix::Tlp tlp = stix::Tlp::red;
};

// What one partner gets: objects (compact JSON) and their keys, in input order.
struct PushPlan {
  std::vector<std::string> objects;
  std::vector<IdVersion> versions;
  std::vector<HeldBack> held_back;
};

using stix::tlp_of;

// Splits `objects` into what may go to a partner with ceiling `max_tlp`
// (unmarked objects and those at or below it) and what is held back.
PushPlan plan_push(const std::vector<stix::Object>& objects, stix::Tlp max_tlp);

// Envelopes ({"objects":[...]}) of at most `max_bytes` each, in order.
// An object that alone exceeds the limit is returned in `too_large`.
struct Envelopes {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;  // [begin, end) into the plan's objects
  std::vector<std::size_t> too_large;                       // indexes of objects that fit no envelope
};
Envelopes split_envelopes(const std::vector<std::string>& objects, std::uint64_t max_bytes);

// The bytes of the envelope holding objects [begin, end).
std::string envelope_text(const std::vector<std::string>& objects, std::size_t begin, std::size_t end);

// One object the server (or the envelope limit) refused.
struct Rejected {
  std::string id, version, message;
};

struct PushSettings {
  bool wait = true;                                   // follow statuses until complete
  std::chrono::milliseconds status_wait{120'000};     // how long, in all, per collection
  std::uint64_t max_content_length = 0;               // 0: the API root's value (else 10 MiB)
  std::function<void(const std::string&)> progress;  // -v messages; may be empty
};

// What a push to one collection achieved.
struct CollectionPush {
  CollectionInfo collection;
  std::size_t sent = 0, envelopes = 0, pending = 0;
  std::vector<IdVersion> accepted;
  std::vector<Rejected> rejected;
  std::vector<std::string> status_ids;
};

// Posts the plan's objects to one collection. A 413 halves the envelope and
// tries again (an object refused alone is rejected with the server's
// reason). Errors: permission (77) when the collection is not writable;
// those of the client and http_error() otherwise, which stop the push.
Result<CollectionPush> push_collection(const Client& client, const CollectionInfo& collection, const PushPlan& plan,
                                       std::uint64_t max_content_length, const PushSettings& settings);

}  // namespace ctishare::taxii
