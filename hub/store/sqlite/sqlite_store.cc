// The embedded default Store: one SQLite file in WAL mode. All writes go through one writer
// connection under a mutex (the single writer path); reads borrow a connection from a pool so
// they run concurrently with writes.
#include <openssl/rand.h>

#include <mutex>
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
using sqlite::Transaction;

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

std::string RandomId() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::filesystem::path file, std::unique_ptr<Connection> writer)
      : file_(std::move(file)), writer_(std::move(writer)) {}

  absl::Status CreatePartner(const Partner& partner) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    if (absl::Status s = InsertPartner(partner); !s.ok()) return s;
    return tx->Commit();
  }

  absl::Status CreatePartnerWithCertificate(const Partner& partner, const Certificate& cert) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    if (absl::Status s = InsertPartner(partner); !s.ok()) return s;
    if (absl::Status s = InsertCertificate(cert); !s.ok()) return s;
    return tx->Commit();
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

  absl::StatusOr<Partner> SetPartnerSuspended(absl::string_view id, bool suspended, absl::string_view reason) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    auto partner = SelectPartner(*writer_, id);
    if (!partner.ok()) return partner.status();
    if (partner->state == PartnerState::kRevoked) {
      return absl::FailedPreconditionError(absl::StrCat("partner ", id, " is REVOKED; revocation is final"));
    }
    partner->state = suspended ? PartnerState::kSuspended : PartnerState::kActive;
    partner->state_reason = suspended ? std::string(reason) : std::string();
    if (absl::Status s = UpdateState(*partner); !s.ok()) return s;
    if (absl::Status s = tx->Commit(); !s.ok()) return s;
    return partner;
  }

  absl::StatusOr<Partner> RevokePartner(absl::string_view id, absl::string_view reason) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    auto partner = SelectPartner(*writer_, id);
    if (!partner.ok()) return partner.status();
    partner->state = PartnerState::kRevoked;
    partner->state_reason = std::string(reason);
    if (absl::Status s = UpdateState(*partner); !s.ok()) return s;
    auto st = writer_->Prepare("UPDATE certificates SET revoked = 1 WHERE partner_id = ?1");
    if (!st.ok()) return st.status();
    if (absl::Status s = st->Bind(1, id).Run(); !s.ok()) return s;
    if (absl::Status s = tx->Commit(); !s.ok()) return s;
    return partner;
  }

  absl::Status AddCertificate(const Certificate& cert) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    if (auto p = SelectPartner(*writer_, cert.partner_id); !p.ok()) return p.status();
    if (absl::Status s = InsertCertificate(cert); !s.ok()) return s;
    return tx->Commit();
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

  absl::StatusOr<SharingAgreement> CreateAgreement(SharingAgreement a) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    for (auto [party, field] : {std::pair{&a.discloser, "sharing_agreement.discloser.partner"},
                                std::pair{&a.recipient, "sharing_agreement.recipient.partner"}}) {
      if (!party->IsPartner()) continue;
      auto p = SelectPartner(*writer_, party->partner_id);
      if (absl::IsNotFound(p.status())) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": no partner ", party->partner_id));
      }
      if (!p.ok()) return p.status();
    }
    a.id = RandomId();
    if (a.id.empty()) return absl::InternalError("no randomness for an agreement id");
    auto st = writer_->Prepare(absl::StrCat("INSERT INTO sharing_agreements (", kAgreementColumns,
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
    if (absl::Status s = st->Run(); !s.ok()) return s;
    if (absl::Status s = tx->Commit(); !s.ok()) return s;
    return a;
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

  absl::StatusOr<ResolveResult> ResolveSubject(const SubjectRecord& incoming, const MatchFn& match,
                                               bool create_when_ambiguous) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    ResolveResult result;
    std::string by_nhs, by_upn;
    for (auto [kind, value, out] : {std::tuple{"nhs", &incoming.person.nhs_number, &by_nhs},
                                    std::tuple{"upn", &incoming.person.upn, &by_upn}}) {
      if (value->empty()) continue;
      auto st = writer_->Prepare("SELECT subject_id FROM subject_identifiers WHERE kind = ?1 AND value = ?2");
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
      auto st = writer_->Prepare(absl::StrCat("SELECT ", kRecordColumns,
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
          return result;  // nothing written; the transaction rolls back
        case domain::MatchOutcome::kNone:
          result.outcome = ResolveOutcome::kCreated;
          break;
      }
    }
    absl::Time now = incoming.create_time;
    if (result.outcome == ResolveOutcome::kCreated) {
      subject_id = RandomId();
      if (subject_id.empty()) return absl::InternalError("no randomness for a subject id");
      auto st = writer_->Prepare("INSERT INTO subjects (id, create_time_ms) VALUES (?1, ?2)");
      if (!st.ok()) return st.status();
      if (absl::Status s = st->Bind(1, subject_id).Bind(2, ToMs(now)).Run(); !s.ok()) return s;
    }
    // The caller's record: kept from before when it had one, completed with what it sent now.
    absl::StatusOr<SubjectRecord> existing = SelectRecord(*writer_, subject_id, incoming.partner_id);
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
    auto st = writer_->Prepare(absl::StrCat("INSERT OR REPLACE INTO subject_records (", kRecordColumns,
                                            ", family_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    if (!st.ok()) return st.status();
    const domain::PersonRecord& p = record.person;
    st->Bind(1, subject_id).Bind(2, record.partner_id).Bind(3, record.local_id).Bind(4, p.nhs_number).Bind(5, p.upn);
    st->Bind(6, p.given_name).Bind(7, p.family_name).Bind(8, p.birth_date).Bind(9, p.postcode);
    st->Bind(10, ToMs(record.create_time)).Bind(11, domain::NormaliseName(p.family_name));
    if (absl::Status s = st->Run(); !s.ok()) return s;
    for (auto [kind, value] : {std::pair{"nhs", &p.nhs_number}, std::pair{"upn", &p.upn}}) {
      if (value->empty()) continue;
      auto ins = writer_->Prepare(
          "INSERT INTO subject_identifiers (kind, value, subject_id) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (kind, value) DO NOTHING");
      if (!ins.ok()) return ins.status();
      if (absl::Status s = ins->Bind(1, kind).Bind(2, *value).Bind(3, subject_id).Run(); !s.ok()) return s;
    }
    if (absl::Status s = tx->Commit(); !s.ok()) return s;
    result.record = std::move(record);
    return result;
  }

  absl::StatusOr<SubjectRecord> GetSubjectRecord(absl::string_view subject_id, absl::string_view partner_id) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    return SelectRecord(r.conn(), subject_id, partner_id);
  }

  absl::Status AddFamilyLink(const FamilyLink& link) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    auto st = writer_->Prepare(
        "INSERT INTO family_links (subject_id, relative_id, relationship, recorded_by, create_time_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st.ok()) return st.status();
    st->Bind(1, link.subject_id).Bind(2, link.relative_id).Bind(3, int64_t{link.relationship});
    st->Bind(4, link.recorded_by).Bind(5, ToMs(link.create_time));
    if (absl::Status s = st->Run(); !s.ok()) {
      if (absl::IsAlreadyExists(s)) return absl::AlreadyExistsError("relative: this family link is already recorded");
      return s;
    }
    return tx->Commit();
  }

  absl::StatusOr<std::vector<FamilyLink>> ListFamilyLinks(absl::string_view subject_id,
                                                          absl::string_view visible_to) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    auto st = r.conn().Prepare(
        "SELECT f.subject_id, f.relative_id, f.relationship, f.recorded_by, f.create_time_ms FROM family_links f "
        "JOIN subject_records h ON h.subject_id = f.relative_id AND h.partner_id = ?2 "
        "WHERE f.subject_id = ?1 ORDER BY f.create_time_ms, f.relative_id");
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

  absl::StatusOr<domain::Consent> CreateConsent(domain::Consent consent) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    consent.id = RandomId();
    if (consent.id.empty()) return absl::InternalError("no randomness for a consent id");
    auto st = writer_->Prepare(absl::StrCat("INSERT INTO consents (", kConsentColumns,
                                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"));
    if (!st.ok()) return st.status();
    BindConsent(*st, consent);
    if (absl::Status s = st->Run(); !s.ok()) return s;
    if (absl::Status s = tx->Commit(); !s.ok()) return s;
    return consent;
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

  absl::StatusOr<domain::Consent> UpdateConsent(
      absl::string_view id, const std::function<absl::Status(domain::Consent&)>& change) override {
    absl::MutexLock lock(&write_mu_);
    auto tx = Transaction::Begin(*writer_);
    if (!tx.ok()) return tx.status();
    absl::StatusOr<domain::Consent> consent = SelectConsent(*writer_, id);
    if (!consent.ok()) return consent.status();
    if (absl::Status s = change(*consent); !s.ok()) return s;
    auto st = writer_->Prepare(absl::StrCat("INSERT OR REPLACE INTO consents (", kConsentColumns,
                                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"));
    if (!st.ok()) return st.status();
    consent->id = std::string(id);
    BindConsent(*st, *consent);
    if (absl::Status s = st->Run(); !s.ok()) return s;
    if (absl::Status s = tx->Commit(); !s.ok()) return s;
    return consent;
  }

 private:
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

  // Borrows a read connection from the pool for one call and returns it after.
  class Reader {
   public:
    explicit Reader(SqliteStore& store) : store_(store) {
      {
        absl::MutexLock lock(&store_.pool_mu_);
        if (!store_.pool_.empty()) {
          conn_ = std::move(store_.pool_.back());
          store_.pool_.pop_back();
        }
      }
      if (!conn_) {
        auto opened = Connection::Open(store_.file_, /*writable=*/false);
        if (opened.ok()) {
          conn_ = std::move(*opened);
        } else {
          status_ = opened.status();
        }
      }
    }
    ~Reader() {
      if (!conn_) return;
      absl::MutexLock lock(&store_.pool_mu_);
      store_.pool_.push_back(std::move(conn_));
    }
    bool ok() const { return conn_ != nullptr; }
    absl::Status status() const { return status_; }
    Connection& conn() { return *conn_; }

   private:
    SqliteStore& store_;
    std::unique_ptr<Connection> conn_;
    absl::Status status_;
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

  absl::Status InsertPartner(const Partner& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    for (auto [column, value] : {std::pair{"id", p.id}, std::pair{"display_name", p.display_name}}) {
      auto st = writer_->Prepare(absl::StrCat("SELECT 1 FROM partners WHERE ", column, " = ?1"));
      if (!st.ok()) return st.status();
      auto row = st->Bind(1, value).Step();
      if (!row.ok()) return row.status();
      if (*row) {
        std::string field = std::string(column) == "id" ? "partner_id" : "partner.display_name";
        return absl::AlreadyExistsError(absl::StrCat(field, ": a partner with ", column, " \"", value,
                                                     "\" already exists"));
      }
    }
    auto st = writer_->Prepare(
        absl::StrCat("INSERT INTO partners (", kPartnerColumns, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    if (!st.ok()) return st.status();
    st->Bind(1, p.id).Bind(2, p.display_name).Bind(3, int64_t{p.sector}).Bind(4, JoinEnums(p.roles));
    st->Bind(5, static_cast<int64_t>(p.state)).Bind(6, p.state_reason).Bind(7, ToMs(p.create_time));
    return st->Run();
  }

  absl::Status InsertCertificate(const Certificate& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    auto st = writer_->Prepare(
        "INSERT INTO certificates (serial, partner_id, not_after_ms, revoked) VALUES (?1, ?2, ?3, ?4)");
    if (!st.ok()) return st.status();
    st->Bind(1, c.serial_hex).Bind(2, c.partner_id).Bind(3, ToMs(c.not_after)).Bind(4, int64_t{c.revoked});
    return st->Run();
  }

  absl::Status UpdateState(const Partner& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    auto st = writer_->Prepare("UPDATE partners SET state = ?2, state_reason = ?3 WHERE id = ?1");
    if (!st.ok()) return st.status();
    return st->Bind(1, p.id).Bind(2, static_cast<int64_t>(p.state)).Bind(3, p.state_reason).Run();
  }

  const std::filesystem::path file_;
  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> pool_ ABSL_GUARDED_BY(pool_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& db_file) {
  auto writer = Connection::Open(db_file, /*writable=*/true);
  if (!writer.ok()) return writer.status();
  if (absl::Status s = sqlite::Migrate(**writer); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("database ", db_file.string(), ": ", s.message()));
  }
  return std::unique_ptr<Store>(new SqliteStore(db_file, std::move(*writer)));
}

}  // namespace accord::store
