#include "hub/server/consent_service.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hub/audit/consent_receipt.h"
#include "hub/domain/decision.h"
#include "hub/domain/validation.h"
#include "hub/log/log.h"
#include "hub/server/sharing.h"
#include "hub/server/unary.h"

namespace accord::server {
namespace {

const std::initializer_list<domain::Role> kHolders = {v1::ROLE_REFERRER, v1::ROLE_PROVIDER};
const std::initializer_list<domain::Role> kCheckers = {v1::ROLE_REFERRER, v1::ROLE_PROVIDER, v1::ROLE_DPO};

// The sharing-log line for a change to a consent; `details` (evidence, reasons) are sealed.
store::NewEvent ConsentEvent(v1::EventKind kind, const security::Caller& caller, const domain::Consent& c,
                             const std::string& details, const char* request) {
  store::NewEvent e;
  e.subject_id = c.subject_id;
  e.details = details;
  e.event.set_kind(kind);
  e.event.set_actor(domain::PartnerName(caller.partner.id));
  e.event.set_subject(domain::SubjectName(c.subject_id));
  e.event.set_basis(v1::BASIS_NONE);
  e.event.add_consents(domain::ConsentName(c.id));
  e.event.set_request(request);
  return e;
}

}  // namespace

ConsentService::ConsentService(store::Store& store, const security::Authenticator& auth, Workers& workers,
                               audit::SigningKey signing_key)
    : store_(store), auth_(auth), workers_(workers), signing_key_(std::move(signing_key)) {}

absl::Status ConsentService::RequireHolder(const std::string& subject_id, const std::string& partner_id,
                                           absl::string_view field) {
  absl::StatusOr<store::SubjectRecord> held = store_.GetSubjectRecord(subject_id, partner_id);
  if (absl::IsNotFound(held.status())) {
    return absl::NotFoundError(absl::StrCat(field, ": no subject ", subject_id, " held by partner ", partner_id));
  }
  return held.status();
}

grpc::ServerUnaryReactor* ConsentService::RecordConsent(grpc::CallbackServerContext* ctx,
                                                        const v1::RecordConsentRequest* req,
                                                        v1::RecordConsentResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kHolders, "RecordConsent",
                       [=, this](const security::Caller& caller) { return DoRecord(caller, *req, *resp); });
}

absl::Status ConsentService::DoRecord(const security::Caller& caller, const v1::RecordConsentRequest& req,
                                      v1::RecordConsentResponse& resp) {
  absl::StatusOr<domain::Consent> consent = FromProto(req.consent());
  if (!consent.ok()) return consent.status();
  absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));  // stored at ms precision
  if (!req.consent().has_valid_from()) consent->valid_from = now;
  consent->recorded_by = caller.partner.id;
  consent->create_time = now;
  if (absl::Status s = domain::ValidateConsent(*consent); !s.ok()) return s;
  if (absl::Status s = RequireHolder(consent->subject_id, caller.partner.id, "consent.subject"); !s.ok()) return s;
  for (size_t i = 0; i < consent->recipients.size(); ++i) {
    const domain::Party& party = consent->recipients[i];
    if (!party.IsPartner()) continue;
    absl::StatusOr<domain::Partner> p = store_.GetPartner(party.partner_id);
    if (absl::IsNotFound(p.status())) {
      return absl::NotFoundError(absl::StrCat("consent.recipients[", i, "].partner: no partner ", party.partner_id));
    }
    if (!p.ok()) return p.status();
  }
  absl::StatusOr<domain::Consent> stored = store_.CreateConsent(*consent, [&](const domain::Consent& c) {
    return std::vector<store::NewEvent>{
        ConsentEvent(v1::EVENT_KIND_CONSENT_RECORDED, caller, c, c.evidence, "ConsentService/RecordConsent")};
  });
  if (!stored.ok()) return stored.status();

  v1::ConsentReceiptPayload payload;
  *payload.mutable_consent() = ToProto(*stored, now);
  payload.set_recorder_display_name(caller.partner.display_name);
  *payload.mutable_issue_time() = ToProto(now);
  absl::StatusOr<v1::ConsentReceipt> receipt = audit::SignConsentReceipt(payload, signing_key_);
  if (!receipt.ok()) return receipt.status();
  *resp.mutable_consent() = payload.consent();
  *resp.mutable_receipt() = *receipt;
  log::Info("consent_recorded", {{"consent", stored->id}, {"by", caller.partner.id}});
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ConsentService::WithdrawConsent(grpc::CallbackServerContext* ctx,
                                                          const v1::WithdrawConsentRequest* req,
                                                          v1::WithdrawConsentResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kHolders, "WithdrawConsent",
                       [=, this](const security::Caller& caller) { return DoWithdraw(caller, *req, *resp); });
}

absl::Status ConsentService::DoWithdraw(const security::Caller& caller, const v1::WithdrawConsentRequest& req,
                                        v1::WithdrawConsentResponse& resp) {
  absl::StatusOr<std::string> id = domain::ParseConsentName(req.name(), "name");
  if (!id.ok()) return id.status();
  if (absl::Status s = domain::ValidateReason(req.reason(), "reason"); !s.ok()) return s;
  absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  absl::StatusOr<domain::Consent> withdrawn =
      store_.UpdateConsent(*id, [&](domain::Consent& consent) -> absl::Status {
        if (consent.recorded_by != caller.partner.id) {
          return absl::PermissionDeniedError(absl::StrCat("name: consent ", *id, " was recorded by partner ",
                                                          consent.recorded_by, "; only it may withdraw it"));
        }
        return domain::WithdrawConsent(consent, now);
      },
      [&](const domain::Consent& c) {
        return std::vector<store::NewEvent>{
            ConsentEvent(v1::EVENT_KIND_CONSENT_WITHDRAWN, caller, c, req.reason(), "ConsentService/WithdrawConsent")};
      });
  if (!withdrawn.ok()) return withdrawn.status();
  *resp.mutable_consent() = ToProto(*withdrawn, now);
  log::Info("consent_withdrawn", {{"consent", *id}, {"by", caller.partner.id}, {"reason", req.reason()}});
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ConsentService::ListConsents(grpc::CallbackServerContext* ctx,
                                                       const v1::ListConsentsRequest* req,
                                                       v1::ListConsentsResponse* resp) {
  return HandleUnary(ctx, auth_, kHolders, "ListConsents", [&](const security::Caller& caller) -> absl::Status {
    absl::StatusOr<std::string> subject = domain::ParseSubjectName(req->subject(), "subject");
    if (!subject.ok()) return subject.status();
    if (absl::Status s = RequireHolder(*subject, caller.partner.id, "subject"); !s.ok()) return s;
    absl::StatusOr<std::vector<domain::Consent>> consents = store_.ListConsents(*subject);
    if (!consents.ok()) return consents.status();
    absl::Time now = absl::Now();
    for (const domain::Consent& c : *consents) *resp->add_consents() = ToProto(c, now);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ConsentService::CheckSharing(grpc::CallbackServerContext* ctx,
                                                       const v1::CheckSharingRequest* req,
                                                       v1::CheckSharingResponse* resp) {
  auto snapshot = store_.SnapshotReads();  // the caller's identity and the decision's facts, read together
  return HandleUnary(ctx, auth_, kCheckers, "CheckSharing",
                     [&](const security::Caller& caller) { return DoCheck(caller, *req, *resp); });
}

absl::Status ConsentService::DoCheck(const security::Caller& caller, const v1::CheckSharingRequest& req,
                                     v1::CheckSharingResponse& resp) {
  absl::StatusOr<std::string> subject = domain::ParseSubjectName(req.subject(), "subject");
  if (!subject.ok()) return subject.status();
  domain::SharingRequest request;
  request.subject_id = *subject;
  request.purpose = req.purpose();
  if (absl::Status s = domain::ValidatePurpose(request.purpose); !s.ok()) return s;
  for (int c : req.data_categories()) request.categories.push_back(static_cast<domain::DataCategory>(c));
  if (absl::Status s = domain::ValidateCategories(request.categories); !s.ok()) return s;
  if (req.has_lawful_basis()) {
    if (req.lawful_basis().kind() != v1::LAWFUL_BASIS_KIND_SAFEGUARDING) {
      return absl::InvalidArgumentError("lawful_basis.kind: SAFEGUARDING is the only basis other than consent");
    }
    if (absl::StripAsciiWhitespace(req.lawful_basis().justification()).empty()) {
      return absl::InvalidArgumentError("lawful_basis.justification: a written justification is required");
    }
    request.lawful_basis = domain::LawfulBasis{domain::LawfulBasisKind::kSafeguarding,
                                               req.lawful_basis().justification()};
  }
  if (req.discloser().empty()) {
    request.discloser = caller.partner;
  } else {
    absl::StatusOr<domain::Partner> discloser = PartnerNamed(store_, req.discloser(), "discloser");
    if (!discloser.ok()) return discloser.status();
    request.discloser = *discloser;
  }
  absl::StatusOr<domain::Partner> recipient = PartnerNamed(store_, req.recipient(), "recipient");
  if (!recipient.ok()) return recipient.status();
  request.recipient = *recipient;

  // A DPO may check any sharing; anyone else only sharing about a subject it holds, to or from itself.
  if (!caller.partner.HasRole(v1::ROLE_DPO)) {
    if (request.discloser.id != caller.partner.id && request.recipient.id != caller.partner.id) {
      return absl::PermissionDeniedError("discloser: a partner may only check sharing it would send or receive");
    }
    if (absl::Status s = RequireHolder(*subject, caller.partner.id, "subject"); !s.ok()) return s;
  }
  absl::StatusOr<std::vector<domain::SharingAgreement>> agreements = AllAgreements(store_);
  if (!agreements.ok()) return agreements.status();
  absl::StatusOr<std::vector<domain::Consent>> consents = store_.ListConsents(*subject);
  if (!consents.ok()) return consents.status();
  request.time = absl::Now();
  domain::Decision decision = domain::Decide(request, *agreements, *consents);
  for (const domain::CategoryDecision& d : decision.categories) {
    v1::CategoryDecision* out = resp.add_decisions();
    out->set_data_category(d.category);
    out->set_allowed(d.allowed);
    out->set_reason_code(std::string(domain::ReasonCodeName(d.reason.code)));
    if (!d.reason.agreement_id.empty()) out->set_sharing_agreement(domain::AgreementName(d.reason.agreement_id));
    if (!d.reason.consent_id.empty()) out->set_consent(domain::ConsentName(d.reason.consent_id));
    out->set_reason(d.reason.text);
  }
  resp.set_dpo_alert(decision.dpo_alert);
  return absl::OkStatus();
}

}  // namespace accord::server
