// CSV as the voluntary sector's spreadsheets exchange it (RFC 4180), for referrals out and status
// decisions in.
//
// Reading is per record: a malformed record (a quote inside an unquoted field, text after a
// closing quote, a quoted field never closed) becomes an error naming the line it starts on, and
// reading goes on at the next line. A status file's rows are checked one by one and a row is
// either used whole or rejected whole, with its line number and why; never partly. All functions
// are thread-safe.
//
// Status files: a header row naming the columns (any order, any case): referral_id and status are
// required, reason and changed_at optional. referral_id is the referral's id (or its name
// "referrals/{id}"); status one of
//   delivered | received -> DELIVERED,  accepted -> ACCEPTED,  declined | rejected -> DECLINED,
//   waitlisted -> WAITLISTED,  active | started -> ACTIVE,  closed | completed -> CLOSED
// (any case); changed_at a date (YYYY-MM-DD) or an RFC 3339 time. The last record must end with a
// line break: a file without one may have been cut short, so its last row is rejected.
#ifndef ACCORD_PLUGINS_CSV_DROPFOLDER_CSV_FORMAT_H_
#define ACCORD_PLUGINS_CSV_DROPFOLDER_CSV_FORMAT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "accord/plugin/v1/adapter.pb.h"
#include "accord/v1/referral.pb.h"
#include "accord/v1/subject.pb.h"

namespace accord::csv_dropfolder {

struct CsvRecord {
  // The line the record starts on, from 1.
  int line = 0;
  std::vector<std::string> fields;
  // The record's text as in the file, without its line break.
  std::string raw;
  // Whether a line break ended it (false only for the last record of a file without one).
  bool terminated = true;
};

struct CsvError {
  int line = 0;
  std::string message;
  std::string raw;
};

struct CsvTable {
  std::vector<CsvRecord> records;
  std::vector<CsvError> errors;
};

// RFC 4180 records (CRLF or LF line breaks; a UTF-8 byte order mark is skipped; blank lines are
// ignored).
CsvTable ParseCsv(absl::string_view text);

// One record: fields quoted where RFC 4180 needs it, ended by CRLF. A field starting with = + - @
// (which a spreadsheet would run as a formula) is written with a leading apostrophe.
std::string CsvLine(const std::vector<std::string>& fields);

struct StatusFile {
  std::vector<plugin::v1::StatusChange> changes;
  // Rows not used, each with its line number and why.
  std::vector<CsvError> rejected;
};

StatusFile ReadStatusCsv(absl::string_view text);

// The referral as a CSV file: a header and one row of the fields the referral carries.
// `child` and `ids` are who the child is, as the hub sends them only when IDENTITY is carried;
// their columns are empty otherwise.
std::string ReferralCsv(const accord::v1::Referral& referral, const accord::v1::Demographics& child = {},
                        const accord::v1::SubjectIdentifiers& ids = {});

}  // namespace accord::csv_dropfolder

#endif  // ACCORD_PLUGINS_CSV_DROPFOLDER_CSV_FORMAT_H_
