/*
 * row-ring: a single-producer single-consumer ring of bytes in memory shared by the supervisor
 * (consumer) and one worker (producer), so a worker's timing rows reach the supervisor without a
 * system call or a wake-up per frame. Pure apart from creating and mapping the memory: no Node-API.
 *
 *   0        8        16                 128      136      144      256            384                384 + capacity
 *   +--------+--------+-- ... ----------+--------+--------+--------+--------------+------------------+
 *   | magic  |capacity|   (unused)      |head u64|load u64|        | tail (u64)   | data             |
 *   +--------+--------+-- ... ----------+--------+--------+--------+--------------+------------------+
 *   head: bytes ever written (the worker's); tail: bytes ever read (the supervisor's). Each has
 *   its own 128-byte stretch, so the two processes never write into the same cache line (nor its
 *   adjacent-line prefetch pair). A byte at position p sits at data[p % capacity].
 *   load: the worker's requests running (low 32 bits) and queued (high 32 bits), stored as one
 *   word whenever either changes, so the supervisor can read them while the worker's event loop
 *   is stuck in a request and cannot answer; in the worker's stretch, as only the worker writes it.
 *
 * The producer publishes whole frames only (head moves once a frame is copied in), so a worker
 * killed mid-write leaves nothing half-written. The consumer trusts nothing it reads back from the
 * shared memory but the bytes: it keeps its own tail and capacity, and refuses a head that is
 * behind its tail or more than a capacity ahead (a worker that scribbled over the header).
 */
#ifndef DOW_ROW_RING_H
#define DOW_ROW_RING_H

#include <stddef.h>
#include <stdint.h>

#define DOW_RING_HEAD_OFFSET 128
#define DOW_RING_LOAD_OFFSET 136
#define DOW_RING_TAIL_OFFSET 256
#define DOW_RING_DATA_OFFSET 384
#define DOW_RING_MIN_CAPACITY 64
#define DOW_RING_MAX_CAPACITY ((uint64_t)1 << 30)

typedef struct dow_ring {
  uint8_t *base;      /* the mapping, NULL once closed */
  size_t map_bytes;
  uint64_t capacity;  /* data bytes, as this process knows it (never re-read from the header) */
  uint64_t position;  /* the producer's head, or the consumer's tail: this side's own copy */
  int fd;             /* the memfd, or -1 once closed (the worker's side closes it at attach) */
} dow_ring;

/* The consumer's side: a new sealed memfd of `capacity` data bytes, mapped. 0, or an errno. */
int dow_ring_create(dow_ring *ring, uint64_t capacity);

/* The producer's side: maps the ring behind `fd` (inherited from the consumer) and closes `fd`.
   0, or an errno (EINVAL: not a ring). */
int dow_ring_attach(dow_ring *ring, int fd);

/* Copies `length` bytes in and publishes them: 1, or 0 when they do not fit (nothing written). */
int dow_ring_write(dow_ring *ring, const void *data, size_t length);

/* Bytes written and not yet read, or -1 when the shared head is impossible (damaged). */
int64_t dow_ring_readable(const dow_ring *ring);

/* Copies the next `length` bytes out (at most dow_ring_readable()) and hands their room back. */
void dow_ring_take(dow_ring *ring, void *out, uint64_t length);

/* The producer's side: publishes its requests running and queued now (one relaxed store). */
void dow_ring_set_load(dow_ring *ring, uint32_t running, uint32_t queued);

/* The last load the producer published: 0, or -1 once closed. Any word read is some pair of
   numbers, so a damaged header gives wrong figures, never a fault. */
int dow_ring_load(const dow_ring *ring, uint32_t *running, uint32_t *queued);

/* Unmaps and closes; safe to call twice. */
void dow_ring_close(dow_ring *ring);

#endif
