/*
 * The addon's per-instance state (one per Node environment: the main thread, each worker thread)
 * and what its files share: addon.c (lifetime, exports), addon-events.c (events into JavaScript,
 * the machine's system calls and loop), addon-listeners.c, addon-connections.c and addon-ring.c.
 */
#ifndef DOW_ADDON_H
#define DOW_ADDON_H

#include <uv.h>

#include "addon-napi.h"
#include "conn-machine.h"

#define SHARED_PAIR_WORDS 4096 /* 1,024 pairs: any real head; a bigger one gets its own array */

#pragma GCC visibility push(hidden) /* as in addon-napi.h */

struct instance {
  dow_machine machine; /* its `user` is this instance */
  napi_env env;
  uv_loop_t *loop;
  napi_ref dispatch;
  napi_ref resource;
  napi_async_context context;
  napi_ref shared_pairs;
  uint32_t *shared_pair_words;
  dow_id_table listeners;
  unsigned open_handles; /* loop handles not closed yet: a worker thread's end waits for them */
  napi_async_cleanup_hook_handle cleanup;
};

/* The part of a JavaScript Buffer the kernel did not take stays queued in C (write-queue.h) by a
   reference to the Buffer, as libuv's uv_write keeps net.Socket's: it is not copied. */
typedef struct write_source {
  napi_env env;
  const napi_value *buffers;
} write_source;

/* addon.c: a loop handle of ours has closed (a worker thread's end may be waiting for it). */
void handle_closed(instance *inst);

/* addon-events.c: the machine's system calls, loop and JavaScript; an event no connection
   carries (a listener's accept error). */
extern const dow_machine_ops ADDON_OPS;
void dispatch_errno(instance *inst, int kind, int64_t id, int error);
napi_value js_init(napi_env env, napi_callback_info info);

/* addon-listeners.c */
void close_listeners(instance *inst);
napi_value js_listen(napi_env env, napi_callback_info info);
napi_value js_set_backlog(napi_env env, napi_callback_info info);
napi_value js_close_listener(napi_env env, napi_callback_info info);
napi_value js_defer_accept_seconds(napi_env env, napi_callback_info info);
napi_value js_stop_deferring(napi_env env, napi_callback_info info);
napi_value js_refuse_handshakes(napi_env env, napi_callback_info info);

/* addon-connections.c */
napi_value js_write(napi_env env, napi_callback_info info);
napi_value js_writev(napi_env env, napi_callback_info info);
napi_value js_shutdown(napi_env env, napi_callback_info info);
napi_value js_close(napi_env env, napi_callback_info info);
napi_value js_read(napi_env env, napi_callback_info info);
napi_value js_set_no_delay(napi_env env, napi_callback_info info);
napi_value js_counts(napi_env env, napi_callback_info info);

/* addon-ring.c */
napi_value js_ring_create(napi_env env, napi_callback_info info);
napi_value js_ring_attach(napi_env env, napi_callback_info info);
napi_value js_ring_fd(napi_env env, napi_callback_info info);
napi_value js_ring_write(napi_env env, napi_callback_info info);
napi_value js_ring_read(napi_env env, napi_callback_info info);
napi_value js_ring_set_load(napi_env env, napi_callback_info info);
napi_value js_ring_load(napi_env env, napi_callback_info info);
napi_value js_ring_close(napi_env env, napi_callback_info info);

#pragma GCC visibility pop

#endif
