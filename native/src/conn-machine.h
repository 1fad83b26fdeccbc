/*
 * The connection state machine of the native I/O core: what a connection does when its socket
 * is ready, when JavaScript writes, pauses, shuts down or closes it, and when it must tell
 * JavaScript something. It makes no system call, loop call or Node-API call of its own: those go
 * through `dow_machine_ops`, which addon-events.c fills with the real ones (read, sendmsg, libuv's poll,
 * dispatch into JavaScript) and native/fuzz/machine-fuzz.c with a scripted socket, loop and
 * JavaScript. So the code that decides lifetimes is the code the fuzzer runs under ASan.
 *
 * The one rule it keeps (docs/architecture.md, "The native I/O core"): every event can close the
 * connection it is about (the app may answer and close inside it), so after an event nothing
 * uses the connection's pointer: it looks the id up again.
 */
#ifndef DOW_CONN_MACHINE_H
#define DOW_CONN_MACHINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "head-reader.h"
#include "id-table.h"
#include "write-queue.h"

#define DOW_READ_BUFFER_BYTES (64 * 1024)
#define DOW_IOV_BATCH 64

/* What the loop waits for on a connection's socket (libuv's UV_READABLE / UV_WRITABLE). */
#define DOW_POLL_READABLE 1
#define DOW_POLL_WRITABLE 2

/* What JavaScript hears; the numbers are pinned in server/native/native-binding.ts. */
typedef enum dow_event_kind {
  DOW_EV_WAIT = 1,    /* accepted, the head is still arriving */
  DOW_EV_REQUEST = 2, /* the head: conn->head holds it; `bytes` is what followed it */
  DOW_EV_BAD = 3,     /* the head was refused: conn->head's replay holds every byte read */
  DOW_EV_DATA = 4,    /* bytes after the head */
  DOW_EV_EOF = 5,
  DOW_EV_DRAIN = 6,   /* every queued byte went out */
  DOW_EV_ERROR = 7    /* `error` failed in `failed_call`; JavaScript closes */
} dow_event_kind;

/* Which call an ERROR reports (pinned in native-binding.ts). */
typedef enum dow_failed_call {
  DOW_FAILED_READ = 0,
  DOW_FAILED_WRITE = 1, /* a flush of the write queue */
  DOW_FAILED_POLL = 2   /* registering with or polling through the loop */
} dow_failed_call;

typedef struct dow_event {
  dow_event_kind kind;
  const uint8_t *bytes; /* REQUEST: the rest after the head; DATA: the bytes */
  size_t length;
  int error;            /* ERROR: an errno */
  dow_failed_call failed_call;
} dow_event;

typedef struct dow_machine dow_machine;

typedef struct dow_conn {
  dow_machine *machine;
  int64_t id;
  int64_t listener_id;
  int fd;
  int tcp;
  int announced;      /* JavaScript knows this id */
  int head_done;      /* the head was delivered (or refused): bytes now go to JS as they come */
  int reading;        /* JavaScript wants bytes (its stream is not paused) */
  int eof;
  int failed;         /* the errno of its one ERROR, or 0 */
  int shut_pending;   /* shutdown(SHUT_WR) once the queue is empty */
  int cut;            /* bytes JavaScript wrote were dropped unsent: the close must reset */
  int polled_events;  /* what the loop waits for now */
  int in_event;       /* JavaScript is handling an event of this connection: see emit() */
  void *poll;         /* the loop's handle for this socket, the ops' own; NULL until polled */
  dow_head head;
  dow_wq queue;
  struct sockaddr_storage peer;
  socklen_t peer_length;
} dow_conn;

typedef struct dow_machine_ops {
  /* As read(2) and sendmsg(2) (MSG_NOSIGNAL | MSG_DONTWAIT): -1 with errno set on failure. */
  ssize_t (*read)(dow_machine *m, int fd, void *buffer, size_t length);
  ssize_t (*sendmsg)(dow_machine *m, int fd, const struct msghdr *message);
  /* shutdown(fd, SHUT_WR): 0, or -1 with errno set. */
  int (*shutdown_write)(dow_machine *m, int fd);
  /* Waits for `events` on the socket (0: stops waiting); 0, or a negated errno. */
  int (*poll)(dow_machine *m, dow_conn *c, int events);
  /* Closes the socket (with RST when `reset`) and lets go of c->poll; the machine frees `c` after,
     so no callback of the loop may reach it again. */
  void (*close)(dow_machine *m, dow_conn *c, int reset);
  /* Tells JavaScript; 0, or an errno when the event could not be built (JS was not called). */
  int (*emit)(dow_machine *m, dow_conn *c, const dow_event *event);
  /* Keeps buffer `index` of a write's `source` alive after the write returns, for the part the
     kernel did not take (addon-events.c: a reference to the JavaScript Buffer); a token, or NULL when it
     cannot (the write fails with ENOMEM). Each token is given back once through `release`. */
  void *(*hold)(dow_machine *m, void *source, size_t index);
  void (*release)(dow_machine *m, void *token);
} dow_machine_ops;

struct dow_machine {
  const dow_machine_ops *ops;
  void *user;
  dow_id_table conns;
  uint8_t read_buffer[DOW_READ_BUFFER_BYTES];
};

void dow_machine_init(dow_machine *m, const dow_machine_ops *ops, void *user);

dow_conn *dow_conn_get(dow_machine *m, int64_t id);
/* A connection accept() returned: it is read at once (TCP_DEFER_ACCEPT usually has the head in
   the kernel already). Its id, or -1 when out of memory: `fd` is then still the caller's to
   close (addon-listeners.c's accept_one does). From a valid id on, the machine closes it, through the ops. */
int64_t dow_conn_open(dow_machine *m, int fd, int tcp, int64_t listener_id, const dow_scgi_limits *limits,
                      const struct sockaddr_storage *peer, socklen_t peer_length);
/* The loop saw `events` (DOW_POLL_*) on c's socket, or an error (`status` < 0, a negated errno;
   `socket_error` is the socket's own error from SO_ERROR, or 0). */
void dow_conn_ready(dow_conn *c, int status, int socket_error, int events);

/* What JavaScript asks. An unknown or closed id is -EBADF (or nothing, for close). */
/* Sends at once what the kernel takes and queues the rest, by holding the buffers (`source`, for
   the ops' hold) rather than copying them: 1 all sent, 0 queued (a DRAIN follows), or -errno.
   Any `count`: more than DOW_IOV_BATCH buffers go out in batches. */
int dow_conn_write(dow_machine *m, int64_t id, const struct iovec *iov, size_t count, void *source);
/* Our side ends once the queue is empty: 0 or -errno. */
int dow_conn_shutdown(dow_machine *m, int64_t id);
/* Unsent bytes are dropped, as net.Socket's destroy() drops them; then the close resets
   whatever `reset` says, since a FIN after a cut response could pass for its end. */
void dow_conn_close(dow_machine *m, int64_t id, int reset);
/* JavaScript's stream paused (0) or wants more (1): 0 or -errno. */
int dow_conn_set_reading(dow_machine *m, int64_t id, int on);

#endif
