#include "merging.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace ctishare::tool {
namespace {

std::string join_path(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

}  // namespace

std::string local_user() {
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0') return sudo;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) return pw->pw_name;
  return "uid " + std::to_string(::geteuid());
}

MergePaths merge_paths(const Config& config, const std::string& store_option, const std::string& out_dir_option) {
  MergePaths p;
  p.state_dir = resolve_state_dir(config, "");
  p.store = !store_option.empty()         ? store_option
            : !config.merge.store.empty() ? config.merge.store
                                          : join_path(p.state_dir, "merge.db");
  p.out_dir = !out_dir_option.empty()         ? out_dir_option
              : !config.merge.out_dir.empty() ? config.merge.out_dir
                                              : join_path(p.state_dir, "out");
  return p;
}

Result<std::optional<trust::Allowlist>> load_allowlist(const std::string& option, const Config& config) {
  const std::string file = option.empty() ? config.allowlist : option;
  if (file.empty()) return std::optional<trust::Allowlist>();
  auto loaded = trust::Allowlist::load(file);
  if (!loaded) return std::move(loaded).error();
  return std::optional<trust::Allowlist>(std::move(*loaded));
}

merge::MergePolicy merge_policy(const Config& config, const trust::Allowlist* allowlist) {
  merge::MergePolicy policy;
  policy.scoring.block_threshold = config.scoring.block_threshold;
  policy.scoring.review_threshold = config.scoring.review_threshold;
  policy.scoring.floor = config.scoring.floor;
  policy.scoring.default_confidence = config.scoring.default_confidence;
  policy.observe_only.clear();
  for (const auto& t : config.merge.observe_only)
    if (auto type = stix::parse_observable_type(t)) policy.observe_only.push_back(*type);
  for (const auto& [name, partner] : config.partners) policy.trust[name] = partner.trust;
  for (const auto& [name, source] : config.sources) policy.trust[name] = source.trust;
  policy.allowlist = allowlist;
  return policy;
}

merge::PublishOptions publish_options(const Config& config, const std::string& out_dir, const Timestamp& now,
                                      const trust::Allowlist* allowlist) {
  merge::PublishOptions publish;
  publish.out_dir = out_dir;
  publish.exports.allowlist = allowlist;
  publish.exports.now = now;
  publish.exports.rpz_origin = config.merge.rpz_origin;
  publish.exports.rpz_ttl = static_cast<std::uint32_t>(config.merge.rpz_ttl);
  publish.max_loss_percent = config.merge.max_loss_percent;
  publish.max_loss_count = config.merge.max_loss_count;
  publish.removed_days = config.merge.removed_days;
  return publish;
}

}  // namespace ctishare::tool
