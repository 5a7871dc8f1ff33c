// kill -9 of the hub while partners are writing: every acknowledged write (and its sharing event)
// survives, and the log holds no torn batch — its stored tree matches its records exactly.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "absl/time/clock.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
#include "gtest/gtest.h"
#include "hub/audit/merkle.h"
#include "hub/store/store.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

using testsupport::HubProcess;

TEST(CrashTest, AcknowledgedWritesSurviveKillNineAndTheLogStaysWhole) {
  HubProcess hub;
  auto school = hub.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
  ASSERT_TRUE(hub.Start()) << hub.Log();
  auto channel = hub.Channel(school);
  std::string subject;
  {
    v1::ResolveSubjectRequest req;
    req.mutable_identifiers()->set_nhs_number("9434765919");
    v1::ResolveSubjectResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(v1::SubjectService::NewStub(channel)->ResolveSubject(&ctx, req, &resp).ok());
    subject = resp.subject().name();
  }

  std::mutex mu;
  std::vector<std::string> acknowledged;  // consents the hub confirmed
  std::atomic<bool> stop{false};
  std::atomic<int> started{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&] {
      auto stub = v1::ConsentService::NewStub(channel);
      while (!stop.load()) {
        v1::RecordConsentRequest req;
        v1::Consent* c = req.mutable_consent();
        c->set_subject(subject);
        c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
        c->add_purposes(v1::PURPOSE_REFERRAL);
        c->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
        c->add_recipients()->set_sector(v1::SECTOR_HEALTH);
        c->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24)));
        c->set_evidence("form");
        v1::RecordConsentResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        started++;
        if (stub->RecordConsent(&ctx, req, &resp).ok()) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.push_back(resp.consent().name().substr(9));
        }
      }
    });
  }
  // Kill once plenty of writes are in flight and acknowledged.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (acknowledged.size() >= 200 || std::chrono::steady_clock::now() > deadline) break;
    }
    std::this_thread::yield();
  }
  EXPECT_EQ(hub.Stop(SIGKILL), 128 + SIGKILL);
  stop = true;
  for (auto& w : writers) w.join();
  ASSERT_GE(acknowledged.size(), 200u);

  auto store = store::OpenSqliteStore(hub.data_dir() / "accord.db");
  ASSERT_TRUE(store.ok()) << store.status();
  for (const std::string& id : acknowledged) {
    EXPECT_TRUE((*store)->GetConsent(id).ok()) << "acknowledged consent " << id << " was lost";
  }
  // Every stored consent has its CONSENT_RECORDED event, and the tree matches the records.
  auto consents = (*store)->ListConsents(subject.substr(9));
  uint64_t size = *(*store)->LogSize();
  audit::TreeBuilder tree;
  std::vector<audit::Node> nodes;
  size_t recorded_events = 0;
  for (uint64_t from = 0; from < size;) {
    auto page = (*store)->ReadEvents(from, 500);
    ASSERT_TRUE(page.ok());
    for (const auto& e : *page) {
      ASSERT_EQ(e.sequence, from++) << "a gap in the log";
      v1::SharingEvent event;
      ASSERT_TRUE(event.ParseFromString(e.record));
      if (event.kind() == v1::EVENT_KIND_CONSENT_RECORDED) recorded_events++;
      tree.Append(audit::HashLeaf(e.record), &nodes);
    }
  }
  EXPECT_EQ(recorded_events, consents->size());
  auto stored_root = audit::RootHash((*store)->LogHashes(), size);
  ASSERT_TRUE(stored_root.ok()) << stored_root.status();
  EXPECT_EQ(*stored_root, tree.Root());
  store->reset();

  // The hub starts again on the same data and keeps appending to the same tree.
  ASSERT_TRUE(hub.Start()) << hub.Log();
  EXPECT_EQ(hub.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace accord
