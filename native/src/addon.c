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
 * The connection's state machine is conn-machine.c; this file gives it its system calls, the
 * loop and JavaScript (ADDON_OPS), and owns the listeners and the exported functions.
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
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn-machine.h"
#include "row-ring.h"

/* What the listeners report besides the connection events of conn-machine.h (pinned in
   server/native/native-binding.ts). */
#define EV_ACCEPT_ERROR 8 /* (lid, errno) */

#define SHARED_PAIR_WORDS 4096 /* 1,024 pairs: any real head; a bigger one gets its own array */
#define ACCEPT_PAUSE_MS 100    /* after EMFILE: retry later instead of spinning on a ready fd */

/* ── checked Node-API calls ─────────────────────────────────────────────────────────────────── */

#ifdef DOW_FAULT_INJECTION
/* Test builds only (build-native.mjs --fault): injectFault(name, after) makes the Node-API call
   whose text starts with `name` fail once, after `after` successful ones, so the failure paths of
   calls that cannot fail on demand (a string over V8's limit, out of memory) run in tests. */
static char fault_name[64];
static int fault_after = -1;

static napi_status faulted(const char *call, napi_status status) {
  if (fault_after < 0 || strncmp(call, fault_name, strlen(fault_name)) != 0) return status;
  if (fault_after-- > 0) return status;
  return napi_generic_failure;
}
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
static napi_value throw_failed(napi_env env, const char *what) {
  bool pending = false;
  CHECKED(napi_is_exception_pending(env, &pending), pending = false);
  if (pending) return NULL;
  char message[160];
  snprintf(message, sizeof message, "native I/O core: %s failed", what);
  napi_throw_error(env, "DOW_ERR_NATIVE_CALL", message);
  return NULL;
}

typedef struct instance instance;

typedef struct listener {
  uv_poll_t poll;
  uv_timer_t pause;
  instance *inst;
  int64_t id;
  int fd;
  int tcp;
  int owns_socket; /* bound here, not a copy of the supervisor's: only then may it clear TCP_DEFER_ACCEPT */
  int closing;
  dow_scgi_limits limits;
} listener;

/* A connection's loop handle; it outlives the connection until its close callback. */
typedef struct conn_poll {
  uv_poll_t handle;
  instance *inst;
} conn_poll;

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

static instance *instance_of_machine(dow_machine *m) {
  return m->user;
}

/* ── calls into JavaScript ──────────────────────────────────────────────────────────────────── */

/* Runs dispatch(argv...) as a top-level callback: nextTicks and promise jobs run after it, as
   after any I/O callback of Node's own. An exception becomes an uncaught exception. 0, or EIO
   when JavaScript could not be called. */
static int dispatch(instance *inst, size_t argc, napi_value *argv) {
  napi_env env = inst->env;
  napi_value fn, global, result;
  if (inst->dispatch == NULL) return 0;
  CHECKED(napi_get_reference_value(env, inst->dispatch, &fn), return EIO);
  if (fn == NULL) return 0;
  CHECKED(napi_get_global(env, &global), return EIO);
  napi_status status = napi_make_callback(env, inst->context, global, fn, argc, argv, &result);
  if (status == napi_pending_exception) {
    napi_value error;
    CHECKED(napi_get_and_clear_last_exception(env, &error), return 0);
    napi_fatal_exception(env, error);
    return 0;
  }
  return status == napi_ok ? 0 : EIO;
}

static napi_status number(napi_env env, double value, napi_value *out) {
  return napi_create_double(env, value, out);
}

/* An accept error, which no connection carries: if even it cannot be told, the listener goes on
   (the next one may be). */
static void dispatch_errno(instance *inst, int kind, int64_t id, int error) {
  napi_env env = inst->env;
  napi_handle_scope scope;
  CHECKED(napi_open_handle_scope(env, &scope), return);
  napi_value argv[3];
  CHECKED(number(env, kind, &argv[0]), goto done);
  CHECKED(number(env, (double)id, &argv[1]), goto done);
  CHECKED(number(env, error, &argv[2]), goto done);
  dispatch(inst, 3, argv);
done:
  CHECKED(napi_close_handle_scope(env, scope), return);
}

/* The peer as Node shows it (remoteAddress, remotePort); a Unix peer has neither. */
static int peer_values(napi_env env, const dow_conn *c, napi_value *address, napi_value *port) {
  char text[INET6_ADDRSTRLEN];
  const void *ip = NULL;
  uint16_t number_of_port = 0;
  if (c->peer.ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)&c->peer;
    ip = &in->sin_addr;
    number_of_port = ntohs(in->sin_port);
  } else if (c->peer.ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&c->peer;
    ip = &in6->sin6_addr;
    number_of_port = ntohs(in6->sin6_port);
  }
  CHECKED(napi_get_undefined(env, address), return ENOMEM);
  CHECKED(napi_get_undefined(env, port), return ENOMEM);
  if (ip == NULL) return 0;
  if (inet_ntop(c->peer.ss_family, ip, text, sizeof text) != NULL) {
    CHECKED(napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, address), return ENOMEM);
  }
  CHECKED(number(env, number_of_port, port), return ENOMEM);
  return 0;
}

/* The arguments every event that introduces a connection starts with: (kind, id, lid, address,
   port). */
static int introduce(napi_env env, const dow_conn *c, napi_value *argv) {
  CHECKED(number(env, (double)c->listener_id, &argv[2]), return ENOMEM);
  return peer_values(env, c, &argv[3], &argv[4]);
}

/* REQUEST's arguments after the introduction: (block, pairCount, contentLength, rest, pairs). The
   pairs' offsets go in the shared array, or a new one for a head with more pairs than it holds.
   The block is one latin1 string: the config caps maxHeaderBytes below V8's longest string
   (server/protocol/limits.ts), and a failed string is still this connection's error, not a crash. */
static int request_values(instance *inst, const dow_conn *c, const dow_event *event, napi_value *argv) {
  napi_env env = inst->env;
  uint32_t count = c->head.parser.pair_count;
  uint32_t *words = inst->shared_pair_words;
  if ((uint64_t)count * 4 <= SHARED_PAIR_WORDS) {
    CHECKED(napi_get_reference_value(env, inst->shared_pairs, &argv[4]), return ENOMEM);
  } else {
    napi_value buffer;
    void *data;
    CHECKED(napi_create_arraybuffer(env, (size_t)count * 4 * sizeof(uint32_t), &data, &buffer), return ENOMEM);
    CHECKED(napi_create_typedarray(env, napi_uint32_array, (size_t)count * 4, buffer, 0, &argv[4]), return ENOMEM);
    words = data;
  }
  for (uint32_t i = 0; i < count; i++) {
    dow_scgi_pair pair;
    if (dow_head_pair(&c->head, i, &pair) != 0) memset(&pair, 0, sizeof pair);
    words[i * 4] = pair.name_off;
    words[i * 4 + 1] = pair.name_len;
    words[i * 4 + 2] = pair.value_off;
    words[i * 4 + 3] = pair.value_len;
  }
  CHECKED(napi_create_string_latin1(env, (const char *)dow_head_block(&c->head), dow_head_block_length(&c->head), &argv[0]), return ENOMEM);
  CHECKED(number(env, count, &argv[1]), return ENOMEM);
  CHECKED(number(env, (double)c->head.parser.content_length, &argv[2]), return ENOMEM);
  if (event->length > 0) {
    CHECKED(napi_create_buffer_copy(env, event->length, event->bytes, NULL, &argv[3]), return ENOMEM);
  } else {
    CHECKED(napi_get_undefined(env, &argv[3]), return ENOMEM);
  }
  return 0;
}

/* An event's arguments; 0, or ENOMEM when one could not be made (JavaScript is then not called
   and the machine reports the connection's error instead: conn-machine.c's emit()). */
static int event_values(instance *inst, dow_conn *c, const dow_event *event, napi_value *argv, size_t *argc) {
  napi_env env = inst->env;
  *argc = 2;
  CHECKED(number(env, event->kind, &argv[0]), return ENOMEM);
  CHECKED(number(env, (double)c->id, &argv[1]), return ENOMEM);
  switch (event->kind) {
    case DOW_EV_WAIT:
      *argc = 5;
      return introduce(env, c, argv);
    case DOW_EV_REQUEST: {
      *argc = 10;
      int error = introduce(env, c, argv);
      return error != 0 ? error : request_values(inst, c, event, argv + 5);
    }
    case DOW_EV_BAD: {
      *argc = 6;
      int error = introduce(env, c, argv);
      if (error != 0) return error;
      CHECKED(napi_create_buffer_copy(env, c->head.replay_length, c->head.replay, NULL, &argv[5]), return ENOMEM);
      return 0;
    }
    case DOW_EV_DATA:
      *argc = 3;
      CHECKED(napi_create_buffer_copy(env, event->length, event->bytes, NULL, &argv[2]), return ENOMEM);
      return 0;
    case DOW_EV_ERROR:
      *argc = 4;
      CHECKED(number(env, event->error, &argv[2]), return ENOMEM);
      CHECKED(number(env, event->failed_call, &argv[3]), return ENOMEM);
      return 0;
    case DOW_EV_EOF:
    case DOW_EV_DRAIN:
      return 0;
  }
  return 0;
}

/* An event of conn-machine.h as one dispatch() call (native-listener.ts reads them):
     WAIT     (kind, id, lid, address, port)
     REQUEST  (kind, id, lid, address, port, block, pairCount, contentLength, rest, pairs)
     BAD      (kind, id, lid, address, port, replay)
     DATA     (kind, id, bytes)
     ERROR    (kind, id, errno, failedCall)
     EOF, DRAIN (kind, id)
   and the listeners' ACCEPT_ERROR (kind, lid, errno) through dispatch_errno(). */
static int emit_to_js(dow_machine *m, dow_conn *c, const dow_event *event) {
  instance *inst = instance_of_machine(m);
  napi_env env = inst->env;
  napi_handle_scope scope;
  CHECKED(napi_open_handle_scope(env, &scope), return ENOMEM);
  napi_value argv[10];
  size_t argc = 2;
  int error = event_values(inst, c, event, argv, &argc);
  if (error == 0) error = dispatch(inst, argc, argv);
  CHECKED(napi_close_handle_scope(env, scope), return error != 0 ? error : ENOMEM);
  return error;
}

/* The part of a JavaScript Buffer the kernel did not take stays queued in C (write-queue.h) by a
   reference to the Buffer, as libuv's uv_write keeps net.Socket's: it is not copied. */
typedef struct write_source {
  napi_env env;
  const napi_value *buffers;
} write_source;

static void *hold_buffer(dow_machine *m, void *source, size_t index) {
  const write_source *from = source;
  napi_ref ref = NULL;
  CHECKED(napi_create_reference(from->env, from->buffers[index], 1, &ref), return NULL);
  return ref;
}

static void release_buffer(dow_machine *m, void *token) {
  /* A failure leaves the Buffer to the environment's end; there is nothing else to do. */
  CHECKED(napi_delete_reference(instance_of_machine(m)->env, token), return);
}

/* ── the machine's system calls and loop ────────────────────────────────────────────────────── */

static ssize_t sys_read(dow_machine *m, int fd, void *buffer, size_t length) {
  return read(fd, buffer, length);
}

static ssize_t sys_sendmsg(dow_machine *m, int fd, const struct msghdr *message) {
  return sendmsg(fd, message, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static int sys_shutdown_write(dow_machine *m, int fd) {
  return shutdown(fd, SHUT_WR);
}

static void on_conn_event(uv_poll_t *handle, int status, int events) {
  dow_conn *c = handle->data;
  if (c == NULL) return; /* closed: uv_close is pending */
  int socket_error = 0;
  /* libuv reports a socket error (POLLERR: a reset, a refused write) as UV_EBADF; the real one
     is the socket's. */
  if (status == UV_EBADF) {
    socklen_t length = sizeof socket_error;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &socket_error, &length) != 0) socket_error = 0;
  }
  int ready = 0;
  if (events & (UV_READABLE | UV_DISCONNECT)) ready |= DOW_POLL_READABLE;
  if (events & UV_WRITABLE) ready |= DOW_POLL_WRITABLE;
  dow_conn_ready(c, status, socket_error, ready);
}

static void handle_closed(instance *inst);

static void free_conn_poll(uv_handle_t *handle) {
  conn_poll *poll = (conn_poll *)handle;
  instance *inst = poll->inst;
  free(poll);
  handle_closed(inst);
}

/* A connection is polled only while it must wait; its handle is made the first time. */
static int loop_poll(dow_machine *m, dow_conn *c, int events) {
  uv_poll_t *handle = c->poll;
  if (events == 0) return handle == NULL ? 0 : uv_poll_stop(handle);
  if (handle == NULL) {
    instance *inst = instance_of_machine(m);
    conn_poll *poll = malloc(sizeof(conn_poll));
    if (poll == NULL) return UV_ENOMEM;
    int error = uv_poll_init_socket(inst->loop, &poll->handle, c->fd);
    if (error != 0) {
      free(poll);
      return error;
    }
    poll->inst = inst;
    inst->open_handles++;
    handle = &poll->handle;
    handle->data = c;
    c->poll = handle;
  }
  int uv_events = 0;
  if (events & DOW_POLL_READABLE) uv_events |= UV_READABLE;
  if (events & DOW_POLL_WRITABLE) uv_events |= UV_WRITABLE;
  return uv_poll_start(handle, uv_events, on_conn_event);
}

static void loop_close(dow_machine *m, dow_conn *c, int reset) {
  if (reset && c->tcp) {
    /* SO_LINGER 0: close() sends RST, so the front end cannot take a cut response as whole. */
    struct linger linger = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
  }
  uv_poll_t *handle = c->poll;
  if (handle != NULL) {
    /* uv_close first: it drops this fd's events still pending in the loop's current batch, which
       a new connection given the same descriptor number would otherwise receive. The handle
       outlives the connection until its close callback; it no longer points at it. */
    handle->data = NULL;
    uv_close((uv_handle_t *)handle, free_conn_poll);
  }
  close(c->fd);
}

static const dow_machine_ops ADDON_OPS = {
  .read = sys_read,
  .sendmsg = sys_sendmsg,
  .shutdown_write = sys_shutdown_write,
  .poll = loop_poll,
  .close = loop_close,
  .emit = emit_to_js,
  .hold = hold_buffer,
  .release = release_buffer,
};

/* ── listeners ──────────────────────────────────────────────────────────────────────────────── */

static void on_listener_readable(uv_poll_t *handle, int status, int events);

static void on_listener_closed(uv_handle_t *handle) {
  listener *l = handle->data;
  if ((uv_handle_t *)&l->poll == handle) {
    uv_close((uv_handle_t *)&l->pause, on_listener_closed);
    return;
  }
  instance *inst = l->inst;
  free(l);
  handle_closed(inst);
}

static void resume_accepting(uv_timer_t *timer) {
  listener *l = timer->data;
  if (!l->closing) uv_poll_start(&l->poll, UV_READABLE, on_listener_readable);
}

static void accept_one(instance *inst, listener *l) {
  struct sockaddr_storage peer;
  socklen_t peer_length = sizeof peer;
  int fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR || error == ECONNABORTED) return;
    /* Out of descriptors or memory: the connection stays in the backlog; a level-triggered poll
       would wake at once and spin, so stop polling for a moment. */
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->pause, resume_accepting, ACCEPT_PAUSE_MS, 0);
    dispatch_errno(inst, EV_ACCEPT_ERROR, l->id, error);
    return;
  }
  if (dow_conn_open(&inst->machine, fd, l->tcp, l->id, &l->limits, &peer, peer_length) < 0) close(fd);
}

static void on_listener_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  listener *l = handle->data;
  if (status < 0) {
    dispatch_errno(l->inst, EV_ACCEPT_ERROR, l->id, -status);
    return;
  }
  /* One connection per wake-up, as uWSGI does: the workers sharing the socket each get a turn. */
  accept_one(l->inst, l);
}

/* A stop of the socket's owner is under way: a connection whose handshake is done but whose
   request the kernel holds back for TCP_DEFER_ACCEPT cannot join a full accept queue (backlog 0)
   and would be reset when the socket closes, so nothing is held back from now on. A worker's copy
   of the supervisor's socket never does this: the socket lives on for the other workers and the
   next ones, which would all lose the deferral (the slow path: a poll per connection). */
static void stop_deferring(listener *l) {
  int off = 0;
  if (l->tcp && l->owns_socket) setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &off, sizeof off);
}

static void listener_close(listener *l) {
  stop_deferring(l);
  dow_id_remove(&l->inst->listeners, l->id);
  l->closing = 1;
  uv_timer_stop(&l->pause);
  uv_close((uv_handle_t *)&l->poll, on_listener_closed);
  close(l->fd);
}

/* ── exported functions ─────────────────────────────────────────────────────────────────────── */

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  CHECKED(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), argc = 0);
  if (argc < want) {
    napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: missing arguments");
    return -1;
  }
  return 0;
}

static instance *instance_of(napi_env env) {
  instance *inst = NULL;
  CHECKED(napi_get_instance_data(env, (void **)&inst), return NULL);
  return inst;
}

/* The arguments and the instance, or NULL with an exception thrown. */
static instance *begin(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  if (get_args(env, info, want, argv) != 0) return NULL;
  instance *inst = instance_of(env);
  if (inst == NULL) throw_failed(env, "napi_get_instance_data");
  return inst;
}

static int64_t id_arg(napi_env env, napi_value value) {
  int64_t id = -1;
  if (napi_get_value_int64(env, value, &id) != napi_ok) return -1; /* not a number: no such id */
  return id;
}

static napi_value result_int(napi_env env, int value) {
  napi_value out;
  CHECKED(napi_create_int32(env, value, &out), return throw_failed(env, "napi_create_int32"));
  return out;
}

static napi_value result_number(napi_env env, double value) {
  napi_value out;
  CHECKED(number(env, value, &out), return throw_failed(env, "napi_create_double"));
  return out;
}

/* init(dispatch): the one function every event goes to. Returns the shared pairs array. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  instance *inst = begin(env, info, 1, argv);
  if (inst == NULL) return NULL;
  napi_ref dispatch_ref;
  CHECKED(napi_create_reference(env, argv[0], 1, &dispatch_ref), return throw_failed(env, "napi_create_reference"));
  /* The old function stays alive at worst: nothing calls it again. */
  if (inst->dispatch != NULL) CHECKED(napi_delete_reference(env, inst->dispatch), (void)0);
  inst->dispatch = dispatch_ref;
  napi_value pairs;
  CHECKED(napi_get_reference_value(env, inst->shared_pairs, &pairs), return throw_failed(env, "napi_get_reference_value"));
  return pairs;
}

/* listen(fd, backlog, deferAcceptSeconds, maxHeaderBytes, maxBodyBytes, ownsSocket) → listener
   id, or -errno. The fd is duplicated: the caller keeps (and closes) its own. */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  instance *inst = begin(env, info, 6, argv);
  if (inst == NULL) return NULL;
  int32_t fd, backlog, defer;
  uint32_t max_header;
  double max_body;
  bool owns;
  const char *bad = "listen: fd, backlog and deferAcceptSeconds must be numbers";
  CHECKED(napi_get_value_int32(env, argv[0], &fd), goto bad_argument);
  CHECKED(napi_get_value_int32(env, argv[1], &backlog), goto bad_argument);
  CHECKED(napi_get_value_int32(env, argv[2], &defer), goto bad_argument);
  bad = "listen: maxHeaderBytes and maxBodyBytes must be numbers, ownsSocket a boolean";
  CHECKED(napi_get_value_uint32(env, argv[3], &max_header), goto bad_argument);
  CHECKED(napi_get_value_double(env, argv[4], &max_body), goto bad_argument);
  CHECKED(napi_get_value_bool(env, argv[5], &owns), goto bad_argument);
  listener *l = calloc(1, sizeof(listener));
  if (l == NULL) return result_int(env, -ENOMEM);
  l->inst = inst;
  l->owns_socket = owns;
  l->limits.max_header_bytes = max_header;
  l->limits.max_body_bytes = max_body < 0 ? 0 : max_body >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)max_body;
  dow_scgi_parser probe;
  if (dow_scgi_init(&probe, &l->limits) != 0) {
    free(l);
    return result_int(env, -EOVERFLOW);
  }
  l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (l->fd < 0) {
    int error = errno;
    free(l);
    return result_int(env, -error);
  }
  int domain = 0;
  socklen_t length = sizeof domain;
  getsockopt(l->fd, SOL_SOCKET, SO_DOMAIN, &domain, &length);
  l->tcp = domain == AF_INET || domain == AF_INET6;
  if (l->tcp && defer > 0) setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
  int error = listen(l->fd, backlog) != 0 ? errno : 0;
  if (error == 0) error = -uv_poll_init_socket(inst->loop, &l->poll, l->fd);
  if (error != 0) {
    close(l->fd);
    free(l);
    return result_int(env, -error);
  }
  /* From here the listener's two handles close together (on_listener_closed), counted as one. */
  inst->open_handles++;
  l->poll.data = l;
  uv_timer_init(inst->loop, &l->pause);
  l->pause.data = l;
  l->id = dow_id_add(&inst->listeners, l);
  if (l->id < 0) {
    uv_close((uv_handle_t *)&l->poll, on_listener_closed);
    close(l->fd);
    return result_int(env, -ENOMEM);
  }
  uv_poll_start(&l->poll, UV_READABLE, on_listener_readable);
  return result_number(env, (double)l->id);
bad_argument:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", bad);
  return NULL;
}

/* setBacklog(lid, n): listen() again, as a stop does to stop completing handshakes. */
static napi_value js_set_backlog(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  instance *inst = begin(env, info, 2, argv);
  if (inst == NULL) return NULL;
  listener *l = dow_id_get(&inst->listeners, id_arg(env, argv[0]));
  int32_t backlog = 0;
  CHECKED(napi_get_value_int32(env, argv[1], &backlog), return throw_failed(env, "setBacklog: napi_get_value_int32"));
  if (l == NULL) return result_int(env, -EBADF);
  if (backlog == 0) stop_deferring(l);
  return result_int(env, listen(l->fd, backlog) == 0 ? 0 : -errno);
}

static napi_value js_close_listener(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  instance *inst = begin(env, info, 1, argv);
  if (inst == NULL) return NULL;
  listener *l = dow_id_get(&inst->listeners, id_arg(env, argv[0]));
  if (l != NULL) listener_close(l);
  return NULL;
}

/* deferAcceptSeconds(fd): the socket's TCP_DEFER_ACCEPT as the kernel reports it (rounded to its
   retransmission steps), 0 when off or not TCP, or -errno: for the checks of who may clear it. */
static napi_value js_defer_accept_seconds(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int32_t fd;
  CHECKED(napi_get_value_int32(env, argv[0], &fd), return throw_failed(env, "deferAcceptSeconds: napi_get_value_int32"));
  int seconds = 0;
  socklen_t length = sizeof seconds;
  if (getsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, &length) != 0) return result_int(env, errno == EOPNOTSUPP ? 0 : -errno);
  return result_int(env, seconds);
}

/* stopDeferring(fd): TCP_DEFER_ACCEPT off, for the socket's owner when it stops (stop_deferring's
   reason): the supervisor's own handle is libuv's, never one of these listeners. 0 or -errno; 0
   for a socket that is not TCP. */
static napi_value js_stop_deferring(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int32_t fd;
  CHECKED(napi_get_value_int32(env, argv[0], &fd), return throw_failed(env, "stopDeferring: napi_get_value_int32"));
  int off = 0;
  if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &off, sizeof off) != 0) return result_int(env, errno == EOPNOTSUPP ? 0 : -errno);
  return result_int(env, 0);
}

/* write(id, buffer): 1 all sent, 0 queued (a DRAIN follows), or -errno. */
static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  instance *inst = begin(env, info, 2, argv);
  if (inst == NULL) return NULL;
  struct iovec iov;
  CHECKED(napi_get_buffer_info(env, argv[1], &iov.iov_base, &iov.iov_len), goto not_a_buffer);
  write_source source = {env, &argv[1]};
  return result_int(env, dow_conn_write(&inst->machine, id_arg(env, argv[0]), &iov, 1, &source));
not_a_buffer:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: write: not a Buffer");
  return NULL;
}

/* writev(id, buffers): as few system calls as the kernel allows for a corked response (one per
   64 Buffers); nothing is joined or copied. */
static napi_value js_writev(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  instance *inst = begin(env, info, 2, argv);
  if (inst == NULL) return NULL;
  uint32_t count = 0;
  CHECKED(napi_get_array_length(env, argv[1], &count), goto bad_argument);
  napi_value stack_values[DOW_IOV_BATCH];
  struct iovec stack_iov[DOW_IOV_BATCH];
  napi_value *values = stack_values;
  struct iovec *iov = stack_iov;
  if (count > DOW_IOV_BATCH) {
    values = malloc(count * sizeof(napi_value));
    iov = malloc(count * sizeof(struct iovec));
    if (values == NULL || iov == NULL) {
      free(values);
      free(iov);
      return result_int(env, -ENOMEM);
    }
  }
  napi_value result = NULL;
  for (uint32_t i = 0; i < count; i++) {
    CHECKED(napi_get_element(env, argv[1], i, &values[i]), goto not_buffers);
    CHECKED(napi_get_buffer_info(env, values[i], &iov[i].iov_base, &iov[i].iov_len), goto not_buffers);
  }
  write_source source = {env, values};
  result = result_int(env, dow_conn_write(&inst->machine, id_arg(env, argv[0]), iov, count, &source));
  goto done;
not_buffers:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: writev: not an array of Buffers");
done:
  if (values != stack_values) free(values);
  if (iov != stack_iov) free(iov);
  return result;
bad_argument:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: writev: not an array of Buffers");
  return NULL;
}

/* shutdown(id): our side ends once the queue is empty. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  instance *inst = begin(env, info, 1, argv);
  if (inst == NULL) return NULL;
  return result_int(env, dow_conn_shutdown(&inst->machine, id_arg(env, argv[0])));
}

/* The arguments (id, flag) of the functions below; NULL with an exception thrown. */
static instance *id_and_flag(napi_env env, napi_callback_info info, int64_t *id, bool *flag) {
  napi_value argv[2];
  *flag = false;
  instance *inst = begin(env, info, 2, argv);
  if (inst == NULL) return NULL;
  CHECKED(napi_get_value_bool(env, argv[1], flag), goto not_a_boolean);
  *id = id_arg(env, argv[0]);
  return inst;
not_a_boolean:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: the second argument must be a boolean");
  return NULL;
}

/* close(id, reset): unsent bytes are dropped, as net.Socket's destroy() drops them. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  bool reset;
  int64_t id;
  instance *inst = id_and_flag(env, info, &id, &reset);
  if (inst != NULL) dow_conn_close(&inst->machine, id, reset);
  return NULL;
}

/* read(id, on): JavaScript's stream paused (false) or wants more (true); 0 or -errno. */
static napi_value js_read(napi_env env, napi_callback_info info) {
  bool on;
  int64_t id;
  instance *inst = id_and_flag(env, info, &id, &on);
  if (inst == NULL) return NULL;
  return result_int(env, dow_conn_set_reading(&inst->machine, id, on));
}

static napi_value js_set_no_delay(napi_env env, napi_callback_info info) {
  bool on;
  int64_t id;
  instance *inst = id_and_flag(env, info, &id, &on);
  if (inst == NULL) return NULL;
  dow_conn *c = dow_conn_get(&inst->machine, id);
  if (c != NULL && c->tcp) {
    int flag = on;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &flag, sizeof flag);
  }
  return NULL;
}

static void add_queued(void *value, void *data) {
  *(double *)data += (double)((dow_conn *)value)->queue.bytes;
}

/* Open connections and listeners, and bytes waiting in write queues: for tests that look for
   leaks and unbounded buffering. */
static napi_value js_counts(napi_env env, napi_callback_info info) {
  (void)info;
  instance *inst = instance_of(env);
  if (inst == NULL) return throw_failed(env, "napi_get_instance_data");
  double queued = 0;
  dow_id_each(&inst->machine.conns, add_queued, &queued);
  napi_value out, connections, listeners, bytes;
  CHECKED(napi_create_object(env, &out), goto failed);
  CHECKED(number(env, inst->machine.conns.live, &connections), goto failed);
  CHECKED(number(env, inst->listeners.live, &listeners), goto failed);
  CHECKED(number(env, queued, &bytes), goto failed);
  CHECKED(napi_set_named_property(env, out, "connections", connections), goto failed);
  CHECKED(napi_set_named_property(env, out, "listeners", listeners), goto failed);
  CHECKED(napi_set_named_property(env, out, "queuedBytes", bytes), goto failed);
  return out;
failed:
  return throw_failed(env, "counts");
}

/* ── timing-row rings (row-ring.h) ───────────────────────────────────────────────────────────── */

/* A ring reaches JavaScript as an external tagged as ours, so no other value is taken for one. */
static const napi_type_tag RING_TAG = {0x646f772d726f7721ULL, 0x72696e672d746167ULL};

static void ring_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  dow_ring_close(data);
  free(data);
}

/* The ring as a JavaScript value (which then owns it), or NULL with an exception thrown. */
static napi_value ring_value(napi_env env, dow_ring *ring) {
  napi_value out;
  CHECKED(napi_create_external(env, ring, ring_finalize, NULL, &out), goto not_created);
  CHECKED(napi_type_tag_object(env, out, &RING_TAG), return throw_failed(env, "napi_type_tag_object"));
  return out;
not_created:
  dow_ring_close(ring);
  free(ring);
  return throw_failed(env, "napi_create_external");
}

/* The ring `value` holds, or NULL with an exception thrown. */
static dow_ring *ring_arg(napi_env env, napi_value value) {
  bool tagged = false;
  void *data = NULL;
  CHECKED(napi_check_object_type_tag(env, value, &RING_TAG, &tagged), tagged = false);
  if (!tagged) {
    napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: not a row ring");
    return NULL;
  }
  CHECKED(napi_get_value_external(env, value, &data), return (throw_failed(env, "napi_get_value_external"), NULL));
  return data;
}

/* ringCreate(capacityBytes): a new ring (memfd) for the supervisor's side, or -errno. */
static napi_value js_ring_create(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  double capacity = 0;
  CHECKED(napi_get_value_double(env, argv[0], &capacity), return throw_failed(env, "ringCreate: napi_get_value_double"));
  if (!(capacity >= DOW_RING_MIN_CAPACITY && capacity <= (double)DOW_RING_MAX_CAPACITY)) return result_int(env, -EINVAL);
  dow_ring *ring = malloc(sizeof *ring);
  if (ring == NULL) return result_int(env, -ENOMEM);
  int error = dow_ring_create(ring, (uint64_t)capacity);
  if (error != 0) {
    free(ring);
    return result_int(env, -error);
  }
  return ring_value(env, ring);
}

/* ringAttach(fd): the worker's side of the ring behind an inherited descriptor, or -errno. */
static napi_value js_ring_attach(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int32_t fd = -1;
  CHECKED(napi_get_value_int32(env, argv[0], &fd), return throw_failed(env, "ringAttach: napi_get_value_int32"));
  dow_ring *ring = malloc(sizeof *ring);
  if (ring == NULL) return result_int(env, -ENOMEM);
  int error = dow_ring_attach(ring, fd);
  if (error != 0) {
    free(ring);
    return result_int(env, -error);
  }
  return ring_value(env, ring);
}

/* ringFd(ring): its descriptor, to hand to a worker; -1 once closed or on the worker's side. */
static napi_value js_ring_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  return result_int(env, ring->fd);
}

/* ringWrite(ring, frame): true, or false when it does not fit (the caller sends it another way). */
static napi_value js_ring_write(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  if (get_args(env, info, 2, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  void *data = NULL;
  size_t length = 0;
  CHECKED(napi_get_buffer_info(env, argv[1], &data, &length), goto not_a_buffer);
  CHECKED(napi_get_boolean(env, dow_ring_write(ring, data, length) == 1, &out), return throw_failed(env, "ringWrite: napi_get_boolean"));
  return out;
not_a_buffer:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: ringWrite: not a Buffer");
  return NULL;
}

/* ringRead(ring): every byte written since the last read, as one Buffer, or null when none.
   Throws DOW_ERR_ROW_RING when the shared header cannot be right (nothing is read then). */
static napi_value js_ring_read(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (get_args(env, info, 1, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  int64_t readable = dow_ring_readable(ring);
  if (readable < 0) {
    napi_throw_error(env, "DOW_ERR_ROW_RING", "timing rows from a worker: its ring's head is not within the ring (its memory was overwritten)");
    return NULL;
  }
  if (readable == 0) {
    CHECKED(napi_get_null(env, &out), return throw_failed(env, "ringRead: napi_get_null"));
    return out;
  }
  void *data = NULL;
  CHECKED(napi_create_buffer(env, (size_t)readable, &data, &out), return throw_failed(env, "ringRead: napi_create_buffer"));
  dow_ring_take(ring, data, (uint64_t)readable);
  return out;
}

/* ringSetLoad(ring, running, queued): the worker's requests running and queued, for the
   supervisor to read while the worker cannot answer. Called on every admission and finish. */
static napi_value js_ring_set_load(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  uint32_t running = 0, queued = 0;
  CHECKED(napi_get_value_uint32(env, argv[1], &running), return throw_failed(env, "ringSetLoad: napi_get_value_uint32"));
  CHECKED(napi_get_value_uint32(env, argv[2], &queued), return throw_failed(env, "ringSetLoad: napi_get_value_uint32"));
  dow_ring_set_load(ring, running, queued);
  return NULL;
}

/* ringLoad(ring): [running, queued] as the worker last published them, or null once closed. */
static napi_value js_ring_load(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, value;
  if (get_args(env, info, 1, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  uint32_t figures[2];
  if (dow_ring_load(ring, &figures[0], &figures[1]) != 0) {
    CHECKED(napi_get_null(env, &out), return throw_failed(env, "ringLoad: napi_get_null"));
    return out;
  }
  CHECKED(napi_create_array_with_length(env, 2, &out), return throw_failed(env, "ringLoad: napi_create_array_with_length"));
  for (uint32_t i = 0; i < 2; i++) {
    CHECKED(napi_create_uint32(env, figures[i], &value), return throw_failed(env, "ringLoad: napi_create_uint32"));
    CHECKED(napi_set_element(env, out, i, value), return throw_failed(env, "ringLoad: napi_set_element"));
  }
  return out;
}

/* ringClose(ring): unmaps it and closes its descriptor now rather than at garbage collection. */
static napi_value js_ring_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring != NULL) dow_ring_close(ring);
  return NULL;
}

#ifdef DOW_FAULT_INJECTION
/* injectFault(name, after): see FAULTED above. */
static napi_value js_inject_fault(napi_env env, napi_callback_info info) {
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

/* ── module lifetime ────────────────────────────────────────────────────────────────────────── */

/* A worker thread's end (Worker.terminate(), or its last handle gone) waits in an async cleanup
   hook until every loop handle of ours has closed: Node aborts a thread whose loop still has open
   handles when it closes it. */
static void handle_closed(instance *inst) {
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

static void close_listener_at_cleanup(void *value, void *data) {
  listener_close(value);
}

/* The environment is going away (process exit, or a worker thread's end): connections are reset
   (a response cut here is not whole), listeners close, and the hook ends once their handles have. */
static void cleanup_hook(napi_async_cleanup_hook_handle handle, void *data) {
  instance *inst = data;
  inst->cleanup = handle;
  dow_id_each(&inst->machine.conns, close_conn_at_cleanup, NULL);
  dow_id_each(&inst->listeners, close_listener_at_cleanup, NULL);
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
