// Open Referral UK / HSDS 3.0 services <-> Accord's directory (accord/v1/directory.proto).
//
// ImportServices reads an Open Referral document (a page of services {"contents": [...]}, an
// ORUK v1 page {"content": [...]}, an array of services, or one service) and maps each service
// onto an accord.v1::Service ready for DirectoryService.PublishService:
//   id                        -> service_id (lower case; must fit [a-z0-9-], else left out)
//   name, description, url, email -> display_name, description, url, email
//   status                    -> availability.accepting_referrals ("active" only)
//   organization              -> organization (name, description, website or url, email)
//   minimum_age, maximum_age, eligibility_description (HSDS 3) or eligibilitys[] (ORUK)
//                             -> eligibility (ages clamped to Accord's 0-25, reported)
//   attributes[].taxonomy_term (HSDS 3) or service_taxonomys[].taxonomy (ORUK)
//                             -> eligibility.need_types, by the term's code or name (the need type
//                                names, e.g. "LOW_MOOD", and common words for them, e.g.
//                                "depression", "self harm", "young carers"; see the .cc).
//                                Every term that maps to no need type is reported with its path.
//                                When none maps, need types are read from the service's own words
//                                (description, eligibility) and that is reported too.
//   service_areas[]           -> service_areas: description from name/service_area, uri; postcode
//                                prefixes and ONS local authority codes from `extent` when it is a
//                                comma-separated list, else from districts ("LS6") and codes
//                                ("E08000035") named in the area's words. An area with neither is
//                                reported and replaced by options.default_area when given.
//   contacts[] (service, and its service_at_locations) -> contacts (first phone number)
// Levels of need are not in Open Referral: options say them (default up to TARGETED). A service
// that cannot be published (no id, no name, no need type, no usable area) is left out and
// reported; everything else is imported. Issues name the JSON path ("contents[3].service_areas[0]").
//
// ExportServices writes services back as an HSDS 3.0 page of services; need types and levels go
// out as taxonomy terms of the vocabularies "accord-need-type" / "accord-level-of-need", and areas
// as comma-separated `extent` lists, so an export imports back to the same services.
// Thread-safe; no state.
#ifndef ACCORD_PLUGINS_OPENREFERRAL_DIRECTORY_OPENREFERRAL_H_
#define ACCORD_PLUGINS_OPENREFERRAL_DIRECTORY_OPENREFERRAL_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "accord/v1/directory.pb.h"

namespace accord::openreferral {

struct ImportOptions {
  accord::v1::LevelOfNeed minimum_level_of_need = accord::v1::LEVEL_OF_NEED_UNIVERSAL;
  accord::v1::LevelOfNeed maximum_level_of_need = accord::v1::LEVEL_OF_NEED_TARGETED;
  // Used for a service whose areas give no postcode prefix or local authority.
  std::optional<accord::v1::ServiceArea> default_area;
  // Called after each service with (services read, services in the document), e.g. for a progress
  // bar on large files. Optional.
  std::function<void(size_t, size_t)> progress;
};

struct ImportIssue {
  // JSON path of what the issue is about, e.g. "contents[0].attributes[0].taxonomy_term".
  std::string path;
  std::string message;
  // True when the whole service was left out because of it.
  bool left_out = false;
};

struct ImportedService {
  std::string service_id;
  accord::v1::Service service;
};

struct ImportResult {
  std::vector<ImportedService> services;
  std::vector<ImportIssue> issues;
  // Every taxonomy term that mapped to no need type, once each, as "vocabulary:code (name)".
  std::vector<std::string> unknown_terms;
};

// Errors are per service (in `issues`); a document that is not JSON, or holds no services, gives
// one issue at path "$".
ImportResult ImportServices(absl::string_view json, const ImportOptions& options = {});

// An HSDS 3.0 page of services (pretty-printed JSON).
std::string ExportServices(const std::vector<ImportedService>& services);

}  // namespace accord::openreferral

#endif  // ACCORD_PLUGINS_OPENREFERRAL_DIRECTORY_OPENREFERRAL_H_
