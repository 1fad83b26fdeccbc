/*
 * The addon's listeners: a listening socket polled on the loop, one accept per wake-up, each
 * accepted connection handed to the machine; and the functions JavaScript calls on them.
 */
#define _GNU_SOURCE
#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* What the listeners report besides the connection events of conn-machine.h (pinned in
   server/native/native-binding.ts). */
#define EV_ACCEPT_ERROR 8 /* (lid, errno) */

#define ACCEPT_PAUSE_MS 100 /* after EMFILE: retry later instead of spinning on a ready fd */

typedef struct listener {
  uv_poll_t poll;
  uv_timer_t pause;
  instance *inst;
  int64_t id;
  int fd;
  int tcp;
  int owns_socket; /* bound here, not a copy of the supervisor's: only then may it clear TCP_DEFER_ACCEPT */
  int stopping;    /* its owner's stop began (setBacklog): each wake-up accepts all that is queued */
  int closing;
  dow_scgi_limits limits;
} listener;

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

/* 1 when a connection was taken (or refused by the machine), 0 when none is left to take now. */
static int accept_one(instance *inst, listener *l) {
  struct sockaddr_storage peer;
  socklen_t peer_length = sizeof peer;
  int fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    if (error == EINTR || error == ECONNABORTED) return 1;
    if (error == EAGAIN || error == EWOULDBLOCK) return 0;
    /* Out of descriptors or memory: the connection stays in the backlog; a level-triggered poll
       would wake at once and spin, so stop polling for a moment. */
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->pause, resume_accepting, ACCEPT_PAUSE_MS, 0);
    dispatch_errno(inst, EV_ACCEPT_ERROR, l->id, error);
    return 0;
  }
  if (dow_conn_open(&inst->machine, fd, l->tcp, l->id, &l->limits, &peer, peer_length) < 0) close(fd);
  return 1;
}

static void on_listener_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  listener *l = handle->data;
  if (status < 0) {
    dispatch_errno(l->inst, EV_ACCEPT_ERROR, l->id, -status);
    return;
  }
  /* One connection per wake-up, as uWSGI does: the workers sharing the socket each get a turn.
     A stopping owner takes the whole queue, since its close resets whatever is left there, and
     the loop between two wake-ups is busy with its app (no new handshake completes meanwhile:
     see refuseHandshakes). A dispatch may close this listener: then it stops. */
  if (!l->stopping) {
    accept_one(l->inst, l);
    return;
  }
  while (!l->closing && accept_one(l->inst, l)) {
  }
}

/* A stop of the socket's owner is under way: a connection whose handshake is done but whose
   request the kernel holds back for TCP_DEFER_ACCEPT is not in the accept queue yet, and would be
   reset when the socket closes, so nothing is held back from now on. A worker's copy
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

static void close_listener_at_cleanup(void *value, void *data) {
  listener_close(value);
}

/* The environment is going away: every listener closes (addon.c's cleanup hook). */
void close_listeners(instance *inst) {
  dow_id_each(&inst->listeners, close_listener_at_cleanup, NULL);
}

/* listen(fd, backlog, deferAcceptSeconds, maxHeaderBytes, maxBodyBytes, ownsSocket) → listener
   id, or -errno. The fd is duplicated: the caller keeps (and closes) its own. */
napi_value js_listen(napi_env env, napi_callback_info info) {
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

/* setBacklog(lid, n): listen() again, and TCP_DEFER_ACCEPT off, as a stop does (see
   stopHandshakes() in server/listen/listen-address.ts): handshakes under way then complete at
   once instead of waiting for their first data. */
napi_value js_set_backlog(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  instance *inst = begin(env, info, 2, argv);
  if (inst == NULL) return NULL;
  listener *l = dow_id_get(&inst->listeners, id_arg(env, argv[0]));
  int32_t backlog = 0;
  CHECKED(napi_get_value_int32(env, argv[1], &backlog), return throw_failed(env, "setBacklog: napi_get_value_int32"));
  if (l == NULL) return result_int(env, -EBADF);
  l->stopping = l->owns_socket;
  stop_deferring(l);
  return result_int(env, listen(l->fd, backlog) == 0 ? 0 : -errno);
}

napi_value js_close_listener(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  instance *inst = begin(env, info, 1, argv);
  if (inst == NULL) return NULL;
  listener *l = dow_id_get(&inst->listeners, id_arg(env, argv[0]));
  if (l != NULL) listener_close(l);
  return NULL;
}

/* deferAcceptSeconds(fd): the socket's TCP_DEFER_ACCEPT as the kernel reports it (rounded to its
   retransmission steps), 0 when off or not TCP, or -errno: for the checks of who may clear it. */
napi_value js_defer_accept_seconds(napi_env env, napi_callback_info info) {
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
napi_value js_stop_deferring(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int32_t fd;
  CHECKED(napi_get_value_int32(env, argv[0], &fd), return throw_failed(env, "stopDeferring: napi_get_value_int32"));
  int off = 0;
  if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &off, sizeof off) != 0) return result_int(env, errno == EOPNOTSUPP ? 0 : -errno);
  return result_int(env, 0);
}

/* refuseHandshakes(fd): the kernel drops every SYN that would open a new connection on this
   listening socket from now on, while the handshakes it already answered still complete into the
   accept queue. A stop that then accepts for a while before its close leaves nothing queued for
   the close to reset; listen() with a backlog of 0 alone still lets one handshake complete between
   the last accept and the close. A client whose SYN is dropped retries after a second and meets a
   closed socket: refused, which nginx fails over. A classic BPF socket filter sees a TCP segment
   from its TCP header (IPv4 and IPv6 alike); byte 13 holds the flags, and a SYN without ACK is
   the only segment that starts a handshake. Connections accepted later inherit the filter, which
   drops nothing they receive. Not for a socket that outlives this process (systemd's): the next
   process would inherit a socket that refuses everyone. 0 or -errno. */
napi_value js_refuse_handshakes(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int32_t fd;
  CHECKED(napi_get_value_int32(env, argv[0], &fd), return throw_failed(env, "refuseHandshakes: napi_get_value_int32"));
  struct sock_filter drop_syn[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),
    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),                   /* SYN | ACK */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),             /* SYN alone */
    BPF_STMT(BPF_RET | BPF_K, 0),                                /* dropped */
    BPF_STMT(BPF_RET | BPF_K, 0xffffffff),                       /* kept whole */
  };
  struct sock_fprog program = {.len = sizeof drop_syn / sizeof drop_syn[0], .filter = drop_syn};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) return result_int(env, -errno);
  return result_int(env, 0);
}
