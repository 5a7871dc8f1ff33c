#include "hub/store/sqlite/migrations.h"

#include <array>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace accord::store::sqlite {
namespace {

// Append only: a released migration is never edited.
constexpr std::array<absl::string_view, 6> kMigrations = {
    // 1: partners, their certificates, sharing agreements. Times are Unix milliseconds;
    // enum lists are comma-separated numbers of the accord.v1 enums.
    R"sql(
CREATE TABLE partners (
  id             TEXT PRIMARY KEY,
  display_name   TEXT NOT NULL UNIQUE,
  sector         INTEGER NOT NULL,
  roles          TEXT NOT NULL,
  state          INTEGER NOT NULL,
  state_reason   TEXT NOT NULL DEFAULT '',
  create_time_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE certificates (
  serial         TEXT PRIMARY KEY,
  partner_id     TEXT NOT NULL REFERENCES partners(id),
  not_after_ms   INTEGER NOT NULL,
  revoked        INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX certificates_by_partner ON certificates(partner_id);

CREATE TABLE sharing_agreements (
  id                 TEXT PRIMARY KEY,
  discloser_partner  TEXT REFERENCES partners(id),
  discloser_sector   INTEGER NOT NULL,
  recipient_partner  TEXT REFERENCES partners(id),
  recipient_sector   INTEGER NOT NULL,
  purposes           TEXT NOT NULL,
  categories         TEXT NOT NULL,
  valid_from_ms      INTEGER NOT NULL,
  valid_until_ms     INTEGER NOT NULL,
  description        TEXT NOT NULL,
  creator_id         TEXT REFERENCES partners(id),
  create_time_ms     INTEGER NOT NULL
) STRICT;
)sql",
    // 2: the person index (one record per holder of a subject), national identifiers, family
    // links, consents. Recipients are "p:<partner id>" or "s:<sector number>", comma-separated.
    R"sql(
CREATE TABLE subjects (
  id             TEXT PRIMARY KEY,
  create_time_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE subject_records (
  subject_id     TEXT NOT NULL REFERENCES subjects(id),
  partner_id     TEXT NOT NULL REFERENCES partners(id),
  local_id       TEXT NOT NULL,
  nhs_number     TEXT NOT NULL,
  upn            TEXT NOT NULL,
  given_name     TEXT NOT NULL,
  family_name    TEXT NOT NULL,
  family_key     TEXT NOT NULL,
  birth_date     TEXT NOT NULL,
  postcode       TEXT NOT NULL,
  create_time_ms INTEGER NOT NULL,
  PRIMARY KEY (subject_id, partner_id)
) STRICT;
CREATE INDEX subject_records_by_birth_date ON subject_records(birth_date) WHERE birth_date != '';
CREATE INDEX subject_records_by_family_key ON subject_records(family_key) WHERE family_key != '';
CREATE INDEX subject_records_by_partner ON subject_records(partner_id);

CREATE TABLE subject_identifiers (
  kind        TEXT NOT NULL,
  value       TEXT NOT NULL,
  subject_id  TEXT NOT NULL REFERENCES subjects(id),
  PRIMARY KEY (kind, value)
) STRICT;

CREATE TABLE family_links (
  subject_id     TEXT NOT NULL REFERENCES subjects(id),
  relative_id    TEXT NOT NULL REFERENCES subjects(id),
  relationship   INTEGER NOT NULL,
  recorded_by    TEXT NOT NULL REFERENCES partners(id),
  create_time_ms INTEGER NOT NULL,
  PRIMARY KEY (subject_id, relative_id, relationship)
) STRICT;

CREATE TABLE consents (
  id              TEXT PRIMARY KEY,
  subject_id      TEXT NOT NULL REFERENCES subjects(id),
  given_by        INTEGER NOT NULL,
  purposes        TEXT NOT NULL,
  categories      TEXT NOT NULL,
  recipients      TEXT NOT NULL,
  valid_from_ms   INTEGER NOT NULL,
  valid_until_ms  INTEGER NOT NULL,
  state           INTEGER NOT NULL,
  withdrawn_at_ms INTEGER,
  recorded_by     TEXT NOT NULL REFERENCES partners(id),
  evidence        TEXT NOT NULL,
  create_time_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX consents_by_subject ON consents(subject_id, create_time_ms);
)sql",
    // 3: the sharing log. `record` is the serialized accord.v1.SharingEvent, the Merkle leaf's
    // input; the other columns repeat fields of it for queries. log_nodes holds every perfect
    // subtree hash (level 0: leaf hashes). Subject keys seal events' personal details; an erased
    // subject keeps its row with a NULL key.
    R"sql(
CREATE TABLE log_events (
  seq         INTEGER PRIMARY KEY,
  time_ms     INTEGER NOT NULL,
  kind        INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  recipient   TEXT NOT NULL,
  subject_id  TEXT NOT NULL,
  purpose     INTEGER NOT NULL,
  basis       INTEGER NOT NULL,
  record      BLOB NOT NULL
) STRICT;
CREATE INDEX log_events_by_subject ON log_events(subject_id, seq) WHERE subject_id != '';
CREATE INDEX log_events_by_actor ON log_events(actor, seq);
CREATE INDEX log_events_by_recipient ON log_events(recipient, seq) WHERE recipient != '';

CREATE TABLE log_nodes (
  level  INTEGER NOT NULL,
  idx    INTEGER NOT NULL,
  hash   BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE log_tree_heads (
  tree_size  INTEGER PRIMARY KEY,
  root       BLOB NOT NULL,
  time_ms    INTEGER NOT NULL,
  signature  BLOB NOT NULL
) STRICT;

CREATE TABLE subject_keys (
  subject_id  TEXT PRIMARY KEY,
  key         BLOB
) STRICT;
)sql",
    // 4: the directory and referrals. `record` columns hold the serialized accord.v1 message
    // (services: the whole Service; referrals: the Referral without its history, which is in
    // referral_history); the other columns repeat fields for queries and constraints. Each
    // referrer's idempotency keys are unique, so concurrent retries cannot create two referrals.
    // deliveries is every partner's inbox: its seq is the cursor a WatchInbox client resumes from;
    // concurrent_service_id is set on a notice that another service received a referral of the child.
    R"sql(
CREATE TABLE services (
  id              TEXT PRIMARY KEY,
  provider_id     TEXT NOT NULL REFERENCES partners(id),
  accepting       INTEGER NOT NULL,
  record          BLOB NOT NULL,
  create_time_ms  INTEGER NOT NULL,
  update_time_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX services_by_provider ON services(provider_id);

CREATE TABLE referrals (
  id               TEXT PRIMARY KEY,
  service_id       TEXT NOT NULL REFERENCES services(id),
  referrer_id      TEXT NOT NULL REFERENCES partners(id),
  provider_id      TEXT NOT NULL REFERENCES partners(id),
  subject_id       TEXT NOT NULL REFERENCES subjects(id),
  state            INTEGER NOT NULL,
  idempotency_key  TEXT NOT NULL,
  previous_id      TEXT REFERENCES referrals(id),
  record           BLOB NOT NULL,
  create_time_ms   INTEGER NOT NULL,
  update_time_ms   INTEGER NOT NULL,
  close_time_ms    INTEGER,
  UNIQUE (referrer_id, idempotency_key)
) STRICT;
CREATE INDEX referrals_by_referrer ON referrals(referrer_id, id);
CREATE INDEX referrals_by_provider ON referrals(provider_id, id);
CREATE INDEX referrals_by_subject ON referrals(subject_id, id);
CREATE INDEX referrals_by_service ON referrals(service_id, id);

CREATE TABLE referral_history (
  referral_id  TEXT NOT NULL REFERENCES referrals(id),
  idx          INTEGER NOT NULL,
  state        INTEGER NOT NULL,
  actor_id     TEXT NOT NULL REFERENCES partners(id),
  time_ms      INTEGER NOT NULL,
  withheld     INTEGER NOT NULL,
  PRIMARY KEY (referral_id, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE deliveries (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  partner_id   TEXT NOT NULL REFERENCES partners(id),
  referral_id  TEXT NOT NULL REFERENCES referrals(id),
  state        INTEGER NOT NULL,
  time_ms      INTEGER NOT NULL,
  concurrent_service_id TEXT NOT NULL
) STRICT;
CREATE INDEX deliveries_by_partner ON deliveries(partner_id, seq);

CREATE TABLE outcomes (
  referral_id     TEXT NOT NULL REFERENCES referrals(id),
  measure         INTEGER NOT NULL,
  timepoint       INTEGER NOT NULL,
  record          BLOB NOT NULL,
  record_time_ms  INTEGER NOT NULL,
  PRIMARY KEY (referral_id, measure, timepoint)
) STRICT;
)sql",
    // 5: the delivery outbox. Each inbox item of a partner reached through a plugin is copied
    // once (outbox_cursors.inbox_seq is the last copied) into plugin_outbox with its delivery
    // state (domain::OutboxState), attempts and when it is next due; poll_cursor is the plugin's
    // own cursor for status changes made in the partner's system.
    R"sql(
CREATE TABLE plugin_outbox (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  partner_id       TEXT NOT NULL REFERENCES partners(id),
  inbox_seq        INTEGER NOT NULL REFERENCES deliveries(seq),
  state            INTEGER NOT NULL,
  attempts         INTEGER NOT NULL,
  next_attempt_ms  INTEGER NOT NULL,
  last_error       TEXT NOT NULL,
  external_id      TEXT NOT NULL,
  update_time_ms   INTEGER NOT NULL,
  UNIQUE (partner_id, inbox_seq)
) STRICT;
CREATE INDEX plugin_outbox_due ON plugin_outbox(partner_id, state, next_attempt_ms);

CREATE TABLE outbox_cursors (
  partner_id   TEXT PRIMARY KEY REFERENCES partners(id),
  inbox_seq    INTEGER NOT NULL,
  poll_cursor  TEXT NOT NULL
) STRICT;
)sql",
    // 6: a child's referrals, newest first, with their state and provider in the index, so that
    // finding its open referrals to other providers (every submission does, for concurrent-referral
    // notices) reads the index alone, in order, not each referral.
    R"sql(
DROP INDEX referrals_by_subject;
CREATE INDEX referrals_by_subject ON referrals(subject_id, id, state, provider_id);
)sql",
};

absl::StatusOr<int> UserVersion(Connection& conn) {
  auto stmt = conn.Prepare("PRAGMA user_version");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  return static_cast<int>(stmt->Int(0));
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

absl::Status Migrate(Connection& conn) {
  absl::StatusOr<int> version = UserVersion(conn);
  if (!version.ok()) return version.status();
  if (*version > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(absl::StrCat("database schema version ", *version,
                                                      " is newer than this build of Accord (",
                                                      LatestSchemaVersion(), ")"));
  }
  for (int v = *version; v < LatestSchemaVersion(); ++v) {
    auto tx = Transaction::Begin(conn);
    if (!tx.ok()) return tx.status();
    if (absl::Status s = conn.Exec(kMigrations[v]); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("migration ", v + 1, ": ", s.message()));
    }
    if (absl::Status s = conn.Exec(absl::StrCat("PRAGMA user_version = ", v + 1)); !s.ok()) return s;
    if (absl::Status s = tx->Commit(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace accord::store::sqlite
