// Conformance: the UPNs in ../shared/samples/identifiers.tsv (real, published by others) are judged
// as their sources say. The samples folder sits beside the checkout; without it this test fails.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "plugins/ctf_school/ctf_parser.h"

namespace accord::ctf_school {
namespace {

TEST(CtfSchoolConformanceTest, PublishedUpnsAreJudgedAsTheirSourcesSay) {
  const char* source_dir = std::getenv("ACCORD_SOURCE_DIR");
  ASSERT_TRUE(source_dir != nullptr && *source_dir != '\0') << "ACCORD_SOURCE_DIR is not set (run through ctest)";
  const auto path = std::filesystem::path(source_dir) / ".." / "shared" / "samples" / "identifiers.tsv";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "the samples file " << path << " is missing: this conformance test needs ../shared/samples";
  std::string line;
  int upns = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> cols = absl::StrSplit(line, '\t');
    if (cols.size() < 3 || cols[0] != "upn") continue;
    ++upns;
    EXPECT_EQ(IsValidUpn(cols[1]), cols[2] == "yes") << cols[1];
  }
  EXPECT_GE(upns, 3) << "expected UPN rows in " << path;
}

}  // namespace
}  // namespace accord::ctf_school
