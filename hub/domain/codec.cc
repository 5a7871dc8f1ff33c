#include "hub/domain/codec.h"

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "hub/domain/validation.h"

namespace accord::domain {
namespace {

std::string IdOf(absl::string_view name, absl::string_view prefix) {
  absl::string_view v = name;
  if (absl::ConsumePrefix(&v, prefix)) return std::string(v);
  return std::string(name);
}

}  // namespace

google::protobuf::Timestamp TimeToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  int64_t ms = absl::ToUnixMillis(t);
  int64_t seconds = ms / 1000, rest = ms % 1000;
  if (rest < 0) {
    rest += 1000;
    --seconds;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(rest * 1000000));
  return out;
}

absl::Time TimeFromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

google::protobuf::Duration DurationToProto(absl::Duration d) {
  google::protobuf::Duration out;
  int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
  return out;
}

absl::Duration DurationFromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

::accord::v1::Availability AvailabilityToProto(const Availability& a) {
  ::accord::v1::Availability out;
  out.set_accepting_referrals(a.accepting_referrals);
  out.set_capacity(a.capacity);
  *out.mutable_waiting_time() = DurationToProto(a.waiting_time);
  if (a.update_time != absl::Time()) *out.mutable_update_time() = TimeToProto(a.update_time);
  return out;
}

Availability AvailabilityFromProto(const ::accord::v1::Availability& a) {
  Availability out;
  out.accepting_referrals = a.accepting_referrals();
  out.capacity = a.capacity();
  out.waiting_time = DurationFromProto(a.waiting_time());
  if (a.has_update_time()) out.update_time = TimeFromProto(a.update_time());
  return out;
}

::accord::v1::Service ServiceToProto(const Service& s) {
  ::accord::v1::Service out;
  if (!s.id.empty()) out.set_name(ServiceName(s.id));
  if (!s.provider_id.empty()) out.set_provider(PartnerName(s.provider_id));
  out.set_display_name(s.display_name);
  out.set_description(s.description);
  out.set_url(s.url);
  out.set_email(s.email);
  ::accord::v1::Organization* org = out.mutable_organization();
  org->set_display_name(s.organization.display_name);
  org->set_description(s.organization.description);
  org->set_url(s.organization.url);
  org->set_email(s.organization.email);
  ::accord::v1::Eligibility* e = out.mutable_eligibility();
  e->set_minimum_age(s.eligibility.minimum_age);
  if (s.eligibility.maximum_age) e->set_maximum_age(*s.eligibility.maximum_age);
  for (NeedType t : s.eligibility.need_types) e->add_need_types(t);
  e->set_minimum_level_of_need(s.eligibility.minimum_level);
  e->set_maximum_level_of_need(s.eligibility.maximum_level);
  e->set_description(s.eligibility.description);
  for (const ServiceArea& a : s.areas) {
    ::accord::v1::ServiceArea* area = out.add_service_areas();
    area->set_description(a.description);
    for (const std::string& p : a.postcode_prefixes) area->add_postcode_prefixes(p);
    for (const std::string& la : a.local_authorities) area->add_local_authorities(la);
    area->set_uri(a.uri);
  }
  out.set_nationwide(s.nationwide);
  for (const Contact& c : s.contacts) {
    ::accord::v1::Contact* contact = out.add_contacts();
    contact->set_name(c.name);
    contact->set_title(c.title);
    contact->set_email(c.email);
    contact->set_phone(c.phone);
  }
  *out.mutable_availability() = AvailabilityToProto(s.availability);
  if (s.create_time != absl::Time()) *out.mutable_create_time() = TimeToProto(s.create_time);
  if (s.update_time != absl::Time()) *out.mutable_update_time() = TimeToProto(s.update_time);
  return out;
}

Service ServiceFromProto(const ::accord::v1::Service& in) {
  Service s;
  if (!in.name().empty()) s.id = IdOf(in.name(), "services/");
  if (!in.provider().empty()) s.provider_id = IdOf(in.provider(), "partners/");
  s.display_name = in.display_name();
  s.description = in.description();
  s.url = in.url();
  s.email = in.email();
  s.organization = {in.organization().display_name(), in.organization().description(), in.organization().url(),
                    in.organization().email()};
  const ::accord::v1::Eligibility& e = in.eligibility();
  s.eligibility.minimum_age = e.minimum_age();
  if (e.has_maximum_age()) s.eligibility.maximum_age = e.maximum_age();
  for (int t : e.need_types()) s.eligibility.need_types.push_back(static_cast<NeedType>(t));
  s.eligibility.minimum_level = e.minimum_level_of_need();
  s.eligibility.maximum_level = e.maximum_level_of_need();
  s.eligibility.description = e.description();
  for (const ::accord::v1::ServiceArea& a : in.service_areas()) {
    ServiceArea area;
    area.description = a.description();
    area.postcode_prefixes.assign(a.postcode_prefixes().begin(), a.postcode_prefixes().end());
    area.local_authorities.assign(a.local_authorities().begin(), a.local_authorities().end());
    area.uri = a.uri();
    s.areas.push_back(std::move(area));
  }
  s.nationwide = in.nationwide();
  for (const ::accord::v1::Contact& c : in.contacts()) s.contacts.push_back({c.name(), c.title(), c.email(), c.phone()});
  s.availability = AvailabilityFromProto(in.availability());
  if (in.has_create_time()) s.create_time = TimeFromProto(in.create_time());
  if (in.has_update_time()) s.update_time = TimeFromProto(in.update_time());
  return s;
}

::accord::v1::Decline DeclineToProto(const Decline& d) {
  ::accord::v1::Decline out;
  out.set_reason(d.reason);
  out.set_text(d.text);
  if (!d.redirect_service_id.empty()) {
    out.set_redirect_service(ServiceName(d.redirect_service_id));
  } else if (d.redirect_sector != ::accord::v1::SECTOR_UNSPECIFIED) {
    out.set_redirect_sector(d.redirect_sector);
  }
  return out;
}

Decline DeclineFromProto(const ::accord::v1::Decline& d) {
  Decline out;
  out.reason = d.reason();
  out.text = d.text();
  if (d.redirect_case() == ::accord::v1::Decline::kRedirectService) {
    out.redirect_service_id = IdOf(d.redirect_service(), "services/");
  } else if (d.redirect_case() == ::accord::v1::Decline::kRedirectSector) {
    out.redirect_sector = d.redirect_sector();
  }
  return out;
}

::accord::v1::Closure ClosureToProto(const Closure& c) {
  ::accord::v1::Closure out;
  out.set_reason(c.reason);
  out.set_text(c.text);
  return out;
}

Closure ClosureFromProto(const ::accord::v1::Closure& c) { return Closure{c.reason(), c.text()}; }

::accord::v1::Referral ReferralToProto(const Referral& r) {
  ::accord::v1::Referral out;
  if (!r.id.empty()) out.set_name(ReferralName(r.id));
  out.set_service(ServiceName(r.service_id));
  if (!r.referrer_id.empty()) out.set_referrer(PartnerName(r.referrer_id));
  if (!r.provider_id.empty()) out.set_provider(PartnerName(r.provider_id));
  if (!r.subject_id.empty()) out.set_subject(SubjectName(r.subject_id));
  for (const Need& n : r.needs) {
    ::accord::v1::Need* need = out.add_needs();
    need->set_type(n.type);
    need->set_level(n.level);
  }
  out.set_background(r.background);
  out.set_urgency(r.urgency);
  if (!r.consent_id.empty()) out.set_consent(ConsentName(r.consent_id));
  if (r.lawful_basis) {
    out.mutable_lawful_basis()->set_kind(r.lawful_basis->kind == LawfulBasisKind::kSafeguarding
                                             ? ::accord::v1::LAWFUL_BASIS_KIND_SAFEGUARDING
                                             : ::accord::v1::LAWFUL_BASIS_KIND_UNSPECIFIED);
    out.mutable_lawful_basis()->set_justification(r.lawful_basis->justification);
  }
  for (DataCategory c : r.categories) out.add_data_categories(c);
  out.set_idempotency_key(r.idempotency_key);
  out.set_state(r.state);
  if (r.decline) *out.mutable_decline() = DeclineToProto(*r.decline);
  if (r.expected_wait) *out.mutable_expected_wait() = DurationToProto(*r.expected_wait);
  if (r.waitlist_position) out.set_waitlist_position(*r.waitlist_position);
  if (r.closure) *out.mutable_closure() = ClosureToProto(*r.closure);
  out.set_withdraw_reason(r.withdraw_reason);
  for (const StateChange& c : r.history) {
    ::accord::v1::StateChange* change = out.add_history();
    change->set_state(c.state);
    change->set_actor(PartnerName(c.actor_id));
    *change->mutable_time() = TimeToProto(c.time);
  }
  if (r.create_time != absl::Time()) *out.mutable_create_time() = TimeToProto(r.create_time);
  if (r.update_time != absl::Time()) *out.mutable_update_time() = TimeToProto(r.update_time);
  if (!r.previous_id.empty()) out.set_previous_referral(ReferralName(r.previous_id));
  out.set_link(r.link);
  for (const EarlierReferral& e : r.earlier) {
    ::accord::v1::EarlierReferral* out_e = out.add_earlier_referrals();
    out_e->set_service(ServiceName(e.service_id));
    out_e->set_state(e.state);
    for (const Need& n : e.needs) {
      ::accord::v1::Need* need = out_e->add_needs();
      need->set_type(n.type);
      need->set_level(n.level);
    }
    out_e->set_decline_reason(e.decline_reason);
    out_e->set_closure_reason(e.closure_reason);
    if (e.create_time != absl::Time()) *out_e->mutable_create_time() = TimeToProto(e.create_time);
  }
  if (!r.concurrent_service_ids.empty() || r.concurrent_undisclosed > 0) {
    for (const std::string& id : r.concurrent_service_ids) out.mutable_concurrent()->add_services(ServiceName(id));
    out.mutable_concurrent()->set_undisclosed_count(r.concurrent_undisclosed);
  }
  return out;
}

Referral ReferralFromProto(const ::accord::v1::Referral& in) {
  Referral r;
  if (!in.name().empty()) r.id = IdOf(in.name(), "referrals/");
  r.service_id = IdOf(in.service(), "services/");
  if (!in.referrer().empty()) r.referrer_id = IdOf(in.referrer(), "partners/");
  if (!in.provider().empty()) r.provider_id = IdOf(in.provider(), "partners/");
  r.subject_id = IdOf(in.subject(), "subjects/");
  for (const ::accord::v1::Need& n : in.needs()) r.needs.push_back(Need{n.type(), n.level()});
  r.background = in.background();
  r.urgency = in.urgency();
  if (!in.consent().empty()) r.consent_id = IdOf(in.consent(), "consents/");
  if (in.has_lawful_basis()) {
    r.lawful_basis = LawfulBasis{in.lawful_basis().kind() == ::accord::v1::LAWFUL_BASIS_KIND_SAFEGUARDING
                                     ? LawfulBasisKind::kSafeguarding
                                     : LawfulBasisKind::kUnspecified,
                                 in.lawful_basis().justification()};
  }
  for (int c : in.data_categories()) r.categories.push_back(static_cast<DataCategory>(c));
  r.idempotency_key = in.idempotency_key();
  r.state = in.state();
  if (in.has_decline()) r.decline = DeclineFromProto(in.decline());
  if (in.has_expected_wait()) r.expected_wait = DurationFromProto(in.expected_wait());
  if (in.has_waitlist_position()) r.waitlist_position = in.waitlist_position();
  if (in.has_closure()) r.closure = ClosureFromProto(in.closure());
  r.withdraw_reason = in.withdraw_reason();
  for (const ::accord::v1::StateChange& c : in.history()) {
    r.history.push_back(StateChange{c.state(), IdOf(c.actor(), "partners/"), TimeFromProto(c.time())});
  }
  if (in.has_create_time()) r.create_time = TimeFromProto(in.create_time());
  if (in.has_update_time()) r.update_time = TimeFromProto(in.update_time());
  if (!in.previous_referral().empty()) r.previous_id = IdOf(in.previous_referral(), "referrals/");
  r.link = in.link();
  for (const std::string& name : in.concurrent().services()) r.concurrent_service_ids.push_back(IdOf(name, "services/"));
  r.concurrent_undisclosed = in.concurrent().undisclosed_count();
  for (const ::accord::v1::EarlierReferral& e : in.earlier_referrals()) {
    EarlierReferral earlier;
    earlier.service_id = IdOf(e.service(), "services/");
    earlier.state = e.state();
    for (const ::accord::v1::Need& n : e.needs()) earlier.needs.push_back(Need{n.type(), n.level()});
    earlier.decline_reason = e.decline_reason();
    earlier.closure_reason = e.closure_reason();
    if (e.has_create_time()) earlier.create_time = TimeFromProto(e.create_time());
    r.earlier.push_back(std::move(earlier));
  }
  return r;
}

::accord::v1::OutcomeValue OutcomeToProto(const OutcomeValue& o) {
  ::accord::v1::OutcomeValue out;
  out.set_measure(o.measure);
  out.set_timepoint(o.timepoint);
  out.set_value(o.value);
  for (int s : o.item_scores) out.add_item_scores(s);
  if (o.sdq_scales) {
    ::accord::v1::SdqScales* s = out.mutable_sdq_scales();
    s->set_emotional_symptoms(o.sdq_scales->emotional_symptoms);
    s->set_conduct_problems(o.sdq_scales->conduct_problems);
    s->set_hyperactivity(o.sdq_scales->hyperactivity);
    s->set_peer_problems(o.sdq_scales->peer_problems);
  }
  out.set_goals_set(o.goals_set);
  return out;
}

OutcomeValue OutcomeFromProto(const ::accord::v1::OutcomeValue& in) {
  OutcomeValue o;
  o.measure = in.measure();
  o.timepoint = in.timepoint();
  o.value = in.value();
  o.item_scores.assign(in.item_scores().begin(), in.item_scores().end());
  if (in.has_sdq_scales()) {
    o.sdq_scales = SdqScales{in.sdq_scales().emotional_symptoms(), in.sdq_scales().conduct_problems(),
                             in.sdq_scales().hyperactivity(), in.sdq_scales().peer_problems()};
  }
  o.goals_set = in.goals_set();
  return o;
}

}  // namespace accord::domain
