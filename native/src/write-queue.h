/*
 * write-queue: the bytes of a response the kernel did not take yet. Pure: no I/O. The addon
 * sends what it can at once and queues only the rest (a copy), so the common one-write response
 * never touches this.
 */
#ifndef DOW_WRITE_QUEUE_H
#define DOW_WRITE_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct dow_wq_chunk {
  struct dow_wq_chunk *next;
  size_t length;
  size_t sent; /* bytes of this chunk already taken by the kernel */
  uint8_t data[];
} dow_wq_chunk;

typedef struct dow_wq {
  dow_wq_chunk *head;
  dow_wq_chunk *tail;
  size_t bytes; /* unsent bytes in all chunks */
} dow_wq;

/* Copies `length` bytes to the end of the queue: 0, or -1 when out of memory (queue unchanged). */
int dow_wq_push(dow_wq *queue, const uint8_t *data, size_t length);
/* Fills up to `max` iovecs with the unsent bytes, in order; returns how many it filled. */
size_t dow_wq_iov(const dow_wq *queue, struct iovec *iov, size_t max);
/* `sent` bytes left the queue (at most queue->bytes; more is clamped). */
void dow_wq_consume(dow_wq *queue, size_t sent);
/* Frees everything; the queue is empty and reusable after. */
void dow_wq_clear(dow_wq *queue);

#endif
