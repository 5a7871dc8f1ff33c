// A plugin built for another ABI version: the hub must refuse it before calling anything else.
#include <cstdlib>

#include "accord/sdk/plugin_abi.h"

extern "C" __attribute__((visibility("default"))) uint32_t accord_plugin_abi_version(void) {
  return ACCORD_PLUGIN_ABI_VERSION + 41;
}

extern "C" __attribute__((visibility("default"))) const AccordPluginApi* accord_plugin_api(void) {
  std::abort();  // never reached: the version check comes first
}
