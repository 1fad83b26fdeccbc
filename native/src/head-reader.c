#include "head-reader.h"

#include <stdlib.h>
#include <string.h>

int dow_head_init(dow_head *head, const dow_scgi_limits *limits) {
  memset(head, 0, sizeof(*head));
  return dow_scgi_init(&head->parser, limits);
}

/* The replay is the kept bytes followed by the whole refused chunk. */
static dow_head_status refuse(dow_head *head, const uint8_t *chunk, size_t length) {
  size_t total = head->kept_length + length;
  uint8_t *replay = malloc(total == 0 ? 1 : total);
  if (replay == NULL) return DOW_HEAD_NOMEM;
  if (head->kept_length > 0) memcpy(replay, head->kept, head->kept_length);
  if (length > 0) memcpy(replay + head->kept_length, chunk, length);
  free(head->kept);
  head->kept = NULL;
  head->kept_length = 0;
  head->replay = replay;
  head->replay_length = total;
  return DOW_HEAD_BAD;
}

/* The parser refuses a head before it grows past the length prefix, the block and the comma, so
   the kept bytes are bounded by the header limit; this is only a second line. */
static int keep(dow_head *head, const uint8_t *chunk, size_t length) {
  uint64_t bound = (uint64_t)head->parser.limits.max_header_bytes + 32;
  if (head->kept_length + length > bound) return -1;
  uint8_t *kept = realloc(head->kept, head->kept_length + length);
  if (kept == NULL) return -1;
  memcpy(kept + head->kept_length, chunk, length);
  head->kept = kept;
  head->kept_length += length;
  return 0;
}

dow_head_status dow_head_feed(dow_head *head, const uint8_t *chunk, size_t length, size_t *consumed) {
  size_t position = 0;
  *consumed = 0;
  if (head->replay != NULL) return DOW_HEAD_BAD; /* sticky, as the parser's errors are */
  for (;;) {
    size_t used = 0;
    dow_scgi_status status = dow_scgi_execute(&head->parser, chunk + position, length - position,
                                              head->workspace, head->workspace_words, &used);
    position += used;
    switch (status) {
      case DOW_SCGI_NEED_WORKSPACE: {
        size_t words = dow_scgi_workspace_words(&head->parser);
        if (words == 0 || head->workspace != NULL) return refuse(head, chunk, length);
        head->workspace = malloc(words * sizeof(uint32_t));
        if (head->workspace == NULL) return DOW_HEAD_NOMEM;
        head->workspace_words = words;
        continue;
      }
      case DOW_SCGI_AGAIN:
        *consumed = length;
        if (keep(head, chunk, length) != 0) return refuse(head, chunk, length);
        return DOW_HEAD_MORE;
      case DOW_SCGI_HEADERS:
        *consumed = position;
        free(head->kept);
        head->kept = NULL;
        head->kept_length = 0;
        return DOW_HEAD_READY;
      case DOW_SCGI_ERROR:
      default:
        /* BODY and later cannot come before HEADERS; treated as a refusal all the same. */
        *consumed = position;
        return refuse(head, chunk, length);
    }
  }
}

int dow_head_pair(const dow_head *head, uint32_t index, dow_scgi_pair *out) {
  return dow_scgi_pair_at(&head->parser, head->workspace, head->workspace_words, index, out);
}

void dow_head_free(dow_head *head) {
  free(head->workspace);
  free(head->kept);
  free(head->replay);
  head->workspace = NULL;
  head->kept = NULL;
  head->replay = NULL;
  head->workspace_words = head->kept_length = head->replay_length = 0;
}
