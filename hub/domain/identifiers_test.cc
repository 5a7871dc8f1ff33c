#include "hub/domain/identifiers.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace accord::domain {
namespace {

// The status's message, or "OK".
std::string Message(const absl::StatusOr<std::string>& r) {
  return r.ok() ? "OK" : std::string(r.status().message());
}

bool IsInvalid(const absl::StatusOr<std::string>& r) {
  return r.status().code() == absl::StatusCode::kInvalidArgument;
}

// ---------------------------------------------------------------------------------------------
// NHS number

TEST(NhsNumberTest, AcceptsTenDigitsWithTheRightCheckDigit) {
  EXPECT_EQ(ValidateNhsNumber("9434765919").value(), "9434765919");
  EXPECT_EQ(ValidateNhsNumber("9434765870").value(), "9434765870");
  // 11 - (330 mod 11) = 11, which means check digit 0.
  EXPECT_EQ(ValidateNhsNumber("9876543210").value(), "9876543210");
}

TEST(NhsNumberTest, NormalisesTheThreeThreeFourForm) {
  EXPECT_EQ(ValidateNhsNumber("943 476 5919").value(), "9434765919");
  EXPECT_EQ(ValidateNhsNumber("943-476-5919").value(), "9434765919");
  EXPECT_EQ(ValidateNhsNumber("943 476-5919").value(), "9434765919");
  EXPECT_EQ(ValidateNhsNumber("  9434765919\n").value(), "9434765919");
  EXPECT_EQ(ValidateNhsNumber("\t943 476 5919 ").value(), "9434765919");
}

TEST(NhsNumberTest, SaysExactlyWhatIsWrong) {
  EXPECT_EQ(Message(ValidateNhsNumber("9434765918")), "nhs_number: check digit mismatch (expected 9)");
  EXPECT_EQ(Message(ValidateNhsNumber("9999999993")), "nhs_number: check digit mismatch (expected 9)");
  EXPECT_EQ(Message(ValidateNhsNumber("94347659")), "nhs_number: must be 10 digits (found 8)");
  EXPECT_EQ(Message(ValidateNhsNumber("94347659190")), "nhs_number: must be 10 digits (found 11)");
  EXPECT_EQ(Message(ValidateNhsNumber("")), "nhs_number: is required");
  EXPECT_EQ(Message(ValidateNhsNumber("   ")), "nhs_number: is required");
  EXPECT_EQ(Message(ValidateNhsNumber("94347A5919")),
            "nhs_number: unexpected character 'A' at position 6 (only digits, spaces and '-' are allowed)");
  EXPECT_EQ(Message(ValidateNhsNumber("943.476.5919")),
            "nhs_number: unexpected character '.' at position 4 (only digits, spaces and '-' are allowed)");
  EXPECT_EQ(Message(ValidateNhsNumber("9434 765919")),
            "nhs_number: separators are allowed only between groups of 3, 3 and 4 digits");
  EXPECT_EQ(Message(ValidateNhsNumber("943  476 5919")),
            "nhs_number: separators are allowed only between groups of 3, 3 and 4 digits");
  EXPECT_EQ(Message(ValidateNhsNumber("94 3476 5919")),
            "nhs_number: separators are allowed only between groups of 3, 3 and 4 digits");
  // Weighted sum 210; 11 - (210 mod 11) = 10: no number may start with these nine digits.
  EXPECT_EQ(Message(ValidateNhsNumber("1234567890")),
            "nhs_number: the first nine digits give check digit 10, so no valid NHS number starts with them");
  for (const char* bad : {"9434765918", "94347659", "94347A5919", "1234567890", "9434 765919"}) {
    EXPECT_TRUE(IsInvalid(ValidateNhsNumber(bad))) << bad;
  }
}

TEST(NhsNumberTest, NamesTheCallersFieldAndNeverEchoesTheNumber) {
  auto r = ValidateNhsNumber("9434765918", "subject.identifiers[2].nhs_number");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("subject.identifiers[2].nhs_number: "), 0u);
  EXPECT_EQ(r.status().message().find("943476591"), absl::string_view::npos);
}

TEST(NhsNumberTest, CheckDigit) {
  EXPECT_EQ(NhsNumberCheckDigit("943476591"), 9);
  EXPECT_EQ(NhsNumberCheckDigit("987654321"), 0);
  EXPECT_EQ(NhsNumberCheckDigit("900000001"), 7);
  EXPECT_EQ(NhsNumberCheckDigit("123456789"), std::nullopt);  // gives 10
  EXPECT_EQ(NhsNumberCheckDigit("12345678"), std::nullopt);
  EXPECT_EQ(NhsNumberCheckDigit("1234567890"), std::nullopt);
  EXPECT_EQ(NhsNumberCheckDigit("12345678a"), std::nullopt);
}

// Exactly one final digit completes a nine-digit prefix, unless its check digit would be 10.
TEST(NhsNumberTest, OneCompletionPerPrefix) {
  for (int n = 0; n < 1'000'000'000; n += 7'654'321) {
    std::string prefix = absl::StrCat(n);
    prefix.insert(0, 9 - prefix.size(), '0');
    int valid = 0;
    for (char last = '0'; last <= '9'; ++last) valid += ValidateNhsNumber(prefix + last).ok() ? 1 : 0;
    EXPECT_EQ(valid, NhsNumberCheckDigit(prefix).has_value() ? 1 : 0) << prefix;
  }
}

// Modulus 11 with weights 10..2 (and 1 for the check digit) catches every single wrong digit and
// every swap of two different neighbouring digits.
TEST(NhsNumberTest, DetectsSingleDigitErrorsAndTranspositions) {
  int checked = 0;
  for (int n = 100'000'000; n < 1'000'000'000 && checked < 300; n += 2'999'999) {
    std::string prefix = absl::StrCat(n);
    std::optional<int> check = NhsNumberCheckDigit(prefix);
    if (!check.has_value()) continue;
    std::string number = absl::StrCat(prefix, *check);
    ASSERT_TRUE(ValidateNhsNumber(number).ok()) << number;
    ++checked;
    for (size_t i = 0; i < 10; ++i) {
      for (char d = '0'; d <= '9'; ++d) {
        if (d == number[i]) continue;
        std::string typo = number;
        typo[i] = d;
        EXPECT_FALSE(ValidateNhsNumber(typo).ok()) << number << " -> " << typo;
      }
      if (i + 1 < 10 && number[i] != number[i + 1]) {
        std::string swapped = number;
        std::swap(swapped[i], swapped[i + 1]);
        EXPECT_FALSE(ValidateNhsNumber(swapped).ok()) << number << " -> " << swapped;
      }
    }
  }
  EXPECT_GT(checked, 200);
}

// ---------------------------------------------------------------------------------------------
// UPN

TEST(UpnTest, AcceptsPermanentUpns) {
  EXPECT_EQ(ValidateUpn("B801200005001").value(), "B801200005001");
  // 2*2 + 7*4 + 1*9 + 6*10 + 4*12 + 9*13 = 266; 266 mod 23 = 13 -> P.
  EXPECT_EQ(ValidateUpn("P207000016049").value(), "P207000016049");
}

TEST(UpnTest, NormalisesCaseAndSurroundingSpace) {
  EXPECT_EQ(ValidateUpn("b801200005001").value(), "B801200005001");
  EXPECT_EQ(ValidateUpn("  B801200005001\t").value(), "B801200005001");
}

TEST(UpnTest, AcceptsTemporaryUpns) {
  // Characters 2-12 weigh 80; the final letter counts its index in ABCDEFGHJKLMNPQRTUVWXYZ.
  EXPECT_EQ(ValidateUpn("M80120000500A").value(), "M80120000500A");  // 80 + 0*13 = 80 -> 11 -> M
  EXPECT_EQ(ValidateUpn("B80120000500B").value(), "B80120000500B");  // 80 + 1*13 = 93 -> 1 -> B
  EXPECT_EQ(ValidateUpn("Y80120000500Z").value(), "Y80120000500Z");  // 80 + 22*13 = 366 -> 21 -> Y
  EXPECT_EQ(ValidateUpn("y80120000500z").value(), "Y80120000500Z");
  EXPECT_EQ(ValidateUpn("N80120000500T").value(), "N80120000500T");  // 80 + 16*13 = 288 -> 12 -> N
}

TEST(UpnTest, CheckLetter) {
  EXPECT_EQ(UpnCheckLetter("801200005001"), 'B');
  EXPECT_EQ(UpnCheckLetter("207000016049"), 'P');
  EXPECT_EQ(UpnCheckLetter("80120000500A"), 'M');
  EXPECT_EQ(UpnCheckLetter("000000000000"), 'A');
  EXPECT_EQ(UpnCheckLetter("80120000500"), std::nullopt);   // 11 characters
  EXPECT_EQ(UpnCheckLetter("80120000A001"), std::nullopt);  // letter before position 13
  EXPECT_EQ(UpnCheckLetter("80120000500I"), std::nullopt);  // I is not in the alphabet
  EXPECT_EQ(UpnCheckLetter("80120000500a"), std::nullopt);  // upper case only
}

TEST(UpnTest, SaysExactlyWhatIsWrong) {
  EXPECT_EQ(Message(ValidateUpn("A801200005001")), "upn: check letter mismatch (expected B)");
  EXPECT_EQ(Message(ValidateUpn("B80120000500")), "upn: must be 13 characters (found 12)");
  EXPECT_EQ(Message(ValidateUpn("B8012000050011")), "upn: must be 13 characters (found 14)");
  EXPECT_EQ(Message(ValidateUpn("")), "upn: is required");
  EXPECT_EQ(Message(ValidateUpn("8801200005001")), "upn: character 1 must be the check letter (found '8')");
  EXPECT_EQ(Message(ValidateUpn("I801200005001")),
            "upn: character 1 is 'I', which is never a check letter (I, O and S are not used)");
  EXPECT_EQ(Message(ValidateUpn("S801200005001")),
            "upn: character 1 is 'S', which is never a check letter (I, O and S are not used)");
  EXPECT_EQ(Message(ValidateUpn("X80120000A001")), "upn: character 10 must be a digit (found 'A')");
  EXPECT_EQ(Message(ValidateUpn("B8012 0005001")), "upn: character 6 must be a digit (found a space)");
  EXPECT_EQ(Message(ValidateUpn("B80120000500O")),
            "upn: character 13 must be a digit, or for a temporary UPN a letter other than I, O and S "
            "(found 'O')");
  EXPECT_EQ(Message(ValidateUpn("B80120000500-")),
            "upn: character 13 must be a digit, or for a temporary UPN a letter other than I, O and S "
            "(found '-')");
  EXPECT_EQ(Message(ValidateUpn("B80120000500\x01")),
            "upn: character 13 must be a digit, or for a temporary UPN a letter other than I, O and S "
            "(found byte 0x01)");
  EXPECT_EQ(ValidateUpn("A801200005001", "pupil.upn").status().message().find("pupil.upn: "), 0u);
}

// Weights 2..13 are all non-zero mod 23 and digits differ by less than 23, so any single wrong
// character in positions 2-13 changes the check letter.
TEST(UpnTest, DetectsEverySingleDigitError) {
  const std::string upn = "B801200005001";
  for (size_t i = 1; i < 13; ++i) {
    for (char d = '0'; d <= '9'; ++d) {
      if (d == upn[i]) continue;
      std::string typo = upn;
      typo[i] = d;
      EXPECT_FALSE(ValidateUpn(typo).ok()) << typo;
    }
  }
  int valid_first_letters = 0;
  for (char c = 'A'; c <= 'Z'; ++c) {
    std::string other = upn;
    other[0] = c;
    valid_first_letters += ValidateUpn(other).ok() ? 1 : 0;
  }
  EXPECT_EQ(valid_first_letters, 1);
}

// ---------------------------------------------------------------------------------------------
// Postcode

TEST(PostcodeTest, NormalisesEveryShape) {
  EXPECT_EQ(ValidatePostcode("M1 1AE").value(), "M1 1AE");      // A9
  EXPECT_EQ(ValidatePostcode("B33 8TH").value(), "B33 8TH");    // A99
  EXPECT_EQ(ValidatePostcode("CR2 6XH").value(), "CR2 6XH");    // AA9
  EXPECT_EQ(ValidatePostcode("DN55 1PT").value(), "DN55 1PT");  // AA99
  EXPECT_EQ(ValidatePostcode("W1A 0AX").value(), "W1A 0AX");    // A9A
  EXPECT_EQ(ValidatePostcode("EC1A 1BB").value(), "EC1A 1BB");  // AA9A
  EXPECT_EQ(ValidatePostcode("sw1a1aa").value(), "SW1A 1AA");
  EXPECT_EQ(ValidatePostcode("  Sw1A   1aA \n").value(), "SW1A 1AA");
  EXPECT_EQ(ValidatePostcode("S W 1 A 1 A A").value(), "SW1A 1AA");
  EXPECT_EQ(ValidatePostcode("gir0aa").value(), "GIR 0AA");
}

TEST(PostcodeTest, SaysWhyItIsRefused) {
  EXPECT_EQ(Message(ValidatePostcode("")), "postcode: is required");
  EXPECT_EQ(Message(ValidatePostcode("  ")), "postcode: is required");
  EXPECT_EQ(Message(ValidatePostcode("SW1A-1AA")),
            "postcode: unexpected character '-' at position 5 (only letters, digits and spaces are allowed)");
  EXPECT_EQ(Message(ValidatePostcode("M11A")), "postcode: must be 5-7 letters and digits (found 4)");
  EXPECT_EQ(Message(ValidatePostcode("SW1A 1AAA")), "postcode: must be 5-7 letters and digits (found 8)");
  const std::string inward =
      "postcode: the inward code (last 3 characters) must be a digit followed by two letters";
  EXPECT_EQ(Message(ValidatePostcode("SW1A 11A")), inward);
  EXPECT_EQ(Message(ValidatePostcode("SW1A AAA")), inward);
  EXPECT_EQ(Message(ValidatePostcode("SW1A 1A1")), inward);
  const std::string outward =
      "postcode: the outward code (before the last 3 characters) must be shaped A9, A99, AA9, AA99, A9A "
      "or AA9A (A = letter, 9 = digit)";
  EXPECT_EQ(Message(ValidatePostcode("1W1A 1AA")), outward);
  EXPECT_EQ(Message(ValidatePostcode("SWA 1AA")), outward);
  EXPECT_EQ(Message(ValidatePostcode("S1AA 1AA")), outward);
  EXPECT_EQ(Message(ValidatePostcode("99 1AA")), outward);
  EXPECT_EQ(Message(ValidatePostcode("GIR 1AA")), outward);  // only GIR 0AA is special
  EXPECT_EQ(ValidatePostcode("x", "address.postcode").status().message().find("address.postcode: "), 0u);
}

}  // namespace
}  // namespace accord::domain
