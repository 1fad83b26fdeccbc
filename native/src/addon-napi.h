/*
 * The addon's checked Node-API calls (CHECKED, and in test builds injectFault) and the argument
 * and result helpers of the functions JavaScript calls.
 */
#ifndef DOW_ADDON_NAPI_H
#define DOW_ADDON_NAPI_H

#define NAPI_VERSION 8
#include <node_api.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Shared between the addon's files only: hidden, so the .node exports no more than its module
   init, and no name here binds to a same-named symbol of the process's. */
#pragma GCC visibility push(hidden)

typedef struct instance instance;

#ifdef DOW_FAULT_INJECTION
/* Test builds only (build-native.mjs --fault): injectFault(name, after) makes the Node-API call
   whose text starts with `name` fail once, after `after` successful ones, so the failure paths of
   calls that cannot fail on demand (a string over V8's limit, out of memory) run in tests. */
napi_status faulted(const char *call, napi_status status);
napi_value js_inject_fault(napi_env env, napi_callback_info info);
#define FAULTED(call, status) faulted(call, status)
#else
#define FAULTED(call, status) (status)
#endif

/* Every Node-API call goes through this: on a failure `on_failure` runs, most often a statement
   that leaves (a return or a goto). In a function JavaScript called it throws (throw_failed); while
   building an event, with no JavaScript on the stack, the connection's error path reports it. Only
   the calls that are themselves the report (napi_throw_*, napi_fatal_exception) go unchecked. */
#define CHECKED(call, on_failure)                                 \
  do {                                                            \
    if (FAULTED(#call, (call)) != napi_ok) { on_failure; }        \
  } while (0)

/* Throws DOW_ERR_NATIVE_CALL (shared/errors.ts) for a failed call, unless the call left an
   exception pending already (that one says more); NULL, for the function to return. */
napi_value throw_failed(napi_env env, const char *what);

static inline napi_status number(napi_env env, double value, napi_value *out) {
  return napi_create_double(env, value, out);
}

/* `want` arguments into argv; -1 with a TypeError thrown when fewer were given. */
int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

/* The environment's instance (addon.h), or NULL. */
instance *instance_of(napi_env env);

/* The arguments and the instance, or NULL with an exception thrown. */
instance *begin(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

/* A connection's or listener's id; -1 (no such id) for a value that is not a number. */
int64_t id_arg(napi_env env, napi_value value);

/* A result for JavaScript, or NULL with an exception thrown. */
napi_value result_int(napi_env env, int value);
napi_value result_number(napi_env env, double value);

#pragma GCC visibility pop

#endif
