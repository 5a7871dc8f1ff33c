// Feeds arbitrary bytes to the CTF parser (plugins/ctf_school) and checks that nothing crashes,
// leaks or hits undefined behaviour, and that what it returns keeps its promises: every pupil has
// a valid, upper-case UPN, no UPN twice, and no attendance with negative sessions attended.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "plugins/ctf_school/ctf_parser.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  accord::ctf_school::CtfFile file = accord::ctf_school::ParseCtf(input, "fuzz.xml");
  std::set<std::string> upns;
  for (const auto& pupil : file.pupils) {
    FUZZ_CHECK(accord::ctf_school::IsValidUpn(pupil.upn));
    FUZZ_CHECK(pupil.identity.upn() == pupil.upn);
    for (char c : pupil.upn) FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
    FUZZ_CHECK(upns.insert(pupil.upn).second);
    for (const auto& a : pupil.attendance) FUZZ_CHECK(a.sessions_attended() >= 0);
    for (const auto& s : pupil.sen) FUZZ_CHECK(s.provision().size() == 1);
  }
  return 0;
}
