#include <sys/stat.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hub/security/authenticator.h"
#include "hub/security/ca.h"
#include "hub/security/files.h"
#include "hub/security/verifier.h"
#include "tests/support/temp_dir.h"

namespace accord::security {
namespace {

CertificateProfile Client(std::string cn, absl::Time from, absl::Time until) {
  CertificateProfile p;
  p.common_name = std::move(cn);
  p.not_before = from;
  p.not_after = until;
  return p;
}

class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = CertificateAuthority::Create("Test hub CA", now_, absl::Hours(24 * 365));
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<CertificateAuthority>(std::move(*ca));
    auto v = ClientCertificateVerifier::Create(ca_->certificate_pem());
    ASSERT_TRUE(v.ok()) << v.status();
    verifier_ = std::move(*v);
  }
  absl::Time now_ = absl::Now();
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<ClientCertificateVerifier> verifier_;
};

TEST_F(CaTest, IssuedClientCertificateVerifies) {
  auto issued = ca_->Issue(Client("oakfield", now_ - absl::Minutes(1), now_ + absl::Hours(1)));
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(issued->serial_hex.size(), 32u);
  EXPECT_FALSE(issued->private_key_pem.empty());
  auto peer = verifier_->Verify(issued->certificate_pem, now_);
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->common_name, "oakfield");
  EXPECT_EQ(peer->serial_hex, issued->serial_hex);
}

TEST_F(CaTest, SerialsDiffer) {
  auto a = ca_->Issue(Client("a-partner", now_, now_ + absl::Hours(1)));
  auto b = ca_->Issue(Client("a-partner", now_, now_ + absl::Hours(1)));
  EXPECT_NE(a->serial_hex, b->serial_hex);
}

TEST_F(CaTest, AnotherCasCertificateIsRefused) {
  auto other = CertificateAuthority::Create("Someone else", now_, absl::Hours(24));
  auto issued = other->Issue(Client("oakfield", now_ - absl::Minutes(1), now_ + absl::Hours(1)));
  auto peer = verifier_->Verify(issued->certificate_pem, now_);
  EXPECT_EQ(peer.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(peer.status().message().find("not issued by this hub"), std::string::npos) << peer.status();
}

TEST_F(CaTest, ExpiryIsJudgedOnEveryCall) {
  auto issued = ca_->Issue(Client("oakfield", now_ - absl::Hours(2), now_ + absl::Hours(1)));
  ASSERT_TRUE(verifier_->Verify(issued->certificate_pem, now_).ok());  // now cached
  auto later = verifier_->Verify(issued->certificate_pem, now_ + absl::Hours(2));
  EXPECT_EQ(later.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(later.status().message().find("expired"), std::string::npos) << later.status();
  auto early = verifier_->Verify(issued->certificate_pem, now_ - absl::Hours(3));
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(CaTest, ServerCertificateIsNotAClientCertificate) {
  CertificateProfile p = Client("hub", now_ - absl::Minutes(1), now_ + absl::Hours(1));
  p.server = true;
  p.dns_names = {"localhost"};
  p.ip_addresses = {"127.0.0.1"};
  auto issued = ca_->Issue(p);
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(verifier_->Verify(issued->certificate_pem, now_).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(CaTest, SignsARequestWithoutSeeingTheKey) {
  auto req = MakeCertificateRequest("whatever-the-partner-wrote");
  ASSERT_TRUE(req.ok()) << req.status();
  auto issued = ca_->SignRequest(req->first, Client("elmwood", now_ - absl::Minutes(1), now_ + absl::Hours(1)));
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_TRUE(issued->private_key_pem.empty());
  auto peer = verifier_->Verify(issued->certificate_pem, now_);
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(peer->common_name, "elmwood");  // the hub names the subject, not the request
}

TEST_F(CaTest, MalformedRequestsNameTheField) {
  auto bad = ca_->SignRequest("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                              Client("x-partner", now_, now_ + absl::Hours(1)));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().find("csr_pem"), 0u);
}

TEST_F(CaTest, ReloadsFromPemAndRefusesAMismatchedKey) {
  EXPECT_TRUE(CertificateAuthority::FromPem(ca_->certificate_pem(), ca_->private_key_pem()).ok());
  auto other = CertificateAuthority::Create("Other", now_, absl::Hours(1));
  auto mixed = CertificateAuthority::FromPem(ca_->certificate_pem(), other->private_key_pem());
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateAuthority::FromPem("junk", "junk").status().code(), absl::StatusCode::kInvalidArgument);
}

class AuthenticatorTest : public CaTest {
 protected:
  void SetUp() override {
    CaTest::SetUp();
    auto s = store::OpenSqliteStore(dir_.path() / "accord.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    auth_ = std::make_unique<Authenticator>(*store_, std::move(verifier_));
    issued_ = *ca_->Issue(Client("oakfield", now_ - absl::Minutes(1), now_ + absl::Hours(1)));
    domain::Partner p;
    p.id = "oakfield";
    p.display_name = "Oakfield Primary";
    p.sector = ::accord::v1::SECTOR_SCHOOL;
    p.roles = {::accord::v1::ROLE_REFERRER};
    ASSERT_TRUE(store_->CreatePartnerWithCertificate(p, {issued_.serial_hex, "oakfield", issued_.not_after, false}).ok());
  }
  testsupport::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Authenticator> auth_;
  IssuedCertificate issued_;
};

TEST_F(AuthenticatorTest, ActivePartnerIsTheCaller) {
  auto caller = auth_->AuthenticatePem(issued_.certificate_pem);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->partner.id, "oakfield");
}

TEST_F(AuthenticatorTest, UnregisteredCertificateIsRefused) {
  auto stray = ca_->Issue(Client("oakfield", now_ - absl::Minutes(1), now_ + absl::Hours(1)));
  EXPECT_EQ(auth_->AuthenticatePem(stray->certificate_pem).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, SuspensionAndRevocationTakeEffectAtOnce) {
  ASSERT_TRUE(store_->SetPartnerSuspended("oakfield", true, "data breach inquiry").ok());
  auto suspended = auth_->AuthenticatePem(issued_.certificate_pem);
  EXPECT_EQ(suspended.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(suspended.status().message().find("suspended: data breach inquiry"), std::string::npos);
  ASSERT_TRUE(store_->SetPartnerSuspended("oakfield", false, "").ok());
  EXPECT_TRUE(auth_->AuthenticatePem(issued_.certificate_pem).ok());
  ASSERT_TRUE(store_->RevokePartner("oakfield", "left").ok());
  auto revoked = auth_->AuthenticatePem(issued_.certificate_pem);
  EXPECT_EQ(revoked.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(revoked.status().message().find("revoked"), std::string::npos);
}

TEST(FilesTest, PrivateFilesAreWrittenWholeWithTheirMode) {
  testsupport::TempDir dir;
  auto path = dir.path() / "client.key";
  ASSERT_TRUE(WriteFileAtomically(path, "secret", 0600).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadFile(path), "secret");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "client.key.tmp"));
  EXPECT_EQ(ReadFile(dir.path() / "missing").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace accord::security
