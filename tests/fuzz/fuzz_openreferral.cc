// Feeds arbitrary bytes to the Open Referral importer (plugins/openreferral_directory) and checks
// that nothing crashes, leaks or hits undefined behaviour, and that every imported service keeps
// the importer's promises (a name, a need type, ages within 0-25, an area with a prefix or local
// authority) and that exporting the services and importing them again gives the same services.
#include <cstddef>
#include <cstdint>

#include "google/protobuf/util/message_differencer.h"
#include "plugins/openreferral_directory/openreferral.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  accord::openreferral::ImportResult r = accord::openreferral::ImportServices(input);
  for (const auto& s : r.services) {
    const auto& v = s.service;
    FUZZ_CHECK(!s.service_id.empty());
    FUZZ_CHECK(!v.display_name().empty());
    FUZZ_CHECK(v.eligibility().need_types_size() > 0);
    FUZZ_CHECK(v.eligibility().minimum_age() >= 0 && v.eligibility().minimum_age() <= v.eligibility().maximum_age() &&
               v.eligibility().maximum_age() <= 25);
    FUZZ_CHECK(v.service_areas_size() > 0);
    for (const auto& a : v.service_areas()) FUZZ_CHECK(a.postcode_prefixes_size() + a.local_authorities_size() > 0);
  }
  if (r.services.empty()) return 0;
  accord::openreferral::ImportResult again =
      accord::openreferral::ImportServices(accord::openreferral::ExportServices(r.services));
  FUZZ_CHECK(again.services.size() == r.services.size());
  for (size_t k = 0; k < r.services.size(); ++k) {
    FUZZ_CHECK(again.services[k].service_id == r.services[k].service_id);
    FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(again.services[k].service, r.services[k].service));
  }
  return 0;
}
