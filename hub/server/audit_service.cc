#include "hub/server/audit_service.h"

#include <deque>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hub/domain/validation.h"
#include "hub/log/log.h"
#include "hub/server/unary.h"

namespace accord::server {
namespace {

const std::initializer_list<domain::Role> kDpo = {v1::ROLE_DPO};

std::string Bytes(const audit::Hash& h) { return std::string(reinterpret_cast<const char*>(h.data()), h.size()); }

v1::LoggedEvent ToLogged(const store::StoredEvent& stored) {
  v1::LoggedEvent out;
  out.mutable_event()->ParseFromString(stored.record);
  if (stored.details) out.mutable_details()->set_text(*stored.details);
  out.set_details_erased(stored.details_erased);
  return out;
}

// Optional "partners/{id}" filters: empty stays empty.
absl::StatusOr<std::string> OptionalPartner(const std::string& name, absl::string_view field) {
  if (name.empty()) return std::string();
  return domain::ParsePartnerName(name, field);
}

}  // namespace

AuditService::AuditService(store::Store& store, const security::Authenticator& auth, Workers& workers,
                           audit::SigningKey signing_key, int max_page_size)
    : store_(store),
      auth_(auth),
      workers_(workers),
      signing_key_(std::move(signing_key)),
      max_page_size_(max_page_size) {}

absl::Status AuditService::LogRead(const security::Caller& caller, const char* method, const std::string& subject_id) {
  store::NewEvent e;
  e.subject_id = subject_id;
  e.event.set_kind(v1::EVENT_KIND_LOG_READ);
  e.event.set_actor(domain::PartnerName(caller.partner.id));
  if (!subject_id.empty()) e.event.set_subject(domain::SubjectName(subject_id));
  e.event.set_basis(v1::BASIS_NONE);
  e.event.set_request(absl::StrCat("AuditService/", method));
  std::vector<store::NewEvent> events;
  events.push_back(std::move(e));
  absl::StatusOr<std::vector<uint64_t>> appended = store_.AppendEvents(std::move(events));
  if (!appended.ok()) {
    return absl::UnavailableError(absl::StrCat("the read could not be logged, so nothing is shown: ",
                                               appended.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::SignedTreeHead> AuditService::SignCurrentHead(uint64_t* size_out) {
  absl::StatusOr<uint64_t> size = store_.LogSize();
  if (!size.ok()) return size.status();
  absl::StatusOr<audit::Hash> root = audit::RootHash(store_.LogHashes(), *size);
  if (!root.ok()) return root.status();
  absl::StatusOr<audit::SignedTreeHead> signed_head =
      audit::SignTreeHead(audit::TreeHead{*size, *root, absl::Now()}, signing_key_);
  if (!signed_head.ok()) return signed_head.status();
  if (absl::Status s = store_.SaveTreeHead(*signed_head); !s.ok()) return s;
  absl::StatusOr<audit::VerifyingKey> pub = signing_key_.PublicKey();
  if (!pub.ok()) return pub.status();
  absl::StatusOr<std::string> key_id = pub->KeyId();
  if (!key_id.ok()) return key_id.status();
  v1::SignedTreeHead out;
  out.set_tree_size(signed_head->head.tree_size);
  out.set_root_hash(Bytes(signed_head->head.root_hash));
  out.mutable_time()->set_seconds(absl::ToUnixSeconds(signed_head->head.timestamp));
  out.mutable_time()->set_nanos(static_cast<int32_t>(absl::ToUnixMillis(signed_head->head.timestamp) % 1000 * 1000000));
  out.set_signature(signed_head->signature);
  out.set_key_id(*key_id);
  if (size_out) *size_out = *size;
  return out;
}

grpc::ServerUnaryReactor* AuditService::QueryEvents(grpc::CallbackServerContext* ctx,
                                                    const v1::QueryEventsRequest* req,
                                                    v1::QueryEventsResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kDpo, "QueryEvents",
                       [=, this](const security::Caller& caller) { return DoQuery(caller, *req, *resp); });
}

absl::Status AuditService::DoQuery(const security::Caller& caller, const v1::QueryEventsRequest& req,
                                   v1::QueryEventsResponse& resp) {
  store::EventFilter filter;
  if (!req.subject().empty()) {
    absl::StatusOr<std::string> subject = domain::ParseSubjectName(req.subject(), "subject");
    if (!subject.ok()) return subject.status();
    filter.subject_id = *subject;
  }
  absl::StatusOr<std::string> actor = OptionalPartner(req.actor(), "actor");
  if (!actor.ok()) return actor.status();
  absl::StatusOr<std::string> recipient = OptionalPartner(req.recipient(), "recipient");
  if (!recipient.ok()) return recipient.status();
  filter.actor_id = *actor;
  filter.recipient_id = *recipient;
  if (req.purpose() != v1::PURPOSE_UNSPECIFIED) {
    if (absl::Status s = domain::ValidatePurpose(req.purpose()); !s.ok()) return s;
    filter.purpose = req.purpose();
  }
  if (req.basis() != v1::BASIS_UNSPECIFIED) {
    if (!v1::Basis_IsValid(req.basis())) return absl::InvalidArgumentError("basis: unknown value");
    filter.basis = req.basis();
  }
  if (req.kind() != v1::EVENT_KIND_UNSPECIFIED) {
    if (!v1::EventKind_IsValid(req.kind())) return absl::InvalidArgumentError("kind: unknown value");
    filter.kind = req.kind();
  }
  if (req.has_start_time()) filter.start = FromProto(req.start_time());
  if (req.has_end_time()) filter.end = FromProto(req.end_time());
  if (filter.end <= filter.start) return absl::InvalidArgumentError("end_time: must be after start_time");
  absl::StatusOr<int> size = domain::EffectivePageSize(req.page_size(), max_page_size_);
  if (!size.ok()) return size.status();
  absl::StatusOr<std::string> after = domain::DecodePageToken(req.page_token());
  if (!after.ok()) return after.status();
  uint64_t from = 0;
  if (!after->empty() && !absl::SimpleAtoi(*after, &from)) {
    return absl::InvalidArgumentError("page_token: not a token this hub issued");
  }
  if (absl::Status s = LogRead(caller, "QueryEvents", filter.subject_id); !s.ok()) return s;
  absl::StatusOr<std::vector<store::StoredEvent>> events = store_.QueryEvents(filter, from, *size + 1);
  if (!events.ok()) return events.status();
  bool more = static_cast<int>(events->size()) > *size;
  if (more) events->pop_back();
  for (const store::StoredEvent& e : *events) *resp.add_events() = ToLogged(e);
  if (more) resp.set_next_page_token(domain::EncodePageToken(absl::StrCat(events->back().sequence + 1)));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuditService::GetSubjectReport(grpc::CallbackServerContext* ctx,
                                                         const v1::GetSubjectReportRequest* req,
                                                         v1::GetSubjectReportResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kDpo, "GetSubjectReport",
                       [=, this](const security::Caller& caller) { return DoReport(caller, *req, *resp); });
}

absl::Status AuditService::DoReport(const security::Caller& caller, const v1::GetSubjectReportRequest& req,
                                    v1::GetSubjectReportResponse& resp) {
  absl::StatusOr<std::string> subject = domain::ParseSubjectName(req.subject(), "subject");
  if (!subject.ok()) return subject.status();
  absl::StatusOr<bool> exists = store_.SubjectExists(*subject);
  if (!exists.ok()) return exists.status();
  if (!*exists) return absl::NotFoundError(absl::StrCat("subject: no subject ", *subject));
  if (absl::Status s = LogRead(caller, "GetSubjectReport", *subject); !s.ok()) return s;
  resp.set_subject(req.subject());
  struct PerRecipient {
    std::set<int> categories, bases;
    int disclosures = 0;
  };
  std::map<std::string, PerRecipient> recipients;
  store::EventFilter filter;
  filter.subject_id = *subject;
  for (uint64_t from = 0;;) {
    absl::StatusOr<std::vector<store::StoredEvent>> page = store_.QueryEvents(filter, from, 1000);
    if (!page.ok()) return page.status();
    for (const store::StoredEvent& stored : *page) {
      v1::LoggedEvent* logged = resp.add_events();
      *logged = ToLogged(stored);
      const v1::SharingEvent& e = logged->event();
      if (e.kind() == v1::EVENT_KIND_DISCLOSURE) {
        resp.set_disclosures(resp.disclosures() + 1);
        if (e.basis() == v1::BASIS_SAFEGUARDING) resp.set_safeguarding_disclosures(resp.safeguarding_disclosures() + 1);
        PerRecipient& r = recipients[e.recipient()];
        r.disclosures++;
        r.bases.insert(e.basis());
        r.categories.insert(e.disclosed_categories().begin(), e.disclosed_categories().end());
      } else if (e.kind() == v1::EVENT_KIND_REFUSAL) {
        resp.set_refusals(resp.refusals() + 1);
      }
    }
    if (page->size() < 1000) break;
    from = page->back().sequence + 1;
  }
  for (const auto& [name, r] : recipients) {
    v1::RecipientSummary* out = resp.add_recipients();
    out->set_recipient(name);
    out->set_disclosures(r.disclosures);
    for (int c : r.categories) out->add_data_categories(static_cast<v1::DataCategory>(c));
    for (int b : r.bases) out->add_bases(static_cast<v1::Basis>(b));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuditService::GetTreeHead(grpc::CallbackServerContext* ctx, const v1::GetTreeHeadRequest*,
                                                    v1::GetTreeHeadResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kDpo, "GetTreeHead",
                       [=, this](const security::Caller& caller) -> absl::Status {
    if (absl::Status s = LogRead(caller, "GetTreeHead", ""); !s.ok()) return s;
    absl::StatusOr<v1::SignedTreeHead> head = SignCurrentHead();
    if (!head.ok()) return head.status();
    *resp->mutable_tree_head() = *head;
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AuditService::GetInclusionProof(grpc::CallbackServerContext* ctx,
                                                          const v1::GetInclusionProofRequest* req,
                                                          v1::GetInclusionProofResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kDpo, "GetInclusionProof",
                       [=, this](const security::Caller& caller) -> absl::Status {
    absl::StatusOr<uint64_t> log_size = store_.LogSize();
    if (!log_size.ok()) return log_size.status();
    uint64_t size = req->tree_size() == 0 ? *log_size : req->tree_size();
    if (size > *log_size) return absl::InvalidArgumentError(absl::StrCat("tree_size: the log holds ", *log_size));
    if (req->sequence() >= size) return absl::InvalidArgumentError("sequence: must be below tree_size");
    if (absl::Status s = LogRead(caller, "GetInclusionProof", ""); !s.ok()) return s;
    absl::StatusOr<std::vector<audit::Hash>> proof = audit::InclusionProof(store_.LogHashes(), req->sequence(), size);
    if (!proof.ok()) return proof.status();
    absl::StatusOr<audit::Hash> leaf = store_.LogHashes().Get(0, req->sequence());
    if (!leaf.ok()) return leaf.status();
    resp->set_sequence(req->sequence());
    resp->set_tree_size(size);
    resp->set_leaf_hash(Bytes(*leaf));
    for (const audit::Hash& h : *proof) resp->add_proof(Bytes(h));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AuditService::GetConsistencyProof(grpc::CallbackServerContext* ctx,
                                                            const v1::GetConsistencyProofRequest* req,
                                                            v1::GetConsistencyProofResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kDpo, "GetConsistencyProof",
                       [=, this](const security::Caller& caller) -> absl::Status {
    absl::StatusOr<uint64_t> log_size = store_.LogSize();
    if (!log_size.ok()) return log_size.status();
    uint64_t second = req->second_tree_size() == 0 ? *log_size : req->second_tree_size();
    if (second > *log_size) {
      return absl::InvalidArgumentError(absl::StrCat("second_tree_size: the log holds ", *log_size));
    }
    if (req->first_tree_size() > second) {
      return absl::InvalidArgumentError("first_tree_size: must not exceed second_tree_size");
    }
    if (absl::Status s = LogRead(caller, "GetConsistencyProof", ""); !s.ok()) return s;
    absl::StatusOr<std::vector<audit::Hash>> proof =
        audit::ConsistencyProof(store_.LogHashes(), req->first_tree_size(), second);
    if (!proof.ok()) return proof.status();
    resp->set_first_tree_size(req->first_tree_size());
    resp->set_second_tree_size(second);
    for (const audit::Hash& h : *proof) resp->add_proof(Bytes(h));
    return absl::OkStatus();
  });
}

// Streams every event of the log as it stood when the call began, then a head signed over
// exactly those events. One page of records is held at a time; the call finishes exactly once.
class AuditService::ExportReactor final : public grpc::ServerWriteReactor<v1::ExportEventsResponse> {
 public:
  ExportReactor(AuditService& service, grpc::CallbackServerContext* ctx) : service_(service) {
    absl::StatusOr<security::Caller> caller = service_.auth_.Authenticate(*ctx->auth_context());
    absl::Status status = caller.ok() ? security::RequireRole(*caller, kDpo) : caller.status();
    if (status.ok()) status = service_.LogRead(*caller, "ExportEvents", "");
    absl::StatusOr<v1::SignedTreeHead> head;
    if (status.ok()) {
      head = service_.SignCurrentHead(&size_);
      status = head.status();
    }
    if (!status.ok()) {
      log::Info("rpc_refused", {{"method", "ExportEvents"},
                                {"caller", caller.ok() ? caller->partner.id : std::string("-")},
                                {"code", absl::StatusCodeToString(status.code())},
                                {"message", std::string(status.message())}});
      Finish(ToGrpc(status));
      return;
    }
    head_ = *head;
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "export cancelled"));
      return;
    }
    Next();
  }

  void OnDone() override { delete this; }

 private:
  void Next() {
    if (buffer_.empty() && next_ < size_) {
      absl::StatusOr<std::vector<store::StoredEvent>> page =
          service_.store_.ReadEvents(next_, static_cast<int>(std::min<uint64_t>(500, size_ - next_)));
      if (!page.ok() || page->empty()) {
        Finish(ToGrpc(page.ok() ? absl::DataLossError("the log ended before its signed size") : page.status()));
        return;
      }
      for (store::StoredEvent& e : *page) buffer_.push_back(std::move(e.record));
      next_ += page->size();
    }
    if (!buffer_.empty()) {
      message_.Clear();
      message_.set_event_record(std::move(buffer_.front()));
      buffer_.pop_front();
      StartWrite(&message_);
      return;
    }
    if (!head_sent_) {
      head_sent_ = true;
      message_.Clear();
      *message_.mutable_tree_head() = head_;
      StartWrite(&message_);
      return;
    }
    Finish(grpc::Status::OK);
  }

  AuditService& service_;
  uint64_t size_ = 0;
  uint64_t next_ = 0;
  std::deque<std::string> buffer_;
  v1::SignedTreeHead head_;
  bool head_sent_ = false;
  v1::ExportEventsResponse message_;
};

grpc::ServerWriteReactor<v1::ExportEventsResponse>* AuditService::ExportEvents(grpc::CallbackServerContext* ctx,
                                                                              const v1::ExportEventsRequest*) {
  return new ExportReactor(*this, ctx);
}

}  // namespace accord::server
