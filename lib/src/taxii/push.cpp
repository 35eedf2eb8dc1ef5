// taxii-push's engine: TLP ceiling, envelopes, POST, status polling.
#include "ctishare/taxii/push.h"

#include <algorithm>
#include <map>
#include <set>
#include <thread>

namespace ctishare::taxii {
namespace {

constexpr std::uint64_t kDefaultMaxContent = 10ULL << 20;
constexpr std::size_t kEnvelopeOverhead = 14;  // {"objects":[ and ]}

Error protocol(const std::string& url, const std::string& what) {
  return Error(ErrorCategory::protocol, quote(url) + ": " + what);
}

// The status details of one list in a status resource.
std::vector<Rejected> details(const json::Value& status, std::string_view list) {
  std::vector<Rejected> out;
  const json::Value* l = status.find(list);
  if (l == nullptr || !l->is_array()) return out;
  for (const auto& d : l->as_array()) {
    if (!d.is_object()) continue;
    Rejected r;
    if (auto v = d.find_string("id")) r.id = std::string(*v);
    if (auto v = d.find_string("version")) r.version = std::string(*v);
    if (auto v = d.find_string("message")) r.message = std::string(*v);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

PushPlan plan_push(const std::vector<stix::Object>& objects, stix::Tlp max_tlp) {
  PushPlan plan;
  for (const auto& o : objects) {
    if (auto tlp = tlp_of(o); tlp && stix::more_restrictive(*tlp, max_tlp)) {
      plan.held_back.push_back({std::string(o.id()), std::string(o.version()), *tlp});
      continue;
    }
    plan.objects.push_back(o.to_string());
    plan.versions.emplace_back(std::string(o.id()), std::string(o.version()));
  }
  return plan;
}

Envelopes split_envelopes(const std::vector<std::string>& objects, std::uint64_t max_bytes) {
  Envelopes out;
  std::size_t begin = 0, size = kEnvelopeOverhead;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const std::size_t add = objects[i].size() + (i > begin ? 1 : 0);
    if (objects[i].size() + kEnvelopeOverhead > max_bytes) {
      if (i > begin) out.ranges.emplace_back(begin, i);
      out.too_large.push_back(i);
      begin = i + 1;
      size = kEnvelopeOverhead;
      continue;
    }
    if (size + add > max_bytes) {
      out.ranges.emplace_back(begin, i);
      begin = i;
      size = kEnvelopeOverhead + objects[i].size();
      continue;
    }
    size += add;
  }
  if (begin < objects.size()) out.ranges.emplace_back(begin, objects.size());
  return out;
}

std::string envelope_text(const std::vector<std::string>& objects, std::size_t begin, std::size_t end) {
  std::string out = "{\"objects\":[";
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) out += ',';
    out += objects[i];
  }
  out += "]}";
  return out;
}

Result<CollectionPush> push_collection(const Client& client, const CollectionInfo& collection, const PushPlan& plan,
                                       std::uint64_t max_content_length, const PushSettings& settings) {
  CollectionPush out;
  out.collection = collection;
  const std::string label = collection.alias.empty() ? collection.id : collection.alias;
  if (!collection.can_write)
    return Error(ErrorCategory::permission, quote(client.settings().base_url) + ": collection " + quote(label) +
                                                " does not let us write (can_write is false)");
  auto url = client.resolve("collections/" + encode_query_value(collection.id) + "/objects/");
  if (!url) return std::move(url).error();
  const std::string objects_url = to_string(*url);
  const std::uint64_t limit = settings.max_content_length != 0 ? settings.max_content_length
                              : max_content_length != 0       ? max_content_length
                                                              : kDefaultMaxContent;
  const Envelopes envelopes = split_envelopes(plan.objects, limit);
  for (std::size_t i : envelopes.too_large)
    out.rejected.push_back({plan.versions[i].first, plan.versions[i].second,
                            "not sent: " + std::to_string(plan.objects[i].size()) + " bytes, over the partner's limit of " +
                                std::to_string(limit)});

  // What the statuses say, keyed by status id; the objects each covered.
  struct Posted {
    std::string status_id;
    std::size_t begin, end;
    json::Value status;
  };
  std::vector<Posted> posted;
  std::vector<std::pair<std::size_t, std::size_t>> work(envelopes.ranges.rbegin(), envelopes.ranges.rend());
  while (!work.empty()) {
    auto [begin, end] = work.back();
    work.pop_back();
    auto r = request_same_origin(client, "POST", objects_url, envelope_text(plan.objects, begin, end));
    if (!r) return std::move(r).error();
    if (r->status == 413) {
      if (end - begin > 1) {  // too large after all: halve it and try again
        const std::size_t mid = begin + (end - begin) / 2;
        work.emplace_back(mid, end);
        work.emplace_back(begin, mid);
        continue;
      }
      out.rejected.push_back({plan.versions[begin].first, plan.versions[begin].second,
                              "refused as too large (413) even alone"});
      continue;
    }
    if (r->status != 202 && r->status != 200 && r->status != 201) return http_error(*r, "POST");
    auto status = taxii_json(*r);
    if (!status) return std::move(status).error();
    auto id = status->find_string("id");
    if (!id) return protocol(r->url, "POST answered without a status resource (no id)");
    out.sent += end - begin;
    ++out.envelopes;
    out.status_ids.emplace_back(*id);
    posted.push_back({std::string(*id), begin, end, std::move(*status)});
    if (settings.progress)
      settings.progress(label + ": envelope " + std::to_string(out.envelopes) + ": " + std::to_string(end - begin) +
                        " object(s), status " + quote(*id));
  }

  // Follow each status until complete, within the wait.
  const auto deadline = std::chrono::steady_clock::now() + settings.status_wait;
  for (auto& p : posted) {
    auto delay = std::chrono::milliseconds(100);
    while (settings.wait && p.status.find_string("status").value_or("") != "complete" &&
           std::chrono::steady_clock::now() + delay < deadline) {
      std::this_thread::sleep_for(delay);
      delay = std::min(delay * 2, std::chrono::milliseconds(2000));
      auto s_url = client.resolve("status/" + encode_query_value(p.status_id) + "/");
      if (!s_url) return std::move(s_url).error();
      auto r = request_same_origin(client, "GET", to_string(*s_url));
      if (!r) return std::move(r).error();
      if (r->status != 200) return http_error(*r, "GET");
      auto status = taxii_json(*r);
      if (!status) return std::move(status).error();
      p.status = std::move(*status);
    }
    // Account for each object of the envelope: failed; else accepted when
    // the status is complete or lists it as a success; else pending.
    std::set<IdVersion> failed, succeeded;
    std::map<std::string, std::string> message_by_id;
    for (auto& f : details(p.status, "failures")) {
      failed.insert({f.id, f.version});
      message_by_id.emplace(f.id, f.message);
    }
    for (auto& d : details(p.status, "successes")) succeeded.insert({d.id, d.version});
    const bool complete = p.status.find_string("status").value_or("") == "complete";
    for (std::size_t i = p.begin; i < p.end; ++i) {
      const IdVersion& key = plan.versions[i];
      if (failed.count(key) != 0 || failed.count({key.first, ""}) != 0) {
        auto m = message_by_id.find(key.first);
        out.rejected.push_back({key.first, key.second, m != message_by_id.end() ? m->second : std::string()});
      } else if (complete || succeeded.count(key) != 0 || succeeded.count({key.first, ""}) != 0) {
        out.accepted.push_back(key);
      } else {
        ++out.pending;
      }
    }
  }
  return out;
}

}  // namespace ctishare::taxii
