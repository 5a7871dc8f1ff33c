// The school adapter: serves a pupil's IDENTITY, EDUCATION, SEN and ATTENDANCE from the Common
// Transfer Files a school MIS exports into a folder. The folder is re-read when its files change
// (names, sizes or times), so a new export is picked up on the next call. A pupil in several files
// is served from the file with the newest header DateTime. Pupils a file cannot give (bad UPN,
// repeats) are reported through Health and on stderr, and every other pupil is served.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "accord/sdk/plugin.h"
#include "ctf_school_config.pb.h"
#include "plugins/ctf_school/ctf_parser.h"

namespace accord::ctf_school {
namespace {

namespace fs = std::filesystem;
using plugin::v1::Description;

constexpr int64_t kDefaultMaxFileBytes = int64_t{256} << 20;

struct Index {
  std::string signature;
  // UPN -> the pupil and the header DateTime of the file it came from.
  std::map<std::string, std::pair<CtfPupil, std::string>> pupils;
  std::vector<std::string> problems;
};

class CtfSchoolAdapter : public sdk::Adapter {
 public:
  static absl::StatusOr<std::unique_ptr<CtfSchoolAdapter>> Create(const v1::CtfSchoolConfig& config) {
    if (config.ctf_folder().empty()) return absl::InvalidArgumentError("ctf_folder is required");
    std::error_code ec;
    if (!fs::is_directory(config.ctf_folder(), ec)) {
      return absl::InvalidArgumentError(absl::StrCat("ctf_folder: ", config.ctf_folder(), " is not a folder"));
    }
    if (config.max_file_bytes() < 0) return absl::InvalidArgumentError("max_file_bytes: must not be negative");
    return std::unique_ptr<CtfSchoolAdapter>(new CtfSchoolAdapter(config));
  }

  Description Describe() const override {
    Description d;
    d.set_name("ctf_school");
    d.set_version("1.0.0");
    d.add_capabilities(plugin::v1::CAPABILITY_LOOKUP_PERSON);
    d.add_capabilities(plugin::v1::CAPABILITY_FETCH_RECORDS);
    for (auto c : {accord::v1::DATA_CATEGORY_IDENTITY, accord::v1::DATA_CATEGORY_EDUCATION,
                   accord::v1::DATA_CATEGORY_SEN, accord::v1::DATA_CATEGORY_ATTENDANCE}) {
      d.add_data_categories(c);
    }
    d.set_config_type(v1::CtfSchoolConfig::descriptor()->full_name());
    return d;
  }

  absl::Status LookupPerson(const plugin::v1::LookupPersonRequest& request,
                            plugin::v1::LookupPersonResponse* response) override {
    auto index = Current();
    if (!index.ok()) return index.status();
    const std::string upn = absl::AsciiStrToUpper(request.identifiers().upn());
    const auto& demo = request.demographics();
    if (upn.empty() && (demo.family_name().empty() || demo.birth_date().empty())) {
      return absl::InvalidArgumentError("a UPN, or a family name and date of birth, is needed to find a pupil");
    }
    for (const auto& [key, entry] : (*index)->pupils) {
      const accord::v1::IdentityRecord& id = entry.first.identity;
      bool fits = false;
      if (!upn.empty()) {
        fits = key == upn;
      } else if (!demo.family_name().empty() && !demo.birth_date().empty()) {
        fits = absl::EqualsIgnoreCase(id.family_name(), demo.family_name()) && id.birth_date() == demo.birth_date() &&
               (demo.given_name().empty() || absl::EqualsIgnoreCase(id.given_name(), demo.given_name())) &&
               (demo.postcode().empty() || Postcode(id.postcode()) == Postcode(demo.postcode()));
      }
      if (!fits) continue;
      plugin::v1::PersonMatch* match = response->add_matches();
      match->set_local_id(key);
      match->mutable_identifiers()->set_upn(key);
      match->mutable_demographics()->set_given_name(id.given_name());
      match->mutable_demographics()->set_family_name(id.family_name());
      match->mutable_demographics()->set_birth_date(id.birth_date());
      match->mutable_demographics()->set_postcode(id.postcode());
    }
    return absl::OkStatus();
  }

  absl::Status FetchRecords(const plugin::v1::FetchRecordsRequest& request,
                            plugin::v1::FetchRecordsResponse* response) override {
    auto index = Current();
    if (!index.ok()) return index.status();
    auto it = (*index)->pupils.find(absl::AsciiStrToUpper(request.local_id()));
    if (it == (*index)->pupils.end())
      return absl::NotFoundError(absl::StrCat("no pupil with UPN ", request.local_id()));
    const CtfPupil& pupil = it->second.first;
    for (int c : request.data_categories()) {
      switch (c) {
        case accord::v1::DATA_CATEGORY_IDENTITY: {
          accord::v1::Record* r = Add(response, accord::v1::DATA_CATEGORY_IDENTITY, pupil.upn + "/identity");
          *r->mutable_identity() = pupil.identity;
          break;
        }
        case accord::v1::DATA_CATEGORY_EDUCATION: {
          accord::v1::Record* r = Add(response, accord::v1::DATA_CATEGORY_EDUCATION, pupil.upn + "/education");
          *r->mutable_education() = pupil.education;
          break;
        }
        case accord::v1::DATA_CATEGORY_SEN:
          for (size_t i = 0; i < pupil.sen.size(); ++i) {
            accord::v1::Record* r = Add(response, accord::v1::DATA_CATEGORY_SEN, absl::StrCat(pupil.upn, "/sen/", i));
            *r->mutable_sen() = pupil.sen[i];
          }
          break;
        case accord::v1::DATA_CATEGORY_ATTENDANCE:
          for (size_t i = 0; i < pupil.attendance.size(); ++i) {
            accord::v1::Record* r =
                Add(response, accord::v1::DATA_CATEGORY_ATTENDANCE, absl::StrCat(pupil.upn, "/attendance/", i));
            *r->mutable_attendance() = pupil.attendance[i];
          }
          break;
        default:
          break;  // not held here
      }
    }
    return absl::OkStatus();
  }

  absl::Status Health(plugin::v1::HealthResponse* response) override {
    auto index = Current();
    if (!index.ok()) {
      response->set_serving(false);
      response->set_detail(std::string(index.status().message()));
      return absl::OkStatus();
    }
    response->set_serving(true);
    std::string detail = absl::StrCat((*index)->pupils.size(), " pupils");
    if (!(*index)->problems.empty()) {
      absl::StrAppend(&detail, "; ", (*index)->problems.size(),
                      " problems in the CTF files, first: ", (*index)->problems.front());
    }
    response->set_detail(detail);
    return absl::OkStatus();
  }

 private:
  explicit CtfSchoolAdapter(v1::CtfSchoolConfig config) : config_(std::move(config)) {}

  static std::string Postcode(absl::string_view p) {
    std::string out;
    for (char c : p) {
      if (c != ' ') out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
    }
    return out;
  }

  static accord::v1::Record* Add(plugin::v1::FetchRecordsResponse* response, accord::v1::DataCategory category,
                                 std::string source_id) {
    accord::v1::Record* r = response->add_records();
    r->set_data_category(category);
    r->set_source_id(std::move(source_id));
    return r;
  }

  // The folder's files, in name order, as "name size mtime;" (changes when an export lands).
  absl::StatusOr<std::vector<fs::directory_entry>> Listing(std::string* signature) const {
    std::error_code ec;
    std::vector<fs::directory_entry> files;
    for (fs::directory_iterator it(config_.ctf_folder(), ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (!it->is_regular_file(ec) || p.filename().string().starts_with(".")) continue;
      std::string ext = absl::AsciiStrToLower(p.extension().string());
      if (ext == ".xml") files.push_back(*it);
    }
    if (ec) return absl::UnavailableError(absl::StrCat("cannot read ", config_.ctf_folder(), ": ", ec.message()));
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path() < b.path(); });
    for (const auto& f : files) {
      struct stat st {};
      if (::stat(f.path().c_str(), &st) != 0) continue;
      absl::StrAppend(signature, f.path().filename().string(), " ", st.st_size, " ", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec, ";");
    }
    return files;
  }

  absl::StatusOr<std::shared_ptr<const Index>> Current() {
    std::string signature;
    auto files = Listing(&signature);
    if (!files.ok()) return files.status();
    std::lock_guard<std::mutex> lock(mu_);
    if (index_ != nullptr && index_->signature == signature) return index_;
    auto index = std::make_shared<Index>();
    index->signature = signature;
    const int64_t limit = config_.max_file_bytes() > 0 ? config_.max_file_bytes() : kDefaultMaxFileBytes;
    for (const auto& f : *files) {
      const std::string name = f.path().filename().string();
      std::error_code ec;
      const auto size = fs::file_size(f.path(), ec);
      if (ec) continue;
      if (static_cast<int64_t>(size) > limit) {
        index->problems.push_back(
            absl::StrCat(name, ": ", size, " bytes is over max_file_bytes (", limit, "); not read"));
        continue;
      }
      std::ifstream in(f.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      CtfFile parsed = ParseCtf(bytes.str(), name);
      for (auto& p : parsed.problems) index->problems.push_back(std::move(p));
      for (auto& pupil : parsed.pupils) {
        auto found = index->pupils.find(pupil.upn);
        if (found == index->pupils.end()) {
          std::string upn = pupil.upn;
          index->pupils.emplace(upn, std::make_pair(std::move(pupil), parsed.date_time));
        } else {
          index->problems.push_back(absl::StrCat(name, ": UPN ", pupil.upn,
                                                 " is also in another file; the one with the ",
                                                 "newest header DateTime is served"));
          if (parsed.date_time > found->second.second)
            found->second = std::make_pair(std::move(pupil), parsed.date_time);
        }
      }
    }
    for (const auto& p : index->problems) std::cerr << "ctf_school: " << p << "\n";
    index_ = std::move(index);
    return index_;
  }

  const v1::CtfSchoolConfig config_;
  std::mutex mu_;
  std::shared_ptr<const Index> index_;  // guarded by mu_
};

}  // namespace
}  // namespace accord::ctf_school

ACCORD_PLUGIN(accord::ctf_school::CtfSchoolAdapter, accord::ctf_school::v1::CtfSchoolConfig)
