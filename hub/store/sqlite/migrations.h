// Versioned schema migrations. PRAGMA user_version holds the number applied; each migration
// runs in its own transaction, so a failed one leaves the previous version intact.
#ifndef ACCORD_HUB_STORE_SQLITE_MIGRATIONS_H_
#define ACCORD_HUB_STORE_SQLITE_MIGRATIONS_H_

#include "absl/status/status.h"
#include "hub/store/sqlite/db.h"

namespace accord::store::sqlite {

// The schema version this build writes.
int LatestSchemaVersion();

// Applies every migration above the database's version. A database newer than this build is
// refused with FAILED_PRECONDITION.
absl::Status Migrate(Connection& conn);

}  // namespace accord::store::sqlite

#endif  // ACCORD_HUB_STORE_SQLITE_MIGRATIONS_H_
