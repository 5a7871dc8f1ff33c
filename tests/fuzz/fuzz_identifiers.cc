// Feeds arbitrary bytes to ValidateNhsNumber, ValidateUpn and ValidatePostcode and checks, against
// small independent re-statements of the published rules:
//  - nothing crashes, leaks or hits undefined behaviour (ASan, UBSan);
//  - a refusal is INVALID_ARGUMENT whose message starts with the field;
//  - an accepted value is in canonical form, obeys the format and its check character, and
//    re-validates to itself;
//  - a canonical value that obeys the rules is never refused.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "hub/domain/identifiers.h"

namespace {

using ::accord::domain::ValidateNhsNumber;
using ::accord::domain::ValidatePostcode;
using ::accord::domain::ValidateUpn;

constexpr absl::string_view kField = "fuzz.field";
constexpr absl::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// NHS Data Dictionary: weights 10..2 over the first nine digits; 11 - (sum mod 11), 11 -> 0,
// 10 -> no valid number.
bool NhsRulesHold(absl::string_view s) {
  if (s.size() != 10 || !AllDigits(s)) return false;
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (s[i] - '0') * (10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  return check != 10 && s[9] - '0' == check;
}

// GovTalk UPN v2.0: check letter, 11 digits, a digit or alphabet letter; characters 2..13 weighted
// by their position, sum mod 23 indexes the alphabet.
bool UpnRulesHold(absl::string_view s) {
  if (s.size() != 13 || !AllDigits(s.substr(1, 11))) return false;
  char last = s[12];
  if (!IsDigit(last) && kUpnAlphabet.find(last) == absl::string_view::npos) return false;
  int sum = 0;
  for (int i = 1; i < 13; ++i) {
    int value = IsDigit(s[i]) ? s[i] - '0' : static_cast<int>(kUpnAlphabet.find(s[i]));
    sum += value * (i + 1);
  }
  return s[0] == kUpnAlphabet[static_cast<size_t>(sum % 23)];
}

// "OUTWARD INWARD": A9, A99, AA9, AA99, A9A or AA9A, a space, 9AA; or "GIR 0AA".
bool PostcodeRulesHold(absl::string_view s) {
  if (s == "GIR 0AA") return true;
  size_t space = s.find(' ');
  if (space == absl::string_view::npos || s.size() != space + 4) return false;
  absl::string_view inward = s.substr(space + 1);
  if (!IsDigit(inward[0]) || !IsUpper(inward[1]) || !IsUpper(inward[2])) return false;
  std::string shape;
  for (char c : s.substr(0, space)) {
    if (IsDigit(c)) shape.push_back('9');
    else if (IsUpper(c)) shape.push_back('A');
    else return false;
  }
  return shape == "A9" || shape == "A99" || shape == "AA9" || shape == "AA99" || shape == "A9A" || shape == "AA9A";
}

template <typename Validate, typename Rules>
void Check(absl::string_view input, Validate validate, Rules rules_hold) {
  absl::StatusOr<std::string> result = validate(input, kField);
  if (!result.ok()) {
    FUZZ_CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(result.status().message(), "fuzz.field: "));
    // Completeness: an input already in canonical form that obeys the rules is accepted.
    FUZZ_CHECK(!rules_hold(input));
    return;
  }
  FUZZ_CHECK(rules_hold(*result));
  absl::StatusOr<std::string> again = validate(*result, kField);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *result);
  if (rules_hold(input)) FUZZ_CHECK(*result == input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  Check(input, ValidateNhsNumber, NhsRulesHold);
  Check(input, ValidateUpn, UpnRulesHold);
  Check(input, ValidatePostcode, PostcodeRulesHold);
  return 0;
}
