// What feed-merge and revoke share: where the merge store and the outputs
// are, the policy and publication settings the configuration gives, the
// allowlist, and who is at the keyboard.
#pragma once

#include <optional>
#include <string>

#include "ctishare/allowlist.h"
#include "ctishare/config.h"
#include "ctishare/merge_store.h"
#include "ctishare/result.h"
#include "ctishare/time.h"

namespace ctishare::tool {

// The local user, for decisions and audit records: $SUDO_USER when set,
// else the effective user's name.
std::string local_user();

struct MergePaths {
  std::string state_dir, store, out_dir;
};
// --store / --out-dir when given, else [merge] store / out_dir, else
// <state>/merge.db and <state>/out.
MergePaths merge_paths(const Config& config, const std::string& store_option, const std::string& out_dir_option);

// The allowlist --allowlist names, else [allowlist] file; none when neither
// does. Errors: those of Allowlist::load.
Result<std::optional<trust::Allowlist>> load_allowlist(const std::string& option, const Config& config);

// The scoring thresholds, observe-only types and per-source trust of the
// configuration, with `allowlist` (may be null).
merge::MergePolicy merge_policy(const Config& config, const trust::Allowlist* allowlist);

// Publication into `out_dir` as of `now`, with the [merge] settings.
merge::PublishOptions publish_options(const Config& config, const std::string& out_dir, const Timestamp& now,
                                      const trust::Allowlist* allowlist);

}  // namespace ctishare::tool
