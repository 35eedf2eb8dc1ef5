// The push records: which partner's collection accepted which of our
// objects, one file per partner, <state>/push/<partner>.tsv, a line
// "time\tcollection\tid\tversion" per accepted object. taxii-push appends
// them; revoke reads them to know who must get a revoked version.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ctishare/result.h"
#include "ctishare/time.h"

namespace ctishare::tool {

// Appends what `partner`'s `collection` accepted, synced. Errors:
// cannot_create (73) / io (74) naming the file.
Status append_push_record(const std::string& state_dir, const std::string& partner, const std::string& collection,
                          const std::vector<std::pair<std::string, std::string>>& accepted, const Timestamp& now);

// One partner collection that received an object, and the last version it did.
struct Received {
  std::string partner, collection, version;
};
// For each of `ids` that some partner received, who did.
std::map<std::string, std::vector<Received>> read_push_records(const std::string& state_dir,
                                                               const std::set<std::string>& ids);

}  // namespace ctishare::tool
