// accordctl on a real data directory: the CA, enrolment and the credentials bundle it writes.
#include <sys/stat.h>

#include "accord/sdk/client.h"
#include "gtest/gtest.h"
#include "hub/security/verifier.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

using testsupport::HubProcess;

mode_t Mode(const std::filesystem::path& p) {
  struct stat st {};
  stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(AccordctlTest, CaInitCreatesPrivateKeysAndNeverOverwrites) {
  HubProcess hub;  // runs `accordctl ca init`
  EXPECT_EQ(Mode(hub.data_dir() / "ca/ca.key"), 0600u);
  EXPECT_EQ(Mode(hub.data_dir() / "tls/hub.key"), 0600u);
  EXPECT_EQ(Mode(hub.data_dir() / "ca"), 0700u);
  std::string out;
  EXPECT_NE(hub.Accordctl({"ca", "init"}, &out), 0);
  EXPECT_NE(out.find("never overwritten"), std::string::npos) << out;
}

TEST(AccordctlTest, EnrolWritesAWorkingBundle) {
  HubProcess hub;
  auto bundle = hub.Enrol("oakfield", "Oakfield Primary School", "school", "referrer,PROVIDER");
  EXPECT_EQ(Mode(bundle / "client.key"), 0600u);
  auto creds = sdk::LoadCredentials(bundle);
  ASSERT_TRUE(creds.ok()) << creds.status();
  auto verifier = security::ClientCertificateVerifier::Create(creds->ca_certificate_pem);
  auto peer = (*verifier)->Verify(creds->client_certificate_pem, absl::Now());
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->common_name, "oakfield");

  std::string out;
  ASSERT_EQ(hub.Accordctl({"partner", "list"}, &out), 0);
  EXPECT_NE(out.find("oakfield"), std::string::npos);
  EXPECT_NE(out.find("REFERRER,PROVIDER"), std::string::npos) << out;
}

TEST(AccordctlTest, EnrolRefusesBadInputAndChangesNothing) {
  HubProcess hub;
  std::string out;
  EXPECT_EQ(hub.Accordctl({"partner", "enrol", "--name", "X School", "--sector", "PUB", "--roles", "REFERRER"}, &out), 2);
  EXPECT_NE(out.find("--sector"), std::string::npos) << out;
  EXPECT_EQ(hub.Accordctl({"partner", "enrol", "--name", "X School", "--sector", "SCHOOL", "--roles", "BOSS"}, &out), 2);
  EXPECT_NE(out.find("--roles"), std::string::npos) << out;
  EXPECT_EQ(hub.Accordctl({"partner", "enrol", "--sector", "SCHOOL", "--roles", "REFERRER"}, &out), 2);
  EXPECT_NE(out.find("--name is required"), std::string::npos) << out;
  EXPECT_EQ(hub.Accordctl({"partner", "enrol", "--name", "X", "--sector", "SCHOOL", "--roles", "REFERRER", "--id", "X!"},
                          &out),
            2);
  hub.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
  EXPECT_NE(hub.Accordctl({"partner", "enrol", "--id", "oakfield", "--name", "Other", "--sector", "SCHOOL", "--roles",
                           "REFERRER"},
                          &out),
            0);
  EXPECT_NE(out.find("already exists"), std::string::npos) << out;
  EXPECT_EQ(hub.Accordctl({"partner", "list"}, &out), 0);
  EXPECT_EQ(out.find("X School"), std::string::npos);
  EXPECT_EQ(out.find("Other"), std::string::npos);
  EXPECT_EQ(hub.Accordctl({"partner", "frobnicate"}, &out), 2);
}

TEST(AccordctlTest, HubStatusAnswersOverMtls) {
  HubProcess hub;
  auto bundle = hub.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
  ASSERT_TRUE(hub.Start()) << hub.Log();
  std::string out;
  EXPECT_EQ(testsupport::RunProgram({testsupport::AccordctlBinary(), "hub", "status", "--bundle", bundle.string(),
                                     "--address", hub.address()},
                                    &out),
            0)
      << out;
  EXPECT_NE(out.find("SERVING"), std::string::npos) << out;
}

}  // namespace
}  // namespace accord
