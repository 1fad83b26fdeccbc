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
 * Memory safety (docs/architecture.md, "The native I/O core"):
 * - JavaScript names connections and listeners by id (id-table.h), never by pointer. An id that
 *   outlived its connection finds nothing; every exported function checks it first.
 * - Every call into JavaScript (dispatch()) can close the connection it is about: the app may
 *   answer and finish synchronously. So no function here uses a connection pointer after a
 *   dispatch(): it looks the id up again (the pattern `dispatch(...); c = conn_get(id);`).
 * - A connection's memory outlives its id: a polled connection is freed in its uv_close callback,
 *   on a later loop turn, never under a caller that still holds it.
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
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "head-reader.h"
#include "id-table.h"
#include "write-queue.h"

/* What dispatch() tells JavaScript; the numbers are pinned in server/native/native-binding.ts. */
enum event {
  EV_WAIT = 1,    /* (id, lid, address, port): accepted, the head is still arriving */
  EV_REQUEST = 2, /* (id, lid, address, port, block, pairCount, contentLength, rest, pairs) */
  EV_BAD = 3,     /* (id, lid, address, port, replay): the head was refused */
  EV_DATA = 4,    /* (id, bytes): after the head */
  EV_EOF = 5,     /* (id) */
  EV_DRAIN = 6,   /* (id): every queued byte went out */
  EV_ERROR = 7,   /* (id, errno, failed_call): a read or write failed; JavaScript closes */
  EV_ACCEPT_ERROR = 8 /* (lid, errno) */
};

/* Which call an EV_ERROR reports, so the error names it (pinned in native-binding.ts). */
enum failed_call {
  FAILED_READ = 0,
  FAILED_WRITE = 1, /* a flush of the write queue */
  FAILED_POLL = 2   /* registering with or polling through the loop */
};

#define READ_BUFFER_BYTES (64 * 1024)
#define SHARED_PAIR_WORDS 4096 /* 1,024 pairs: any real head; a bigger one gets its own array */
#define IOV_BATCH 64
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

typedef struct conn {
  uv_poll_t poll;
  instance *inst;
  int64_t id;
  int64_t listener_id;
  int fd;
  int tcp;
  int poll_ready;     /* uv_poll_init done: freed by uv_close's callback */
  int announced;      /* JavaScript knows this id */
  int head_done;      /* the head was delivered (or refused): bytes now go to JS as they come */
  int reading;        /* JavaScript wants bytes (its stream is not paused) */
  int eof;
  int shut_pending;   /* shutdown(SHUT_WR) once the queue is empty */
  int polled_events;
  int in_dispatch;    /* JavaScript is handling an event of this connection: see dispatch_conn() */
  dow_head head;
  dow_wq queue;
  struct sockaddr_storage peer;
  socklen_t peer_length;
} conn;

struct instance {
  napi_env env;
  uv_loop_t *loop;
  napi_ref dispatch;
  napi_ref resource;
  napi_async_context context;
  napi_ref shared_pairs;
  uint32_t *shared_pair_words;
  dow_id_table conns;
  dow_id_table listeners;
  uint8_t read_buffer[READ_BUFFER_BYTES];
};

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

static void dispatch_errno(instance *inst, enum event kind, int64_t id, int error) {
  napi_handle_scope scope;
  napi_open_handle_scope(inst->env, &scope);
  napi_value argv[3] = {number(inst->env, kind), number(inst->env, (double)id), number(inst->env, error)};
  dispatch(inst, 3, argv);
  napi_close_handle_scope(inst->env, scope);
}

/* The peer as Node shows it (remoteAddress, remotePort); a Unix peer has neither. */
static void peer_values(napi_env env, const conn *c, napi_value *address, napi_value *port) {
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

/* ── connections ────────────────────────────────────────────────────────────────────────────── */

static conn *conn_get(instance *inst, int64_t id) {
  return dow_id_get(&inst->conns, id);
}

static void on_conn_closed(uv_handle_t *handle) {
  free(handle->data);
}

/* Removes the id at once (JavaScript can no longer reach it), closes the socket, and frees the
   memory now if no poll ever ran, else in uv_close's callback. */
static void conn_close(conn *c, int reset) {
  dow_id_remove(&c->inst->conns, c->id);
  if (reset && c->tcp) {
    /* SO_LINGER 0: close() sends RST, so the front end cannot take a cut response as whole. */
    struct linger linger = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
  }
  dow_head_free(&c->head);
  dow_wq_clear(&c->queue);
  if (c->poll_ready) {
    /* uv_close first: it drops this fd's events still pending in the loop's current batch, which
       a new connection given the same descriptor number would otherwise receive. */
    uv_close((uv_handle_t *)&c->poll, on_conn_closed);
    close(c->fd);
  } else {
    close(c->fd);
    free(c);
  }
}

static void on_conn_event(uv_poll_t *handle, int status, int events);

/* Polls for what the connection waits for now: bytes JavaScript wants, or room to write. */
/* 0, or a libuv error (a negated errno). */
static int conn_update_poll(conn *c) {
  int events = 0;
  if (c->reading && !c->eof) events |= UV_READABLE;
  if (c->queue.bytes > 0) events |= UV_WRITABLE;
  if (events == c->polled_events) return 0;
  if (events == 0) {
    c->polled_events = 0;
    return uv_poll_stop(&c->poll);
  }
  if (!c->poll_ready) {
    int error = uv_poll_init_socket(c->inst->loop, &c->poll, c->fd);
    if (error != 0) return error;
    c->poll.data = c;
    c->poll_ready = 1;
  }
  int error = uv_poll_start(&c->poll, events, on_conn_event);
  if (error == 0) c->polled_events = events;
  return error;
}

static void fail(instance *inst, int64_t id, int error, enum failed_call call);

/* An event of connection `id`. What JavaScript asks of the connection meanwhile (start reading,
   queue a write) is applied to its poll once, after: a connection the app answers and closes
   inside the event (the usual hello) is then never registered with epoll at all. */
static void dispatch_conn(instance *inst, int64_t id, size_t argc, napi_value *argv) {
  conn *c = conn_get(inst, id);
  if (c == NULL) return;
  c->in_dispatch++;
  dispatch(inst, argc, argv);
  c = conn_get(inst, id);
  if (c == NULL) return;
  c->in_dispatch--;
  if (c->in_dispatch > 0) return;
  int error = conn_update_poll(c);
  if (error != 0) fail(inst, id, -error, FAILED_POLL);
}

static void dispatch_conn_id(instance *inst, enum event kind, int64_t id) {
  napi_handle_scope scope;
  napi_open_handle_scope(inst->env, &scope);
  napi_value argv[2] = {number(inst->env, kind), number(inst->env, (double)id)};
  dispatch_conn(inst, id, 2, argv);
  napi_close_handle_scope(inst->env, scope);
}

/* The arguments every event that introduces a connection starts with: (kind, id, lid, address,
   port). */
static void introduce(napi_env env, const conn *c, enum event kind, napi_value *argv) {
  argv[0] = number(env, kind);
  argv[1] = number(env, (double)c->id);
  argv[2] = number(env, (double)c->listener_id);
  peer_values(env, c, &argv[3], &argv[4]);
}

/* The head was delivered or refused: from now on bytes go to JavaScript as they come. */
static void head_handed_over(conn *c) {
  c->announced = 1;
  c->head_done = 1;
  c->reading = 1;
  dow_head_free(&c->head);
}

/* JavaScript must know a connection before it hears of its end: it counts and times it. */
static void announce(instance *inst, int64_t id) {
  conn *c = conn_get(inst, id);
  if (c == NULL || c->announced) return;
  c->announced = 1;
  napi_env env = inst->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[5];
  introduce(env, c, EV_WAIT, argv);
  dispatch_conn(inst, id, 5, argv);
  napi_close_handle_scope(env, scope);
}

static void fail(instance *inst, int64_t id, int error, enum failed_call call) {
  announce(inst, id);
  conn *c = conn_get(inst, id);
  if (c == NULL) return;
  c->reading = 0;
  c->eof = 1;
  conn_update_poll(c);
  napi_handle_scope scope;
  napi_open_handle_scope(inst->env, &scope);
  napi_value argv[4] = {number(inst->env, EV_ERROR), number(inst->env, (double)id), number(inst->env, error), number(inst->env, call)};
  dispatch_conn(inst, id, 4, argv);
  napi_close_handle_scope(inst->env, scope);
}

static void deliver_request(instance *inst, int64_t id, const uint8_t *rest, size_t rest_length) {
  conn *c = conn_get(inst, id);
  napi_env env = inst->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  uint32_t count = c->head.parser.pair_count;
  napi_value pairs;
  uint32_t *words = inst->shared_pair_words;
  if ((uint64_t)count * 4 <= SHARED_PAIR_WORDS) {
    napi_get_reference_value(env, inst->shared_pairs, &pairs);
  } else {
    napi_value buffer;
    void *data;
    if (napi_create_arraybuffer(env, (size_t)count * 4 * sizeof(uint32_t), &data, &buffer) != napi_ok) {
      napi_close_handle_scope(env, scope);
      fail(inst, id, ENOMEM, FAILED_READ);
      return;
    }
    napi_create_typedarray(env, napi_uint32_array, (size_t)count * 4, buffer, 0, &pairs);
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
  napi_value argv[10];
  introduce(env, c, EV_REQUEST, argv);
  napi_create_string_latin1(env, (const char *)dow_head_block(&c->head), dow_head_block_length(&c->head), &argv[5]);
  argv[6] = number(env, count);
  argv[7] = number(env, (double)c->head.parser.content_length);
  if (rest_length > 0) napi_create_buffer_copy(env, rest_length, rest, NULL, &argv[8]);
  else argv[8] = undefined(env);
  argv[9] = pairs;
  head_handed_over(c);
  dispatch_conn(inst, id, 10, argv);
  napi_close_handle_scope(env, scope);
}

static void deliver_refusal(instance *inst, int64_t id) {
  conn *c = conn_get(inst, id);
  napi_env env = inst->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[6];
  introduce(env, c, EV_BAD, argv);
  napi_create_buffer_copy(env, c->head.replay_length, c->head.replay, NULL, &argv[5]);
  head_handed_over(c);
  dispatch_conn(inst, id, 6, argv);
  napi_close_handle_scope(env, scope);
}

/* The head is incomplete: JavaScript learns of the connection (its headerTimeout runs from now)
   and the connection is polled for the rest. */
static void await_head(instance *inst, int64_t id) {
  announce(inst, id);
  conn *c = conn_get(inst, id);
  if (c == NULL) return;
  c->reading = 1;
  int error = conn_update_poll(c);
  if (error != 0) fail(inst, id, -error, FAILED_POLL);
}

/* Reads once. Before the head is complete the bytes go to the head reader; after, to JS. */
static void conn_read(instance *inst, int64_t id) {
  conn *c = conn_get(inst, id);
  if (c == NULL) return;
  ssize_t n = read(c->fd, inst->read_buffer, READ_BUFFER_BYTES);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!c->head_done) await_head(inst, id);
      return;
    }
    fail(inst, id, errno, FAILED_READ);
    return;
  }
  if (n == 0) {
    announce(inst, id);
    c = conn_get(inst, id);
    if (c == NULL) return;
    c->eof = 1;
    conn_update_poll(c);
    dispatch_conn_id(inst, EV_EOF, id);
    return;
  }
  if (c->head_done) {
    napi_handle_scope scope;
    napi_open_handle_scope(inst->env, &scope);
    napi_value argv[3] = {number(inst->env, EV_DATA), number(inst->env, (double)id), NULL};
    napi_create_buffer_copy(inst->env, (size_t)n, inst->read_buffer, NULL, &argv[2]);
    dispatch_conn(inst, id, 3, argv);
    napi_close_handle_scope(inst->env, scope);
    return;
  }
  size_t consumed = 0;
  switch (dow_head_feed(&c->head, inst->read_buffer, (size_t)n, &consumed)) {
    case DOW_HEAD_MORE:
      await_head(inst, id);
      return;
    case DOW_HEAD_READY:
      deliver_request(inst, id, inst->read_buffer + consumed, (size_t)n - consumed);
      break;
    case DOW_HEAD_BAD:
      deliver_refusal(inst, id);
      break;
    case DOW_HEAD_NOMEM:
      fail(inst, id, ENOMEM, FAILED_READ);
      return;
  }
  /* Back from JavaScript: the app may have answered and closed already. */
  c = conn_get(inst, id);
  if (c == NULL) return;
  int error = conn_update_poll(c);
  if (error != 0) fail(inst, id, -error, FAILED_POLL);
}

/* Sends what the queue holds; 0 when it is empty now or the kernel is full, else an errno. */
static int conn_flush(conn *c) {
  struct iovec iov[IOV_BATCH];
  while (c->queue.bytes > 0) {
    size_t count = dow_wq_iov(&c->queue, iov, IOV_BATCH);
    struct msghdr message = {0};
    message.msg_iov = iov;
    message.msg_iovlen = count;
    ssize_t sent = sendmsg(c->fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      return errno;
    }
    dow_wq_consume(&c->queue, (size_t)sent);
  }
  if (c->shut_pending) {
    c->shut_pending = 0;
    shutdown(c->fd, SHUT_WR);
  }
  return 0;
}

static void on_conn_event(uv_poll_t *handle, int status, int events) {
  conn *c = handle->data;
  instance *inst = c->inst;
  int64_t id = c->id;
  if (conn_get(inst, id) != c) return; /* closed: its uv_close is pending */
  if (status < 0) {
    /* libuv reports a socket error (POLLERR: a reset, a refused write) as UV_EBADF; the real
       error is the socket's, and it belongs to what the connection was waiting to do. */
    int error = 0;
    socklen_t length = sizeof error;
    if (status == UV_EBADF && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error != 0) {
      fail(inst, id, error, c->queue.bytes > 0 ? FAILED_WRITE : FAILED_READ);
    } else {
      fail(inst, id, -status, FAILED_POLL);
    }
    return;
  }
  if (events & UV_WRITABLE) {
    int error = conn_flush(c);
    if (error != 0) {
      fail(inst, id, error, FAILED_WRITE);
      return;
    }
    if (c->queue.bytes == 0) {
      conn_update_poll(c);
      dispatch_conn_id(inst, EV_DRAIN, id);
      c = conn_get(inst, id);
      if (c == NULL) return;
    }
  }
  if ((events & (UV_READABLE | UV_DISCONNECT)) && c->reading && !c->eof) conn_read(inst, id);
}

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
  conn *c = calloc(1, sizeof(conn));
  if (c == NULL) return;
  c->peer_length = sizeof c->peer;
  int fd = accept4(l->fd, (struct sockaddr *)&c->peer, &c->peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    free(c);
    if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR || error == ECONNABORTED) return;
    /* Out of descriptors or memory: the connection stays in the backlog; a level-triggered poll
       would wake at once and spin, so stop polling for a moment. */
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->pause, resume_accepting, ACCEPT_PAUSE_MS, 0);
    dispatch_errno(inst, EV_ACCEPT_ERROR, l->id, error);
    return;
  }
  c->fd = fd;
  c->inst = inst;
  c->tcp = l->tcp;
  c->listener_id = l->id;
  if (dow_head_init(&c->head, &l->limits) != 0) {
    close(fd);
    free(c);
    return;
  }
  c->id = dow_id_add(&inst->conns, c);
  if (c->id < 0) {
    close(fd);
    free(c);
    return;
  }
  conn_read(inst, c->id);
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

/* Sends at once what the kernel takes and queues the rest: 1 all sent, 0 queued (a drain event
   follows), or -errno. */
static int send_or_queue(conn *c, struct iovec *iov, size_t count) {
  size_t total = 0;
  for (size_t i = 0; i < count; i++) total += iov[i].iov_len;
  size_t sent = 0;
  if (c->queue.bytes == 0 && total > 0) {
    struct msghdr message = {0};
    message.msg_iov = iov;
    message.msg_iovlen = count;
    ssize_t n;
    do n = sendmsg(c->fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
    sent = n < 0 ? 0 : (size_t)n;
  }
  if (sent == total) return 1;
  for (size_t i = 0; i < count; i++) {
    size_t length = iov[i].iov_len;
    if (sent >= length) {
      sent -= length;
      continue;
    }
    if (dow_wq_push(&c->queue, (const uint8_t *)iov[i].iov_base + sent, length - sent) != 0) return -ENOMEM;
    sent = 0;
  }
  if (c->in_dispatch > 0) return 0; /* dispatch_conn() polls for it after */
  return conn_update_poll(c) == 0 ? 0 : -EIO;
}

/* write(id, buffer) */
static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  conn *c = conn_get(instance_of(env), id_arg(env, argv[0]));
  if (c == NULL) return result_int(env, -EBADF);
  struct iovec iov;
  if (napi_get_buffer_info(env, argv[1], &iov.iov_base, &iov.iov_len) != napi_ok) {
    napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "write: not a Buffer");
    return NULL;
  }
  return result_int(env, send_or_queue(c, &iov, 1));
}

/* writev(id, buffers): one system call for a corked response (head and body). */
static napi_value js_writev(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv) != 0) return NULL;
  conn *c = conn_get(instance_of(env), id_arg(env, argv[0]));
  if (c == NULL) return result_int(env, -EBADF);
  uint32_t count = 0;
  if (napi_get_array_length(env, argv[1], &count) != napi_ok || count > IOV_BATCH) {
    napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "writev: an array of at most 64 Buffers");
    return NULL;
  }
  struct iovec iov[IOV_BATCH];
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    napi_get_element(env, argv[1], i, &element);
    if (napi_get_buffer_info(env, element, &iov[i].iov_base, &iov[i].iov_len) != napi_ok) {
      napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "writev: not a Buffer");
      return NULL;
    }
  }
  return result_int(env, send_or_queue(c, iov, count));
}

/* shutdown(id): our side ends once the queue is empty. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  conn *c = conn_get(instance_of(env), id_arg(env, argv[0]));
  if (c == NULL) return result_int(env, -EBADF);
  if (c->queue.bytes > 0) c->shut_pending = 1;
  else if (shutdown(c->fd, SHUT_WR) != 0) return result_int(env, -errno);
  return result_int(env, 0);
}

/* The arguments (id, flag) of the functions below: the connection (NULL if gone) and the flag. */
static conn *conn_and_flag(napi_env env, napi_callback_info info, bool *flag) {
  napi_value argv[2];
  *flag = false;
  if (get_args(env, info, 2, argv) != 0) return NULL;
  napi_get_value_bool(env, argv[1], flag);
  return conn_get(instance_of(env), id_arg(env, argv[0]));
}

/* close(id, reset): unsent bytes are dropped, as net.Socket's destroy() drops them. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  bool reset;
  conn *c = conn_and_flag(env, info, &reset);
  if (c != NULL) conn_close(c, reset);
  return NULL;
}

/* read(id, on): JavaScript's stream paused (false) or wants more (true). */
static napi_value js_read(napi_env env, napi_callback_info info) {
  bool on;
  conn *c = conn_and_flag(env, info, &on);
  if (c == NULL || !c->head_done) return NULL;
  c->reading = on;
  if (c->in_dispatch == 0 && conn_update_poll(c) != 0) return result_int(env, -EIO);
  return NULL;
}

static napi_value js_set_no_delay(napi_env env, napi_callback_info info) {
  bool on;
  conn *c = conn_and_flag(env, info, &on);
  if (c != NULL && c->tcp) {
    int flag = on;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &flag, sizeof flag);
  }
  return NULL;
}

static void add_queued(void *value, void *data) {
  *(double *)data += (double)((conn *)value)->queue.bytes;
}

/* Open connections and listeners, and bytes waiting in write queues: for tests that look for
   leaks and unbounded buffering. */
static napi_value js_counts(napi_env env, napi_callback_info info) {
  (void)info;
  instance *inst = instance_of(env);
  double queued = 0;
  dow_id_each(&inst->conns, add_queued, &queued);
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "connections", number(env, inst->conns.live));
  napi_set_named_property(env, out, "listeners", number(env, inst->listeners.live));
  napi_set_named_property(env, out, "queuedBytes", number(env, queued));
  return out;
}

/* ── module lifetime ────────────────────────────────────────────────────────────────────────── */

static void close_conn_at_teardown(void *value, void *data) {
  (void)data;
  conn *c = value;
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
  dow_id_each(&inst->conns, close_conn_at_teardown, NULL);
  dow_id_each(&inst->listeners, close_listener_at_teardown, NULL);
  if (inst->context != NULL) napi_async_destroy(env, inst->context);
}

NAPI_MODULE_INIT() {
  instance *inst = calloc(1, sizeof(instance));
  if (inst == NULL) return NULL;
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
