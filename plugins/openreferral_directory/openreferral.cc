#include "plugins/openreferral_directory/openreferral.h"

#include <algorithm>
#include <exception>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace accord::openreferral {
namespace {

using json = nlohmann::json;
using accord::v1::NeedType;

constexpr absl::string_view kNeedVocabulary = "accord-need-type";
constexpr absl::string_view kMinimumLevelVocabulary = "accord-minimum-level-of-need";
constexpr absl::string_view kMaximumLevelVocabulary = "accord-maximum-level-of-need";
constexpr int kMaxAge = 25;
constexpr size_t kMaxContacts = 20;

const json& Field(const json& j, const char* key) {
  static const json* null = new json();
  if (!j.is_object()) return *null;
  auto it = j.find(key);
  return it == j.end() ? *null : *it;
}

std::string Str(const json& j, const char* key) {
  const json& v = Field(j, key);
  if (v.is_string()) return std::string(absl::StripAsciiWhitespace(v.get<std::string>()));
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return "";
}

std::optional<int64_t> Int(const json& j, const char* key) {
  const json& v = Field(j, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(d > -1e6 && d < 1e6)) return std::nullopt;  // also NaN
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

// Words people use for each need, lower case; the need type names themselves are added below.
const std::map<std::string, NeedType>& NeedWords() {
  static const auto* words = [] {
    auto* m = new std::map<std::string, NeedType>{
        {"anxiety", accord::v1::NEED_TYPE_ANXIETY},
        {"anger", accord::v1::NEED_TYPE_ANGER},
        {"anger management", accord::v1::NEED_TYPE_ANGER},
        {"low mood", accord::v1::NEED_TYPE_LOW_MOOD},
        {"depression", accord::v1::NEED_TYPE_LOW_MOOD},
        {"self-harm", accord::v1::NEED_TYPE_SELF_HARM},
        {"self harm", accord::v1::NEED_TYPE_SELF_HARM},
        {"autism", accord::v1::NEED_TYPE_AUTISM},
        {"asd", accord::v1::NEED_TYPE_AUTISM},
        {"adhd", accord::v1::NEED_TYPE_ADHD},
        {"attachment", accord::v1::NEED_TYPE_ATTACHMENT},
        {"family conflict", accord::v1::NEED_TYPE_FAMILY_CONFLICT},
        {"family relationships", accord::v1::NEED_TYPE_FAMILY_CONFLICT},
        {"school attendance", accord::v1::NEED_TYPE_SCHOOL_ATTENDANCE},
        {"social isolation", accord::v1::NEED_TYPE_SOCIAL_ISOLATION},
        {"loneliness", accord::v1::NEED_TYPE_SOCIAL_ISOLATION},
        {"bereavement", accord::v1::NEED_TYPE_BEREAVEMENT},
        {"grief", accord::v1::NEED_TYPE_BEREAVEMENT},
        {"trauma", accord::v1::NEED_TYPE_TRAUMA},
        {"eating disorders", accord::v1::NEED_TYPE_EATING_DIFFICULTIES},
        {"eating disorder", accord::v1::NEED_TYPE_EATING_DIFFICULTIES},
        {"eating difficulties", accord::v1::NEED_TYPE_EATING_DIFFICULTIES},
        {"bullying", accord::v1::NEED_TYPE_BULLYING},
        {"behaviour", accord::v1::NEED_TYPE_BEHAVIOUR},
        {"behavior", accord::v1::NEED_TYPE_BEHAVIOUR},
        {"speech and language", accord::v1::NEED_TYPE_SPEECH_LANGUAGE_COMMUNICATION},
        {"speech, language and communication", accord::v1::NEED_TYPE_SPEECH_LANGUAGE_COMMUNICATION},
        {"substance misuse", accord::v1::NEED_TYPE_SUBSTANCE_MISUSE},
        {"drugs and alcohol", accord::v1::NEED_TYPE_SUBSTANCE_MISUSE},
        {"domestic abuse", accord::v1::NEED_TYPE_DOMESTIC_ABUSE},
        {"domestic violence", accord::v1::NEED_TYPE_DOMESTIC_ABUSE},
        {"young carers", accord::v1::NEED_TYPE_YOUNG_CARER},
        {"young carer", accord::v1::NEED_TYPE_YOUNG_CARER},
        {"parenting", accord::v1::NEED_TYPE_PARENTING_SUPPORT},
        {"parenting support", accord::v1::NEED_TYPE_PARENTING_SUPPORT},
        {"exploitation", accord::v1::NEED_TYPE_EXPLOITATION},
        {"sleep", accord::v1::NEED_TYPE_SLEEP}};
    for (int v = 1; accord::v1::NeedType_IsValid(v); ++v) {
      const std::string name(absl::StripPrefix(accord::v1::NeedType_Name(static_cast<NeedType>(v)), "NEED_TYPE_"));
      (*m)[absl::AsciiStrToLower(name)] = static_cast<NeedType>(v);
    }
    return m;
  }();
  return *words;
}

std::optional<NeedType> NeedFor(const std::string& term) {
  const auto& words = NeedWords();
  auto it = words.find(absl::AsciiStrToLower(absl::StripAsciiWhitespace(term)));
  if (it == words.end()) return std::nullopt;
  return it->second;
}

std::string NeedName(NeedType t) { return std::string(absl::StripPrefix(accord::v1::NeedType_Name(t), "NEED_TYPE_")); }

bool IsLocalAuthority(absl::string_view s) {
  if (s.size() != 9 || (s[0] != 'E' && s[0] != 'W' && s[0] != 'S' && s[0] != 'N')) return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

// An area ("LS"), district ("LS6", "W1A"), sector ("LS6 2") or postcode ("LS6 2AB"), upper case.
bool IsPostcodePrefix(absl::string_view s) {
  size_t i = 0;
  auto alpha = [&](size_t k) { return k < s.size() && absl::ascii_isupper(static_cast<unsigned char>(s[k])); };
  auto digit = [&](size_t k) { return k < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[k])); };
  if (!alpha(i)) return false;
  ++i;
  if (alpha(i)) ++i;
  if (i == s.size()) return true;  // area
  if (!digit(i)) return false;
  ++i;
  if (digit(i) || alpha(i)) ++i;
  if (i == s.size()) return true;  // district
  if (s[i] != ' ') return false;
  ++i;
  if (!digit(i)) return false;
  ++i;
  if (i == s.size()) return true;  // sector
  return alpha(i) && alpha(i + 1) && i + 2 == s.size();
}

// Districts ("AB1") and local authority codes named in free text.
void ScanWords(const std::string& text, accord::v1::ServiceArea* area) {
  for (absl::string_view word : absl::StrSplit(text, absl::ByAnyChar(" ,;.()\n\t"), absl::SkipEmpty())) {
    const std::string w(word);
    if (IsLocalAuthority(w)) {
      area->add_local_authorities(w);
    } else if (w.size() >= 2 && w.size() <= 4 && IsPostcodePrefix(w) && std::any_of(w.begin(), w.end(), [](char c) {
                 return absl::ascii_isdigit(static_cast<unsigned char>(c));
               })) {
      area->add_postcode_prefixes(w);  // a district; bare letters in prose are too ambiguous
    }
  }
}

template <typename Repeated>
void Dedupe(Repeated* values) {
  std::set<std::string> seen;
  Repeated out;
  for (const auto& v : *values) {
    if (seen.insert(v).second) *out.Add() = v;
  }
  *values = std::move(out);
}

// `word` in `text` with no letter either side ("anger" is not in "danger").
bool ContainsWord(absl::string_view text, absl::string_view word) {
  for (size_t at = text.find(word); at != absl::string_view::npos; at = text.find(word, at + 1)) {
    const bool before = at > 0 && absl::ascii_isalpha(static_cast<unsigned char>(text[at - 1]));
    const size_t end = at + word.size();
    const bool after = end < text.size() && absl::ascii_isalpha(static_cast<unsigned char>(text[end]));
    if (!before && !after) return true;
  }
  return false;
}

bool ValidServiceId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) && !absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
        c != '-') {
      return false;
    }
  }
  return id.front() != '-' && id.back() != '-';
}

std::string Phone(const json& holder) {
  const json& phones = Field(holder, "phones");
  if (!phones.is_array()) return "";
  for (const json& p : phones) {
    std::string n = Str(p, "number");
    n.erase(std::remove(n.begin(), n.end(), '"'), n.end());  // real files quote numbers inside the string
    n = std::string(absl::StripAsciiWhitespace(n));
    if (!n.empty()) return n;
  }
  return "";
}

class Importer {
 public:
  Importer(const ImportOptions& options, ImportResult* result) : options_(options), result_(result) {}

  void Service(const json& s, const std::string& path) {
    issues_.clear();
    accord::v1::Service out;
    auto leave_out = [&](const std::string& where, const std::string& why) {
      for (auto& i : issues_) result_->issues.push_back(std::move(i));
      result_->issues.push_back({where, absl::StrCat(why, "; the service is left out"), true});
    };
    if (!s.is_object()) return leave_out(path, "not a JSON object");
    const std::string id = absl::AsciiStrToLower(Str(s, "id"));
    if (!ValidServiceId(id)) {
      return leave_out(absl::StrCat(path, ".id"),
                       absl::StrCat("\"", Str(s, "id"), "\" is not a usable service id (", "1-64 of a-z, 0-9 and -)"));
    }
    out.set_display_name(Str(s, "name"));
    if (out.display_name().empty()) return leave_out(absl::StrCat(path, ".name"), "no name");
    out.set_description(Str(s, "description"));
    if (out.description().empty()) {
      Note(absl::StrCat(path, ".description"), "no description; the name is used");
      out.set_description(out.display_name());
    }
    out.set_url(Str(s, "url"));
    out.set_email(Str(s, "email"));
    const std::string status = absl::AsciiStrToLower(Str(s, "status"));
    out.mutable_availability()->set_accepting_referrals(status == "active");

    const json& org = Field(s, "organization");
    if (org.is_object()) {
      out.mutable_organization()->set_display_name(Str(org, "name"));
      out.mutable_organization()->set_description(Str(org, "description"));
      out.mutable_organization()->set_url(Str(org, "website").empty() ? Str(org, "url") : Str(org, "website"));
      out.mutable_organization()->set_email(Str(org, "email"));
    }

    Eligibility(s, path, out.mutable_eligibility());
    if (out.eligibility().need_types().empty()) {
      return leave_out(absl::StrCat(path, ".attributes"),
                       "no taxonomy term or word in its description names a need Accord knows");
    }
    if (!Ages(s, path, out.mutable_eligibility())) {
      return leave_out(absl::StrCat(path, ".minimum_age"), absl::StrCat("the service starts above age ", kMaxAge));
    }

    const json& areas = Field(s, "service_areas");
    if (areas.is_array()) {
      for (size_t k = 0; k < areas.size(); ++k) Area(areas[k], absl::StrCat(path, ".service_areas[", k, "]"), &out);
    }
    if (out.service_areas().empty()) {
      if (!options_.default_area.has_value()) {
        return leave_out(absl::StrCat(path, ".service_areas"),
                         "no area with a postcode prefix or local authority code (and no default area given)");
      }
      Note(absl::StrCat(path, ".service_areas"), "no machine-readable area; the default area is used");
      *out.add_service_areas() = *options_.default_area;
    }

    Contacts(Field(s, "contacts"), absl::StrCat(path, ".contacts"), &out);
    const json& locations = Field(s, "service_at_locations");
    if (locations.is_array()) {
      for (size_t k = 0; k < locations.size(); ++k) {
        Contacts(Field(locations[k], "contacts"), absl::StrCat(path, ".service_at_locations[", k, "].contacts"), &out);
      }
    }
    for (auto& i : issues_) result_->issues.push_back(std::move(i));
    result_->services.push_back({id, std::move(out)});
  }

 private:
  void Note(std::string path, std::string message) { issues_.push_back({std::move(path), std::move(message), false}); }

  void Term(const json& term, const std::string& path, accord::v1::Eligibility* e) {
    const std::string vocabulary = Str(term, "taxonomy").empty() ? Str(term, "vocabulary") : Str(term, "taxonomy");
    const std::string code = Str(term, "code").empty() ? Str(term, "id") : Str(term, "code");
    const std::string name = Str(term, "name").empty() ? Str(term, "term") : Str(term, "name");
    if (vocabulary == kMinimumLevelVocabulary || vocabulary == kMaximumLevelVocabulary) {
      int level = 0;
      if (absl::SimpleAtoi(code, &level) && accord::v1::LevelOfNeed_IsValid(level) && level > 0) {
        auto l = static_cast<accord::v1::LevelOfNeed>(level);
        vocabulary == kMinimumLevelVocabulary ? e->set_minimum_level_of_need(l) : e->set_maximum_level_of_need(l);
        return;
      }
    }
    std::optional<NeedType> need = NeedFor(code);
    if (!need.has_value()) need = NeedFor(name);
    if (need.has_value()) {
      if (std::find(e->need_types().begin(), e->need_types().end(), *need) == e->need_types().end()) {
        e->add_need_types(*need);
      }
      return;
    }
    const std::string label = absl::StrCat(vocabulary.empty() ? "?" : vocabulary, ":", code, " (", name, ")");
    Note(path, absl::StrCat("taxonomy term ", label, " names no need Accord knows; not used"));
    if (std::find(result_->unknown_terms.begin(), result_->unknown_terms.end(), label) ==
        result_->unknown_terms.end()) {
      result_->unknown_terms.push_back(label);
    }
  }

  void Eligibility(const json& s, const std::string& path, accord::v1::Eligibility* e) {
    e->set_minimum_level_of_need(options_.minimum_level_of_need);
    e->set_maximum_level_of_need(options_.maximum_level_of_need);
    const json& attributes = Field(s, "attributes");
    if (attributes.is_array()) {
      for (size_t k = 0; k < attributes.size(); ++k) {
        const json& term = Field(attributes[k], "taxonomy_term");
        if (term.is_object()) Term(term, absl::StrCat(path, ".attributes[", k, "].taxonomy_term"), e);
      }
    }
    const json& oruk = Field(s, "service_taxonomys");
    if (oruk.is_array()) {
      for (size_t k = 0; k < oruk.size(); ++k) {
        const json& term = Field(oruk[k], "taxonomy");
        if (term.is_object()) Term(term, absl::StrCat(path, ".service_taxonomys[", k, "].taxonomy"), e);
      }
    }
    std::string words = Str(s, "eligibility_description");
    const json& eligibilitys = Field(s, "eligibilitys");
    if (eligibilitys.is_array() && !eligibilitys.empty()) {
      if (words.empty()) words = Str(eligibilitys[0], "eligibility");
    }
    e->set_description(words);
    if (e->need_types().empty()) {
      const std::string text = absl::AsciiStrToLower(absl::StrCat(Str(s, "description"), " ", words));
      for (const auto& [word, type] : NeedWords()) {
        if (word.size() < 4 || word.find('_') != std::string::npos) continue;  // "asd", enum names
        if (ContainsWord(text, word) &&
            std::find(e->need_types().begin(), e->need_types().end(), type) == e->need_types().end()) {
          e->add_need_types(type);
        }
      }
      if (!e->need_types().empty()) {
        std::vector<std::string> names;
        for (int t : e->need_types()) names.push_back(NeedName(static_cast<NeedType>(t)));
        Note(absl::StrCat(path, ".description"),
             absl::StrCat("no taxonomy term names a need; read from the service's words: ", absl::StrJoin(names, ", "),
                          " (check them)"));
      }
    }
    if (e->minimum_level_of_need() > e->maximum_level_of_need())
      e->set_minimum_level_of_need(e->maximum_level_of_need());
  }

  // False when the service is for people above Accord's ages only.
  bool Ages(const json& s, const std::string& path, accord::v1::Eligibility* e) {
    std::optional<int64_t> min = Int(s, "minimum_age");
    std::optional<int64_t> max = Int(s, "maximum_age");
    const json& eligibilitys = Field(s, "eligibilitys");
    if (!min && !max && eligibilitys.is_array() && !eligibilitys.empty()) {
      min = Int(eligibilitys[0], "minimum_age");
      max = Int(eligibilitys[0], "maximum_age");
    }
    int64_t lo = min.value_or(0);
    if (lo < 0) lo = 0;
    if (lo > kMaxAge) return false;
    int64_t hi = kMaxAge;
    if (!max.has_value()) {
      Note(absl::StrCat(path, ".maximum_age"), absl::StrCat("no maximum age; ", kMaxAge, " is used"));
    } else if (*max > kMaxAge) {
      Note(absl::StrCat(path, ".maximum_age"),
           absl::StrCat("maximum age ", *max, " is above Accord's ", kMaxAge, "; ", kMaxAge, " is used"));
    } else {
      hi = std::max<int64_t>(*max, lo);
    }
    e->set_minimum_age(static_cast<int>(lo));
    e->set_maximum_age(static_cast<int>(hi));
    return true;
  }

  void Area(const json& a, const std::string& path, accord::v1::Service* out) {
    accord::v1::ServiceArea area;
    const std::string name = Str(a, "name").empty() ? Str(a, "service_area") : Str(a, "name");
    const std::string description = Str(a, "description");
    area.set_description(name.size() <= 200 || description.empty() ? name : description);
    area.set_uri(Str(a, "uri"));
    const std::string extent = Str(a, "extent");
    bool listed = false;
    if (!extent.empty() && extent.find_first_of("{<") == std::string::npos) {
      std::vector<std::string> items = absl::StrSplit(extent, ',', absl::SkipWhitespace());
      listed = !items.empty();
      for (std::string item : items) {
        item = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(item));
        if (IsLocalAuthority(item)) {
          area.add_local_authorities(item);
        } else if (IsPostcodePrefix(item)) {
          area.add_postcode_prefixes(item);
        } else {
          listed = false;
          area.clear_local_authorities();
          area.clear_postcode_prefixes();
          break;
        }
      }
    }
    if (!listed) {
      ScanWords(name, &area);
      ScanWords(description, &area);
    }
    Dedupe(area.mutable_postcode_prefixes());
    Dedupe(area.mutable_local_authorities());
    if (area.postcode_prefixes().empty() && area.local_authorities().empty()) {
      Note(path, "names no postcode prefix or local authority code; not used");
      return;
    }
    if (!listed) {
      Note(path, absl::StrCat("area read from its words: ", absl::StrJoin(area.postcode_prefixes(), ", "),
                              area.local_authorities().empty() ? "" : " ",
                              absl::StrJoin(area.local_authorities(), ", "), " (check it)"));
    }
    *out->add_service_areas() = std::move(area);
  }

  void Contacts(const json& contacts, const std::string& path, accord::v1::Service* out) {
    if (!contacts.is_array()) return;
    for (size_t k = 0; k < contacts.size(); ++k) {
      const json& c = contacts[k];
      accord::v1::Contact contact;
      contact.set_name(Str(c, "name"));
      contact.set_title(Str(c, "title"));
      contact.set_email(Str(c, "email"));
      contact.set_phone(Phone(c));
      if (contact.name().empty() && contact.title().empty()) {
        Note(absl::StrCat(path, "[", k, "]"), "a contact with neither name nor title; not used");
        continue;
      }
      bool seen = false;
      for (const auto& have : out->contacts()) {
        seen = seen ||
               (have.name() == contact.name() && have.title() == contact.title() && have.email() == contact.email());
      }
      if (seen) continue;
      if (static_cast<size_t>(out->contacts_size()) >= kMaxContacts) {
        Note(absl::StrCat(path, "[", k, "]"), absl::StrCat("more than ", kMaxContacts, " contacts; the rest not used"));
        return;
      }
      *out->add_contacts() = std::move(contact);
    }
  }

  const ImportOptions& options_;
  ImportResult* result_;
  std::vector<ImportIssue> issues_;  // of the service being read
};

}  // namespace

ImportResult ImportServices(absl::string_view text, const ImportOptions& options) {
  ImportResult result;
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    result.issues.push_back({"$", "not JSON", true});
    return result;
  }
  const json* list = nullptr;
  std::string prefix;
  json single = json::array();
  if (doc.is_array()) {
    list = &doc, prefix = "$";
  } else if (Field(doc, "contents").is_array()) {
    list = &Field(doc, "contents"), prefix = "contents";
  } else if (Field(doc, "content").is_array()) {
    list = &Field(doc, "content"), prefix = "content";
  } else if (Field(doc, "services").is_array()) {
    list = &Field(doc, "services"), prefix = "services";
  } else if (doc.is_object() && Field(doc, "name").is_string()) {
    single.push_back(doc);
    list = &single;
  }
  if (list == nullptr) {
    result.issues.push_back({"$", "no services: expected a page of services, a list of them, or one service", true});
    return result;
  }
  Importer importer(options, &result);
  for (size_t k = 0; k < list->size(); ++k) {
    const std::string path = prefix.empty() ? "service" : absl::StrCat(prefix, "[", k, "]");
    try {
      importer.Service((*list)[k], path);
    } catch (const std::exception& e) {
      result.issues.push_back({path, absl::StrCat("cannot be read (", e.what(), "); the service is left out"), true});
    }
    if (options.progress) options.progress(k + 1, list->size());
  }
  return result;
}

std::string ExportServices(const std::vector<ImportedService>& services) {
  json contents = json::array();
  for (const ImportedService& s : services) {
    const accord::v1::Service& v = s.service;
    json attributes = json::array();
    auto term = [&](absl::string_view vocabulary, const std::string& code, const std::string& name) {
      attributes.push_back(
          {{"taxonomy_term", {{"code", code}, {"name", name}, {"taxonomy", std::string(vocabulary)}}}});
    };
    for (int t : v.eligibility().need_types()) {
      const std::string name = NeedName(static_cast<NeedType>(t));
      std::string words = absl::AsciiStrToLower(name);
      std::replace(words.begin(), words.end(), '_', ' ');
      term(kNeedVocabulary, name, words);
    }
    if (v.eligibility().minimum_level_of_need() != accord::v1::LEVEL_OF_NEED_UNSPECIFIED) {
      term(kMinimumLevelVocabulary, std::to_string(v.eligibility().minimum_level_of_need()),
           std::string(absl::StripPrefix(accord::v1::LevelOfNeed_Name(v.eligibility().minimum_level_of_need()),
                                         "LEVEL_OF_NEED_")));
    }
    if (v.eligibility().maximum_level_of_need() != accord::v1::LEVEL_OF_NEED_UNSPECIFIED) {
      term(kMaximumLevelVocabulary, std::to_string(v.eligibility().maximum_level_of_need()),
           std::string(absl::StripPrefix(accord::v1::LevelOfNeed_Name(v.eligibility().maximum_level_of_need()),
                                         "LEVEL_OF_NEED_")));
    }
    json areas = json::array();
    for (const auto& a : v.service_areas()) {
      std::vector<std::string> extent(a.postcode_prefixes().begin(), a.postcode_prefixes().end());
      extent.insert(extent.end(), a.local_authorities().begin(), a.local_authorities().end());
      areas.push_back({{"name", a.description()},
                       {"extent", absl::StrJoin(extent, ", ")},
                       {"extent_type", "text"},
                       {"uri", a.uri()}});
    }
    json contacts = json::array();
    for (const auto& c : v.contacts()) {
      json contact = {{"name", c.name()}, {"title", c.title()}, {"email", c.email()}};
      if (!c.phone().empty()) contact["phones"] = json::array({{{"number", c.phone()}}});
      contacts.push_back(contact);
    }
    json service = {{"id", s.service_id},
                    {"name", v.display_name()},
                    {"description", v.description()},
                    {"url", v.url()},
                    {"email", v.email()},
                    {"status", v.availability().accepting_referrals() ? "active" : "inactive"},
                    {"eligibility_description", v.eligibility().description()},
                    {"minimum_age", v.eligibility().minimum_age()},
                    {"maximum_age", v.eligibility().maximum_age()},
                    {"service_areas", areas},
                    {"contacts", contacts},
                    {"attributes", attributes}};
    if (v.has_organization()) {
      service["organization"] = {{"name", v.organization().display_name()},
                                 {"description", v.organization().description()},
                                 {"website", v.organization().url()},
                                 {"email", v.organization().email()}};
    }
    contents.push_back(std::move(service));
  }
  const size_t n = contents.size();
  json page = {{"total_items", n},   {"total_pages", 1},  {"page_number", 1}, {"size", n},
               {"first_page", true}, {"last_page", true}, {"empty", n == 0},  {"contents", std::move(contents)}};
  return page.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace accord::openreferral
