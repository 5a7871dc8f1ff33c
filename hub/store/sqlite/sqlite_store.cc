// The embedded default Store: one SQLite file in WAL mode. Every write goes through one writer
// thread and connection (the single writer path) that commits many callers' changes, and the
// sharing events recording them, in one durable transaction (group commit); reads borrow a
// connection from a pool so they run concurrently with writes.
#include <openssl/rand.h>

#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "hub/audit/seal.h"
#include "hub/domain/codec.h"
#include "hub/store/sqlite/db.h"
#include "hub/store/sqlite/migrations.h"
#include "hub/store/store.h"

namespace accord::store {
namespace {

using domain::Certificate;
using domain::Partner;
using domain::PartnerState;
using domain::SharingAgreement;
using sqlite::Connection;
using sqlite::Statement;

int64_t ToMs(absl::Time t) { return absl::ToUnixMillis(t); }
absl::Time FromMs(int64_t ms) { return absl::FromUnixMillis(ms); }

template <typename Enum>
std::string JoinEnums(const std::vector<Enum>& values) {
  return absl::StrJoin(values, ",", [](std::string* out, Enum e) { absl::StrAppend(out, static_cast<int>(e)); });
}

template <typename Enum>
std::vector<Enum> SplitEnums(const std::string& text) {
  std::vector<Enum> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(static_cast<Enum>(v));
  }
  return out;
}

constexpr absl::string_view kPartnerColumns = "id, display_name, sector, roles, state, state_reason, create_time_ms";

Partner ReadPartner(const Statement& st, int first = 0) {
  Partner p;
  p.id = st.Text(first + 0);
  p.display_name = st.Text(first + 1);
  p.sector = static_cast<domain::Sector>(st.Int(first + 2));
  p.roles = SplitEnums<domain::Role>(st.Text(first + 3));
  p.state = static_cast<PartnerState>(st.Int(first + 4));
  p.state_reason = st.Text(first + 5);
  p.create_time = FromMs(st.Int(first + 6));
  return p;
}

constexpr absl::string_view kAgreementColumns =
    "id, discloser_partner, discloser_sector, recipient_partner, recipient_sector, purposes, categories, "
    "valid_from_ms, valid_until_ms, description, creator_id, create_time_ms";

SharingAgreement ReadAgreement(const Statement& st) {
  SharingAgreement a;
  a.id = st.Text(0);
  a.discloser.partner_id = st.Text(1);
  a.discloser.sector = static_cast<domain::Sector>(st.Int(2));
  a.recipient.partner_id = st.Text(3);
  a.recipient.sector = static_cast<domain::Sector>(st.Int(4));
  a.purposes = SplitEnums<domain::Purpose>(st.Text(5));
  a.categories = SplitEnums<domain::DataCategory>(st.Text(6));
  a.valid_from = FromMs(st.Int(7));
  a.valid_until = FromMs(st.Int(8));
  a.description = st.Text(9);
  a.creator_id = st.Text(10);
  a.create_time = FromMs(st.Int(11));
  return a;
}

constexpr absl::string_view kRecordColumns =
    "subject_id, partner_id, local_id, nhs_number, upn, given_name, family_name, birth_date, postcode, "
    "create_time_ms";

SubjectRecord ReadRecord(const Statement& st) {
  SubjectRecord r;
  r.person.subject_id = st.Text(0);
  r.partner_id = st.Text(1);
  r.local_id = st.Text(2);
  r.person.nhs_number = st.Text(3);
  r.person.upn = st.Text(4);
  r.person.given_name = st.Text(5);
  r.person.family_name = st.Text(6);
  r.person.birth_date = st.Text(7);
  r.person.postcode = st.Text(8);
  r.create_time = FromMs(st.Int(9));
  return r;
}

std::string JoinParties(const std::vector<domain::Party>& parties) {
  return absl::StrJoin(parties, ",", [](std::string* out, const domain::Party& p) {
    if (p.IsPartner()) {
      absl::StrAppend(out, "p:", p.partner_id);
    } else {
      absl::StrAppend(out, "s:", static_cast<int>(p.sector));
    }
  });
}

std::vector<domain::Party> SplitParties(const std::string& text) {
  std::vector<domain::Party> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    domain::Party p;
    int sector = 0;
    if (absl::ConsumePrefix(&part, "p:")) {
      p.partner_id = std::string(part);
    } else if (absl::ConsumePrefix(&part, "s:") && absl::SimpleAtoi(part, &sector)) {
      p.sector = static_cast<domain::Sector>(sector);
    }
    out.push_back(p);
  }
  return out;
}

constexpr absl::string_view kConsentColumns =
    "id, subject_id, given_by, purposes, categories, recipients, valid_from_ms, valid_until_ms, state, "
    "withdrawn_at_ms, recorded_by, evidence, create_time_ms";

domain::Consent ReadConsent(const Statement& st) {
  domain::Consent c;
  c.id = st.Text(0);
  c.subject_id = st.Text(1);
  c.given_by = static_cast<domain::ConsentGiver>(st.Int(2));
  c.purposes = SplitEnums<domain::Purpose>(st.Text(3));
  c.categories = SplitEnums<domain::DataCategory>(st.Text(4));
  c.recipients = SplitParties(st.Text(5));
  c.valid_from = FromMs(st.Int(6));
  c.valid_until = FromMs(st.Int(7));
  c.state = static_cast<domain::ConsentState>(st.Int(8));
  if (!st.IsNull(9)) c.withdrawn_at = FromMs(st.Int(9));
  c.recorded_by = st.Text(10);
  c.evidence = st.Text(11);
  c.create_time = FromMs(st.Int(12));
  return c;
}

void BindConsent(Statement& st, const domain::Consent& c) {
  st.Bind(1, c.id).Bind(2, c.subject_id).Bind(3, static_cast<int64_t>(c.given_by));
  st.Bind(4, JoinEnums(c.purposes)).Bind(5, JoinEnums(c.categories)).Bind(6, JoinParties(c.recipients));
  st.Bind(7, ToMs(c.valid_from)).Bind(8, ToMs(c.valid_until)).Bind(9, static_cast<int64_t>(c.state));
  if (c.withdrawn_at) {
    st.Bind(10, ToMs(*c.withdrawn_at));
  } else {
    st.BindNull(10);
  }
  st.Bind(11, c.recorded_by).Bind(12, c.evidence).Bind(13, ToMs(c.create_time));
}

absl::string_view HashText(const audit::Hash& hash) {
  return absl::string_view(reinterpret_cast<const char*>(hash.data()), hash.size());
}

std::string RandomId() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

// One caller's change: runs inside the group transaction (in a savepoint of its own) and fills
// `events` with the sharing events that record it.
using Unit = std::function<absl::Status(Connection&, std::vector<NewEvent>&)>;

class SqliteStore final : public Store {
 public:
  SqliteStore(std::filesystem::path file, std::unique_ptr<Connection> writer, audit::TreeBuilder tree)
      : file_(std::move(file)), read_hashes_(*this), writer_(std::move(writer)), tree_(std::move(tree)) {
    // The writer does not checkpoint (copy the WAL into the database file, then fsync it): that
    // took tens of milliseconds every few seconds under load, and every commit waited for it. It
    // only asks; the checkpointer thread does it on its own connection, beside the writer.
    sqlite3_wal_hook(writer_->raw(), &SqliteStore::AfterCommit, this);
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
    writer_thread_ = std::thread([this] { WriterLoop(); });
    completion_thread_ = std::thread([this] { CompletionLoop(); });
  }

  ~SqliteStore() override {
    {
      absl::MutexLock lock(&queue_mu_);
      stopping_ = true;
    }
    writer_thread_.join();  // runs every queued job first
    {
      absl::MutexLock lock(&completion_mu_);
      completions_stopping_ = true;
    }
    completion_thread_.join();  // runs every completion first
    {
      absl::MutexLock lock(&checkpoint_mu_);
      checkpoint_stopping_ = true;
    }
    checkpoint_thread_.join();
  }

  absl::Status CreatePartner(const Partner& partner) override {
    return RunWrite([&](Connection& conn, std::vector<NewEvent>&) { return InsertPartner(conn, partner); });
  }

  absl::Status CreatePartnerWithCertificate(const Partner& partner, const Certificate& cert) override {
    return RunWrite([&](Connection& conn, std::vector<NewEvent>&) {
      if (absl::Status s = InsertPartner(conn, partner); !s.ok()) return s;
      return InsertCertificate(conn, cert);
    });
  }

  absl::StatusOr<Partner> SetPartnerSuspended(absl::string_view id, bool suspended, absl::string_view reason) override {
    Partner partner;
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      auto found = SelectPartner(conn, id);
      if (!found.ok()) return found.status();
      partner = *found;
      if (partner.state == PartnerState::kRevoked) {
        return absl::FailedPreconditionError(absl::StrCat("partner ", id, " is REVOKED; revocation is final"));
      }
      partner.state = suspended ? PartnerState::kSuspended : PartnerState::kActive;
      partner.state_reason = suspended ? std::string(reason) : std::string();
      return UpdateState(conn, partner);
    });
    if (!status.ok()) return status;
    return partner;
  }

  absl::StatusOr<Partner> RevokePartner(absl::string_view id, absl::string_view reason) override {
    Partner partner;
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      auto found = SelectPartner(conn, id);
      if (!found.ok()) return found.status();
      partner = *found;
      partner.state = PartnerState::kRevoked;
      partner.state_reason = std::string(reason);
      if (absl::Status s = UpdateState(conn, partner); !s.ok()) return s;
      auto st = conn.Prepare("UPDATE certificates SET revoked = 1 WHERE partner_id = ?1");
      if (!st.ok()) return st.status();
      return st->Bind(1, id).Run();
    });
    if (!status.ok()) return status;
    return partner;
  }

  absl::Status AddCertificate(const Certificate& cert) override {
    return RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      if (auto p = SelectPartner(conn, cert.partner_id); !p.ok()) return p.status();
      return InsertCertificate(conn, cert);
    });
  }

  absl::StatusOr<SharingAgreement> CreateAgreement(SharingAgreement a) override {
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      for (auto [party, field] : {std::pair{&a.discloser, "sharing_agreement.discloser.partner"},
                                  std::pair{&a.recipient, "sharing_agreement.recipient.partner"}}) {
        if (!party->IsPartner()) continue;
        auto p = SelectPartner(conn, party->partner_id);
        if (absl::IsNotFound(p.status())) {
          return absl::InvalidArgumentError(absl::StrCat(field, ": no partner ", party->partner_id));
        }
        if (!p.ok()) return p.status();
      }
      a.id = RandomId();
      if (a.id.empty()) return absl::InternalError("no randomness for an agreement id");
      auto st = conn.Prepare(absl::StrCat("INSERT INTO sharing_agreements (", kAgreementColumns,
                                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
      if (!st.ok()) return st.status();
      st->Bind(1, a.id);
      BindPartnerOrNull(*st, 2, a.discloser.partner_id);
      st->Bind(3, int64_t{a.discloser.sector});
      BindPartnerOrNull(*st, 4, a.recipient.partner_id);
      st->Bind(5, int64_t{a.recipient.sector});
      st->Bind(6, JoinEnums(a.purposes)).Bind(7, JoinEnums(a.categories));
      st->Bind(8, ToMs(a.valid_from)).Bind(9, ToMs(a.valid_until)).Bind(10, a.description);
      BindPartnerOrNull(*st, 11, a.creator_id);
      st->Bind(12, ToMs(a.create_time));
      return st->Run();
    });
    if (!status.ok()) return status;
    return a;
  }

  absl::Status AddFamilyLink(const FamilyLink& link) override {
    return RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      auto st = conn.Prepare(
          "INSERT INTO family_links (subject_id, relative_id, relationship, recorded_by, create_time_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5)");
      if (!st.ok()) return st.status();
      st->Bind(1, link.subject_id).Bind(2, link.relative_id).Bind(3, int64_t{link.relationship});
      st->Bind(4, link.recorded_by).Bind(5, ToMs(link.create_time));
      absl::Status s = st->Run();
      if (absl::IsAlreadyExists(s)) return absl::AlreadyExistsError("relative: this family link is already recorded");
      return s;
    });
  }

  absl::StatusOr<domain::Consent> CreateConsent(domain::Consent consent,
                                                const EventsFor<domain::Consent>& events) override {
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>& out) -> absl::Status {
      consent.id = RandomId();
      if (consent.id.empty()) return absl::InternalError("no randomness for a consent id");
      auto st = conn.Prepare(absl::StrCat("INSERT INTO consents (", kConsentColumns,
                                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"));
      if (!st.ok()) return st.status();
      BindConsent(*st, consent);
      if (absl::Status s = st->Run(); !s.ok()) return s;
      if (events) out = events(consent);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return consent;
  }

  absl::StatusOr<domain::Consent> UpdateConsent(absl::string_view id,
                                                const std::function<absl::Status(domain::Consent&)>& change,
                                                const EventsFor<domain::Consent>& events) override {
    domain::Consent consent;
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>& out) -> absl::Status {
      absl::StatusOr<domain::Consent> found = SelectConsent(conn, id);
      if (!found.ok()) return found.status();
      consent = *found;
      if (absl::Status s = change(consent); !s.ok()) return s;
      consent.id = std::string(id);
      auto st = conn.Prepare(absl::StrCat("INSERT OR REPLACE INTO consents (", kConsentColumns,
                                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"));
      if (!st.ok()) return st.status();
      BindConsent(*st, consent);
      if (absl::Status s = st->Run(); !s.ok()) return s;
      if (events) out = events(consent);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return consent;
  }

  std::unique_ptr<ReadSnapshot> SnapshotReads() override { return std::make_unique<Snapshot>(*this); }

  // The sharing log ------------------------------------------------------------------------

  absl::StatusOr<std::vector<uint64_t>> AppendEvents(std::vector<NewEvent> events) override {
    std::vector<uint64_t> sequences;
    absl::Status status = RunWrite(
        [&](Connection&, std::vector<NewEvent>& out) {
          out = std::move(events);
          return absl::OkStatus();
        },
        &sequences);
    if (!status.ok()) return status;
    return sequences;
  }

  void AppendEventsLater(std::vector<NewEvent> events, AppendDone done) override {
    auto owned = std::make_shared<std::vector<NewEvent>>(std::move(events));
    RunWriteLater(
        [owned](Connection&, std::vector<NewEvent>& out) {
          out = std::move(*owned);
          return absl::OkStatus();
        },
        [done = std::move(done)](Job& job) {
          if (!job.status.ok()) return done(job.status);
          done(std::move(job.sequences));
        });
  }

  absl::StatusOr<uint64_t> LogSize() override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    return SelectLogSize(r.conn());
  }

  audit::HashStore& LogHashes() override { return read_hashes_; }

  absl::StatusOr<std::vector<StoredEvent>> ReadEvents(uint64_t from, int limit) override {
    return QueryEvents(EventFilter(), from, limit);
  }

  absl::StatusOr<std::vector<StoredEvent>> QueryEvents(const EventFilter& f, uint64_t from, int limit) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    std::string sql = "SELECT seq, record, subject_id FROM log_events WHERE seq >= ?1";
    // The `!= ''` terms let SQLite use the partial indexes on subject and recipient.
    if (!f.subject_id.empty()) sql += " AND subject_id = ?2 AND subject_id != ''";
    if (!f.actor_id.empty()) sql += " AND actor = ?3";
    if (!f.recipient_id.empty()) sql += " AND recipient = ?4 AND recipient != ''";
    if (f.purpose != 0) sql += " AND purpose = ?5";
    if (f.basis != 0) sql += " AND basis = ?6";
    if (f.kind != 0) sql += " AND kind = ?7";
    if (f.start != absl::InfinitePast()) sql += " AND time_ms >= ?8";
    if (f.end != absl::InfiniteFuture()) sql += " AND time_ms < ?9";
    sql += " ORDER BY seq LIMIT ?10";
    auto st = r.conn().Prepare(sql);
    if (!st.ok()) return st.status();
    st->Bind(1, static_cast<int64_t>(from)).Bind(10, int64_t{limit});
    if (!f.subject_id.empty()) st->Bind(2, f.subject_id);
    if (!f.actor_id.empty()) st->Bind(3, f.actor_id);
    if (!f.recipient_id.empty()) st->Bind(4, f.recipient_id);
    if (f.purpose != 0) st->Bind(5, int64_t{f.purpose});
    if (f.basis != 0) st->Bind(6, int64_t{f.basis});
    if (f.kind != 0) st->Bind(7, int64_t{f.kind});
    if (f.start != absl::InfinitePast()) st->Bind(8, ToMs(f.start));
    if (f.end != absl::InfiniteFuture()) st->Bind(9, ToMs(f.end));
    std::vector<StoredEvent> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      StoredEvent e;
      e.sequence = static_cast<uint64_t>(st->Int(0));
      e.record = st->Blob(1);
      if (absl::Status s = OpenStoredDetails(r.conn(), st->Text(2), e); !s.ok()) return s;
      out.push_back(std::move(e));
    }
    return out;
  }

  absl::Status SaveTreeHead(const audit::SignedTreeHead& head) override {
    return RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      auto st = conn.Prepare(
          "INSERT OR IGNORE INTO log_tree_heads (tree_size, root, time_ms, signature) VALUES (?1, ?2, ?3, ?4)");
      if (!st.ok()) return st.status();
      st->Bind(1, static_cast<int64_t>(head.head.tree_size)).BindBlob(2, HashText(head.head.root_hash));
      st->Bind(3, ToMs(head.head.timestamp)).BindBlob(4, head.signature);
      return st->Run();
    });
  }

  absl::StatusOr<audit::SignedTreeHead> LatestTreeHead() override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(
        "SELECT tree_size, root, time_ms, signature FROM log_tree_heads ORDER BY tree_size DESC LIMIT 1");
    if (!st.ok()) return st.status();
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError("no signed tree head has been saved yet");
    audit::SignedTreeHead head;
    head.head.tree_size = static_cast<uint64_t>(st->Int(0));
    auto root = audit::HashFromBytes(st->Blob(1));
    if (!root.ok()) return absl::DataLossError("a saved tree head's root is not 32 bytes");
    head.head.root_hash = *root;
    head.head.timestamp = FromMs(st->Int(2));
    head.signature = st->Blob(3);
    return head;
  }

  absl::StatusOr<std::map<std::string, domain::LastUse>> SubjectLastUse() override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(
        "SELECT e.subject_id, e.time_ms, e.record FROM log_events e WHERE e.subject_id != '' AND NOT EXISTS "
        "(SELECT 1 FROM subject_keys k WHERE k.subject_id = e.subject_id AND k.key IS NULL) ORDER BY e.seq");
    if (!st.ok()) return st.status();
    std::map<std::string, domain::LastUse> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      v1::SharingEvent e;
      if (!e.ParseFromString(st->Blob(2))) return absl::DataLossError("a sharing log event does not parse");
      domain::LastUse& use = out[st->Text(0)];
      absl::Time when = FromMs(st->Int(1));
      auto touch = [&](domain::DataCategory c) { use[c] = std::max(use.count(c) ? use[c] : when, when); };
      if (e.disclosed_categories_size() + e.refused_categories_size() == 0) touch(::accord::v1::DATA_CATEGORY_UNSPECIFIED);
      for (int c : e.disclosed_categories()) touch(static_cast<domain::DataCategory>(c));
      for (int c : e.refused_categories()) touch(static_cast<domain::DataCategory>(c));
    }
    return out;
  }

  absl::Status EraseSubject(absl::string_view subject_id, NewEvent event) override {
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>& out) -> absl::Status {
      auto exists = conn.Prepare("SELECT 1 FROM subjects WHERE id = ?1");
      if (!exists.ok()) return exists.status();
      auto row = exists->Bind(1, subject_id).Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::NotFoundError(absl::StrCat("no subject ", subject_id));
      for (const char* sql : {
               "INSERT INTO subject_keys (subject_id, key) VALUES (?1, NULL) "
               "ON CONFLICT (subject_id) DO UPDATE SET key = NULL",
               "DELETE FROM subject_records WHERE subject_id = ?1",
               "DELETE FROM subject_identifiers WHERE subject_id = ?1",
               "DELETE FROM family_links WHERE subject_id = ?1 OR relative_id = ?1",
               "UPDATE consents SET evidence = '' WHERE subject_id = ?1",
           }) {
        auto st = conn.Prepare(sql);
        if (!st.ok()) return st.status();
        if (absl::Status s = st->Bind(1, subject_id).Run(); !s.ok()) return s;
      }
      if (absl::Status s = BlankReferralTexts(conn, subject_id); !s.ok()) return s;
      event.subject_id = std::string(subject_id);
      event.details.clear();
      out.push_back(std::move(event));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    // Old pages holding the key may linger in the WAL: fold them into the (secure-deleted) file.
    absl::MutexLock lock(&write_mu_);
    return writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  absl::StatusOr<ResolveResult> ResolveSubject(const SubjectRecord& incoming, const MatchFn& match,
                                               bool create_when_ambiguous,
                                               const EventsFor<ResolveResult>& events) override {
    ResolveResult result;
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>& out) -> absl::Status {
    result = ResolveResult();
    std::string by_nhs, by_upn;
    for (auto [kind, value, out] : {std::tuple{"nhs", &incoming.person.nhs_number, &by_nhs},
                                    std::tuple{"upn", &incoming.person.upn, &by_upn}}) {
      if (value->empty()) continue;
      auto st = conn.Prepare("SELECT subject_id FROM subject_identifiers WHERE kind = ?1 AND value = ?2");
      if (!st.ok()) return st.status();
      auto row = st->Bind(1, kind).Bind(2, *value).Step();
      if (!row.ok()) return row.status();
      if (*row) *out = st->Text(0);
    }
    std::string subject_id;
    if (!by_nhs.empty() && !by_upn.empty() && by_nhs != by_upn) {
      return absl::FailedPreconditionError(
          "identifiers: the NHS number and the UPN belong to two different subjects; resolve with one of them and "
          "ask the hub's operator to review the records");
    }
    if (!by_nhs.empty() || !by_upn.empty()) {
      subject_id = by_nhs.empty() ? by_upn : by_nhs;
      result.outcome = ResolveOutcome::kMatchedIdentifier;
    } else {
      auto st = conn.Prepare(absl::StrCat("SELECT ", kRecordColumns,
                                              " FROM subject_records WHERE (birth_date = ?1 AND ?1 != '') OR "
                                              "(family_key = ?2 AND ?2 != '') ORDER BY subject_id, partner_id"));
      if (!st.ok()) return st.status();
      st->Bind(1, incoming.person.birth_date).Bind(2, domain::NormaliseName(incoming.person.family_name));
      std::vector<domain::PersonRecord> candidates;
      for (;;) {
        auto row = st->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        candidates.push_back(ReadRecord(*st).person);
      }
      domain::MatchResult matched = match(candidates);
      switch (matched.outcome) {
        case domain::MatchOutcome::kConfident:
          subject_id = matched.subject_id;
          result.outcome = ResolveOutcome::kMatchedDemographics;
          break;
        case domain::MatchOutcome::kAmbiguous:
          if (create_when_ambiguous) {
            result.outcome = ResolveOutcome::kCreated;
            break;
          }
          result.outcome = ResolveOutcome::kAmbiguous;
          result.candidates = std::move(matched.candidates);
          return absl::OkStatus();  // nothing written, nothing logged
        case domain::MatchOutcome::kNone:
          result.outcome = ResolveOutcome::kCreated;
          break;
      }
    }
    absl::Time now = incoming.create_time;
    if (result.outcome == ResolveOutcome::kCreated) {
      subject_id = RandomId();
      if (subject_id.empty()) return absl::InternalError("no randomness for a subject id");
      auto st = conn.Prepare("INSERT INTO subjects (id, create_time_ms) VALUES (?1, ?2)");
      if (!st.ok()) return st.status();
      if (absl::Status s = st->Bind(1, subject_id).Bind(2, ToMs(now)).Run(); !s.ok()) return s;
    }
    // The caller's record: kept from before when it had one, completed with what it sent now.
    absl::StatusOr<SubjectRecord> existing = SelectRecord(conn, subject_id, incoming.partner_id);
    if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
    SubjectRecord record = incoming;
    record.person.subject_id = subject_id;
    if (existing.ok()) {
      record.create_time = existing->create_time;
      for (auto [mine, before] : {std::pair{&record.local_id, &existing->local_id},
                                  std::pair{&record.person.nhs_number, &existing->person.nhs_number},
                                  std::pair{&record.person.upn, &existing->person.upn},
                                  std::pair{&record.person.given_name, &existing->person.given_name},
                                  std::pair{&record.person.family_name, &existing->person.family_name},
                                  std::pair{&record.person.birth_date, &existing->person.birth_date},
                                  std::pair{&record.person.postcode, &existing->person.postcode}}) {
        if (mine->empty()) *mine = *before;
      }
    }
    auto st = conn.Prepare(absl::StrCat("INSERT OR REPLACE INTO subject_records (", kRecordColumns,
                                            ", family_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    if (!st.ok()) return st.status();
    const domain::PersonRecord& p = record.person;
    st->Bind(1, subject_id).Bind(2, record.partner_id).Bind(3, record.local_id).Bind(4, p.nhs_number).Bind(5, p.upn);
    st->Bind(6, p.given_name).Bind(7, p.family_name).Bind(8, p.birth_date).Bind(9, p.postcode);
    st->Bind(10, ToMs(record.create_time)).Bind(11, domain::NormaliseName(p.family_name));
    if (absl::Status s = st->Run(); !s.ok()) return s;
    for (auto [kind, value] : {std::pair{"nhs", &p.nhs_number}, std::pair{"upn", &p.upn}}) {
      if (value->empty()) continue;
      auto ins = conn.Prepare(
          "INSERT INTO subject_identifiers (kind, value, subject_id) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (kind, value) DO NOTHING");
      if (!ins.ok()) return ins.status();
      if (absl::Status s = ins->Bind(1, kind).Bind(2, *value).Bind(3, subject_id).Run(); !s.ok()) return s;
    }
    result.record = std::move(record);
    if (events) out = events(result);
    return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return result;
  }

  // The directory ------------------------------------------------------------------------------

  absl::StatusOr<domain::Service> PublishService(domain::Service service, bool availability_given) override {
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
      if (service.id.empty()) {
        service.id = RandomId();
        if (service.id.empty()) return absl::InternalError("no randomness for a service id");
      }
      absl::StatusOr<domain::Service> existing = SelectService(conn, service.id);
      if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
      service.create_time = now;
      if (existing.ok()) {
        if (existing->provider_id != service.provider_id) {
          return absl::AlreadyExistsError(absl::StrCat("service_id: service ", service.id,
                                                       " was published by another provider"));
        }
        service.create_time = existing->create_time;
        if (!availability_given) service.availability = existing->availability;
      }
      if (availability_given || !existing.ok()) service.availability.update_time = now;
      service.update_time = now;
      return WriteService(conn, service);
    });
    if (!status.ok()) return status;
    return service;
  }

  absl::StatusOr<domain::Service> GetService(absl::string_view id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    return SelectService(r.conn(), id);
  }

  absl::StatusOr<std::vector<domain::Service>> ListServices() override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare("SELECT record FROM services ORDER BY id");
    if (!st.ok()) return st.status();
    std::vector<domain::Service> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      absl::StatusOr<domain::Service> s = DecodeService(st->Blob(0));
      if (!s.ok()) return s.status();
      out.push_back(std::move(*s));
    }
    return out;
  }

  absl::StatusOr<domain::Service> UpdateAvailability(absl::string_view id, absl::string_view provider_id,
                                                     domain::Availability availability) override {
    domain::Service service;
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      absl::StatusOr<domain::Service> found = SelectService(conn, id);
      if (absl::IsNotFound(found.status())) return absl::NotFoundError(absl::StrCat("name: no service ", id));
      if (!found.ok()) return found.status();
      if (found->provider_id != provider_id) {
        return absl::PermissionDeniedError(
            absl::StrCat("name: service ", id, " was published by another provider; only it may change it"));
      }
      service = *found;
      absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
      service.availability = availability;
      service.availability.update_time = now;
      service.update_time = now;
      return WriteService(conn, service);
    });
    if (!status.ok()) return status;
    return service;
  }

  // Referrals ----------------------------------------------------------------------------------

  absl::StatusOr<SubmitResult> CreateReferral(domain::Referral referral, const ReferralEffectsFor& effects) override {
    SubmitResult result;
    absl::Status status = RunWrite(CreateReferralUnit(std::move(referral), effects, result));
    if (!status.ok()) return status;
    return result;
  }

  void CreateReferralLater(domain::Referral referral, ReferralEffectsFor effects, SubmitDone done) override {
    struct State {
      ReferralEffectsFor effects;
      SubmitResult result;
    };
    auto state = std::make_shared<State>();
    state->effects = std::move(effects);
    RunWriteLater(CreateReferralUnit(std::move(referral), state->effects, state->result),
                  [state, done = std::move(done)](Job& job) {
                    if (!job.status.ok()) return done(job.status);
                    done(std::move(state->result));
                  });
  }

  // The write of CreateReferral: `effects` and `result` must outlive the unit.
  static Unit CreateReferralUnit(domain::Referral referral, const ReferralEffectsFor& effects, SubmitResult& result) {
    return [referral = std::move(referral), &effects, &result](Connection& conn,
                                                               std::vector<NewEvent>& out) mutable -> absl::Status {
      result = SubmitResult();
      auto st = conn.Prepare("SELECT id FROM referrals WHERE referrer_id = ?1 AND idempotency_key = ?2");
      if (!st.ok()) return st.status();
      auto row = st->Bind(1, referral.referrer_id).Bind(2, referral.idempotency_key).Step();
      if (!row.ok()) return row.status();
      if (*row) {
        absl::StatusOr<domain::Referral> original = SelectReferral(conn, st->Text(0));
        if (!original.ok()) return original.status();
        if (!domain::SameSubmission(*original, referral)) {
          return absl::AlreadyExistsError(
              "referral.idempotency_key: this key was already used for a different referral; choose a new key");
        }
        result.referral = std::move(*original);
        return absl::OkStatus();
      }
      referral.id = TimeOrderedId(referral.create_time);
      if (referral.id.empty()) return absl::InternalError("no randomness for a referral id");
      if (absl::Status s = WriteReferral(conn, referral, /*insert=*/true, 0); !s.ok()) return s;
      result.referral = referral;
      result.created = true;
      return ApplyEffects(conn, referral, effects, out);
    };
  }

  absl::StatusOr<domain::Referral> FindReferralByKey(absl::string_view referrer_id,
                                                     absl::string_view idempotency_key) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare("SELECT id FROM referrals WHERE referrer_id = ?1 AND idempotency_key = ?2");
    if (!st.ok()) return st.status();
    auto row = st->Bind(1, referrer_id).Bind(2, idempotency_key).Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError("no referral with this idempotency key");
    return SelectReferral(r.conn(), st->Text(0));
  }

  absl::StatusOr<domain::Referral> GetReferral(absl::string_view id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    return SelectReferral(r.conn(), id);
  }

  absl::StatusOr<std::vector<domain::Referral>> ListReferrals(const ReferralFilter& f, absl::string_view before_id,
                                                              int limit) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    std::string sql = "SELECT id, state FROM referrals WHERE (?1 = '' OR id < ?1)";
    if (!f.party_id.empty()) {
      if (f.as_referrer && f.as_provider) {
        sql += " AND (referrer_id = ?2 OR provider_id = ?2)";
      } else if (f.as_referrer) {
        sql += " AND referrer_id = ?2";
      } else {
        sql += " AND provider_id = ?2";
      }
    }
    if (f.state != ::accord::v1::REFERRAL_STATE_UNSPECIFIED) sql += " AND state = ?3";
    if (!f.service_id.empty()) sql += " AND service_id = ?4";
    if (!f.subject_id.empty()) sql += " AND subject_id = ?5";
    if (!f.not_provider_id.empty()) sql += " AND provider_id != ?7";
    // Open-only is judged below, row by row (an IN list would make SQLite build a temporary index
    // for every query); the limit then counts the rows kept.
    sql += " ORDER BY id DESC LIMIT ?6";
    auto st = r.conn().Prepare(sql);
    if (!st.ok()) return st.status();
    st->Bind(1, before_id).Bind(6, f.open_only ? int64_t{-1} : int64_t{limit});
    if (!f.party_id.empty()) st->Bind(2, f.party_id);
    if (f.state != ::accord::v1::REFERRAL_STATE_UNSPECIFIED) st->Bind(3, int64_t{f.state});
    if (!f.service_id.empty()) st->Bind(4, f.service_id);
    if (!f.subject_id.empty()) st->Bind(5, f.subject_id);
    if (!f.not_provider_id.empty()) st->Bind(7, f.not_provider_id);
    std::vector<std::string> ids;
    while (static_cast<int>(ids.size()) < limit) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (f.open_only && !domain::IsOpen(static_cast<domain::ReferralState>(st->Int(1)))) continue;
      ids.push_back(st->Text(0));
    }
    std::vector<domain::Referral> out;
    for (const std::string& id : ids) {
      absl::StatusOr<domain::Referral> referral = SelectReferral(r.conn(), id);
      if (!referral.ok()) return referral.status();
      out.push_back(std::move(*referral));
    }
    return out;
  }

  absl::StatusOr<domain::Referral> UpdateReferral(absl::string_view id,
                                                  const std::function<absl::Status(domain::Referral&)>& change,
                                                  const ReferralEffectsFor& effects) override {
    domain::Referral referral;
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>& out) -> absl::Status {
      absl::StatusOr<domain::Referral> found = SelectReferral(conn, id);
      if (!found.ok()) return found.status();
      referral = *found;
      size_t before = referral.history.size();
      if (absl::Status s = change(referral); !s.ok()) return s;
      referral.id = std::string(id);
      if (absl::Status s = WriteReferral(conn, referral, /*insert=*/false, before); !s.ok()) return s;
      return ApplyEffects(conn, referral, effects, out);
    });
    if (!status.ok()) return status;
    return referral;
  }

  absl::StatusOr<std::vector<InboxItem>> ReadInbox(absl::string_view partner_id, int64_t after, int limit) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(
        "SELECT seq, partner_id, referral_id, state, time_ms, concurrent_service_id FROM deliveries "
        "WHERE partner_id = ?1 AND seq > ?2 "
        "ORDER BY seq LIMIT ?3");
    if (!st.ok()) return st.status();
    st->Bind(1, partner_id).Bind(2, after).Bind(3, int64_t{limit});
    std::vector<InboxItem> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(InboxItem{st->Int(0), st->Text(1), st->Text(2), static_cast<domain::ReferralState>(st->Int(3)),
                              FromMs(st->Int(4)), st->Text(5)});
    }
    return out;
  }

  // The delivery outbox -------------------------------------------------------------------------

  absl::StatusOr<int> FillOutbox(absl::string_view partner_id, int limit) override {
    // A read first: the common case (nothing new) costs no write transaction.
    std::vector<int64_t> seqs;
    {
      Reader r(*this);
      if (!r.ok()) return r.status();
      absl::StatusOr<std::vector<int64_t>> fresh = NewInboxSeqs(r.conn(), partner_id, limit);
      if (!fresh.ok()) return fresh.status();
      if (fresh->empty()) return 0;
    }
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      absl::StatusOr<std::vector<int64_t>> fresh = NewInboxSeqs(conn, partner_id, limit);
      if (!fresh.ok()) return fresh.status();
      seqs = std::move(*fresh);
      if (seqs.empty()) return absl::OkStatus();
      const int64_t now = ToMs(absl::Now());
      for (int64_t seq : seqs) {
        auto ins = conn.Prepare(
            "INSERT OR IGNORE INTO plugin_outbox (partner_id, inbox_seq, state, attempts, next_attempt_ms, last_error, "
            "external_id, update_time_ms) VALUES (?1, ?2, ?3, 0, ?4, '', '', ?4)");
        if (!ins.ok()) return ins.status();
        ins->Bind(1, partner_id).Bind(2, seq).Bind(3, int64_t{static_cast<int>(domain::OutboxState::kPending)});
        ins->Bind(4, now);
        if (absl::Status s = ins->Run(); !s.ok()) return s;
      }
      auto save = conn.Prepare(
          "INSERT INTO outbox_cursors (partner_id, inbox_seq, poll_cursor) VALUES (?1, ?2, '') "
          "ON CONFLICT (partner_id) DO UPDATE SET inbox_seq = excluded.inbox_seq");
      if (!save.ok()) return save.status();
      return save->Bind(1, partner_id).Bind(2, seqs.back()).Run();
    });
    if (!status.ok()) return status;
    return static_cast<int>(seqs.size());
  }

  // The partner's inbox items after its outbox cursor.
  static absl::StatusOr<std::vector<int64_t>> NewInboxSeqs(Connection& conn, absl::string_view partner_id, int limit) {
    auto cursor = conn.Prepare("SELECT inbox_seq FROM outbox_cursors WHERE partner_id = ?1");
    if (!cursor.ok()) return cursor.status();
    auto row = cursor->Bind(1, partner_id).Step();
    if (!row.ok()) return row.status();
    int64_t after = *row ? cursor->Int(0) : 0;
    auto items = conn.Prepare("SELECT seq FROM deliveries WHERE partner_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    if (!items.ok()) return items.status();
    items->Bind(1, partner_id).Bind(2, after).Bind(3, int64_t{limit});
    std::vector<int64_t> seqs;
    for (;;) {
      auto next = items->Step();
      if (!next.ok()) return next.status();
      if (!*next) break;
      seqs.push_back(items->Int(0));
    }
    return seqs;
  }

  static constexpr const char* kOutboxColumns =
      "o.id, o.state, o.attempts, o.next_attempt_ms, o.last_error, o.external_id, o.update_time_ms, "
      "d.seq, d.partner_id, d.referral_id, d.state, d.time_ms, d.concurrent_service_id";

  static OutboxItem ReadOutboxItem(const Statement& st) {
    OutboxItem item;
    item.id = st.Int(0);
    item.state = static_cast<domain::OutboxState>(st.Int(1));
    item.attempts = static_cast<int>(st.Int(2));
    item.next_attempt = FromMs(st.Int(3));
    item.last_error = st.Text(4);
    item.external_id = st.Text(5);
    item.update_time = FromMs(st.Int(6));
    item.inbox = InboxItem{st.Int(7), st.Text(8), st.Text(9), static_cast<domain::ReferralState>(st.Int(10)),
                           FromMs(st.Int(11)), st.Text(12)};
    return item;
  }

  static absl::StatusOr<std::vector<OutboxItem>> CollectOutbox(Statement& st) {
    std::vector<OutboxItem> out;
    for (;;) {
      auto row = st.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(ReadOutboxItem(st));
    }
    return out;
  }

  absl::StatusOr<std::vector<OutboxItem>> DueOutboxItems(absl::string_view partner_id, absl::Time now,
                                                         int limit) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(absl::StrCat(
        "SELECT ", kOutboxColumns, " FROM plugin_outbox o JOIN deliveries d ON d.seq = o.inbox_seq "
        "WHERE o.partner_id = ?1 AND o.state = ?2 AND o.next_attempt_ms <= ?3 ORDER BY o.id LIMIT ?4"));
    if (!st.ok()) return st.status();
    st->Bind(1, partner_id).Bind(2, int64_t{static_cast<int>(domain::OutboxState::kPending)});
    st->Bind(3, ToMs(now)).Bind(4, int64_t{limit});
    return CollectOutbox(*st);
  }

  absl::Status UpdateOutboxItem(const OutboxItem& item) override {
    return RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      auto st = conn.Prepare(
          "UPDATE plugin_outbox SET state = ?2, attempts = ?3, next_attempt_ms = ?4, last_error = ?5, "
          "external_id = ?6, update_time_ms = ?7 WHERE id = ?1");
      if (!st.ok()) return st.status();
      st->Bind(1, item.id).Bind(2, int64_t{static_cast<int>(item.state)}).Bind(3, int64_t{item.attempts});
      st->Bind(4, ToMs(item.next_attempt)).Bind(5, item.last_error).Bind(6, item.external_id);
      st->Bind(7, ToMs(absl::Now()));
      if (absl::Status s = st->Run(); !s.ok()) return s;
      if (conn.Changes() == 0) return absl::NotFoundError(absl::StrCat("no outbox item ", item.id));
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<OutboxItem>> ListOutbox(std::optional<domain::OutboxState> state, int64_t after_id,
                                                     int limit) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(absl::StrCat("SELECT ", kOutboxColumns,
                                            " FROM plugin_outbox o JOIN deliveries d ON d.seq = o.inbox_seq "
                                            "WHERE o.id > ?1 AND (?2 = 0 OR o.state = ?2) ORDER BY o.id LIMIT ?3"));
    if (!st.ok()) return st.status();
    st->Bind(1, after_id).Bind(2, int64_t{state ? static_cast<int>(*state) : 0}).Bind(3, int64_t{limit});
    return CollectOutbox(*st);
  }

  absl::StatusOr<OutboxItem> RedriveOutboxItem(int64_t id) override {
    OutboxItem item;
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      auto st = conn.Prepare(absl::StrCat("SELECT ", kOutboxColumns,
                                          " FROM plugin_outbox o JOIN deliveries d ON d.seq = o.inbox_seq "
                                          "WHERE o.id = ?1"));
      if (!st.ok()) return st.status();
      auto row = st->Bind(1, id).Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::NotFoundError(absl::StrCat("no outbox item ", id));
      item = ReadOutboxItem(*st);
      if (item.state != domain::OutboxState::kDead) {
        return absl::FailedPreconditionError(absl::StrCat("outbox item ", id, " is ",
                                                          domain::OutboxStateName(item.state), ", not DEAD"));
      }
      item.state = domain::OutboxState::kPending;
      item.attempts = 0;
      item.next_attempt = absl::FromUnixMillis(ToMs(absl::Now()));
      auto up = conn.Prepare(
          "UPDATE plugin_outbox SET state = ?2, attempts = 0, next_attempt_ms = ?3, update_time_ms = ?3 WHERE id = ?1");
      if (!up.ok()) return up.status();
      return up->Bind(1, id).Bind(2, int64_t{static_cast<int>(item.state)}).Bind(3, ToMs(item.next_attempt)).Run();
    });
    if (!status.ok()) return status;
    return item;
  }

  absl::StatusOr<std::string> PollCursor(absl::string_view partner_id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare("SELECT poll_cursor FROM outbox_cursors WHERE partner_id = ?1");
    if (!st.ok()) return st.status();
    auto row = st->Bind(1, partner_id).Step();
    if (!row.ok()) return row.status();
    return *row ? st->Text(0) : std::string();
  }

  absl::Status SavePollCursor(absl::string_view partner_id, absl::string_view cursor) override {
    return RunWrite([&](Connection& conn, std::vector<NewEvent>&) -> absl::Status {
      auto st = conn.Prepare(
          "INSERT INTO outbox_cursors (partner_id, inbox_seq, poll_cursor) VALUES (?1, 0, ?2) "
          "ON CONFLICT (partner_id) DO UPDATE SET poll_cursor = excluded.poll_cursor");
      if (!st.ok()) return st.status();
      return st->Bind(1, partner_id).Bind(2, cursor).Run();
    });
  }

  // Outcomes -----------------------------------------------------------------------------------

  absl::StatusOr<std::vector<RecordedOutcome>> RecordOutcomes(
      absl::string_view referral_id, const std::function<absl::Status(const domain::Referral&)>& check,
      const std::vector<domain::OutcomeValue>& values, const EventsFor<domain::Referral>& events) override {
    std::vector<RecordedOutcome> all;
    absl::Status status = RunWrite([&](Connection& conn, std::vector<NewEvent>& out) -> absl::Status {
      absl::StatusOr<domain::Referral> referral = SelectReferral(conn, referral_id);
      if (!referral.ok()) return referral.status();
      if (absl::Status s = check(*referral); !s.ok()) return s;
      absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
      for (const domain::OutcomeValue& v : values) {
        auto st = conn.Prepare(
            "INSERT OR REPLACE INTO outcomes (referral_id, measure, timepoint, record, record_time_ms) "
            "VALUES (?1, ?2, ?3, ?4, ?5)");
        if (!st.ok()) return st.status();
        st->Bind(1, referral_id).Bind(2, int64_t{v.measure}).Bind(3, int64_t{v.timepoint});
        st->BindBlob(4, domain::OutcomeToProto(v).SerializeAsString()).Bind(5, ToMs(now));
        if (absl::Status s = st->Run(); !s.ok()) return s;
      }
      absl::StatusOr<std::vector<RecordedOutcome>> stored = SelectOutcomes(conn, referral_id);
      if (!stored.ok()) return stored.status();
      all = std::move(*stored);
      if (events) out = events(*referral);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return all;
  }

  absl::StatusOr<std::vector<RecordedOutcome>> ListOutcomes(absl::string_view referral_id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    return SelectOutcomes(r.conn(), referral_id);
  }

  absl::StatusOr<std::vector<domain::OutcomePair>> OutcomePairs(absl::string_view service_id, absl::Time start,
                                                                absl::Time end) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    std::string sql =
        "SELECT o.referral_id, o.measure, o.timepoint, o.record FROM outcomes o JOIN referrals r ON r.id = "
        "o.referral_id WHERE r.service_id = ?1";
    bool windowed = start != absl::InfinitePast() || end != absl::InfiniteFuture();
    if (windowed) sql += " AND r.close_time_ms IS NOT NULL AND r.close_time_ms >= ?2 AND r.close_time_ms < ?3";
    sql += " ORDER BY o.referral_id, o.measure, o.timepoint";
    auto st = r.conn().Prepare(sql);
    if (!st.ok()) return st.status();
    st->Bind(1, service_id);
    if (windowed) {
      st->Bind(2, start == absl::InfinitePast() ? std::numeric_limits<int64_t>::min() : ToMs(start));
      st->Bind(3, end == absl::InfiniteFuture() ? std::numeric_limits<int64_t>::max() : ToMs(end));
    }
    std::map<std::pair<std::string, int>, domain::OutcomePair> pairs;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      ::accord::v1::OutcomeValue value;
      if (!value.ParseFromString(st->Blob(3))) return absl::DataLossError("a stored outcome does not parse");
      domain::OutcomeValue v = domain::OutcomeFromProto(value);
      domain::OutcomePair& pair = pairs[{st->Text(0), static_cast<int>(st->Int(1))}];
      pair.service_id = std::string(service_id);
      pair.measure = v.measure;
      double score = domain::ReportedScore(v);
      if (v.timepoint == ::accord::v1::OUTCOME_TIMEPOINT_START) pair.start = score;
      if (v.timepoint == ::accord::v1::OUTCOME_TIMEPOINT_CLOSE) pair.close = score;
    }
    std::vector<domain::OutcomePair> out;
    for (auto& [key, pair] : pairs) out.push_back(std::move(pair));
    return out;
  }

  absl::StatusOr<Partner> GetPartner(absl::string_view id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    return SelectPartner(r.conn(), id);
  }
  absl::StatusOr<std::vector<Partner>> ListPartners(absl::string_view after_id, int limit) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(absl::StrCat("SELECT ", kPartnerColumns, " FROM partners WHERE id > ?1 ORDER BY id LIMIT ?2"));
    if (!st.ok()) return st.status();
    st->Bind(1, after_id).Bind(2, int64_t{limit});
    std::vector<Partner> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(ReadPartner(*st));
    }
    return out;
  }
  absl::StatusOr<Credential> FindCredential(absl::string_view serial_hex) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(absl::StrCat(
        "SELECT c.serial, c.partner_id, c.not_after_ms, c.revoked, ",
        "p.id, p.display_name, p.sector, p.roles, p.state, p.state_reason, p.create_time_ms ",
        "FROM certificates c JOIN partners p ON p.id = c.partner_id WHERE c.serial = ?1"));
    if (!st.ok()) return st.status();
    st->Bind(1, serial_hex);
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError(absl::StrCat("certificate ", serial_hex, " was not issued by this hub"));
    Credential c;
    c.certificate.serial_hex = st->Text(0);
    c.certificate.partner_id = st->Text(1);
    c.certificate.not_after = FromMs(st->Int(2));
    c.certificate.revoked = st->Int(3) != 0;
    c.partner = ReadPartner(*st, 4);
    return c;
  }
  absl::StatusOr<std::vector<SharingAgreement>> ListAgreements(absl::string_view after_id, int limit) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(
        absl::StrCat("SELECT ", kAgreementColumns, " FROM sharing_agreements WHERE id > ?1 ORDER BY id LIMIT ?2"));
    if (!st.ok()) return st.status();
    st->Bind(1, after_id).Bind(2, int64_t{limit});
    std::vector<SharingAgreement> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(ReadAgreement(*st));
    }
    return out;
  }
  absl::StatusOr<bool> SubjectExists(absl::string_view subject_id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare("SELECT 1 FROM subjects WHERE id = ?1");
    if (!st.ok()) return st.status();
    return st->Bind(1, subject_id).Step();
  }

  absl::StatusOr<SubjectRecord> GetSubjectRecord(absl::string_view subject_id, absl::string_view partner_id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    return SelectRecord(r.conn(), subject_id, partner_id);
  }
  absl::StatusOr<std::vector<SubjectRecord>> ListSubjectHolders(absl::string_view subject_id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(
        absl::StrCat("SELECT ", kRecordColumns, " FROM subject_records WHERE subject_id = ?1 ORDER BY partner_id"));
    if (!st.ok()) return st.status();
    st->Bind(1, subject_id);
    std::vector<SubjectRecord> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(ReadRecord(*st));
    }
    return out;
  }
  absl::StatusOr<std::vector<FamilyLink>> ListFamilyLinks(absl::string_view subject_id,
                                                          absl::string_view visible_to) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(
        "SELECT f.subject_id, f.relative_id, f.relationship, f.recorded_by, f.create_time_ms FROM family_links f "
        "JOIN subject_records h ON h.subject_id = f.relative_id AND h.partner_id = ?2 "
        "WHERE f.subject_id = ?1 ORDER BY f.create_time_ms, f.rowid");
    if (!st.ok()) return st.status();
    st->Bind(1, subject_id).Bind(2, visible_to);
    std::vector<FamilyLink> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back({st->Text(0), st->Text(1), static_cast<int>(st->Int(2)), st->Text(3), FromMs(st->Int(4))});
    }
    return out;
  }
  absl::StatusOr<domain::Consent> GetConsent(absl::string_view id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    return SelectConsent(r.conn(), id);
  }
  absl::StatusOr<std::vector<domain::Consent>> ListConsents(absl::string_view subject_id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(absl::StrCat("SELECT ", kConsentColumns,
                                            " FROM consents WHERE subject_id = ?1 ORDER BY create_time_ms DESC, rowid DESC"));
    if (!st.ok()) return st.status();
    st->Bind(1, subject_id);
    std::vector<domain::Consent> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      out.push_back(ReadConsent(*st));
    }
    return out;
  }

 private:
  static absl::StatusOr<domain::Service> DecodeService(const std::string& bytes) {
    ::accord::v1::Service proto;
    if (!proto.ParseFromString(bytes)) return absl::DataLossError("a stored service does not parse");
    return domain::ServiceFromProto(proto);
  }

  static absl::StatusOr<domain::Service> SelectService(Connection& conn, absl::string_view id) {
    auto st = conn.Prepare("SELECT record FROM services WHERE id = ?1");
    if (!st.ok()) return st.status();
    auto row = st->Bind(1, id).Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError(absl::StrCat("no service ", id));
    return DecodeService(st->Blob(0));
  }

  static absl::Status WriteService(Connection& conn, const domain::Service& s) {
    auto st = conn.Prepare(
        "INSERT INTO services (id, provider_id, accepting, record, create_time_ms, update_time_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET accepting = excluded.accepting, "
        "record = excluded.record, update_time_ms = excluded.update_time_ms");
    if (!st.ok()) return st.status();
    st->Bind(1, s.id).Bind(2, s.provider_id).Bind(3, int64_t{s.availability.accepting_referrals});
    st->BindBlob(4, domain::ServiceToProto(s).SerializeAsString());
    st->Bind(5, ToMs(s.create_time)).Bind(6, ToMs(s.update_time));
    return st->Run();
  }

  // 12 hex digits of milliseconds then 8 random: ids sort by creation time.
  static std::string TimeOrderedId(absl::Time t) {
    std::string random = RandomId();
    if (random.empty()) return {};
    return absl::StrCat(absl::Hex(ToMs(t), absl::kZeroPad12), random.substr(0, 8));
  }

  static absl::StatusOr<domain::Referral> SelectReferral(Connection& conn, absl::string_view id) {
    auto st = conn.Prepare("SELECT record FROM referrals WHERE id = ?1");
    if (!st.ok()) return st.status();
    auto row = st->Bind(1, id).Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError(absl::StrCat("no referral ", id));
    ::accord::v1::Referral proto;
    if (!proto.ParseFromString(st->Blob(0))) return absl::DataLossError("a stored referral does not parse");
    domain::Referral referral = domain::ReferralFromProto(proto);
    referral.id = std::string(id);
    auto h = conn.Prepare(
        "SELECT state, actor_id, time_ms, withheld FROM referral_history WHERE referral_id = ?1 ORDER BY idx");
    if (!h.ok()) return h.status();
    h->Bind(1, id);
    for (;;) {
      auto hrow = h->Step();
      if (!hrow.ok()) return hrow.status();
      if (!*hrow) break;
      referral.history.push_back(domain::StateChange{static_cast<domain::ReferralState>(h->Int(0)), h->Text(1),
                                                     FromMs(h->Int(2)), h->Int(3) != 0});
    }
    return referral;
  }

  // Stores the referral's row and its history entries from `first_new` on.
  static absl::Status WriteReferral(Connection& conn, const domain::Referral& r, bool insert, size_t first_new) {
    domain::Referral body = r;
    body.history.clear();
    std::string record = domain::ReferralToProto(body).SerializeAsString();
    std::optional<int64_t> close_ms;
    for (const domain::StateChange& c : r.history) {
      if (c.state == ::accord::v1::REFERRAL_STATE_CLOSED) close_ms = ToMs(c.time);
    }
    if (insert) {
      auto st = conn.Prepare(
          "INSERT INTO referrals (id, service_id, referrer_id, provider_id, subject_id, state, idempotency_key, "
          "previous_id, record, create_time_ms, update_time_ms, close_time_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL)");
      if (!st.ok()) return st.status();
      st->Bind(1, r.id).Bind(2, r.service_id).Bind(3, r.referrer_id).Bind(4, r.provider_id).Bind(5, r.subject_id);
      st->Bind(6, int64_t{r.state}).Bind(7, r.idempotency_key);
      BindPartnerOrNull(*st, 8, r.previous_id);
      st->BindBlob(9, record).Bind(10, ToMs(r.create_time)).Bind(11, ToMs(r.update_time));
      absl::Status s = st->Run();
      if (absl::IsAlreadyExists(s)) {
        return absl::AlreadyExistsError("referral.idempotency_key: a referral with this key already exists");
      }
      if (!s.ok()) return s;
    } else {
      auto st = conn.Prepare(
          "UPDATE referrals SET state = ?2, record = ?3, update_time_ms = ?4, close_time_ms = ?5 WHERE id = ?1");
      if (!st.ok()) return st.status();
      st->Bind(1, r.id).Bind(2, int64_t{r.state}).BindBlob(3, record).Bind(4, ToMs(r.update_time));
      if (close_ms) {
        st->Bind(5, *close_ms);
      } else {
        st->BindNull(5);
      }
      if (absl::Status s = st->Run(); !s.ok()) return s;
    }
    for (size_t i = first_new; i < r.history.size(); ++i) {
      const domain::StateChange& c = r.history[i];
      auto st = conn.Prepare(
          "INSERT INTO referral_history (referral_id, idx, state, actor_id, time_ms, withheld) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      if (!st.ok()) return st.status();
      st->Bind(1, r.id).Bind(2, static_cast<int64_t>(i)).Bind(3, int64_t{c.state}).Bind(4, c.actor_id);
      st->Bind(5, ToMs(c.time)).Bind(6, int64_t{c.withheld});
      if (absl::Status s = st->Run(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  static absl::Status ApplyEffects(Connection& conn, const domain::Referral& r, const ReferralEffectsFor& effects,
                                   std::vector<NewEvent>& out) {
    if (!effects) return absl::OkStatus();
    ReferralEffects e = effects(r);
    absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
    for (const InboxNotice& n : e.notify) {
      const std::string& referral_id = n.referral_id.empty() ? r.id : n.referral_id;
      int64_t state = r.state;
      if (referral_id != r.id) {
        auto sel = conn.Prepare("SELECT state FROM referrals WHERE id = ?1");
        if (!sel.ok()) return sel.status();
        auto row = sel->Bind(1, referral_id).Step();
        if (!row.ok()) return row.status();
        if (!*row) return absl::NotFoundError(absl::StrCat("no referral ", referral_id));
        state = sel->Int(0);
      }
      auto st = conn.Prepare(
          "INSERT INTO deliveries (partner_id, referral_id, state, time_ms, concurrent_service_id) "
          "VALUES (?1, ?2, ?3, ?4, ?5)");
      if (!st.ok()) return st.status();
      st->Bind(1, n.partner_id).Bind(2, referral_id).Bind(3, state).Bind(4, ToMs(now)).Bind(5, n.concurrent_service_id);
      if (absl::Status s = st->Run(); !s.ok()) return s;
    }
    out = std::move(e.events);
    return absl::OkStatus();
  }

  // Erasure: the referrals' structured facts stay (services, states, times: what reports count);
  // the free text that may identify the child goes.
  static absl::Status BlankReferralTexts(Connection& conn, absl::string_view subject_id) {
    auto st = conn.Prepare("SELECT id, record FROM referrals WHERE subject_id = ?1");
    if (!st.ok()) return st.status();
    st->Bind(1, subject_id);
    std::vector<std::pair<std::string, std::string>> blanked;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      ::accord::v1::Referral r;
      if (!r.ParseFromString(st->Blob(1))) return absl::DataLossError("a stored referral does not parse");
      r.clear_background();
      if (r.has_decline()) r.mutable_decline()->clear_text();
      if (r.has_closure()) r.mutable_closure()->clear_text();
      r.clear_withdraw_reason();
      if (r.has_lawful_basis()) r.mutable_lawful_basis()->clear_justification();
      blanked.emplace_back(st->Text(0), r.SerializeAsString());
    }
    for (const auto& [id, record] : blanked) {
      auto up = conn.Prepare("UPDATE referrals SET record = ?2 WHERE id = ?1");
      if (!up.ok()) return up.status();
      if (absl::Status s = up->Bind(1, id).BindBlob(2, record).Run(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::vector<RecordedOutcome>> SelectOutcomes(Connection& conn, absl::string_view referral_id) {
    auto st = conn.Prepare(
        "SELECT record, record_time_ms FROM outcomes WHERE referral_id = ?1 ORDER BY measure, timepoint");
    if (!st.ok()) return st.status();
    st->Bind(1, referral_id);
    std::vector<RecordedOutcome> out;
    for (;;) {
      auto row = st->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      ::accord::v1::OutcomeValue value;
      if (!value.ParseFromString(st->Blob(0))) return absl::DataLossError("a stored outcome does not parse");
      out.push_back(RecordedOutcome{domain::OutcomeFromProto(value), FromMs(st->Int(1))});
    }
    return out;
  }

  static absl::StatusOr<SubjectRecord> SelectRecord(Connection& conn, absl::string_view subject_id,
                                                    absl::string_view partner_id) {
    auto st = conn.Prepare(
        absl::StrCat("SELECT ", kRecordColumns, " FROM subject_records WHERE subject_id = ?1 AND partner_id = ?2"));
    if (!st.ok()) return st.status();
    st->Bind(1, subject_id).Bind(2, partner_id);
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError(absl::StrCat("no subject ", subject_id, " held by this partner"));
    return ReadRecord(*st);
  }

  static absl::StatusOr<domain::Consent> SelectConsent(Connection& conn, absl::string_view id) {
    auto st = conn.Prepare(absl::StrCat("SELECT ", kConsentColumns, " FROM consents WHERE id = ?1"));
    if (!st.ok()) return st.status();
    st->Bind(1, id);
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError(absl::StrCat("no consent ", id));
    return ReadConsent(*st);
  }

  // Borrows a read connection from the pool for one call and returns it after — or, inside a
  // ReadSnapshot on this thread, uses the snapshot's connection and its open read transaction.
  class Reader {
   public:
    explicit Reader(SqliteStore& store) : store_(store) {
      if (tls_snapshot.store == &store_ && tls_snapshot.conn != nullptr) {
        conn_ = tls_snapshot.conn;
        return;
      }
      owned_ = store_.Borrow(&status_);
      conn_ = owned_.get();
    }
    ~Reader() {
      if (owned_) store_.GiveBack(std::move(owned_));
    }
    bool ok() const { return conn_ != nullptr; }
    absl::Status status() const { return status_; }
    Connection& conn() { return *conn_; }

   private:
    SqliteStore& store_;
    Connection* conn_ = nullptr;
    std::unique_ptr<Connection> owned_;
    absl::Status status_;
  };

  // A pooled read connection, opened when the pool is empty (`status` says why when that fails).
  std::unique_ptr<Connection> Borrow(absl::Status* status) {
    {
      absl::MutexLock lock(&pool_mu_);
      if (!pool_.empty()) {
        std::unique_ptr<Connection> conn = std::move(pool_.back());
        pool_.pop_back();
        return conn;
      }
    }
    auto opened = Connection::Open(file_, /*writable=*/false);
    if (!opened.ok()) {
      *status = opened.status();
      return nullptr;
    }
    return std::move(*opened);
  }
  void GiveBack(std::unique_ptr<Connection> conn) {
    absl::MutexLock lock(&pool_mu_);
    pool_.push_back(std::move(conn));
  }

  // The thread's open snapshot: its store and connection (one at a time per thread).
  struct ThreadSnapshot {
    const SqliteStore* store = nullptr;
    Connection* conn = nullptr;
  };
  static thread_local ThreadSnapshot tls_snapshot;

  class Snapshot final : public ReadSnapshot {
   public:
    explicit Snapshot(SqliteStore& store) : store_(store) {
      if (tls_snapshot.conn != nullptr) return;  // already inside one: it carries on
      absl::Status status;
      conn_ = store_.Borrow(&status);
      if (!conn_) return;  // each read then borrows its own, as outside a snapshot
      if (!conn_->Run("BEGIN").ok()) {
        store_.GiveBack(std::move(conn_));
        return;
      }
      tls_snapshot = {&store_, conn_.get()};
    }
    ~Snapshot() override {
      if (!conn_) return;
      tls_snapshot = {};
      if (conn_->Run("COMMIT").ok()) {
        store_.GiveBack(std::move(conn_));
      }  // else the connection is dropped, with whatever state it was left in
    }

   private:
    SqliteStore& store_;
    std::unique_ptr<Connection> conn_;
  };

  static void BindPartnerOrNull(Statement& st, int pos, const std::string& id) {
    if (id.empty()) {
      st.BindNull(pos);
    } else {
      st.Bind(pos, id);
    }
  }

  static absl::StatusOr<Partner> SelectPartner(Connection& conn, absl::string_view id) {
    auto st = conn.Prepare(absl::StrCat("SELECT ", kPartnerColumns, " FROM partners WHERE id = ?1"));
    if (!st.ok()) return st.status();
    st->Bind(1, id);
    auto row = st->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError(absl::StrCat("no partner ", id));
    return ReadPartner(*st);
  }

  static absl::Status InsertPartner(Connection& conn, const Partner& p) {
    for (auto [column, value] : {std::pair{"id", p.id}, std::pair{"display_name", p.display_name}}) {
      auto st = conn.Prepare(absl::StrCat("SELECT 1 FROM partners WHERE ", column, " = ?1"));
      if (!st.ok()) return st.status();
      auto row = st->Bind(1, value).Step();
      if (!row.ok()) return row.status();
      if (*row) {
        std::string field = std::string(column) == "id" ? "partner_id" : "partner.display_name";
        return absl::AlreadyExistsError(absl::StrCat(field, ": a partner with ", column, " \"", value,
                                                     "\" already exists"));
      }
    }
    auto st = conn.Prepare(
        absl::StrCat("INSERT INTO partners (", kPartnerColumns, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    if (!st.ok()) return st.status();
    st->Bind(1, p.id).Bind(2, p.display_name).Bind(3, int64_t{p.sector}).Bind(4, JoinEnums(p.roles));
    st->Bind(5, static_cast<int64_t>(p.state)).Bind(6, p.state_reason).Bind(7, ToMs(p.create_time));
    return st->Run();
  }

  static absl::Status InsertCertificate(Connection& conn, const Certificate& c) {
    auto st = conn.Prepare(
        "INSERT INTO certificates (serial, partner_id, not_after_ms, revoked) VALUES (?1, ?2, ?3, ?4)");
    if (!st.ok()) return st.status();
    st->Bind(1, c.serial_hex).Bind(2, c.partner_id).Bind(3, ToMs(c.not_after)).Bind(4, int64_t{c.revoked});
    return st->Run();
  }

  static absl::Status UpdateState(Connection& conn, const Partner& p) {
    auto st = conn.Prepare("UPDATE partners SET state = ?2, state_reason = ?3 WHERE id = ?1");
    if (!st.ok()) return st.status();
    return st->Bind(1, p.id).Bind(2, static_cast<int64_t>(p.state)).Bind(3, p.state_reason).Run();
  }

  // ---- The writer: group commit ------------------------------------------------------------


  struct Job {
    Unit unit;
    absl::Status status;
    std::vector<uint64_t> sequences;
    bool done = false;
    // Set for an asynchronous caller: run on the completion thread once the job's transaction is
    // durable (or failed), which then deletes the job.
    std::function<void(Job&)> then;
  };

  // Queues `unit` for the writer thread and returns; `then` runs on the completion thread once the
  // transaction holding it is durable or has failed, in commit order. A completion may call the
  // store again, even a synchronous write (it only delays the completions after it).
  void RunWriteLater(Unit unit, std::function<void(Job&)> then) {
    auto job = std::make_unique<Job>();
    job->unit = std::move(unit);
    job->then = std::move(then);
    absl::MutexLock lock(&queue_mu_);
    queue_.push_back(job.release());
  }

  // Queues `unit` for the writer thread and waits until the transaction holding it is durable.
  absl::Status RunWrite(Unit unit, std::vector<uint64_t>* sequences = nullptr) {
    Job job;
    job.unit = std::move(unit);
    absl::MutexLock lock(&queue_mu_);
    queue_.push_back(&job);
    queue_mu_.Await(absl::Condition(&job.done));
    if (sequences) *sequences = std::move(job.sequences);
    return job.status;
  }

  void WriterLoop() {
    for (;;) {
      std::vector<Job*> batch;
      {
        absl::MutexLock lock(&queue_mu_);
        queue_mu_.Await(absl::Condition(
            +[](SqliteStore* self) ABSL_SHARED_LOCKS_REQUIRED(self->queue_mu_) {
              return self->stopping_ || !self->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // stopping, nothing left
        while (!queue_.empty() && batch.size() < kMaxBatch) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
      }
      {
        absl::MutexLock lock(&write_mu_);
        RunBatch(batch);
      }
      std::vector<std::unique_ptr<Job>> later;
      {
        absl::MutexLock lock(&queue_mu_);
        for (Job* job : batch) {
          if (job->then) {
            later.emplace_back(job);
          } else {
            job->done = true;
          }
        }
      }
      if (!later.empty()) {
        absl::MutexLock lock(&completion_mu_);
        for (std::unique_ptr<Job>& job : later) completions_.push_back(std::move(job));
      }
    }
  }

  // Called by SQLite on the writer thread after each commit, with the WAL's length in pages. Past
  // kCheckpointPages it asks the checkpointer. The WAL starts again from its beginning only once a
  // checkpoint has copied all of it, which one running beside a busy writer never does: so past
  // twice that length the writer checkpoints too — copying only what the checkpointer has not —
  // and the next write restarts the WAL.
  static int AfterCommit(void* self, sqlite3* db, const char*, int wal_pages) {
    if (wal_pages < kCheckpointPages) return SQLITE_OK;
    SqliteStore* store = static_cast<SqliteStore*>(self);
    {
      absl::MutexLock lock(&store->checkpoint_mu_);
      store->checkpoint_wanted_ = true;
    }
    if (wal_pages >= 2 * kCheckpointPages) {
      (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    return SQLITE_OK;
  }

  // Copies the WAL back into the database file when the writer asks, without blocking it (a
  // PASSIVE checkpoint: as far as no reader still needs; the writer restarts the WAL from its
  // beginning once all of it was copied).
  void CheckpointLoop() {
    std::unique_ptr<Connection> conn;
    for (;;) {
      {
        absl::MutexLock lock(&checkpoint_mu_);
        checkpoint_mu_.Await(absl::Condition(
            +[](SqliteStore* self) ABSL_SHARED_LOCKS_REQUIRED(self->checkpoint_mu_) {
              return self->checkpoint_stopping_ || self->checkpoint_wanted_;
            },
            this));
        if (checkpoint_stopping_) return;  // closing the last connection checkpoints
        checkpoint_wanted_ = false;
      }
      if (!conn) {
        auto opened = Connection::Open(file_, /*writable=*/true);
        if (!opened.ok()) continue;  // asked again after the next commits
        conn = std::move(*opened);
      }
      (void)sqlite3_wal_checkpoint_v2(conn->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
  }

  // Runs the asynchronous callers' completions, so that the writer goes on to the next batch.
  void CompletionLoop() {
    for (;;) {
      std::deque<std::unique_ptr<Job>> ready;
      {
        absl::MutexLock lock(&completion_mu_);
        completion_mu_.Await(absl::Condition(
            +[](SqliteStore* self) ABSL_SHARED_LOCKS_REQUIRED(self->completion_mu_) {
              return self->completions_stopping_ || !self->completions_.empty();
            },
            this));
        if (completions_.empty()) return;  // stopping, nothing left
        ready.swap(completions_);
      }
      for (std::unique_ptr<Job>& job : ready) job->then(*job);
    }
  }

  // BEGIN; each job in a savepoint (a failing job is rolled back alone); COMMIT once.
  void RunBatch(const std::vector<Job*>& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    auto fail_all = [&](const absl::Status& s) {
      for (Job* job : batch) {
        job->status = s;
        job->sequences.clear();
      }
    };
    if (absl::Status s = writer_->Run("BEGIN IMMEDIATE"); !s.ok()) return fail_all(s);
    const audit::TreeBuilder before = tree_;
    if (absl::Status s = CatchUpLog(); !s.ok()) {
      (void)writer_->Exec("ROLLBACK");
      return fail_all(s);
    }
    absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
    for (Job* job : batch) {
      const audit::TreeBuilder at_start = tree_;
      std::vector<NewEvent> events;
      job->status = writer_->Run("SAVEPOINT job");
      if (job->status.ok()) job->status = job->unit(*writer_, events);
      if (job->status.ok()) job->status = AppendLocked(events, now, &job->sequences);
      if (!job->status.ok()) {
        (void)writer_->Run("ROLLBACK TO job");
        tree_ = at_start;
        job->sequences.clear();
      }
      (void)writer_->Run("RELEASE job");
    }
    if (absl::Status s = writer_->Run("COMMIT"); !s.ok()) {
      (void)writer_->Exec("ROLLBACK");
      tree_ = before;
      for (Job* job : batch) {
        if (job->status.ok()) job->status = s;
      }
      return;
    }
  }

  // Another process (accordctl) may have appended since this writer last did: continue from the
  // stored tree, inside the write lock.
  absl::Status CatchUpLog() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    absl::StatusOr<uint64_t> size = SelectLogSize(*writer_);
    if (!size.ok()) return size.status();
    if (*size == tree_.size()) return absl::OkStatus();
    ConnectionHashes hashes(*writer_);
    absl::StatusOr<audit::TreeBuilder> resumed = audit::TreeBuilder::Resume(hashes, *size);
    if (!resumed.ok()) return resumed.status();
    tree_ = std::move(*resumed);
    return absl::OkStatus();
  }

  // Seals, stores and hashes `events` as the next leaves.
  absl::Status AppendLocked(std::vector<NewEvent>& events, absl::Time now, std::vector<uint64_t>* sequences)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    std::vector<audit::Node> nodes;
    for (NewEvent& e : events) {
      uint64_t seq = tree_.size();
      e.event.set_sequence(seq);
      e.event.mutable_time()->set_seconds(absl::ToUnixSeconds(now));
      e.event.mutable_time()->set_nanos(static_cast<int32_t>(absl::ToUnixMillis(now) % 1000 * 1000000));
      if (!e.details.empty() && !e.subject_id.empty()) {
        absl::StatusOr<std::optional<std::string>> key = SubjectKey(*writer_, e.subject_id, /*create=*/true);
        if (!key.ok()) return key.status();
        if (key->has_value()) {
          absl::StatusOr<std::string> sealed = audit::SealDetails(**key, e.subject_id, e.details);
          if (!sealed.ok()) return sealed.status();
          e.event.set_sealed_details(*sealed);
        }
      }
      std::string record = e.event.SerializeAsString();
      auto st = writer_->Prepare(
          "INSERT INTO log_events (seq, time_ms, kind, actor, recipient, subject_id, purpose, basis, record) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
      if (!st.ok()) return st.status();
      st->Bind(1, static_cast<int64_t>(seq)).Bind(2, ToMs(now)).Bind(3, int64_t{e.event.kind()});
      st->Bind(4, PartnerIdOf(e.event.actor())).Bind(5, PartnerIdOf(e.event.recipient())).Bind(6, e.subject_id);
      st->Bind(7, int64_t{e.event.purpose()}).Bind(8, int64_t{e.event.basis()}).BindBlob(9, record);
      if (absl::Status s = st->Run(); !s.ok()) return s;
      nodes.clear();
      tree_.Append(audit::HashLeaf(record), &nodes);
      for (const audit::Node& n : nodes) {
        auto ins = writer_->Prepare("INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)");
        if (!ins.ok()) return ins.status();
        ins->Bind(1, int64_t{n.level}).Bind(2, static_cast<int64_t>(n.index)).BindBlob(3, HashText(n.hash));
        if (absl::Status s = ins->Run(); !s.ok()) return s;
      }
      if (sequences) sequences->push_back(seq);
    }
    return absl::OkStatus();
  }

  static std::string PartnerIdOf(const std::string& name) {
    absl::string_view v(name);
    absl::ConsumePrefix(&v, "partners/");
    return std::string(v);
  }

  static absl::StatusOr<uint64_t> SelectLogSize(Connection& conn) {
    auto st = conn.Prepare("SELECT COALESCE(MAX(seq) + 1, 0) FROM log_events");
    if (!st.ok()) return st.status();
    auto row = st->Step();
    if (!row.ok()) return row.status();
    return static_cast<uint64_t>(st->Int(0));
  }

  // The subject's key; nullopt once erased. Creates one when `create` and none exists yet.
  static absl::StatusOr<std::optional<std::string>> SubjectKey(Connection& conn, absl::string_view subject_id,
                                                               bool create) {
    auto st = conn.Prepare("SELECT key FROM subject_keys WHERE subject_id = ?1");
    if (!st.ok()) return st.status();
    auto row = st->Bind(1, subject_id).Step();
    if (!row.ok()) return row.status();
    if (*row) {
      if (st->IsNull(0)) return std::optional<std::string>();
      return std::optional<std::string>(st->Blob(0));
    }
    if (!create) return std::optional<std::string>();
    absl::StatusOr<std::string> key = audit::NewSubjectKey();
    if (!key.ok()) return key.status();
    auto ins = conn.Prepare("INSERT INTO subject_keys (subject_id, key) VALUES (?1, ?2)");
    if (!ins.ok()) return ins.status();
    if (absl::Status s = ins->Bind(1, subject_id).BindBlob(2, *key).Run(); !s.ok()) return s;
    return std::optional<std::string>(*key);
  }

  static absl::Status OpenStoredDetails(Connection& conn, const std::string& subject_id, StoredEvent& e) {
    v1::SharingEvent event;
    if (!event.ParseFromString(e.record)) {
      return absl::DataLossError(absl::StrCat("sharing log event ", e.sequence, " does not parse"));
    }
    if (event.sealed_details().empty()) return absl::OkStatus();
    absl::StatusOr<std::optional<std::string>> key = SubjectKey(conn, subject_id, /*create=*/false);
    if (!key.ok()) return key.status();
    if (!key->has_value()) {
      e.details_erased = true;
      return absl::OkStatus();
    }
    absl::StatusOr<std::string> details = audit::OpenDetails(**key, subject_id, event.sealed_details());
    if (!details.ok()) return details.status();
    e.details = *details;
    return absl::OkStatus();
  }

  // Stored subtree hashes read through one connection (the writer's, while it holds the lock).
  class ConnectionHashes final : public audit::HashStore {
   public:
    explicit ConnectionHashes(Connection& conn) : conn_(conn) {}
    absl::StatusOr<audit::Hash> Get(int level, uint64_t index) override { return SelectHash(conn_, level, index); }

   private:
    Connection& conn_;
  };

  // Stored subtree hashes read through the pool, for proofs served while the writer works.
  class PooledHashes final : public audit::HashStore {
   public:
    explicit PooledHashes(SqliteStore& store) : store_(store) {}
    absl::StatusOr<audit::Hash> Get(int level, uint64_t index) override {
      Reader r(store_);
      if (!r.ok()) return r.status();
      return SelectHash(r.conn(), level, index);
    }
    absl::StatusOr<std::vector<audit::Hash>> GetBatch(absl::Span<const audit::NodeId> ids) override {
      Reader r(store_);
      if (!r.ok()) return r.status();
      std::vector<audit::Hash> out;
      out.reserve(ids.size());
      for (const audit::NodeId& id : ids) {
        absl::StatusOr<audit::Hash> h = SelectHash(r.conn(), id.level, id.index);
        if (!h.ok()) return h.status();
        out.push_back(*h);
      }
      return out;
    }

   private:
    SqliteStore& store_;
  };

  static absl::StatusOr<audit::Hash> SelectHash(Connection& conn, int level, uint64_t index) {
    auto st = conn.Prepare("SELECT hash FROM log_nodes WHERE level = ?1 AND idx = ?2");
    if (!st.ok()) return st.status();
    auto row = st->Bind(1, int64_t{level}).Bind(2, static_cast<int64_t>(index)).Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError(absl::StrCat("no stored log hash at level ", level, " index ", index));
    absl::StatusOr<audit::Hash> hash = audit::HashFromBytes(st->Blob(0));
    if (!hash.ok()) return absl::DataLossError("a stored log hash is not 32 bytes");
    return hash;
  }

  static constexpr size_t kMaxBatch = 4096;

  const std::filesystem::path file_;
  PooledHashes read_hashes_;
  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(write_mu_);
  audit::TreeBuilder tree_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex queue_mu_;
  std::deque<Job*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  absl::Mutex completion_mu_;
  std::deque<std::unique_ptr<Job>> completions_ ABSL_GUARDED_BY(completion_mu_);
  bool completions_stopping_ ABSL_GUARDED_BY(completion_mu_) = false;
  std::thread completion_thread_;
  std::thread writer_thread_;
  // The WAL's length (4 KB pages) at which the writer asks for a checkpoint.
  static constexpr int kCheckpointPages = 16384;
  absl::Mutex checkpoint_mu_;
  bool checkpoint_wanted_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  bool checkpoint_stopping_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  std::thread checkpoint_thread_;
  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> pool_ ABSL_GUARDED_BY(pool_mu_);
};

}  // namespace

thread_local SqliteStore::ThreadSnapshot SqliteStore::tls_snapshot;

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& db_file) {
  auto writer = Connection::Open(db_file, /*writable=*/true);
  if (!writer.ok()) return writer.status();
  if (absl::Status s = sqlite::Migrate(**writer); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("database ", db_file.string(), ": ", s.message()));
  }
  // The log's frontier is rebuilt from the stored hashes (a few reads), not by rehashing.
  return std::unique_ptr<Store>(new SqliteStore(db_file, std::move(*writer), audit::TreeBuilder()));
}

}  // namespace accord::store
