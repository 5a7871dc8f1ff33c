// accord-story: the demo's partners, each calling the hub through the client SDK with its own
// credentials bundle, as their record systems would. Prints every step so a newcomer can follow.
//
//   accord-story --data-dir DIR --address HOST:PORT
//
// Expects the partners the demo enrols (bundles in DIR/bundles/<id>) and the sharing
// agreements it records.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "accord/sdk/client.h"
#include "accord/v1/audit.grpc.pb.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
#include "google/protobuf/util/json_util.h"

namespace {

namespace fs = std::filesystem;
using namespace accord;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

void Step(const std::string& title) { std::cout << "\n== " << title << "\n"; }
void Say(const std::string& line) { std::cout << "   " << line << "\n"; }

[[noreturn]] void Fail(const std::string& what, const grpc::Status& s) {
  std::cerr << "accord-story: " << what << " failed: " << s.error_message() << "\n";
  std::exit(1);
}

std::string CategoryName(int c) { return v1::DataCategory_Name(c).substr(14); }

void PrintDecision(const v1::CheckSharingResponse& resp) {
  for (const v1::CategoryDecision& d : resp.decisions()) {
    std::printf("   %-14s %-8s %s\n", CategoryName(d.data_category()).c_str(), d.allowed() ? "ALLOWED" : "REFUSED",
                d.reason_code().c_str());
  }
  if (resp.dpo_alert()) Say("→ a real disclosure on this basis would alert the data protection officers");
}

struct Partner {
  std::unique_ptr<v1::SubjectService::Stub> subjects;
  std::unique_ptr<v1::ConsentService::Stub> consents;
  std::unique_ptr<v1::AuditService::Stub> audit;
};

Partner Connect(const fs::path& data, const std::string& id, const std::string& address) {
  auto channel = sdk::Connect(data / "bundles" / id, address);
  if (!channel.ok()) {
    std::cerr << "accord-story: " << channel.status().message() << "\n";
    std::exit(1);
  }
  return {v1::SubjectService::NewStub(*channel), v1::ConsentService::NewStub(*channel),
          v1::AuditService::NewStub(*channel)};
}

v1::CheckSharingResponse Check(Partner& as, const std::string& subject, const std::string& discloser,
                               const std::string& recipient, std::vector<v1::DataCategory> categories,
                               const std::string& safeguarding = "") {
  v1::CheckSharingRequest req;
  req.set_subject(subject);
  req.set_discloser(discloser);
  req.set_recipient(recipient);
  req.set_purpose(v1::PURPOSE_REFERRAL);
  for (auto c : categories) req.add_data_categories(c);
  if (!safeguarding.empty()) {
    req.mutable_lawful_basis()->set_kind(v1::LAWFUL_BASIS_KIND_SAFEGUARDING);
    req.mutable_lawful_basis()->set_justification(safeguarding);
  }
  v1::CheckSharingResponse resp;
  grpc::Status s = as.consents->CheckSharing(Ctx().get(), req, &resp);
  if (!s.ok()) Fail("CheckSharing", s);
  return resp;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path data;
  std::string address;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--data-dir") data = argv[i + 1];
    if (flag == "--address") address = argv[i + 1];
  }
  if (data.empty() || address.empty()) {
    std::cerr << "usage: accord-story --data-dir DIR --address HOST:PORT\n";
    return 2;
  }
  Partner school = Connect(data, "oakfield-primary", address);
  Partner camhs = Connect(data, "riverside-camhs", address);
  Partner dpo = Connect(data, "county-dpo", address);

  Step("9. Oakfield Primary's MIS registers Jordan with the hub's person index");
  v1::ResolveSubjectRequest jordan;
  jordan.mutable_identifiers()->set_upn("B801200005001");
  jordan.mutable_identifiers()->set_local_id("MIS-4471");
  jordan.mutable_demographics()->set_given_name("Jordan");
  jordan.mutable_demographics()->set_family_name("Smith");
  jordan.mutable_demographics()->set_birth_date("2014-05-03");
  jordan.mutable_demographics()->set_postcode("ls6 2ab");
  v1::ResolveSubjectResponse resolved;
  if (auto s = school.subjects->ResolveSubject(Ctx().get(), jordan, &resolved); !s.ok()) Fail("ResolveSubject", s);
  const std::string subject = resolved.subject().name();
  Say("UPN B801200005001 (check letter verified), born 2014-05-03, postcode normalised to " +
      resolved.subject().demographics().postcode());
  Say("→ " + v1::ResolveSubjectResponse::Outcome_Name(resolved.outcome()).substr(8) + ": the hub's id for Jordan is " +
      subject);

  Step("10. Riverside CAMHS's system knows Jordan only by name, birth date and postcode");
  v1::ResolveSubjectRequest health = jordan;
  health.clear_identifiers();
  health.mutable_identifiers()->set_local_id("RIO-20931");
  v1::ResolveSubjectResponse matched;
  if (auto s = camhs.subjects->ResolveSubject(Ctx().get(), health, &matched); !s.ok()) Fail("ResolveSubject", s);
  Say("→ " + v1::ResolveSubjectResponse::Outcome_Name(matched.outcome()).substr(8) + ": " + matched.subject().name() +
      (matched.subject().name() == subject ? " — the same child" : " — a different record!"));
  Say("Each partner sees only its own record: CAMHS does not learn the school's UPN or local id.");

  Step("11. Jordan's mother consents to the school referring him to CAMHS");
  v1::RecordConsentRequest consent;
  v1::Consent* c = consent.mutable_consent();
  c->set_subject(subject);
  c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
  c->add_purposes(v1::PURPOSE_REFERRAL);
  for (auto cat : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_SEN}) {
    c->add_data_categories(cat);
  }
  c->add_recipients()->set_partner("partners/riverside-camhs");
  c->mutable_valid_until()->set_seconds(std::time(nullptr) + 180 * 24 * 3600);
  c->set_evidence("Consent form signed by mother at SENCO meeting; scanned to MIS");
  v1::RecordConsentResponse recorded;
  if (auto s = school.consents->RecordConsent(Ctx().get(), consent, &recorded); !s.ok()) Fail("RecordConsent", s);
  Say("Recorded " + recorded.consent().name() + ": REFERRAL of IDENTITY, EDUCATION, SEN to Riverside CAMHS only");
  fs::create_directories(data / "receipts");
  fs::path receipt_file = data / "receipts" / "jordan-consent.json";
  std::string json;
  google::protobuf::util::JsonPrintOptions pretty;
  pretty.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(recorded.receipt(), &json, pretty);
  std::ofstream(receipt_file) << json;
  Say("The hub signed a receipt for the family (" + receipt_file.string() + ")");

  Step("12. Before referring, the school asks the hub what it may send to CAMHS");
  PrintDecision(Check(school, subject, "", "partners/riverside-camhs",
                      {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_SEN, v1::DATA_CATEGORY_MENTAL_HEALTH}));
  Say("MENTAL_HEALTH is in the schools→CAMHS agreement but not in the family's consent: it stays at school.");

  Step("13. ...and to Brightside Mentoring, which the consent does not name");
  PrintDecision(Check(school, subject, "", "partners/brightside-mentoring", {v1::DATA_CATEGORY_IDENTITY}));

  Step("14. Jordan's mother withdraws consent; the very next decision refuses");
  v1::WithdrawConsentRequest withdraw;
  withdraw.set_name(recorded.consent().name());
  withdraw.set_reason("Mother phoned the school office");
  v1::WithdrawConsentResponse withdrawn;
  if (auto s = school.consents->WithdrawConsent(Ctx().get(), withdraw, &withdrawn); !s.ok()) Fail("Withdraw", s);
  PrintDecision(Check(school, subject, "", "partners/riverside-camhs", {v1::DATA_CATEGORY_IDENTITY}));

  Step("15. The DPO checks a safeguarding share without consent: allowed only with a justification");
  PrintDecision(Check(dpo, subject, "partners/oakfield-primary", "partners/riverside-camhs",
                      {v1::DATA_CATEGORY_MENTAL_HEALTH},
                      "Disclosure of self-harm at school; risk of significant harm"));

  Step("16. The DPO asks: who was told what about Jordan, when, and why? (the read is itself logged)");
  v1::GetSubjectReportRequest report_req;
  report_req.set_subject(subject);
  v1::GetSubjectReportResponse report;
  if (auto s = dpo.audit->GetSubjectReport(Ctx().get(), report_req, &report); !s.ok()) Fail("GetSubjectReport", s);
  for (const v1::LoggedEvent& logged : report.events()) {
    const v1::SharingEvent& e = logged.event();
    std::string line = "#" + std::to_string(e.sequence()) + " " + v1::EventKind_Name(e.kind()).substr(11) + " by " +
                       e.actor();
    for (const std::string& c : e.consents()) line += " " + c;
    for (const std::string& r : e.reason_codes()) line += " (" + r + ")";
    if (logged.has_details()) line += " — \"" + logged.details().text() + "\"";
    Say(line);
  }
  Say("Disclosures so far: " + std::to_string(report.disclosures()) + ", refusals: " +
      std::to_string(report.refusals()) + " (referrals will add them)");

  Step("17. The DPO takes a signed tree head: a checkpoint of the whole log");
  v1::GetTreeHeadResponse head;
  if (auto s = dpo.audit->GetTreeHead(Ctx().get(), v1::GetTreeHeadRequest(), &head); !s.ok()) Fail("GetTreeHead", s);
  static const char* kHex = "0123456789abcdef";
  std::string root;
  for (unsigned char ch : head.tree_head().root_hash()) {
    root += kHex[ch >> 4];
    root += kHex[ch & 15];
  }
  Say(std::to_string(head.tree_head().tree_size()) + " events, root " + root.substr(0, 16) + "…, signed by key " +
      head.tree_head().key_id().substr(0, 16) + "…");
  return 0;
}
