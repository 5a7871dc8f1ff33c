#include "hub/server/record_service.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hub/domain/records.h"
#include "hub/domain/validation.h"
#include "hub/log/log.h"
#include "hub/server/sharing.h"
#include "hub/server/unary.h"

namespace accord::server {
namespace {

const std::initializer_list<domain::Role> kRequesters = {v1::ROLE_REFERRER, v1::ROLE_PROVIDER};
// The longest a request waits for the holders' systems when the caller set no deadline.
constexpr absl::Duration kDefaultDeadline = absl::Seconds(30);

void SetOutcome(v1::HolderRecords& out, domain::DataCategory category, v1::CategoryStatus status,
                std::string reason_code, std::string reason) {
  v1::CategoryOutcome* o = out.add_outcomes();
  o->set_data_category(category);
  o->set_status(status);
  o->set_reason_code(std::move(reason_code));
  o->set_reason(std::move(reason));
}

}  // namespace

RecordService::RecordService(store::Store& store, const security::Authenticator& auth, Workers& workers,
                             const plugins::Adapters& adapters)
    : store_(store), auth_(auth), workers_(workers), adapters_(adapters) {}

grpc::ServerUnaryReactor* RecordService::RequestRecords(grpc::CallbackServerContext* ctx,
                                                        const v1::RequestRecordsRequest* req,
                                                        v1::RequestRecordsResponse* resp) {
  // The caller's identity and everything the decisions rest on are read together, in one state
  // of the store; Plan ends the snapshot.
  std::unique_ptr<store::Store::ReadSnapshot> snapshot = store_.SnapshotReads();
  return HandleUnaryLater(ctx, auth_, kRequesters, "RequestRecords",
                          [&](const security::Caller& caller, Finish finish) {
    absl::StatusOr<Plan> plan = MakePlan(*ctx, caller, *req, snapshot);
    if (!plan.ok()) return finish(plan.status());
    const bool waits = std::any_of(plan->parts.begin(), plan->parts.end(),
                                   [](const HolderPart& p) { return p.adapter != nullptr && p.adapter->Waits(); });
    auto fetch_and_answer = [this, ctx, resp, finish, plan = std::move(*plan)] {
      std::vector<store::NewEvent> events = Fetch(plan, *resp);
      // A call the caller gave up on discloses nothing and is not logged as a disclosure.
      if (ctx->IsCancelled()) {
        resp->Clear();
        return finish(absl::CancelledError("the call was cancelled before the records were sent"));
      }
      if (events.empty()) return finish(absl::OkStatus());
      // Durable before anything is sent (invariant 1); on failure nothing is sent.
      store_.AppendEventsLater(std::move(events), [resp, finish](absl::StatusOr<std::vector<uint64_t>> logged) {
        if (!logged.ok()) resp->Clear();
        finish(logged.status());
      });
    };
    // A holder's isolated host may take up to its call cap to answer: those calls are made on the
    // worker threads, so that a slow or hung record system never holds one of gRPC's few callback
    // threads (and with them every other call to the hub).
    if (waits) {
      workers_.Post(std::move(fetch_and_answer));
    } else {
      fetch_and_answer();
    }
  });
}

absl::StatusOr<RecordService::Plan> RecordService::MakePlan(grpc::CallbackServerContext& ctx,
                                                            const security::Caller& caller,
                                                            const v1::RequestRecordsRequest& req,
                                                            std::unique_ptr<store::Store::ReadSnapshot>& snapshot) {
  absl::StatusOr<std::string> subject = domain::ParseSubjectName(req.subject(), "subject");
  if (!subject.ok()) return subject.status();
  if (absl::Status s = domain::ValidatePurpose(req.purpose()); !s.ok()) return s;
  std::vector<domain::DataCategory> categories;
  for (int c : req.data_categories()) categories.push_back(static_cast<domain::DataCategory>(c));
  if (absl::Status s = domain::ValidateCategories(categories); !s.ok()) return s;
  absl::StatusOr<std::vector<store::SubjectRecord>> holders = store_.ListSubjectHolders(*subject);
  if (!holders.ok()) return holders.status();
  if (std::none_of(holders->begin(), holders->end(),
                   [&](const store::SubjectRecord& h) { return h.partner_id == caller.partner.id; })) {
    return absl::NotFoundError(absl::StrCat("subject: no subject ", *subject, " held by this partner"));
  }
  absl::StatusOr<std::vector<domain::SharingAgreement>> agreements = AllAgreements(store_);
  if (!agreements.ok()) return agreements.status();
  absl::StatusOr<std::vector<domain::Consent>> consents = store_.ListConsents(*subject);
  if (!consents.ok()) return consents.status();
  Plan plan;
  for (const store::SubjectRecord& holder : *holders) {
    if (holder.partner_id == caller.partner.id) continue;
    absl::StatusOr<domain::Partner> discloser = store_.GetPartner(holder.partner_id);
    if (!discloser.ok()) return discloser.status();
    HolderPart& part = plan.parts.emplace_back();
    part.holder = holder;
    part.request.discloser = std::move(*discloser);
    part.request.recipient = caller.partner;
    part.request.subject_id = *subject;
    part.request.purpose = req.purpose();
    part.request.categories = categories;
  }
  snapshot.reset();

  const absl::Time now = absl::Now();
  plan.purpose = req.purpose();
  plan.deadline = std::min(absl::FromChrono(ctx.deadline()), now + kDefaultDeadline);
  plan.rpc = absl::StrCat("RecordService/RequestRecords ", caller.partner.id, " ", absl::ToUnixMicros(now));
  for (HolderPart& part : plan.parts) {
    part.request.time = now;
    part.decision = domain::Decide(part.request, *agreements, *consents);
    for (const domain::CategoryDecision& d : part.decision.categories) {
      if (d.allowed) part.allowed.insert(d.category);
    }
    if (!part.allowed.empty()) part.adapter = adapters_.Find(part.holder.partner_id);
  }
  return plan;
}

std::vector<store::NewEvent> RecordService::Fetch(const Plan& plan, v1::RequestRecordsResponse& resp) {
  std::vector<store::NewEvent> events;
  for (const HolderPart& part : plan.parts) {
    const store::SubjectRecord& holder = part.holder;
    v1::HolderRecords& out = *resp.add_holders();
    out.set_holder(domain::PartnerName(holder.partner_id));
    // Fetch only what is allowed; a holder that cannot answer discloses nothing.
    bool fetched = false;
    std::string unavailable_code, unavailable_reason;
    if (!part.allowed.empty()) {
      if (part.adapter == nullptr) {
        unavailable_code = "NO_PLUGIN";
        unavailable_reason = absl::StrCat("partner ", holder.partner_id, "'s record system is not connected to the hub");
      } else {
        plugin::v1::FetchRecordsRequest fetch;
        fetch.set_local_id(holder.local_id);
        for (domain::DataCategory c : part.allowed) fetch.add_data_categories(c);
        fetch.set_purpose(plan.purpose);
        fetch.set_request_id(plan.rpc);
        absl::StatusOr<plugin::v1::FetchRecordsResponse> got = plugins::Call<plugin::v1::FetchRecordsResponse>(
            *part.adapter, plugin::v1::METHOD_FETCH_RECORDS, fetch, plan.deadline);
        if (got.ok()) {
          int dropped = domain::KeepAllowedRecords(part.allowed, got->mutable_records());
          if (dropped > 0) {
            log::Warning("plugin_records_dropped", {{"partner", holder.partner_id},
                                                 {"dropped", dropped},
                                                 {"why", "not of an allowed category, or content not of its category"}});
          }
          *out.mutable_records() = std::move(*got->mutable_records());
          fetched = true;
        } else {
          unavailable_code = absl::StrCat("PLUGIN_", absl::StatusCodeToString(got.status().code()));
          unavailable_reason = std::string(got.status().message());
          log::Warning("plugin_call_failed", {{"partner", holder.partner_id},
                                           {"code", absl::StatusCodeToString(got.status().code())},
                                           {"message", unavailable_reason}});
        }
      }
    }
    for (const domain::CategoryDecision& d : part.decision.categories) {
      if (!d.allowed) {
        SetOutcome(out, d.category, v1::CATEGORY_STATUS_REFUSED, std::string(domain::ReasonCodeName(d.reason.code)),
                   d.reason.text);
      } else if (fetched) {
        SetOutcome(out, d.category, v1::CATEGORY_STATUS_RETURNED, std::string(domain::ReasonCodeName(d.reason.code)),
                   d.reason.text);
      } else {
        SetOutcome(out, d.category, v1::CATEGORY_STATUS_UNAVAILABLE, unavailable_code, unavailable_reason);
      }
    }
    for (store::NewEvent& e : PartialDecisionEvents(part.request, part.decision, fetched, plan.rpc)) {
      events.push_back(std::move(e));
    }
  }
  return events;
}

}  // namespace accord::server
