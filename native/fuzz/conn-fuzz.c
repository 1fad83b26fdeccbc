/*
 * libFuzzer target for the native I/O core's connection state (scripts/fuzz.sh conn), under ASan
 * and UBSan: the pure pieces conn-machine.c builds a connection from, driven by a fuzzed sequence
 * of the events a connection meets, each checked against a plain model after every step.
 *
 * - head reader (head-reader.c): the head arrives in chunks of fuzzed sizes. It must end READY
 *   exactly when feeding the same bytes whole to a fresh parser gives HEADERS (same pairs, same
 *   body start), BAD exactly when that gives ERROR (and then hand back every byte fed, in
 *   order), and MORE otherwise.
 * - write queue (write-queue.c): pushes, partial sends and clears against a byte-array model.
 * - id table (id-table.c): adds and removes against a model; a removed or never-given id must
 *   find nothing, even after its slot was reused (the use-after-free the design rules out).
 *
 * Input: byte 0 picks the limits; then operations, one byte each plus their arguments:
 *   op % 4 == 0  feed the next (1 + arg % 64) payload bytes to the head reader
 *   op % 4 == 1  push (arg % 200) bytes to the write queue
 *   op % 4 == 2  the kernel takes (arg * 3) bytes of the queue
 *   op % 4 == 3  id table: add, remove or look up (arg picks which and whom)
 */
#include "../src/head-reader.h"
#include "../src/id-table.h"
#include "../src/write-queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-check.h"


static const dow_scgi_limits profiles[4] = {
  {65536, 16777216},
  {256, 5},
  {1000, 1000},
  {300, 0},
};

/* ── the head reader against the parser fed whole ─────────────────────────────────────────── */

typedef struct reference {
  dow_scgi_status status; /* HEADERS, ERROR or AGAIN (incomplete) */
  size_t head_bytes;      /* for HEADERS: bytes up to and including the comma */
  dow_scgi_parser parser;
  uint32_t *workspace;
  size_t workspace_words;
} reference;

static void reference_run(reference *ref, const dow_scgi_limits *limits, const uint8_t *data, size_t length) {
  memset(ref, 0, sizeof *ref);
  CHECK(dow_scgi_init(&ref->parser, limits) == 0);
  size_t position = 0;
  for (;;) {
    size_t used = 0;
    dow_scgi_status status = dow_scgi_execute(&ref->parser, data + position, length - position, ref->workspace, ref->workspace_words, &used);
    position += used;
    if (status == DOW_SCGI_NEED_WORKSPACE) {
      ref->workspace_words = dow_scgi_workspace_words(&ref->parser);
      ref->workspace = malloc(ref->workspace_words * sizeof(uint32_t));
      CHECK(ref->workspace != NULL);
      continue;
    }
    ref->status = status;
    ref->head_bytes = position;
    return;
  }
}

static void check_head(const dow_scgi_limits *limits, const uint8_t *stream, size_t fed, dow_head_status status,
                       const dow_head *head, size_t total_before, size_t chunk_length, size_t consumed) {
  reference ref;
  reference_run(&ref, limits, stream, fed);
  if (status == DOW_HEAD_READY) {
    CHECK(ref.status == DOW_SCGI_HEADERS);
    CHECK(total_before + consumed == ref.head_bytes);
    CHECK(consumed <= chunk_length);
    CHECK(head->parser.pair_count == ref.parser.pair_count);
    CHECK(head->parser.content_length == ref.parser.content_length);
    uint32_t block_length = dow_head_block_length(head);
    CHECK(block_length == ref.parser.header_length);
    CHECK(memcmp(dow_head_block(head), dow_scgi_block(ref.workspace), block_length) == 0);
    for (uint32_t i = 0; i < head->parser.pair_count; i++) {
      dow_scgi_pair mine, theirs;
      CHECK(dow_head_pair(head, i, &mine) == 0);
      CHECK(dow_scgi_pair_at(&ref.parser, ref.workspace, ref.workspace_words, i, &theirs) == 0);
      CHECK(memcmp(&mine, &theirs, sizeof mine) == 0);
      CHECK((uint64_t)mine.name_off + mine.name_len <= block_length);
      CHECK((uint64_t)mine.value_off + mine.value_len <= block_length);
    }
    CHECK(dow_head_pair(head, head->parser.pair_count, &(dow_scgi_pair){0}) != 0);
  } else if (status == DOW_HEAD_BAD) {
    /* The parser may stop before the end of the chunk; the whole chunk is handed back. */
    CHECK(ref.status == DOW_SCGI_ERROR);
    CHECK(head->replay_length == fed);
    CHECK(memcmp(head->replay, stream, fed) == 0);
  } else if (status == DOW_HEAD_MORE) {
    CHECK(ref.status == DOW_SCGI_AGAIN);
    CHECK(consumed == chunk_length);
    CHECK(head->kept_length == fed);
  }
  free(ref.workspace);
}

/* ── the write queue against a byte array ─────────────────────────────────────────────────── */

typedef struct model_queue {
  uint8_t *bytes;
  size_t length;
} model_queue;

static void check_queue(const dow_wq *queue, const model_queue *model) {
  CHECK(queue->bytes == model->length);
  struct iovec iov[8];
  size_t offset = 0;
  const dow_wq_chunk *chunk = queue->head;
  /* dow_wq_iov in batches, as conn_flush calls it, must yield the model's bytes in order. */
  size_t filled = dow_wq_iov(queue, iov, 8);
  for (size_t i = 0; i < filled; i++) {
    CHECK(offset + iov[i].iov_len <= model->length);
    CHECK(memcmp(iov[i].iov_base, model->bytes + offset, iov[i].iov_len) == 0);
    offset += iov[i].iov_len;
    chunk = chunk->next;
  }
  if (chunk == NULL) CHECK(offset == model->length);
  CHECK((queue->head == NULL) == (queue->tail == NULL));
}

/* A pushed chunk's bytes live in its own allocation, the token, until the queue releases it: ASan
   catches a byte read after its release, and `outstanding` a chunk never released. */
static long outstanding;

static void release_copy(void *context, void *token) {
  (void)context;
  CHECK(outstanding > 0);
  outstanding--;
  free(token);
}

/* ── the id table against a list ─────────────────────────────────────────────────────────── */

#define MODEL_IDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const dow_scgi_limits *limits = &profiles[data[0] % 4];
  data++;
  size--;

  dow_head head;
  CHECK(dow_head_init(&head, limits) == 0);
  uint8_t *stream = malloc(size + 1);
  CHECK(stream != NULL);
  size_t fed = 0;
  dow_head_status head_status = DOW_HEAD_MORE;

  dow_wq queue = {.release = release_copy};
  outstanding = 0;
  model_queue model = {malloc(1), 0};
  CHECK(model.bytes != NULL);

  dow_id_table table = {0};
  int64_t live[MODEL_IDS];
  int64_t dead[MODEL_IDS];
  size_t live_count = 0, dead_count = 0;
  uint8_t marker = 0;
  static uint8_t values[256];

  size_t i = 0;
  while (i + 1 < size) {
    uint8_t op = data[i++];
    uint8_t arg = data[i++];
    switch (op % 4) {
      case 0: {
        if (head_status != DOW_HEAD_MORE) break;
        size_t want = 1 + arg % 64;
        size_t take = want < size - i ? want : size - i;
        const uint8_t *chunk = data + i;
        memcpy(stream + fed, chunk, take);
        size_t before = fed;
        fed += take;
        i += take;
        size_t consumed = 0;
        head_status = dow_head_feed(&head, chunk, take, &consumed);
        CHECK(head_status != DOW_HEAD_NOMEM);
        check_head(limits, stream, fed, head_status, &head, before, take, consumed);
        if (head_status == DOW_HEAD_BAD) {
          /* Sticky: more bytes change nothing. */
          CHECK(dow_head_feed(&head, chunk, take, &consumed) == DOW_HEAD_BAD && consumed == 0);
        }
        break;
      }
      case 1: {
        size_t length = arg % 200;
        uint8_t bytes[200];
        for (size_t k = 0; k < length; k++) bytes[k] = (uint8_t)(marker + k);
        marker++;
        uint8_t *copy = malloc(length + 1);
        CHECK(copy != NULL);
        memcpy(copy, bytes, length);
        if (length > 0) outstanding++;
        CHECK(dow_wq_push(&queue, copy, length, copy) == 0);
        if (length == 0) free(copy); /* an empty push queues nothing and holds nothing */
        model.bytes = realloc(model.bytes, model.length + length + 1);
        CHECK(model.bytes != NULL);
        memcpy(model.bytes + model.length, bytes, length);
        model.length += length;
        check_queue(&queue, &model);
        break;
      }
      case 2: {
        size_t sent = (size_t)arg * 3;
        if (sent > model.length) sent = model.length;
        dow_wq_consume(&queue, sent);
        memmove(model.bytes, model.bytes + sent, model.length - sent);
        model.length -= sent;
        check_queue(&queue, &model);
        if (arg == 255) {
          dow_wq_clear(&queue);
          model.length = 0;
          check_queue(&queue, &model);
        }
        break;
      }
      case 3: {
        if (arg % 3 == 0 && live_count < MODEL_IDS) {
          int64_t id = dow_id_add(&table, &values[arg]);
          CHECK(id >= 0);
          for (size_t k = 0; k < live_count; k++) CHECK(live[k] != id);
          for (size_t k = 0; k < dead_count; k++) CHECK(dead[k] != id); /* a stale id is never reissued here */
          live[live_count++] = id;
        } else if (arg % 3 == 1 && live_count > 0) {
          size_t k = arg % live_count;
          int64_t id = live[k];
          CHECK(dow_id_remove(&table, id) != NULL);
          CHECK(dow_id_get(&table, id) == NULL);
          CHECK(dow_id_remove(&table, id) == NULL);
          live[k] = live[--live_count];
          if (dead_count < MODEL_IDS) dead[dead_count++] = id;
        } else {
          for (size_t k = 0; k < live_count; k++) CHECK(dow_id_get(&table, live[k]) != NULL);
          for (size_t k = 0; k < dead_count; k++) CHECK(dow_id_get(&table, dead[k]) == NULL);
          CHECK(dow_id_get(&table, -1) == NULL);
        }
        CHECK(table.live == live_count);
        break;
      }
    }
  }

  dow_head_free(&head);
  dow_wq_clear(&queue);
  CHECK(outstanding == 0);
  dow_id_free(&table);
  free(model.bytes);
  free(stream);
  return 0;
}
