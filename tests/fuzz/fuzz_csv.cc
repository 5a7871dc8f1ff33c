// Feeds arbitrary bytes to the CSV reader (plugins/csv_dropfolder) and checks that nothing
// crashes, leaks or hits undefined behaviour, and that: records and errors come in line order
// from line 1; every record writes back (CsvLine) and reads again to the same fields; a status
// file's rows are either a change with a referral and a state, or rejected with a line number.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "plugins/csv_dropfolder/csv_format.h"
#include "tests/fuzz/fuzz_check.h"

using accord::csv_dropfolder::CsvLine;
using accord::csv_dropfolder::ParseCsv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  accord::csv_dropfolder::CsvTable table = ParseCsv(input);
  int last = 0;
  for (const auto& r : table.records) {
    FUZZ_CHECK(r.line > last);
    last = r.line;
    bool formula = false;
    for (const auto& f : r.fields)
      formula = formula || (!f.empty() && (f[0] == '=' || f[0] == '+' || f[0] == '-' || f[0] == '@'));
    if (formula) continue;  // written with a leading apostrophe on purpose
    accord::csv_dropfolder::CsvTable again = ParseCsv(CsvLine(r.fields));
    FUZZ_CHECK(again.errors.empty());
    FUZZ_CHECK(again.records.size() == 1);
    FUZZ_CHECK(again.records[0].fields == r.fields);
  }
  for (const auto& e : table.errors) FUZZ_CHECK(e.line >= 1);
  accord::csv_dropfolder::StatusFile status = accord::csv_dropfolder::ReadStatusCsv(input);
  for (const auto& c : status.changes) {
    FUZZ_CHECK(absl::StartsWith(c.referral(), "referrals/") && c.referral().size() > 10);
    FUZZ_CHECK(c.state() != accord::v1::REFERRAL_STATE_UNSPECIFIED);
  }
  for (const auto& e : status.rejected) FUZZ_CHECK(e.line >= 0 && !e.message.empty());
  return 0;
}
