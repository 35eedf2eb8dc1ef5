// The vocabularies and enumerations of STIX 2.1 §10 as amended by Errata 01,
// and the relationship types the specification defines (§3.7, the per-object
// tables of §4 and §6, Appendix B).
//
// Source: the authoritative text, oasis-tcs/cti-stix2 spec/stix-v2.1.md
// ("STIX Version 2.1 Errata 01"). Where the text contradicts itself the
// value tables win over the summaries: §10.17's summary lists
// "AF_ISOCK_DGRAMNET" where the table (and every implementation) has
// SOCK_DGRAM; §10.3's value table lost the <tr> of "individual", which the
// summary lists. §10.7 names its vocabulary "hash-algorithm-ov" (not
// "hashing-algorithm-ov"); find() accepts both.
//
// Warning codes are the OASIS stix2-validator's (stix2validator/v21/enums.py
// CHECK_CODES, docs/best-practices.rst): 211-231, 241, 243-245. Every open
// vocabulary of §10 has one, so no code of our own (W510 up) is needed.
#include "stix/vocabulary.h"

#include "stix/schema.h"

#include <array>
#include <cstddef>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace ctishare::stix::vocab {

namespace {

constexpr Severity W = Severity::warning;
constexpr Check kNoCheck = {"", "", Severity::error, ""};

Vocabulary open_ov(std::string_view name, Check check, std::vector<std::string_view> values) {
  return Vocabulary{name, false, check, std::move(values)};
}

Vocabulary closed_enum(std::string_view name, std::vector<std::string_view> values) {
  return Vocabulary{name, true, kNoCheck, std::move(values)};
}

std::vector<Vocabulary> build_vocabularies() {
  std::vector<Vocabulary> v;
  v.reserve(32);

  // §10.1
  v.push_back(open_ov("account-type-ov",
                      {"W244", "account-type", W, "a user-account account_type outside account-type-ov"},
                      {"facebook", "ldap", "nis", "openid", "radius", "skype", "tacacs", "twitter", "unix",
                       "windows-local", "windows-domain"}));
  // §10.2
  v.push_back(open_ov("attack-motivation-ov",
                      {"W211", "attack-motivation", W,
                       "a primary_motivation, secondary_motivations or personal_motivations value outside "
                       "attack-motivation-ov"},
                      {"accidental", "coercion", "dominance", "ideology", "notoriety", "organizational-gain",
                       "personal-gain", "personal-satisfaction", "revenge", "unpredictable"}));
  // §10.3
  v.push_back(open_ov("attack-resource-level-ov",
                      {"W212", "attack-resource-level", W, "a resource_level outside attack-resource-level-ov"},
                      {"individual", "club", "contest", "team", "organization", "government"}));
  // §10.4
  v.push_back(closed_enum("encryption-algorithm-enum", {"AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated"}));
  // §10.5
  v.push_back(closed_enum("extension-type-enum",
                          {"new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension"}));
  // §10.6
  v.push_back(open_ov("grouping-context-ov",
                      {"W225", "grouping-context", W, "a grouping context outside grouping-context-ov"},
                      {"suspicious-activity", "malware-analysis", "unspecified"}));
  // §10.7. The check is also in the core table; the two entries must be
  // identical so that the merged table keeps one.
  v.push_back(open_ov("hash-algorithm-ov", {"W241", "hash-algo", W, "a hash name outside hashing-algorithm-ov"},
                      {"MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512", "SSDEEP", "TLSH"}));
  // §10.8
  v.push_back(open_ov("identity-class-ov", {"W213", "identity-class", W, "an identity_class outside identity-class-ov"},
                      {"individual", "group", "system", "organization", "class", "unknown"}));
  // §10.9 (Errata 01 adds rust)
  v.push_back(
      open_ov("implementation-language-ov",
              {"W226", "implementation-languages", W,
               "a malware implementation_languages value outside implementation-language-ov"},
              {"applescript", "bash",        "c",          "c++",          "c#",         "go",     "java", "javascript",
               "lua",         "objective-c", "perl",       "php",          "powershell", "python", "ruby", "rust",
               "scala",       "swift",       "typescript", "visual-basic", "x86-32",     "x86-64"}));
  // §10.10
  v.push_back(open_ov("indicator-type-ov",
                      {"W214", "indicator-types", W, "an indicator_types value outside indicator-type-ov"},
                      {"anomalous-activity", "anonymization", "benign", "compromised", "malicious-activity",
                       "attribution", "unknown"}));
  // §10.11 (Errata 01 adds legal)
  v.push_back(open_ov("industry-sector-ov",
                      {"W215", "industry-sector", W, "an identity sectors value outside industry-sector-ov"},
                      {"agriculture",
                       "aerospace",
                       "automotive",
                       "chemical",
                       "commercial",
                       "communications",
                       "construction",
                       "defense",
                       "education",
                       "energy",
                       "entertainment",
                       "financial-services",
                       "government",
                       "emergency-services",
                       "government-local",
                       "government-national",
                       "government-public-services",
                       "government-regional",
                       "healthcare",
                       "hospitality-leisure",
                       "infrastructure",
                       "dams",
                       "nuclear",
                       "water",
                       "insurance",
                       "legal",
                       "manufacturing",
                       "mining",
                       "non-profit",
                       "pharmaceuticals",
                       "retail",
                       "technology",
                       "telecommunications",
                       "transportation",
                       "utilities"}));
  // §10.12
  v.push_back(
      open_ov("infrastructure-type-ov",
              {"W227", "infrastructure-types", W, "an infrastructure_types value outside infrastructure-type-ov"},
              {"amplification", "anonymization", "botnet", "command-and-control", "control-system", "exfiltration",
               "firewall", "hosting-malware", "hosting-target-lists", "phishing", "reconnaissance", "routers-switches",
               "staging", "workstation", "unknown"}));
  // §10.13
  v.push_back(
      open_ov("malware-capabilities-ov",
              {"W228", "malware-capabilities", W, "a malware capabilities value outside malware-capabilities-ov"},
              {"accesses-remote-machines",
               "anti-debugging",
               "anti-disassembly",
               "anti-emulation",
               "anti-memory-forensics",
               "anti-sandbox",
               "anti-vm",
               "captures-input-peripherals",
               "captures-output-peripherals",
               "captures-system-state-data",
               "cleans-traces-of-infection",
               "commits-fraud",
               "communicates-with-c2",
               "compromises-data-availability",
               "compromises-data-integrity",
               "compromises-system-availability",
               "controls-local-machine",
               "degrades-security-software",
               "degrades-system-updates",
               "determines-c2-server",
               "emails-spam",
               "escalates-privileges",
               "evades-av",
               "exfiltrates-data",
               "fingerprints-host",
               "hides-artifacts",
               "hides-executing-code",
               "infects-files",
               "infects-remote-machines",
               "installs-other-components",
               "persists-after-system-reboot",
               "prevents-artifact-access",
               "prevents-artifact-deletion",
               "probes-network-environment",
               "self-modifies",
               "steals-authentication-credentials",
               "violates-system-operational-integrity"}));
  // §10.14
  v.push_back(open_ov("malware-result-ov",
                      {"W231", "malware-result", W, "a malware-analysis result outside malware-result-ov"},
                      {"malicious", "suspicious", "benign", "unknown"}));
  // §10.15
  v.push_back(open_ov("malware-type-ov", {"W216", "malware-types", W, "a malware_types value outside malware-type-ov"},
                      {"adware",
                       "backdoor",
                       "bot",
                       "bootkit",
                       "ddos",
                       "downloader",
                       "dropper",
                       "exploit-kit",
                       "keylogger",
                       "ransomware",
                       "remote-access-trojan",
                       "resource-exploitation",
                       "rogue-security-software",
                       "rootkit",
                       "screen-capture",
                       "spyware",
                       "trojan",
                       "unknown",
                       "virus",
                       "webshell",
                       "wiper",
                       "worm"}));
  // §10.16
  v.push_back(closed_enum("network-socket-address-family-enum", {"AF_UNSPEC", "AF_INET", "AF_IPX", "AF_APPLETALK",
                                                                 "AF_NETBIOS", "AF_INET6", "AF_IRDA", "AF_BTH"}));
  // §10.17 (the summary's "AF_ISOCK_DGRAMNET" is a typo for SOCK_DGRAM)
  v.push_back(
      closed_enum("network-socket-type-enum", {"SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET"}));
  // §10.18
  v.push_back(closed_enum("opinion-enum", {"strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"}));
  // §10.19
  v.push_back(open_ov("pattern-type-ov",
                      {"W245", "indicator-pattern-types", W, "an indicator pattern_type outside pattern-type-ov"},
                      {"stix", "pcre", "sigma", "snort", "suricata", "yara"}));
  // §10.20
  v.push_back(open_ov("processor-architecture-ov",
                      {"W230", "processor-architecture", W,
                       "a malware architecture_execution_envs value outside processor-architecture-ov"},
                      {"alpha", "arm", "ia-64", "mips", "powerpc", "sparc", "x86", "x86-64"}));
  // §10.21 (the five regions and their UN M49 sub-regions)
  v.push_back(open_ov("region-ov", {"W223", "region", W, "a location region outside region-ov"},
                      {"africa",
                       "eastern-africa",
                       "middle-africa",
                       "northern-africa",
                       "southern-africa",
                       "western-africa",
                       "americas",
                       "caribbean",
                       "central-america",
                       "latin-america-caribbean",
                       "northern-america",
                       "south-america",
                       "asia",
                       "central-asia",
                       "eastern-asia",
                       "southern-asia",
                       "south-eastern-asia",
                       "western-asia",
                       "europe",
                       "eastern-europe",
                       "northern-europe",
                       "southern-europe",
                       "western-europe",
                       "oceania",
                       "antarctica",
                       "australia-new-zealand",
                       "melanesia",
                       "micronesia",
                       "polynesia"}));
  // §10.22 (Errata 01 adds incident)
  v.push_back(open_ov("report-type-ov", {"W218", "report-types", W, "a report_types value outside report-type-ov"},
                      {"attack-pattern", "campaign", "identity", "incident", "indicator", "intrusion-set", "malware",
                       "observed-data", "threat-actor", "threat-report", "tool", "vulnerability"}));
  // §10.23 (Errata 01 adds private-sector)
  v.push_back(open_ov(
      "threat-actor-type-ov",
      {"W219", "threat-actor-types", W, "a threat_actor_types value outside threat-actor-type-ov"},
      {"activist", "competitor", "crime-syndicate", "criminal", "hacker", "insider-accidental", "insider-disgruntled",
       "nation-state", "private-sector", "sensationalist", "spy", "terrorist", "unknown"}));
  // §10.24
  v.push_back(open_ov("threat-actor-role-ov",
                      {"W220", "threat-actor-role", W, "a threat-actor roles value outside threat-actor-role-ov"},
                      {"agent", "director", "independent", "infrastructure-architect", "infrastructure-operator",
                       "malware-author", "sponsor"}));
  // §10.25
  v.push_back(open_ov("threat-actor-sophistication-ov",
                      {"W221", "threat-actor-sophistication", W,
                       "a threat-actor sophistication outside threat-actor-sophistication-ov"},
                      {"none", "minimal", "intermediate", "advanced", "expert", "innovator", "strategic"}));
  // §10.26
  v.push_back(open_ov("tool-type-ov", {"W222", "tool-types", W, "a tool_types value outside tool-type-ov"},
                      {"denial-of-service", "exploitation", "information-gathering", "network-capture",
                       "credential-exploitation", "remote-access", "vulnerability-scanning", "unknown"}));
  // §10.27
  v.push_back(closed_enum("windows-integrity-level-enum", {"low", "medium", "high", "system"}));
  // §10.28
  v.push_back(
      open_ov("windows-pebinary-type-ov",
              {"W243", "windows-pebinary-type", W, "a windows-pebinary-ext pe_type outside windows-pebinary-type-ov"},
              {"dll", "exe", "sys"}));
  // §10.29
  v.push_back(closed_enum(
      "windows-registry-datatype-enum",
      {"REG_NONE", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD", "REG_DWORD_BIG_ENDIAN",
       "REG_DWORD_LITTLE_ENDIAN", "REG_LINK", "REG_MULTI_SZ", "REG_RESOURCE_LIST", "REG_FULL_RESOURCE_DESCRIPTION",
       "REG_RESOURCE_REQUIREMENTS_LIST", "REG_QWORD", "REG_INVALID_TYPE"}));
  // §10.30
  v.push_back(closed_enum("windows-service-start-type-enum",
                          {"SERVICE_AUTO_START", "SERVICE_BOOT_START", "SERVICE_DEMAND_START", "SERVICE_DISABLED",
                           "SERVICE_SYSTEM_ALERT"}));
  // §10.31
  v.push_back(closed_enum("windows-service-type-enum", {"SERVICE_KERNEL_DRIVER", "SERVICE_FILE_SYSTEM_DRIVER",
                                                        "SERVICE_WIN32_OWN_PROCESS", "SERVICE_WIN32_SHARE_PROCESS"}));
  // §10.32
  v.push_back(closed_enum("windows-service-status-enum",
                          {"SERVICE_CONTINUE_PENDING", "SERVICE_PAUSE_PENDING", "SERVICE_PAUSED", "SERVICE_RUNNING",
                           "SERVICE_START_PENDING", "SERVICE_STOP_PENDING", "SERVICE_STOPPED"}));
  return v;
}

// Lookup structures over all(): name -> vocabulary, and one hash set of
// values per vocabulary (indexed as all() is).
struct Index {
  std::unordered_map<std::string_view, const Vocabulary*> by_name;
  std::vector<std::unordered_set<std::string_view>> values;
};

const Index& index() {
  static const Index idx = [] {
    Index i;
    const auto& vocabularies = all();
    i.by_name.reserve(vocabularies.size() + 1);
    i.values.reserve(vocabularies.size());
    for (const auto& vocabulary : vocabularies) {
      i.by_name.emplace(vocabulary.name, &vocabulary);
      i.values.emplace_back(vocabulary.values.begin(), vocabulary.values.end());
    }
    // The name the rest of the spec's ecosystem (and stix2-validator) tends to use.
    i.by_name.emplace("hashing-algorithm-ov", i.by_name.at("hash-algorithm-ov"));
    return i;
  }();
  return idx;
}

// --- Relationships ---

struct Triple {
  std::string_view source;
  std::string_view type;
  std::string_view target;
  bool operator==(const Triple&) const = default;
};

struct TripleHash {
  std::size_t operator()(const Triple& t) const noexcept {
    std::hash<std::string_view> h;
    std::size_t seed = h(t.source);
    seed ^= h(t.type) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
    seed ^= h(t.target) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
    return seed;
  }
};

// One row of a relationship table: a source, a type and its targets.
struct Row {
  std::string_view source;
  std::string_view type;
  std::vector<std::string_view> targets;
};


// The forward relationship tables of §4.x.2 and §6.x.2 (which agree with
// Appendix B as corrected by Errata 01).
const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      // §4.1.2 attack-pattern
      {"attack-pattern", "delivers", {"malware"}},
      {"attack-pattern", "targets", {"identity", "location", "vulnerability"}},
      {"attack-pattern", "uses", {"malware", "tool"}},
      // §4.2.2 campaign
      {"campaign", "attributed-to", {"intrusion-set", "threat-actor"}},
      {"campaign", "compromises", {"infrastructure"}},
      {"campaign", "originates-from", {"location"}},
      {"campaign", "targets", {"identity", "location", "vulnerability"}},
      {"campaign", "uses", {"attack-pattern", "infrastructure", "malware", "tool"}},
      // §4.3.2 course-of-action
      {"course-of-action", "investigates", {"indicator"}},
      {"course-of-action", "mitigates", {"attack-pattern", "indicator", "malware", "tool", "vulnerability"}},
      {"course-of-action", "remediates", {"malware", "vulnerability"}},
      // §4.5.2 identity
      {"identity", "located-at", {"location"}},
      // §4.7.2 indicator
      {"indicator",
       "indicates",
       {"attack-pattern", "campaign", "infrastructure", "intrusion-set", "malware", "threat-actor", "tool"}},
      {"indicator", "based-on", {"observed-data"}},
      // §4.8.2 infrastructure (consists-of any SCO is added below)
      {"infrastructure", "communicates-with", {"infrastructure", "ipv4-addr", "ipv6-addr", "domain-name", "url"}},
      {"infrastructure", "consists-of", {"infrastructure", "observed-data"}},
      {"infrastructure", "controls", {"infrastructure", "malware"}},
      {"infrastructure", "delivers", {"malware"}},
      {"infrastructure", "has", {"vulnerability"}},
      {"infrastructure", "hosts", {"tool", "malware"}},
      {"infrastructure", "located-at", {"location"}},
      {"infrastructure", "uses", {"infrastructure"}},
      // §4.9.2 intrusion-set
      {"intrusion-set", "attributed-to", {"threat-actor"}},
      {"intrusion-set", "compromises", {"infrastructure"}},
      {"intrusion-set", "hosts", {"infrastructure"}},
      {"intrusion-set", "owns", {"infrastructure"}},
      {"intrusion-set", "originates-from", {"location"}},
      {"intrusion-set", "targets", {"identity", "location", "vulnerability"}},
      {"intrusion-set", "uses", {"attack-pattern", "infrastructure", "malware", "tool"}},
      // §4.11.2 malware
      {"malware", "authored-by", {"threat-actor", "intrusion-set"}},
      {"malware", "beacons-to", {"infrastructure"}},
      {"malware", "exfiltrates-to", {"infrastructure"}},
      {"malware", "communicates-with", {"ipv4-addr", "ipv6-addr", "domain-name", "url"}},
      {"malware", "controls", {"malware"}},
      {"malware", "downloads", {"malware", "tool", "file"}},
      {"malware", "drops", {"malware", "tool", "file"}},
      {"malware", "exploits", {"vulnerability"}},
      {"malware", "originates-from", {"location"}},
      {"malware", "targets", {"identity", "infrastructure", "location", "vulnerability"}},
      {"malware", "uses", {"attack-pattern", "infrastructure", "malware", "tool"}},
      {"malware", "variant-of", {"malware"}},
      // §4.12.2 malware-analysis (Errata 01: av-analysis-of, not analysis-of)
      {"malware-analysis", "characterizes", {"malware"}},
      {"malware-analysis", "av-analysis-of", {"malware"}},
      {"malware-analysis", "static-analysis-of", {"malware"}},
      {"malware-analysis", "dynamic-analysis-of", {"malware"}},
      // §4.17.2 threat-actor
      {"threat-actor", "attributed-to", {"identity"}},
      {"threat-actor", "compromises", {"infrastructure"}},
      {"threat-actor", "hosts", {"infrastructure"}},
      {"threat-actor", "owns", {"infrastructure"}},
      {"threat-actor", "impersonates", {"identity"}},
      {"threat-actor", "located-at", {"location"}},
      {"threat-actor", "targets", {"identity", "location", "vulnerability"}},
      {"threat-actor", "uses", {"attack-pattern", "infrastructure", "malware", "tool"}},
      // §4.18.2 tool
      {"tool", "delivers", {"malware"}},
      {"tool", "drops", {"malware"}},
      {"tool", "has", {"vulnerability"}},
      {"tool", "targets", {"identity", "infrastructure", "location", "vulnerability"}},
      {"tool", "uses", {"infrastructure"}},
      // §6.4.2 domain-name
      {"domain-name", "resolves-to", {"domain-name", "ipv4-addr", "ipv6-addr"}},
      // §6.8.2 ipv4-addr, §6.9.2 ipv6-addr
      {"ipv4-addr", "resolves-to", {"mac-addr"}},
      {"ipv4-addr", "belongs-to", {"autonomous-system"}},
      {"ipv6-addr", "resolves-to", {"mac-addr"}},
      {"ipv6-addr", "belongs-to", {"autonomous-system"}},
  };
  return r;
}

const std::unordered_set<Triple, TripleHash>& relationships() {
  static const std::unordered_set<Triple, TripleHash> set = [] {
    std::unordered_set<Triple, TripleHash> s;
    s.reserve(160);
    for (const auto& row : rows()) {
      for (auto target : row.targets) s.insert({row.source, row.type, target});
    }
    // "<All STIX Cyber-observable Objects>" (§4.8): the SCO tables of §6.
    for (const auto& sco : schema::sco_types()) s.insert({"infrastructure", "consists-of", sco.name});
    return s;
  }();
  return set;
}

}  // namespace

const std::vector<Vocabulary>& all() {
  static const std::vector<Vocabulary> vocabularies = build_vocabularies();
  return vocabularies;
}

const Vocabulary* find(std::string_view name) {
  const auto& by_name = index().by_name;
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : it->second;
}

bool contains(const Vocabulary& vocabulary, std::string_view value) {
  const auto& vocabularies = all();
  const Index& idx = index();
  // The vocabularies of all() have a hash set; a copy made elsewhere is scanned.
  const Vocabulary* first = vocabularies.data();
  const Vocabulary* last = first + vocabularies.size();
  if (!std::less<const Vocabulary*>()(&vocabulary, first) && std::less<const Vocabulary*>()(&vocabulary, last)) {
    const auto& set = idx.values[static_cast<std::size_t>(&vocabulary - first)];
    return set.find(value) != set.end();
  }
  for (auto v : vocabulary.values) {
    if (v == value) return true;
  }
  return false;
}

bool is_spec_relationship(std::string_view source_type, std::string_view relationship_type,
                          std::string_view target_type) {
  // §3.7: common relationships of every SDO and SCO.
  if (relationship_type == "related-to") return true;
  if (relationship_type == "derived-from" || relationship_type == "duplicate-of") return source_type == target_type;
  const auto& set = relationships();
  return set.find(Triple{source_type, relationship_type, target_type}) != set.end();
}

}  // namespace ctishare::stix::vocab
