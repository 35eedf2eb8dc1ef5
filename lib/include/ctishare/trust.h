// trust-score's model: one decision per indicator — block, review or
// observe — from the producer's confidence, the trust of the channel the
// indicator came through, and its age, with hard gates the arithmetic can
// never pass.
//
//   score = confidence × trust × (1 − (age / lifetime)^(1 / speed))   clamped to [0, 100]
//
// (MISP's polynomial decay, with base = confidence × trust; age runs from
// valid_from, lifetime and speed depend on what the pattern observes.)
// Gates, applied after the arithmetic:
//   revoked, past valid_until, or decayed below the floor → observe;
//   allowlisted, or naming a value that can never be blocked → observe;
//   trust < 0.5 → observe at most (never a blocklist);
//   0.5 ≤ trust < 0.8 → review at most (a human decides);
//   block only when trust ≥ 0.8 and score ≥ the block threshold;
//   otherwise review when score ≥ the review threshold, else observe.
//
// The decision is carried by an assessment object of our own, a new SDO
// type ("x-ctishare-assessment", its action in "decision", since "action"
// is a reserved property name) defined by an extension-definition we
// publish, created by our identity and pointing at the indicator's id and
// version. The partner's indicator itself is never changed: a changed
// object with the same modified would be invalid STIX.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctishare/json.h"
#include "ctishare/object.h"
#include "ctishare/observable.h"
#include "ctishare/result.h"
#include "ctishare/time.h"

namespace ctishare::trust {

enum class Action { block, review, observe };
std::string_view action_name(Action action);  // "block", "review", "observe"

// What an indicator's pattern observes, for its decay model.
enum class Kind { url, domain, ip, file, email, other };
std::string_view kind_name(Kind kind);  // "url", "domain", "ip", "file", "email", "other"

// The kind of the first comparison of a STIX pattern ("[url:value = …]" →
// url); other when the pattern does not parse or observes something else.
Kind kind_of_pattern(std::string_view pattern);

// How fast a kind of indicator ages: lifetime in days, speed as MISP's
// decay_speed (above 1: falls fast, then flattens).
struct Decay {
  double lifetime_days = 30;
  double speed = 2;
};

struct Policy {
  double block_threshold = 70;     // 0-100
  double review_threshold = 30;    // 0-100
  double floor = 5;                // below it an indicator has decayed away
  double default_confidence = 50;  // when the producer gave none (OpenCTI's default)
  std::map<Kind, Decay> decay;     // see defaults()
  // The documented defaults: phishing URLs live days (7 d), dedicated
  // phishing domains weeks (30 d), IPs fastest (3 d: shared hosting), file
  // hashes months (180 d), e-mail addresses 30 d, all at speed 0.5 (the
  // score holds while the indicator is fresh and falls towards the end of
  // its life: a block threshold of 70 is reachable only in that first
  // stretch); anything else 90 d at speed 1 (linear).
  static Policy defaults();
  const Decay& decay_of(Kind kind) const;
};

// The channel an indicator came through: a partner or a configured source.
struct Source {
  std::string name;
  double trust = 0.3;
};

// The tier a trust level stands for: "government" (1.0), "partner" (0.8 and
// up), "open-source" (0.5 and up), "unverified".
std::string_view tier_of(double trust);

// The computation for one indicator, every component kept for --explain.
struct Assessment {
  std::string indicator_id, indicator_version, pattern;
  std::string source, tier;
  Kind kind = Kind::other;
  double trust = 0;
  double confidence = 0;  // the producer's, or the policy default
  bool confidence_defaulted = false;
  double age_days = 0;  // from valid_from to now (0 when in the future)
  double lifetime_days = 0, speed = 0;
  double decay = 1;  // the factor, 0..1
  double score = 0;  // 0..100, rounded to 0.01
  Action action = Action::observe;
  std::vector<std::string> reasons;  // why the action is what it is, in order
};

class Allowlist;

// What the score needs from one indicator version, taken from the object
// once (feed-merge stores it and re-scores it on every run).
struct Evidence {
  std::string indicator_id, indicator_version, pattern;
  Kind kind = Kind::other;
  std::optional<double> confidence;  // the producer's, 0-100; none when not given
  Timestamp valid_from;
  std::optional<Timestamp> valid_until;
  bool revoked = false;
};

// The age part of the model: seconds since valid_from (negative when it is
// in the future), days (never negative), the kind's decay and the factor.
struct Aging {
  double seconds = 0, age_days = 0, lifetime_days = 0, speed = 0, decay = 1;
};
Aging age(Kind kind, const Timestamp& valid_from, const Policy& policy, const Timestamp& now);
// confidence × trust × decay, clamped to 0-100 and rounded to 0.01.
double score(double confidence, double trust, double decay);

// Takes the evidence from an indicator. Errors (data) as assess().
Result<Evidence> evidence_of(const stix::Object& indicator);

// The arithmetic and the gates for evidence already taken (see assess);
// `observables` are the values the pattern names (observables_of_pattern)
// and `refused` the values it names that can never be blocked.
Assessment assess(const Evidence& evidence, const std::vector<stix::Observable>& observables,
                  const std::vector<std::string>& refused, const Source& source, const Policy& policy,
                  const Timestamp& now, const Allowlist* allowlist = nullptr);

// Assesses one indicator; with an allowlist, an indicator any of whose
// values it covers is observed only, and so is one naming a value that can
// never be blocked (a public suffix such as "co.uk", an overlong or unsafe
// value). Errors (data): the object is not an indicator,
// or a property the score needs is unusable (confidence not an integer
// 0-100, valid_from not a timestamp); the message names the property.
Result<Assessment> assess(const stix::Object& indicator, const Source& source, const Policy& policy,
                          const Timestamp& now, const Allowlist* allowlist = nullptr);

// Our identity as the creator of assessments: id derived from the name (so
// the same name is always the same identity), fixed created/modified.
json::Value identity_object(const std::string& name, const std::string& identity_class);

// The id of the extension-definition that defines our assessment SDO.
std::string_view extension_definition_id();
// That extension-definition, created by `identity_id`.
json::Value extension_definition(const std::string& identity_id);

// The assessment object for `a`, created by `identity_id` at `now`. Its id
// is derived from (source, indicator id, indicator version) and its created
// is the indicator version's time, so assessing the same indicator version
// from the same source again yields a new version (modified = now) of the
// same object.
json::Value assessment_object(const Assessment& a, const std::string& identity_id, const Timestamp& now);

// One line of --explain: the assessment as a compact JSON object.
std::string explain_line(const Assessment& a);

}  // namespace ctishare::trust
