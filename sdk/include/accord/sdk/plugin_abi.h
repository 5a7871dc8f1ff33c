/* The binary interface between the hub and an adapter plugin (a shared library).
 *
 * Plain C, so it does not depend on the compiler's C++ ABI. A plugin exports two functions:
 *
 *   uint32_t accord_plugin_abi_version(void);
 *       ACCORD_PLUGIN_ABI_VERSION the plugin was built against. The hub calls it first and
 *       loads nothing further unless it is a version it speaks.
 *   const AccordPluginApi* accord_plugin_api(void);
 *       The plugin's function table (static storage, never freed).
 *
 * Plugins written in C++ do not use this header directly: accord/sdk/plugin.h and the
 * ACCORD_PLUGIN macro define both exports around an accord::sdk::Adapter.
 *
 * Messages cross the boundary serialized (accord.plugin.v1, proto/accord/plugin/v1/adapter.proto).
 * Errors are status values: nothing may unwind across these functions (the SDK catches every
 * exception inside the plugin and returns it as INTERNAL).
 *
 * The table is append-only (like SQLite's sqlite3_api_routines): a later ABI version may add
 * members at the end; `struct_size` says how many the plugin filled in.
 */
#ifndef ACCORD_SDK_PLUGIN_ABI_H_
#define ACCORD_SDK_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACCORD_PLUGIN_ABI_VERSION 1u

/* Bytes the plugin allocated and hands to the hub; the hub returns them with free_output. */
typedef struct AccordOutput {
  uint8_t* data;
  size_t size;
} AccordOutput;

typedef struct AccordPluginApi {
  /* sizeof(AccordPluginApi) as the plugin was compiled. */
  uint32_t struct_size;
  /* Creates an adapter from its configuration: JSON text of the message the plugin declares
   * (Description.config_type). On failure returns NULL, sets *error_code (a google.rpc code,
   * e.g. 3 INVALID_ARGUMENT) and puts the message in *error. */
  void* (*create)(const char* config_json, size_t config_size, int32_t* error_code, AccordOutput* error);
  /* Destroys what create returned. */
  void (*destroy)(void* adapter);
  /* Calls `method` (an accord.plugin.v1.Method) with the serialized request. Returns a
   * google.rpc code: 0 with the serialized response in *output, or the error with its message
   * in *output. May be called from several threads at once. */
  int32_t (*call)(void* adapter, uint32_t method, const uint8_t* request, size_t request_size,
                  AccordOutput* output);
  /* Frees an AccordOutput filled by create or call. */
  void (*free_output)(AccordOutput* output);
} AccordPluginApi;

typedef uint32_t (*AccordPluginAbiVersionFn)(void);
typedef const AccordPluginApi* (*AccordPluginApiFn)(void);

#ifdef __cplusplus
}
#endif

#endif /* ACCORD_SDK_PLUGIN_ABI_H_ */
