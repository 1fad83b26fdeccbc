/* The write queue: see write-queue.h. */
#include "write-queue.h"

#include <stdlib.h>

static void release_chunk(dow_wq *queue, dow_wq_chunk *chunk) {
  if (queue->release != NULL) queue->release(queue->context, chunk->token);
  free(chunk);
}

int dow_wq_push(dow_wq *queue, const uint8_t *data, size_t length, void *token) {
  if (length == 0) return 0;
  dow_wq_chunk *chunk = malloc(sizeof(dow_wq_chunk));
  if (chunk == NULL) return -1;
  chunk->next = NULL;
  chunk->data = data;
  chunk->length = length;
  chunk->sent = 0;
  chunk->token = token;
  if (queue->tail != NULL) queue->tail->next = chunk;
  else queue->head = chunk;
  queue->tail = chunk;
  queue->bytes += length;
  return 0;
}

size_t dow_wq_iov(const dow_wq *queue, struct iovec *iov, size_t max) {
  size_t filled = 0;
  for (const dow_wq_chunk *chunk = queue->head; chunk != NULL && filled < max; chunk = chunk->next) {
    iov[filled].iov_base = (void *)(chunk->data + chunk->sent);
    iov[filled].iov_len = chunk->length - chunk->sent;
    filled++;
  }
  return filled;
}

void dow_wq_consume(dow_wq *queue, size_t sent) {
  if (sent > queue->bytes) sent = queue->bytes;
  queue->bytes -= sent;
  while (sent > 0 && queue->head != NULL) {
    dow_wq_chunk *chunk = queue->head;
    size_t left = chunk->length - chunk->sent;
    if (sent < left) {
      chunk->sent += sent;
      return;
    }
    sent -= left;
    queue->head = chunk->next;
    if (queue->head == NULL) queue->tail = NULL;
    release_chunk(queue, chunk);
  }
}

void dow_wq_clear(dow_wq *queue) {
  dow_wq_chunk *chunk = queue->head;
  /* Emptied first: a release callback may look at the queue. */
  queue->head = queue->tail = NULL;
  queue->bytes = 0;
  while (chunk != NULL) {
    dow_wq_chunk *next = chunk->next;
    release_chunk(queue, chunk);
    chunk = next;
  }
}
