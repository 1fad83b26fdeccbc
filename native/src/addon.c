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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn-machine.h"

/* What the listeners report besides the connection events of conn-machine.h (pinned in
   server/native/native-binding.ts). */
#define EV_ACCEPT_ERROR 8 /* (lid, errno) */

#define SHARED_PAIR_WORDS 4096 /* 1,024 pairs: any real head; a bigger one gets its own array */
#define ACCEPT_PAUSE_MS 100    /* after EMFILE: retry later instead of spinning on a ready fd */

typedef struct instance instance;

typedef struct listener {
  uv_poll_t poll;
  uv_timer_t pause;
  instance *inst;
  int64_t id;
  int fd;
  int tcp;
  int closing;
  dow_scgi_limits limits;
} listener;

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
};

static instance *instance_of_machine(dow_machine *m) {
  return m->user;
}

/* ── calls into JavaScript ──────────────────────────────────────────────────────────────────── */

/* Runs dispatch(argv...) as a top-level callback: nextTicks and promise jobs run after it, as
   after any I/O callback of Node's own. An exception becomes an uncaught exception. */
static void dispatch(instance *inst, size_t argc, napi_value *argv) {
  napi_env env = inst->env;
  napi_value fn, global, result;
  if (inst->dispatch == NULL) return;
  if (napi_get_reference_value(env, inst->dispatch, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &global);
  napi_status status = napi_make_callback(env, inst->context, global, fn, argc, argv, &result);
  if (status == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

static napi_value number(napi_env env, double value) {
  napi_value out;
  napi_create_double(env, value, &out);
  return out;
}

static napi_value undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

static void dispatch_errno(instance *inst, int kind, int64_t id, int error) {
  napi_handle_scope scope;
  napi_open_handle_scope(inst->env, &scope);
  napi_value argv[3] = {number(inst->env, kind), number(inst->env, (double)id), number(inst->env, error)};
  dispatch(inst, 3, argv);
  napi_close_handle_scope(inst->env, scope);
}

/* The peer as Node shows it (remoteAddress, remotePort); a Unix peer has neither. */
static void peer_values(napi_env env, const dow_conn *c, napi_value *address, napi_value *port) {
  char text[INET6_ADDRSTRLEN];
  *address = undefined(env);
  *port = undefined(env);
  if (c->peer.ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)&c->peer;
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) != NULL) napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, address);
    *port = number(env, ntohs(in->sin_port));
  } else if (c->peer.ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&c->peer;
    if (inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text) != NULL) napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, address);
    *port = number(env, ntohs(in6->sin6_port));
  }
}

/* The arguments every event that introduces a connection starts with: (kind, id, lid, address,
   port). */
static void introduce(napi_env env, const dow_conn *c, napi_value *argv) {
  argv[2] = number(env, (double)c->listener_id);
  peer_values(env, c, &argv[3], &argv[4]);
}

/* REQUEST's arguments after the introduction: (block, pairCount, contentLength, rest, pairs). The
   pairs' offsets go in the shared array, or a new one for a head with more pairs than it holds. */
static int request_values(instance *inst, const dow_conn *c, const dow_event *event, napi_value *argv) {
  napi_env env = inst->env;
  uint32_t count = c->head.parser.pair_count;
  uint32_t *words = inst->shared_pair_words;
  if ((uint64_t)count * 4 <= SHARED_PAIR_WORDS) {
    napi_get_reference_value(env, inst->shared_pairs, &argv[4]);
  } else {
    napi_value buffer;
    void *data;
    if (napi_create_arraybuffer(env, (size_t)count * 4 * sizeof(uint32_t), &data, &buffer) != napi_ok) return ENOMEM;
    napi_create_typedarray(env, napi_uint32_array, (size_t)count * 4, buffer, 0, &argv[4]);
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
  napi_create_string_latin1(env, (const char *)dow_head_block(&c->head), dow_head_block_length(&c->head), &argv[0]);
  argv[1] = number(env, count);
  argv[2] = number(env, (double)c->head.parser.content_length);
  if (event->length > 0) napi_create_buffer_copy(env, event->length, event->bytes, NULL, &argv[3]);
  else argv[3] = undefined(env);
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
  napi_open_handle_scope(env, &scope);
  napi_value argv[10];
  size_t argc = 2;
  int error = 0;
  argv[0] = number(env, event->kind);
  argv[1] = number(env, (double)c->id);
  switch (event->kind) {
    case DOW_EV_WAIT:
      introduce(env, c, argv);
      argc = 5;
      break;
    case DOW_EV_REQUEST:
      introduce(env, c, argv);
      error = request_values(inst, c, event, argv + 5);
      argc = 10;
      break;
    case DOW_EV_BAD:
      introduce(env, c, argv);
      napi_create_buffer_copy(env, c->head.replay_length, c->head.replay, NULL, &argv[5]);
      argc = 6;
      break;
    case DOW_EV_DATA:
      napi_create_buffer_copy(env, event->length, event->bytes, NULL, &argv[2]);
      argc = 3;
      break;
    case DOW_EV_ERROR:
      argv[2] = number(env, event->error);
      argv[3] = number(env, event->failed_call);
      argc = 4;
      break;
    case DOW_EV_EOF:
    case DOW_EV_DRAIN:
      break;
  }
  if (error == 0) dispatch(inst, argc, argv);
  napi_close_handle_scope(env, scope);
  return error;
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

/* A connection is polled only while it must wait; its handle is made the first time. */
static int loop_poll(dow_machine *m, dow_conn *c, int events) {
  uv_poll_t *handle = c->poll;
  if (events == 0) return handle == NULL ? 0 : uv_poll_stop(handle);
  if (handle == NULL) {
    handle = malloc(sizeof(uv_poll_t));
    if (handle == NULL) return UV_ENOMEM;
    int error = uv_poll_init_socket(instance_of_machine(m)->loop, handle, c->fd);
    if (error != 0) {
      free(handle);
      return error;
    }
    handle->data = c;
    c->poll = handle;
  }
  int uv_events = 0;
  if (events & DOW_POLL_READABLE) uv_events |= UV_READABLE;
  if (events & DOW_POLL_WRITABLE) uv_events |= UV_WRITABLE;
  return uv_poll_start(handle, uv_events, on_conn_event);
}

static void free_handle(uv_handle_t *handle) {
  free(handle);
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
    uv_close((uv_handle_t *)handle, free_handle);
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
};

/* ── listeners ──────────────────────────────────────────────────────────────────────────────── */

static void on_listener_readable(uv_poll_t *handle, int status, int events);

static void on_listener_closed(uv_handle_t *handle) {
  listener *l = handle->data;
  if ((uv_handle_t *)&l->poll == handle) uv_close((uv_handle_t *)&l->pause, on_listener_closed);
  else free(l);
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

/* A stop is under way (the socket may be the supervisor's, shared with other workers): a
   connection whose handshake is done but whose request the kernel holds back for
   TCP_DEFER_ACCEPT cannot join a full accept queue (backlog 0) and would be reset when the socket
   closes, so nothing is held back from now on. The next listen() (a new worker) sets it again. */
static void stop_deferring(listener *l) {
  int off = 0;
  if (l->tcp) setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &off, sizeof off);
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
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "missing arguments");
    return -1;
  }
  return 0;
}

static instance *instance_of(napi_env env) {
  instance *inst = NULL;
  napi_get_instance_data(env, (void **)&inst);
  return inst;
}

static int64_t id_arg(napi_env env, napi_value value) {
  int64_t id = -1;
  if (napi_get_value_int64(env, value, &id) != napi_ok) return -1;
  return id;
}

static napi_value result_int(napi_env env, int value) {
  napi_value out;
  napi_create_int32(env, value, &out);
  return out;
}

/* init(dispatch): the one function every event goes to. Returns the shared pairs array. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  instance *inst = instance_of(env);
  if (inst->dispatch != NULL) napi_delete_reference(env, inst->dispatch);
  napi_create_reference(env, argv[0], 1, &inst->dispatch);
  napi_value pairs;
  napi_get_reference_value(env, inst->shared_pairs, &pairs);
  return pairs;
}

/* listen(fd, backlog, deferAcceptSeconds, maxHeaderBytes, maxBodyBytes) → listener id. The fd
   is duplicated: the caller keeps (and closes) its own. */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv) != 0) return NULL;
  instance *inst = instance_of(env);
  int32_t fd, backlog, defer;
  uint32_t max_header;
  double max_body;
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_int32(env, argv[1], &backlog);
  napi_get_value_int32(env, argv[2], &defer);
  napi_get_value_uint32(env, argv[3], &max_header);
  napi_get_value_double(env, argv[4], &max_body);
  listener *l = calloc(1, sizeof(listener));
  if (l == NULL) return result_int(env, -ENOMEM);
  l->inst = inst;
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
  if (listen(l->fd, backlog) != 0 || uv_poll_init_socket(inst->loop, &l->poll, l->fd) != 0) {
    int error = errno;
    close(l->fd);
    free(l);
    return result_int(env, -(error != 0 ? error : EINVAL));
  }
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
  return number(env, (double)l->id);
}

/* setBacklog(lid, n): listen() again, as a stop does to stop completing handshakes. */
static napi_value js_set_backlog(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  listener *l = dow_id_get(&instance_of(env)->listeners, id_arg(env, argv[0]));
  int32_t backlog = 0;
  napi_get_value_int32(env, argv[1], &backlog);
  if (l == NULL) return result_int(env, -EBADF);
  if (backlog == 0) stop_deferring(l);
  return result_int(env, listen(l->fd, backlog) == 0 ? 0 : -errno);
}

static napi_value js_close_listener(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  listener *l = dow_id_get(&instance_of(env)->listeners, id_arg(env, argv[0]));
  if (l != NULL) listener_close(l);
  return NULL;
}

static dow_machine *machine_of(napi_env env) {
  return &instance_of(env)->machine;
}

/* write(id, buffer): 1 all sent, 0 queued (a DRAIN follows), or -errno. */
static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  struct iovec iov;
  if (napi_get_buffer_info(env, argv[1], &iov.iov_base, &iov.iov_len) != napi_ok) {
    napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "write: not a Buffer");
    return NULL;
  }
  return result_int(env, dow_conn_write(machine_of(env), id_arg(env, argv[0]), &iov, 1));
}

/* writev(id, buffers): one system call for a corked response (head and body). */
static napi_value js_writev(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  uint32_t count = 0;
  if (napi_get_array_length(env, argv[1], &count) != napi_ok || count > DOW_IOV_BATCH) {
    napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "writev: an array of at most 64 Buffers");
    return NULL;
  }
  struct iovec iov[DOW_IOV_BATCH];
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    napi_get_element(env, argv[1], i, &element);
    if (napi_get_buffer_info(env, element, &iov[i].iov_base, &iov[i].iov_len) != napi_ok) {
      napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "writev: not a Buffer");
      return NULL;
    }
  }
  return result_int(env, dow_conn_write(machine_of(env), id_arg(env, argv[0]), iov, count));
}

/* shutdown(id): our side ends once the queue is empty. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  return result_int(env, dow_conn_shutdown(machine_of(env), id_arg(env, argv[0])));
}

/* The arguments (id, flag) of the functions below. */
static int64_t id_and_flag(napi_env env, napi_callback_info info, bool *flag) {
  napi_value argv[2];
  *flag = false;
  if (get_args(env, info, 2, argv) != 0) return -1;
  napi_get_value_bool(env, argv[1], flag);
  return id_arg(env, argv[0]);
}

/* close(id, reset): unsent bytes are dropped, as net.Socket's destroy() drops them. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  bool reset;
  int64_t id = id_and_flag(env, info, &reset);
  dow_conn_close(machine_of(env), id, reset);
  return NULL;
}

/* read(id, on): JavaScript's stream paused (false) or wants more (true); 0 or -errno. */
static napi_value js_read(napi_env env, napi_callback_info info) {
  bool on;
  int64_t id = id_and_flag(env, info, &on);
  return result_int(env, dow_conn_set_reading(machine_of(env), id, on));
}

static napi_value js_set_no_delay(napi_env env, napi_callback_info info) {
  bool on;
  int64_t id = id_and_flag(env, info, &on);
  dow_conn *c = dow_conn_get(machine_of(env), id);
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
  double queued = 0;
  dow_id_each(&inst->machine.conns, add_queued, &queued);
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "connections", number(env, inst->machine.conns.live));
  napi_set_named_property(env, out, "listeners", number(env, inst->listeners.live));
  napi_set_named_property(env, out, "queuedBytes", number(env, queued));
  return out;
}

/* ── module lifetime ────────────────────────────────────────────────────────────────────────── */

static void close_conn_at_teardown(void *value, void *data) {
  (void)data;
  dow_conn *c = value;
  close(c->fd);
}

static void close_listener_at_teardown(void *value, void *data) {
  (void)data;
  listener *l = value;
  close(l->fd);
}

/* The environment is going away (process exit, or a worker thread's end): descriptors close;
   the loop will not run again, so its handles are left to the process's end. */
static void teardown(napi_env env, void *data, void *hint) {
  (void)hint;
  instance *inst = data;
  dow_id_each(&inst->machine.conns, close_conn_at_teardown, NULL);
  dow_id_each(&inst->listeners, close_listener_at_teardown, NULL);
  if (inst->context != NULL) napi_async_destroy(env, inst->context);
}

NAPI_MODULE_INIT() {
  instance *inst = calloc(1, sizeof(instance));
  if (inst == NULL) return NULL;
  dow_machine_init(&inst->machine, &ADDON_OPS, inst);
  inst->env = env;
  napi_get_uv_event_loop(env, &inst->loop);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &inst->resource);
  napi_create_string_utf8(env, "dragon-on-wheels:native-io", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &inst->context);
  napi_value buffer, pairs;
  void *words;
  napi_create_arraybuffer(env, SHARED_PAIR_WORDS * sizeof(uint32_t), &words, &buffer);
  napi_create_typedarray(env, napi_uint32_array, SHARED_PAIR_WORDS, buffer, 0, &pairs);
  inst->shared_pair_words = words;
  napi_create_reference(env, pairs, 1, &inst->shared_pairs);
  napi_set_instance_data(env, inst, teardown, NULL);

  napi_property_descriptor functions[] = {
    {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
    {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
    {"setBacklog", NULL, js_set_backlog, NULL, NULL, NULL, napi_default, NULL},
    {"closeListener", NULL, js_close_listener, NULL, NULL, NULL, napi_default, NULL},
    {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
    {"writev", NULL, js_writev, NULL, NULL, NULL, napi_default, NULL},
    {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"read", NULL, js_read, NULL, NULL, NULL, napi_default, NULL},
    {"setNoDelay", NULL, js_set_no_delay, NULL, NULL, NULL, napi_default, NULL},
    {"counts", NULL, js_counts, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
