#include "hub/domain/types.h"

#include <algorithm>

namespace accord::domain {

absl::string_view PartnerStateName(PartnerState state) {
  switch (state) {
    case PartnerState::kActive: return "ACTIVE";
    case PartnerState::kSuspended: return "SUSPENDED";
    case PartnerState::kRevoked: return "REVOKED";
  }
  return "UNKNOWN";
}

bool Partner::HasRole(Role role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool Party::Covers(const Partner& partner) const {
  if (IsPartner()) return partner_id == partner.id;
  return sector != ::accord::v1::SECTOR_UNSPECIFIED && sector == partner.sector;
}

}  // namespace accord::domain
