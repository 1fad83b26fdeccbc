/*
 * libFuzzer target for native/src/scgi-parse.c, built under ASan and UBSan (scripts/fuzz.sh).
 * Each input runs three times, whole, split in two and in small steps, and the three results
 * must be identical; every run checks the parser's promises (offsets inside the block, pairs
 * that tile it, the duplicate rule, the body count) and aborts on any breach.
 *
 * Input layout (the seed corpus in native/fuzz/corpus/ is written by scripts/fuzz-corpus.ts):
 *
 *   byte 0   bits 0-1  limits: 0 default (65536, 16 MiB)  1 the config minimum (256, 5)
 *                              2 (1000, 1000)              3 the largest (2^32-1, 2^53-1)
 *            bit 2     workspace: 0 allocated when asked, exactly; 1 one larger, up front
 *            bits 4-7  step size - 1 for the third run (1 to 16 bytes per call)
 *   byte 1-2 split position, big-endian, modulo (payload length + 1)
 *   rest     the bytes a front end would send
 */
#include "../src/scgi-parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-check.h"


static const dow_scgi_limits profiles[4] = {
  { 65536, 16777216 },
  { 256, 5 },
  { 1000, 1000 },
  { 4294967295u, 9007199254740991ull },
};

enum outcome { INCOMPLETE, HEADERS, REFUSED };

typedef struct result {
  enum outcome outcome;
  dow_scgi_error error;
  uint64_t header_length, content_length, body_offset;
  uint32_t pair_count;
  unsigned char *block;
  dow_scgi_pair *pairs;
  unsigned char *body;
  size_t body_length;
  int done;
} result;

static void *checked(void *pointer) {
  CHECK(pointer != NULL);
  return pointer;
}

static int starts_with_http(const unsigned char *name, uint32_t length) {
  return length >= 5 && memcmp(name, "HTTP_", 5) == 0;
}

/* Everything DOW_SCGI_HEADERS promises, checked against the block's bytes. */
static void check_headers(const dow_scgi_parser *p, const uint32_t *ws, size_t ws_words, result *r) {
  const unsigned char *block = dow_scgi_block(ws);
  uint64_t length = p->header_length;
  CHECK(length >= 1 && length <= p->limits.max_header_bytes);
  CHECK(p->pair_count >= 1 && p->pair_count <= length / 3);
  CHECK(p->content_length <= p->limits.max_body_bytes);
  dow_scgi_pair pair;
  CHECK(dow_scgi_pair_at(p, ws, ws_words, p->pair_count, &pair) == -1);
  CHECK(dow_scgi_pair_at(p, ws, dow_scgi_workspace_words(p) - 1, 0, &pair) == -1);
  r->pairs = checked(malloc(p->pair_count * sizeof *r->pairs));
  uint64_t expected_off = 0;
  int scgi = 0;
  for (uint32_t i = 0; i < p->pair_count; i++) {
    CHECK(dow_scgi_pair_at(p, ws, ws_words, i, &pair) == 0);
    r->pairs[i] = pair;
    // The pairs tile the block: name NUL value NUL, one after another, to its last byte.
    CHECK(pair.name_off == expected_off);
    CHECK(pair.name_len >= 1);
    CHECK((uint64_t)pair.name_off + pair.name_len < length);
    CHECK(pair.value_off == pair.name_off + pair.name_len + 1);
    CHECK((uint64_t)pair.value_off + pair.value_len < length);
    CHECK(block[pair.name_off + pair.name_len] == 0 && block[pair.value_off + pair.value_len] == 0);
    CHECK(memchr(block + pair.name_off, 0, pair.name_len) == NULL);
    CHECK(pair.value_len == 0 || memchr(block + pair.value_off, 0, pair.value_len) == NULL);
    expected_off = (uint64_t)pair.value_off + pair.value_len + 1;
    // `first` names the earliest pair with this name; repeats only for HTTP_*.
    CHECK(pair.first <= i);
    const dow_scgi_pair *head = &r->pairs[pair.first];
    CHECK(head->first == pair.first);
    CHECK(head->name_len == pair.name_len && memcmp(block + head->name_off, block + pair.name_off, pair.name_len) == 0);
    if (pair.first != i) CHECK(starts_with_http(block + pair.name_off, pair.name_len));
    if (p->pair_count <= 256 && pair.first == i) {
      for (uint32_t j = 0; j < i; j++) {
        const dow_scgi_pair *other = &r->pairs[j];
        CHECK(!(other->name_len == pair.name_len && memcmp(block + other->name_off, block + pair.name_off, pair.name_len) == 0));
      }
    }
    if (pair.name_len == 4 && memcmp(block + pair.name_off, "SCGI", 4) == 0) {
      CHECK(pair.value_len == 1 && block[pair.value_off] == '1');
      scgi = 1;
    }
  }
  CHECK(expected_off == length);
  CHECK(scgi);
  CHECK(r->pairs[0].name_len == 14 && memcmp(block, "CONTENT_LENGTH", 14) == 0);
  CHECK(r->pairs[0].value_len >= 1 && r->pairs[0].value_len <= 15);
  r->block = checked(malloc(length));
  memcpy(r->block, block, length);
  r->header_length = length;
  r->pair_count = p->pair_count;
  r->content_length = p->content_length;
}

/* Feeds input in chunks ending at each of `cuts` (ascending; the last is length). */
static void run(const uint8_t *input, size_t length, const size_t *cuts, size_t cut_count,
                const dow_scgi_limits *limits, int preallocate, result *r) {
  memset(r, 0, sizeof *r);
  r->outcome = INCOMPLETE;
  r->body = checked(malloc(length + 1));
  dow_scgi_parser p;
  CHECK(dow_scgi_init(&p, limits) == 0);
  uint32_t *ws = NULL;
  size_t ws_words = 0;
  if (preallocate) {
    // Larger than any block this input can hold: the "one buffer per worker" way.
    ws_words = dow_scgi_workspace_words_for((uint32_t)(length < limits->max_header_bytes ? length : limits->max_header_bytes)) + 1;
    ws = checked(malloc(ws_words * sizeof *ws));
  }
  size_t start = 0;
  for (size_t c = 0; c < cut_count && r->outcome != REFUSED; c++) {
    size_t end = cuts[c];
    size_t used = 0;
    // Between chunks: no bytes (a NULL chunk) change nothing, and no pair is readable early.
    size_t none = 1;
    dow_scgi_status idle = dow_scgi_execute(&p, NULL, 7, ws, ws_words, &none);
    CHECK(none == 0 && idle != DOW_SCGI_HEADERS && idle != DOW_SCGI_BODY && idle != DOW_SCGI_BODY_END);
    dow_scgi_pair early;
    if (!dow_scgi_headers_done(&p)) CHECK(dow_scgi_pair_at(&p, ws, ws_words, 0, &early) == -1);
    for (;;) {
      size_t step = (size_t)-1;
      const uint8_t *at = input + start + used;
      size_t left = end - start - used;
      dow_scgi_status status = dow_scgi_execute(&p, at, left, ws, ws_words, &step);
      CHECK(step <= left);
      if (status == DOW_SCGI_ERROR) {
        const char *code = dow_scgi_error_code(p.error);
        CHECK(code != NULL && strncmp(code, "DOW_ERR_", 8) == 0);
        CHECK(!dow_scgi_headers_done(&p));
        // Sticky: the next call refuses again and reads nothing.
        size_t again = 1;
        CHECK(dow_scgi_execute(&p, at, left, ws, ws_words, &again) == DOW_SCGI_ERROR && again == 0);
        r->outcome = REFUSED;
        r->error = p.error;
        break;
      }
      if (status == DOW_SCGI_NEED_WORKSPACE) {
        size_t words = dow_scgi_workspace_words(&p);
        CHECK(words > 0 && ws_words < words);
        CHECK(p.header_length >= 1 && p.header_length <= limits->max_header_bytes);
        // A block longer than the input can never complete: stop, the same way in every run.
        if (p.header_length > length) goto finish;
        free(ws);
        ws_words = words;
        ws = checked(malloc(ws_words * sizeof *ws));  // exactly: ASan sees one word too far
      } else if (status == DOW_SCGI_HEADERS) {
        CHECK(r->outcome == INCOMPLETE && step >= 1);
        r->outcome = HEADERS;
        r->body_offset = start + used + step;
        check_headers(&p, ws, ws_words, r);
      } else if (status == DOW_SCGI_BODY || status == DOW_SCGI_BODY_END) {
        CHECK(step >= 1 && r->outcome == HEADERS);
        memcpy(r->body + r->body_length, at, step);
        r->body_length += step;
        CHECK(r->body_length <= p.content_length);
        CHECK((status == DOW_SCGI_BODY_END) == (r->body_length == p.content_length));
      } else if (status == DOW_SCGI_DONE) {
        CHECK(step == left && dow_scgi_done(&p));
      } else {
        CHECK(status == DOW_SCGI_AGAIN && step == left);
      }
      used += step;
      if (used == end - start && status != DOW_SCGI_NEED_WORKSPACE) break;
    }
    start = end;
  }
finish:
  if (r->outcome == HEADERS) {
    r->done = dow_scgi_done(&p);
    CHECK(r->done == (r->body_length == r->content_length));
  }
  free(ws);
}

static void compare(const result *a, const result *b) {
  CHECK(a->outcome == b->outcome);
  CHECK(a->error == b->error);
  if (a->outcome != HEADERS) return;
  CHECK(a->header_length == b->header_length && memcmp(a->block, b->block, a->header_length) == 0);
  CHECK(a->pair_count == b->pair_count && memcmp(a->pairs, b->pairs, a->pair_count * sizeof *a->pairs) == 0);
  CHECK(a->content_length == b->content_length && a->body_offset == b->body_offset);
  CHECK(a->body_length == b->body_length && memcmp(a->body, b->body, a->body_length) == 0);
  CHECK(a->done == b->done);
}

static void release(result *r) {
  free(r->block);
  free(r->pairs);
  free(r->body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  const dow_scgi_limits *limits = &profiles[data[0] & 3];
  int preallocate = (data[0] >> 2) & 1;
  size_t step = (size_t)(data[0] >> 4) + 1;
  const uint8_t *input = data + 3;
  size_t length = size - 3;
  size_t split = (((size_t)data[1] << 8) | data[2]) % (length + 1);

  result whole, halves, steps;
  size_t one_cut[1] = { length };
  run(input, length, one_cut, 1, limits, 0, &whole);

  size_t two_cuts[2] = { split, length };
  run(input, length, two_cuts, 2, limits, preallocate, &halves);
  compare(&whole, &halves);

  size_t count = (length + step - 1) / step;
  size_t *cuts = checked(malloc((count + 1) * sizeof *cuts));
  for (size_t i = 0; i < count; i++) cuts[i] = (i + 1) * step < length ? (i + 1) * step : length;
  if (count == 0) cuts[count++] = 0;
  run(input, length, cuts, count, limits, !preallocate, &steps);
  compare(&whole, &steps);
  free(cuts);

  // The body offset is where the netstring ends: its digits, ":", the block and ",".
  if (whole.outcome == HEADERS) {
    uint64_t digits = 0;
    for (uint64_t n = whole.header_length; n > 0; n /= 10) digits++;
    CHECK(whole.body_offset == digits + 1 + whole.header_length + 1);
  }
  release(&whole);
  release(&halves);
  release(&steps);
  return 0;
}
