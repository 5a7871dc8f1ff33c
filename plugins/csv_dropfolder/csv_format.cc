#include "plugins/csv_dropfolder/csv_format.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"

namespace accord::csv_dropfolder {
namespace {

constexpr size_t kMaxReason = 2000;

bool SafeId(absl::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string Name(const std::string& enum_name, absl::string_view prefix) {
  return std::string(absl::StripPrefix(enum_name, prefix));
}

}  // namespace

CsvTable ParseCsv(absl::string_view text) {
  CsvTable table;
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  const size_t n = text.size();
  size_t i = 0;
  int line = 1;
  while (i < n) {
    const int start_line = line;
    const size_t start = i;
    std::vector<std::string> fields;
    std::string field;
    std::string error;
    bool terminated = false;
    while (true) {
      if (text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          const char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\n') ++line;
          field.push_back(c);
          ++i;
        }
        if (!closed) {
          error = "a quoted field is not closed before the end of the file";
          break;
        }
        if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          error = "text after a closing quote (a quote inside a field is written twice)";
          break;
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"') {
            error = "a quote inside an unquoted field (quote the whole field)";
            break;
          }
          field.push_back(text[i]);
          ++i;
        }
        if (!error.empty()) break;
      }
      fields.push_back(std::move(field));
      field.clear();
      if (i >= n) break;
      if (text[i] == ',') {
        ++i;
        if (i >= n) {
          fields.emplace_back();
          break;
        }
        continue;
      }
      if (text[i] == '\r') ++i;
      if (i < n && text[i] == '\n') ++i;
      ++line;
      terminated = true;
      break;
    }
    if (!error.empty()) {
      // Go on at the next physical line; the lines of this record are set aside whole.
      while (i < n && text[i] != '\n') ++i;
      size_t end = i;
      if (i < n) {
        ++i;
        ++line;
      }
      absl::string_view raw = text.substr(start, end - start);
      table.errors.push_back({start_line, error, std::string(absl::StripSuffix(raw, "\r"))});
      continue;
    }
    absl::string_view raw = text.substr(start, i - start);
    while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r')) raw.remove_suffix(1);
    if (fields.size() == 1 && fields[0].empty()) continue;  // a blank line
    table.records.push_back({start_line, std::move(fields), std::string(raw), terminated});
  }
  return table;
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t k = 0; k < fields.size(); ++k) {
    if (k > 0) out.push_back(',');
    std::string f = fields[k];
    if (!f.empty() && (f[0] == '=' || f[0] == '+' || f[0] == '-' || f[0] == '@')) f.insert(0, "'");
    // Quoted: separators, quotes and line breaks; edge spaces; and a leading byte order mark, which
    // a reader would otherwise take for the file's own.
    if (f.find_first_of(",\"\r\n") != std::string::npos || (!f.empty() && (f.front() == ' ' || f.back() == ' ')) ||
        absl::StartsWith(f, "\xEF\xBB\xBF")) {
      std::string quoted = "\"";
      for (char c : f) {
        if (c == '"') quoted.push_back('"');
        quoted.push_back(c);
      }
      quoted.push_back('"');
      f = std::move(quoted);
    }
    out += f;
  }
  out += "\r\n";
  return out;
}

StatusFile ReadStatusCsv(absl::string_view text) {
  StatusFile out;
  CsvTable table = ParseCsv(text);
  out.rejected = std::move(table.errors);
  if (table.records.empty()) return out;
  // The header.
  const CsvRecord& header = table.records.front();
  std::map<std::string, size_t> column;
  for (size_t k = 0; k < header.fields.size(); ++k) {
    column[absl::AsciiStrToLower(absl::StripAsciiWhitespace(header.fields[k]))] = k;
  }
  if (!column.count("referral_id") || !column.count("status")) {
    for (const CsvRecord& r : table.records) {
      out.rejected.push_back({r.line,
                              r.line == header.line ? "the header must name the columns referral_id and status"
                                                    : "the file has no usable header row",
                              r.raw});
    }
    std::sort(out.rejected.begin(), out.rejected.end(), [](const auto& a, const auto& b) { return a.line < b.line; });
    return out;
  }
  static const auto* kStates = new std::map<std::string, accord::v1::ReferralState>{
      {"delivered", accord::v1::REFERRAL_STATE_DELIVERED}, {"received", accord::v1::REFERRAL_STATE_DELIVERED},
      {"accepted", accord::v1::REFERRAL_STATE_ACCEPTED},   {"declined", accord::v1::REFERRAL_STATE_DECLINED},
      {"rejected", accord::v1::REFERRAL_STATE_DECLINED},   {"waitlisted", accord::v1::REFERRAL_STATE_WAITLISTED},
      {"active", accord::v1::REFERRAL_STATE_ACTIVE},       {"started", accord::v1::REFERRAL_STATE_ACTIVE},
      {"closed", accord::v1::REFERRAL_STATE_CLOSED},       {"completed", accord::v1::REFERRAL_STATE_CLOSED}};
  auto get = [&](const CsvRecord& r, const char* name) -> std::string {
    auto it = column.find(name);
    return it == column.end() ? "" : std::string(absl::StripAsciiWhitespace(r.fields[it->second]));
  };
  for (size_t k = 1; k < table.records.size(); ++k) {
    const CsvRecord& r = table.records[k];
    auto reject = [&](std::string why) { out.rejected.push_back({r.line, std::move(why), r.raw}); };
    if (!r.terminated) {
      reject("the last row has no line break: the file may have been cut short");
      continue;
    }
    if (r.fields.size() != header.fields.size()) {
      reject(absl::StrCat("has ", r.fields.size(), " fields; the header has ", header.fields.size()));
      continue;
    }
    const std::string id(absl::StripPrefix(get(r, "referral_id"), "referrals/"));
    if (!SafeId(id)) {
      reject(absl::StrCat("referral_id \"", get(r, "referral_id"), "\" is not a referral id"));
      continue;
    }
    const std::string status = absl::AsciiStrToLower(get(r, "status"));
    auto state = kStates->find(status);
    if (state == kStates->end()) {
      reject(absl::StrCat("status \"", get(r, "status"), "\" is not one of delivered, accepted, declined, waitlisted, ",
                          "active, closed"));
      continue;
    }
    const std::string reason = get(r, "reason");
    if (reason.size() > kMaxReason) {
      reject(absl::StrCat("reason is ", reason.size(), " characters; at most ", kMaxReason));
      continue;
    }
    plugin::v1::StatusChange change;
    std::string when = get(r, "changed_at");
    if (!when.empty()) {
      if (when.size() == 10) when += "T00:00:00Z";
      if (!google::protobuf::util::TimeUtil::FromString(when, change.mutable_time())) {
        reject(absl::StrCat("changed_at \"", get(r, "changed_at"), "\" is not a date or an RFC 3339 time"));
        continue;
      }
    }
    change.set_referral(absl::StrCat("referrals/", id));
    change.set_state(state->second);
    change.set_reason(reason);
    out.changes.push_back(std::move(change));
  }
  std::sort(out.rejected.begin(), out.rejected.end(), [](const auto& a, const auto& b) { return a.line < b.line; });
  return out;
}

std::string ReferralCsv(const accord::v1::Referral& referral, const accord::v1::Demographics& child,
                        const accord::v1::SubjectIdentifiers& ids) {
  std::vector<std::string> needs;
  for (const auto& need : referral.needs()) {
    needs.push_back(
        absl::StrCat(Name(accord::v1::NeedType_Name(need.type()), "NEED_TYPE_"), ":", static_cast<int>(need.level())));
  }
  std::vector<std::string> categories;
  for (int c : referral.data_categories()) {
    categories.push_back(
        Name(accord::v1::DataCategory_Name(static_cast<accord::v1::DataCategory>(c)), "DATA_CATEGORY_"));
  }
  std::string lawful_basis;
  if (referral.has_lawful_basis()) {
    lawful_basis = Name(accord::v1::LawfulBasisKind_Name(referral.lawful_basis().kind()), "LAWFUL_BASIS_KIND_");
  }
  std::string created;
  if (referral.has_create_time()) created = google::protobuf::util::TimeUtil::ToString(referral.create_time());
  std::string urgency;
  if (referral.urgency() != accord::v1::URGENCY_UNSPECIFIED) {
    urgency = Name(accord::v1::Urgency_Name(referral.urgency()), "URGENCY_");
  }
  return CsvLine({"referral_id", "service", "referrer", "subject", "given_name", "family_name", "birth_date",
                  "postcode", "nhs_number", "upn", "urgency", "needs", "background", "consent", "lawful_basis",
                  "lawful_basis_justification", "data_categories", "created"}) +
         CsvLine({std::string(absl::StripPrefix(referral.name(), "referrals/")), referral.service(),
                  referral.referrer(), referral.subject(), child.given_name(), child.family_name(), child.birth_date(),
                  child.postcode(), ids.nhs_number(), ids.upn(), urgency, absl::StrJoin(needs, ";"), referral.background(),
                  referral.consent(), lawful_basis,
                  referral.has_lawful_basis() ? referral.lawful_basis().justification() : "",
                  absl::StrJoin(categories, ";"), created});
}

}  // namespace accord::csv_dropfolder
