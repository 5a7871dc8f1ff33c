// Every call's identity comes from a verified client certificate, and every way of not having a
// good one is refused with a precise status — against a real hub over real TLS.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include "absl/time/clock.h"
#include "accord/sdk/client.h"
#include "accord/v1/partner_admin.grpc.pb.h"
#include "gtest/gtest.h"
#include "hub/security/ca.h"
#include "hub/security/files.h"
#include "hub/store/store.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

using testsupport::HubProcess;

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = hub_.Enrol("ops", "Accord Operations", "LOCAL_AUTHORITY", "ADMIN");
    school_ = hub_.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();
  }

  // ListPartners as whoever the channel's certificate says.
  grpc::Status List(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListPartnersRequest req;
    v1::ListPartnersResponse resp;
    return v1::PartnerAdmin::NewStub(channel)->ListPartners(&ctx, req, &resp);
  }

  sdk::Credentials Bundle(const std::filesystem::path& dir) { return *sdk::LoadCredentials(dir); }

  security::CertificateAuthority HubCa() {
    return *security::CertificateAuthority::FromPem(*security::ReadFile(hub_.data_dir() / "ca/ca.crt"),
                                                    *security::ReadFile(hub_.data_dir() / "ca/ca.key"));
  }

  HubProcess hub_;
  std::filesystem::path admin_;
  std::filesystem::path school_;
};

void ExpectRefused(const grpc::Status& s, grpc::StatusCode code, const std::string& words) {
  EXPECT_EQ(s.error_code(), code) << s.error_message();
  EXPECT_NE(s.error_message().find(words), std::string::npos) << s.error_message();
}

TEST_F(IdentityTest, AnEnrolledAdminIsServed) { EXPECT_TRUE(List(hub_.Channel(admin_)).ok()); }

TEST_F(IdentityTest, NoCertificateIsUnauthenticated) {
  sdk::Credentials creds = Bundle(admin_);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = creds.ca_certificate_pem;  // trusts the hub, presents nothing
  auto channel = grpc::CreateChannel(hub_.address(), grpc::SslCredentials(ssl));
  ExpectRefused(List(channel), grpc::StatusCode::UNAUTHENTICATED, "no client certificate");
}

TEST_F(IdentityTest, AnotherCasCertificateIsUnauthenticated) {
  absl::Time now = absl::Now();
  auto rogue_ca = security::CertificateAuthority::Create("Rogue CA", now, absl::Hours(24));
  ASSERT_TRUE(rogue_ca.ok());
  // Same partner id as the real admin: only the issuer differs.
  auto rogue = rogue_ca->Issue({"ops", false, {}, {}, now - absl::Minutes(1), now + absl::Hours(1)});
  sdk::Credentials creds = Bundle(admin_);
  creds.client_certificate_pem = rogue->certificate_pem;
  creds.client_key_pem = rogue->private_key_pem;
  ExpectRefused(List(sdk::OpenChannel(creds, hub_.address())), grpc::StatusCode::UNAUTHENTICATED,
                "not issued by this hub's certificate authority");
}

TEST_F(IdentityTest, AnExpiredCertificateIsUnauthenticated) {
  absl::Time now = absl::Now();
  auto expired = HubCa().Issue({"ops", false, {}, {}, now - absl::Hours(48), now - absl::Hours(24)});
  ASSERT_TRUE(expired.ok());
  // Registered to the admin, so expiry is the only thing wrong with it.
  auto store = store::OpenSqliteStore(hub_.data_dir() / "accord.db");
  ASSERT_TRUE((*store)->AddCertificate({expired->serial_hex, "ops", expired->not_after, false}).ok());
  sdk::Credentials creds = Bundle(admin_);
  creds.client_certificate_pem = expired->certificate_pem;
  creds.client_key_pem = expired->private_key_pem;
  ExpectRefused(List(sdk::OpenChannel(creds, hub_.address())), grpc::StatusCode::UNAUTHENTICATED, "expired");
}

TEST_F(IdentityTest, ACertificateOffTheRegisterIsUnauthenticated) {
  absl::Time now = absl::Now();
  auto stray = HubCa().Issue({"ops", false, {}, {}, now - absl::Minutes(1), now + absl::Hours(1)});
  sdk::Credentials creds = Bundle(admin_);
  creds.client_certificate_pem = stray->certificate_pem;
  creds.client_key_pem = stray->private_key_pem;
  ExpectRefused(List(sdk::OpenChannel(creds, hub_.address())), grpc::StatusCode::UNAUTHENTICATED,
                "not on this hub's register");
}

TEST_F(IdentityTest, ACertificateWithoutItsKeyCannotConnect) {
  // Presenting the admin's certificate with someone else's key fails the TLS handshake itself.
  sdk::Credentials creds = Bundle(admin_);
  creds.client_key_pem = Bundle(school_).client_key_pem;
  grpc::Status s = List(sdk::OpenChannel(creds, hub_.address()));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(IdentityTest, SuspensionTakesEffectOnTheVeryNextCall) {
  auto channel = hub_.Channel(admin_);
  ASSERT_TRUE(List(channel).ok());
  std::string out;
  ASSERT_EQ(hub_.Accordctl({"partner", "suspend", "--id", "ops", "--reason", "security review"}, &out), 0) << out;
  ExpectRefused(List(channel), grpc::StatusCode::PERMISSION_DENIED, "suspended: security review");
  ASSERT_EQ(hub_.Accordctl({"partner", "reinstate", "--id", "ops"}, &out), 0) << out;
  EXPECT_TRUE(List(channel).ok());
}

TEST_F(IdentityTest, RevocationTakesEffectOnTheVeryNextCall) {
  auto channel = hub_.Channel(admin_);
  ASSERT_TRUE(List(channel).ok());
  std::string out;
  ASSERT_EQ(hub_.Accordctl({"partner", "revoke", "--id", "ops", "--reason", "left the partnership"}, &out), 0) << out;
  ExpectRefused(List(channel), grpc::StatusCode::PERMISSION_DENIED, "revoked");
  // Revocation is final.
  EXPECT_NE(hub_.Accordctl({"partner", "reinstate", "--id", "ops"}, &out), 0);
  ExpectRefused(List(channel), grpc::StatusCode::PERMISSION_DENIED, "revoked");
}

TEST_F(IdentityTest, AWrongRoleIsPermissionDenied) {
  ExpectRefused(List(hub_.Channel(school_)), grpc::StatusCode::PERMISSION_DENIED,
                "partner oakfield does not hold the role ROLE_ADMIN");
}

TEST_F(IdentityTest, HealthAndReflectionAreOn) {
  auto channel = hub_.Channel(school_);
  auto serving = sdk::CheckHealth(channel);
  ASSERT_TRUE(serving.ok()) << serving.status();
  EXPECT_TRUE(*serving);
  auto admin_serving = sdk::CheckHealth(channel, "accord.v1.PartnerAdmin");
  ASSERT_TRUE(admin_serving.ok()) << admin_serving.status();
  EXPECT_TRUE(*admin_serving);

  // grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo with {list_services: ""}.
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call = stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::string request("\x3a\x00", 2);
  grpc::Slice slice(request);
  grpc::ByteBuffer out(&slice, 1);
  call->Write(out, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string response;
  for (const auto& s : slices) response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(response.find("accord.v1.PartnerAdmin"), std::string::npos);
  EXPECT_NE(response.find("grpc.health.v1.Health"), std::string::npos);
  call->WritesDone(reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(5)) {
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace accord
