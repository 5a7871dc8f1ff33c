// The sharing log inside the store: group commit from many threads, durability, the Merkle tree
// kept in step with the stored records, sealing and erasure, and a second writer process.
#include <thread>

#include "gtest/gtest.h"
#include "hub/store/store.h"
#include "tests/support/temp_dir.h"

namespace accord::store {
namespace {

NewEvent Event(const std::string& subject, const std::string& actor, v1::EventKind kind,
               const std::string& details = "") {
  NewEvent e;
  e.subject_id = subject;
  e.details = details;
  e.event.set_kind(kind);
  e.event.set_actor("partners/" + actor);
  if (!subject.empty()) e.event.set_subject("subjects/" + subject);
  e.event.set_basis(v1::BASIS_CONSENT);
  return e;
}

// The root recomputed from the stored records alone.
audit::Hash RecomputedRoot(Store& store) {
  audit::TreeBuilder tree;
  std::vector<audit::Node> nodes;
  for (uint64_t from = 0;;) {
    auto page = store.ReadEvents(from, 1000);
    EXPECT_TRUE(page.ok());
    if (!page.ok() || page->empty()) break;
    for (const StoredEvent& e : *page) tree.Append(audit::HashLeaf(e.record), &nodes);
    from = page->back().sequence + 1;
  }
  return tree.Root();
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    auto s = OpenSqliteStore(dir_.path() / "accord.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  testsupport::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(LogTest, ConcurrentAppendsGetDistinctSequencesAndOneConsistentTree) {
  constexpr int kThreads = 16, kEach = 50;
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> seen(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto seqs = store_->AppendEvents({Event("s" + std::to_string(t), "p", v1::EVENT_KIND_DISCLOSURE)});
        ASSERT_TRUE(seqs.ok()) << seqs.status();
        seen[t].push_back(seqs->at(0));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (const auto& v : seen) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kEach});
  EXPECT_EQ(*all.rbegin(), uint64_t{kThreads * kEach - 1});
  ASSERT_EQ(*store_->LogSize(), uint64_t{kThreads * kEach});
  auto stored_root = audit::RootHash(store_->LogHashes(), kThreads * kEach);
  ASSERT_TRUE(stored_root.ok()) << stored_root.status();
  EXPECT_EQ(*stored_root, RecomputedRoot(*store_));
  // Each record says where it stands.
  auto first = store_->ReadEvents(0, 5);
  for (size_t i = 0; i < first->size(); ++i) {
    v1::SharingEvent e;
    ASSERT_TRUE(e.ParseFromString((*first)[i].record));
    EXPECT_EQ(e.sequence(), i);
    EXPECT_GT(e.time().seconds(), 0);
  }
}

TEST_F(LogTest, AcknowledgedEventsSurviveReopeningAndTheTreeContinues) {
  ASSERT_TRUE(store_->AppendEvents({Event("a", "p", v1::EVENT_KIND_DISCLOSURE), Event("b", "p", v1::EVENT_KIND_REFUSAL)}).ok());
  auto root2 = *audit::RootHash(store_->LogHashes(), 2);
  store_.reset();
  Open();
  EXPECT_EQ(*store_->LogSize(), 2u);
  ASSERT_TRUE(store_->AppendEvents({Event("c", "p", v1::EVENT_KIND_DISCLOSURE)}).ok());
  EXPECT_EQ(*store_->LogSize(), 3u);
  EXPECT_EQ(*audit::RootHash(store_->LogHashes(), 3), RecomputedRoot(*store_));
  // The log only grew: the old head is consistent with the new one.
  auto proof = audit::ConsistencyProof(store_->LogHashes(), 2, 3);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(audit::VerifyConsistency(2, 3, root2, *audit::RootHash(store_->LogHashes(), 3), *proof).ok());
}

TEST_F(LogTest, AFailedChangeLeavesNoEventAndNoTreeNode) {
  ASSERT_TRUE(store_->AppendEvents({Event("a", "p", v1::EVENT_KIND_DISCLOSURE)}).ok());
  // A consent about an unknown subject violates a foreign key: the change and its event go together.
  domain::Consent c;
  c.subject_id = "nobody";
  c.recorded_by = "nobody";
  auto refused = store_->CreateConsent(c, [](const domain::Consent&) {
    return std::vector<NewEvent>{Event("nobody", "p", v1::EVENT_KIND_CONSENT_RECORDED)};
  });
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(*store_->LogSize(), 1u);
  ASSERT_TRUE(store_->AppendEvents({Event("b", "p", v1::EVENT_KIND_DISCLOSURE)}).ok());
  EXPECT_EQ(*store_->LogSize(), 2u);
  EXPECT_EQ(*audit::RootHash(store_->LogHashes(), 2), RecomputedRoot(*store_));
}

TEST_F(LogTest, DetailsAreSealedPerSubjectAndErasureKeepsTheTree) {
  // A subject to erase must exist in the index.
  SubjectRecord r;
  r.partner_id = "p";
  r.person.nhs_number = "9434765919";
  domain::Partner p;
  p.id = "p";
  p.display_name = "P";
  p.sector = ::accord::v1::SECTOR_SCHOOL;
  p.roles = {::accord::v1::ROLE_REFERRER};
  ASSERT_TRUE(store_->CreatePartner(p).ok());
  auto resolved = store_->ResolveSubject(r, [](absl::Span<const domain::PersonRecord>) { return domain::MatchResult(); },
                                         false, nullptr);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  const std::string id = resolved->record.person.subject_id;
  ASSERT_TRUE(store_->AppendEvents({Event(id, "p", v1::EVENT_KIND_DISCLOSURE, "Told the nurse about bruising"),
                                    Event("other", "p", v1::EVENT_KIND_DISCLOSURE, "Other child's note")})
                  .ok());
  auto before = store_->ReadEvents(0, 10);
  ASSERT_EQ(before->size(), 2u);
  EXPECT_EQ((*before)[0].details, "Told the nurse about bruising");
  EXPECT_EQ((*before)[0].record.find("bruising"), std::string::npos);  // sealed, not in clear
  auto root = *audit::RootHash(store_->LogHashes(), 2);

  NewEvent erased = Event("", "", v1::EVENT_KIND_SUBJECT_ERASED);
  ASSERT_TRUE(store_->EraseSubject(id, erased).ok());
  auto after = store_->ReadEvents(0, 10);
  ASSERT_EQ(after->size(), 3u);
  EXPECT_FALSE((*after)[0].details.has_value());
  EXPECT_TRUE((*after)[0].details_erased);
  EXPECT_EQ((*after)[1].details, "Other child's note");  // another child's key is untouched
  EXPECT_EQ((*after)[0].record, (*before)[0].record);     // the leaf is unchanged...
  auto proof = audit::ConsistencyProof(store_->LogHashes(), 2, 3);
  EXPECT_TRUE(audit::VerifyConsistency(2, 3, root, RecomputedRoot(*store_), *proof).ok());  // ...so proofs hold
  EXPECT_EQ(store_->GetSubjectRecord(id, "p").status().code(), absl::StatusCode::kNotFound);
  // New details about an erased subject are not kept.
  ASSERT_TRUE(store_->AppendEvents({Event(id, "p", v1::EVENT_KIND_DISCLOSURE, "after erasure")}).ok());
  v1::SharingEvent last;
  ASSERT_TRUE(last.ParseFromString(store_->ReadEvents(3, 1)->at(0).record));
  EXPECT_TRUE(last.sealed_details().empty());
  EXPECT_EQ(store_->EraseSubject("nobody", erased).code(), absl::StatusCode::kNotFound);
}

TEST_F(LogTest, LastUseIsPerSubjectAndCategory) {
  NewEvent mental = Event("s1", "p", v1::EVENT_KIND_DISCLOSURE, "note");
  mental.event.add_disclosed_categories(::accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  ASSERT_TRUE(store_->AppendEvents({mental, Event("s2", "p", v1::EVENT_KIND_LOG_READ)}).ok());
  auto use = store_->SubjectLastUse();
  ASSERT_TRUE(use.ok()) << use.status();
  ASSERT_EQ(use->size(), 2u);
  EXPECT_EQ(use->at("s1").count(::accord::v1::DATA_CATEGORY_MENTAL_HEALTH), 1u);
  EXPECT_EQ(use->at("s2").count(::accord::v1::DATA_CATEGORY_UNSPECIFIED), 1u);  // an event naming no category
}

TEST_F(LogTest, QueriesFilterAndTreeHeadsAreKept) {
  NewEvent to_camhs = Event("s1", "school", v1::EVENT_KIND_DISCLOSURE);
  to_camhs.event.set_recipient("partners/camhs");
  to_camhs.event.set_purpose(::accord::v1::PURPOSE_REFERRAL);
  ASSERT_TRUE(store_->AppendEvents({to_camhs, Event("s2", "school", v1::EVENT_KIND_REFUSAL),
                                    Event("s1", "dpo", v1::EVENT_KIND_LOG_READ)})
                  .ok());
  EventFilter f;
  f.subject_id = "s1";
  EXPECT_EQ(store_->QueryEvents(f, 0, 10)->size(), 2u);
  f.recipient_id = "camhs";
  EXPECT_EQ(store_->QueryEvents(f, 0, 10)->size(), 1u);
  EventFilter by_kind;
  by_kind.kind = v1::EVENT_KIND_REFUSAL;
  ASSERT_EQ(store_->QueryEvents(by_kind, 0, 10)->size(), 1u);
  EXPECT_EQ(store_->QueryEvents(by_kind, 0, 10)->at(0).sequence, 1u);
  EventFilter later;
  later.start = absl::Now() + absl::Hours(1);
  EXPECT_TRUE(store_->QueryEvents(later, 0, 10)->empty());

  EXPECT_EQ(store_->LatestTreeHead().status().code(), absl::StatusCode::kNotFound);
  auto key = audit::SigningKey::Generate();
  auto head = audit::SignTreeHead({3, *audit::RootHash(store_->LogHashes(), 3), absl::Now()}, *key);
  ASSERT_TRUE(store_->SaveTreeHead(*head).ok());
  ASSERT_TRUE(store_->SaveTreeHead(*head).ok());  // idempotent
  EXPECT_EQ(*store_->LatestTreeHead(), *head);
}

TEST_F(LogTest, TwoWritersOnOneFileKeepOneSequence) {
  // accordctl writes the same file as a running hub: each writer catches up before appending.
  auto other = OpenSqliteStore(dir_.path() / "accord.db");
  ASSERT_TRUE(other.ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->AppendEvents({Event("a", "hub", v1::EVENT_KIND_DISCLOSURE)}).ok());
    ASSERT_TRUE((*other)->AppendEvents({Event("a", "ctl", v1::EVENT_KIND_SUBJECT_ERASED)}).ok());
  }
  EXPECT_EQ(*store_->LogSize(), 10u);
  EXPECT_EQ(*audit::RootHash(store_->LogHashes(), 10), RecomputedRoot(*store_));
}

}  // namespace
}  // namespace accord::store
