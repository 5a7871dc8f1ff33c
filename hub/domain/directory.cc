#include "hub/domain/directory.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "hub/domain/identifiers.h"

namespace accord::domain {
namespace {

constexpr int kMaxAge = 25;
constexpr int kMaxCapacity = 100000;
constexpr absl::Duration kMaxWait = absl::Hours(24 * 730);
constexpr size_t kMaxContacts = 20;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsLetter(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool HasControl(absl::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// Free text that may span lines: tabs and line breaks allowed, other control characters not.
bool HasControlExceptLines(absl::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\n' && c != '\r' && c != '\t') || u == 0x7f;
  });
}

bool IsBlank(absl::string_view text) { return absl::StripAsciiWhitespace(text).empty(); }

absl::Status ValidateName(absl::string_view value, absl::string_view field, bool required) {
  if (value.empty()) return required ? Invalid(field, "is required") : absl::OkStatus();
  if (value.size() > 200) return Invalid(field, "must be at most 200 characters");
  if (IsBlank(value)) return Invalid(field, "must not be blank");
  if (HasControl(value)) return Invalid(field, "must not contain control characters");
  return absl::OkStatus();
}

absl::Status ValidateLongText(absl::string_view value, absl::string_view field, size_t max, bool required) {
  if (value.empty()) return required ? Invalid(field, "is required") : absl::OkStatus();
  if (value.size() > max) return Invalid(field, absl::StrCat("must be at most ", max, " characters"));
  if (required && IsBlank(value)) return Invalid(field, "must not be blank");
  if (HasControlExceptLines(value)) return Invalid(field, "must not contain control characters");
  return absl::OkStatus();
}

// An absolute http(s) URL without spaces; optional.
absl::Status ValidateUrl(absl::string_view url, absl::string_view field) {
  if (url.empty()) return absl::OkStatus();
  if (url.size() > 2000) return Invalid(field, "must be at most 2000 characters");
  absl::string_view rest;
  if (absl::StartsWithIgnoreCase(url, "https://")) {
    rest = url.substr(8);
  } else if (absl::StartsWithIgnoreCase(url, "http://")) {
    rest = url.substr(7);
  } else {
    return Invalid(field, "must be an http:// or https:// URL");
  }
  if (rest.empty() || rest.front() == '/') return Invalid(field, "must name a host");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return Invalid(field, "must not contain spaces or control characters");
  }
  return absl::OkStatus();
}

// local@domain.tld: one '@', both sides non-empty, a dot in the domain, no spaces; optional.
absl::Status ValidateEmail(absl::string_view email, absl::string_view field) {
  if (email.empty()) return absl::OkStatus();
  if (email.size() > 254) return Invalid(field, "must be at most 254 characters");
  size_t at = email.find('@');
  bool ok = at != absl::string_view::npos && at > 0 && email.find('@', at + 1) == absl::string_view::npos;
  if (ok) {
    absl::string_view domain = email.substr(at + 1);
    size_t dot = domain.rfind('.');
    ok = dot != absl::string_view::npos && dot > 0 && dot + 1 < domain.size();
  }
  for (char c : email) ok = ok && static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
  if (!ok) return Invalid(field, "must be an email address such as referrals@example.org");
  return absl::OkStatus();
}

// Digits with optional spaces, '+' first, '-', '(' and ')': 6-15 digits; optional.
absl::Status ValidatePhone(absl::string_view phone, absl::string_view field) {
  if (phone.empty()) return absl::OkStatus();
  int digits = 0;
  for (size_t i = 0; i < phone.size(); ++i) {
    char c = phone[i];
    if (IsDigit(c)) {
      ++digits;
    } else if (!(c == ' ' || c == '-' || c == '(' || c == ')' || (c == '+' && i == 0))) {
      return Invalid(field, "only digits, spaces, '-', '(', ')' and a leading '+' are allowed");
    }
  }
  if (digits < 6 || digits > 15) return Invalid(field, "must have 6-15 digits");
  return absl::OkStatus();
}

// A / 9 shape of an outward code: A9, A99, AA9, AA99, A9A or AA9A.
bool IsOutwardCode(absl::string_view code) {
  std::string shape;
  for (char c : code) {
    if (IsDigit(c)) {
      shape.push_back('9');
    } else if (IsLetter(c)) {
      shape.push_back('A');
    } else {
      return false;
    }
  }
  return shape == "A9" || shape == "A99" || shape == "AA9" || shape == "AA99" || shape == "A9A" || shape == "AA9A";
}

absl::string_view LeadingLetters(absl::string_view outward) {
  size_t n = 0;
  while (n < outward.size() && IsLetter(outward[n])) ++n;
  return outward.substr(0, n);
}

// "W1" covers "W1A": a district of one letter-or-two and one digit covers its lettered
// sub-districts.
bool OutwardCovers(absl::string_view prefix_outward, absl::string_view outward) {
  if (prefix_outward == outward) return true;
  return outward.size() == prefix_outward.size() + 1 && absl::StartsWith(outward, prefix_outward) &&
         IsDigit(prefix_outward.back()) && IsLetter(outward.back());
}

template <typename List>
bool Contains(const List& list, const typename List::value_type& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

int HighestLevel(const std::vector<Need>& needs) {
  int level = 0;
  for (const Need& need : needs) level = std::max(level, static_cast<int>(need.level));
  return level;
}

int EffectiveMinimumLevel(const Eligibility& e) {
  return e.minimum_level == ::accord::v1::LEVEL_OF_NEED_UNSPECIFIED ? 1 : static_cast<int>(e.minimum_level);
}

std::string LevelText(int level) {
  return absl::StrCat(level, " (", LevelOfNeedName(static_cast<LevelOfNeed>(level)), ")");
}

FitReason Reason(Criterion criterion, FitCode code, bool met, std::string text) {
  return FitReason{criterion, code, met, std::move(text)};
}

// Ranking key: most needs addressed, shortest wait, most places, id.
bool RankedBefore(const ServiceMatch& a, const Service& sa, const ServiceMatch& b, const Service& sb) {
  auto key = [](const ServiceMatch& m, const Service& s) {
    return std::make_tuple(-static_cast<long>(m.needs_addressed.size()), s.availability.waiting_time,
                           -static_cast<long>(s.availability.capacity));
  };
  auto ka = key(a, sa);
  auto kb = key(b, sb);
  if (ka != kb) return ka < kb;
  if (a.service_id != b.service_id) return a.service_id < b.service_id;
  return a.candidate_index < b.candidate_index;
}

}  // namespace

absl::string_view NeedTypeName(NeedType type) {
  switch (type) {
    case ::accord::v1::NEED_TYPE_UNSPECIFIED: return "UNSPECIFIED";
    case ::accord::v1::NEED_TYPE_ANXIETY: return "ANXIETY";
    case ::accord::v1::NEED_TYPE_ANGER: return "ANGER";
    case ::accord::v1::NEED_TYPE_LOW_MOOD: return "LOW_MOOD";
    case ::accord::v1::NEED_TYPE_SELF_HARM: return "SELF_HARM";
    case ::accord::v1::NEED_TYPE_AUTISM: return "AUTISM";
    case ::accord::v1::NEED_TYPE_ADHD: return "ADHD";
    case ::accord::v1::NEED_TYPE_ATTACHMENT: return "ATTACHMENT";
    case ::accord::v1::NEED_TYPE_FAMILY_CONFLICT: return "FAMILY_CONFLICT";
    case ::accord::v1::NEED_TYPE_SCHOOL_ATTENDANCE: return "SCHOOL_ATTENDANCE";
    case ::accord::v1::NEED_TYPE_SOCIAL_ISOLATION: return "SOCIAL_ISOLATION";
    case ::accord::v1::NEED_TYPE_BEREAVEMENT: return "BEREAVEMENT";
    case ::accord::v1::NEED_TYPE_TRAUMA: return "TRAUMA";
    case ::accord::v1::NEED_TYPE_EATING_DIFFICULTIES: return "EATING_DIFFICULTIES";
    case ::accord::v1::NEED_TYPE_BULLYING: return "BULLYING";
    case ::accord::v1::NEED_TYPE_BEHAVIOUR: return "BEHAVIOUR";
    case ::accord::v1::NEED_TYPE_SPEECH_LANGUAGE_COMMUNICATION: return "SPEECH_LANGUAGE_COMMUNICATION";
    case ::accord::v1::NEED_TYPE_SUBSTANCE_MISUSE: return "SUBSTANCE_MISUSE";
    case ::accord::v1::NEED_TYPE_DOMESTIC_ABUSE: return "DOMESTIC_ABUSE";
    case ::accord::v1::NEED_TYPE_YOUNG_CARER: return "YOUNG_CARER";
    case ::accord::v1::NEED_TYPE_PARENTING_SUPPORT: return "PARENTING_SUPPORT";
    case ::accord::v1::NEED_TYPE_EXPLOITATION: return "EXPLOITATION";
    case ::accord::v1::NEED_TYPE_SLEEP: return "SLEEP";
    default: break;
  }
  return "UNKNOWN";
}

absl::string_view LevelOfNeedName(LevelOfNeed level) {
  switch (level) {
    case ::accord::v1::LEVEL_OF_NEED_UNSPECIFIED: return "UNSPECIFIED";
    case ::accord::v1::LEVEL_OF_NEED_UNIVERSAL: return "UNIVERSAL";
    case ::accord::v1::LEVEL_OF_NEED_ADDITIONAL: return "ADDITIONAL";
    case ::accord::v1::LEVEL_OF_NEED_TARGETED: return "TARGETED";
    case ::accord::v1::LEVEL_OF_NEED_SPECIALIST: return "SPECIALIST";
    default: break;
  }
  return "UNKNOWN";
}

absl::Status ValidateNeeds(const std::vector<Need>& needs, absl::string_view field) {
  if (needs.empty()) return Invalid(field, "at least one need is required");
  std::set<int> seen;
  for (size_t i = 0; i < needs.size(); ++i) {
    const Need& need = needs[i];
    std::string path = absl::StrCat(field, "[", i, "]");
    int type = static_cast<int>(need.type);
    if (type == 0 || !::accord::v1::NeedType_IsValid(type)) {
      return Invalid(absl::StrCat(path, ".type"), absl::StrCat("unknown need type ", type));
    }
    int level = static_cast<int>(need.level);
    if (level < 1 || level > 4) {
      return Invalid(absl::StrCat(path, ".level"), "must be 1-4 (UNIVERSAL, ADDITIONAL, TARGETED, SPECIALIST)");
    }
    if (!seen.insert(type).second) {
      return Invalid(absl::StrCat(path, ".type"), absl::StrCat("repeated need type ", NeedTypeName(need.type)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateServiceId(absl::string_view id, absl::string_view field) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || IsDigit(c); };
  if (id.empty() || id.size() > 64) return Invalid(field, "must be 1-64 characters");
  for (char c : id) {
    if (!alnum(c) && c != '-') return Invalid(field, "only lower-case letters, digits and '-' are allowed");
  }
  if (!alnum(id.front()) || !alnum(id.back())) return Invalid(field, "must start and end with a letter or digit");
  return absl::OkStatus();
}

std::string ServiceName(absl::string_view id) { return absl::StrCat("services/", id); }

absl::StatusOr<std::string> ParseServiceName(absl::string_view name, absl::string_view field) {
  constexpr absl::string_view kPrefix = "services/";
  if (!absl::StartsWith(name, kPrefix) || !ValidateServiceId(name.substr(kPrefix.size())).ok()) {
    return Invalid(field, "must look like \"services/{service_id}\"");
  }
  return std::string(name.substr(kPrefix.size()));
}

absl::StatusOr<std::string> NormalizePostcodePrefix(absl::string_view prefix, absl::string_view field) {
  const absl::Status bad = Invalid(
      field, "must be a postcode area (LS), district (LS6), sector (LS6 2) or full postcode (LS6 2AB)");
  // Upper case, words split on whitespace.
  std::vector<std::string> words;
  std::string word;
  for (char c : prefix) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      word.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
    } else {
      return bad;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  if (words.empty()) return Invalid(field, "is required");

  // An outward code, a space and one digit is a sector; with three characters, a full postcode.
  if (words.size() == 2 && IsOutwardCode(words[0])) {
    const std::string& inward = words[1];
    if (inward.size() == 1 && IsDigit(inward[0])) return absl::StrCat(words[0], " ", inward);
    if (inward.size() == 3) {
      absl::StatusOr<std::string> full = ValidatePostcode(absl::StrCat(words[0], inward), field);
      if (full.ok()) return full;
    }
  }
  // Otherwise the spaces carry no meaning: an area, a district or a full postcode.
  std::string w;
  for (const std::string& part : words) w += part;
  if (w.size() <= 2 && std::all_of(w.begin(), w.end(), IsLetter)) return w;
  if (IsOutwardCode(w)) return w;
  if (w.size() >= 5) {
    absl::StatusOr<std::string> full = ValidatePostcode(w, field);
    if (full.ok()) return full;
  }
  return bad;
}

bool PostcodeInPrefix(absl::string_view postcode, absl::string_view prefix) {
  size_t space = postcode.find(' ');
  if (space == absl::string_view::npos || prefix.empty()) return false;
  absl::string_view outward = postcode.substr(0, space);
  absl::string_view inward = postcode.substr(space + 1);

  size_t prefix_space = prefix.find(' ');
  if (prefix_space != absl::string_view::npos) {
    absl::string_view p_outward = prefix.substr(0, prefix_space);
    absl::string_view p_inward = prefix.substr(prefix_space + 1);
    if (p_outward != outward) return false;
    return absl::StartsWith(inward, p_inward);  // sector (one digit) or the whole inward code
  }
  if (std::all_of(prefix.begin(), prefix.end(), IsLetter)) return LeadingLetters(outward) == prefix;
  return OutwardCovers(prefix, outward);
}

absl::StatusOr<std::string> NormalizeLocalAuthority(absl::string_view code, absl::string_view field) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(code));
  if (upper.empty()) return Invalid(field, "is required");
  bool ok = upper.size() == 9 && (upper[0] == 'E' || upper[0] == 'W' || upper[0] == 'S' || upper[0] == 'N') &&
            std::all_of(upper.begin() + 1, upper.end(), IsDigit);
  if (!ok) return Invalid(field, "must be an ONS GSS local authority code such as E08000035");
  return upper;
}

absl::Status ValidateAvailability(const Availability& a, absl::string_view field) {
  if (a.capacity < 0 || a.capacity > kMaxCapacity) {
    return Invalid(absl::StrCat(field, ".capacity"), absl::StrCat("must be 0-", kMaxCapacity));
  }
  if (a.waiting_time < absl::ZeroDuration() || a.waiting_time > kMaxWait) {
    return Invalid(absl::StrCat(field, ".waiting_time"), "must be 0-730 days");
  }
  return absl::OkStatus();
}

absl::StatusOr<Service> ValidateService(const Service& in) {
  Service s = in;
  if (auto st = ValidateName(s.display_name, "service.display_name", true); !st.ok()) return st;
  if (auto st = ValidateLongText(s.description, "service.description", 5000, true); !st.ok()) return st;
  if (auto st = ValidateUrl(s.url, "service.url"); !st.ok()) return st;
  if (auto st = ValidateEmail(s.email, "service.email"); !st.ok()) return st;

  const Organization& o = s.organization;
  if (auto st = ValidateName(o.display_name, "service.organization.display_name", false); !st.ok()) return st;
  if (auto st = ValidateLongText(o.description, "service.organization.description", 5000, false); !st.ok()) return st;
  if (auto st = ValidateUrl(o.url, "service.organization.url"); !st.ok()) return st;
  if (auto st = ValidateEmail(o.email, "service.organization.email"); !st.ok()) return st;

  const Eligibility& e = s.eligibility;
  if (e.minimum_age < 0 || e.minimum_age > kMaxAge) {
    return Invalid("service.eligibility.minimum_age", "must be 0-25");
  }
  if (!e.maximum_age.has_value()) return Invalid("service.eligibility.maximum_age", "is required");
  if (*e.maximum_age < 0 || *e.maximum_age > kMaxAge) {
    return Invalid("service.eligibility.maximum_age", "must be 0-25");
  }
  if (*e.maximum_age < e.minimum_age) {
    return Invalid("service.eligibility.maximum_age", "must be at least minimum_age");
  }
  if (e.need_types.empty()) return Invalid("service.eligibility.need_types", "at least one need type is required");
  std::set<int> seen_types;
  for (size_t i = 0; i < e.need_types.size(); ++i) {
    std::string path = absl::StrCat("service.eligibility.need_types[", i, "]");
    int v = static_cast<int>(e.need_types[i]);
    if (v == 0 || !::accord::v1::NeedType_IsValid(v)) return Invalid(path, absl::StrCat("unknown need type ", v));
    if (!seen_types.insert(v).second) return Invalid(path, "repeated value");
  }
  int max_level = static_cast<int>(e.maximum_level);
  if (max_level < 1 || max_level > 4) {
    return Invalid("service.eligibility.maximum_level_of_need", "is required: 1-4 (UNIVERSAL .. SPECIALIST)");
  }
  int min_level = static_cast<int>(e.minimum_level);
  if (min_level < 0 || min_level > 4) {
    return Invalid("service.eligibility.minimum_level_of_need", "must be 1-4 (UNIVERSAL .. SPECIALIST)");
  }
  if (min_level > max_level) {
    return Invalid("service.eligibility.minimum_level_of_need", "must not be above maximum_level_of_need");
  }
  if (auto st = ValidateLongText(e.description, "service.eligibility.description", 2000, false); !st.ok()) return st;

  if (s.nationwide && !s.areas.empty()) {
    return Invalid("service.service_areas", "must be empty for a nationwide service");
  }
  if (!s.nationwide && s.areas.empty()) {
    return Invalid("service.service_areas", "at least one service area is required (or nationwide)");
  }
  for (size_t i = 0; i < s.areas.size(); ++i) {
    ServiceArea& area = s.areas[i];
    std::string path = absl::StrCat("service.service_areas[", i, "]");
    if (auto st = ValidateLongText(area.description, absl::StrCat(path, ".description"), 2000, false); !st.ok()) {
      return st;
    }
    if (auto st = ValidateUrl(area.uri, absl::StrCat(path, ".uri")); !st.ok()) return st;
    if (area.postcode_prefixes.empty() && area.local_authorities.empty()) {
      return Invalid(path, "at least one postcode prefix or local authority is required");
    }
    std::set<std::string> seen;
    for (size_t j = 0; j < area.postcode_prefixes.size(); ++j) {
      std::string p = absl::StrCat(path, ".postcode_prefixes[", j, "]");
      absl::StatusOr<std::string> prefix = NormalizePostcodePrefix(area.postcode_prefixes[j], p);
      if (!prefix.ok()) return prefix.status();
      if (!seen.insert(*prefix).second) return Invalid(p, "repeated value");
      area.postcode_prefixes[j] = *std::move(prefix);
    }
    seen.clear();
    for (size_t j = 0; j < area.local_authorities.size(); ++j) {
      std::string p = absl::StrCat(path, ".local_authorities[", j, "]");
      absl::StatusOr<std::string> code = NormalizeLocalAuthority(area.local_authorities[j], p);
      if (!code.ok()) return code.status();
      if (!seen.insert(*code).second) return Invalid(p, "repeated value");
      area.local_authorities[j] = *std::move(code);
    }
  }

  if (s.contacts.size() > kMaxContacts) return Invalid("service.contacts", "at most 20 contacts");
  for (size_t i = 0; i < s.contacts.size(); ++i) {
    const Contact& c = s.contacts[i];
    std::string path = absl::StrCat("service.contacts[", i, "]");
    if (c.name.empty() && c.title.empty()) return Invalid(path, "a name or a title is required");
    if (auto st = ValidateName(c.name, absl::StrCat(path, ".name"), false); !st.ok()) return st;
    if (auto st = ValidateName(c.title, absl::StrCat(path, ".title"), false); !st.ok()) return st;
    if (auto st = ValidateEmail(c.email, absl::StrCat(path, ".email")); !st.ok()) return st;
    if (auto st = ValidatePhone(c.phone, absl::StrCat(path, ".phone")); !st.ok()) return st;
  }
  if (auto st = ValidateAvailability(s.availability, "service.availability"); !st.ok()) return st;
  return s;
}

absl::StatusOr<SearchQuery> ValidateSearchQuery(const SearchQuery& in) {
  SearchQuery q = in;
  if (auto st = ValidateNeeds(q.needs, "needs"); !st.ok()) return st;
  if (!q.age_years.has_value()) return Invalid("age_years", "is required");
  if (*q.age_years < 0 || *q.age_years > kMaxAge) return Invalid("age_years", "must be 0-25");
  if (q.postcode.empty() && q.local_authority.empty()) {
    return Invalid("postcode", "a postcode or a local authority is required");
  }
  if (!q.postcode.empty()) {
    absl::StatusOr<std::string> postcode = ValidatePostcode(q.postcode, "postcode");
    if (!postcode.ok()) return postcode.status();
    q.postcode = *std::move(postcode);
  }
  if (!q.local_authority.empty()) {
    absl::StatusOr<std::string> code = NormalizeLocalAuthority(q.local_authority, "local_authority");
    if (!code.ok()) return code.status();
    q.local_authority = *std::move(code);
  }
  return q;
}

absl::string_view CriterionName(Criterion criterion) {
  switch (criterion) {
    case Criterion::kAcceptingReferrals: return "ACCEPTING_REFERRALS";
    case Criterion::kAge: return "AGE";
    case Criterion::kNeedType: return "NEED_TYPE";
    case Criterion::kLevelOfNeed: return "LEVEL_OF_NEED";
    case Criterion::kArea: return "AREA";
  }
  return "UNKNOWN";
}

absl::string_view FitCodeName(FitCode code) {
  switch (code) {
    case FitCode::kAcceptingReferrals: return "ACCEPTING_REFERRALS";
    case FitCode::kClosedToReferrals: return "CLOSED_TO_REFERRALS";
    case FitCode::kAgeInRange: return "AGE_IN_RANGE";
    case FitCode::kBelowMinimumAge: return "BELOW_MINIMUM_AGE";
    case FitCode::kAboveMaximumAge: return "ABOVE_MAXIMUM_AGE";
    case FitCode::kNeedsAddressed: return "NEEDS_ADDRESSED";
    case FitCode::kNoNeedAddressed: return "NO_NEED_ADDRESSED";
    case FitCode::kLevelWithinThresholds: return "LEVEL_WITHIN_THRESHOLDS";
    case FitCode::kAboveThreshold: return "ABOVE_THRESHOLD";
    case FitCode::kBelowThreshold: return "BELOW_THRESHOLD";
    case FitCode::kInAreaByPostcode: return "IN_AREA_BY_POSTCODE";
    case FitCode::kInAreaByLocalAuthority: return "IN_AREA_BY_LOCAL_AUTHORITY";
    case FitCode::kNationwide: return "NATIONWIDE";
    case FitCode::kOutOfArea: return "OUT_OF_AREA";
  }
  return "UNKNOWN";
}

int ServiceMatch::unmet_count() const {
  return static_cast<int>(std::count_if(reasons.begin(), reasons.end(), [](const FitReason& r) { return !r.met; }));
}

ServiceMatch JudgeService(const SearchQuery& query, const Service& service) {
  ServiceMatch m;
  m.service_id = service.id;
  const Eligibility& e = service.eligibility;

  // Open to referrals.
  if (service.availability.accepting_referrals) {
    std::string text = service.availability.capacity > 0
                           ? absl::StrCat("open to referrals; ", service.availability.capacity, " place",
                                          service.availability.capacity == 1 ? "" : "s", " free")
                           : "open to referrals; no place free now";
    m.reasons.push_back(Reason(Criterion::kAcceptingReferrals, FitCode::kAcceptingReferrals, true, std::move(text)));
  } else {
    m.reasons.push_back(Reason(Criterion::kAcceptingReferrals, FitCode::kClosedToReferrals, false,
                               "closed to referrals at the moment"));
  }

  // Age.
  int age = query.age_years.value_or(-1);
  int max_age = e.maximum_age.value_or(-1);
  std::string range = absl::StrCat(e.minimum_age, "-", max_age);
  if (age < e.minimum_age) {
    m.reasons.push_back(Reason(Criterion::kAge, FitCode::kBelowMinimumAge, false,
                               absl::StrCat("below the minimum age ", e.minimum_age, " (serves ages ", range, ")")));
  } else if (age > max_age) {
    m.reasons.push_back(Reason(Criterion::kAge, FitCode::kAboveMaximumAge, false,
                               absl::StrCat("above the maximum age ", max_age, " (serves ages ", range, ")")));
  } else {
    m.reasons.push_back(Reason(Criterion::kAge, FitCode::kAgeInRange, true, absl::StrCat("serves ages ", range)));
  }

  // Need types.
  std::vector<std::string> addressed, not_addressed;
  for (const Need& need : query.needs) {
    if (Contains(e.need_types, need.type)) {
      m.needs_addressed.push_back(need.type);
      addressed.emplace_back(NeedTypeName(need.type));
    } else {
      not_addressed.emplace_back(NeedTypeName(need.type));
    }
  }
  if (addressed.empty()) {
    m.reasons.push_back(Reason(Criterion::kNeedType, FitCode::kNoNeedAddressed, false,
                               absl::StrCat("addresses none of ", absl::StrJoin(not_addressed, ", "))));
  } else {
    std::string text = absl::StrCat("addresses ", absl::StrJoin(addressed, ", "), " (", addressed.size(), " of ",
                                    query.needs.size(), " needs)");
    if (!not_addressed.empty()) absl::StrAppend(&text, "; not ", absl::StrJoin(not_addressed, ", "));
    m.reasons.push_back(Reason(Criterion::kNeedType, FitCode::kNeedsAddressed, true, std::move(text)));
  }

  // Level of need: the child's highest.
  int level = HighestLevel(query.needs);
  int min_level = EffectiveMinimumLevel(e);
  int max_level = static_cast<int>(e.maximum_level);
  if (level > max_level) {
    m.reasons.push_back(Reason(Criterion::kLevelOfNeed, FitCode::kAboveThreshold, false,
                               absl::StrCat("level of need ", LevelText(level), " is above the service's maximum ",
                                            LevelText(max_level))));
  } else if (level < min_level) {
    m.reasons.push_back(Reason(Criterion::kLevelOfNeed, FitCode::kBelowThreshold, false,
                               absl::StrCat("level of need ", LevelText(level), " is below the service's minimum ",
                                            LevelText(min_level))));
  } else {
    m.reasons.push_back(Reason(Criterion::kLevelOfNeed, FitCode::kLevelWithinThresholds, true,
                               absl::StrCat("level of need ", LevelText(level), " is within the service's levels ",
                                            min_level, "-", max_level)));
  }

  // Area.
  std::optional<FitReason> area;
  if (service.nationwide) {
    area = Reason(Criterion::kArea, FitCode::kNationwide, true, "serves children anywhere");
  }
  for (size_t i = 0; !area && i < service.areas.size(); ++i) {
    const ServiceArea& a = service.areas[i];
    if (!query.postcode.empty()) {
      for (const std::string& prefix : a.postcode_prefixes) {
        if (PostcodeInPrefix(query.postcode, prefix)) {
          area = Reason(Criterion::kArea, FitCode::kInAreaByPostcode, true,
                        absl::StrCat("the postcode is within the service area ", prefix));
          break;
        }
      }
    }
  }
  for (size_t i = 0; !area && i < service.areas.size(); ++i) {
    if (!query.local_authority.empty() && Contains(service.areas[i].local_authorities, query.local_authority)) {
      area = Reason(Criterion::kArea, FitCode::kInAreaByLocalAuthority, true,
                    absl::StrCat("serves local authority ", query.local_authority));
    }
  }
  if (!area) {
    area = Reason(Criterion::kArea, FitCode::kOutOfArea, false,
                  query.postcode.empty() ? "the local authority is outside the service's area"
                                         : (query.local_authority.empty()
                                                ? "the postcode is outside the service's area"
                                                : "the postcode and the local authority are outside the service's area"));
  }
  m.reasons.push_back(*std::move(area));

  m.eligible = m.unmet_count() == 0;
  return m;
}

absl::StatusOr<SearchResult> SearchServices(const SearchQuery& query, absl::Span<const Service> candidates) {
  absl::StatusOr<SearchQuery> q = ValidateSearchQuery(query);
  if (!q.ok()) return q.status();

  SearchResult result;
  for (size_t i = 0; i < candidates.size(); ++i) {
    ServiceMatch m = JudgeService(*q, candidates[i]);
    m.candidate_index = i;
    if (m.eligible) {
      result.matches.push_back(std::move(m));
    } else if (q->include_near_misses && !m.needs_addressed.empty() && m.unmet_count() == 1) {
      result.near_misses.push_back(std::move(m));
    }
  }
  auto by_rank = [&](const ServiceMatch& a, const ServiceMatch& b) {
    return RankedBefore(a, candidates[a.candidate_index], b, candidates[b.candidate_index]);
  };
  std::sort(result.matches.begin(), result.matches.end(), by_rank);
  std::sort(result.near_misses.begin(), result.near_misses.end(), by_rank);
  return result;
}

}  // namespace accord::domain
