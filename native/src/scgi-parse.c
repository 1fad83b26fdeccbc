/*
 * scgi-parse: the SCGI netstring framing, the header block and the body count, mirroring
 * server/protocol/scgi-parser.ts and header-block.ts line for line in what they accept.
 *
 *   state:  LENGTH ──digits──▶ ":" ──▶ HEADERS (H bytes) ──▶ COMMA ──▶ BODY (CONTENT_LENGTH) ──▶ DONE
 *                                                                   any refusal ──▶ ERROR (sticky)
 */
#include "scgi-parse.h"

#include <string.h>

enum { S_LENGTH, S_HEADERS, S_COMMA, S_BODY, S_DONE, S_ERROR };

/* Words per pair in the workspace: name_off name_len value_off value_len first. */
#define PAIR_WORDS 5u
/* header-block.ts: "A CONTENT_LENGTH beyond 2^53 could not be counted exactly; 15 digits". */
#define MAX_CONTENT_LENGTH_DIGITS 15u

static const char *const codes[] = {
  NULL,
  "DOW_ERR_NETSTRING_LENGTH",
  "DOW_ERR_NETSTRING_COMMA",
  "DOW_ERR_HEADER_TOO_LARGE",
  "DOW_ERR_HEADER_FORMAT",
  "DOW_ERR_HEADER_DUPLICATE",
  "DOW_ERR_CONTENT_LENGTH",
  "DOW_ERR_SCGI_MISSING",
  "DOW_ERR_BODY_TOO_LARGE",
  "DOW_ERR_HTTP_ON_SCGI_PORT",
};

const char *dow_scgi_error_code(dow_scgi_error error) {
  unsigned index = (unsigned)error;
  return index < sizeof codes / sizeof codes[0] ? codes[index] : NULL;
}

/* The reference allows String(maxHeaderBytes).length digits before the colon. */
static uint8_t decimal_digits(uint32_t value) {
  uint8_t digits = 1;
  while (value >= 10) {
    value /= 10;
    digits++;
  }
  return digits;
}

/* In uint64_t so that no header length a uint32 limit admits can overflow the sum. */
static uint64_t words_needed(uint64_t header_length) {
  uint64_t pair_capacity = header_length / 3;
  return (header_length + 3) / 4 + pair_capacity * (PAIR_WORDS + 2);
}

size_t dow_scgi_workspace_words_for(uint32_t header_length) {
  uint64_t words = words_needed(header_length);
  return words > SIZE_MAX / sizeof(uint32_t) ? SIZE_MAX : (size_t)words;
}

size_t dow_scgi_workspace_words(const dow_scgi_parser *p) {
  if (p->state == S_LENGTH || p->header_length > UINT32_MAX) return 0;
  return dow_scgi_workspace_words_for((uint32_t)p->header_length);
}

int dow_scgi_init(dow_scgi_parser *p, const dow_scgi_limits *limits) {
  memset(p, 0, sizeof *p);
  p->limits = *limits;
  p->state = S_LENGTH;
  p->max_length_digits = decimal_digits(limits->max_header_bytes);
  if (words_needed(limits->max_header_bytes) > SIZE_MAX / sizeof(uint32_t)) return -1;
  return 0;
}

int dow_scgi_headers_done(const dow_scgi_parser *p) {
  return p->state == S_BODY || p->state == S_DONE;
}

int dow_scgi_done(const dow_scgi_parser *p) {
  return p->state == S_DONE;
}

static int workspace_fits(const dow_scgi_parser *p, const uint32_t *ws, size_t ws_words) {
  return ws != NULL && ws_words >= dow_scgi_workspace_words(p);
}

int dow_scgi_pair_at(const dow_scgi_parser *p, const uint32_t *ws, size_t ws_words, uint32_t index,
                     dow_scgi_pair *out) {
  if (!dow_scgi_headers_done(p) || index >= p->pair_count || !workspace_fits(p, ws, ws_words)) return -1;
  const uint32_t *word = ws + (p->header_length + 3) / 4 + (size_t)index * PAIR_WORDS;
  out->name_off = word[0];
  out->name_len = word[1];
  out->value_off = word[2];
  out->value_len = word[3];
  out->first = word[4];
  return 0;
}

/* ---- the header block ------------------------------------------------------------------- */

typedef struct block_view {
  const unsigned char *bytes;
  uint32_t *pairs;
} block_view;

static int names_compare(const block_view *b, uint32_t left, uint32_t right) {
  const uint32_t *l = b->pairs + (size_t)left * PAIR_WORDS;
  const uint32_t *r = b->pairs + (size_t)right * PAIR_WORDS;
  uint32_t shorter = l[1] < r[1] ? l[1] : r[1];
  int order = memcmp(b->bytes + l[0], b->bytes + r[0], shorter);
  if (order != 0) return order;
  return l[1] < r[1] ? -1 : l[1] > r[1] ? 1 : 0;
}

static int name_is(const block_view *b, uint32_t index, const char *name, uint32_t length) {
  const uint32_t *pair = b->pairs + (size_t)index * PAIR_WORDS;
  return pair[1] == length && memcmp(b->bytes + pair[0], name, length) == 0;
}

/*
 * Sets each pair's `first` to the earliest pair with the same name. A stable bottom-up merge
 * sort by name, not a hash table: O(n log n) whatever the names, so no crafted set of colliding
 * names can turn a 64 KiB block into seconds of probing (the reference relies on V8's hashing).
 * The block's ~30 pairs from nginx cost a few hundred comparisons.
 */
static void link_repeated_names(const block_view *b, uint32_t count, uint32_t *order, uint32_t *temp) {
  for (uint32_t i = 0; i < count; i++) order[i] = i;
  uint32_t *from = order;
  uint32_t *to = temp;
  for (uint64_t width = 1; width < count; width *= 2) {
    for (uint64_t low = 0; low < count; low += 2 * width) {
      uint64_t mid = low + width < count ? low + width : count;
      uint64_t high = low + 2 * width < count ? low + 2 * width : count;
      uint64_t i = low, j = mid, k = low;
      // Ties go to the left run: equal names stay in pair order, so a run's head is its first.
      while (i < mid && j < high) to[k++] = names_compare(b, from[i], from[j]) <= 0 ? from[i++] : from[j++];
      while (i < mid) to[k++] = from[i++];
      while (j < high) to[k++] = from[j++];
    }
    uint32_t *swap = from;
    from = to;
    to = swap;
  }
  uint32_t head = 0;
  for (uint32_t k = 0; k < count; k++) {
    if (k == 0 || names_compare(b, from[k - 1], from[k]) != 0) head = from[k];
    b->pairs[(size_t)from[k] * PAIR_WORDS + 4] = head;
  }
}

/*
 * parseHeaderBlock(): the same checks in the same order, so the same error wins when a block has
 * several faults. The reference stops at the first bad pair in position order; here the pairs
 * are cut first and the duplicate and first-name checks replayed in order up to that point.
 */
static dow_scgi_error parse_block(dow_scgi_parser *p, uint32_t *ws) {
  const uint32_t length = (uint32_t)p->header_length;
  const uint32_t capacity = length / 3;
  block_view b = { (const unsigned char *)ws, ws + (p->header_length + 3) / 4 };
  uint32_t *order = b.pairs + (size_t)capacity * PAIR_WORDS;
  uint32_t *temp = order + capacity;

  if (length == 0 || b.bytes[length - 1] != 0) return DOW_ERR_HEADER_FORMAT;

  // headers ::= header*   header ::= name NUL value NUL   (the SCGI spec)
  dow_scgi_error format = DOW_SCGI_OK;
  uint32_t count = 0;
  uint32_t pos = 0;
  while (pos < length) {
    // Both searches find a NUL: the block's last byte is one (checked above).
    const unsigned char *nul = memchr(b.bytes + pos, 0, length - pos);
    uint32_t name_end = (uint32_t)(nul - b.bytes);
    if (name_end == pos || name_end == length - 1) {
      format = DOW_ERR_HEADER_FORMAT;  // an empty name, or a name without a value
      break;
    }
    nul = memchr(b.bytes + name_end + 1, 0, length - name_end - 1);
    uint32_t value_end = (uint32_t)(nul - b.bytes);
    // Unreachable: pair k ends at byte >= 3k + 2, so k < length / 3. Kept as the bound's guard.
    if (count >= capacity) return DOW_ERR_HEADER_FORMAT;
    uint32_t *pair = b.pairs + (size_t)count * PAIR_WORDS;
    pair[0] = pos;
    pair[1] = name_end - pos;
    pair[2] = name_end + 1;
    pair[3] = value_end - name_end - 1;
    pair[4] = count;
    count++;
    pos = value_end + 1;
  }

  link_repeated_names(&b, count, order, temp);
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t *pair = b.pairs + (size_t)i * PAIR_WORDS;
    if (pair[4] != i) {
      // mergeRepeated(): CGI variables stay unique; repeated HTTP_* lines are joined later.
      if (!(pair[1] >= 5 && memcmp(b.bytes + pair[0], "HTTP_", 5) == 0)) return DOW_ERR_HEADER_DUPLICATE;
      continue;
    }
    // "The first header must be CONTENT_LENGTH" (the SCGI spec).
    if (i == 0 && !name_is(&b, 0, "CONTENT_LENGTH", 14)) return DOW_ERR_CONTENT_LENGTH;
  }
  if (format != DOW_SCGI_OK) return format;

  // parseContentLength(): 1 to 15 decimal digits, nothing else. Pair 0 exists: count >= 1 here.
  const uint32_t *first = b.pairs;
  if (first[3] == 0 || first[3] > MAX_CONTENT_LENGTH_DIGITS) return DOW_ERR_CONTENT_LENGTH;
  uint64_t content_length = 0;
  for (uint32_t i = 0; i < first[3]; i++) {
    unsigned char c = b.bytes[first[2] + i];
    if (c < '0' || c > '9') return DOW_ERR_CONTENT_LENGTH;
    content_length = content_length * 10 + (uint64_t)(c - '0');
  }

  // "SCGI" with value "1", anywhere (lighttpd sends it last, nginx second).
  int scgi = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (name_is(&b, i, "SCGI", 4)) {
      const uint32_t *pair = b.pairs + (size_t)i * PAIR_WORDS;
      scgi = pair[3] == 1 && b.bytes[pair[2]] == '1';
      break;  // unique: a repeated SCGI is a duplicate, refused above
    }
  }
  if (!scgi) return DOW_ERR_SCGI_MISSING;

  if (content_length > p->limits.max_body_bytes) return DOW_ERR_BODY_TOO_LARGE;
  p->pair_count = count;
  p->content_length = content_length;
  return DOW_SCGI_OK;
}

/* ---- the stream ------------------------------------------------------------------------- */

static dow_scgi_status fail(dow_scgi_parser *p, dow_scgi_error error, size_t pos, size_t *consumed) {
  p->state = S_ERROR;
  p->error = error;
  p->pair_count = 0;
  *consumed = pos;
  return DOW_SCGI_ERROR;
}

dow_scgi_status dow_scgi_execute(dow_scgi_parser *p, const uint8_t *chunk, size_t length, uint32_t *ws,
                                 size_t ws_words, size_t *consumed) {
  size_t pos = 0;
  if (chunk == NULL) length = 0;
  for (;;) {
    switch (p->state) {
      case S_LENGTH:
        while (p->state == S_LENGTH) {
          if (pos == length) {
            *consumed = pos;
            return DOW_SCGI_AGAIN;
          }
          uint8_t byte = chunk[pos++];
          p->offset++;
          if (byte == ':') {
            if (p->length_digits == 0) return fail(p, DOW_ERR_NETSTRING_LENGTH, pos, consumed);
            if (p->header_length > p->limits.max_header_bytes) return fail(p, DOW_ERR_HEADER_TOO_LARGE, pos, consumed);
            if (p->header_length == 0) return fail(p, DOW_ERR_HEADER_FORMAT, pos, consumed);
            p->state = S_HEADERS;
            p->block_filled = 0;
          } else if (byte < '0' || byte > '9') {
            // An upper-case letter first: a request line ("GET / HTTP/1.1"), never a netstring.
            if (p->offset == 1 && byte >= 'A' && byte <= 'Z') return fail(p, DOW_ERR_HTTP_ON_SCGI_PORT, pos, consumed);
            return fail(p, DOW_ERR_NETSTRING_LENGTH, pos, consumed);
          } else {
            // Netstrings forbid leading zeros ("0" alone would be an empty block, refused above).
            if (p->length_digits == 1 && p->header_length == 0) return fail(p, DOW_ERR_NETSTRING_LENGTH, pos, consumed);
            p->length_digits++;
            if (p->length_digits > p->max_length_digits) return fail(p, DOW_ERR_HEADER_TOO_LARGE, pos, consumed);
            // At most 10 digits (a uint32 limit): below 10^10, far from overflowing.
            p->header_length = p->header_length * 10 + (uint64_t)(byte - '0');
          }
        }
        break;

      case S_HEADERS: {
        // Checked on every call, before any write: the caller may pass another workspace.
        if (!workspace_fits(p, ws, ws_words)) {
          *consumed = pos;
          return DOW_SCGI_NEED_WORKSPACE;
        }
        if (pos == length) {
          *consumed = pos;
          return DOW_SCGI_AGAIN;
        }
        uint64_t need = p->header_length - p->block_filled;
        size_t take = length - pos < need ? length - pos : (size_t)need;
        memcpy((unsigned char *)ws + p->block_filled, chunk + pos, take);
        p->block_filled += take;
        p->offset += take;
        pos += take;
        if (p->block_filled == p->header_length) p->state = S_COMMA;
        break;
      }

      case S_COMMA: {
        if (pos == length) {
          *consumed = pos;
          return DOW_SCGI_AGAIN;
        }
        if (!workspace_fits(p, ws, ws_words)) {
          *consumed = pos;
          return DOW_SCGI_NEED_WORKSPACE;
        }
        if (chunk[pos] != ',') return fail(p, DOW_ERR_NETSTRING_COMMA, pos + 1, consumed);
        pos++;
        p->offset++;
        dow_scgi_error error = parse_block(p, ws);
        if (error != DOW_SCGI_OK) return fail(p, error, pos, consumed);
        p->body_remaining = p->content_length;
        p->state = p->content_length == 0 ? S_DONE : S_BODY;
        *consumed = pos;
        return DOW_SCGI_HEADERS;
      }

      case S_BODY: {
        // pos is 0 here: BODY is entered only by returning DOW_SCGI_HEADERS, so the body bytes
        // of this call are chunk[0 .. consumed), as the header promises.
        if (pos == length) {
          *consumed = pos;
          return DOW_SCGI_AGAIN;
        }
        size_t take = length - pos < p->body_remaining ? length - pos : (size_t)p->body_remaining;
        pos += take;
        p->offset += take;
        p->body_remaining -= take;
        *consumed = pos;
        if (p->body_remaining > 0) return DOW_SCGI_BODY;
        p->state = S_DONE;
        return DOW_SCGI_BODY_END;
      }

      case S_DONE:
        // The spec defines nothing after the body; nginx and lighttpd send nothing more.
        p->offset += length - pos;
        *consumed = length;
        return DOW_SCGI_DONE;

      default:
        *consumed = pos;
        return DOW_SCGI_ERROR;
    }
  }
}
