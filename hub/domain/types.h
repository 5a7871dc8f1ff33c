// The hub's domain model: plain values, no I/O. The enums are the public contract's own
// (accord/v1/common.proto) so a value never needs translating between layers.
#ifndef ACCORD_HUB_DOMAIN_TYPES_H_
#define ACCORD_HUB_DOMAIN_TYPES_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/time/time.h"
#include "accord/v1/common.pb.h"

namespace accord::domain {

using Sector = ::accord::v1::Sector;
using Role = ::accord::v1::Role;
using Purpose = ::accord::v1::Purpose;
using DataCategory = ::accord::v1::DataCategory;

enum class PartnerState { kActive, kSuspended, kRevoked };

absl::string_view PartnerStateName(PartnerState state);

// An organisation connected to the hub.
struct Partner {
  std::string id;            // e.g. "oakfield-primary"; see ValidatePartnerId.
  std::string display_name;  // unique
  Sector sector = ::accord::v1::SECTOR_UNSPECIFIED;
  std::vector<Role> roles;   // no duplicates
  PartnerState state = PartnerState::kActive;
  std::string state_reason;  // why suspended or revoked
  absl::Time create_time;

  bool HasRole(Role role) const;
};

// One side of an agreement or a consent scope: exactly one of a partner or a sector.
struct Party {
  std::string partner_id;  // set for a single partner
  Sector sector = ::accord::v1::SECTOR_UNSPECIFIED;  // set for a whole sector

  bool IsPartner() const { return !partner_id.empty(); }
  // True when `partner` is this party: the partner itself, or a partner of this sector.
  bool Covers(const Partner& partner) const;
};

// Which categories may flow from a discloser to a recipient, for which purposes, when.
struct SharingAgreement {
  std::string id;
  Party discloser;
  Party recipient;
  std::vector<Purpose> purposes;
  std::vector<DataCategory> categories;
  absl::Time valid_from;   // inclusive
  absl::Time valid_until;  // exclusive
  std::string description;
  std::string creator_id;  // the partner that recorded it
  absl::Time create_time;
};

// A client certificate the hub's CA issued to a partner.
struct Certificate {
  std::string serial_hex;  // lower-case hex, unique
  std::string partner_id;
  absl::Time not_after;
  bool revoked = false;
};

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_TYPES_H_
