// Reading DfE Common Transfer Files (CTF XML) into Accord's typed records.
//
// A CTF carries a header (the source school) and one <Pupil> per child. ParseCtf reads one file
// and never fails as a whole because of one bad pupil: each pupil it cannot use (no or invalid UPN,
// a repeat of a UPN already in the file) is left out with an entry in `problems`, and every other
// pupil is returned. A file that is not XML at all gives no pupils and one problem.
//
// Tolerance, because real MIS exports vary: `Sex` or (older files) `Gender`; `NCyearActual` directly
// under Pupil or in BasicDetails; placeholder LEA codes such as "XXX" (the school id is then the
// establishment number alone); an XML declaration that names an encoding the bytes are not in
// (bytes that are valid UTF-8 are read as UTF-8; anything else as Windows-1252). Thread-safe; no
// state.
#ifndef ACCORD_PLUGINS_CTF_SCHOOL_CTF_PARSER_H_
#define ACCORD_PLUGINS_CTF_SCHOOL_CTF_PARSER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "accord/v1/record.pb.h"

namespace accord::ctf_school {

struct CtfPupil {
  // Upper case, validated.
  std::string upn;
  accord::v1::IdentityRecord identity;
  accord::v1::EducationRecord education;
  std::vector<accord::v1::SenRecord> sen;
  std::vector<accord::v1::AttendanceRecord> attendance;
};

struct CtfFile {
  // Header/DateTime as written (used to prefer the newest file when a pupil is in several).
  std::string date_time;
  std::vector<CtfPupil> pupils;
  // One line per pupil left out or field ignored, naming the pupil by position and UPN where known.
  std::vector<std::string> problems;
};

// Parses one CTF document. `source` names it in problems (e.g. the file name).
CtfFile ParseCtf(absl::string_view bytes, absl::string_view source);

// A UPN as the DfE defines it: 13 characters, check letter first (temporary UPNs, with a letter
// last, too). Case-insensitive.
bool IsValidUpn(absl::string_view upn);

}  // namespace accord::ctf_school

#endif  // ACCORD_PLUGINS_CTF_SCHOOL_CTF_PARSER_H_
