#include "hub/audit/log_verify.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace accord::audit {
namespace {

using ::testing::HasSubstr;

// A log of `n` realistic events, serialized as the store keeps them.
std::vector<std::string> Records(uint64_t n) {
  std::vector<std::string> out;
  for (uint64_t i = 0; i < n; ++i) {
    v1::SharingEvent e;
    e.set_sequence(i);
    e.mutable_time()->set_seconds(1'780'000'000 + static_cast<int64_t>(i));
    e.set_kind(i % 3 == 0 ? v1::EVENT_KIND_DISCLOSURE : v1::EVENT_KIND_CONSENT_RECORDED);
    e.set_actor("partners/oakfield");
    e.set_recipient("partners/riverside-camhs");
    e.set_subject(absl::StrCat("subjects/", 1000 + i % 7));
    e.set_purpose(v1::PURPOSE_REFERRAL);
    e.add_disclosed_categories(v1::DATA_CATEGORY_IDENTITY);
    e.set_basis(v1::BASIS_CONSENT);
    e.add_consents("consents/abc");
    e.set_request(absl::StrCat("ReferralService/SubmitReferral r", i));
    out.push_back(e.SerializeAsString());
  }
  return out;
}

Hash RootOf(const std::vector<std::string>& records) {
  TreeBuilder tree;
  std::vector<Node> nodes;
  for (const std::string& r : records) tree.Append(HashLeaf(r), &nodes);
  return tree.Root();
}

std::vector<Node> NodesOf(const std::vector<std::string>& records) {
  TreeBuilder tree;
  std::vector<Node> nodes;
  for (const std::string& r : records) tree.Append(HashLeaf(r), &nodes);
  return nodes;
}

class LogVerifyTest : public ::testing::Test {
 protected:
  LogVerifyTest()
      : key_(*SigningKey::FromRawSeed(std::string(32, '\x07'))),
        other_key_(*SigningKey::FromRawSeed(std::string(32, '\x09'))),
        pub_(*key_.PublicKey()) {}

  SignedTreeHead Sign(const std::vector<std::string>& records, const SigningKey* key = nullptr) {
    absl::StatusOr<SignedTreeHead> sth =
        SignTreeHead(TreeHead{records.size(), RootOf(records), absl::FromUnixMillis(1'780'000'123'456)},
                     key ? *key : key_);
    EXPECT_TRUE(sth.ok()) << sth.status();
    return *sth;
  }

  // Changes one character inside the request text: the record still parses.
  static void Alter(std::string& record) {
    size_t at = record.find("SubmitReferral");
    ASSERT_NE(at, std::string::npos);
    record[at] = 's';
  }

  SigningKey key_, other_key_;
  VerifyingKey pub_;
};

TEST_F(LogVerifyTest, AnIntactLogVerifies) {
  std::vector<std::string> records = Records(100);
  LogReport report = VerifyLog(records, Sign(records), pub_);
  EXPECT_TRUE(report.intact()) << report.ToStatus();
  EXPECT_TRUE(report.ToStatus().ok());
  EXPECT_EQ(report.event_count, 100u);
  EXPECT_EQ(report.root, RootOf(records));
  EXPECT_EQ(report.heads_verified, 1u);
}

TEST_F(LogVerifyTest, AnEmptyLogVerifiesAgainstAnEmptyHead) {
  std::vector<std::string> none;
  LogReport report = VerifyLog(none, Sign(none), pub_);
  EXPECT_TRUE(report.intact()) << report.ToStatus();
  EXPECT_EQ(report.root, EmptyRoot());
}

TEST_F(LogVerifyTest, AnAlteredByteIsARootMismatch) {
  std::vector<std::string> records = Records(100);
  SignedTreeHead head = Sign(records);
  Alter(records[37]);
  LogReport report = VerifyLog(records, head, pub_);
  ASSERT_EQ(report.problems.size(), 1u) << report.ToStatus();
  EXPECT_THAT(report.problems[0], HasSubstr("root mismatch: an event was altered"));
  EXPECT_THAT(report.problems[0], HasSubstr(HashToHex(head.head.root_hash)));
  EXPECT_EQ(report.heads_verified, 0u);
  absl::Status status = report.ToStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("root mismatch"));
}

TEST_F(LogVerifyTest, ARecordThatDoesNotParseIsNamed) {
  std::vector<std::string> records = Records(20);
  SignedTreeHead head = Sign(records);
  records[5] = "\xff\xff\xff";
  LogReport report = VerifyLog(records, head, pub_);
  ASSERT_GE(report.problems.size(), 2u);
  EXPECT_EQ(report.problems[0],
            "event at position 5 does not parse as a SharingEvent (3 bytes): its stored bytes were altered");
  EXPECT_THAT(report.problems[1], HasSubstr("root mismatch"));
}

TEST_F(LogVerifyTest, ADeletedEventIsReportedByPositionOnce) {
  std::vector<std::string> records = Records(100);
  SignedTreeHead head = Sign(records);
  records.erase(records.begin() + 41);
  LogReport report = VerifyLog(records, head, pub_);
  ASSERT_EQ(report.problems.size(), 2u) << report.ToStatus();
  EXPECT_EQ(report.problems[0],
            "event at position 41 says sequence 42: an event is missing or out of order (and the next 57 events "
            "are out of place by the same amount)");
  EXPECT_EQ(report.problems[1],
            "the log holds 99 events but the tree head covers 100: events were removed from the log");
  EXPECT_THAT(std::string(report.ToStatus().message()),
              HasSubstr("event at position 41 says sequence 42: an event is missing or out of order"));
}

TEST_F(LogVerifyTest, TwoSwappedEventsAreBothNamed) {
  std::vector<std::string> records = Records(100);
  SignedTreeHead head = Sign(records);
  std::swap(records[10], records[20]);
  LogReport report = VerifyLog(records, head, pub_);
  ASSERT_EQ(report.problems.size(), 3u) << report.ToStatus();
  EXPECT_EQ(report.problems[0], "event at position 10 says sequence 20: an event is missing or out of order");
  EXPECT_EQ(report.problems[1], "event at position 20 says sequence 10: an event is missing or out of order");
  EXPECT_THAT(report.problems[2], HasSubstr("root mismatch"));
}

TEST_F(LogVerifyTest, ATruncatedTailIsASizeMismatch) {
  std::vector<std::string> records = Records(100);
  SignedTreeHead head = Sign(records);
  records.resize(97);
  LogReport report = VerifyLog(records, head, pub_);
  ASSERT_EQ(report.problems.size(), 1u) << report.ToStatus();
  EXPECT_EQ(report.problems[0], "the log holds 97 events but the tree head covers 100: events were removed from the log");
}

TEST_F(LogVerifyTest, EventsAddedAfterTheHeadAreASizeMismatch) {
  std::vector<std::string> records = Records(100);
  SignedTreeHead head = Sign(std::vector<std::string>(records.begin(), records.begin() + 90));
  LogReport report = VerifyLog(records, head, pub_);
  ASSERT_EQ(report.problems.size(), 1u) << report.ToStatus();
  EXPECT_EQ(report.problems[0],
            "the log holds 100 events but the tree head covers 90: events were added after it was signed");
}

TEST_F(LogVerifyTest, AReplacedTreeHeadDoesNotVerify) {
  std::vector<std::string> records = Records(64);
  SignedTreeHead genuine = Sign(records);

  // Records altered and the head's root recomputed to match them: only the signature tells.
  std::vector<std::string> altered = records;
  Alter(altered[3]);
  SignedTreeHead forged = genuine;
  forged.head.root_hash = RootOf(altered);
  LogReport report = VerifyLog(altered, forged, pub_);
  ASSERT_EQ(report.problems.size(), 1u) << report.ToStatus();
  EXPECT_THAT(report.problems[0], HasSubstr("the tree head (64 events, signed 2026-05-28T"));
  EXPECT_THAT(report.problems[0], HasSubstr("does not verify with key "));
  EXPECT_THAT(report.problems[0], HasSubstr("the head was replaced or altered"));

  SignedTreeHead bad_signature = genuine;
  bad_signature.signature[10] ^= 0x01;
  EXPECT_THAT(VerifyLog(records, bad_signature, pub_).problems, ::testing::ElementsAre(HasSubstr("does not verify")));

  SignedTreeHead later = genuine;
  later.head.timestamp += absl::Seconds(1);
  EXPECT_FALSE(VerifyLog(records, later, pub_).intact());

  // A head signed by someone else's key, over the right root.
  EXPECT_THAT(VerifyLog(records, Sign(records, &other_key_), pub_).problems,
              ::testing::ElementsAre(HasSubstr("does not verify")));
}

TEST_F(LogVerifyTest, AKeptHeadChecksThatTheLogOnlyGrew) {
  std::vector<std::string> records = Records(100);
  SignedTreeHead kept = Sign(std::vector<std::string>(records.begin(), records.begin() + 37));
  SignedTreeHead now = Sign(records);
  {
    LogVerifier v(pub_);
    ASSERT_TRUE(v.ExpectHead(kept, HeadCoverage::kPrefix, "the kept tree head").ok());
    for (const auto& r : records) v.Add(r);
    ASSERT_TRUE(v.ExpectHead(now, HeadCoverage::kWholeLog, "the export's tree head").ok());
    LogReport report = v.Finish();
    EXPECT_TRUE(report.intact()) << report.ToStatus();
    EXPECT_EQ(report.heads_verified, 2u);
  }
  {
    // History rewritten inside the kept prefix and the new head re-signed with the real key
    // (someone with the hub's key): the kept head still catches it.
    std::vector<std::string> rewritten = records;
    Alter(rewritten[12]);
    LogVerifier v(pub_);
    ASSERT_TRUE(v.ExpectHead(kept, HeadCoverage::kPrefix, "the kept tree head").ok());
    for (const auto& r : rewritten) v.Add(r);
    ASSERT_TRUE(v.ExpectHead(Sign(rewritten), HeadCoverage::kWholeLog, "the export's tree head").ok());
    LogReport report = v.Finish();
    ASSERT_EQ(report.problems.size(), 1u) << report.ToStatus();
    EXPECT_THAT(report.problems[0], HasSubstr("root mismatch: an event was altered — the first 37 events hash to"));
    EXPECT_THAT(report.problems[0], HasSubstr("the kept tree head"));
    EXPECT_THAT(report.problems[0], HasSubstr("the log did not only grow"));
    EXPECT_EQ(report.heads_verified, 1u);
  }
  {
    // The log is now shorter than a head kept earlier.
    LogVerifier v(pub_);
    ASSERT_TRUE(v.ExpectHead(now, HeadCoverage::kPrefix, "the kept tree head").ok());
    for (int i = 0; i < 50; ++i) v.Add(records[i]);
    LogReport report = v.Finish();
    ASSERT_EQ(report.problems.size(), 1u);
    EXPECT_EQ(report.problems[0], "the log holds 50 events but the kept tree head covers 100: events were removed from the log");
  }
}

TEST_F(LogVerifyTest, APrefixHeadMustBeDeclaredBeforeTheLogPassesIt) {
  std::vector<std::string> records = Records(10);
  LogVerifier v(pub_);
  for (const auto& r : records) v.Add(r);
  absl::Status late = v.ExpectHead(Sign(std::vector<std::string>(records.begin(), records.begin() + 4)),
                                   HeadCoverage::kPrefix, "the kept tree head");
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  // A head of exactly the current size is still fine.
  EXPECT_TRUE(v.ExpectHead(Sign(records), HeadCoverage::kPrefix, "the kept tree head").ok());
  EXPECT_TRUE(v.Finish().intact());
}

TEST_F(LogVerifyTest, StoredHashesLocaliseAnAlteredEvent) {
  std::vector<std::string> records = Records(100);
  MemoryHashStore stored;
  ASSERT_TRUE(stored.PutAll(NodesOf(records)).ok());
  SignedTreeHead head = Sign(records);
  Alter(records[37]);
  LogVerifier::Options options;
  options.stored_nodes = &stored;
  LogVerifier v(pub_, options);
  ASSERT_TRUE(v.ExpectHead(head, HeadCoverage::kPrefix, "the latest saved tree head").ok());
  for (const auto& r : records) v.Add(r);
  LogReport report = v.Finish();
  // One message for the leaf; its six ancestors that now differ too are not repeated.
  ASSERT_EQ(report.problems.size(), 2u) << report.ToStatus();
  EXPECT_EQ(report.problems[0],
            "the stored hash of event 37 differs from the hash of its record: that event (or its stored hash) was "
            "altered");
  EXPECT_THAT(report.problems[1], HasSubstr("root mismatch"));
  EXPECT_EQ(report.nodes_compared, NodesOf(records).size());
}

TEST_F(LogVerifyTest, StoredHashesAfterADeletionAreOneRun) {
  std::vector<std::string> records = Records(100);
  MemoryHashStore stored;
  ASSERT_TRUE(stored.PutAll(NodesOf(records)).ok());
  records.erase(records.begin() + 41);
  LogVerifier::Options options;
  options.stored_nodes = &stored;
  LogVerifier v(pub_, options);
  for (const auto& r : records) v.Add(r);
  LogReport report = v.Finish();
  ASSERT_EQ(report.problems.size(), 2u) << report.ToStatus();
  EXPECT_THAT(report.problems[0], HasSubstr("event at position 41 says sequence 42"));
  EXPECT_EQ(report.problems[1],
            "the stored hashes of events 41–98 differ from the hashes of their records: those events (or their "
            "stored hashes) were altered, removed or moved");
}

TEST_F(LogVerifyTest, AnAlteredStoredNodeIsNamed) {
  std::vector<std::string> records = Records(100);
  std::vector<Node> nodes = NodesOf(records);
  for (Node& n : nodes) {
    if (n.level == 3 && n.index == 2) n.hash[0] ^= 0x80;
  }
  MemoryHashStore stored;
  ASSERT_TRUE(stored.PutAll(nodes).ok());
  LogVerifier::Options options;
  options.stored_nodes = &stored;
  LogVerifier v(pub_, options);
  ASSERT_TRUE(v.ExpectHead(Sign(records), HeadCoverage::kWholeLog, "the tree head").ok());
  for (const auto& r : records) v.Add(r);
  LogReport report = v.Finish();
  ASSERT_EQ(report.problems.size(), 1u) << report.ToStatus();
  EXPECT_EQ(report.problems[0],
            "the stored subtree hash at level 3, index 2 (events 16–23) differs from the one recomputed from the "
            "records: log_nodes was altered");
  EXPECT_EQ(report.heads_verified, 1u);  // the records themselves are intact
}

// A HashStore that lacks some nodes or fails.
class PartialStore final : public HashStore {
 public:
  PartialStore(MemoryHashStore& inner, absl::Status failure, int level, uint64_t index)
      : inner_(inner), failure_(std::move(failure)), level_(level), index_(index) {}
  absl::StatusOr<Hash> Get(int level, uint64_t index) override {
    if (level == level_ && index >= index_) return failure_;
    return inner_.Get(level, index);
  }

 private:
  MemoryHashStore& inner_;
  absl::Status failure_;
  int level_;
  uint64_t index_;
};

TEST_F(LogVerifyTest, MissingAndUnreadableStoredHashes) {
  std::vector<std::string> records = Records(20);
  MemoryHashStore full;
  ASSERT_TRUE(full.PutAll(NodesOf(records)).ok());
  {
    PartialStore lacking(full, absl::NotFoundError("no such node"), 0, 17);
    std::vector<std::string> problems = CompareStoredNodes(lacking, NodesOf(records));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0], "log_nodes lacks the stored hashes of events 17–19: stored hashes were deleted");
  }
  {
    PartialStore broken(full, absl::UnavailableError("disk on fire"), 1, 0);
    std::vector<std::string> problems = CompareStoredNodes(broken, NodesOf(records));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0], HasSubstr("cannot read the stored hash at level 1, index 0: disk on fire"));
  }
  EXPECT_TRUE(CompareStoredNodes(full, NodesOf(records)).empty());
}

TEST_F(LogVerifyTest, AnUnreadableRecordIsNamedAndTheRestStillJudged) {
  std::vector<std::string> records = Records(30);
  SignedTreeHead head = Sign(records);
  {
    // The stored leaf hash stands in: only the unreadable record is blamed.
    LogVerifier v(pub_);
    ASSERT_TRUE(v.ExpectHead(head, HeadCoverage::kWholeLog, "the tree head").ok());
    for (size_t i = 0; i < records.size(); ++i) {
      if (i == 9) {
        v.AddUnreadable(HashLeaf(records[i]), "the store cannot read event 9");
      } else {
        v.Add(records[i]);
      }
    }
    LogReport report = v.Finish();
    EXPECT_EQ(report.problems, std::vector<std::string>{"the store cannot read event 9"});
    EXPECT_EQ(report.heads_verified, 1u);
  }
  {
    // Later damage is still found.
    Alter(records[20]);
    LogVerifier v(pub_);
    ASSERT_TRUE(v.ExpectHead(head, HeadCoverage::kWholeLog, "the tree head").ok());
    for (size_t i = 0; i < records.size(); ++i) {
      if (i == 9) {
        v.AddUnreadable(Hash{}, "the store cannot read event 9");
      } else {
        v.Add(records[i]);
      }
    }
    LogReport report = v.Finish();
    ASSERT_EQ(report.problems.size(), 2u);
    EXPECT_THAT(report.problems[1], HasSubstr("root mismatch"));
  }
}

TEST_F(LogVerifyTest, ProblemsBeyondTheCapAreCounted) {
  std::vector<std::string> records = Records(50);
  SignedTreeHead head = Sign(records);
  for (int i = 0; i < 50; i += 2) records[i] = "\xff";
  LogVerifier::Options options;
  options.max_problems = 3;
  LogVerifier v(pub_, options);
  ASSERT_TRUE(v.ExpectHead(head, HeadCoverage::kWholeLog, "the tree head").ok());
  for (const auto& r : records) v.Add(r);
  LogReport report = v.Finish();
  EXPECT_EQ(report.problems.size(), 3u);
  EXPECT_EQ(report.problems_omitted, 23u);  // 25 unparseable + 1 root mismatch − 3 described
  EXPECT_FALSE(report.intact());
  EXPECT_THAT(std::string(report.ToStatus().message()), HasSubstr("(and 25 more problems)"));
}

TEST_F(LogVerifyTest, RecomputedNodesGiveProofsThatVerify) {
  std::vector<std::string> records = Records(77);
  SignedTreeHead head = Sign(records);
  SignedTreeHead kept = Sign(std::vector<std::string>(records.begin(), records.begin() + 30));
  MemoryHashStore recomputed;
  LogVerifier::Options options;
  options.recomputed_nodes = &recomputed;
  LogVerifier v(pub_, options);
  for (const auto& r : records) v.Add(r);
  ASSERT_TRUE(v.Finish().intact());
  absl::StatusOr<std::vector<Hash>> path = InclusionProof(recomputed, 12, kept.head.tree_size);
  ASSERT_TRUE(path.ok());
  EXPECT_TRUE(VerifyInclusion(HashLeaf(records[12]), 12, kept.head.tree_size, *path, kept.head.root_hash).ok());
  absl::StatusOr<std::vector<Hash>> consistency = ConsistencyProof(recomputed, 30, 77);
  ASSERT_TRUE(consistency.ok());
  EXPECT_TRUE(
      VerifyConsistency(30, 77, kept.head.root_hash, head.head.root_hash, *consistency).ok());
}

TEST_F(LogVerifyTest, TreeHeadsRoundTripThroughTheirWireForm) {
  std::vector<std::string> records = Records(5);
  SignedTreeHead head = Sign(records);
  v1::SignedTreeHead proto = TreeHeadToProto(head, "abc123");
  EXPECT_EQ(proto.key_id(), "abc123");
  EXPECT_EQ(proto.time().nanos(), 456'000'000);
  absl::StatusOr<SignedTreeHead> back = TreeHeadFromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, head);
  EXPECT_TRUE(VerifyTreeHead(*back, pub_).ok());

  proto.set_root_hash("short");
  EXPECT_EQ(TreeHeadFromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(TreeHeadFromProto(proto).status().message()), HasSubstr("root_hash"));
  proto = TreeHeadToProto(head, "");
  proto.mutable_time()->set_nanos(-1);
  EXPECT_EQ(TreeHeadFromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace accord::audit
