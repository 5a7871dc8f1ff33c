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

 private:
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
