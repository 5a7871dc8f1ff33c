#include "hub/server/referral_service.h"

#include <atomic>
#include <deque>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hub/domain/codec.h"
#include "hub/domain/outcomes.h"
#include "hub/domain/validation.h"
#include "hub/log/log.h"
#include "hub/server/paging.h"
#include "hub/server/sharing.h"
#include "hub/server/unary.h"

namespace accord::server {
namespace {

const std::initializer_list<domain::Role> kParties = {v1::ROLE_REFERRER, v1::ROLE_PROVIDER};
const std::initializer_list<domain::Role> kProviders = {v1::ROLE_PROVIDER};
const std::initializer_list<domain::Role> kReferrers = {v1::ROLE_REFERRER};
const std::initializer_list<domain::Role> kEveryone = {v1::ROLE_REFERRER, v1::ROLE_PROVIDER, v1::ROLE_DPO,
                                                       v1::ROLE_ADMIN};

// A status notice tells the other party that this child is known to the service and where its
// referral stands: the IDENTITY category.
const std::vector<domain::DataCategory> kNoticeCategories = {v1::DATA_CATEGORY_IDENTITY};

constexpr const char* kLeadProfessionalSuggestion =
    "Other services are already involved with this child. Agree with them who will be the lead professional "
    "before support starts, so the family is not contacted by several services at once.";

absl::Time NowMs() { return absl::FromUnixMillis(absl::ToUnixMillis(absl::Now())); }

std::string Cursor(int64_t sequence) { return domain::EncodePageToken(absl::StrCat(sequence)); }

absl::StatusOr<int64_t> ParseCursor(const std::string& cursor) {
  if (cursor.empty()) return 0;
  absl::StatusOr<std::string> decoded = domain::DecodePageToken(cursor);
  int64_t sequence = 0;
  if (!decoded.ok() || !absl::SimpleAtoi(*decoded, &sequence) || sequence < 0) {
    return absl::InvalidArgumentError("cursor: not a cursor this hub issued");
  }
  return sequence;
}

bool IsReferOn(v1::ReferralLink link) {
  return link == v1::REFERRAL_LINK_ONWARD || link == v1::REFERRAL_LINK_STEP_UP || link == v1::REFERRAL_LINK_STEP_DOWN;
}

}  // namespace

// InboxWaiters -----------------------------------------------------------------------------------

void InboxWaiters::Add(const std::string& partner_id, Waiter* waiter) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      waiters_[partner_id].insert(waiter);
      return;
    }
    waiter->Ref();
  }
  waiter->Close();
  waiter->Unref();
}

void InboxWaiters::Remove(const std::string& partner_id, Waiter* waiter) {
  absl::MutexLock lock(&mu_);
  auto it = waiters_.find(partner_id);
  if (it == waiters_.end()) return;
  it->second.erase(waiter);
  if (it->second.empty()) waiters_.erase(it);
}

std::vector<InboxWaiters::Waiter*> InboxWaiters::Collect(const std::vector<std::string>& partner_ids) {
  std::vector<Waiter*> out;
  auto take = [&](const std::set<Waiter*>& set) {
    for (Waiter* w : set) {
      w->Ref();
      out.push_back(w);
    }
  };
  if (partner_ids.empty()) {
    for (const auto& [id, set] : waiters_) take(set);
  }
  for (const std::string& id : partner_ids) {
    auto it = waiters_.find(id);
    if (it != waiters_.end()) take(it->second);
  }
  return out;
}

void InboxWaiters::Notify(const std::vector<std::string>& partner_ids) {
  if (partner_ids.empty()) return;
  std::vector<Waiter*> woken;
  {
    absl::MutexLock lock(&mu_);
    woken = Collect(partner_ids);
  }
  for (Waiter* w : woken) {
    w->Wake();
    w->Unref();
  }
}

void InboxWaiters::CloseAll() {
  std::vector<Waiter*> closing;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    closing = Collect({});
  }
  if (!closing.empty()) log::Info("inbox_streams_closed", {{"streams", static_cast<int>(closing.size())}});
  for (Waiter* w : closing) {
    w->Close();
    w->Unref();
  }
}

// ReferralService ---------------------------------------------------------------------------------

ReferralService::ReferralService(store::Store& store, const security::Authenticator& auth, Workers& workers,
                                 int max_page_size)
    : store_(store), auth_(auth), workers_(workers), max_page_size_(max_page_size) {}

void ReferralService::Shutdown() { waiters_.CloseAll(); }

absl::StatusOr<domain::Referral> ReferralService::LoadForParty(const std::string& referral_id,
                                                               const std::string& partner_id,
                                                               absl::string_view field) {
  absl::StatusOr<domain::Referral> referral = store_.GetReferral(referral_id);
  if (absl::IsNotFound(referral.status()) ||
      (referral.ok() && !domain::SidesOf(*referral, partner_id).Any())) {
    return absl::NotFoundError(absl::StrCat(field, ": no referral ", referral_id));
  }
  return referral;
}

absl::StatusOr<v1::Referral> ReferralService::View(const domain::Referral& referral, const std::string& partner_id,
                                                  bool delivering) {
  domain::Referral visible = domain::VisibleTo(referral, partner_id);
  domain::Sides sides = domain::SidesOf(referral, partner_id);
  if (!sides.provider) {
    visible.concurrent_service_ids.clear();
    visible.concurrent_undisclosed = 0;
    visible.earlier.clear();
  }
  // A provider sees what a referral carries only once it was delivered (the decision allowed it at
  // that moment): before, it knows of it only that it exists.
  bool delivered = delivering || sides.referrer;
  for (const domain::StateChange& change : referral.history) delivered |= change.state == v1::REFERRAL_STATE_DELIVERED;
  if (!delivered) {
    visible.subject_id.clear();
    visible.needs.clear();
    visible.background.clear();
    visible.consent_id.clear();
    visible.lawful_basis.reset();
    visible.categories.clear();
    visible.previous_id.clear();
    visible.link = v1::REFERRAL_LINK_UNSPECIFIED;
    visible.withdraw_reason.clear();
    visible.concurrent_service_ids.clear();
    visible.concurrent_undisclosed = 0;
    visible.earlier.clear();
  }
  v1::Referral out = domain::ReferralToProto(visible);
  if (!sides.referrer) out.clear_idempotency_key();
  if (out.has_concurrent()) out.mutable_concurrent()->set_suggestion(kLeadProfessionalSuggestion);
  if (sides.provider) {
    absl::StatusOr<std::vector<store::RecordedOutcome>> outcomes = store_.ListOutcomes(referral.id);
    if (!outcomes.ok()) return outcomes.status();
    for (const store::RecordedOutcome& o : *outcomes) {
      v1::OutcomeValue* value = out.add_outcomes();
      *value = domain::OutcomeToProto(o.value);
      *value->mutable_record_time() = domain::TimeToProto(o.record_time);
    }
  }
  return out;
}

absl::StatusOr<std::pair<domain::SharingRequest, domain::Decision>> ReferralService::DecideFor(
    const domain::Referral& referral, const std::string& discloser_id, const std::string& recipient_id,
    domain::Purpose purpose, std::vector<domain::DataCategory> categories, bool own_basis) {
  domain::SharingRequest req;
  absl::StatusOr<domain::Partner> discloser = store_.GetPartner(discloser_id);
  if (!discloser.ok()) return discloser.status();
  absl::StatusOr<domain::Partner> recipient = store_.GetPartner(recipient_id);
  if (!recipient.ok()) return recipient.status();
  req.discloser = *discloser;
  req.recipient = *recipient;
  req.subject_id = referral.subject_id;
  req.purpose = purpose;
  req.categories = std::move(categories);
  std::vector<domain::Consent> consents;
  if (own_basis) {
    if (referral.lawful_basis) {
      req.lawful_basis = referral.lawful_basis;
    } else {
      absl::StatusOr<domain::Consent> consent = store_.GetConsent(referral.consent_id);
      if (consent.ok()) {
        consents.push_back(*consent);
      } else if (!absl::IsNotFound(consent.status())) {
        return consent.status();
      }
    }
  } else {
    absl::StatusOr<std::vector<domain::Consent>> all = store_.ListConsents(referral.subject_id);
    if (!all.ok()) return all.status();
    consents = std::move(*all);
  }
  absl::StatusOr<domain::Decision> decision = DecideNow(store_, req, consents);
  if (!decision.ok()) return decision.status();
  return std::make_pair(std::move(req), std::move(*decision));
}

// SubmitReferral ------------------------------------------------------------------------------------

grpc::ServerUnaryReactor* ReferralService::SubmitReferral(grpc::CallbackServerContext* ctx,
                                                          const v1::SubmitReferralRequest* req,
                                                          v1::SubmitReferralResponse* resp) {
  // The caller's identity and everything the decision rests on are read together, in one state of
  // the store, before the write.
  std::unique_ptr<store::Store::ReadSnapshot> snapshot = store_.SnapshotReads();
  return HandleUnaryLater(ctx, auth_, kParties, "SubmitReferral", [&](const security::Caller& caller, Finish finish) {
    absl::StatusOr<std::optional<Submission>> submission = PrepareSubmit(caller, *req, *resp);
    snapshot.reset();
    if (!submission.ok()) return finish(submission.status());
    if (!submission->has_value()) return finish(absl::OkStatus());  // a retry, answered with the original
    if (absl::Status refusal = (*submission)->refusal; !refusal.ok()) {
      store_.AppendEventsLater(std::move((*submission)->events),
                               [finish, refusal](absl::StatusOr<std::vector<uint64_t>> logged) {
                                 finish(logged.ok() ? refusal : logged.status());
                               });
      return;
    }
    // The referral, its history, inbox items and events in one durable transaction; the gRPC
    // thread is free meanwhile and the answer goes out once it is durable.
    std::vector<std::string> woken;
    for (const store::InboxNotice& n : (*submission)->notices) woken.push_back(n.partner_id);
    auto effects = [events = std::move((*submission)->events),
                    notices = std::move((*submission)->notices)](const domain::Referral& stored) {
      store::ReferralEffects effects;
      effects.events = events;
      for (store::NewEvent& e : effects.events) {
        if (e.event.request() == "ReferralService/SubmitReferral") {
          e.event.set_request(absl::StrCat("ReferralService/SubmitReferral ", domain::ReferralName(stored.id)));
        }
      }
      effects.notify = notices;
      return effects;
    };
    store_.CreateReferralLater(
        std::move((*submission)->referral), std::move(effects),
        [this, resp, finish, woken = std::move(woken),
         caller_id = caller.partner.id](absl::StatusOr<store::SubmitResult> result) {
          if (!result.ok()) return finish(result.status());
          if (result->created) {
            waiters_.Notify(woken);
            log::Info("referral_submitted", {{"referral", result->referral.id}, {"by", caller_id},
                                             {"to", result->referral.provider_id}});
          }
          absl::StatusOr<v1::Referral> view = View(result->referral, caller_id);
          if (!view.ok()) return finish(view.status());
          *resp->mutable_referral() = std::move(*view);
          finish(absl::OkStatus());
        });
  });
}

absl::StatusOr<std::optional<ReferralService::Submission>> ReferralService::PrepareSubmit(
    const security::Caller& caller, const v1::SubmitReferralRequest& req, v1::SubmitReferralResponse& resp) {
  // 1. The request's own fields.
  if (!req.has_referral()) return absl::InvalidArgumentError("referral: is required");
  const v1::Referral& in = req.referral();
  absl::StatusOr<std::string> service_id = domain::ParseServiceName(in.service(), "referral.service");
  if (!service_id.ok()) return service_id.status();
  absl::StatusOr<std::string> subject_id = domain::ParseSubjectName(in.subject(), "referral.subject");
  if (!subject_id.ok()) return subject_id.status();
  if (!in.consent().empty()) {
    if (auto c = domain::ParseConsentName(in.consent(), "referral.consent"); !c.ok()) return c.status();
  }
  domain::Referral incoming = domain::ReferralFromProto(in);
  incoming.id.clear();
  incoming.provider_id.clear();
  incoming.history.clear();
  incoming.decline.reset();
  incoming.closure.reset();
  incoming.expected_wait.reset();
  incoming.waitlist_position.reset();
  incoming.withdraw_reason.clear();
  incoming.concurrent_service_ids.clear();
  incoming.concurrent_undisclosed = 0;
  incoming.earlier.clear();
  absl::StatusOr<domain::Referral> valid = domain::ValidateNewReferral(incoming);
  if (!valid.ok()) return valid.status();
  domain::Referral r = std::move(*valid);
  r.referrer_id = caller.partner.id;
  if (in.previous_referral().empty()) {
    if (in.link() != v1::REFERRAL_LINK_UNSPECIFIED) {
      return absl::InvalidArgumentError("referral.previous_referral: is required with a link");
    }
  } else {
    absl::StatusOr<std::string> prev = domain::ParseReferralName(in.previous_referral(), "referral.previous_referral");
    if (!prev.ok()) return prev.status();
    if (in.link() != v1::REFERRAL_LINK_REDIRECT && !IsReferOn(in.link())) {
      return absl::InvalidArgumentError("referral.link: REDIRECT, ONWARD, STEP_UP or STEP_DOWN is required");
    }
    r.previous_id = *prev;
  }

  // A retry of a submission already made is answered with the original, decided and logged then.
  absl::StatusOr<domain::Referral> original = store_.FindReferralByKey(caller.partner.id, r.idempotency_key);
  if (original.ok()) {
    if (!domain::SameSubmission(*original, r) || original->previous_id != r.previous_id) {
      return absl::AlreadyExistsError(
          "referral.idempotency_key: this key was already used for a different referral; choose a new key");
    }
    absl::StatusOr<v1::Referral> view = View(*original, caller.partner.id);
    if (!view.ok()) return view.status();
    *resp.mutable_referral() = *view;
    return std::optional<Submission>();
  }
  if (!absl::IsNotFound(original.status())) return original.status();

  // 2. The caller's side.
  if (!caller.partner.HasRole(v1::ROLE_REFERRER) && !IsReferOn(r.link)) {
    return absl::PermissionDeniedError(
        "the caller does not hold ROLE_REFERRER; a provider may only refer on from a referral it holds "
        "(previous_referral with link ONWARD, STEP_UP or STEP_DOWN)");
  }
  bool holds_subject = false;
  std::vector<domain::Referral> chain;  // previous, its previous, ...
  if (!r.previous_id.empty()) {
    absl::StatusOr<domain::Referral> prev = LoadForParty(r.previous_id, caller.partner.id, "referral.previous_referral");
    if (!prev.ok()) return prev.status();
    if (prev->subject_id != r.subject_id) {
      return absl::InvalidArgumentError("referral.subject: must be the child of the previous referral");
    }
    // Judged on the previous referral as the caller knows it.
    domain::ReferralState known = domain::VisibleTo(*prev, caller.partner.id).state;
    if (r.link == v1::REFERRAL_LINK_REDIRECT) {
      if (prev->referrer_id != caller.partner.id) {
        return absl::PermissionDeniedError("referral.previous_referral: only its referrer may follow a redirect");
      }
      if (known != v1::REFERRAL_STATE_DECLINED) {
        return absl::FailedPreconditionError(absl::StrCat("referral.previous_referral: referral is ",
                                                          domain::ReferralStateName(known),
                                                          "; only a declined referral is redirected"));
      }
    } else {
      if (prev->provider_id != caller.partner.id) {
        return absl::PermissionDeniedError("referral.previous_referral: only its provider may refer the child on");
      }
      if (known == v1::REFERRAL_STATE_SUBMITTED) {
        return absl::FailedPreconditionError(
            "referral.previous_referral: referral is SUBMITTED; it must be delivered (acknowledged) before the "
            "child is referred on");
      }
    }
    holds_subject = true;
    chain.push_back(*prev);
    while (!chain.back().previous_id.empty() && chain.size() < 10) {
      absl::StatusOr<domain::Referral> earlier = store_.GetReferral(chain.back().previous_id);
      if (!earlier.ok()) return earlier.status();
      chain.push_back(std::move(*earlier));
    }
  }
  absl::StatusOr<domain::Service> service = store_.GetService(*service_id);
  if (absl::IsNotFound(service.status())) {
    return absl::NotFoundError(absl::StrCat("referral.service: no service ", *service_id));
  }
  if (!service.ok()) return service.status();
  if (!holds_subject) {
    absl::StatusOr<store::SubjectRecord> held = store_.GetSubjectRecord(r.subject_id, caller.partner.id);
    if (absl::IsNotFound(held.status())) {
      return absl::NotFoundError(
          absl::StrCat("referral.subject: no subject ", r.subject_id, " held by partner ", caller.partner.id));
    }
    if (!held.ok()) return held.status();
  }
  if (!r.consent_id.empty()) {
    absl::StatusOr<domain::Consent> consent = store_.GetConsent(r.consent_id);
    if (absl::IsNotFound(consent.status()) || (consent.ok() && consent->subject_id != r.subject_id)) {
      return absl::NotFoundError(absl::StrCat("referral.consent: no consent ", r.consent_id, " about this subject"));
    }
    if (!consent.ok()) return consent.status();
  }
  if (!service->availability.accepting_referrals) {
    return absl::FailedPreconditionError(
        absl::StrCat("referral.service: service ", *service_id, " is closed to referrals"));
  }
  r.provider_id = service->provider_id;

  // 3. The sharing decision: every carried category, to the provider, under the referral's basis.
  auto decided = DecideFor(r, caller.partner.id, r.provider_id, v1::PURPOSE_REFERRAL, r.categories, true);
  if (!decided.ok()) return decided.status();
  const auto& [request, decision] = *decided;
  if (!decision.AllAllowed()) {
    // Nothing is stored but the refusal, logged before the caller is told.
    Submission refused;
    refused.events = {DecisionEvent(request, decision, "ReferralService/SubmitReferral")};
    refused.refusal = absl::PermissionDeniedError(
        absl::StrCat("referral.data_categories: sharing refused; nothing was sent: ", RefusalText(decision)));
    return refused;
  }

  // 4. Other open referrals of the child: each side is told of the other where the decision allows.
  std::vector<store::NewEvent> events = {DecisionEvent(request, decision, "ReferralService/SubmitReferral")};
  std::vector<store::InboxNotice> notices = {{r.provider_id, "", ""}};
  store::ReferralFilter same_child;
  same_child.subject_id = r.subject_id;
  same_child.open_only = true;
  same_child.not_provider_id = r.provider_id;  // a provider is not told about its own referrals
  absl::StatusOr<std::vector<domain::Referral>> others = store_.ListReferrals(same_child, "", 1000);
  if (!others.ok()) return others.status();
  for (const domain::Referral& other : *others) {
    if (!domain::IsOpen(other.state)) continue;
    if (other.referrer_id == r.referrer_id && other.idempotency_key == r.idempotency_key) continue;  // a retry
    if (other.provider_id != r.provider_id) {
      auto told_new = DecideFor(other, other.provider_id, r.provider_id, v1::PURPOSE_MULTI_AGENCY_PLANNING,
                                kNoticeCategories, false);
      if (!told_new.ok()) return told_new.status();
      events.push_back(DecisionEvent(told_new->first, told_new->second, "ReferralService/SubmitReferral concurrent"));
      if (told_new->second.AllAllowed()) {
        r.concurrent_service_ids.push_back(other.service_id);
      } else {
        r.concurrent_undisclosed++;
      }
      auto told_old = DecideFor(r, caller.partner.id, other.provider_id, v1::PURPOSE_MULTI_AGENCY_PLANNING,
                                kNoticeCategories, false);
      if (!told_old.ok()) return told_old.status();
      events.push_back(DecisionEvent(told_old->first, told_old->second, "ReferralService/SubmitReferral concurrent"));
      if (told_old->second.AllAllowed()) notices.push_back({other.provider_id, other.id, r.service_id});
    }
  }

  r.earlier = domain::CarriedHistory(r, chain);
  absl::Time now = NowMs();
  r.state = v1::REFERRAL_STATE_SUBMITTED;
  r.history = {domain::StateChange{v1::REFERRAL_STATE_SUBMITTED, caller.partner.id, now}};
  r.create_time = now;
  r.update_time = now;
  return Submission{std::move(r), std::move(events), std::move(notices), absl::OkStatus()};
}

// Reads -------------------------------------------------------------------------------------------

grpc::ServerUnaryReactor* ReferralService::GetReferral(grpc::CallbackServerContext* ctx,
                                                       const v1::GetReferralRequest* req,
                                                       v1::GetReferralResponse* resp) {
  return HandleUnary(ctx, auth_, kParties, "GetReferral", [&](const security::Caller& caller) -> absl::Status {
    absl::StatusOr<std::string> id = domain::ParseReferralName(req->name(), "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<domain::Referral> referral = LoadForParty(*id, caller.partner.id, "name");
    if (!referral.ok()) return referral.status();
    absl::StatusOr<v1::Referral> view = View(*referral, caller.partner.id);
    if (!view.ok()) return view.status();
    *resp->mutable_referral() = *view;
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralService::ListReferrals(grpc::CallbackServerContext* ctx,
                                                         const v1::ListReferralsRequest* req,
                                                         v1::ListReferralsResponse* resp) {
  return HandleUnary(ctx, auth_, kParties, "ListReferrals", [&](const security::Caller& caller) -> absl::Status {
    store::ReferralFilter filter;
    filter.party_id = caller.partner.id;
    switch (req->side()) {
      case v1::REFERRAL_SIDE_UNSPECIFIED: break;
      case v1::REFERRAL_SIDE_REFERRER: filter.as_provider = false; break;
      case v1::REFERRAL_SIDE_PROVIDER: filter.as_referrer = false; break;
      default: return absl::InvalidArgumentError("side: unknown value");
    }
    // The state filter applies to the state the caller sees (a withheld change does not show), so
    // it is applied to each view; a page may then hold fewer than page_size referrals.
    if (req->state() != v1::REFERRAL_STATE_UNSPECIFIED && !v1::ReferralState_IsValid(req->state())) {
      return absl::InvalidArgumentError("state: unknown value");
    }
    if (!req->service().empty()) {
      absl::StatusOr<std::string> service = domain::ParseServiceName(req->service(), "service");
      if (!service.ok()) return service.status();
      filter.service_id = *service;
    }
    if (!req->subject().empty()) {
      absl::StatusOr<std::string> subject = domain::ParseSubjectName(req->subject(), "subject");
      if (!subject.ok()) return subject.status();
      filter.subject_id = *subject;
    }
    absl::Status view_status;
    absl::Status s = ServePage(
        req->page_size(), req->page_token(), max_page_size_,
        [&](const std::string& before, int limit) { return store_.ListReferrals(filter, before, limit); },
        [&](const domain::Referral& r) {
          absl::StatusOr<v1::Referral> view = View(r, caller.partner.id);
          if (view.ok()) {
            if (req->state() == v1::REFERRAL_STATE_UNSPECIFIED || view->state() == req->state()) {
              *resp->add_referrals() = *view;
            }
          } else {
            view_status = view.status();
          }
        },
        resp->mutable_next_page_token());
    return s.ok() ? view_status : s;
  });
}

// State changes -------------------------------------------------------------------------------------

absl::StatusOr<v1::Referral> ReferralService::DoChange(const security::Caller& caller, const std::string& name,
                                                      domain::ReferralChange change, const char* method) {
  absl::StatusOr<std::string> id = domain::ParseReferralName(name, "name");
  if (!id.ok()) return id.status();
  change.actor_id = caller.partner.id;
  if (absl::Status s = domain::ValidateChange(change); !s.ok()) return s;
  absl::StatusOr<domain::Referral> referral = LoadForParty(*id, caller.partner.id, "name");
  if (!referral.ok()) return referral.status();
  if (change.decline && !change.decline->redirect_service_id.empty() &&
      change.decline->redirect_service_id != referral->service_id) {
    absl::StatusOr<domain::Service> redirect = store_.GetService(change.decline->redirect_service_id);
    if (absl::IsNotFound(redirect.status())) {
      return absl::NotFoundError(
          absl::StrCat("decline.redirect_service: no service ", change.decline->redirect_service_id));
    }
    if (!redirect.ok()) return redirect.status();
  }
  // Refused changes (side, state) are refused before anything is decided or logged.
  absl::Time now = NowMs();
  {
    domain::Referral trial = *referral;
    if (absl::Status s = domain::ApplyChange(trial, change, now); !s.ok()) return s;
  }
  domain::Sides sides = domain::SidesOf(*referral, caller.partner.id);
  const std::string& other = sides.provider ? referral->referrer_id : referral->provider_id;
  // Acknowledging delivery takes the referral into the provider's own system: a delivery, decided
  // again now on the referral's own basis.
  std::optional<std::pair<domain::SharingRequest, domain::Decision>> delivery;
  if (change.action == domain::ReferralAction::kAcknowledgeDelivery && other != caller.partner.id) {
    auto decided = DecideFor(*referral, other, caller.partner.id, v1::PURPOSE_REFERRAL, referral->categories, true);
    if (!decided.ok()) return decided.status();
    delivery = std::move(*decided);
    std::string request = absl::StrCat("ReferralService/", method, " ", domain::ReferralName(*id), " delivery");
    if (!delivery->second.AllAllowed()) {
      std::vector<store::NewEvent> refusal = {DecisionEvent(delivery->first, delivery->second, request)};
      absl::StatusOr<std::vector<uint64_t>> logged = store_.AppendEvents(std::move(refusal));
      if (!logged.ok()) return logged.status();
      return absl::PermissionDeniedError(
          absl::StrCat("name: sharing refused at delivery; the referral stays undelivered: ",
                       RefusalText(delivery->second)));
    }
  }
  std::optional<std::pair<domain::SharingRequest, domain::Decision>> notice;
  if (other != caller.partner.id) {
    auto decided = DecideFor(*referral, caller.partner.id, other, v1::PURPOSE_REFERRAL, kNoticeCategories, false);
    if (!decided.ok()) return decided.status();
    notice = std::move(*decided);
  }
  bool told = notice && notice->second.AllAllowed();
  std::string details = change.decline ? change.decline->text
                        : change.closure ? change.closure->text
                                         : change.withdraw_reason;
  absl::StatusOr<domain::Referral> updated = store_.UpdateReferral(
      *id,
      [&](domain::Referral& r) -> absl::Status {
        if (absl::Status s = domain::ApplyChange(r, change, now); !s.ok()) return s;
        if (notice && !told) r.history.back().withheld = true;
        return absl::OkStatus();
      },
      [&](const domain::Referral& r) {
        store::ReferralEffects effects;
        if (delivery) {
          effects.events.push_back(DecisionEvent(
              delivery->first, delivery->second,
              absl::StrCat("ReferralService/", method, " ", domain::ReferralName(r.id), " delivery")));
        }
        if (notice) {
          effects.events.push_back(DecisionEvent(
              notice->first, notice->second,
              absl::StrCat("ReferralService/", method, " ", domain::ReferralName(r.id), " ",
                           domain::ReferralStateName(r.state)),
              details));
        }
        if (told) effects.notify.push_back({other, "", ""});
        return effects;
      });
  if (!updated.ok()) return updated.status();
  if (told) waiters_.Notify({other});
  log::Info("referral_changed", {{"referral", *id}, {"by", caller.partner.id},
                                 {"state", std::string(domain::ReferralStateName(updated->state))},
                                 {"other_party_told", told ? "yes" : "no"}});
  return View(*updated, caller.partner.id);
}

namespace {

template <typename Resp>
absl::Status SetReferral(absl::StatusOr<v1::Referral> result, Resp* resp) {
  if (!result.ok()) return result.status();
  *resp->mutable_referral() = *result;
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ReferralService::WithdrawReferral(grpc::CallbackServerContext* ctx,
                                                            const v1::WithdrawReferralRequest* req,
                                                            v1::WithdrawReferralResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kReferrers, "WithdrawReferral", [=, this](const security::Caller& caller) {
    domain::ReferralChange change;
    change.action = domain::ReferralAction::kWithdraw;
    change.withdraw_reason = req->reason();
    return SetReferral(DoChange(caller, req->name(), change, "WithdrawReferral"), resp);
  });
}

grpc::ServerUnaryReactor* ReferralService::AcknowledgeDelivery(grpc::CallbackServerContext* ctx,
                                                               const v1::AcknowledgeDeliveryRequest* req,
                                                               v1::AcknowledgeDeliveryResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kProviders, "AcknowledgeDelivery",
                       [=, this](const security::Caller& caller) {
    domain::ReferralChange change;
    change.action = domain::ReferralAction::kAcknowledgeDelivery;
    return SetReferral(DoChange(caller, req->name(), change, "AcknowledgeDelivery"), resp);
  });
}

grpc::ServerUnaryReactor* ReferralService::AcceptReferral(grpc::CallbackServerContext* ctx,
                                                          const v1::AcceptReferralRequest* req,
                                                          v1::AcceptReferralResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kProviders, "AcceptReferral", [=, this](const security::Caller& caller) {
    domain::ReferralChange change;
    change.action = domain::ReferralAction::kAccept;
    return SetReferral(DoChange(caller, req->name(), change, "AcceptReferral"), resp);
  });
}

grpc::ServerUnaryReactor* ReferralService::DeclineReferral(grpc::CallbackServerContext* ctx,
                                                           const v1::DeclineReferralRequest* req,
                                                           v1::DeclineReferralResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kProviders, "DeclineReferral",
                       [=, this](const security::Caller& caller) -> absl::Status {
    domain::ReferralChange change;
    change.action = domain::ReferralAction::kDecline;
    if (req->has_decline()) {
      if (req->decline().redirect_case() == v1::Decline::kRedirectService) {
        auto id = domain::ParseServiceName(req->decline().redirect_service(), "decline.redirect_service");
        if (!id.ok()) return id.status();
      }
      change.decline = domain::DeclineFromProto(req->decline());
    }
    return SetReferral(DoChange(caller, req->name(), change, "DeclineReferral"), resp);
  });
}

grpc::ServerUnaryReactor* ReferralService::WaitlistReferral(grpc::CallbackServerContext* ctx,
                                                            const v1::WaitlistReferralRequest* req,
                                                            v1::WaitlistReferralResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kProviders, "WaitlistReferral", [=, this](const security::Caller& caller) {
    domain::ReferralChange change;
    change.action = domain::ReferralAction::kWaitlist;
    if (req->has_expected_wait()) change.expected_wait = domain::DurationFromProto(req->expected_wait());
    if (req->has_position()) change.waitlist_position = req->position();
    return SetReferral(DoChange(caller, req->name(), change, "WaitlistReferral"), resp);
  });
}

grpc::ServerUnaryReactor* ReferralService::StartSupport(grpc::CallbackServerContext* ctx,
                                                        const v1::StartSupportRequest* req,
                                                        v1::StartSupportResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kProviders, "StartSupport", [=, this](const security::Caller& caller) {
    domain::ReferralChange change;
    change.action = domain::ReferralAction::kStartSupport;
    return SetReferral(DoChange(caller, req->name(), change, "StartSupport"), resp);
  });
}

grpc::ServerUnaryReactor* ReferralService::CloseReferral(grpc::CallbackServerContext* ctx,
                                                         const v1::CloseReferralRequest* req,
                                                         v1::CloseReferralResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kProviders, "CloseReferral", [=, this](const security::Caller& caller) {
    domain::ReferralChange change;
    change.action = domain::ReferralAction::kClose;
    if (req->has_closure()) change.closure = domain::ClosureFromProto(req->closure());
    return SetReferral(DoChange(caller, req->name(), change, "CloseReferral"), resp);
  });
}

// Outcomes ---------------------------------------------------------------------------------------

grpc::ServerUnaryReactor* ReferralService::RecordOutcome(grpc::CallbackServerContext* ctx,
                                                         const v1::RecordOutcomeRequest* req,
                                                         v1::RecordOutcomeResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kProviders, "RecordOutcome",
                       [=, this](const security::Caller& caller) { return DoRecordOutcome(caller, *req, *resp); });
}

absl::Status ReferralService::DoRecordOutcome(const security::Caller& caller, const v1::RecordOutcomeRequest& req,
                                              v1::RecordOutcomeResponse& resp) {
  absl::StatusOr<std::string> id = domain::ParseReferralName(req.referral(), "referral");
  if (!id.ok()) return id.status();
  std::vector<domain::OutcomeValue> values;
  for (const v1::OutcomeValue& v : req.outcomes()) values.push_back(domain::OutcomeFromProto(v));
  if (absl::Status s = domain::ValidateOutcomes(values); !s.ok()) return s;
  absl::StatusOr<domain::Referral> referral = LoadForParty(*id, caller.partner.id, "referral");
  if (!referral.ok()) return referral.status();
  // Outcomes stay with the provider (only it reads them back) and leave the hub only as
  // anonymous aggregates, so recording them discloses nothing.
  absl::StatusOr<std::vector<store::RecordedOutcome>> all = store_.RecordOutcomes(
      *id,
      [&](const domain::Referral& r) {
        return domain::CheckRecordOutcome(r.state, domain::SidesOf(r, caller.partner.id));
      },
      values, nullptr);
  if (!all.ok()) return all.status();
  for (const store::RecordedOutcome& o : *all) {
    v1::OutcomeValue* value = resp.add_outcomes();
    *value = domain::OutcomeToProto(o.value);
    *value->mutable_record_time() = domain::TimeToProto(o.record_time);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ReferralService::GetOutcomeReport(grpc::CallbackServerContext* ctx,
                                                            const v1::GetOutcomeReportRequest* req,
                                                            v1::GetOutcomeReportResponse* resp) {
  return HandleUnary(ctx, auth_, kEveryone, "GetOutcomeReport", [&](const security::Caller&) -> absl::Status {
    absl::StatusOr<std::string> id = domain::ParseServiceName(req->service(), "service");
    if (!id.ok()) return id.status();
    absl::Time start = req->has_start_time() ? domain::TimeFromProto(req->start_time()) : absl::InfinitePast();
    absl::Time end = req->has_end_time() ? domain::TimeFromProto(req->end_time()) : absl::InfiniteFuture();
    if (end <= start) return absl::InvalidArgumentError("end_time: must be after start_time");
    absl::StatusOr<domain::Service> service = store_.GetService(*id);
    if (absl::IsNotFound(service.status())) return absl::NotFoundError(absl::StrCat("service: no service ", *id));
    if (!service.ok()) return service.status();
    absl::StatusOr<std::vector<domain::OutcomePair>> pairs = store_.OutcomePairs(*id, start, end);
    if (!pairs.ok()) return pairs.status();
    resp->set_service(req->service());
    resp->set_minimum_group_size(domain::kDefaultMinimumGroupSize);
    for (const domain::MeasureSummary& m : domain::AggregateOutcomes(*pairs)) {
      v1::MeasureSummary* out = resp->add_measures();
      out->set_measure(m.measure);
      out->set_paired_count(m.paired_count);
      out->set_start_only_count(m.start_only_count);
      out->set_close_only_count(m.close_only_count);
      out->set_suppressed(m.suppressed);
      out->mutable_means()->set_mean_start(m.means.mean_start);
      out->mutable_means()->set_mean_close(m.means.mean_close);
      out->mutable_means()->set_mean_change(m.means.mean_change);
      if (m.metric_means) {
        out->mutable_metric_means()->set_mean_start(m.metric_means->mean_start);
        out->mutable_metric_means()->set_mean_close(m.metric_means->mean_close);
        out->mutable_metric_means()->set_mean_change(m.metric_means->mean_change);
      }
      out->set_improved_count(m.improved_count);
      out->set_unchanged_count(m.unchanged_count);
      out->set_worsened_count(m.worsened_count);
      out->set_higher_is_better(m.higher_is_better);
    }
    return absl::OkStatus();
  });
}

// WatchInbox ---------------------------------------------------------------------------------------

absl::StatusOr<v1::WatchInboxResponse> ReferralService::DeliverFor(const domain::Partner& provider,
                                                                  const store::InboxItem& item) {
  return Deliver(security::Caller{provider, "outbox"}, item);
}

absl::StatusOr<v1::Referral> ReferralService::ChangeFor(const domain::Partner& provider,
                                                        const std::string& referral_name,
                                                        domain::ReferralChange change, const char* method) {
  return DoChange(security::Caller{provider, "outbox"}, referral_name, std::move(change), method);
}

absl::StatusOr<v1::WatchInboxResponse> ReferralService::Deliver(const security::Caller& caller,
                                                               const store::InboxItem& item) {
  absl::StatusOr<Delivery> delivery = PrepareDelivery(caller, item);
  if (!delivery.ok()) return delivery.status();
  if (!delivery->events.empty()) {
    absl::StatusOr<std::vector<uint64_t>> logged = store_.AppendEvents(std::move(delivery->events));
    if (!logged.ok()) return DeliveryNotLogged(logged.status());
  }
  return std::move(delivery->message);
}

void ReferralService::DeliverLater(const security::Caller& caller, std::vector<store::InboxItem> items,
                                   std::function<void(absl::StatusOr<std::vector<Delivered>>)> done) {
  auto delivered = std::make_shared<std::vector<Delivered>>();
  std::vector<store::NewEvent> events;
  for (const store::InboxItem& item : items) {
    absl::StatusOr<Delivery> delivery = PrepareDelivery(caller, item);
    if (!delivery.ok()) {
      if (delivered->empty()) return done(delivery.status());
      break;  // the items before it go; it fails again when the stream reaches it
    }
    for (store::NewEvent& e : delivery->events) events.push_back(std::move(e));
    delivered->push_back({item.sequence, std::move(delivery->message)});
  }
  if (events.empty()) return done(std::move(*delivered));
  store_.AppendEventsLater(std::move(events),
                           [delivered, done = std::move(done)](absl::StatusOr<std::vector<uint64_t>> logged) {
                             if (!logged.ok()) return done(DeliveryNotLogged(logged.status()));
                             done(std::move(*delivered));
                           });
}

absl::Status ReferralService::DeliveryNotLogged(const absl::Status& why) {
  return absl::UnavailableError(absl::StrCat("a delivery could not be logged, so nothing was sent: ", why.message()));
}

absl::StatusOr<ReferralService::Delivery> ReferralService::PrepareDelivery(const security::Caller& caller,
                                                                           const store::InboxItem& item) {
  Delivery delivery;
  v1::WatchInboxResponse& out = delivery.message;
  auto snapshot = store_.SnapshotReads();  // only reads here; the caller logs
  out.set_cursor(Cursor(item.sequence));
  out.set_state(item.state);
  *out.mutable_time() = domain::TimeToProto(item.time);
  absl::StatusOr<domain::Referral> referral = store_.GetReferral(item.referral_id);
  if (!referral.ok()) return referral.status();
  const std::string& me = caller.partner.id;
  domain::Sides sides = domain::SidesOf(*referral, me);
  auto withhold = [&](const std::string& why) {
    out.mutable_referral()->set_name(domain::ReferralName(referral->id));
    out.mutable_referral()->set_state(item.state);
    out.set_withheld_reason(why);
    return std::move(delivery);
  };

  std::optional<std::pair<domain::SharingRequest, domain::Decision>> decided;
  std::string request = absl::StrCat("ReferralService/WatchInbox ", domain::ReferralName(referral->id), " ",
                                     domain::ReferralStateName(item.state));
  if (!item.concurrent_service_id.empty()) {
    absl::StatusOr<domain::Service> other = store_.GetService(item.concurrent_service_id);
    if (!other.ok()) return other.status();
    auto d = DecideFor(*referral, other->provider_id, me, v1::PURPOSE_MULTI_AGENCY_PLANNING, kNoticeCategories, false);
    if (!d.ok()) return d.status();
    decided = std::move(*d);
    absl::StrAppend(&request, " concurrent");
  } else {
    bool delivery = item.state == v1::REFERRAL_STATE_SUBMITTED && sides.provider;
    if (delivery && referral->state == v1::REFERRAL_STATE_WITHDRAWN) {
      return withhold("the referrer withdrew the referral before it was delivered");
    }
    const std::string& other = sides.provider ? referral->referrer_id : referral->provider_id;
    if (other != me) {
      auto d = delivery ? DecideFor(*referral, other, me, v1::PURPOSE_REFERRAL, referral->categories, true)
                        : DecideFor(*referral, other, me, v1::PURPOSE_REFERRAL, kNoticeCategories, false);
      if (!d.ok()) return d.status();
      decided = std::move(*d);
    }
  }
  if (decided) {
    // Logged (by the caller) before anything of it is sent, withheld or not.
    delivery.events = {DecisionEvent(decided->first, decided->second, request)};
    if (!decided->second.AllAllowed()) {
      return withhold(absl::StrCat("sharing refused at delivery: ", RefusalText(decided->second)));
    }
  }
  bool delivering = item.concurrent_service_id.empty() && item.state == v1::REFERRAL_STATE_SUBMITTED;
  absl::StatusOr<v1::Referral> view = View(*referral, me, delivering);
  if (!view.ok()) return view.status();
  *out.mutable_referral() = *view;
  if (!item.concurrent_service_id.empty()) {
    out.mutable_concurrent()->add_services(domain::ServiceName(item.concurrent_service_id));
    out.mutable_concurrent()->set_suggestion(kLeadProfessionalSuggestion);
  }
  return delivery;
}

// One partner's inbox as a stream: items after the cursor, then new ones as InboxWaiters wakes it.
// Per-call state is guarded by mu_; a write is in flight at most once; the call finishes exactly
// once (finished_). The reactor is reference counted: gRPC's reference is dropped in OnDone, a
// waking writer holds one while it calls Wake.
class ReferralService::InboxReactor final : public grpc::ServerWriteReactor<v1::WatchInboxResponse>,
                                             public InboxWaiters::Waiter {
 public:
  InboxReactor(ReferralService& service, grpc::CallbackServerContext* ctx, const v1::WatchInboxRequest& req)
      : service_(service) {
    absl::StatusOr<security::Caller> caller = service_.auth_.Authenticate(*ctx->auth_context());
    absl::Status status = caller.ok() ? security::RequireRole(*caller, kParties) : caller.status();
    absl::StatusOr<int64_t> cursor = status.ok() ? ParseCursor(req.cursor()) : absl::StatusOr<int64_t>(status);
    if (!cursor.ok()) {
      log::Info("rpc_refused", {{"method", "WatchInbox"},
                                {"caller", caller.ok() ? caller->partner.id : std::string("-")},
                                {"code", absl::StatusCodeToString(cursor.status().code())},
                                {"message", std::string(cursor.status().message())}});
      {
        absl::MutexLock lock(&mu_);
        finished_ = true;
      }
      Finish(ToGrpc(cursor.status()));
      return;
    }
    caller_ = *caller;
    {
      absl::MutexLock lock(&mu_);
      cursor_ = *cursor;
    }
    service_.waiters_.Add(caller_.partner.id, this);
    registered_ = true;
    Pump();
  }

  void Ref() override { refs_.fetch_add(1); }
  void Unref() override {
    if (refs_.fetch_sub(1) == 1) delete this;
  }
  void Wake() override { Pump(); }
  void Close() override {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      closing_ = true;
      if (writing_ || delivering_) return;  // OnWriteDone or OnDelivered finishes
      finished_ = true;
    }
    Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the hub is shutting down; reconnect with your cursor"));
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        if (finished_) return;
        finished_ = true;
      }
    }
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "inbox stream cancelled"));
      return;
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (finished_ || writing_ || delivering_) return;  // OnWriteDone or OnDelivered finishes
      finished_ = true;
    }
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "inbox stream cancelled"));
  }

  void OnDone() override {
    if (registered_) service_.waiters_.Remove(caller_.partner.id, this);
    Unref();
  }

 private:
  // Sends the next decided item; when none is left, decides the next few from the buffer (reading
  // the store when it is empty) — unless a delivery or write is in flight. Called from the
  // constructor, after each write, and when woken. The items' decisions are made durable in the
  // log together, without holding this thread; OnDelivered then sends them in order.
  void Pump() {
    std::vector<store::InboxItem> next;
    absl::Status failure;
    bool send = false;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || delivering_ || finished_) return;
      if (cancelled_) {
        finished_ = true;
        failure = absl::CancelledError("inbox stream cancelled");
      } else if (closing_) {
        finished_ = true;
        failure = absl::UnavailableError("the hub is shutting down; reconnect with your cursor");
      } else if (!ready_.empty()) {
        TakeNextLocked();
        send = true;
      } else {
        if (buffer_.empty()) {
          absl::StatusOr<std::vector<store::InboxItem>> items =
              service_.store_.ReadInbox(caller_.partner.id, cursor_, 50);
          if (!items.ok()) {
            failure = items.status();
            finished_ = true;
          } else if (items->empty()) {
            return;  // idle until woken
          } else {
            buffer_.assign(items->begin(), items->end());
          }
        }
        while (!finished_ && !buffer_.empty() && next.size() < kDecidedTogether) {
          next.push_back(std::move(buffer_.front()));
          buffer_.pop_front();
        }
        if (!next.empty()) delivering_ = true;
      }
    }
    if (send) {
      StartWrite(&message_);
      return;
    }
    if (next.empty()) {
      Finish(ToGrpc(failure));
      return;
    }
    Ref();  // held until the delivery completes
    const size_t requested = next.size();
    service_.DeliverLater(caller_, std::move(next),
                          [this, requested](absl::StatusOr<std::vector<Delivered>> delivered) {
                            OnDelivered(requested, std::move(delivered));
                            Unref();
                          });
  }

  void OnDelivered(size_t requested, absl::StatusOr<std::vector<Delivered>> delivered) {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      delivering_ = false;
      if (finished_) return;
      if (!delivered.ok() || cancelled_) {
        finished_ = finish = true;
      } else {
        // An item left out (it could not be decided) is read again from the store once the ones
        // before it are sent, and fails the stream then.
        if (delivered->size() < requested) buffer_.clear();
        for (Delivered& d : *delivered) ready_.push_back(std::move(d));
      }
    }
    if (!finish) {
      Pump();  // sends the first of them (or ends a stream closed meanwhile)
    } else if (!delivered.ok()) {
      Finish(ToGrpc(delivered.status()));
    } else {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "inbox stream cancelled"));
    }
  }

  // Makes the next decided item the message to write (the caller starts the write, unlocked).
  void TakeNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    cursor_ = ready_.front().sequence;
    message_ = std::move(ready_.front().message);
    ready_.pop_front();
    writing_ = true;
  }

  // How many inbox items one stream decides and logs together.
  static constexpr size_t kDecidedTogether = 16;

  ReferralService& service_;
  security::Caller caller_;
  bool registered_ = false;
  std::atomic<int> refs_{1};
  absl::Mutex mu_;
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<store::InboxItem> buffer_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;  // items' decisions are being logged
  std::deque<Delivered> ready_ ABSL_GUARDED_BY(mu_);  // decided and logged, not yet sent
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  v1::WatchInboxResponse message_;
};

grpc::ServerWriteReactor<v1::WatchInboxResponse>* ReferralService::WatchInbox(grpc::CallbackServerContext* ctx,
                                                                             const v1::WatchInboxRequest* req) {
  return new InboxReactor(*this, ctx, *req);
}

}  // namespace accord::server
