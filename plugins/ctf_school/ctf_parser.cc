#include "plugins/ctf_school/ctf_parser.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pugixml.hpp"

namespace accord::ctf_school {
namespace {

constexpr absl::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, min = 0x10000;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    uint32_t cp = c & (0x3F >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// Windows-1252 (a superset of Latin-1 as MIS exports use it) to UTF-8.
std::string Cp1252ToUtf8(absl::string_view s) {
  static constexpr uint16_t kHigh[32] = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                         0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                         0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                         0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    uint32_t cp = c;
    if (c >= 0x80 && c < 0xA0) cp = kHigh[c - 0x80];
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

std::string Text(const pugi::xml_node& node, const char* child) {
  return std::string(absl::StripAsciiWhitespace(node.child(child).text().get()));
}

// The first of `names` present under `node`.
std::string TextOf(const pugi::xml_node& node, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (node.child(name)) return Text(node, name);
  }
  return "";
}

// YYYY-MM-DD, or "" when `s` is not a plausible date (the time part of a DateTime is dropped).
std::string Date(absl::string_view s) {
  if (s.size() < 10) return "";
  s = s.substr(0, 10);
  for (size_t i = 0; i < 10; ++i) {
    const bool dash = i == 4 || i == 7;
    if (dash ? s[i] != '-' : !absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) return "";
  }
  return std::string(s);
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string Gender(absl::string_view code) {
  const std::string c = absl::AsciiStrToUpper(code);
  if (c == "M") return "male";
  if (c == "F") return "female";
  if (c == "U" || c == "9" || c == "X") return "unknown";
  return c.empty() ? "" : absl::AsciiStrToLower(c);
}

int32_t Int(const pugi::xml_node& node, const char* child, bool* bad) {
  const std::string t = Text(node, child);
  if (t.empty()) return 0;
  int32_t v = 0;
  if (!absl::SimpleAtoi(t, &v) || v < 0 || v > 100000) {
    *bad = true;
    return 0;
  }
  return v;
}

void ReadAddress(const pugi::xml_node& address, accord::v1::IdentityRecord* identity) {
  if (!address) return;
  if (const pugi::xml_node bs = address.child("BS7666Address")) {
    std::string first = absl::StrJoin({Text(bs, "SAON"), Text(bs, "PAON")}, " ");
    first = std::string(absl::StripAsciiWhitespace(first));
    std::string street = Text(bs, "Street");
    if (!first.empty() && !street.empty()) {
      identity->add_address_lines(absl::StrCat(first, " ", street));
    } else if (!first.empty() || !street.empty()) {
      identity->add_address_lines(first.empty() ? street : first);
    }
    for (const char* name : {"Locality", "Town", "AdministrativeArea", "PostTown"}) {
      if (std::string v = Text(bs, name); !v.empty()) identity->add_address_lines(v);
    }
  }
  if (const pugi::xml_node lines = address.child("AddressLines")) {
    for (const pugi::xml_node& line : lines.children()) {
      std::string v(absl::StripAsciiWhitespace(line.text().get()));
      if (!v.empty()) identity->add_address_lines(v);
    }
  }
  std::string county = Text(address, "County");
  if (!county.empty()) identity->add_address_lines(county);
  identity->set_postcode(absl::AsciiStrToUpper(TextOf(address, {"PostCode", "Postcode"})));
}

std::string Period(absl::string_view year) {
  int y = 0;
  if (!absl::SimpleAtoi(year, &y) || y < 1990 || y > 2100) return std::string(year);
  return absl::StrCat(y, "/", (y + 1) % 100 < 10 ? "0" : "", (y + 1) % 100);
}

}  // namespace

bool IsValidUpn(absl::string_view upn) {
  if (upn.size() != 13) return false;
  const char first = absl::ascii_toupper(static_cast<unsigned char>(upn[0]));
  int sum = 0;
  for (size_t i = 1; i < 13; ++i) {
    const char c = absl::ascii_toupper(static_cast<unsigned char>(upn[i]));
    int value = 0;
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      value = c - '0';
    } else if (i == 12 && kUpnAlphabet.find(c) != absl::string_view::npos) {
      value = static_cast<int>(kUpnAlphabet.find(c));
    } else {
      return false;
    }
    sum += value * static_cast<int>(i + 1);
  }
  return kUpnAlphabet[sum % 23] == first;
}

CtfFile ParseCtf(absl::string_view bytes, absl::string_view source) {
  CtfFile file;
  pugi::xml_document doc;
  pugi::xml_parse_result parsed;
  const unsigned options = pugi::parse_default | pugi::parse_trim_pcdata;
  const bool utf16_bom =
      bytes.size() >= 2 && ((bytes[0] == '\xFF' && bytes[1] == '\xFE') || (bytes[0] == '\xFE' && bytes[1] == '\xFF'));
  if (utf16_bom) {
    parsed = doc.load_buffer(bytes.data(), bytes.size(), options, pugi::encoding_auto);
  } else if (IsValidUtf8(bytes)) {
    // Whatever the declaration says: bytes that are valid UTF-8 are UTF-8.
    parsed = doc.load_buffer(bytes.data(), bytes.size(), options, pugi::encoding_utf8);
  } else {
    file.problems.push_back(absl::StrCat(source, ": not valid UTF-8; read as Windows-1252"));
    const std::string utf8 = Cp1252ToUtf8(bytes);
    parsed = doc.load_buffer(utf8.data(), utf8.size(), options, pugi::encoding_utf8);
  }
  if (!parsed) {
    file.problems.push_back(
        absl::StrCat(source, ": not a readable XML document (", parsed.description(), " at byte ", parsed.offset, ")"));
    return file;
  }
  const pugi::xml_node root = doc.child("CTfile");
  if (!root) {
    file.problems.push_back(absl::StrCat(source, ": not a Common Transfer File (no CTfile element)"));
    return file;
  }
  const pugi::xml_node header = root.child("Header");
  file.date_time = Text(header, "DateTime");
  const pugi::xml_node school = header.child("SourceSchool");
  const std::string lea = Text(school, "LEA");
  const std::string estab = Text(school, "Estab");
  std::string school_id;
  if (AllDigits(lea) && lea.size() == 3 && AllDigits(estab) && estab.size() == 4) {
    school_id = lea + estab;
  } else if (AllDigits(estab)) {
    school_id = estab;
    file.problems.push_back(absl::StrCat(source, ": SourceSchool LEA \"", lea,
                                         "\" is not a local authority number; school id is the establishment number"));
  } else if (!estab.empty() || !lea.empty()) {
    file.problems.push_back(
        absl::StrCat(source, ": SourceSchool LEA \"", lea, "\" / Estab \"", estab, "\" do not identify a school"));
  }
  const std::string school_name = Text(school, "SchoolName");

  std::set<std::string> seen;
  int position = 0;
  for (const pugi::xml_node& pupil : root.child("CTFpupilData").children("Pupil")) {
    ++position;
    const std::string raw_upn = Text(pupil, "UPN");
    const std::string where = absl::StrCat(source, ": pupil ", position, raw_upn.empty() ? "" : " (UPN ", raw_upn,
                                           raw_upn.empty() ? "" : ")");
    if (raw_upn.empty()) {
      file.problems.push_back(absl::StrCat(where, ": no UPN; left out"));
      continue;
    }
    if (!IsValidUpn(raw_upn)) {
      file.problems.push_back(absl::StrCat(where, ": UPN fails its check letter; left out"));
      continue;
    }
    CtfPupil out;
    out.upn = absl::AsciiStrToUpper(raw_upn);
    if (!seen.insert(out.upn).second) {
      file.problems.push_back(absl::StrCat(where, ": the same UPN appears earlier in the file; this copy left out"));
      continue;
    }
    const pugi::xml_node basic = pupil.child("BasicDetails");
    accord::v1::IdentityRecord& id = out.identity;
    id.set_upn(out.upn);
    id.set_family_name(TextOf(pupil, {"Surname"}));
    id.set_given_name(TextOf(pupil, {"Forename"}));
    const std::string dob = Text(pupil, "DOB");
    id.set_birth_date(Date(dob));
    if (!dob.empty() && id.birth_date().empty()) {
      file.problems.push_back(absl::StrCat(where, ": DOB \"", dob, "\" is not a date; left empty"));
    }
    std::string sex = TextOf(pupil, {"Sex", "Gender"});
    if (sex.empty()) sex = TextOf(basic, {"Sex", "Gender"});
    id.set_gender(Gender(sex));
    ReadAddress(pupil.child("Address"), &id);

    out.education.set_school_id(school_id);
    out.education.set_school_name(school_name);
    std::string year = TextOf(pupil, {"NCyearActual"});
    if (year.empty()) year = TextOf(basic, {"NCyearActual"});
    out.education.set_year_group(year);
    for (const pugi::xml_node& s : pupil.child("SchoolHistory").children("School")) {
      if (Text(s, "Estab") == estab && !estab.empty()) out.education.set_entry_date(Date(Text(s, "EntryDate")));
    }

    const pugi::xml_node sen_history = pupil.child("SENhistory");
    std::vector<std::pair<int, std::string>> needs;
    for (const pugi::xml_node& need : sen_history.child("SENneeds").children("SENneed")) {
      int rank = 9;
      (void)absl::SimpleAtoi(Text(need, "SENtypeRank"), &rank);
      if (std::string type = Text(need, "SENtype"); !type.empty()) needs.emplace_back(rank, type);
    }
    std::stable_sort(needs.begin(), needs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const pugi::xml_node& sen : sen_history.children("SEN")) {
      const std::string provision = absl::AsciiStrToUpper(Text(sen, "SENprovision"));
      if (provision != "N" && provision != "K" && provision != "E" && provision != "S" && provision != "A" &&
          provision != "P") {
        file.problems.push_back(
            absl::StrCat(where, ": SEN provision \"", provision, "\" is not a DfE code; that entry left out"));
        continue;
      }
      accord::v1::SenRecord record;
      record.set_provision(provision);
      record.set_start_date(Date(Text(sen, "StartDate")));
      for (const auto& [rank, type] : needs) record.add_needs(type);
      out.sen.push_back(std::move(record));
    }

    for (const pugi::xml_node& year_data : pupil.child("Attendance").children("YearData")) {
      bool bad = false;
      accord::v1::AttendanceRecord record;
      record.set_period(Period(Text(year_data, "Year")));
      record.set_start_date(Date(TextOf(year_data, {"AttendanceStartDate", "StartDate"})));
      record.set_sessions_possible(Int(year_data, "SessionsPossible", &bad));
      record.set_sessions_authorised_absence(Int(year_data, "SessionsAuthorised", &bad));
      record.set_sessions_unauthorised_absence(Int(year_data, "SessionsUnauthorised", &bad));
      if (year_data.child("SessionsAttended")) {
        record.set_sessions_attended(Int(year_data, "SessionsAttended", &bad));
      } else {
        record.set_sessions_attended(record.sessions_possible() - record.sessions_authorised_absence() -
                                     record.sessions_unauthorised_absence());
      }
      if (!bad && record.sessions_attended() < 0) bad = true;
      if (bad || record.period().empty()) {
        file.problems.push_back(absl::StrCat(where, ": attendance for year \"", Text(year_data, "Year"),
                                             "\" has missing or inconsistent session counts; that year left out"));
        continue;
      }
      out.attendance.push_back(std::move(record));
    }
    file.pupils.push_back(std::move(out));
  }
  return file;
}

}  // namespace accord::ctf_school
