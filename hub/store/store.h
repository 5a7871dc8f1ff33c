// Store: the only way the hub reads or writes durable state. Implementations keep every SQL
// statement behind this interface (hub/store/sqlite for the embedded default).
//
// Thread-safety: every method may be called concurrently from any thread. Writes are serialised
// through one writer path; reads see the latest committed state when they start.
//
// Errors: NOT_FOUND for a missing record, ALREADY_EXISTS for a duplicate key, INVALID_ARGUMENT
// naming the field when a referenced record does not exist, FAILED_PRECONDITION for a state change
// the record's state forbids, and UNAVAILABLE / DATA_LOSS / INTERNAL when storage itself fails —
// callers must treat those as "nothing decided" (fail closed).
//
// A Store must outlive every caller; destroy it only after the server has stopped.
#ifndef ACCORD_HUB_STORE_STORE_H_
#define ACCORD_HUB_STORE_STORE_H_

#include <filesystem>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "accord/v1/audit.pb.h"
#include "hub/audit/merkle.h"
#include "hub/audit/tree_head.h"
#include "hub/domain/consent.h"
#include "hub/domain/directory.h"
#include "hub/domain/outcomes.h"
#include "hub/domain/referral.h"
#include "hub/domain/matching.h"
#include "hub/domain/outbox.h"
#include "hub/domain/retention.h"
#include "hub/domain/types.h"

namespace accord::store {

// A partner together with the certificate a call presented: what identity checks need.
struct Credential {
  domain::Partner partner;
  domain::Certificate certificate;
};

// What one partner holds about a subject: its own record in the person index.
struct SubjectRecord {
  domain::PersonRecord person;  // subject_id, normalised identifiers and demographics
  std::string partner_id;       // the holder
  std::string local_id;         // the holder's own id for the person
  absl::Time create_time;
};

// `relative` is `relationship` (an accord.v1.Relationship value) of `subject`.
struct FamilyLink {
  std::string subject_id;
  std::string relative_id;
  int relationship = 0;
  std::string recorded_by;
  absl::Time create_time;
};

enum class ResolveOutcome { kMatchedIdentifier, kMatchedDemographics, kCreated, kAmbiguous };

struct ResolveResult {
  ResolveOutcome outcome = ResolveOutcome::kAmbiguous;
  SubjectRecord record;                            // the caller's record, unless kAmbiguous
  std::vector<domain::MatchCandidate> candidates;  // when kAmbiguous
};

// A sharing event to append. The store assigns `event.sequence` and `event.time` (the commit's
// clock), seals `details` with the subject's key into `event.sealed_details`, and appends the
// serialized event as the next Merkle leaf — in the same transaction as the change it records.
struct NewEvent {
  v1::SharingEvent event;
  std::string subject_id;  // whose key seals `details`; empty when not about one child
  std::string details;     // personal free text; dropped when the subject's key was erased
};

// Events for a change, built once the change knows its ids (e.g. a new consent's id).
template <typename T>
using EventsFor = std::function<std::vector<NewEvent>(const T&)>;

// An event as stored: the exact leaf bytes and, when the subject's key still exists, the details.
struct StoredEvent {
  uint64_t sequence = 0;
  std::string record;                   // serialized v1::SharingEvent: the Merkle leaf input
  std::optional<std::string> details;   // opened; nullopt when erased or none were sealed
  bool details_erased = false;          // sealed details exist but the key is gone
};

struct EventFilter {
  std::string subject_id, actor_id, recipient_id;
  int purpose = 0;  // 0: any
  int basis = 0;
  int kind = 0;
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfiniteFuture();
};

// What a referral write does besides the change itself: the sharing events recording it and the
// inbox items it adds (each with the named referral's state at commit and the commit time).
struct InboxNotice {
  std::string partner_id;
  std::string referral_id;            // empty: the referral written
  std::string concurrent_service_id;  // set: a concurrent-referral notice about this service
};
struct ReferralEffects {
  std::vector<NewEvent> events;
  std::vector<InboxNotice> notify;
};
using ReferralEffectsFor = std::function<ReferralEffects(const domain::Referral&)>;

struct SubmitResult {
  domain::Referral referral;
  bool created = false;  // false: the idempotency key was seen before and this is the original
};

// One item of a partner's inbox, in the order they were written. `sequence` is the cursor.
struct InboxItem {
  int64_t sequence = 0;
  std::string partner_id;
  std::string referral_id;
  domain::ReferralState state = ::accord::v1::REFERRAL_STATE_UNSPECIFIED;
  absl::Time time;
  std::string concurrent_service_id;  // set on a concurrent-referral notice
};

// One item of the delivery outbox (domain/outbox.h): an inbox item of a partner reached through
// its plugin, with its delivery state.
struct OutboxItem {
  int64_t id = 0;
  InboxItem inbox;  // what is to be delivered (partner_id: the recipient)
  domain::OutboxState state = domain::OutboxState::kPending;
  int attempts = 0;  // failed attempts so far
  absl::Time next_attempt;
  std::string last_error;
  std::string external_id;  // the partner system's id, once delivered
  absl::Time update_time;
};

// Which referrals to list; empty / unspecified fields do not filter.
struct ReferralFilter {
  std::string party_id;          // referrals this partner is a party of
  bool as_referrer = true;       // with party_id: count its referrals as referrer ...
  bool as_provider = true;       // ... and as provider
  domain::ReferralState state = ::accord::v1::REFERRAL_STATE_UNSPECIFIED;
  std::string service_id;
  std::string subject_id;
  bool open_only = false;           // only referrals still open (domain::IsOpen)
  std::string not_provider_id;      // leave out referrals to this provider
};

struct RecordedOutcome {
  domain::OutcomeValue value;
  absl::Time record_time;
};

// Scores candidate records against the incoming demographics (domain::MatchDemographics).
using MatchFn = std::function<domain::MatchResult(absl::Span<const domain::PersonRecord>)>;

class Store {
 public:
  virtual ~Store() = default;

  // While the returned object lives, the reads this thread makes see one state of the store (one
  // read transaction) and cost one transaction between them instead of one each. For a handler's
  // reads before it writes: reads inside it do not see writes committed after its first read.
  // Destroy it before anything that waits (a plugin call) and on the thread that made it; inside
  // another snapshot it changes nothing. The default (and a store that cannot open one) reads as
  // usual.
  class ReadSnapshot {
   public:
    virtual ~ReadSnapshot() = default;
  };
  virtual std::unique_ptr<ReadSnapshot> SnapshotReads() { return std::make_unique<ReadSnapshot>(); }

  // Partners ------------------------------------------------------------------------------
  // Stores a new partner (id, display_name must be unique): ALREADY_EXISTS naming which.
  virtual absl::Status CreatePartner(const domain::Partner& partner) = 0;
  // Stores a partner and its first certificate together, or neither.
  virtual absl::Status CreatePartnerWithCertificate(const domain::Partner& partner,
                                                    const domain::Certificate& certificate) = 0;
  virtual absl::StatusOr<domain::Partner> GetPartner(absl::string_view id) = 0;
  // Up to `limit` partners with id > after_id, ordered by id.
  virtual absl::StatusOr<std::vector<domain::Partner>> ListPartners(absl::string_view after_id,
                                                                     int limit) = 0;
  // ACTIVE ↔ SUSPENDED. REVOKED is final: FAILED_PRECONDITION. Returns the updated partner.
  virtual absl::StatusOr<domain::Partner> SetPartnerSuspended(absl::string_view id, bool suspended,
                                                              absl::string_view reason) = 0;
  // Marks the partner REVOKED and every certificate of it revoked, in one transaction.
  virtual absl::StatusOr<domain::Partner> RevokePartner(absl::string_view id, absl::string_view reason) = 0;

  // Certificates --------------------------------------------------------------------------
  // Records a certificate issued to an existing partner.
  virtual absl::Status AddCertificate(const domain::Certificate& certificate) = 0;
  // The certificate with this serial and its partner: NOT_FOUND when the hub never issued it.
  virtual absl::StatusOr<Credential> FindCredential(absl::string_view serial_hex) = 0;

  // Sharing agreements --------------------------------------------------------------------
  // Assigns the id, stores and returns the agreement. A named partner that does not exist is
  // INVALID_ARGUMENT naming the field ("sharing_agreement.recipient.partner").
  virtual absl::StatusOr<domain::SharingAgreement> CreateAgreement(domain::SharingAgreement agreement) = 0;
  // Up to `limit` agreements with id > after_id, ordered by id.
  virtual absl::StatusOr<std::vector<domain::SharingAgreement>> ListAgreements(absl::string_view after_id,
                                                                                int limit) = 0;

  // Subjects (the person index) -----------------------------------------------------------
  // In one write transaction: a subject whose NHS number or UPN equals the incoming one is linked
  // (kMatchedIdentifier; NHS number and UPN naming two different subjects is FAILED_PRECONDITION);
  // otherwise `match` scores the records sharing the birth date or the normalised family name:
  // a confident match is linked, an ambiguous one returns candidates and writes nothing, none
  // creates a subject with a new random id — and so does an ambiguous one when
  // `create_when_ambiguous` (the caller has confirmed none of the candidates is this person).
  // Linking stores or updates the caller's own record (`incoming.partner_id`) and indexes its
  // national identifiers.
  virtual absl::StatusOr<ResolveResult> ResolveSubject(const SubjectRecord& incoming, const MatchFn& match,
                                                       bool create_when_ambiguous,
                                                       const EventsFor<ResolveResult>& events) = 0;
  // The record `partner_id` holds of the subject: NOT_FOUND when the subject does not exist or
  // the partner does not hold it (the two are not told apart).
  virtual absl::StatusOr<SubjectRecord> GetSubjectRecord(absl::string_view subject_id,
                                                         absl::string_view partner_id) = 0;
  virtual absl::StatusOr<bool> SubjectExists(absl::string_view subject_id) = 0;
  // Every partner's record of the subject, ordered by partner id (empty when none).
  virtual absl::StatusOr<std::vector<SubjectRecord>> ListSubjectHolders(absl::string_view subject_id) = 0;
  // ALREADY_EXISTS for the same (subject, relative, relationship) again.
  virtual absl::Status AddFamilyLink(const FamilyLink& link) = 0;
  // Links of `subject_id` whose relative `visible_to` also holds, in the order they were recorded.
  virtual absl::StatusOr<std::vector<FamilyLink>> ListFamilyLinks(absl::string_view subject_id,
                                                                  absl::string_view visible_to) = 0;

  // Consents -------------------------------------------------------------------------------
  // Assigns the id, stores and returns the consent.
  virtual absl::StatusOr<domain::Consent> CreateConsent(domain::Consent consent,
                                                        const EventsFor<domain::Consent>& events) = 0;
  virtual absl::StatusOr<domain::Consent> GetConsent(absl::string_view id) = 0;
  // Every consent about the subject, newest first.
  virtual absl::StatusOr<std::vector<domain::Consent>> ListConsents(absl::string_view subject_id) = 0;
  // Loads the consent, applies `change` and stores the result, in one write transaction; nothing
  // is written when `change` fails (its status is returned).
  virtual absl::StatusOr<domain::Consent> UpdateConsent(
      absl::string_view id, const std::function<absl::Status(domain::Consent&)>& change,
      const EventsFor<domain::Consent>& events) = 0;

  // The directory -------------------------------------------------------------------------------
  // Publishes `service` (already validated) for `service.provider_id`. An empty id is generated. A
  // service with this id of the same provider is replaced, keeping its create time and — unless
  // `availability_given` — its availability; one of another provider is ALREADY_EXISTS
  // ("service_id: ..."). Returns the stored service.
  virtual absl::StatusOr<domain::Service> PublishService(domain::Service service, bool availability_given) = 0;
  virtual absl::StatusOr<domain::Service> GetService(absl::string_view id) = 0;
  // Every published service, ordered by id (the directory is small enough to judge in memory).
  virtual absl::StatusOr<std::vector<domain::Service>> ListServices() = 0;
  // Sets the availability of a service of `provider_id`: NOT_FOUND ("name: no service ..."),
  // PERMISSION_DENIED when another provider published it.
  virtual absl::StatusOr<domain::Service> UpdateAvailability(absl::string_view id, absl::string_view provider_id,
                                                             domain::Availability availability) = 0;

  // Referrals ---------------------------------------------------------------------------------
  // In one write transaction: when `referral.referrer_id` already submitted one with the same
  // idempotency key, returns it (created = false) and writes nothing — ALREADY_EXISTS
  // ("referral.idempotency_key: ...") when it asked for something else (domain::SameSubmission).
  // Otherwise assigns the id (time-ordered), stores the referral with its first history entry,
  // the effects' events and inbox items. The key is UNIQUE per referrer in the schema, so
  // concurrent retries cannot both insert.
  virtual absl::StatusOr<SubmitResult> CreateReferral(domain::Referral referral,
                                                      const ReferralEffectsFor& effects) = 0;
  // The referral `referrer_id` submitted with this (canonical) idempotency key; NOT_FOUND when none.
  virtual absl::StatusOr<domain::Referral> FindReferralByKey(absl::string_view referrer_id,
                                                             absl::string_view idempotency_key) = 0;
  // With its full history (withheld entries included). NOT_FOUND for no such referral.
  virtual absl::StatusOr<domain::Referral> GetReferral(absl::string_view id) = 0;
  // Up to `limit` referrals matching `filter` with id < before_id (empty: from the newest),
  // newest first.
  virtual absl::StatusOr<std::vector<domain::Referral>> ListReferrals(const ReferralFilter& filter,
                                                                      absl::string_view before_id, int limit) = 0;
  // Loads the referral, applies `change`, stores it and the history entries it appended, the
  // effects' events and inbox items, in one write transaction; nothing is written when `change`
  // fails (its status is returned).
  virtual absl::StatusOr<domain::Referral> UpdateReferral(
      absl::string_view id, const std::function<absl::Status(domain::Referral&)>& change,
      const ReferralEffectsFor& effects) = 0;
  // Up to `limit` inbox items of `partner_id` with sequence > after, in order.
  virtual absl::StatusOr<std::vector<InboxItem>> ReadInbox(absl::string_view partner_id, int64_t after,
                                                           int limit) = 0;

  // The delivery outbox -------------------------------------------------------------------------
  // In one write transaction: copies `partner_id`'s inbox items after its outbox cursor (up to
  // `limit`) into the outbox as PENDING, due now, and advances the cursor. Returns how many.
  virtual absl::StatusOr<int> FillOutbox(absl::string_view partner_id, int limit) = 0;
  // Up to `limit` PENDING items of `partner_id` due at `now`, oldest first.
  virtual absl::StatusOr<std::vector<OutboxItem>> DueOutboxItems(absl::string_view partner_id, absl::Time now,
                                                                 int limit) = 0;
  // Stores an item's state, attempts, next attempt, last error and external id.
  virtual absl::Status UpdateOutboxItem(const OutboxItem& item) = 0;
  // Up to `limit` items with id > after_id, of `state` when given, in id order.
  virtual absl::StatusOr<std::vector<OutboxItem>> ListOutbox(std::optional<domain::OutboxState> state,
                                                             int64_t after_id, int limit) = 0;
  // A DEAD item back to PENDING, due now, attempts reset: NOT_FOUND, or FAILED_PRECONDITION naming
  // its state when it is not DEAD.
  virtual absl::StatusOr<OutboxItem> RedriveOutboxItem(int64_t id) = 0;
  // The plugin's cursor for status changes ("" before the first poll) and storing a new one.
  virtual absl::StatusOr<std::string> PollCursor(absl::string_view partner_id) = 0;
  virtual absl::Status SavePollCursor(absl::string_view partner_id, absl::string_view cursor) = 0;

  // Outcomes ------------------------------------------------------------------------------------
  // In one write transaction: loads the referral, runs `check` on it (its status is returned and
  // nothing written when it fails), stores each value (replacing one of the same measure and
  // timepoint) and `events`. Returns every outcome of the referral.
  virtual absl::StatusOr<std::vector<RecordedOutcome>> RecordOutcomes(
      absl::string_view referral_id, const std::function<absl::Status(const domain::Referral&)>& check,
      const std::vector<domain::OutcomeValue>& values, const EventsFor<domain::Referral>& events) = 0;
  // Every outcome of the referral, by measure then timepoint.
  virtual absl::StatusOr<std::vector<RecordedOutcome>> ListOutcomes(absl::string_view referral_id) = 0;
  // One pair per (referral, measure) of the service's referrals, anonymous (domain::OutcomePair);
  // with a window, only referrals closed within [start, end).
  virtual absl::StatusOr<std::vector<domain::OutcomePair>> OutcomePairs(absl::string_view service_id,
                                                                        absl::Time start, absl::Time end) = 0;

  // The sharing log ---------------------------------------------------------------------------
  // Every write above goes through one writer that commits many callers' changes in one durable
  // transaction (group commit); a call returns once its change and its events are durable, or
  // with an error and nothing of it stored.
  //
  // Appends events that record no other change (e.g. a DPO's read). Returns their sequences.
  virtual absl::StatusOr<std::vector<uint64_t>> AppendEvents(std::vector<NewEvent> events) = 0;
  // Number of events in the log.
  virtual absl::StatusOr<uint64_t> LogSize() = 0;

  // Asynchronous forms of the writes on the hot paths (AppendEvents, CreateReferral), so that a
  // server thread is not held while the group commit it joined becomes durable: `done` runs exactly
  // once with what the synchronous form would return, once the change is durable or has failed —
  // on a thread of the store's, in commit order, so it should be short (later completions wait for
  // it); it may call the store again. The defaults run the synchronous form on the calling thread.
  using AppendDone = std::function<void(absl::StatusOr<std::vector<uint64_t>>)>;
  virtual void AppendEventsLater(std::vector<NewEvent> events, AppendDone done) {
    done(AppendEvents(std::move(events)));
  }
  using SubmitDone = std::function<void(absl::StatusOr<SubmitResult>)>;
  virtual void CreateReferralLater(domain::Referral referral, ReferralEffectsFor effects, SubmitDone done) {
    done(CreateReferral(std::move(referral), effects));
  }
  // The stored perfect-subtree hashes, for roots and proofs (audit::RootHash etc.).
  virtual audit::HashStore& LogHashes() = 0;
  // Up to `limit` events with sequence >= from, in order.
  virtual absl::StatusOr<std::vector<StoredEvent>> ReadEvents(uint64_t from, int limit) = 0;
  // Up to `limit` events matching `filter` with sequence >= from, in order.
  virtual absl::StatusOr<std::vector<StoredEvent>> QueryEvents(const EventFilter& filter, uint64_t from,
                                                               int limit) = 0;
  // Keeps a signed tree head (the checkpoint `accordctl audit verify` checks a data directory
  // against). Idempotent per tree size.
  virtual absl::Status SaveTreeHead(const audit::SignedTreeHead& head) = 0;
  // The largest saved tree head; NOT_FOUND when none was saved.
  virtual absl::StatusOr<audit::SignedTreeHead> LatestTreeHead() = 0;
  // For every subject in the log not yet erased: when each data category was last used in its
  // events (for the retention sweep). Reads the whole log.
  virtual absl::StatusOr<std::map<std::string, domain::LastUse>> SubjectLastUse() = 0;
  // Erasure: destroys the subject's key (its events' details become unreadable while every proof
  // still verifies), deletes its person-index records, identifiers and family links, and blanks
  // the free text of its referrals (background, decline, closure and withdrawal texts); appends
  // `event` (built with the subject's id) in the same transaction. NOT_FOUND for no such subject.
  virtual absl::Status EraseSubject(absl::string_view subject_id, NewEvent event) = 0;
};

// Opens (creating if needed) the embedded SQLite store at `db_file` and applies pending
// migrations. Fails with a message naming the file when it is not a database, is from a newer
// version of Accord, or cannot be written.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& db_file);

}  // namespace accord::store

#endif  // ACCORD_HUB_STORE_STORE_H_
