/*
 * write-queue: the bytes of a response the kernel did not take yet. Pure: no I/O. The addon
 * sends what it can at once and queues only the rest, so the common one-write response never
 * touches this. A queued chunk points into its caller's memory and holds the caller's `hold`
 * token (a reference to the JavaScript Buffer) until its last byte is sent or the queue is
 * cleared, as libuv's uv_write holds the Buffers net.Socket hands it: nothing is copied.
 *
 *   head                                      tail
 *   [token A | sent 300 of 1000] -> [token B | sent 0 of 64 KiB] -> NULL
 *             `---- bytes = 700 + 65536 ----'
 */
#ifndef DOW_WRITE_QUEUE_H
#define DOW_WRITE_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct dow_wq_chunk {
  struct dow_wq_chunk *next;
  const uint8_t *data; /* the caller's bytes, valid while `token` is held */
  size_t length;
  size_t sent;         /* bytes of this chunk already taken by the kernel */
  void *token;         /* given back through the queue's `release` once the chunk is done */
} dow_wq_chunk;

/* Lets go of what kept a chunk's bytes alive; called once per pushed chunk. */
typedef void (*dow_wq_release)(void *context, void *token);

typedef struct dow_wq {
  dow_wq_chunk *head;
  dow_wq_chunk *tail;
  size_t bytes; /* unsent bytes in all chunks */
  dow_wq_release release;
  void *context;
} dow_wq;

/* Queues `length` bytes at `data`, which stay valid until `token` is released (not copied): 0,
   or -1 when out of memory (queue unchanged; the caller still owns `token`). */
int dow_wq_push(dow_wq *queue, const uint8_t *data, size_t length, void *token);
/* Fills up to `max` iovecs with the unsent bytes, in order; returns how many it filled. */
size_t dow_wq_iov(const dow_wq *queue, struct iovec *iov, size_t max);
/* `sent` bytes left the queue (at most queue->bytes; more is clamped); finished chunks are
   released. */
void dow_wq_consume(dow_wq *queue, size_t sent);
/* Releases every chunk; the queue is empty and reusable after. */
void dow_wq_clear(dow_wq *queue);

#endif
