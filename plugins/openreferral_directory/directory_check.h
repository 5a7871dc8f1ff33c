// For the tests: an imported accord.v1.Service as the directory's domain model, to check it
// against the publishing rules and the search (hub/domain/directory.h).
#ifndef ACCORD_PLUGINS_OPENREFERRAL_DIRECTORY_DIRECTORY_CHECK_H_
#define ACCORD_PLUGINS_OPENREFERRAL_DIRECTORY_DIRECTORY_CHECK_H_

#include "accord/v1/directory.pb.h"
#include "hub/domain/directory.h"

namespace accord::openreferral {

inline domain::Service ToDomain(const std::string& id, const accord::v1::Service& s) {
  domain::Service d;
  d.id = id;
  d.provider_id = "importer";
  d.display_name = s.display_name();
  d.description = s.description();
  d.url = s.url();
  d.email = s.email();
  d.organization = {s.organization().display_name(), s.organization().description(), s.organization().url(),
                    s.organization().email()};
  d.eligibility.minimum_age = s.eligibility().minimum_age();
  if (s.eligibility().has_maximum_age()) d.eligibility.maximum_age = s.eligibility().maximum_age();
  for (int t : s.eligibility().need_types()) d.eligibility.need_types.push_back(static_cast<domain::NeedType>(t));
  d.eligibility.minimum_level = s.eligibility().minimum_level_of_need();
  d.eligibility.maximum_level = s.eligibility().maximum_level_of_need();
  d.eligibility.description = s.eligibility().description();
  for (const auto& a : s.service_areas()) {
    d.areas.push_back({a.description(),
                       {a.postcode_prefixes().begin(), a.postcode_prefixes().end()},
                       {a.local_authorities().begin(), a.local_authorities().end()},
                       a.uri()});
  }
  d.nationwide = s.nationwide();
  for (const auto& c : s.contacts()) d.contacts.push_back({c.name(), c.title(), c.email(), c.phone()});
  d.availability.accepting_referrals = s.availability().accepting_referrals();
  d.availability.capacity = s.availability().capacity();
  return d;
}

}  // namespace accord::openreferral

#endif  // ACCORD_PLUGINS_OPENREFERRAL_DIRECTORY_DIRECTORY_CHECK_H_
