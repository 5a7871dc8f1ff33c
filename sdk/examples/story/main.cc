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
#include <sstream>
#include <string>
#include <thread>

#include "accord/sdk/client.h"
#include "accord/v1/audit.grpc.pb.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/directory.grpc.pb.h"
#include "accord/v1/record.grpc.pb.h"
#include "accord/v1/referral.grpc.pb.h"
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
  std::unique_ptr<v1::DirectoryService::Stub> directory;
  std::unique_ptr<v1::ReferralService::Stub> referrals;
  std::unique_ptr<v1::RecordService::Stub> records;
};

Partner Connect(const fs::path& data, const std::string& id, const std::string& address) {
  auto channel = sdk::Connect(data / "bundles" / id, address);
  if (!channel.ok()) {
    std::cerr << "accord-story: " << channel.status().message() << "\n";
    std::exit(1);
  }
  return {v1::SubjectService::NewStub(*channel), v1::ConsentService::NewStub(*channel),
          v1::AuditService::NewStub(*channel), v1::DirectoryService::NewStub(*channel),
          v1::ReferralService::NewStub(*channel), v1::RecordService::NewStub(*channel)};
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

std::string Strip(const std::string& enum_name, size_t prefix) { return enum_name.substr(prefix); }
std::string StateName(v1::ReferralState s) { return Strip(v1::ReferralState_Name(s), 15); }
std::string NeedName(int n) { return Strip(v1::NeedType_Name(static_cast<v1::NeedType>(n)), 10); }
std::string Id(const std::string& name) { return name.substr(name.find('/') + 1); }

::accord::v1::Service MakeService(const std::string& name, const std::string& description,
                                  std::vector<v1::NeedType> needs, int min_age, int max_age, v1::LevelOfNeed min_level,
                                  v1::LevelOfNeed max_level, std::vector<std::string> postcodes, int wait_days) {
  ::accord::v1::Service s;
  s.set_display_name(name);
  s.set_description(description);
  v1::Eligibility* e = s.mutable_eligibility();
  e->set_minimum_age(min_age);
  e->set_maximum_age(max_age);
  for (auto n : needs) e->add_need_types(n);
  e->set_minimum_level_of_need(min_level);
  e->set_maximum_level_of_need(max_level);
  v1::ServiceArea* area = s.add_service_areas();
  area->set_description("Leeds");
  for (const auto& p : postcodes) area->add_postcode_prefixes(p);
  area->add_local_authorities("E08000035");
  s.add_contacts()->set_name("Referrals coordinator");
  s.mutable_availability()->set_accepting_referrals(true);
  s.mutable_availability()->set_capacity(wait_days == 0 ? 2 : 0);
  s.mutable_availability()->mutable_waiting_time()->set_seconds(int64_t{wait_days} * 86400);
  return s;
}

void Publish(Partner& as, const std::string& id, const ::accord::v1::Service& service) {
  v1::PublishServiceRequest req;
  *req.mutable_service() = service;
  req.set_service_id(id);
  v1::PublishServiceResponse resp;
  if (auto s = as.directory->PublishService(Ctx().get(), req, &resp); !s.ok()) Fail("PublishService", s);
  Say(resp.service().provider() + " published " + resp.service().name() + " \"" + resp.service().display_name() +
      "\"");
}

void PrintMatch(const v1::ServiceMatch& m) {
  long days = static_cast<long>(m.service().availability().waiting_time().seconds() / 86400);
  Say(m.service().name() + " (" + m.service().display_name() + "), wait " + std::to_string(days) + " days");
  for (const v1::FitReason& r : m.reasons()) {
    std::printf("      %s %-24s %s\n", r.met() ? "✓" : "✗", r.code().c_str(), r.text().c_str());
  }
}

// Reads one item from an inbox stream and prints it; false when the stream ended.
bool ReadInboxItem(grpc::ClientReader<v1::WatchInboxResponse>& reader, const std::string& who,
                   v1::WatchInboxResponse* item) {
  if (!reader.Read(item)) return false;
  const v1::Referral& r = item->referral();
  std::string line = who + "'s inbox: " + r.name() + " " + StateName(item->state());
  if (!item->withheld_reason().empty()) line += " — withheld: " + item->withheld_reason();
  Say(line);
  if (item->state() == v1::REFERRAL_STATE_SUBMITTED && item->withheld_reason().empty()) {
    std::string needs;
    for (const v1::Need& n : r.needs()) needs += " " + NeedName(n.type()) + " (level " + std::to_string(n.level()) + ")";
    std::string cats;
    for (int c : r.data_categories()) cats += " " + CategoryName(c);
    Say("   from " + r.referrer() + " about " + r.subject() + ", needs:" + needs);
    Say("   carries:" + cats + " under " + r.consent() + "; background: \"" + r.background() + "\"");
    for (const v1::EarlierReferral& e : r.earlier_referrals()) {
      std::string earlier = "   follows on from a referral to " + e.service() + ": " + StateName(e.state());
      if (e.decline_reason() != v1::DECLINE_REASON_UNSPECIFIED) {
        earlier += " (" + Strip(v1::DeclineReason_Name(e.decline_reason()), 15) + ")";
      }
      Say(earlier);
    }
  }
  if (item->state() == v1::REFERRAL_STATE_DECLINED && r.has_decline()) {
    Say("   reason " + Strip(v1::DeclineReason_Name(r.decline().reason()), 15) + ", redirect to " +
        r.decline().redirect_service() + ": \"" + r.decline().text() + "\"");
  }
  return true;
}

// A stream on `as`'s inbox from `cursor`, read for `count` items, then cut; returns the last cursor.
std::string WatchInbox(Partner& as, const std::string& who, const std::string& cursor, int count) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::WatchInboxRequest req;
  req.set_cursor(cursor);
  auto reader = as.referrals->WatchInbox(&ctx, req);
  std::string last = cursor;
  v1::WatchInboxResponse item;
  for (int i = 0; i < count; ++i) {
    if (!ReadInboxItem(*reader, who, &item)) Fail("WatchInbox", reader->Finish());
    last = item.cursor();
  }
  ctx.TryCancel();
  while (reader->Read(&item)) {
  }
  (void)reader->Finish();
  return last;
}

template <typename Req, typename Resp>
v1::Referral Act(Partner& as, grpc::Status (v1::ReferralService::Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
                 const Req& req, const char* what) {
  Resp resp;
  if (auto s = ((*as.referrals).*rpc)(Ctx().get(), req, &resp); !s.ok()) Fail(what, s);
  return resp.referral();
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
  Partner brightside = Connect(data, "brightside-mentoring", address);
  Partner early_help = Connect(data, "county-early-help", address);

  Step("10. Oakfield Primary's MIS registers Jordan with the hub's person index");
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

  Step("11. Riverside CAMHS's system knows Jordan only by name, birth date and postcode");
  v1::ResolveSubjectRequest health = jordan;
  health.clear_identifiers();
  health.mutable_identifiers()->set_local_id("RIO-20931");
  v1::ResolveSubjectResponse matched;
  if (auto s = camhs.subjects->ResolveSubject(Ctx().get(), health, &matched); !s.ok()) Fail("ResolveSubject", s);
  Say("→ " + v1::ResolveSubjectResponse::Outcome_Name(matched.outcome()).substr(8) + ": " + matched.subject().name() +
      (matched.subject().name() == subject ? " — the same child" : " — a different record!"));
  Say("Each partner sees only its own record: CAMHS does not learn the school's UPN or local id.");

  Step("12. Jordan's mother consents to the school referring him to CAMHS");
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

  Step("13. Before referring, the school asks the hub what it may send to CAMHS");
  PrintDecision(Check(school, subject, "", "partners/riverside-camhs",
                      {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_SEN, v1::DATA_CATEGORY_MENTAL_HEALTH}));
  Say("MENTAL_HEALTH is in the schools→CAMHS agreement but not in the family's consent: it stays at school.");

  Step("14. ...and to Brightside Mentoring, which the consent does not name");
  PrintDecision(Check(school, subject, "", "partners/brightside-mentoring", {v1::DATA_CATEGORY_IDENTITY}));

  Step("15. Jordan's mother withdraws consent; the very next decision refuses");
  v1::WithdrawConsentRequest withdraw;
  withdraw.set_name(recorded.consent().name());
  withdraw.set_reason("Mother phoned the school office");
  v1::WithdrawConsentResponse withdrawn;
  if (auto s = school.consents->WithdrawConsent(Ctx().get(), withdraw, &withdrawn); !s.ok()) Fail("Withdraw", s);
  PrintDecision(Check(school, subject, "", "partners/riverside-camhs", {v1::DATA_CATEGORY_IDENTITY}));

  Step("16. The DPO checks a safeguarding share without consent: allowed only with a justification");
  PrintDecision(Check(dpo, subject, "partners/oakfield-primary", "partners/riverside-camhs",
                      {v1::DATA_CATEGORY_MENTAL_HEALTH},
                      "Disclosure of self-harm at school; risk of significant harm"));

  Step("17. Providers publish their services in the directory (Open Referral UK shaped)");
  Publish(brightside, "brightside-mentoring",
          MakeService("Brightside Mentoring", "Weekly mentoring with a trained volunteer for a school year.",
                      {v1::NEED_TYPE_ANXIETY, v1::NEED_TYPE_LOW_MOOD, v1::NEED_TYPE_SOCIAL_ISOLATION}, 8, 16,
                      v1::LEVEL_OF_NEED_UNIVERSAL, v1::LEVEL_OF_NEED_ADDITIONAL, {"LS6", "LS7"}, 7));
  Publish(early_help, "county-family-support",
          MakeService("County Early Help Family Support",
                      "A family support worker and a whole-family plan, agreed with the family.",
                      {v1::NEED_TYPE_ANXIETY, v1::NEED_TYPE_FAMILY_CONFLICT, v1::NEED_TYPE_SCHOOL_ATTENDANCE,
                       v1::NEED_TYPE_PARENTING_SUPPORT},
                      0, 18, v1::LEVEL_OF_NEED_ADDITIONAL, v1::LEVEL_OF_NEED_TARGETED, {"LS"}, 28));
  Publish(camhs, "riverside-camhs-core",
          MakeService("Riverside CAMHS", "Specialist child and adolescent mental health assessment and treatment.",
                      {v1::NEED_TYPE_ANXIETY, v1::NEED_TYPE_SELF_HARM, v1::NEED_TYPE_EATING_DIFFICULTIES}, 0, 18,
                      v1::LEVEL_OF_NEED_SPECIALIST, v1::LEVEL_OF_NEED_SPECIALIST, {"LS"}, 90));

  Step("18. The school searches: anxiety at level 2 (additional needs), age 12, postcode LS6 2AB");
  v1::SearchServicesRequest search;
  v1::Need* need = search.add_needs();
  need->set_type(v1::NEED_TYPE_ANXIETY);
  need->set_level(v1::LEVEL_OF_NEED_ADDITIONAL);
  search.set_age_years(12);
  search.set_postcode("LS6 2AB");
  search.set_include_near_misses(true);
  v1::SearchServicesResponse found;
  if (auto s = school.directory->SearchServices(Ctx().get(), search, &found); !s.ok()) Fail("SearchServices", s);
  Say("Fits, best first (then the shortest wait):");
  for (const v1::ServiceMatch& m : found.matches()) PrintMatch(m);
  Say("Near misses, and why:");
  for (const v1::ServiceMatch& m : found.near_misses()) PrintMatch(m);
  Say("The search names no child: nothing of it is stored or logged.");

  Step("19. A month later Jordan's mother agrees to a referral for support");
  v1::RecordConsentRequest referral_consent;
  v1::Consent* rc = referral_consent.mutable_consent();
  rc->set_subject(subject);
  rc->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
  rc->add_purposes(v1::PURPOSE_REFERRAL);
  for (auto cat : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_FAMILY_CONTEXT}) {
    rc->add_data_categories(cat);
  }
  rc->add_recipients()->set_partner("partners/brightside-mentoring");
  rc->add_recipients()->set_sector(v1::SECTOR_EARLY_HELP);
  rc->add_recipients()->set_partner("partners/oakfield-primary");
  rc->mutable_valid_until()->set_seconds(std::time(nullptr) + 180 * 24 * 3600);
  rc->set_evidence("Mother agreed at the pastoral meeting; form signed and scanned to MIS");
  v1::RecordConsentResponse consented;
  if (auto s = school.consents->RecordConsent(Ctx().get(), referral_consent, &consented); !s.ok()) {
    Fail("RecordConsent", s);
  }
  const std::string consent_name = consented.consent().name();
  Say("Recorded " + consent_name + ": REFERRAL of IDENTITY, EDUCATION, FAMILY_CONTEXT to Brightside Mentoring,");
  Say("any early help service, and back to Oakfield Primary (so providers may tell the school what they decide)");

  Step("20. Oakfield Primary refers Jordan to Brightside Mentoring (the shortest wait)");
  v1::SubmitReferralRequest submit;
  v1::Referral* r = submit.mutable_referral();
  r->set_service("services/brightside-mentoring");
  r->set_subject(subject);
  v1::Need* n = r->add_needs();
  n->set_type(v1::NEED_TYPE_ANXIETY);
  n->set_level(v1::LEVEL_OF_NEED_ADDITIONAL);
  r->set_background("Anxious before school, worse since his parents separated; arguments at home most evenings.");
  r->set_urgency(v1::URGENCY_ROUTINE);
  r->set_consent(consent_name);
  r->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  r->add_data_categories(v1::DATA_CATEGORY_EDUCATION);
  r->set_idempotency_key("2f0b8e4c-1d7a-4f39-9a51-7c3e6b2d9001");
  v1::SubmitReferralResponse submitted;
  if (auto s = school.referrals->SubmitReferral(Ctx().get(), submit, &submitted); !s.ok()) Fail("SubmitReferral", s);
  const std::string first = submitted.referral().name();
  Say("The hub decided: REFERRAL of IDENTITY, EDUCATION to Brightside under " + consent_name + " — allowed");
  Say("→ " + first + " " + StateName(submitted.referral().state()) + ", in Brightside's inbox, logged");
  v1::SubmitReferralResponse retried;
  if (auto s = school.referrals->SubmitReferral(Ctx().get(), submit, &retried); !s.ok()) Fail("SubmitReferral", s);
  Say("The MIS times out and retries with the same idempotency key → " + retried.referral().name() +
      (retried.referral().name() == first ? " (the same referral, no second one)" : " (a second one!)"));

  Step("21. Brightside's system receives it on its inbox stream; the hub decides again as it delivers");
  std::string cursor = WatchInbox(brightside, "Brightside", "", 1);
  Say("Every item carries a cursor (" + cursor + "): after a dropped connection Brightside reconnects with it");
  Say("and gets exactly what came after. Had the family withdrawn consent meanwhile, the item would be withheld.");
  v1::AcknowledgeDeliveryRequest ack;
  ack.set_name(first);
  Act(brightside, &v1::ReferralService::Stub::AcknowledgeDelivery, ack, "AcknowledgeDelivery");
  Say("Brightside acknowledges: the referral is in its own system (DELIVERED); nothing is delivered twice");

  Step("22. Brightside reads the background: family conflict is above a mentoring service's threshold");
  v1::DeclineReferralRequest decline;
  decline.set_name(first);
  decline.mutable_decline()->set_reason(v1::DECLINE_REASON_ABOVE_THRESHOLD);
  decline.mutable_decline()->set_text("Conflict at home needs a whole-family response; early help first.");
  decline.mutable_decline()->set_redirect_service("services/county-family-support");
  Act(brightside, &v1::ReferralService::Stub::DeclineReferral, decline, "DeclineReferral");
  Say("Brightside declines and redirects; the hub decides Brightside may tell the school (IDENTITY), logs it:");
  WatchInbox(school, "Oakfield Primary", "", 2);

  Step("23. The school re-refers Jordan to County Early Help, linked to the declined referral");
  r->set_service("services/county-family-support");
  r->mutable_needs(0)->set_level(v1::LEVEL_OF_NEED_TARGETED);
  v1::Need* conflict = r->add_needs();
  conflict->set_type(v1::NEED_TYPE_FAMILY_CONFLICT);
  conflict->set_level(v1::LEVEL_OF_NEED_TARGETED);
  r->add_data_categories(v1::DATA_CATEGORY_FAMILY_CONTEXT);
  r->set_previous_referral(first);
  r->set_link(v1::REFERRAL_LINK_REDIRECT);
  r->set_idempotency_key("2f0b8e4c-1d7a-4f39-9a51-7c3e6b2d9002");
  if (auto s = school.referrals->SubmitReferral(Ctx().get(), submit, &submitted); !s.ok()) Fail("SubmitReferral", s);
  const std::string second = submitted.referral().name();
  Say("→ " + second + " to County Early Help, carrying IDENTITY, EDUCATION, FAMILY_CONTEXT (the consent covers "
      "early help)");
  WatchInbox(early_help, "County Early Help", "", 1);

  Step("24. Early help: delivered, on the waiting list (3 weeks), accepted, support starts");
  ack.set_name(second);
  Act(early_help, &v1::ReferralService::Stub::AcknowledgeDelivery, ack, "AcknowledgeDelivery");
  v1::WaitlistReferralRequest waitlist;
  waitlist.set_name(second);
  waitlist.mutable_expected_wait()->set_seconds(21 * 86400);
  waitlist.set_position(3);
  v1::Referral waiting = Act(early_help, &v1::ReferralService::Stub::WaitlistReferral, waitlist, "WaitlistReferral");
  Say("WAITLISTED: place " + std::to_string(waiting.waitlist_position()) + " on the list, about " +
      std::to_string(waiting.expected_wait().seconds() / 86400) + " days; the school is told (IDENTITY only)");
  v1::AcceptReferralRequest accept;
  accept.set_name(second);
  Act(early_help, &v1::ReferralService::Stub::AcceptReferral, accept, "AcceptReferral");
  v1::StartSupportRequest start;
  start.set_name(second);
  Act(early_help, &v1::ReferralService::Stub::StartSupport, start, "StartSupport");
  v1::RecordOutcomeRequest outcome;
  outcome.set_referral(second);
  v1::OutcomeValue* swemwbs = outcome.add_outcomes();
  swemwbs->set_measure(v1::OUTCOME_MEASURE_SWEMWBS);
  swemwbs->set_timepoint(v1::OUTCOME_TIMEPOINT_START);
  swemwbs->set_value(18);
  v1::RecordOutcomeResponse recorded_outcome;
  if (auto s = early_help.referrals->RecordOutcome(Ctx().get(), outcome, &recorded_outcome); !s.ok()) {
    Fail("RecordOutcome", s);
  }
  Say("Wellbeing at the start (SWEMWBS, 7-35): 18. Outcomes stay with the provider; reports are anonymous.");

  Step("25. Twelve weeks later support closes; the school sees the whole history of its referral");
  v1::CloseReferralRequest close;
  close.set_name(second);
  close.mutable_closure()->set_reason(v1::CLOSURE_REASON_SUPPORT_COMPLETED);
  Act(early_help, &v1::ReferralService::Stub::CloseReferral, close, "CloseReferral");
  swemwbs->set_timepoint(v1::OUTCOME_TIMEPOINT_CLOSE);
  swemwbs->set_value(25);
  if (auto s = early_help.referrals->RecordOutcome(Ctx().get(), outcome, &recorded_outcome); !s.ok()) {
    Fail("RecordOutcome", s);
  }
  v1::GetReferralRequest get;
  get.set_name(second);
  v1::GetReferralResponse got;
  if (auto s = school.referrals->GetReferral(Ctx().get(), get, &got); !s.ok()) Fail("GetReferral", s);
  for (const v1::StateChange& change : got.referral().history()) {
    Say(StateName(change.state()) + " by " + change.actor());
  }
  v1::GetOutcomeReportRequest report_request;
  report_request.set_service("services/county-family-support");
  v1::GetOutcomeReportResponse outcomes_report;
  if (auto s = school.referrals->GetOutcomeReport(Ctx().get(), report_request, &outcomes_report); !s.ok()) {
    Fail("GetOutcomeReport", s);
  }
  for (const v1::MeasureSummary& m : outcomes_report.measures()) {
    Say("Outcome report for the service: " + Strip(v1::OutcomeMeasure_Name(m.measure()), 16) + ", " +
        std::to_string(m.paired_count()) + " child(ren) with start and close values" +
        (m.suppressed() ? "; means withheld below a group of " + std::to_string(outcomes_report.minimum_group_size())
                        : ""));
  }

  Step("26. Early help asks what Riverside CAMHS's record system (HL7 FHIR) holds, for its assessment");
  v1::RecordConsentRequest assess_consent;
  v1::Consent* ac = assess_consent.mutable_consent();
  ac->set_subject(subject);
  ac->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
  ac->add_purposes(v1::PURPOSE_ASSESSMENT);
  ac->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  ac->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
  ac->add_recipients()->set_sector(v1::SECTOR_EARLY_HELP);
  ac->mutable_valid_until()->set_seconds(std::time(nullptr) + 90 * 24 * 3600);
  ac->set_evidence("Mother agreed at the early help assessment visit");
  v1::RecordConsentResponse assess_consented;
  if (auto s = school.consents->RecordConsent(Ctx().get(), assess_consent, &assess_consented); !s.ok()) {
    Fail("RecordConsent", s);
  }
  v1::ResolveSubjectRequest eh_record = jordan;
  eh_record.clear_identifiers();
  eh_record.mutable_identifiers()->set_local_id("EH-5521");
  v1::ResolveSubjectResponse eh_resolved;
  if (auto s = early_help.subjects->ResolveSubject(Ctx().get(), eh_record, &eh_resolved); !s.ok()) {
    Fail("ResolveSubject", s);
  }
  Say("Consent: ASSESSMENT of IDENTITY and MENTAL_HEALTH to early help. Early help asks for IDENTITY,");
  Say("MENTAL_HEALTH and HEALTH; CAMHS's plugin reads FHIR Patient, Condition and Observation files.");
  v1::RequestRecordsRequest want;
  want.set_subject(subject);
  want.set_purpose(v1::PURPOSE_ASSESSMENT);
  for (auto cat : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_MENTAL_HEALTH, v1::DATA_CATEGORY_HEALTH}) {
    want.add_data_categories(cat);
  }
  v1::RequestRecordsResponse got_records;
  if (auto s = early_help.records->RequestRecords(Ctx().get(), want, &got_records); !s.ok()) {
    Fail("RequestRecords", s);
  }
  for (const v1::HolderRecords& holder : got_records.holders()) {
    Say(holder.holder() + ":");
    for (const v1::CategoryOutcome& o : holder.outcomes()) {
      Say("  " + Strip(v1::DataCategory_Name(o.data_category()), 14) + "  " +
          Strip(v1::CategoryStatus_Name(o.status()), 16) + " (" + o.reason_code() + ")");
    }
    for (const v1::Record& rec : holder.records()) {
      if (rec.has_identity()) {
        Say("    identity: " + rec.identity().given_name() + " " + rec.identity().family_name() + ", born " +
            rec.identity().birth_date());
      } else if (rec.has_clinical()) {
        Say("    " + Strip(v1::DataCategory_Name(rec.data_category()), 14) + ": " + rec.clinical().display() + " (" +
            rec.clinical().status() + ")");
      }
    }
  }
  Say("Minimisation: the HEALTH records (e.g. asthma) never left CAMHS's system; both the disclosure and");
  Say("the refusal are in the sharing log.");

  Step("27. Oakfield Primary refers Jordan to Northside Young Carers, which works from spreadsheets");
  v1::PublishServiceRequest carers;
  carers.set_service_id("northside-young-carers");
  ::accord::v1::Service* cs = carers.mutable_service();
  cs->set_display_name("Northside Young Carers");
  cs->set_description("Weekly groups and respite trips for young carers.");
  cs->mutable_eligibility()->set_minimum_age(8);
  cs->mutable_eligibility()->set_maximum_age(18);
  cs->mutable_eligibility()->add_need_types(v1::NEED_TYPE_YOUNG_CARER);
  cs->mutable_eligibility()->set_maximum_level_of_need(v1::LEVEL_OF_NEED_TARGETED);
  cs->add_service_areas()->add_postcode_prefixes("LS6");
  cs->mutable_availability()->set_accepting_referrals(true);
  Partner northside = Connect(data, "northside-young-carers", address);
  v1::PublishServiceResponse carers_published;
  if (auto s = northside.directory->PublishService(Ctx().get(), carers, &carers_published); !s.ok()) {
    Fail("PublishService", s);
  }
  v1::RecordConsentRequest carer_consent;
  v1::Consent* cc = carer_consent.mutable_consent();
  cc->set_subject(subject);
  cc->set_given_by(v1::CONSENT_GIVER_YOUNG_PERSON);
  cc->add_purposes(v1::PURPOSE_REFERRAL);
  cc->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  cc->add_data_categories(v1::DATA_CATEGORY_FAMILY_CONTEXT);
  cc->add_recipients()->set_partner("partners/northside-young-carers");
  cc->mutable_valid_until()->set_seconds(std::time(nullptr) + 90 * 24 * 3600);
  cc->set_evidence("Jordan agreed with his mentor; he helps look after his younger sister");
  v1::RecordConsentResponse carer_consented;
  if (auto s = school.consents->RecordConsent(Ctx().get(), carer_consent, &carer_consented); !s.ok()) {
    Fail("RecordConsent", s);
  }
  v1::SubmitReferralRequest to_carers;
  v1::Referral* tc = to_carers.mutable_referral();
  tc->set_service("services/northside-young-carers");
  tc->set_subject(subject);
  v1::Need* carer_need = tc->add_needs();
  carer_need->set_type(v1::NEED_TYPE_YOUNG_CARER);
  carer_need->set_level(v1::LEVEL_OF_NEED_ADDITIONAL);
  tc->set_background("Helps care for his younger sister after school; tired in lessons.");
  tc->set_urgency(v1::URGENCY_ROUTINE);
  tc->set_consent(carer_consented.consent().name());
  tc->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  tc->add_data_categories(v1::DATA_CATEGORY_FAMILY_CONTEXT);
  tc->set_idempotency_key("3f0c8a1e-5b2d-4c77-9e41-7a2b6c1d9e05");
  v1::SubmitReferralResponse carers_submitted;
  if (auto s = school.referrals->SubmitReferral(Ctx().get(), to_carers, &carers_submitted); !s.ok()) {
    Fail("SubmitReferral", s);
  }
  const std::string carers_referral = carers_submitted.referral().name();
  Say("Submitted " + carers_referral + ". The hub's outbox hands it to Northside's CSV plugin:");
  const fs::path outbound = data / "northside" / "outbound";
  fs::path csv_file;
  for (int i = 0; i < 150 && csv_file.empty(); ++i) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(outbound, ec)) {
      if (entry.path().extension() == ".csv") csv_file = entry.path();
    }
    if (csv_file.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (csv_file.empty()) {
    std::cerr << "accord-story: no CSV file appeared in " << outbound << "\n";
    std::exit(1);
  }
  std::ifstream csv_in(csv_file);
  Say(csv_file.string() + ":");
  for (std::string line; std::getline(csv_in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    Say("  " + line);
  }

  Step("28. Northside's coordinator marks it accepted in the spreadsheet; the decision comes back");
  const fs::path inbound = data / "northside" / "inbound";
  {
    std::ofstream decision(inbound / ".decisions.csv");
    decision << "referral_id,status,reason\r\n"
             << carers_referral << ",accepted,Joins the Thursday group from next week\r\n";
  }
  fs::rename(inbound / ".decisions.csv", inbound / "decisions-1.csv");
  Say("Wrote " + (inbound / "decisions-1.csv").string() + " (written, then renamed into place)");
  v1::GetReferralRequest get_carers;
  get_carers.set_name(carers_referral);
  v1::GetReferralResponse carers_now;
  for (int i = 0; i < 150; ++i) {
    if (auto s = school.referrals->GetReferral(Ctx().get(), get_carers, &carers_now); !s.ok()) Fail("GetReferral", s);
    if (carers_now.referral().state() == v1::REFERRAL_STATE_ACCEPTED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const v1::StateChange& change : carers_now.referral().history()) {
    Say(StateName(change.state()) + " by " + change.actor());
  }
  if (carers_now.referral().state() != v1::REFERRAL_STATE_ACCEPTED) {
    std::cerr << "accord-story: the decision did not come back\n";
    std::exit(1);
  }

  Step("29. The DPO asks: who was told what about Jordan, when, and why? (the read is itself logged)");
  v1::GetSubjectReportRequest report_req;
  report_req.set_subject(subject);
  v1::GetSubjectReportResponse report;
  if (auto s = dpo.audit->GetSubjectReport(Ctx().get(), report_req, &report); !s.ok()) Fail("GetSubjectReport", s);
  for (const v1::LoggedEvent& logged : report.events()) {
    const v1::SharingEvent& e = logged.event();
    std::string line = "#" + std::to_string(e.sequence()) + " " + v1::EventKind_Name(e.kind()).substr(11) + " by " +
                       Id(e.actor());
    if (!e.recipient().empty()) line += " to " + Id(e.recipient());
    if (e.purpose() != v1::PURPOSE_UNSPECIFIED) line += " for " + Strip(v1::Purpose_Name(e.purpose()), 8);
    for (int c : e.disclosed_categories()) line += " +" + CategoryName(c);
    for (int c : e.refused_categories()) line += " -" + CategoryName(c);
    if (e.basis() == v1::BASIS_CONSENT || e.basis() == v1::BASIS_SAFEGUARDING) {
      line += " on " + Strip(v1::Basis_Name(e.basis()), 6);
    }
    for (const std::string& c : e.consents()) line += " " + c;
    for (const std::string& r : e.reason_codes()) {
      if (r != "ALLOWED_BY_CONSENT") line += " (" + r + ")";
    }
    if (!e.request().empty()) line += " [" + e.request().substr(e.request().find('/') + 1) + "]";
    if (logged.has_details() && !logged.details().text().empty()) line += " — \"" + logged.details().text() + "\"";
    Say(line);
  }
  Say("Disclosures: " + std::to_string(report.disclosures()) + ", refusals: " + std::to_string(report.refusals()) +
      ". Each referral, each delivery and each status change the other side was told of is one line.");

  Step("30. The DPO takes a signed tree head: a checkpoint of the whole log");
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
