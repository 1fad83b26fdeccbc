/*
 * The addon's checked Node-API calls: the fault injection of test builds, the throw for a failed
 * call, and the argument and result helpers every exported function uses (addon-napi.h).
 */
#define _GNU_SOURCE
#include "addon-napi.h"

#include <stdio.h>
#include <string.h>

#ifdef DOW_FAULT_INJECTION
static char fault_name[64];
static int fault_after = -1;

napi_status faulted(const char *call, napi_status status) {
  if (fault_after < 0 || strncmp(call, fault_name, strlen(fault_name)) != 0) return status;
  if (fault_after-- > 0) return status;
  return napi_generic_failure;
}
#endif

napi_value throw_failed(napi_env env, const char *what) {
  bool pending = false;
  CHECKED(napi_is_exception_pending(env, &pending), pending = false);
  if (pending) return NULL;
  char message[160];
  snprintf(message, sizeof message, "native I/O core: %s failed", what);
  napi_throw_error(env, "DOW_ERR_NATIVE_CALL", message);
  return NULL;
}

int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  CHECKED(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), argc = 0);
  if (argc < want) {
    napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: missing arguments");
    return -1;
  }
  return 0;
}

instance *instance_of(napi_env env) {
  instance *inst = NULL;
  CHECKED(napi_get_instance_data(env, (void **)&inst), return NULL);
  return inst;
}

instance *begin(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  if (get_args(env, info, want, argv) != 0) return NULL;
  instance *inst = instance_of(env);
  if (inst == NULL) throw_failed(env, "napi_get_instance_data");
  return inst;
}

int64_t id_arg(napi_env env, napi_value value) {
  int64_t id = -1;
  if (napi_get_value_int64(env, value, &id) != napi_ok) return -1; /* not a number: no such id */
  return id;
}

napi_value result_int(napi_env env, int value) {
  napi_value out;
  CHECKED(napi_create_int32(env, value, &out), return throw_failed(env, "napi_create_int32"));
  return out;
}

napi_value result_number(napi_env env, double value) {
  napi_value out;
  CHECKED(number(env, value, &out), return throw_failed(env, "napi_create_double"));
  return out;
}

#ifdef DOW_FAULT_INJECTION
/* injectFault(name, after): see FAULTED in addon-napi.h. */
napi_value js_inject_fault(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  size_t length = 0;
  int32_t after = 0;
  CHECKED(napi_get_value_string_latin1(env, argv[0], fault_name, sizeof fault_name, &length), return throw_failed(env, "injectFault"));
  CHECKED(napi_get_value_int32(env, argv[1], &after), return throw_failed(env, "injectFault"));
  fault_after = after;
  return NULL;
}
#endif
