/*
 * The addon's events and the machine's world: each conn-machine.h event as one call into
 * JavaScript, and the system calls and libuv loop the machine is given (ADDON_OPS).
 */
#define _GNU_SOURCE
#include "addon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connection's loop handle; it outlives the connection until its close callback. */
typedef struct conn_poll {
  uv_poll_t handle;
  instance *inst;
} conn_poll;

static instance *instance_of_machine(dow_machine *m) {
  return m->user;
}

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

/* An accept error, which no connection carries: if even it cannot be told, the listener goes on
   (the next one may be). */
void dispatch_errno(instance *inst, int kind, int64_t id, int error) {
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

const dow_machine_ops ADDON_OPS = {
  .read = sys_read,
  .sendmsg = sys_sendmsg,
  .shutdown_write = sys_shutdown_write,
  .poll = loop_poll,
  .close = loop_close,
  .emit = emit_to_js,
  .hold = hold_buffer,
  .release = release_buffer,
};

/* init(dispatch): the one function every event goes to. Returns the shared pairs array. */
napi_value js_init(napi_env env, napi_callback_info info) {
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
