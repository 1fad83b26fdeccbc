/*
 * row-ring: see row-ring.h for the layout. Ordering: the producer reads the tail with acquire
 * (the consumer's copy out is done before it reuses that room) and publishes the head with
 * release (its bytes are visible before the head that covers them); the consumer mirrors that.
 */
#define _GNU_SOURCE
#include "row-ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RING_MAGIC UINT64_C(0x31474e4952574f44) /* "DOWRING1" little-endian */

static _Atomic uint64_t *head_of(const dow_ring *ring) {
  return (_Atomic uint64_t *)(ring->base + DOW_RING_HEAD_OFFSET);
}

static _Atomic uint64_t *tail_of(const dow_ring *ring) {
  return (_Atomic uint64_t *)(ring->base + DOW_RING_TAIL_OFFSET);
}

static _Atomic uint64_t *load_of(const dow_ring *ring) {
  return (_Atomic uint64_t *)(ring->base + DOW_RING_LOAD_OFFSET);
}

static int map(dow_ring *ring, int fd, size_t bytes) {
  void *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return errno;
  ring->base = base;
  ring->map_bytes = bytes;
  return 0;
}

int dow_ring_create(dow_ring *ring, uint64_t capacity) {
  memset(ring, 0, sizeof *ring);
  ring->fd = -1;
  if (capacity < DOW_RING_MIN_CAPACITY || capacity > DOW_RING_MAX_CAPACITY) return EINVAL;
  int fd = memfd_create("dow-row-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return errno;
  size_t bytes = DOW_RING_DATA_OFFSET + (size_t)capacity;
  int error = ftruncate(fd, (off_t)bytes) == 0 ? 0 : errno;
  /* Sealed at its size: a worker that shrank the file would make the supervisor's next read of
     the mapping a SIGBUS. */
  if (error == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) error = errno;
  if (error == 0) error = map(ring, fd, bytes);
  if (error != 0) {
    close(fd);
    return error;
  }
  ring->fd = fd;
  ring->capacity = capacity;
  uint64_t words[2] = {RING_MAGIC, capacity};
  memcpy(ring->base, words, sizeof words);
  atomic_init(head_of(ring), 0);
  atomic_init(tail_of(ring), 0);
  atomic_init(load_of(ring), 0);
  return 0;
}

int dow_ring_attach(dow_ring *ring, int fd) {
  memset(ring, 0, sizeof *ring);
  ring->fd = -1;
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (st.st_size < DOW_RING_DATA_OFFSET + DOW_RING_MIN_CAPACITY || (uint64_t)st.st_size > DOW_RING_DATA_OFFSET + DOW_RING_MAX_CAPACITY) return EINVAL;
  int error = map(ring, fd, (size_t)st.st_size);
  if (error != 0) return error;
  uint64_t words[2];
  memcpy(words, ring->base, sizeof words);
  if (words[0] != RING_MAGIC || words[1] != (uint64_t)st.st_size - DOW_RING_DATA_OFFSET) {
    dow_ring_close(ring);
    return EINVAL;
  }
  ring->capacity = words[1];
  ring->position = atomic_load_explicit(head_of(ring), memory_order_relaxed);
  /* The mapping stays; the descriptor is not needed, and a child the app starts must not get it. */
  close(fd);
  return 0;
}

int dow_ring_write(dow_ring *ring, const void *data, size_t length) {
  if (ring->base == NULL) return 0;
  uint64_t tail = atomic_load_explicit(tail_of(ring), memory_order_acquire);
  uint64_t used = ring->position - tail;
  if (used > ring->capacity || length > ring->capacity - used) return 0;
  uint64_t at = ring->position % ring->capacity;
  uint64_t first = ring->capacity - at < length ? ring->capacity - at : length;
  uint8_t *bytes = ring->base + DOW_RING_DATA_OFFSET;
  memcpy(bytes + at, data, first);
  memcpy(bytes, (const uint8_t *)data + first, length - first);
  ring->position += length;
  atomic_store_explicit(head_of(ring), ring->position, memory_order_release);
  return 1;
}

int64_t dow_ring_readable(const dow_ring *ring) {
  if (ring->base == NULL) return 0;
  uint64_t head = atomic_load_explicit(head_of(ring), memory_order_acquire);
  uint64_t available = head - ring->position; /* a head behind the tail wraps to a huge number */
  if (available > ring->capacity) return -1;
  return (int64_t)available;
}

void dow_ring_take(dow_ring *ring, void *out, uint64_t length) {
  if (ring->base == NULL || length > ring->capacity) return;
  uint64_t at = ring->position % ring->capacity;
  uint64_t first = ring->capacity - at < length ? ring->capacity - at : length;
  const uint8_t *bytes = ring->base + DOW_RING_DATA_OFFSET;
  memcpy(out, bytes + at, first);
  memcpy((uint8_t *)out + first, bytes, length - first);
  ring->position += length;
  atomic_store_explicit(tail_of(ring), ring->position, memory_order_release);
}

/* Relaxed: the load orders nothing else; each read only needs a whole word, never a torn one. */
void dow_ring_set_load(dow_ring *ring, uint32_t running, uint32_t queued) {
  if (ring->base == NULL) return;
  atomic_store_explicit(load_of(ring), (uint64_t)queued << 32 | running, memory_order_relaxed);
}

int dow_ring_load(const dow_ring *ring, uint32_t *running, uint32_t *queued) {
  if (ring->base == NULL) return -1;
  uint64_t word = atomic_load_explicit(load_of(ring), memory_order_relaxed);
  *running = (uint32_t)word;
  *queued = (uint32_t)(word >> 32);
  return 0;
}

void dow_ring_close(dow_ring *ring) {
  if (ring->base != NULL) munmap(ring->base, ring->map_bytes);
  ring->base = NULL;
  if (ring->fd >= 0) close(ring->fd);
  ring->fd = -1;
}
