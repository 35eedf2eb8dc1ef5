// stix-gen's engine: plan each indicator against the state (new, new
// version, unchanged, renewed, withheld while revoke(1) holds it), write
// identity, indicators and markings sorted by id, and hand back the new state
// to save after the output.
// Memory stays near 100 bytes per detection: values live in one pool,
// timestamps are interned, patterns are rebuilt when needed.
#include "ctishare/generator.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <deque>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "ctishare/memory.h"
#include "ctishare/observable.h"
#include "ctishare/uuid.h"
#include "core/digest.h"
#include "detection_reader.h"
#include "generator_state.h"

namespace ctishare::stix {

using detail::Attributes;
using detail::DetectionSet;
using detail::Record;

namespace {

using detail::IdentityEntry;
using detail::IndicatorState;
using detail::StateEntry;
using Digest = detail::Digest;

// The fields that make up an indicator's content; hashing them tells
// whether a detection changed since the version in the state.
struct IndicatorContent {
  std::string_view id, created_by_ref, created, name, description, pattern, valid_from, valid_until, marking;
  const std::vector<std::string_view>* indicator_types = nullptr;
  const std::vector<std::string_view>* labels = nullptr;
  int confidence = 0;
};

Digest content_digest(const IndicatorContent& c, const detail::SipKey& key) {
  // The fields a new version may change, NUL-separated, hashed in one call.
  // Left out: id and created (fixed for an indicator) and name (the value,
  // which the pattern already holds).
  thread_local std::string buf;
  buf.clear();
  auto add = [&](std::string_view s) {
    buf += s;
    buf += '\0';
  };
  for (auto s : {c.created_by_ref, c.description, c.pattern, c.valid_from, c.valid_until, c.marking}) add(s);
  for (auto s : *c.indicator_types) add(s);
  add("\x1e");
  for (auto s : *c.labels) add(s);
  add("\x1e");
  add(std::to_string(c.confidence));
  return ctishare::detail::siphash128(key, buf);
}

void append_string_list(std::string& out, const std::vector<std::string_view>& items) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ',';
    json::write_string(items[i], out);
  }
  out += ']';
}

// Appends a string the generator made itself (an id, a timestamp): nothing
// in it needs escaping.
void append_plain(std::string& out, std::string_view s) {
  out += '"';
  out += s;
  out += '"';
}

void serialize_indicator(const IndicatorContent& c, std::string_view modified, std::string& out) {
  out += "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":";
  append_plain(out, c.id);
  out += ",\"created_by_ref\":";
  json::write_string(c.created_by_ref, out);  // from the state or --previous: escaped all the same
  out += ",\"created\":";
  append_plain(out, c.created);
  out += ",\"modified\":";
  append_plain(out, modified);
  out += ",\"name\":";
  json::write_string(c.name, out);
  if (!c.description.empty()) {
    out += ",\"description\":";
    json::write_string(c.description, out);
  }
  out += ",\"indicator_types\":";
  append_string_list(out, *c.indicator_types);
  out += ",\"pattern\":";
  json::write_string(c.pattern, out);
  out += ",\"pattern_type\":\"stix\",\"pattern_version\":\"2.1\",\"valid_from\":";
  append_plain(out, c.valid_from);
  out += ",\"valid_until\":";
  append_plain(out, c.valid_until);
  if (!c.labels->empty()) {
    out += ",\"labels\":";
    append_string_list(out, *c.labels);
  }
  out += ",\"confidence\":";
  out += std::to_string(c.confidence);
  out += ",\"object_marking_refs\":[";
  append_plain(out, c.marking);
  out += "]}";
}

std::string identity_json(const std::string& name, const IdentityEntry& e) {
  std::string out = "{\"type\":\"identity\",\"spec_version\":\"2.1\",\"id\":";
  json::write_string(e.id, out);
  out += ",\"created\":";
  json::write_string(e.created, out);
  out += ",\"modified\":";
  json::write_string(e.modified, out);
  out += ",\"name\":";
  json::write_string(name, out);
  out += ",\"identity_class\":";
  json::write_string(e.identity_class, out);
  out += '}';
  return out;
}

// Seeds `state` from an earlier bundle (--previous): the identity named
// `identity_name` and the latest version of each indicator it created.
Status seed_from_previous(const GenerateOptions& o, const std::string& identity_name, IndicatorState& state) {
  auto in = open_input(o.previous);
  if (!in) return std::move(in).error();
  std::map<std::string, IdentityEntry> identities;
  std::vector<Object> indicators;
  Status s = read_objects(**in, ReadOptions{o.limits}, [&](Object&& obj, const Origin&) -> Status {
    if (obj.type() == "identity" && obj.get_string("name") == identity_name) {
      auto id = Identifier::parse(obj.id());
      auto created = Timestamp::parse(obj.created().value_or(""));
      auto modified = Timestamp::parse(obj.modified().value_or(""));
      if (!id || id->type != "identity" || !created || !modified)
        return Error(ErrorCategory::data, "identity " + quote(obj.id()) + " has an invalid id, created or modified");
      IdentityEntry e{id->to_string(), std::string(obj.get_string("identity_class").value_or("organization")),
                      created->with_min_precision(3).to_string(), modified->with_min_precision(3).to_string()};
      auto& slot = identities[e.id];
      if (slot.modified < e.modified) slot = e;
    } else if (obj.type() == "indicator" && obj.get_string("pattern_type") == "stix") {
      indicators.push_back(std::move(obj));
    }
    return {};
  });
  if (!s) return std::move(s).error().with_context(quote(display_name(o.previous)));
  if (identities.empty()) return {};
  if (state.identities.count(identity_name) == 0) state.identities[identity_name] = identities.begin()->second;
  const std::string our_id = state.identities[identity_name].id;
  for (const Object& obj : indicators) {
    if (obj.created_by_ref() != our_id) continue;
    auto pattern = obj.get_string("pattern");
    auto created = obj.created();
    auto modified = obj.modified();
    auto vf = obj.get_string("valid_from");
    auto vu = obj.get_string("valid_until");
    auto id = Identifier::parse(obj.id());
    if (!pattern || !created || !modified || !vf || !vu || !id) continue;
    auto tm = Timestamp::parse(*modified);
    if (!Timestamp::parse(*created) || !tm || !Timestamp::parse(*vf) || !Timestamp::parse(*vu)) continue;
    const StateEntry* known = state.find(*pattern, our_id);
    if (known != nullptr && !(state.times.time(known->modified) < *tm)) continue;
    IndicatorContent c;
    c.id = obj.id();
    c.created_by_ref = our_id;
    c.created = *created;
    c.name = obj.get_string("name").value_or("");
    c.description = obj.get_string("description").value_or("");
    c.pattern = *pattern;
    c.valid_from = *vf;
    c.valid_until = *vu;
    if (const json::Value* m = obj.get("object_marking_refs");
        m && m->is_array() && !m->as_array().empty() && m->as_array()[0].is_string())
      c.marking = m->as_array()[0].as_string();
    std::vector<std::string_view> types, labels;
    for (const char* list : {"indicator_types", "labels"}) {
      const json::Value* v = obj.get(list);
      if (v == nullptr || !v->is_array()) continue;
      for (const auto& e : v->as_array())
        if (e.is_string()) (list[0] == 'i' ? types : labels).push_back(e.as_string());
    }
    c.indicator_types = &types;
    c.labels = &labels;
    if (const json::Value* cf = obj.get("confidence")) c.confidence = static_cast<int>(cf->as_int64().value_or(0));
    StateEntry e;
    e.id = id->uuid;
    // STIX 2.1 wants at least milliseconds on created/modified.
    e.created = state.times.intern(Timestamp::parse(*created)->with_min_precision(3).to_string());
    e.modified = state.times.intern(tm->with_min_precision(3).to_string());
    e.valid_from = state.times.intern(*vf);
    e.valid_until = state.times.intern(*vu);
    e.digest = content_digest(c, state.digest_key);
    e.revoked = obj.revoked();
    e.creator = state.creators.intern(our_id);
    state.put(*pattern, e);
  }
  return {};
}

std::int64_t lifetime_for(const GenerateOptions& o, ObservableType t) {
  if (o.valid_for) return *o.valid_for;
  switch (t) {
    case ObservableType::url: return o.lifetimes.url;
    case ObservableType::domain: return o.lifetimes.domain;
    case ObservableType::ipv4:
    case ObservableType::ipv6: return o.lifetimes.ip;
    case ObservableType::email: return o.lifetimes.email;
    default: return o.lifetimes.hash;
  }
}

const char* observable_type_description(ObservableType t) {
  switch (t) {
    case ObservableType::domain: return "domain";
    case ObservableType::url: return "URL";
    case ObservableType::ipv4: return "IPv4 address";
    case ObservableType::ipv6: return "IPv6 address";
    case ObservableType::email: return "e-mail address";
    case ObservableType::md5: return "file with MD5";
    case ObservableType::sha1: return "file with SHA-1";
    case ObservableType::sha256: return "file with SHA-256";
    case ObservableType::sha512: return "file with SHA-512";
  }
  return "observable";
}

// Rebuilt when needed rather than kept: a million patterns would double the
// memory of a run.
const std::string& pattern_of(const DetectionSet& set, const Record& r, std::string& buf) {
  buf.clear();
  append_observable_pattern(buf, static_cast<ObservableType>(r.type), set.value(r));
  return buf;
}

// One indicator of this run: its record and its place in version history.
struct Planned {
  std::uint32_t record = 0;
  bool fresh = false;  // a new indicator: its id is drawn after planning
  StateEntry entry;
};

// Everything a run produced, kept until the caller has committed the output
// and asks for the state to be saved.
class Run final : public Generation {
 public:
  const GenerateReport& report() const override { return summary; }
  Status commit_state() override;

  GenerateReport summary;
  std::optional<FileLock> lock;
  std::string state_path;
  IndicatorState state;
  DetectionSet set;
  std::vector<Planned> planned;  // sorted by id
};

Status Run::commit_state() {
  if (state_path.empty()) return {};
  std::vector<const StateEntry*> fresh;
  fresh.reserve(planned.size());
  for (const Planned& p : planned) fresh.push_back(&p.entry);
  std::string pattern_buf;
  return state.save(state_path, fresh, [&](std::size_t i) -> const std::string& {
    return pattern_of(set, set.records[planned[i].record], pattern_buf);
  });
}

}  // namespace

std::string default_identity_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "ctishare";
  return std::string("ctishare on ") + host;
}

Result<std::unique_ptr<Generation>> generate(const GenerateOptions& o, Sink& out, const DiagnosticSink& diag) {
  auto run = std::make_unique<Run>();
  IndicatorState& state = run->state;
  DetectionSet& set = run->set;
  GenerateReport& report = run->summary;
  const Clock& clock = o.clock != nullptr ? *o.clock : system_clock();
  const Timestamp now_ts = clock.now().to_millis();
  const std::string now = now_ts.to_string();

  // 1. Lock and state first: a second run stops before doing any work.
  if (!o.state_dir.empty()) {
    CTI_TRY_STATUS(make_directories(o.state_dir));
    auto lock = FileLock::acquire(o.state_dir + "/" + std::string(detail::kLockFile), o.lock_wait_seconds);
    if (!lock) return std::move(lock).error();
    run->lock.emplace(std::move(*lock));
    run->state_path = o.state_dir + "/" + std::string(detail::kStateFile);
    CTI_TRY_STATUS(state.load(run->state_path));
  }
  std::vector<Hold> holds;
  if (!o.state_dir.empty()) {
    auto read = detail::read_holds(o.state_dir + "/" + std::string(detail::kHoldsFile));
    if (!read) return std::move(read).error();
    holds = std::move(*read);
  }
  report.default_identity = o.identity_name.empty();
  report.identity_name = o.identity_name.empty() ? default_identity_name() : o.identity_name;
  const std::string identity_class = o.identity_name.empty() ? "system" : o.identity_class;
  if (!o.previous.empty()) CTI_TRY_STATUS(seed_from_previous(o, report.identity_name, state));

  // 2. Detections.
  CTI_TRY_STATUS(read_detections(o, set, diag));
  report.rows = set.rows;
  report.invalid = set.invalid;
  auto refuse = [&](std::uint64_t n) {
    return Error(ErrorCategory::data, std::to_string(n) + " invalid detection" + (n == 1 ? "" : "s") +
                                          "; nothing written (--skip-invalid writes the rest)");
  };
  if (set.invalid != 0 && !o.skip_invalid) return refuse(set.invalid);

  // 3. One confidence scale for the whole input.
  bool unit = o.scale == ConfidenceScale::unit;
  if (o.scale == ConfidenceScale::automatic)
    unit = std::all_of(set.records.begin(), set.records.end(), [](const Record& r) { return r.confidence_unit >= 0; });
  auto confidence_of = [&](const Record& r) -> int { return unit ? r.confidence_unit : r.confidence_percent; };

  // 4. One indicator per observable: the highest confidence wins.
  // Duplicates found with an open-addressing table keyed by a hash of
  // (type, value): one probe per row, string comparisons only on a hash
  // match. The kept rows are then read back in input order, so planning
  // walks the records and the value pool sequentially.
  auto same = [&](const Record& x, const Record& y) { return x.type == y.type && set.value(x) == set.value(y); };
  std::vector<bool> dropped(set.records.size());
  {
    std::size_t capacity = 16;
    while (capacity < set.records.size() + set.records.size() / 2) capacity *= 2;
    struct Slot {
      std::uint32_t index_plus_one = 0;  // 0: empty
      std::uint32_t check = 0;           // high hash bits
    };
    std::vector<Slot> table;
    table.reserve(capacity);
    advise_huge_pages(table.data(), capacity * sizeof(Slot));
    table.resize(capacity);
    std::vector<std::uint64_t> hashes(set.records.size());
    for (std::uint32_t i = 0; i < set.records.size(); ++i)
      hashes[i] = std::hash<std::string_view>{}(set.value(set.records[i])) * 0x9E3779B97F4A7C15ULL + set.records[i].type;
    for (std::uint32_t i = 0; i < set.records.size(); ++i) {
      // The table is probed at random: fetch the slot of a row a few ahead.
      if (i + 16 < hashes.size()) __builtin_prefetch(&table[hashes[i + 16] & (capacity - 1)]);
      const Record& cur = set.records[i];
      const std::uint64_t h = hashes[i];
      const auto check = static_cast<std::uint32_t>(h >> 32);
      std::size_t pos = h & (capacity - 1);
      for (;; pos = (pos + 1) & (capacity - 1)) {
        Slot& slot = table[pos];
        if (slot.index_plus_one == 0) {
          slot = Slot{i + 1, check};
          break;
        }
        if (slot.check != check || !same(set.records[slot.index_plus_one - 1], cur)) continue;
        const std::uint32_t kept = slot.index_plus_one - 1;
        ++report.duplicates;
        diag(Severity::info, set.where(cur) + ": " + quote(set.value(cur)) + " repeats " + set.where(set.records[kept]) +
                                 "; keeping the higher confidence");
        if (confidence_of(cur) > confidence_of(set.records[kept])) {
          dropped[kept] = true;
          slot.index_plus_one = i + 1;
        } else {
          dropped[i] = true;
        }
        break;
      }
    }
  }
  std::vector<std::uint32_t> unique;
  unique.reserve(set.records.size() - report.duplicates);
  for (std::uint32_t i = 0; i < set.records.size(); ++i)
    if (!dropped[i]) unique.push_back(i);

  // 5. Our identity: one id per name, kept in the state.
  IdentityEntry& identity = state.identities[report.identity_name];
  if (identity.id.empty()) {
    auto u = Uuid::v4();
    if (!u) return std::move(u).error();
    identity = IdentityEntry{"identity--" + u->to_string(), identity_class, now, now};
  } else if (identity.identity_class != identity_class) {
    identity.identity_class = identity_class;
    auto prev = Timestamp::parse(identity.modified);
    identity.modified = prev ? next_version_time(*prev, now_ts).to_string() : now;
  }

  // revoke(1)'s holds on our indicators. The state learns of the revocation
  // (so once the hold is lifted the pattern gets a new indicator), and a
  // held pattern is withheld: neither the old version, nor a newer one, nor
  // a new id.
  std::unordered_set<std::string_view> withheld;
  for (const Hold& h : holds) {
    if (h.identity_id != identity.id) continue;
    StateEntry* e = state.empty() ? nullptr : state.find(h.pattern, identity.id);
    if (e != nullptr && h.indicator_id == "indicator--" + e->id.to_string()) {
      e->revoked = true;
      e->modified = state.times.intern(h.modified);
    }
    if (!h.lifted) withheld.insert(h.pattern);
  }

  // 6. Plan every indicator against the state.
  const std::vector<std::string_view> base_types(o.indicator_types.begin(), o.indicator_types.end());
  // Labels per attribute set: the run's --label values, then the row's own.
  std::vector<std::vector<std::string_view>> labels_of(set.attributes.size());
  for (std::size_t i = 0; i < set.attributes.size(); ++i) {
    labels_of[i].assign(o.labels.begin(), o.labels.end());
    for (const auto& l : set.attributes[i].labels)
      if (std::find(labels_of[i].begin(), labels_of[i].end(), l) == labels_of[i].end()) labels_of[i].push_back(l);
  }
  auto tlp_of = [&](const Attributes& a) { return static_cast<Tlp>(a.tlp >= 0 ? a.tlp : static_cast<int>(o.tlp)); };
  std::string id_text, desc_buf;
  auto content_of = [&](const Planned& p, const std::string& pattern, std::string& id_buf) {
    const Record& r = set.records[p.record];
    const Attributes& a = set.attributes[r.attributes];
    id_buf = "indicator--";
    p.entry.id.append_to(id_buf);
    IndicatorContent c;
    c.id = id_buf;
    c.created_by_ref = identity.id;
    c.created = state.times[p.entry.created];
    c.name = set.value(r);
    c.description = a.description;
    if (c.description.empty()) {
      // STIX recommends both name and description; say what the value is.
      desc_buf = "Detected ";
      desc_buf += observable_type_description(static_cast<ObservableType>(r.type));
      desc_buf += ' ';
      desc_buf += set.value(r);
      c.description = desc_buf;
    }
    c.pattern = pattern;
    c.valid_from = state.times[p.entry.valid_from];
    c.valid_until = state.times[p.entry.valid_until];
    c.marking = tlp2_marking_id(tlp_of(a));
    c.indicator_types = &base_types;
    c.labels = &labels_of[r.attributes];
    c.confidence = confidence_of(r);
    return c;
  };
  const std::uint32_t now_index = state.times.intern(now);
  const std::uint32_t creator_index = state.creators.intern(identity.id);
  // STIX timestamps end with the year 9999.
  constexpr std::int64_t kLastStixSecond = 253402300799;  // 9999-12-31T23:59:59Z
  std::unordered_map<std::int64_t, std::optional<std::uint32_t>> until_from_now;  // lifetime -> now + lifetime
  auto now_plus = [&](std::int64_t lifetime) -> std::optional<std::uint32_t> {
    auto it = until_from_now.find(lifetime);
    if (it == until_from_now.end()) {
      const Timestamp t = now_ts.plus_seconds(lifetime);
      std::optional<std::uint32_t> index;
      if (t.unix_seconds() <= kLastStixSecond) index = state.times.intern(t.to_string());
      it = until_from_now.emplace(lifetime, index).first;
    }
    return it->second;
  };
  const bool keep_state = !run->state_path.empty();
  std::string pattern_buf;
  std::set<Tlp> markings_used;
  std::uint64_t plan_errors = 0;
  run->planned.reserve(unique.size());
  advise_huge_pages(run->planned.data(), unique.size() * sizeof(Planned));
  for (std::uint32_t idx : unique) {
    const Record& r = set.records[idx];
    const Attributes& a = set.attributes[r.attributes];
    const std::string& pattern = pattern_of(set, r, pattern_buf);
    if (!withheld.empty() && withheld.count(pattern) != 0) {
      ++report.withheld;
      diag(Severity::info, set.where(r) + ": " + quote(set.value(r)) +
                               ": withheld: revoke(1) revoked its indicator (revoke --undo lifts the hold)");
      continue;
    }
    const std::int64_t lifetime = lifetime_for(o, static_cast<ObservableType>(r.type));
    const StateEntry* known = state.empty() ? nullptr : state.find(pattern, identity.id);
    const StateEntry* prev = known != nullptr && !known->revoked ? known : nullptr;
    Planned p;
    p.record = idx;
    p.entry.creator = creator_index;
    if (prev != nullptr) {
      p.entry.id = prev->id;
      p.entry.created = prev->created;
    } else {
      p.fresh = true;
      p.entry.created = now_index;
    }
    p.entry.valid_from = !a.first_seen.empty() ? state.times.intern(a.first_seen) : prev != nullptr ? prev->valid_from : now_index;
    if (!a.valid_until.empty()) {
      p.entry.valid_until = state.times.intern(a.valid_until);
    } else if (!a.last_seen.empty()) {
      const Timestamp t = Timestamp::parse(a.last_seen)->plus_seconds(lifetime);
      if (t.unix_seconds() > kLastStixSecond) {
        ++plan_errors;
        diag(Severity::error, set.where(r) + ": " + quote(set.value(r)) + ": valid_until would fall after the year 9999");
        continue;
      }
      p.entry.valid_until = state.times.intern(t.to_string());
    } else if (prev != nullptr && state.times.time(prev->valid_until).unix_seconds() - now_ts.unix_seconds() >= lifetime / 2) {
      p.entry.valid_until = prev->valid_until;  // still detected, validity left: keep it
    } else if (auto until = now_plus(lifetime)) {
      // New, or still detected with less than half the lifetime left: renew.
      p.entry.valid_until = *until;
    } else {
      ++plan_errors;
      diag(Severity::error, set.where(r) + ": " + quote(set.value(r)) + ": valid_until would fall after the year 9999");
      continue;
    }
    if (!(state.times.time(p.entry.valid_from) < state.times.time(p.entry.valid_until))) {
      ++plan_errors;
      diag(Severity::error, set.where(r) + ": " + quote(set.value(r)) + ": valid_until " + state.times[p.entry.valid_until] +
                                " would not be later than valid_from " + state.times[p.entry.valid_from]);
      continue;
    }
    markings_used.insert(tlp_of(a));
    if (prev != nullptr) p.entry.digest = content_digest(content_of(p, pattern, id_text), state.digest_key);
    if (prev != nullptr && prev->digest == p.entry.digest) {
      p.entry.modified = prev->modified;
      ++report.unchanged;
    } else if (prev != nullptr) {
      p.entry.modified = state.times.intern(next_version_time(state.times.time(prev->modified), now_ts).to_string());
      ++report.versioned;
    } else {
      p.entry.modified = now_index;
      ++report.created;
    }
    // This run's entry replaces the known one (a revoked one is not
    // continued); only now, so a row skipped above keeps its entry.
    if (known != nullptr) state.supersede(known);
    run->planned.push_back(p);
  }
  if (plan_errors != 0) {
    report.invalid += plan_errors;
    if (!o.skip_invalid) return refuse(plan_errors);
  }
  // New indicators get random UUIDv4s drawn as one batch and handed out in
  // sorted order, so a run's new indicators are written in input order: the
  // id-ordered output then reads memory sequentially instead of at random.
  std::vector<Uuid> fresh_ids(report.created);
  for (Uuid& u : fresh_ids) {
    auto v4 = Uuid::v4();
    if (!v4) return std::move(v4).error();
    u = *v4;
  }
  std::sort(fresh_ids.begin(), fresh_ids.end());
  std::size_t next_fresh = 0;
  for (Planned& p : run->planned) {
    if (!p.fresh) continue;
    p.entry.id = fresh_ids[next_fresh++];
    if (keep_state)
      p.entry.digest = content_digest(content_of(p, pattern_of(set, set.records[p.record], pattern_buf), id_text), state.digest_key);
  }

  // 7. Output sorted by id: identity, indicators, marking definitions.
  auto& planned = run->planned;
  auto by_id = [](const Planned& a, const Planned& b) { return a.entry.id < b.entry.id; };
  if (!std::is_sorted(planned.begin(), planned.end(), by_id)) std::sort(planned.begin(), planned.end(), by_id);
  std::vector<json::Value> markings;
  for (Tlp t : markings_used) markings.push_back(tlp2_marking_object(t));
  std::sort(markings.begin(), markings.end(),
            [](const json::Value& a, const json::Value& b) { return *a.find_string("id") < *b.find_string("id"); });
  BundleIdDigest bundle_digest;
  bundle_digest.add(identity.id, identity.modified);
  for (const Planned& p : planned) {
    id_text = "indicator--";
    p.entry.id.append_to(id_text);
    bundle_digest.add(id_text, state.times[p.entry.modified]);
  }
  for (const auto& m : markings) bundle_digest.add(*m.find_string("id"), *m.find_string("created"));
  BundleWriter writer(out, o.framing, o.layout, bundle_digest.finish());
  CTI_TRY_STATUS(writer.add_serialized(identity_json(report.identity_name, identity)));
  for (std::size_t i = 0; i < planned.size(); ++i) {
    // Id order visits records at random: fetch the ones a few steps ahead so
    // their memory is in cache when their turn comes.
    if (i + 16 < planned.size()) __builtin_prefetch(&set.records[planned[i + 16].record]);
    if (i + 8 < planned.size()) {
      const Record& ahead = set.records[planned[i + 8].record];
      __builtin_prefetch(set.pool.data() + ahead.value_offset);
      __builtin_prefetch(&set.attributes[ahead.attributes]);
    }
    const Planned& p = planned[i];
    const std::string& pattern = pattern_of(set, set.records[p.record], pattern_buf);
    serialize_indicator(content_of(p, pattern, id_text), state.times[p.entry.modified], writer.begin_object());
    CTI_TRY_STATUS(writer.end_object());
  }
  for (const auto& m : markings) CTI_TRY_STATUS(writer.add(m));
  CTI_TRY_STATUS(writer.finish());
  return std::unique_ptr<Generation>(std::move(run));
}

}  // namespace ctishare::stix
