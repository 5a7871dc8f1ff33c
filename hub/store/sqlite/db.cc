#include "hub/store/sqlite/db.h"

#include "absl/strings/str_cat.h"

namespace accord::store::sqlite {

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": ", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return absl::AlreadyExistsError(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return absl::UnavailableError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return absl::DataLossError(msg);
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_IOERR:
    case SQLITE_FULL: return absl::UnavailableError(msg);
    default: return absl::InternalError(msg);
  }
}

Statement& Statement::Bind(int pos, absl::string_view v) {
  sqlite3_bind_text(stmt_, pos, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int pos, int64_t v) {
  sqlite3_bind_int64(stmt_, pos, v);
  return *this;
}

Statement& Statement::BindBlob(int pos, absl::string_view bytes) {
  sqlite3_bind_blob(stmt_, pos, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

std::string Statement::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
}

Statement& Statement::BindNull(int pos) {
  sqlite3_bind_null(stmt_, pos);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, "step");
}

absl::Status Statement::Run() {
  for (;;) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

std::string Statement::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
}

namespace {

// SQLite's memory statistics take one process-wide mutex on every allocation, which the writer and
// the readers then contend for; nothing here reads them. This must come before SQLite initialises
// (sqlite3_config is refused after; then the default stays, which is only slower).
void ConfigureSqliteOnce() {
  static const bool configured = [] { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK; }();
  (void)configured;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::filesystem::path& file, bool writable) {
  ConfigureSqliteOnce();
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | (writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
  int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = SqliteError(db, rc, absl::StrCat("cannot open database ", file.string()));
    sqlite3_close(db);
    return s;
  }
  auto conn = std::unique_ptr<Connection>(new Connection(db));
  sqlite3_busy_timeout(db, 5000);
  // journal_mode=WAL reads the file: a corrupt or foreign file fails here, with its name.
  std::string pragmas = writable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;"
                                   "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=1000; PRAGMA temp_store=MEMORY;"
                                 : "PRAGMA foreign_keys=ON; PRAGMA schema_version;";
  if (absl::Status s = conn->Exec(pragmas); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("database ", file.string(), ": ", s.message()));
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

absl::StatusOr<Statement> Connection::Prepare(absl::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                                nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
    it = cache_.emplace(std::string(sql), stmt).first;
  }
  return Statement(db_, it->second);
}

absl::Status Connection::Exec(absl::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    absl::Status s = SqliteError(db_, rc, "exec");
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

absl::Status Connection::Run(absl::string_view sql) {
  absl::StatusOr<Statement> st = Prepare(sql);
  if (!st.ok()) return st.status();
  return st->Run();
}

absl::StatusOr<Transaction> Transaction::Begin(Connection& conn) {
  if (absl::Status s = conn.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  return Transaction(&conn);
}

Transaction::~Transaction() {
  if (conn_) (void)conn_->Exec("ROLLBACK");
}

absl::Status Transaction::Commit() {
  absl::Status s = conn_->Exec("COMMIT");
  if (s.ok()) conn_ = nullptr;
  return s;
}

}  // namespace accord::store::sqlite
