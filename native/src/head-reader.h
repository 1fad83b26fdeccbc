/*
 * head-reader: one connection's request head, from the first byte to the comma after the header
 * block. Wraps the parser (scgi-parse.h) with the memory it needs: the workspace, allocated once
 * the length prefix says how big the block is, and a copy of the bytes fed so far while the head
 * is incomplete, so that a refused head can be handed whole to the JavaScript parser, which words
 * the error (the two parsers refuse the same inputs with the same codes: native-parser.test.ts).
 * Pure: no I/O; fuzzed by native/fuzz/conn-fuzz.c.
 */
#ifndef DOW_HEAD_READER_H
#define DOW_HEAD_READER_H

#include <stddef.h>
#include <stdint.h>

#include "scgi-parse.h"

typedef enum dow_head_status {
  DOW_HEAD_MORE,  /* all of the chunk was taken: read more */
  DOW_HEAD_READY, /* the head is complete; `consumed` bytes of the chunk were head */
  DOW_HEAD_BAD,   /* refused: dow_head_replay() has every byte fed, this chunk included */
  DOW_HEAD_NOMEM
} dow_head_status;

typedef struct dow_head {
  dow_scgi_parser parser;
  uint32_t *workspace;
  size_t workspace_words;
  uint8_t *kept;     /* the bytes of earlier chunks, while the head is incomplete */
  size_t kept_length;
  /* Set by DOW_HEAD_BAD: the bytes to hand to JavaScript (the kept ones and the refused chunk). */
  uint8_t *replay;
  size_t replay_length;
} dow_head;

/* 0, or -1 if these limits cannot be served natively (see dow_scgi_init). */
int dow_head_init(dow_head *head, const dow_scgi_limits *limits);
dow_head_status dow_head_feed(dow_head *head, const uint8_t *chunk, size_t length, size_t *consumed);
/* Valid after DOW_HEAD_READY until dow_head_free(). */
static inline const uint8_t *dow_head_block(const dow_head *head) {
  return dow_scgi_block(head->workspace);
}
static inline uint32_t dow_head_block_length(const dow_head *head) {
  return (uint32_t)head->parser.header_length;
}
int dow_head_pair(const dow_head *head, uint32_t index, dow_scgi_pair *out);
void dow_head_free(dow_head *head);

#endif
