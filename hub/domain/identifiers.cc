#include "hub/domain/identifiers.h"

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace accord::domain {
namespace {

// The UPN alphabet (GovTalk UPN v2.0): A..Z without I, O and S, indexed 0..22.
constexpr absl::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";
static_assert(kUpnAlphabet.size() == 23);

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

// A character safe to quote in a message: printable ASCII as itself, anything else as a byte code.
std::string Quote(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u <= 0x7e) return absl::StrCat("'", std::string(1, c), "'");
  if (u == ' ') return "a space";
  return absl::StrCat("byte 0x", absl::Hex(u, absl::kZeroPad2));
}

// Index of `c` in the UPN alphabet, or -1.
int UpnLetterIndex(char c) {
  size_t i = kUpnAlphabet.find(c);
  return i == absl::string_view::npos ? -1 : static_cast<int>(i);
}

}  // namespace

std::optional<int> NhsNumberCheckDigit(absl::string_view first_nine) {
  if (first_nine.size() != 9) return std::nullopt;
  int sum = 0;
  for (size_t i = 0; i < 9; ++i) {
    if (!IsDigit(first_nine[i])) return std::nullopt;
    sum += (first_nine[i] - '0') * static_cast<int>(10 - i);
  }
  int check = 11 - sum % 11;
  if (check == 11) return 0;
  if (check == 10) return std::nullopt;
  return check;
}

absl::StatusOr<std::string> ValidateNhsNumber(absl::string_view input, absl::string_view field) {
  absl::string_view s = absl::StripAsciiWhitespace(input);
  if (s.empty()) return Invalid(field, "is required");

  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (IsDigit(c)) {
      digits.push_back(c);
    } else if (c != ' ' && c != '-') {
      return Invalid(field, absl::StrCat("unexpected character ", Quote(c), " at position ", i + 1,
                                         " (only digits, spaces and '-' are allowed)"));
    }
  }
  if (digits.size() != 10) {
    return Invalid(field, absl::StrCat("must be 10 digits (found ", digits.size(), ")"));
  }
  if (s.size() != 10) {
    // Separators are accepted only as the 3-3-4 grouping printed on NHS letters and cards.
    bool grouped = s.size() == 12 && (s[3] == ' ' || s[3] == '-') && (s[7] == ' ' || s[7] == '-');
    if (!grouped) {
      return Invalid(field, "separators are allowed only between groups of 3, 3 and 4 digits");
    }
  }

  std::optional<int> check = NhsNumberCheckDigit(absl::string_view(digits).substr(0, 9));
  if (!check.has_value()) {
    return Invalid(field,
                   "the first nine digits give check digit 10, so no valid NHS number starts "
                   "with them");
  }
  if (digits[9] - '0' != *check) {
    return Invalid(field, absl::StrCat("check digit mismatch (expected ", *check, ")"));
  }
  return digits;
}

std::optional<char> UpnCheckLetter(absl::string_view last_twelve) {
  if (last_twelve.size() != 12) return std::nullopt;
  int sum = 0;
  for (size_t i = 0; i < 12; ++i) {
    char c = last_twelve[i];
    int weight = static_cast<int>(i) + 2;  // character 2 has weight 2, ..., character 13 weight 13
    int value;
    if (IsDigit(c)) {
      value = c - '0';
    } else if (i == 11 && UpnLetterIndex(c) >= 0) {
      value = UpnLetterIndex(c);  // temporary UPN
    } else {
      return std::nullopt;
    }
    sum += weight * value;
  }
  return kUpnAlphabet[static_cast<size_t>(sum % 23)];
}

absl::StatusOr<std::string> ValidateUpn(absl::string_view input, absl::string_view field) {
  std::string upn = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(input));
  if (upn.empty()) return Invalid(field, "is required");
  if (upn.size() != 13) {
    return Invalid(field, absl::StrCat("must be 13 characters (found ", upn.size(), ")"));
  }

  char first = upn[0];
  if (!IsUpper(first)) {
    return Invalid(field, absl::StrCat("character 1 must be the check letter (found ", Quote(first), ")"));
  }
  if (UpnLetterIndex(first) < 0) {
    return Invalid(field, absl::StrCat("character 1 is ", Quote(first),
                                       ", which is never a check letter (I, O and S are not used)"));
  }
  for (size_t i = 1; i < 12; ++i) {
    if (!IsDigit(upn[i])) {
      return Invalid(field,
                     absl::StrCat("character ", i + 1, " must be a digit (found ", Quote(upn[i]), ")"));
    }
  }
  char last = upn[12];
  if (!IsDigit(last) && UpnLetterIndex(last) < 0) {
    return Invalid(field, absl::StrCat("character 13 must be a digit, or for a temporary UPN a letter other "
                                       "than I, O and S (found ",
                                       Quote(last), ")"));
  }

  std::optional<char> check = UpnCheckLetter(absl::string_view(upn).substr(1));
  if (!check.has_value()) return Invalid(field, "cannot compute the check letter");  // unreachable
  if (first != *check) {
    return Invalid(field, absl::StrCat("check letter mismatch (expected ", std::string(1, *check), ")"));
  }
  return upn;
}

absl::StatusOr<std::string> ValidatePostcode(absl::string_view input, absl::string_view field) {
  std::string compact;
  for (size_t i = 0; i < input.size(); ++i) {
    char c = input[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) continue;
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      compact.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
      continue;
    }
    return Invalid(field, absl::StrCat("unexpected character ", Quote(c), " at position ", i + 1,
                                       " (only letters, digits and spaces are allowed)"));
  }
  if (compact.empty()) return Invalid(field, "is required");
  if (compact.size() < 5 || compact.size() > 7) {
    return Invalid(field, absl::StrCat("must be 5-7 letters and digits (found ", compact.size(), ")"));
  }

  absl::string_view outward = absl::string_view(compact).substr(0, compact.size() - 3);
  absl::string_view inward = absl::string_view(compact).substr(compact.size() - 3);
  if (!IsDigit(inward[0]) || !IsUpper(inward[1]) || !IsUpper(inward[2])) {
    return Invalid(field, "the inward code (last 3 characters) must be a digit followed by two letters");
  }

  // Shape of the outward code with A for a letter and 9 for a digit.
  std::string shape;
  for (char c : outward) shape.push_back(IsDigit(c) ? '9' : 'A');
  bool ok = shape == "A9" || shape == "A99" || shape == "AA9" || shape == "AA99" || shape == "A9A" ||
            shape == "AA9A" || (outward == "GIR" && inward == "0AA");
  if (!ok) {
    return Invalid(field,
                   "the outward code (before the last 3 characters) must be shaped A9, A99, AA9, "
                   "AA99, A9A or AA9A (A = letter, 9 = digit)");
  }
  return absl::StrCat(outward, " ", inward);
}

}  // namespace accord::domain
