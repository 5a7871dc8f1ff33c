// Starting and stopping the real daemon: bad configuration, missing TLS files, an unwritable
// data directory and a corrupt database are refused with a message naming the problem and a
// non-zero exit, leaving nothing half-written; SIGTERM stops it cleanly.
#include <signal.h>

#include <fstream>

#include "gtest/gtest.h"
#include "hub/security/files.h"
#include "hub/store/store.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

using testsupport::HubProcess;
using testsupport::RunProgram;

int RunHub(const std::filesystem::path& config, std::string* out) {
  return RunProgram({testsupport::HubBinary(), "--config", config.string()}, out);
}

// Writes hub.json with one change applied to the text accordctl generated.
std::filesystem::path EditConfig(const HubProcess& hub, const std::string& from, const std::string& to) {
  std::string text = *security::ReadFile(hub.data_dir() / "hub.json");
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  auto path = hub.data_dir() / "edited.json";
  std::ofstream(path) << text;
  return path;
}

TEST(StartupTest, UnknownFieldIsRefusedWithItsPath) {
  HubProcess hub;
  std::string out;
  auto config = EditConfig(hub, "\"server_key_file\"", "\"server_kee_file\": \"x\", \"server_key_file\"");
  EXPECT_EQ(RunHub(config, &out), 2);
  EXPECT_NE(out.find("server_kee_file"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(hub.data_dir() / "hub.addr"));
}

TEST(StartupTest, InvalidValuesAreRefusedWithTheirPath) {
  HubProcess hub;
  std::string out;
  EXPECT_EQ(RunHub(EditConfig(hub, "127.0.0.1:0", "127.0.0.1:99999"), &out), 2);
  EXPECT_NE(out.find("listen_address: port"), std::string::npos) << out;
  EXPECT_EQ(RunHub(EditConfig(hub, "\"format\": \"text\"", "\"format\": \"xml\""), &out), 2);
  EXPECT_NE(out.find("logging.format"), std::string::npos) << out;
  EXPECT_EQ(RunHub(EditConfig(hub, "\"logging\"", "\"limits\": {\"max_page_size\": \"lots\"}, \"logging\""), &out), 2);
  EXPECT_NE(out.find("max_page_size"), std::string::npos) << out;
  EXPECT_EQ(RunHub(EditConfig(hub, "{", "{{"), &out), 2);  // not JSON at all
  EXPECT_EQ(RunProgram({testsupport::HubBinary()}, &out), 2);
  EXPECT_NE(out.find("--config"), std::string::npos) << out;
}

TEST(StartupTest, MissingTlsFileIsNamed) {
  HubProcess hub;
  std::string out;
  EXPECT_EQ(RunHub(EditConfig(hub, "tls/hub.crt", "tls/missing.crt"), &out), 2);
  EXPECT_NE(out.find("tls.server_cert_file"), std::string::npos) << out;
  EXPECT_NE(out.find("missing.crt: no such file"), std::string::npos) << out;
  std::filesystem::remove(hub.data_dir() / "ca/ca.crt");
  EXPECT_EQ(RunHub(hub.data_dir() / "hub.json", &out), 2);
  EXPECT_NE(out.find("tls.ca_cert_file"), std::string::npos) << out;
}

TEST(StartupTest, TlsFilesThatAreNotPemAreRefused) {
  HubProcess hub;
  std::ofstream(hub.data_dir() / "ca/ca.crt") << "not a certificate";
  std::string out;
  EXPECT_EQ(RunHub(hub.data_dir() / "hub.json", &out), 1);
  EXPECT_NE(out.find("tls.ca"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(hub.data_dir() / "hub.addr"));
}

TEST(StartupTest, DataDirectoryMustExistAndBeWritable) {
  HubProcess hub;
  std::string out;
  EXPECT_EQ(RunHub(EditConfig(hub, "\"data_dir\": \".\"", "\"data_dir\": \"no-such-dir\""), &out), 2);
  EXPECT_NE(out.find("data_dir"), std::string::npos) << out;
  EXPECT_NE(out.find("no such directory"), std::string::npos) << out;
  // A directory nobody may create files in (root ignores mode bits, so use one the kernel refuses).
  std::string unwritable = geteuid() == 0 ? "/proc/self" : "/";
  EXPECT_EQ(RunHub(EditConfig(hub, "\"data_dir\": \".\"", "\"data_dir\": \"" + unwritable + "\""), &out), 2);
  EXPECT_NE(out.find("data_dir: " + unwritable + ": not writable"), std::string::npos) << out;
}

TEST(StartupTest, CorruptDatabaseIsNamedAndLeftAsItWas) {
  HubProcess hub;
  auto db = hub.data_dir() / "accord.db";
  std::string garbage(16384, '\x5a');
  std::ofstream(db, std::ios::binary | std::ios::trunc) << garbage;
  std::string out;
  EXPECT_EQ(RunHub(hub.data_dir() / "hub.json", &out), 1);
  EXPECT_NE(out.find(db.string()), std::string::npos) << out;
  EXPECT_NE(out.find("not a database"), std::string::npos) << out;
  EXPECT_EQ(*security::ReadFile(db), garbage);
  EXPECT_FALSE(std::filesystem::exists(hub.data_dir() / "hub.addr"));
}

TEST(StartupTest, SigtermStopsCleanlyAndKeepsTheData) {
  HubProcess hub;
  hub.Enrol("ops", "Accord Operations", "LOCAL_AUTHORITY", "ADMIN");
  ASSERT_TRUE(hub.Start()) << hub.Log();
  EXPECT_EQ(hub.Stop(SIGTERM), 0) << hub.Log();
  std::string log = hub.Log();
  EXPECT_NE(log.find("event=hub_stopped"), std::string::npos) << log;
  EXPECT_NE(log.find("event=store_closed"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(hub.data_dir() / "hub.addr"));
  // The database closed cleanly: no WAL left behind, and everything is there.
  EXPECT_FALSE(std::filesystem::exists(hub.data_dir() / "accord.db-wal"));
  auto store = store::OpenSqliteStore(hub.data_dir() / "accord.db");
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->GetPartner("ops").ok());
  // And it starts again on the same data.
  ASSERT_TRUE(hub.Start()) << hub.Log();
  EXPECT_EQ(hub.Stop(SIGINT), 0);
}

}  // namespace
}  // namespace accord
