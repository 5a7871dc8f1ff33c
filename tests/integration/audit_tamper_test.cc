// Invariant 5 end to end: a real hub logs real events, a DPO takes a signed tree head, then the
// hub's SQLite file is tampered with directly (sqlite3 C API, as anyone with the file could):
// one altered byte, a deleted event, two swapped events, a cut-off tail, a replaced tree head,
// an altered stored hash, a whole rewrite re-signed with the hub's own key. Each is caught by
// `accordctl audit verify --data-dir` (non-zero exit, the problem named) AND by a proof check:
// the inclusion proof of the affected event, computed from the tampered store, does not verify
// against the head the DPO took before. Also: exports verify offline and an edited export does
// not; a head kept earlier proves the log only grew; erasing a child keeps the log verifiable.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "accord/v1/audit.grpc.pb.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "hub/audit/log_verify.h"
#include "hub/audit/merkle.h"
#include "hub/audit/tree_head.h"
#include "hub/security/files.h"
#include "hub/store/store.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

namespace fs = std::filesystem;
using testsupport::AccordctlBinary;
using testsupport::HubProcess;
using testsupport::RunProgram;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<std::string> ReadLines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void WriteLines(const fs::path& file, const std::vector<std::string>& lines) {
  std::ofstream out(file, std::ios::trunc);
  for (const std::string& l : lines) out << l << "\n";
}

// Changes one character of the request text ("ConsentService/…" → "consentService/…"): the
// record still parses, so only the hashes can tell.
bool FlipRequestByte(std::string& record) {
  size_t at = record.find("ConsentService/");
  if (at == std::string::npos) return false;
  record[at] = 'c';
  return true;
}

// The hub's database opened directly, as someone with access to the file would.
class Sqlite {
 public:
  explicit Sqlite(const fs::path& file) {
    EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Sqlite() { sqlite3_close(db_); }
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;

  void Exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  int64_t Int(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
  }
  std::string Blob(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    std::string v;
    if (sqlite3_step(st) == SQLITE_ROW) {
      v.assign(static_cast<const char*>(sqlite3_column_blob(st, 0)), sqlite3_column_bytes(st, 0));
    }
    sqlite3_finalize(st);
    return v;
  }
  // Runs `sql` with ?1, ?2, … bound to `blobs`.
  void ExecBlobs(const std::string& sql, const std::vector<std::string>& blobs) {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    for (size_t i = 0; i < blobs.size(); ++i) {
      sqlite3_bind_blob(st, static_cast<int>(i + 1), blobs[i].data(), static_cast<int>(blobs[i].size()),
                        SQLITE_TRANSIENT);
    }
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(st);
  }

  std::string Record(uint64_t seq) { return Blob(absl::StrCat("SELECT record FROM log_events WHERE seq = ", seq)); }
  void SetRecord(uint64_t seq, const std::string& record) {
    ExecBlobs(absl::StrCat("UPDATE log_events SET record = ?1 WHERE seq = ", seq), {record});
  }

 private:
  sqlite3* db_ = nullptr;
};

class AuditTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    school_ = hub_.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
    dpo_bundle_ = hub_.Enrol("dpo", "County DPO", "LOCAL_AUTHORITY", "DPO");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();
    dpo_ = v1::AuditService::NewStub(hub_.Channel(dpo_bundle_));
    // Real events through real RPCs: three children, each linked, two consents, one withdrawn.
    for (const char* nhs : {"9434765919", "9434765005", "9434765013"}) {
      std::string subject = Resolve(nhs);
      ASSERT_FALSE(subject.empty());
      subjects_.push_back(subject);
      std::string consent = RecordConsent(subject);
      ASSERT_FALSE(consent.empty());
      ASSERT_FALSE(RecordConsent(subject).empty());
      ASSERT_TRUE(Withdraw(consent));
    }
    // The DPO takes a signed tree head and keeps it (the hub saves it too).
    signed_ = Head();
    ASSERT_EQ(signed_.tree_size(), 13u);  // 12 events and the DPO's own read
    kept_file_ = hub_.data_dir() / "kept-head.json";
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(signed_, &json).ok());
    std::ofstream(kept_file_) << json;
    key_file_ = hub_.data_dir() / "dpo-copy-of-signing.pub";
    fs::copy_file(hub_.data_dir() / "keys/signing.pub", key_file_);
  }

  std::string Resolve(const std::string& nhs) {
    v1::ResolveSubjectRequest req;
    req.mutable_identifiers()->set_nhs_number(nhs);
    v1::ResolveSubjectResponse resp;
    grpc::Status s = v1::SubjectService::NewStub(hub_.Channel(school_))->ResolveSubject(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.subject().name();
  }

  std::string RecordConsent(const std::string& subject) {
    v1::RecordConsentRequest req;
    v1::Consent* c = req.mutable_consent();
    c->set_subject(subject);
    c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
    c->add_purposes(v1::PURPOSE_REFERRAL);
    c->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    c->add_recipients()->set_sector(v1::SECTOR_HEALTH);
    c->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 30)));
    c->set_evidence("Mum signed the form at the school gate");
    v1::RecordConsentResponse resp;
    grpc::Status s = v1::ConsentService::NewStub(hub_.Channel(school_))->RecordConsent(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.consent().name();
  }

  bool Withdraw(const std::string& consent) {
    v1::WithdrawConsentRequest req;
    req.set_name(consent);
    req.set_reason("Family moved out of the area");
    v1::WithdrawConsentResponse resp;
    return v1::ConsentService::NewStub(hub_.Channel(school_))->WithdrawConsent(Ctx().get(), req, &resp).ok();
  }

  v1::SignedTreeHead Head() {
    v1::GetTreeHeadResponse resp;
    grpc::Status s = dpo_->GetTreeHead(Ctx().get(), v1::GetTreeHeadRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tree_head();
  }

  // Clients first: the hub's graceful shutdown would otherwise wait out its grace period.
  void StopHub() {
    dpo_.reset();
    ASSERT_EQ(hub_.Stop(SIGTERM), 0) << hub_.Log();
  }

  fs::path Db() const { return hub_.data_dir() / "accord.db"; }

  // `accordctl audit verify --data-dir DIR [args]`.
  int VerifyDataDir(std::string* out, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"audit", "verify"});
    return hub_.Accordctl(args, out);
  }

  int Accordctl(std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), AccordctlBinary());
    return RunProgram(args, out);
  }

  // A DPO's proof check: the event the store now serves at `position`, hashed, and its
  // inclusion proof computed from the store's hashes, against the head the DPO took earlier.
  absl::Status ProveServedEvent(uint64_t position) {
    auto store = store::OpenSqliteStore(Db());
    if (!store.ok()) return store.status();
    std::vector<std::string> records;
    for (uint64_t from = 0;;) {
      auto page = (*store)->ReadEvents(from, 100);
      if (!page.ok()) return page.status();
      if (page->empty()) break;
      for (const auto& e : *page) records.push_back(e.record);
      from = page->back().sequence + 1;
    }
    if (position >= records.size()) {
      return absl::NotFoundError(absl::StrCat("the store no longer serves event ", position));
    }
    auto proof = audit::InclusionProof((*store)->LogHashes(), position, signed_.tree_size());
    if (!proof.ok()) return proof.status();
    return audit::VerifyInclusion(audit::HashLeaf(records[position]), position, signed_.tree_size(), *proof,
                                  *audit::HashFromBytes(signed_.root_hash()));
  }

  uint64_t SeqOf(v1::EventKind kind, int nth = 0) {
    Sqlite db(Db());
    return static_cast<uint64_t>(
        db.Int(absl::StrCat("SELECT seq FROM log_events WHERE kind = ", kind, " ORDER BY seq LIMIT 1 OFFSET ", nth)));
  }

  HubProcess hub_;
  fs::path school_, dpo_bundle_;
  std::unique_ptr<v1::AuditService::Stub> dpo_;
  std::vector<std::string> subjects_;
  v1::SignedTreeHead signed_;
  fs::path kept_file_, key_file_;
};

TEST_F(AuditTamperTest, AnUntouchedLogVerifiesAndEveryProofChecks) {
  StopHub();
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out), 0) << out;
  EXPECT_TRUE(Contains(out, "Sharing log intact: 13 events, root " + audit::HashToHex(*audit::HashFromBytes(signed_.root_hash()))))
      << out;
  EXPECT_TRUE(Contains(out, "the latest saved tree head (13 events")) << out;
  EXPECT_EQ(VerifyDataDir(&out, {"--tree-head", kept_file_.string(), "--public-key", key_file_.string()}), 0) << out;
  for (uint64_t seq = 0; seq < signed_.tree_size(); ++seq) EXPECT_TRUE(ProveServedEvent(seq).ok()) << seq;
}

TEST_F(AuditTamperTest, OneAlteredByteInAnEventIsDetected) {
  StopHub();
  const uint64_t seq = SeqOf(v1::EVENT_KIND_CONSENT_RECORDED, 1);
  {
    Sqlite db(Db());
    std::string record = db.Record(seq);
    ASSERT_TRUE(FlipRequestByte(record));
    db.SetRecord(seq, record);
  }
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  EXPECT_TRUE(Contains(out, absl::StrCat("the stored hash of event ", seq, " differs from the hash of its record")))
      << out;
  EXPECT_TRUE(Contains(out, "root mismatch: an event was altered")) << out;
  EXPECT_EQ(ProveServedEvent(seq).code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(ProveServedEvent(seq - 1).ok());  // its neighbours are untouched
}

TEST_F(AuditTamperTest, AnAlteredByteInSealedDetailsIsDetected) {
  StopHub();
  const uint64_t seq = SeqOf(v1::EVENT_KIND_CONSENT_WITHDRAWN, 0);
  {
    Sqlite db(Db());
    std::string record = db.Record(seq);
    record.back() ^= 0x01;  // sealed_details is the last field: this is its GCM tag
    db.SetRecord(seq, record);
  }
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  // Named exactly, and nothing else is blamed: the rest of the log is intact.
  EXPECT_TRUE(Contains(out, absl::StrCat("the store cannot read event ", seq))) << out;
  EXPECT_TRUE(Contains(out, "does NOT verify (1 problem)")) << out;
  EXPECT_FALSE(ProveServedEvent(seq).ok());
}

TEST_F(AuditTamperTest, ADeletedEventIsDetected) {
  StopHub();
  const uint64_t seq = 5;
  Sqlite(Db()).Exec(absl::StrCat("DELETE FROM log_events WHERE seq = ", seq));
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  EXPECT_TRUE(Contains(out, "event at position 5 says sequence 6: an event is missing or out of order")) << out;
  EXPECT_TRUE(Contains(out, "the log holds 12 events but the latest saved tree head covers 13")) << out;
  EXPECT_EQ(ProveServedEvent(seq).code(), absl::StatusCode::kDataLoss);
}

TEST_F(AuditTamperTest, TwoReorderedEventsAreDetected) {
  StopHub();
  {
    // Two events about the same child: both still read, each at the other's place.
    Sqlite db(Db());
    std::string one = db.Record(1), three = db.Record(3);
    db.SetRecord(1, three);
    db.SetRecord(3, one);
  }
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  EXPECT_TRUE(Contains(out, "event at position 1 says sequence 3: an event is missing or out of order")) << out;
  EXPECT_TRUE(Contains(out, "event at position 3 says sequence 1")) << out;
  EXPECT_EQ(ProveServedEvent(1).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ProveServedEvent(3).code(), absl::StatusCode::kDataLoss);
}

TEST_F(AuditTamperTest, EventsMovedBetweenChildrenAreDetected) {
  StopHub();
  {
    // Event 3 (child 0's withdrawal, with sealed details) moved to row 8 (child 2's): its details
    // no longer open there, so the store refuses to read it; the verifier names it and goes on.
    Sqlite db(Db());
    std::string three = db.Record(3), eight = db.Record(8);
    db.SetRecord(3, eight);
    db.SetRecord(8, three);
  }
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  EXPECT_TRUE(Contains(out, "event at position 3 says sequence 8: an event is missing or out of order")) << out;
  EXPECT_TRUE(Contains(out, "the store cannot read event 8")) << out;
  EXPECT_TRUE(Contains(out, "root mismatch")) << out;
  EXPECT_EQ(ProveServedEvent(3).code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(ProveServedEvent(8).ok());
}

TEST_F(AuditTamperTest, ACutOffTailIsDetected) {
  StopHub();
  Sqlite(Db()).Exec("DELETE FROM log_events WHERE seq >= 10");
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  EXPECT_TRUE(Contains(out, "the log holds 10 events but the latest saved tree head covers 13")) << out;
  EXPECT_TRUE(Contains(out, "log_nodes holds the hash of event 10 but the log ends at event 9")) << out;
  EXPECT_EQ(ProveServedEvent(12).code(), absl::StatusCode::kNotFound);

  // Cutting the saved heads too leaves the log consistent with itself; the DPO's kept head
  // still catches it.
  Sqlite(Db()).Exec("DELETE FROM log_tree_heads; DELETE FROM log_nodes WHERE level = 0 AND idx >= 10");
  EXPECT_EQ(VerifyDataDir(&out, {"--tree-head", kept_file_.string()}), 1) << out;
  EXPECT_TRUE(Contains(out, "the log holds 10 events but the kept tree head")) << out;
}

TEST_F(AuditTamperTest, AReplacedTreeHeadIsDetected) {
  StopHub();
  std::string out;
  {
    // Another root (e.g. one recomputed over altered events) under the genuine signature.
    Sqlite db(Db());
    db.ExecBlobs("UPDATE log_tree_heads SET root = ?1 WHERE tree_size = 13", {std::string(32, '\x5a')});
  }
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  EXPECT_TRUE(Contains(out, "root mismatch")) << out;
  EXPECT_TRUE(Contains(out, "the latest saved tree head (13 events")) << out;
  EXPECT_TRUE(Contains(out, "does not verify with key")) << out;
  {
    auto store = store::OpenSqliteStore(Db());
    ASSERT_TRUE(store.ok());
    auto saved = (*store)->LatestTreeHead();
    ASSERT_TRUE(saved.ok());
    auto key = audit::VerifyingKey::FromPem(*security::ReadFile(key_file_));
    EXPECT_EQ(audit::VerifyTreeHead(*saved, *key).code(), absl::StatusCode::kDataLoss);
    auto proof = audit::InclusionProof((*store)->LogHashes(), 4, 13);
    ASSERT_TRUE(proof.ok());
    auto leaf = (*store)->LogHashes().Get(0, 4);
    EXPECT_EQ(audit::VerifyInclusion(*leaf, 4, 13, *proof, saved->head.root_hash).code(),
              absl::StatusCode::kDataLoss);
  }
  {
    // The genuine root with another signature.
    Sqlite db(Db());
    db.ExecBlobs("UPDATE log_tree_heads SET root = ?1 WHERE tree_size = 13", {signed_.root_hash()});
    std::string signature = signed_.signature();
    signature[0] ^= 0x01;
    db.ExecBlobs("UPDATE log_tree_heads SET signature = ?1 WHERE tree_size = 13", {signature});
  }
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  EXPECT_FALSE(Contains(out, "root mismatch")) << out;
  EXPECT_TRUE(Contains(out, "does not verify with key")) << out;
}

TEST_F(AuditTamperTest, AHeadSignedByAnotherKeyIsDetected) {
  StopHub();
  auto genuine = audit::TreeHeadFromProto(signed_);
  ASSERT_TRUE(genuine.ok());
  auto other = audit::SigningKey::Generate();
  ASSERT_TRUE(other.ok());
  auto forged = audit::SignTreeHead(genuine->head, *other);
  ASSERT_TRUE(forged.ok());
  Sqlite(Db()).ExecBlobs("UPDATE log_tree_heads SET signature = ?1 WHERE tree_size = 13", {forged->signature});
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  EXPECT_TRUE(Contains(out, "does not verify with key")) << out;
}

TEST_F(AuditTamperTest, AnAlteredStoredHashIsDetected) {
  StopHub();
  {
    Sqlite db(Db());
    std::string hash = db.Blob("SELECT hash FROM log_nodes WHERE level = 2 AND idx = 1");
    ASSERT_EQ(hash.size(), 32u);
    hash[7] ^= 0x10;
    db.ExecBlobs("UPDATE log_nodes SET hash = ?1 WHERE level = 2 AND idx = 1", {hash});
  }
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out), 1) << out;
  EXPECT_TRUE(Contains(out, "the stored subtree hash at level 2, index 1 (events 4–7) differs")) << out;
  // Proofs that use the altered node no longer verify against the signed head.
  EXPECT_EQ(ProveServedEvent(0).code(), absl::StatusCode::kDataLoss);
}

// Whoever holds the data directory also holds the hub's signing key, and so can rewrite the
// log, every stored hash and the saved head consistently. A head kept outside the hub catches it.
TEST_F(AuditTamperTest, ARewriteResignedWithTheHubsOwnKeyIsCaughtByAKeptHead) {
  StopHub();
  const uint64_t seq = SeqOf(v1::EVENT_KIND_CONSENT_RECORDED, 0);
  {
    Sqlite db(Db());
    std::vector<std::string> records;
    for (uint64_t i = 0; i < 13; ++i) records.push_back(db.Record(i));
    ASSERT_TRUE(FlipRequestByte(records[seq]));
    db.SetRecord(seq, records[seq]);
    audit::TreeBuilder tree;
    std::vector<audit::Node> nodes;
    for (const auto& r : records) tree.Append(audit::HashLeaf(r), &nodes);
    db.Exec("DELETE FROM log_nodes; DELETE FROM log_tree_heads");
    for (const audit::Node& n : nodes) {
      db.ExecBlobs(absl::StrCat("INSERT INTO log_nodes (level, idx, hash) VALUES (", n.level, ", ", n.index, ", ?1)"),
                   {std::string(audit::HashBytes(n.hash))});
    }
    auto key = audit::SigningKey::FromPem(*security::ReadFile(hub_.data_dir() / "keys/signing.key"));
    ASSERT_TRUE(key.ok());
    auto head = audit::SignTreeHead(audit::TreeHead{13, tree.Root(), absl::Now()}, *key);
    ASSERT_TRUE(head.ok());
    db.ExecBlobs(absl::StrCat("INSERT INTO log_tree_heads (tree_size, root, time_ms, signature) VALUES (13, ?1, ",
                              absl::ToUnixMillis(head->head.timestamp), ", ?2)"),
                 {std::string(audit::HashBytes(head->head.root_hash)), head->signature});
  }
  std::string out;
  EXPECT_EQ(VerifyDataDir(&out, {"--tree-head", kept_file_.string(), "--public-key", key_file_.string()}), 1) << out;
  EXPECT_TRUE(Contains(out, "root mismatch: an event was altered — the first 13 events hash to")) << out;
  EXPECT_TRUE(Contains(out, "the log did not only grow")) << out;
  EXPECT_EQ(ProveServedEvent(seq).code(), absl::StatusCode::kDataLoss);
}

TEST_F(AuditTamperTest, AnExportVerifiesOfflineAndAnEditedOneDoesNot) {
  const fs::path file = hub_.data_dir() / "export.jsonl";
  std::string out;
  ASSERT_EQ(Accordctl({"audit", "export", "--bundle", dpo_bundle_.string(), "--address", hub_.address(), "--out",
                       file.string()},
                      &out),
            0)
      << out;
  EXPECT_TRUE(Contains(out, "Exported 14 events to " + file.string())) << out;  // + the export's own read
  StopHub();

  auto verify = [&](const fs::path& f, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"audit", "verify", f.string(), "--public-key", key_file_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Accordctl(args, &out);
  };
  EXPECT_EQ(verify(file), 0) << out;
  EXPECT_TRUE(Contains(out, "Export intact: 14 events, root ")) << out;
  // Without the key there is nothing to check the signature with.
  EXPECT_EQ(Accordctl({"audit", "verify", file.string()}, &out), 2) << out;
  EXPECT_TRUE(Contains(out, "--public-key is required")) << out;

  const std::vector<std::string> lines = ReadLines(file);
  ASSERT_EQ(lines.size(), 15u);
  const fs::path edited = hub_.data_dir() / "edited.jsonl";
  {
    // One event's bytes changed (and re-encoded, so the line is still valid JSON).
    std::vector<std::string> changed = lines;
    v1::ExportEventsResponse item;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(changed[1], &item).ok());
    std::string record = item.event_record();
    ASSERT_TRUE(FlipRequestByte(record));
    item.set_event_record(record);
    changed[1].clear();
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(item, &changed[1]).ok());
    WriteLines(edited, changed);
    EXPECT_EQ(verify(edited), 1) << out;
    EXPECT_TRUE(Contains(out, "root mismatch: an event was altered")) << out;
  }
  {
    std::vector<std::string> changed = lines;
    changed.erase(changed.begin() + 6);
    WriteLines(edited, changed);
    EXPECT_EQ(verify(edited), 1) << out;
    EXPECT_TRUE(Contains(out, "event at position 6 says sequence 7: an event is missing or out of order")) << out;
  }
  {
    std::vector<std::string> changed = lines;
    std::swap(changed[2], changed[9]);
    WriteLines(edited, changed);
    EXPECT_EQ(verify(edited), 1) << out;
    EXPECT_TRUE(Contains(out, "event at position 2 says sequence 9")) << out;
  }
  {
    std::vector<std::string> changed(lines.begin(), lines.end() - 1);  // the head line dropped
    WriteLines(edited, changed);
    EXPECT_EQ(verify(edited), 1) << out;
    EXPECT_TRUE(Contains(out, "the export has no tree head")) << out;
  }
  {
    // The last events dropped and the head replaced by the one the DPO took earlier.
    std::vector<std::string> changed(lines.begin(), lines.begin() + 12);
    std::string head_line;
    v1::ExportEventsResponse head_item;
    *head_item.mutable_tree_head() = signed_;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(head_item, &head_line).ok());
    changed.push_back(head_line);
    WriteLines(edited, changed);
    EXPECT_EQ(verify(edited), 1) << out;
    EXPECT_TRUE(Contains(out, "the log holds 12 events but the export's tree head covers 13")) << out;
  }
  {
    std::vector<std::string> changed = lines;
    changed[4] = "{\"eventRecord\": \"not base64 at all!\"}";
    WriteLines(edited, changed);
    EXPECT_EQ(verify(edited), 1) << out;
    EXPECT_TRUE(Contains(out, "line 5 is not an export item")) << out;
  }
}

TEST_F(AuditTamperTest, AHeadKeptEarlierProvesTheLogOnlyGrew) {
  const fs::path kept = hub_.data_dir() / "kept-by-dpo.json";
  std::string out;
  ASSERT_EQ(Accordctl({"audit", "tree-head", "--bundle", dpo_bundle_.string(), "--address", hub_.address(), "--out",
                       kept.string()},
                      &out),
            0)
      << out;
  EXPECT_TRUE(Contains(out, "Signed tree head: 14 events, root ")) << out;
  // A month of work later.
  ASSERT_FALSE(RecordConsent(subjects_[0]).empty());
  ASSERT_FALSE(Resolve("9434765021").empty());
  const fs::path file = hub_.data_dir() / "export.jsonl";
  ASSERT_EQ(Accordctl({"audit", "export", "--bundle", dpo_bundle_.string(), "--address", hub_.address(), "--out",
                       file.string()},
                      &out),
            0)
      << out;
  StopHub();
  EXPECT_EQ(Accordctl({"audit", "verify", file.string(), "--public-key", key_file_.string(), "--tree-head",
                       kept.string(), "--event", "3"},
                      &out),
            0)
      << out;
  EXPECT_TRUE(Contains(out, "the kept tree head (14 events")) << out;
  EXPECT_TRUE(Contains(out, "the log only grew")) << out;
  EXPECT_TRUE(Contains(out, "Inclusion proof of event 3")) << out;
  EXPECT_TRUE(Contains(out, "verifies against the kept tree head (14 events)")) << out;
  EXPECT_TRUE(Contains(out, "Consistency proof")) << out;
  EXPECT_EQ(VerifyDataDir(&out, {"--tree-head", kept.string()}), 0) << out;

  // A kept head that does not match what the log says it held then.
  v1::SignedTreeHead other;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*security::ReadFile(kept), &other).ok());
  std::string root = other.root_hash();
  root[0] ^= 0x01;
  other.set_root_hash(root);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(other, &json).ok());
  std::ofstream(kept, std::ios::trunc) << json;
  EXPECT_EQ(Accordctl({"audit", "verify", file.string(), "--public-key", key_file_.string(), "--tree-head",
                       kept.string()},
                      &out),
            1)
      << out;
  EXPECT_TRUE(Contains(out, "root mismatch")) << out;
}

TEST_F(AuditTamperTest, ErasingAChildKeepsTheLogVerifiable) {
  const std::string subject = subjects_[1];
  std::string out;
  ASSERT_EQ(hub_.Accordctl({"subject", "erase", "--id", subject, "--reason", "Retention period ended"}, &out), 0)
      << out;
  EXPECT_TRUE(Contains(out, "Erased " + subject)) << out;
  EXPECT_TRUE(Contains(out, "the personal details of 3 of its 5 events in the log are unreadable")) << out;

  // The DPO still sees every event about the child, with the details gone.
  v1::QueryEventsRequest req;
  req.set_subject(subject);
  v1::QueryEventsResponse resp;
  grpc::Status s = dpo_->QueryEvents(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<v1::EventKind> kinds;
  for (const v1::LoggedEvent& e : resp.events()) {
    kinds.push_back(e.event().kind());
    EXPECT_FALSE(e.has_details()) << e.DebugString();
    if (!e.event().sealed_details().empty()) {
      EXPECT_TRUE(e.details_erased()) << e.DebugString();
    }
  }
  ASSERT_EQ(kinds, (std::vector<v1::EventKind>{v1::EVENT_KIND_SUBJECT_LINKED, v1::EVENT_KIND_CONSENT_RECORDED,
                                                v1::EVENT_KIND_CONSENT_RECORDED, v1::EVENT_KIND_CONSENT_WITHDRAWN,
                                                v1::EVENT_KIND_SUBJECT_ERASED, v1::EVENT_KIND_LOG_READ}));
  const v1::SharingEvent& erased = resp.events(4).event();
  EXPECT_EQ(erased.actor(), "");
  EXPECT_EQ(erased.reason_codes(0), "ERASED");
  EXPECT_EQ(erased.request().rfind("accordctl subject erase", 0), 0u) << erased.request();
  EXPECT_TRUE(resp.events(1).details_erased());
  // Another child's details are untouched.
  req.set_subject(subjects_[0]);
  ASSERT_TRUE(dpo_->QueryEvents(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.events(1).details().text(), "Mum signed the form at the school gate");

  v1::SignedTreeHead after = Head();
  StopHub();
  EXPECT_EQ(VerifyDataDir(&out, {"--tree-head", kept_file_.string()}), 0) << out;
  EXPECT_TRUE(Contains(out, absl::StrCat("Sharing log intact: ", after.tree_size(), " events"))) << out;
  // Every proof against the head taken before the erasure still verifies.
  for (uint64_t seq = 0; seq < signed_.tree_size(); ++seq) EXPECT_TRUE(ProveServedEvent(seq).ok()) << seq;

  std::string again;
  EXPECT_NE(hub_.Accordctl({"subject", "erase", "--id", "subjects/0000000000000000", "--reason", "x"}, &again), 0);
  EXPECT_TRUE(Contains(again, "no subject")) << again;
}

// The retention sweep: `subject erase --expired` erases exactly the children whose period under
// hub.json's retention has ended, and the log still verifies.
TEST(RetentionSweepTest, ErasesChildrenPastTheirRetentionPeriodOnly) {
  HubProcess hub(R"("retention": {"default_days": 30, "days_by_category": {"MENTAL_HEALTH": 400}})");
  fs::path school = hub.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
  ASSERT_TRUE(hub.Start()) << hub.Log();
  auto subjects = v1::SubjectService::NewStub(hub.Channel(school));
  std::vector<std::string> names;
  for (const char* nhs : {"9434765919", "9434765005"}) {
    v1::ResolveSubjectRequest req;
    req.mutable_identifiers()->set_nhs_number(nhs);
    v1::ResolveSubjectResponse resp;
    grpc::Status s = subjects->ResolveSubject(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    names.push_back(resp.subject().name());
  }
  const absl::Time now = absl::Now();
  auto day = [](absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); };
  std::string out;

  // Within the 30 days nobody is due.
  ASSERT_EQ(hub.Accordctl({"subject", "erase", "--expired", "--as-of", day(now + absl::Hours(24 * 20))}, &out), 0)
      << out;
  EXPECT_TRUE(Contains(out, "2 children in the sharing log; 0 are past their retention period")) << out;

  // A dry run after the period lists both and erases nothing.
  const std::string later = day(now + absl::Hours(24 * 31));
  ASSERT_EQ(hub.Accordctl({"subject", "erase", "--expired", "--dry-run", "--as-of", later}, &out), 0) << out;
  EXPECT_TRUE(Contains(out, "2 would be past their retention period")) << out;
  for (const std::string& name : names) EXPECT_TRUE(Contains(out, name + "  last used " + day(now))) << out;
  EXPECT_FALSE(Contains(out, "erased")) << out;
  v1::GetSubjectRequest get;
  get.set_name(names[0]);
  v1::GetSubjectResponse subject;
  EXPECT_TRUE(subjects->GetSubject(Ctx().get(), get, &subject).ok());

  // The sweep erases both; they are gone from the person index; a second sweep finds nobody.
  ASSERT_EQ(hub.Accordctl({"subject", "erase", "--expired", "--as-of", later}, &out), 0) << out;
  EXPECT_TRUE(Contains(out, names[0] + "  last used")) << out;
  EXPECT_TRUE(Contains(out, "erased")) << out;
  EXPECT_EQ(subjects->GetSubject(Ctx().get(), get, &subject).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_EQ(hub.Accordctl({"subject", "erase", "--expired", "--as-of", later}, &out), 0) << out;
  EXPECT_TRUE(Contains(out, "0 children in the sharing log")) << out;

  // Bad input: precise messages, exit code 2.
  EXPECT_EQ(hub.Accordctl({"subject", "erase", "--expired", "--as-of", "next week"}, &out), 2);
  EXPECT_TRUE(Contains(out, "--as-of: \"next week\" is not a date")) << out;
  EXPECT_EQ(hub.Accordctl({"subject", "erase", "--expired", "--id", names[0]}, &out), 2);
  EXPECT_EQ(hub.Accordctl({"subject", "erase", "--dry-run", "--id", names[0], "--reason", "x"}, &out), 2);

  subjects.reset();
  ASSERT_EQ(hub.Stop(SIGTERM), 0) << hub.Log();
  EXPECT_EQ(hub.Accordctl({"audit", "verify", "--data-dir", hub.data_dir().string()}, &out), 0) << out;
}

}  // namespace
}  // namespace accord
