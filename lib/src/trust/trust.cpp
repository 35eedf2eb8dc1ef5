// trust-score's model: decay, gates, and the assessment objects.
#include "ctishare/trust.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/digest.h"
#include "ctishare/allowlist.h"
#include "ctishare/pattern_parser.h"
#include "ctishare/uuid.h"

namespace ctishare::trust {
namespace {

// When the assessment schema was defined: the fixed created/modified of the
// extension-definition, so every run publishes the same object.
constexpr std::string_view kSchemaTime = "2026-11-30T00:00:00.000Z";
constexpr std::string_view kExtensionId = "extension-definition--5c1f7e9a-3b2d-4c8e-9f1a-6d7e8b9c0a21";
constexpr std::string_view kAssessmentType = "x-ctishare-assessment";

// A version-4-form UUID whose "random" bits are a SHA-256 of `name`: the
// same name always gives the same id (so runs are reproducible), and SDO
// ids keep the UUIDv4 form STIX 2.1 asks for (§2.9), as the suite's
// content-derived bundle ids do.
Uuid derived_uuid(std::string_view name) {
  const auto digest = detail::sha256(std::string("ctishare trust-score\n") + std::string(name));
  std::array<std::uint8_t, 16> bytes{};
  std::copy_n(digest.begin(), 16, bytes.begin());
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return Uuid(bytes);
}

double round2(double v) { return std::round(v * 100.0) / 100.0; }

json::Value number(double v, int digits = 2) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, digits == 2 ? round2(v) : v);
  // Trailing zeros off, so 70.00 reads 70 and 0.80 reads 0.8.
  std::string s(buf);
  while (s.find('.') != std::string::npos && (s.back() == '0' || s.back() == '.')) {
    const bool dot = s.back() == '.';
    s.pop_back();
    if (dot) break;
  }
  return json::Value(json::Number{s});
}

Error property_error(const stix::Object& o, const std::string& what) {
  return Error(ErrorCategory::data, std::string(o.type()) + " " + quote(o.id()) + ": " + what);
}

}  // namespace

std::string_view action_name(Action action) {
  switch (action) {
    case Action::block:
      return "block";
    case Action::review:
      return "review";
    case Action::observe:
      return "observe";
  }
  return "observe";
}

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::url:
      return "url";
    case Kind::domain:
      return "domain";
    case Kind::ip:
      return "ip";
    case Kind::file:
      return "file";
    case Kind::email:
      return "email";
    case Kind::other:
      return "other";
  }
  return "other";
}

Kind kind_of_pattern(std::string_view text) {
  stix::pattern::ParsedPattern parsed;
  stix::pattern::ParseError error;
  if (!stix::pattern::parse(text, parsed, error) || parsed.tests.empty()) return Kind::other;
  const std::string_view type = parsed.text(parsed.tests.front().path.type);
  if (type == "url") return Kind::url;
  if (type == "domain-name") return Kind::domain;
  if (type == "ipv4-addr" || type == "ipv6-addr") return Kind::ip;
  if (type == "file" || type == "artifact") return Kind::file;
  if (type == "email-addr" || type == "email-message") return Kind::email;
  return Kind::other;
}

Policy Policy::defaults() {
  Policy p;
  p.decay = {{Kind::url, {7, 0.5}},    {Kind::domain, {30, 0.5}}, {Kind::ip, {3, 0.5}},
             {Kind::file, {180, 0.5}}, {Kind::email, {30, 0.5}},  {Kind::other, {90, 1}}};
  return p;
}

const Decay& Policy::decay_of(Kind kind) const {
  static const Decay fallback{90, 1};
  auto it = decay.find(kind);
  if (it != decay.end()) return it->second;
  it = decay.find(Kind::other);
  return it != decay.end() ? it->second : fallback;
}

std::string_view tier_of(double trust) {
  if (trust >= 1.0) return "government";
  if (trust >= 0.8) return "partner";
  if (trust >= 0.5) return "open-source";
  return "unverified";
}

Aging age(Kind kind, const Timestamp& valid_from, const Policy& policy, const Timestamp& now) {
  Aging g;
  // Age in days, from valid_from; an indicator not yet valid is not aged.
  g.seconds = static_cast<double>(now.unix_seconds() - valid_from.unix_seconds()) +
              (static_cast<double>(now.nanos()) - static_cast<double>(valid_from.nanos())) / 1e9;
  g.age_days = std::max(0.0, g.seconds / 86400.0);
  const Decay& d = policy.decay_of(kind);
  g.lifetime_days = d.lifetime_days;
  g.speed = d.speed;
  g.decay = g.age_days >= d.lifetime_days ? 0.0 : 1.0 - std::pow(g.age_days / d.lifetime_days, 1.0 / d.speed);
  g.decay = std::clamp(g.decay, 0.0, 1.0);
  return g;
}

double score(double confidence, double trust, double decay) {
  return round2(std::clamp(confidence * trust * decay, 0.0, 100.0));
}

Result<Evidence> evidence_of(const stix::Object& o) {
  if (o.type() != "indicator") return property_error(o, "not an indicator");
  Evidence e;
  e.indicator_id = std::string(o.id());
  e.indicator_version = std::string(o.version());
  auto pattern = o.get_string("pattern");
  if (!pattern) return property_error(o, "no pattern");
  e.pattern = std::string(*pattern);
  e.kind = kind_of_pattern(*pattern);
  if (const json::Value* c = o.get("confidence")) {
    auto n = c->as_int64();
    if (!n || *n < 0 || *n > 100) return property_error(o, "confidence is not an integer from 0 to 100");
    e.confidence = static_cast<double>(*n);
  }
  auto valid_from_text = o.get_string("valid_from");
  if (!valid_from_text) return property_error(o, "no valid_from");
  auto valid_from = Timestamp::parse(*valid_from_text);
  if (!valid_from) return property_error(o, "valid_from: " + valid_from.error().message());
  e.valid_from = *valid_from;
  if (auto until = o.get_string("valid_until")) {
    auto t = Timestamp::parse(*until);
    if (!t) return property_error(o, "valid_until: " + t.error().message());
    e.valid_until = *t;
  }
  e.revoked = o.revoked();
  return e;
}

Result<Assessment> assess(const stix::Object& o, const Source& source, const Policy& policy, const Timestamp& now,
                          const Allowlist* allowlist) {
  auto e = evidence_of(o);
  if (!e) return std::move(e).error();
  std::vector<std::string> refused;
  const auto observables = observables_of_pattern(e->pattern, &refused);
  return assess(*e, observables, refused, source, policy, now, allowlist);
}

Assessment assess(const Evidence& e, const std::vector<stix::Observable>& observables,
                  const std::vector<std::string>& refused, const Source& source, const Policy& policy,
                  const Timestamp& now, const Allowlist* allowlist) {
  Assessment a;
  a.indicator_id = e.indicator_id;
  a.indicator_version = e.indicator_version;
  a.source = source.name;
  a.trust = source.trust;
  a.tier = std::string(tier_of(source.trust));
  a.pattern = e.pattern;
  a.kind = e.kind;
  if (e.confidence) {
    a.confidence = *e.confidence;
  } else {
    a.confidence = policy.default_confidence;
    a.confidence_defaulted = true;
    a.reasons.push_back("no confidence given: " + std::string(number(policy.default_confidence).as_number().text) +
                        " assumed");
  }

  const Aging aging = age(a.kind, e.valid_from, policy, now);
  const double seconds = aging.seconds;
  a.age_days = aging.age_days;
  a.lifetime_days = aging.lifetime_days;
  a.speed = aging.speed;
  a.decay = aging.decay;
  a.score = score(a.confidence, a.trust, a.decay);

  // The gates. Each may lower the action; none raises it.
  bool gone = false;
  if (e.revoked) {
    a.reasons.push_back("revoked by its producer");
    gone = true;
  }
  if (e.valid_until && *e.valid_until <= now) {
    a.reasons.push_back("expired at valid_until " + e.valid_until->to_string());
    gone = true;
  }
  if (seconds < 0) a.reasons.push_back("valid_from is in the future");
  // Vetoes: what must never be blocked, whatever the score.
  for (const auto& why : refused) {
    a.reasons.push_back("never blocked: " + why);
    gone = true;
  }
  if (allowlist != nullptr) {
    for (const auto& observable : observables) {
      if (const AllowEntry* entry = allowlist->match(observable, now)) {
        a.reasons.push_back("allowlisted: " + entry->reason + " (" + std::string(allow_type_name(entry->type)) + " " +
                            entry->value + ", line " + std::to_string(entry->line) + " of " + allowlist->origin() +
                            ")");
        gone = true;
        break;
      }
    }
  }
  if (!gone && a.score < policy.floor) {
    a.reasons.push_back("decayed below the floor (" + std::string(number(policy.floor).as_number().text) + ")");
    gone = true;
  }
  if (gone) {
    a.action = Action::observe;
    return a;
  }
  Action by_score = a.score >= policy.block_threshold    ? Action::block
                    : a.score >= policy.review_threshold ? Action::review
                                                         : Action::observe;
  Action ceiling = Action::block;
  if (a.trust < 0.5) {
    ceiling = Action::observe;
    a.reasons.push_back("source trust below 0.5: observe only, never blocked automatically");
  } else if (a.trust < 0.8) {
    ceiling = Action::review;
    a.reasons.push_back("source trust below 0.8: needs human review before blocking");
  }
  a.action = static_cast<int>(by_score) > static_cast<int>(ceiling) ? by_score : ceiling;  // the stricter of the two
  if (a.action == by_score) {
    if (by_score == Action::block)
      a.reasons.push_back("score at or above the block threshold (" +
                          std::string(number(policy.block_threshold).as_number().text) + ")");
    else if (by_score == Action::review)
      a.reasons.push_back("score between the review and block thresholds");
    else
      a.reasons.push_back("score below the review threshold (" +
                          std::string(number(policy.review_threshold).as_number().text) + ")");
  }
  return a;
}

json::Value identity_object(const std::string& name, const std::string& identity_class) {
  const Uuid id = derived_uuid("identity\n" + name);
  json::Object o;
  o.emplace_back("type", "identity");
  o.emplace_back("spec_version", "2.1");
  o.emplace_back("id", "identity--" + id.to_string());
  o.emplace_back("created", std::string(kSchemaTime));
  o.emplace_back("modified", std::string(kSchemaTime));
  o.emplace_back("name", name);
  o.emplace_back("identity_class", identity_class);
  return json::Value(std::move(o));
}

std::string_view extension_definition_id() { return kExtensionId; }

json::Value extension_definition(const std::string& identity_id) {
  json::Object o;
  o.emplace_back("type", "extension-definition");
  o.emplace_back("spec_version", "2.1");
  o.emplace_back("id", std::string(kExtensionId));
  o.emplace_back("created_by_ref", identity_id);
  o.emplace_back("created", std::string(kSchemaTime));
  o.emplace_back("modified", std::string(kSchemaTime));
  o.emplace_back("name", "ctishare trust assessment");
  o.emplace_back("description",
                 "A receiving organisation's assessment of one indicator version: the source it came through, "
                 "that source's trust tier, the producer's confidence, the decayed score and the resulting "
                 "action (block, review, observe), with the reasons. The assessed indicator is not changed.");
  o.emplace_back("schema", "https://github.com/ctishare/ctishare/blob/main/man/trust-score.1");
  o.emplace_back("version", "1.0.0");
  o.emplace_back("extension_types", json::Array{json::Value("new-sdo")});
  return json::Value(std::move(o));
}

json::Value assessment_object(const Assessment& a, const std::string& identity_id, const Timestamp& now) {
  const Uuid id = derived_uuid("assessment\n" + a.source + "\n" + a.indicator_id + "\n" + a.indicator_version);
  // One id per (source, indicator version), so its created must never
  // change between runs (STIX 2.1 §3.6): it is the indicator version's own
  // time, and each run's assessment is a new version modified at `now`.
  std::string created(kSchemaTime);
  if (auto v = Timestamp::parse(a.indicator_version)) created = v->with_min_precision(3).to_string();
  std::string t = now.with_min_precision(3).to_string();
  if (auto c = Timestamp::parse(created); c && now < *c) t = created;
  json::Array reasons;
  for (const auto& r : a.reasons) reasons.emplace_back(r);
  json::Object ext;
  ext.emplace_back("extension_type", "new-sdo");
  json::Object extensions;
  extensions.emplace_back(std::string(kExtensionId), json::Value(std::move(ext)));
  json::Object o;
  o.emplace_back("type", std::string(kAssessmentType));
  o.emplace_back("spec_version", "2.1");
  o.emplace_back("id", std::string(kAssessmentType) + "--" + id.to_string());
  o.emplace_back("created_by_ref", identity_id);
  o.emplace_back("created", created);
  o.emplace_back("modified", t);
  o.emplace_back("indicator_ref", a.indicator_id);
  o.emplace_back("indicator_version", a.indicator_version);
  o.emplace_back("source", a.source);
  o.emplace_back("source_tier", a.tier);
  o.emplace_back("source_trust", number(a.trust));
  o.emplace_back("producer_confidence", number(a.confidence));
  o.emplace_back("observable_kind", std::string(kind_name(a.kind)));
  o.emplace_back("age_days", number(a.age_days));
  o.emplace_back("decay", number(a.decay, 4));
  o.emplace_back("score", number(a.score));
  o.emplace_back("decision", std::string(action_name(a.action)));  // "action" is reserved (STIX 2.1 §3.8)
  o.emplace_back("reasons", std::move(reasons));
  o.emplace_back("extensions", json::Value(std::move(extensions)));
  return json::Value(std::move(o));
}

std::string explain_line(const Assessment& a) {
  json::Array reasons;
  for (const auto& r : a.reasons) reasons.emplace_back(r);
  json::Object o;
  o.emplace_back("indicator", a.indicator_id);
  o.emplace_back("version", a.indicator_version);
  o.emplace_back("pattern", a.pattern);
  o.emplace_back("kind", std::string(kind_name(a.kind)));
  o.emplace_back("source", a.source);
  o.emplace_back("tier", a.tier);
  o.emplace_back("trust", number(a.trust));
  o.emplace_back("confidence", number(a.confidence));
  o.emplace_back("confidence_defaulted", a.confidence_defaulted);
  o.emplace_back("age_days", number(a.age_days));
  o.emplace_back("lifetime_days", number(a.lifetime_days));
  o.emplace_back("speed", number(a.speed));
  o.emplace_back("decay", number(a.decay, 4));
  o.emplace_back("score", number(a.score));
  o.emplace_back("action", std::string(action_name(a.action)));
  o.emplace_back("reasons", std::move(reasons));
  return json::to_string(json::Value(std::move(o)));
}

}  // namespace ctishare::trust
