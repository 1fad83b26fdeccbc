/*
 * libFuzzer target for the native I/O core's connection state machine (conn-machine.c;
 * scripts/fuzz.sh machine), under ASan and UBSan. The machine runs with a scripted world in place
 * of the kernel, the loop and JavaScript, every choice taken from the input:
 *
 * - sockets: each read gives some of the peer's bytes, EAGAIN, the end, or ECONNRESET; each send
 *   takes some bytes, none (EAGAIN) or fails (EPIPE). The peer sends an SCGI request (built from
 *   the input, maybe with a byte changed) or raw bytes, then ends or stays open.
 * - the loop: wakes a polled connection for what it waits for (or part of it, or with an error);
 *   registering can fail.
 * - JavaScript: inside any event, and between events as a timer would, it writes, closes (with or
 *   without reset), shuts down and pauses or resumes reading, on the connection of the event or
 *   on any other id, live or stale; as NativeSocket does, it closes after an error. Building an
 *   event can fail (out of memory).
 *
 * ASan catches a use of a connection after it was freed (the bug the design rules out); the
 * checks below catch the rest:
 * - no event reaches JavaScript for an id it closed, none nests inside another, and every id is
 *   introduced (WAIT, REQUEST or BAD) before anything else, with one head and one ERROR at most;
 * - the bytes JavaScript gets (REQUEST's rest, then DATA) are the peer's, in order, with none
 *   lost or repeated; a refused head's replay is every byte read; EOF only at the peer's end;
 * - the peer receives exactly the bytes JavaScript wrote, in order (a prefix of them until the
 *   queue drains); DRAIN only with the queue empty;
 * - after every step the loop waits for exactly what each connection needs; a connection is open
 *   in the machine exactly while JavaScript holds it; every socket is closed once, and none is
 *   used after.
 */
#include "../src/conn-machine.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-check.h"

#define MAX_SOCKETS 24
#define MAX_PEER_BYTES 2048
#define MAX_OUT_BYTES 8192

/* ── the input ──────────────────────────────────────────────────────────────────────────────── */

static const uint8_t *input;
static size_t input_left;

static int exhausted(void) {
  return input_left == 0;
}

static uint8_t take(void) {
  if (input_left == 0) return 0;
  input_left--;
  return *input++;
}

/* ── the world ──────────────────────────────────────────────────────────────────────────────── */

typedef struct fake_socket {
  int closed;
  int reset;
  int shut;
  int peer_ends;           /* the peer sends its FIN after its bytes */
  uint8_t in[MAX_PEER_BYTES];
  size_t in_length;
  size_t in_position;      /* bytes read so far */
  uint8_t out[MAX_OUT_BYTES];
  size_t out_length;       /* bytes the peer received (capped at MAX_OUT_BYTES for the check) */
  size_t out_total;
  /* JavaScript's view */
  int64_t id;
  int js_known;
  int js_closed;
  int js_head;             /* REQUEST or BAD seen */
  int js_error;
  int js_eof;
  int js_shut;             /* JavaScript ended its side: it writes no more */
  size_t js_position;      /* the peer's bytes JavaScript has had, after the head */
  uint8_t written[MAX_OUT_BYTES];
  size_t written_length;   /* bytes the machine accepted from JavaScript's writes (capped) */
  size_t written_total;
  int unchecked;           /* bytes out are no longer checked: over MAX_OUT_BYTES, or a write
                              failed after part of it went (JavaScript counts none of it) */
} fake_socket;

static fake_socket sockets[MAX_SOCKETS];
static size_t socket_count;
static dow_machine machine;
static int event_depth;
static const int FD_BASE = 100;

static fake_socket *socket_of_fd(int fd) {
  CHECK(fd >= FD_BASE && (size_t)(fd - FD_BASE) < socket_count);
  fake_socket *s = &sockets[fd - FD_BASE];
  CHECK(!s->closed); /* no call on a closed socket */
  return s;
}

static ssize_t fake_read(dow_machine *m, int fd, void *buffer, size_t length) {
  fake_socket *s = socket_of_fd(fd);
  uint8_t choice = take();
  /* Failures use the high remainders: an exhausted input (zeros) takes the plain path. */
  if (choice % 11 == 10) {
    errno = ECONNRESET;
    return -1;
  }
  size_t left = s->in_length - s->in_position;
  if (left == 0) {
    if (s->peer_ends) return 0;
    errno = EAGAIN;
    return -1;
  }
  if (choice % 7 == 1) {
    errno = EAGAIN;
    return -1;
  }
  size_t n = choice % 2 == 0 ? left : 1 + take() % left;
  if (n > length) n = length;
  memcpy(buffer, s->in + s->in_position, n);
  s->in_position += n;
  return (ssize_t)n;
}

static ssize_t fake_sendmsg(dow_machine *m, int fd, const struct msghdr *message) {
  fake_socket *s = socket_of_fd(fd);
  CHECK(!s->shut); /* nothing is sent after our FIN */
  uint8_t choice = take();
  if (choice % 13 == 12) {
    errno = EPIPE;
    return -1;
  }
  if (choice % 5 == 1) {
    errno = EAGAIN;
    return -1;
  }
  size_t total = 0;
  for (size_t i = 0; i < (size_t)message->msg_iovlen; i++) total += message->msg_iov[i].iov_len;
  size_t n = choice % 2 == 0 ? total : total == 0 ? 0 : take() % (total + 1);
  size_t left = n;
  for (size_t i = 0; i < (size_t)message->msg_iovlen && left > 0; i++) {
    size_t part = message->msg_iov[i].iov_len < left ? message->msg_iov[i].iov_len : left;
    size_t room = MAX_OUT_BYTES - s->out_length;
    memcpy(s->out + s->out_length, message->msg_iov[i].iov_base, part < room ? part : room);
    s->out_length += part < room ? part : room;
    left -= part;
  }
  s->out_total += n;
  return (ssize_t)n;
}

static int fake_shutdown_write(dow_machine *m, int fd) {
  socket_of_fd(fd)->shut = 1;
  return 0;
}

static int fake_poll(dow_machine *m, dow_conn *c, int events) {
  if (events != 0 && take() % 17 == 16) return -ENOMEM;
  c->poll = &sockets[c->fd - FD_BASE];
  return 0;
}

static void fake_close(dow_machine *m, dow_conn *c, int reset) {
  fake_socket *s = socket_of_fd(c->fd);
  /* A response cut short (bytes JavaScript wrote and the peer never got) ends with a reset: a
     FIN would look like its end. */
  if (!s->unchecked && s->out_total < s->written_total) CHECK(reset);
  s->closed = 1;
  s->reset = reset;
}

/* JavaScript's Buffers: the machine holds them (by reference) for what it queues, and JavaScript
   lets go of its own right after the write, so ASan catches a queued byte read after its
   release, and `held` a reference never given back. */
typedef struct fake_buffer {
  int references;
  uint8_t *bytes;
} fake_buffer;

static long held;

static void unref_buffer(fake_buffer *b) {
  CHECK(b->references > 0);
  if (--b->references > 0) return;
  free(b->bytes);
  free(b);
}

static void *fake_hold(dow_machine *m, void *source, size_t index) {
  if (take() % 23 == 22) return NULL; /* napi_create_reference failed */
  fake_buffer *b = ((fake_buffer **)source)[index];
  b->references++;
  held++;
  return b;
}

static void fake_release(dow_machine *m, void *token) {
  CHECK(held > 0);
  held--;
  unref_buffer(token);
}

/* ── JavaScript ─────────────────────────────────────────────────────────────────────────────── */

/* Bytes written are a pattern of the socket and position, so order is checked, not only count. */
static uint8_t pattern(const fake_socket *s, size_t position) {
  return (uint8_t)(position * 31 + (size_t)(s - sockets) * 7 + 1);
}

static void js_close(fake_socket *s, int reset) {
  dow_conn_close(&machine, s->id, reset);
  s->js_closed = 1;
  CHECK(dow_conn_get(&machine, s->id) == NULL);
}

/* One thing JavaScript may do, to `s` (NULL: a stale or never-given id). */
static void js_act(fake_socket *s) {
  uint8_t choice = take();
  /* An id JavaScript never had: negative, or beyond any slot the table has. */
  int64_t id = s != NULL ? s->id : choice & 16 ? -1 - (int64_t)take() : (int64_t)(DOW_ID_MAX_SLOTS - 1 - take());
  if (s != NULL && (s->js_closed || !s->js_known)) s = NULL; /* a stale id: must find nothing */
  switch (choice % 5) {
    case 0: { /* write, in one or two buffers; never after our end, as a Writable refuses it */
      if (s != NULL && s->js_shut) return;
      uint8_t buffer[600];
      size_t length = (size_t)take() * 2 % sizeof buffer;
      size_t base = s != NULL ? s->written_total : 0;
      for (size_t i = 0; i < length; i++) buffer[i] = s != NULL ? pattern(s, base + i) : 0;
      fake_buffer *buffers[2];
      struct iovec iov[2];
      for (int i = 0; i < 2; i++) {
        size_t from = i == 0 ? 0 : length / 2, part = i == 0 ? length / 2 : length - length / 2;
        buffers[i] = calloc(1, sizeof(fake_buffer));
        CHECK(buffers[i] != NULL);
        buffers[i]->references = 1;
        buffers[i]->bytes = malloc(part + 1);
        CHECK(buffers[i]->bytes != NULL);
        memcpy(buffers[i]->bytes, buffer + from, part);
        iov[i].iov_base = buffers[i]->bytes;
        iov[i].iov_len = part;
      }
      int result = dow_conn_write(&machine, id, iov, choice % 3 == 0 ? 1 : 2, buffers);
      /* JavaScript lets go of its Buffers; what the machine queued it holds itself. */
      unref_buffer(buffers[0]);
      unref_buffer(buffers[1]);
      size_t accepted = choice % 3 == 0 ? length / 2 : length;
      if (s == NULL) {
        CHECK(result == -EBADF);
        return;
      }
      if (result < 0) {
        s->unchecked = 1;
        /* NativeSocket: the write's error destroys the socket, without asking for a reset; the
           machine resets by itself if it holds unsent bytes. */
        js_close(s, 0);
        return;
      }
      if (s->written_length + accepted <= MAX_OUT_BYTES) memcpy(s->written + s->written_length, buffer, accepted);
      else s->unchecked = 1;
      s->written_length += accepted;
      s->written_total += accepted;
      if (result == 1 && accepted > 0) CHECK(dow_conn_get(&machine, id)->queue.bytes == 0);
      return;
    }
    case 1:
      if (s == NULL) dow_conn_close(&machine, id, choice & 8);
      else js_close(s, choice & 8);
      return;
    case 2: {
      int result = dow_conn_shutdown(&machine, id);
      if (s == NULL) CHECK(result == -EBADF);
      else s->js_shut = 1;
      return;
    }
    default: {
      int result = dow_conn_set_reading(&machine, id, choice % 5 == 3);
      if (s != NULL && result < 0) js_close(s, 0); /* NativeSocket destroys on a failed poll */
      return;
    }
  }
}

static fake_socket *any_socket(void) {
  if (socket_count == 0) return NULL;
  uint8_t pick = take();
  if (pick % 8 == 0) return NULL;
  return &sockets[pick % socket_count];
}

static int fake_emit(dow_machine *m, dow_conn *c, const dow_event *event) {
  CHECK(event_depth == 0); /* JavaScript is never re-entered */
  fake_socket *s = socket_of_fd(c->fd);
  if (s->id == -2) s->id = c->id;
  CHECK(s->id == c->id);
  CHECK(!s->js_closed);
  int introduces = event->kind == DOW_EV_WAIT || event->kind == DOW_EV_REQUEST || event->kind == DOW_EV_BAD;
  if (take() % 29 == 28) return ENOMEM; /* the event could not be built: JavaScript is not called */
  CHECK(introduces || s->js_known);
  s->js_known = 1;
  switch (event->kind) {
    case DOW_EV_WAIT:
      CHECK(!s->js_head);
      break;
    case DOW_EV_REQUEST:
      CHECK(!s->js_head);
      s->js_head = 1;
      CHECK(event->length <= s->in_position);
      CHECK(memcmp(event->bytes, s->in + s->in_position - event->length, event->length) == 0);
      s->js_position = s->in_position;
      break;
    case DOW_EV_BAD:
      CHECK(!s->js_head);
      s->js_head = 1;
      CHECK(c->head.replay_length == s->in_position);
      CHECK(memcmp(c->head.replay, s->in, s->in_position) == 0);
      s->js_position = s->in_position;
      break;
    case DOW_EV_DATA:
      CHECK(s->js_head);
      CHECK(event->length > 0 && s->js_position + event->length == s->in_position);
      CHECK(memcmp(event->bytes, s->in + s->js_position, event->length) == 0);
      s->js_position = s->in_position;
      break;
    case DOW_EV_EOF:
      CHECK(!s->js_eof && s->peer_ends && s->in_position == s->in_length);
      s->js_eof = 1;
      break;
    case DOW_EV_DRAIN:
      CHECK(c->queue.bytes == 0);
      CHECK(s->unchecked || s->out_total == s->written_total);
      break;
    case DOW_EV_ERROR:
      CHECK(!s->js_error && event->error != 0);
      s->js_error = 1;
      break;
  }
  event_depth++;
  int actions = take() % 4;
  for (int i = 0; i < actions && !exhausted(); i++) js_act(take() % 3 == 0 ? any_socket() : s);
  /* NativeSocket destroys itself on an error. */
  if (event->kind == DOW_EV_ERROR && !s->js_closed) js_close(s, take() & 1);
  event_depth--;
  return 0;
}

static const dow_machine_ops FUZZ_OPS = {
  .read = fake_read,
  .sendmsg = fake_sendmsg,
  .shutdown_write = fake_shutdown_write,
  .poll = fake_poll,
  .close = fake_close,
  .emit = fake_emit,
  .hold = fake_hold,
  .release = fake_release,
};

/* ── the peer's bytes ───────────────────────────────────────────────────────────────────────── */

static size_t append(uint8_t *out, size_t at, const char *text, size_t length) {
  if (at + length > MAX_PEER_BYTES) return at;
  memcpy(out + at, text, length);
  return at + length;
}

/* An SCGI request: CONTENT_LENGTH, SCGI and a few pairs from the input, then the body. */
static size_t scgi_request(uint8_t *out) {
  char block[512];
  size_t body = take() % 200;
  int n = snprintf(block, sizeof block, "CONTENT_LENGTH%c%zu%cSCGI%c1%cREQUEST_METHOD%cPOST%c", 0, body, 0, 0, 0, 0, 0);
  size_t block_length = (size_t)n;
  for (int pairs = take() % 4; pairs > 0; pairs--) {
    size_t name = 1 + take() % 12, value = take() % 40;
    if (block_length + name + value + 2 > sizeof block) break;
    for (size_t i = 0; i < name; i++) block[block_length++] = (char)('A' + take() % 26);
    block[block_length++] = 0;
    for (size_t i = 0; i < value; i++) block[block_length++] = (char)(' ' + take() % 90);
    block[block_length++] = 0;
  }
  char prefix[16];
  int p = snprintf(prefix, sizeof prefix, "%zu:", block_length);
  size_t at = append(out, 0, prefix, (size_t)p);
  at = append(out, at, block, block_length);
  at = append(out, at, ",", 1);
  for (size_t i = 0; i < body + take() % 3 && at < MAX_PEER_BYTES; i++) out[at++] = (uint8_t)('a' + i % 26);
  return at;
}

static void open_connection(void) {
  if (socket_count == MAX_SOCKETS) return;
  fake_socket *s = &sockets[socket_count++];
  memset(s, 0, sizeof *s);
  s->id = -1;
  uint8_t mode = take();
  if (mode % 4 != 3) {
    s->in_length = scgi_request(s->in);
    if (mode % 4 == 1 && s->in_length > 0) s->in[take() % s->in_length] ^= (uint8_t)(1 + take());
  } else {
    s->in_length = take() % 64;
    for (size_t i = 0; i < s->in_length; i++) s->in[i] = take();
  }
  s->peer_ends = mode & 4 ? 1 : 0;
  static const dow_scgi_limits limits[3] = {{65536, 1000000}, {40, 1000}, {300, 10}};
  struct sockaddr_storage peer = {0};
  peer.ss_family = AF_INET;
  /* The id is known only when dow_conn_open returns, but events come before: the socket's id is
     set from its descriptor's connection on the first event (-2 until then). */
  int fd = FD_BASE + (int)(s - sockets);
  s->id = -2;
  int64_t id = dow_conn_open(&machine, fd, 1, 7, &limits[mode % 3], &peer, sizeof(struct sockaddr_in));
  if (id < 0) {
    s->closed = 1; /* out of memory: the caller closes it */
    return;
  }
  CHECK(s->id == -2 || s->id == id);
  s->id = id;
  if (dow_conn_get(&machine, id) == NULL) CHECK(s->closed);
}

/* ── the invariants between steps ───────────────────────────────────────────────────────────── */

static void check_world(void) {
  CHECK(event_depth == 0);
  uint32_t live = 0;
  for (size_t i = 0; i < socket_count; i++) {
    fake_socket *s = &sockets[i];
    if (s->id < 0) continue;
    dow_conn *c = dow_conn_get(&machine, s->id);
    CHECK((c != NULL) == !s->closed);
    if (c == NULL) {
      CHECK(s->js_closed || !s->js_known);
    } else {
      live++;
      CHECK(c->announced && s->js_known && !s->js_closed && c->in_event == 0);
      int want = 0;
      if (c->reading && !c->eof) want |= DOW_POLL_READABLE;
      if (c->queue.bytes > 0) want |= DOW_POLL_WRITABLE;
      CHECK(c->polled_events == want);
    }
    /* The peer has what JavaScript wrote, in order: all of it once nothing is queued. */
    size_t compare = s->out_length < s->written_length ? s->out_length : s->written_length;
    if (s->unchecked) continue;
    CHECK(memcmp(s->out, s->written, compare) == 0);
    CHECK(s->out_total <= s->written_total);
    if (c != NULL && c->queue.bytes == 0 && !c->failed) CHECK(s->out_total == s->written_total);
    if (c != NULL) CHECK(s->out_total + c->queue.bytes == s->written_total || c->failed);
  }
  CHECK(machine.conns.live == live);
}

/* ── one input ──────────────────────────────────────────────────────────────────────────────── */

static void wake(void) {
  /* The loop wakes a connection that waits for something. */
  dow_conn *waiting[MAX_SOCKETS];
  size_t count = 0;
  for (size_t i = 0; i < socket_count; i++) {
    dow_conn *c = sockets[i].id >= 0 ? dow_conn_get(&machine, sockets[i].id) : NULL;
    if (c != NULL && c->polled_events != 0) waiting[count++] = c;
  }
  if (count == 0) return;
  dow_conn *c = waiting[take() % count];
  uint8_t choice = take();
  if (choice % 19 == 18) {
    dow_conn_ready(c, -EBADF, choice & 32 ? ECONNRESET : 0, 0);
    return;
  }
  int events = c->polled_events;
  if (choice % 5 == 1 && events == (DOW_POLL_READABLE | DOW_POLL_WRITABLE)) events = choice & 8 ? DOW_POLL_READABLE : DOW_POLL_WRITABLE;
  dow_conn_ready(c, 0, 0, events);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input = data;
  input_left = size;
  socket_count = 0;
  event_depth = 0;
  held = 0;
  dow_machine_init(&machine, &FUZZ_OPS, NULL);
  for (int steps = 0; steps < 400 && !exhausted(); steps++) {
    uint8_t op = take();
    switch (op % 4) {
      case 0:
        open_connection();
        break;
      case 1:
      case 2:
        wake();
        break;
      case 3: { /* a timer: JavaScript acts outside any event */
        fake_socket *s = any_socket();
        if (s == NULL || s->js_known) js_act(s);
        break;
      }
    }
    check_world();
  }
  /* The end: JavaScript closes what it holds; nothing may be left open anywhere. */
  input_left = 0;
  for (size_t i = 0; i < socket_count; i++) {
    fake_socket *s = &sockets[i];
    if (s->id >= 0 && !s->js_closed && dow_conn_get(&machine, s->id) != NULL) js_close(s, 0);
    CHECK(s->closed || s->id < 0);
  }
  CHECK(machine.conns.live == 0);
  CHECK(held == 0); /* every Buffer the machine held was given back */
  dow_id_free(&machine.conns);
  return 0;
}
