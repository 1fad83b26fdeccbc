/*
 * The native I/O core: accepts SCGI connections, reads and parses the head in C, hands
 * JavaScript one call per request, and writes and closes in C. Everything else (the thread limit
 * and queue, timeouts, the app, the stats and the store) stays in JavaScript, which drives this
 * through the functions exported at the bottom (server/native/native-binding.ts).
 *
 * It runs on the main thread's libuv loop: uv_poll_t on the listening socket and on a connection
 * only while it must wait. TCP_DEFER_ACCEPT on the listener means a connection is accepted with
 * its request already in the kernel, so most requests are accept4, read, write, close.
 *
 * The connection's state machine is conn-machine.c. The glue around it, one file each:
 * - addon.c (this file): the per-instance state's lifetime and the exports' table;
 * - addon-napi.c: the checked Node-API calls, and the arguments and results of exported functions;
 * - addon-events.c: the machine's system calls, loop and JavaScript (ADDON_OPS);
 * - addon-listeners.c: the listening sockets; addon-connections.c: the connections' functions;
 * - addon-ring.c: the timing-row rings (row-ring.c).
 *
 * Memory safety (docs/architecture.md, "The native I/O core"):
 * - JavaScript names connections and listeners by id (id-table.h), never by pointer. An id that
 *   outlived its connection finds nothing; every exported function checks it first.
 * - Every call into JavaScript can close the connection it is about: the app may answer and
 *   finish synchronously. So the machine never uses a connection pointer after an event: it
 *   looks the id up again. The fuzzer (native/fuzz/machine-fuzz.c) runs that code under ASan
 *   with a JavaScript that closes, writes and pauses at any point.
 * - A closed connection's loop handle outlives it until uv_close's callback and points at
 *   nothing meanwhile; uv_close drops the events still pending for it.
 * - Untrusted bytes go only through the parser and head reader (fuzzed under ASan and UBSan),
 *   into buffers they bound themselves.
 */
#define _GNU_SOURCE
#include "addon.h"

#include <stdlib.h>

/* ── module lifetime ────────────────────────────────────────────────────────────────────────── */

/* A worker thread's end (Worker.terminate(), or its last handle gone) waits in an async cleanup
   hook until every loop handle of ours has closed: Node aborts a thread whose loop still has open
   handles when it closes it. */
void handle_closed(instance *inst) {
  inst->open_handles--;
  if (inst->open_handles == 0 && inst->cleanup != NULL) {
    napi_async_cleanup_hook_handle cleanup = inst->cleanup;
    inst->cleanup = NULL;
    CHECKED(napi_remove_async_cleanup_hook(cleanup), return); /* Node then waits for the hook for good: nothing else can end it */
  }
}

static void close_conn_at_cleanup(void *value, void *data) {
  dow_conn *c = value;
  dow_conn_close(c->machine, c->id, 1);
}

/* The environment is going away (process exit, or a worker thread's end): connections are reset
   (a response cut here is not whole), listeners close, and the hook ends once their handles have. */
static void cleanup_hook(napi_async_cleanup_hook_handle handle, void *data) {
  instance *inst = data;
  inst->cleanup = handle;
  dow_id_each(&inst->machine.conns, close_conn_at_cleanup, NULL);
  close_listeners(inst);
  if (inst->open_handles == 0) {
    inst->cleanup = NULL;
    CHECKED(napi_remove_async_cleanup_hook(handle), return);
  }
}

static void teardown(napi_env env, void *data, void *hint) {
  (void)hint;
  instance *inst = data;
  if (inst->context != NULL) CHECKED(napi_async_destroy(env, inst->context), return); /* the environment is going anyway */
}

NAPI_MODULE_INIT() {
  instance *inst = calloc(1, sizeof(instance));
  if (inst == NULL) {
    napi_throw_error(env, "DOW_ERR_NATIVE_CALL", "native I/O core: out of memory");
    return NULL;
  }
  dow_machine_init(&inst->machine, &ADDON_OPS, inst);
  inst->env = env;
  napi_value resource, name, buffer, pairs;
  void *words;
  CHECKED(napi_get_uv_event_loop(env, &inst->loop), goto failed);
  CHECKED(napi_create_object(env, &resource), goto failed);
  CHECKED(napi_create_reference(env, resource, 1, &inst->resource), goto failed);
  CHECKED(napi_create_string_utf8(env, "dragon-on-wheels:native-io", NAPI_AUTO_LENGTH, &name), goto failed);
  CHECKED(napi_async_init(env, resource, name, &inst->context), goto failed);
  CHECKED(napi_create_arraybuffer(env, SHARED_PAIR_WORDS * sizeof(uint32_t), &words, &buffer), goto failed);
  CHECKED(napi_create_typedarray(env, napi_uint32_array, SHARED_PAIR_WORDS, buffer, 0, &pairs), goto failed);
  inst->shared_pair_words = words;
  CHECKED(napi_create_reference(env, pairs, 1, &inst->shared_pairs), goto failed);
  CHECKED(napi_set_instance_data(env, inst, teardown, NULL), goto failed);
  /* From here the instance belongs to the environment: when it ends, the async cleanup hook closes
     the loop handles and teardown ends the async context. The instance's memory is not freed. */
  CHECKED(napi_add_async_cleanup_hook(env, cleanup_hook, inst, NULL), return throw_failed(env, "napi_add_async_cleanup_hook"));

  napi_property_descriptor functions[] = {
    {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
    {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
    {"setBacklog", NULL, js_set_backlog, NULL, NULL, NULL, napi_default, NULL},
    {"closeListener", NULL, js_close_listener, NULL, NULL, NULL, napi_default, NULL},
    {"deferAcceptSeconds", NULL, js_defer_accept_seconds, NULL, NULL, NULL, napi_default, NULL},
    {"stopDeferring", NULL, js_stop_deferring, NULL, NULL, NULL, napi_default, NULL},
    {"refuseHandshakes", NULL, js_refuse_handshakes, NULL, NULL, NULL, napi_default, NULL},
    {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
    {"writev", NULL, js_writev, NULL, NULL, NULL, napi_default, NULL},
    {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"read", NULL, js_read, NULL, NULL, NULL, napi_default, NULL},
    {"setNoDelay", NULL, js_set_no_delay, NULL, NULL, NULL, napi_default, NULL},
    {"counts", NULL, js_counts, NULL, NULL, NULL, napi_default, NULL},
    {"ringCreate", NULL, js_ring_create, NULL, NULL, NULL, napi_default, NULL},
    {"ringAttach", NULL, js_ring_attach, NULL, NULL, NULL, napi_default, NULL},
    {"ringFd", NULL, js_ring_fd, NULL, NULL, NULL, napi_default, NULL},
    {"ringWrite", NULL, js_ring_write, NULL, NULL, NULL, napi_default, NULL},
    {"ringRead", NULL, js_ring_read, NULL, NULL, NULL, napi_default, NULL},
    {"ringClose", NULL, js_ring_close, NULL, NULL, NULL, napi_default, NULL},
    {"ringSetLoad", NULL, js_ring_set_load, NULL, NULL, NULL, napi_default, NULL},
    {"ringLoad", NULL, js_ring_load, NULL, NULL, NULL, napi_default, NULL},
#ifdef DOW_FAULT_INJECTION
    {"injectFault", NULL, js_inject_fault, NULL, NULL, NULL, napi_default, NULL},
#endif
  };
  CHECKED(napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions), return throw_failed(env, "napi_define_properties"));
  return exports;
failed:
  /* Nothing was handed to the environment yet. */
  free(inst);
  return throw_failed(env, "loading the addon");
}
