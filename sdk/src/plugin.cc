#include "accord/sdk/plugin.h"

#include <cstdlib>
#include <cstring>
#include <exception>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace accord::sdk {

absl::Status Adapter::LookupPerson(const plugin::v1::LookupPersonRequest&, plugin::v1::LookupPersonResponse*) {
  return absl::UnimplementedError("this adapter does not look people up");
}
absl::Status Adapter::FetchRecords(const plugin::v1::FetchRecordsRequest&, plugin::v1::FetchRecordsResponse*) {
  return absl::UnimplementedError("this adapter does not fetch records");
}
absl::Status Adapter::DeliverReferral(const plugin::v1::DeliverReferralRequest&,
                                      plugin::v1::DeliverReferralResponse*) {
  return absl::UnimplementedError("this adapter does not take referrals");
}
absl::Status Adapter::PollStatusChanges(const plugin::v1::PollStatusChangesRequest&,
                                        plugin::v1::PollStatusChangesResponse*) {
  return absl::UnimplementedError("this adapter does not report status changes");
}
absl::Status Adapter::Health(plugin::v1::HealthResponse* response) {
  response->set_serving(true);
  return absl::OkStatus();
}

namespace internal {
namespace {

Factory g_factory = nullptr;  // set once by MakeApi, before any other entry point runs

void Fill(AccordOutput* out, absl::string_view bytes) {
  out->size = bytes.size();
  out->data = static_cast<uint8_t*>(std::malloc(bytes.empty() ? 1 : bytes.size()));
  if (out->data == nullptr) {
    out->size = 0;
    return;
  }
  if (!bytes.empty()) std::memcpy(out->data, bytes.data(), bytes.size());
}

int32_t Fail(const absl::Status& status, AccordOutput* out) {
  Fill(out, status.message());
  return static_cast<int32_t>(status.code());
}

// Parses the request, calls the adapter, serializes the response.
template <typename Request, typename Response>
int32_t Dispatch(const uint8_t* data, size_t size, AccordOutput* out,
                 absl::Status (*call)(Adapter&, const Request&, Response*), Adapter& adapter) {
  Request request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) {
    return Fail(absl::InvalidArgumentError("the request does not parse"), out);
  }
  Response response;
  absl::Status status = call(adapter, request, &response);
  if (!status.ok()) return Fail(status, out);
  Fill(out, response.SerializeAsString());
  return 0;
}

void* CreateAdapter(const char* config_json, size_t config_size, int32_t* error_code, AccordOutput* error) noexcept {
  try {
    absl::StatusOr<std::unique_ptr<Adapter>> adapter = g_factory(std::string(config_json, config_size));
    if (!adapter.ok()) {
      *error_code = Fail(adapter.status(), error);
      return nullptr;
    }
    return adapter->release();
  } catch (const std::exception& e) {
    *error_code = Fail(absl::InternalError(absl::StrCat("the plugin threw while starting: ", e.what())), error);
  } catch (...) {
    *error_code = Fail(absl::InternalError("the plugin threw while starting"), error);
  }
  return nullptr;
}

void DestroyAdapter(void* adapter) noexcept {
  try {
    delete static_cast<Adapter*>(adapter);
  } catch (...) {
    // Nothing can be reported from a destructor; the object is gone either way.
  }
}

int32_t Call(void* self, uint32_t method, const uint8_t* request, size_t size, AccordOutput* out) noexcept {
  Adapter& adapter = *static_cast<Adapter*>(self);
  using namespace ::accord::plugin::v1;  // NOLINT: the message names below
  try {
    switch (method) {
      case METHOD_DESCRIBE:
        return Dispatch<DescribeRequest, Description>(
            request, size, out,
            +[](Adapter& a, const DescribeRequest&, Description* d) {
              *d = a.Describe();
              return absl::OkStatus();
            },
            adapter);
      case METHOD_LOOKUP_PERSON:
        return Dispatch<LookupPersonRequest, LookupPersonResponse>(
            request, size, out,
            +[](Adapter& a, const LookupPersonRequest& q, LookupPersonResponse* r) { return a.LookupPerson(q, r); },
            adapter);
      case METHOD_FETCH_RECORDS:
        return Dispatch<FetchRecordsRequest, FetchRecordsResponse>(
            request, size, out,
            +[](Adapter& a, const FetchRecordsRequest& q, FetchRecordsResponse* r) { return a.FetchRecords(q, r); },
            adapter);
      case METHOD_DELIVER_REFERRAL:
        return Dispatch<DeliverReferralRequest, DeliverReferralResponse>(
            request, size, out,
            +[](Adapter& a, const DeliverReferralRequest& q, DeliverReferralResponse* r) {
              return a.DeliverReferral(q, r);
            },
            adapter);
      case METHOD_POLL_STATUS_CHANGES:
        return Dispatch<PollStatusChangesRequest, PollStatusChangesResponse>(
            request, size, out,
            +[](Adapter& a, const PollStatusChangesRequest& q, PollStatusChangesResponse* r) {
              return a.PollStatusChanges(q, r);
            },
            adapter);
      case METHOD_HEALTH:
        return Dispatch<HealthRequest, HealthResponse>(
            request, size, out, +[](Adapter& a, const HealthRequest&, HealthResponse* r) { return a.Health(r); },
            adapter);
      default:
        return Fail(absl::UnimplementedError(absl::StrCat("unknown plugin method ", method)), out);
    }
  } catch (const std::exception& e) {
    return Fail(absl::InternalError(absl::StrCat("the plugin threw: ", e.what())), out);
  } catch (...) {
    return Fail(absl::InternalError("the plugin threw"), out);
  }
}

void FreeOutput(AccordOutput* output) noexcept {
  std::free(output->data);
  output->data = nullptr;
  output->size = 0;
}

}  // namespace

absl::Status ParseConfig(const std::string& json, google::protobuf::Message* config) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json.empty() ? "{}" : json, config, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config (", config->GetTypeName(), "): ", std::string(status.message())));
  }
  return absl::OkStatus();
}

const AccordPluginApi* MakeApi(Factory factory) {
  static const AccordPluginApi api = [&] {
    g_factory = factory;
    AccordPluginApi table{};
    table.struct_size = sizeof(AccordPluginApi);
    table.create = &CreateAdapter;
    table.destroy = &DestroyAdapter;
    table.call = &Call;
    table.free_output = &FreeOutput;
    return table;
  }();
  return &api;
}

}  // namespace internal
}  // namespace accord::sdk
