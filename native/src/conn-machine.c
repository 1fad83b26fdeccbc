/* The connection state machine: see conn-machine.h. */
#include "conn-machine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void dow_machine_init(dow_machine *m, const dow_machine_ops *ops, void *user) {
  m->ops = ops;
  m->user = user;
  memset(&m->conns, 0, sizeof m->conns);
}

dow_conn *dow_conn_get(dow_machine *m, int64_t id) {
  return dow_id_get(&m->conns, id);
}

/* The id goes at once (JavaScript can no longer reach the connection), then the socket and the
   memory. The ops' close lets go of the loop's handle, so no loop callback can reach `c` after.
   Bytes written but never sent make it a reset: the front end must not take the cut response for
   a whole one (as connection.ts's cut() does in JavaScript). */
static void release(dow_conn *c, int reset) {
  dow_machine *m = c->machine;
  if (c->queue.bytes > 0) c->cut = 1;
  dow_id_remove(&m->conns, c->id);
  dow_head_free(&c->head);
  dow_wq_clear(&c->queue);
  m->ops->close(m, c, reset || c->cut);
  free(c);
}

static void release_token(void *context, void *token) {
  dow_machine *m = context;
  m->ops->release(m, token);
}

/* Polls for what the connection waits for now: bytes JavaScript wants, or room to write.
   Waiting for nothing cannot fail. */
static int update_poll(dow_conn *c) {
  int events = 0;
  if (c->reading && !c->eof) events |= DOW_POLL_READABLE;
  if (c->queue.bytes > 0) events |= DOW_POLL_WRITABLE;
  if (events == c->polled_events) return 0;
  int error = c->machine->ops->poll(c->machine, c, events);
  if (error == 0 || events == 0) c->polled_events = events;
  return events == 0 ? 0 : error;
}

static void fail(dow_machine *m, int64_t id, int error, dow_failed_call call);

static int introduces(dow_event_kind kind) {
  return kind == DOW_EV_WAIT || kind == DOW_EV_REQUEST || kind == DOW_EV_BAD;
}

/* Tells JavaScript about connection `id`. What JavaScript asks of the connection meanwhile (start
   reading, queue a write) is applied to its poll once, after: a connection the app answers and
   closes inside the event (the usual hello) is then never polled at all. */
static void emit(dow_machine *m, int64_t id, const dow_event *event) {
  dow_conn *c = dow_conn_get(m, id);
  if (c == NULL) return;
  int known = c->announced;
  if (introduces(event->kind)) c->announced = 1;
  c->in_event++;
  int error = m->ops->emit(m, c, event);
  /* JavaScript may have closed it. */
  c = dow_conn_get(m, id);
  if (c == NULL) return;
  c->in_event--;
  if (error != 0) {
    /* Not even this event reached JavaScript: a connection it never heard of just goes. */
    if (!known && introduces(event->kind)) release(c, 1);
    else fail(m, id, error, DOW_FAILED_READ);
    return;
  }
  if (c->in_event > 0) return;
  int poll_error = update_poll(c);
  if (poll_error != 0) fail(m, id, -poll_error, DOW_FAILED_POLL);
}

static void emit_kind(dow_machine *m, int64_t id, dow_event_kind kind) {
  dow_event event = {.kind = kind};
  emit(m, id, &event);
}

/* JavaScript must know a connection before it hears of its end: it counts and times it. */
static void announce(dow_machine *m, int64_t id) {
  dow_conn *c = dow_conn_get(m, id);
  if (c != NULL && !c->announced) emit_kind(m, id, DOW_EV_WAIT);
}

/* One ERROR per connection, as net.Socket emits one 'error': after it the connection reads and
   sends nothing more (unsent bytes are dropped) and waits for JavaScript to close it. */
static void fail(dow_machine *m, int64_t id, int error, dow_failed_call call) {
  announce(m, id);
  dow_conn *c = dow_conn_get(m, id);
  if (c == NULL || c->failed != 0) return;
  c->failed = error != 0 ? error : EIO;
  c->reading = 0;
  c->eof = 1;
  c->shut_pending = 0;
  if (c->queue.bytes > 0) c->cut = 1;
  dow_wq_clear(&c->queue);
  update_poll(c);
  dow_event event = {.kind = DOW_EV_ERROR, .error = c->failed, .failed_call = call};
  emit(m, id, &event);
}

/* The head was delivered or refused: from now on bytes go to JavaScript as they come. */
static void hand_over_head(dow_machine *m, int64_t id, const dow_event *event) {
  dow_conn *c = dow_conn_get(m, id);
  c->head_done = 1;
  c->reading = 1;
  emit(m, id, event);
  c = dow_conn_get(m, id);
  if (c != NULL) dow_head_free(&c->head);
}

/* The head is incomplete: JavaScript learns of the connection (its headerTimeout runs from now)
   and the connection is polled for the rest. */
static void await_head(dow_machine *m, int64_t id) {
  announce(m, id);
  dow_conn *c = dow_conn_get(m, id);
  if (c == NULL) return;
  c->reading = 1;
  int error = update_poll(c);
  if (error != 0) fail(m, id, -error, DOW_FAILED_POLL);
}

/* Reads once. Before the head is complete the bytes go to the head reader; after, to JS. */
static void conn_read(dow_machine *m, int64_t id) {
  dow_conn *c = dow_conn_get(m, id);
  if (c == NULL) return;
  ssize_t n = m->ops->read(m, c->fd, m->read_buffer, DOW_READ_BUFFER_BYTES);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!c->head_done) await_head(m, id);
      return;
    }
    fail(m, id, errno, DOW_FAILED_READ);
    return;
  }
  if (n == 0) {
    announce(m, id);
    c = dow_conn_get(m, id);
    if (c == NULL) return;
    c->eof = 1;
    int error = update_poll(c);
    if (error != 0) {
      fail(m, id, -error, DOW_FAILED_POLL);
      return;
    }
    emit_kind(m, id, DOW_EV_EOF);
    return;
  }
  if (c->head_done) {
    dow_event event = {.kind = DOW_EV_DATA, .bytes = m->read_buffer, .length = (size_t)n};
    emit(m, id, &event);
    return;
  }
  size_t consumed = 0;
  switch (dow_head_feed(&c->head, m->read_buffer, (size_t)n, &consumed)) {
    case DOW_HEAD_MORE:
      await_head(m, id);
      return;
    case DOW_HEAD_READY: {
      dow_event event = {.kind = DOW_EV_REQUEST, .bytes = m->read_buffer + consumed, .length = (size_t)n - consumed};
      hand_over_head(m, id, &event);
      return;
    }
    case DOW_HEAD_BAD: {
      dow_event event = {.kind = DOW_EV_BAD};
      hand_over_head(m, id, &event);
      return;
    }
    case DOW_HEAD_NOMEM:
      fail(m, id, ENOMEM, DOW_FAILED_READ);
      return;
  }
}

int64_t dow_conn_open(dow_machine *m, int fd, int tcp, int64_t listener_id, const dow_scgi_limits *limits,
                      const struct sockaddr_storage *peer, socklen_t peer_length) {
  dow_conn *c = calloc(1, sizeof(dow_conn));
  if (c == NULL) return -1;
  c->machine = m;
  c->fd = fd;
  c->tcp = tcp;
  c->listener_id = listener_id;
  c->queue.release = release_token;
  c->queue.context = m;
  if (peer_length > sizeof c->peer) peer_length = sizeof c->peer;
  memcpy(&c->peer, peer, peer_length);
  c->peer_length = peer_length;
  if (dow_head_init(&c->head, limits) != 0) {
    free(c);
    return -1;
  }
  c->id = dow_id_add(&m->conns, c);
  if (c->id < 0) {
    dow_head_free(&c->head);
    free(c);
    return -1;
  }
  int64_t id = c->id;
  conn_read(m, id);
  return id;
}

/* Sends what the queue holds; 0 when it is empty now or the kernel is full, else an errno. */
static int flush(dow_conn *c) {
  dow_machine *m = c->machine;
  struct iovec iov[DOW_IOV_BATCH];
  while (c->queue.bytes > 0) {
    struct msghdr message = {0};
    message.msg_iov = iov;
    message.msg_iovlen = dow_wq_iov(&c->queue, iov, DOW_IOV_BATCH);
    ssize_t sent = m->ops->sendmsg(m, c->fd, &message);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      return errno;
    }
    dow_wq_consume(&c->queue, (size_t)sent);
  }
  if (c->shut_pending) {
    c->shut_pending = 0;
    m->ops->shutdown_write(m, c->fd);
  }
  return 0;
}

void dow_conn_ready(dow_conn *c, int status, int socket_error, int events) {
  dow_machine *m = c->machine;
  int64_t id = c->id;
  if (status < 0) {
    /* The socket's own error belongs to what the connection was waiting to do. */
    if (socket_error != 0) fail(m, id, socket_error, c->queue.bytes > 0 ? DOW_FAILED_WRITE : DOW_FAILED_READ);
    else fail(m, id, -status, DOW_FAILED_POLL);
    return;
  }
  if (events & DOW_POLL_WRITABLE) {
    int error = flush(c);
    if (error != 0) {
      fail(m, id, error, DOW_FAILED_WRITE);
      return;
    }
    if (c->queue.bytes == 0) {
      error = update_poll(c);
      if (error != 0) {
        fail(m, id, -error, DOW_FAILED_POLL);
        return;
      }
      emit_kind(m, id, DOW_EV_DRAIN);
      c = dow_conn_get(m, id);
      if (c == NULL) return;
    }
  }
  if ((events & DOW_POLL_READABLE) && c->reading && !c->eof) conn_read(m, id);
}

/* One sendmsg's worth of a write: sends what the kernel takes now (only when nothing is queued
   before it, to keep the order) and holds the rest. 1 all sent, 0 queued, or -errno. */
static int write_batch(dow_conn *c, const struct iovec *iov, size_t count, void *source, size_t first) {
  dow_machine *m = c->machine;
  size_t total = 0;
  for (size_t i = 0; i < count; i++) total += iov[i].iov_len;
  size_t sent = 0;
  if (c->queue.bytes == 0 && total > 0) {
    struct msghdr message = {0};
    message.msg_iov = (struct iovec *)iov;
    message.msg_iovlen = count;
    ssize_t n;
    do n = m->ops->sendmsg(m, c->fd, &message);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      c->cut = 1;
      return -errno;
    }
    sent = n < 0 ? 0 : (size_t)n;
  }
  if (sent >= total) return 1;
  for (size_t i = 0; i < count; i++) {
    size_t length = iov[i].iov_len;
    if (sent >= length) {
      sent -= length;
      continue;
    }
    void *token = m->ops->hold(m, source, first + i);
    if (token == NULL || dow_wq_push(&c->queue, (const uint8_t *)iov[i].iov_base + sent, length - sent, token) != 0) {
      if (token != NULL) m->ops->release(m, token);
      c->cut = 1;
      return -ENOMEM;
    }
    sent = 0;
  }
  return 0;
}

int dow_conn_write(dow_machine *m, int64_t id, const struct iovec *iov, size_t count, void *source) {
  dow_conn *c = dow_conn_get(m, id);
  if (c == NULL) return -EBADF;
  if (c->failed != 0) return -c->failed;
  int result = 1;
  for (size_t first = 0; first < count; first += DOW_IOV_BATCH) {
    size_t batch = count - first < DOW_IOV_BATCH ? count - first : DOW_IOV_BATCH;
    int done = write_batch(c, iov + first, batch, source, first);
    if (done < 0) return done;
    if (done == 0) result = 0;
  }
  if (result == 1) return 1;
  if (c->in_event > 0) return 0; /* emit() polls for it after */
  return update_poll(c);
}

int dow_conn_shutdown(dow_machine *m, int64_t id) {
  dow_conn *c = dow_conn_get(m, id);
  if (c == NULL) return -EBADF;
  if (c->queue.bytes > 0) c->shut_pending = 1;
  else if (m->ops->shutdown_write(m, c->fd) != 0) return -errno;
  return 0;
}

void dow_conn_close(dow_machine *m, int64_t id, int reset) {
  dow_conn *c = dow_conn_get(m, id);
  if (c != NULL) release(c, reset);
}

int dow_conn_set_reading(dow_machine *m, int64_t id, int on) {
  dow_conn *c = dow_conn_get(m, id);
  if (c == NULL || !c->head_done) return 0;
  c->reading = on;
  if (c->in_event > 0) return 0;
  return update_poll(c);
}
