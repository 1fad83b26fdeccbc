/*
 * scgi-parse: an incremental SCGI request parser in C99, the native twin of the TypeScript
 * reference (server/protocol/scgi-parser.ts, header-block.ts, limits.ts). It accepts and refuses
 * exactly what the reference does, with the same error codes; test/unit/native-parser.test.ts
 * checks that differentially and native/fuzz/scgi-parse-fuzz.c fuzzes it under ASan and UBSan.
 *
 * Ownership: why a use-after-free cannot be written against this API
 * -------------------------------------------------------------------
 * - The parser struct holds integers only: no pointer, no callback. It can be copied, zeroed or
 *   freed at any moment, and nothing it holds can dangle.
 * - No callbacks: dow_scgi_execute() returns an event and the caller acts on it after the parser
 *   has returned. (The prototype's use-after-free was a handler that answered synchronously from
 *   inside a callback and then returned into a freed connection; here there is no "inside".)
 * - Every byte the parser reads or writes is in a buffer passed to that very call, with its
 *   length: the input chunk (read only, never kept past the call) and the workspace (caller-owned
 *   words, written only within the words passed). Each call checks the workspace length against
 *   what it needs before touching it.
 * - Results are offsets, not pointers: a pair is (name_off, name_len, value_off, value_len) into
 *   the header block, which lives at the start of the workspace. To turn an offset into bytes the
 *   caller must name the workspace again (dow_scgi_pair_at() bounds-checks against its length),
 *   so a result can never silently outlive the memory it describes.
 *
 * Workspace layout (uint32_t words, caller-owned; dow_scgi_workspace_words() says how many):
 *
 *   word 0                 ceil(H/4)                ceil(H/4)+5C              +6C         +7C
 *   ┌──────────────────────┬────────────────────────┬─────────────────────┬────────────┐
 *   │ header block, H bytes│ pairs: 5 words × C     │ sort order: C words │ sort temp  │
 *   │ (copied from chunks) │ name_off name_len      │ (scratch)           │ C words    │
 *   │                      │ value_off value_len    │                     │            │
 *   │                      │ first                  │                     │            │
 *   └──────────────────────┴────────────────────────┴─────────────────────┴────────────┘
 *   H = the netstring length (known at its ":"), C = H / 3: a pair takes at least 3 bytes
 *   ("N" NUL NUL), so C bounds the pair count by construction: no separate pair limit that the
 *   reference lacks, and no request can make the parser write past C pairs.
 *
 * Typical use (the addon's read loop):
 *
 *   dow_scgi_init(&p, &limits);                        // once per connection
 *   status = dow_scgi_execute(&p, buf, n, ws, ws_words, &used);
 *     DOW_SCGI_AGAIN           all of buf used; read more
 *     DOW_SCGI_NEED_WORKSPACE  the length is known: allocate dow_scgi_workspace_words(&p) words
 *                              (or pass a preallocated one), call again with buf + used
 *     DOW_SCGI_HEADERS         the block is valid: read pairs with dow_scgi_pair_at(); the body
 *                              starts at buf + used; p.content_length == 0 means the request is
 *                              complete. The workspace may be freed once the pairs are read.
 *     DOW_SCGI_BODY            buf[0 .. used) is body; more body follows
 *     DOW_SCGI_BODY_END        buf[0 .. used) is the last body bytes
 *     DOW_SCGI_DONE            bytes after the body: ignored, as the reference ignores them
 *     DOW_SCGI_ERROR           p.error says which DOW_ERR_*; sticky
 */
#ifndef DOW_SCGI_PARSE_H
#define DOW_SCGI_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* One code per error the TypeScript parser throws (shared/errors.ts), same names. */
typedef enum dow_scgi_error {
  DOW_SCGI_OK = 0,
  DOW_ERR_NETSTRING_LENGTH,
  DOW_ERR_NETSTRING_COMMA,
  DOW_ERR_HEADER_TOO_LARGE,
  DOW_ERR_HEADER_FORMAT,
  DOW_ERR_HEADER_DUPLICATE,
  DOW_ERR_CONTENT_LENGTH,
  DOW_ERR_SCGI_MISSING,
  DOW_ERR_BODY_TOO_LARGE,
  DOW_ERR_HTTP_ON_SCGI_PORT
} dow_scgi_error;

/* The code string ("DOW_ERR_HEADER_FORMAT"), or NULL for DOW_SCGI_OK and unknown values. */
const char *dow_scgi_error_code(dow_scgi_error error);

typedef enum dow_scgi_status {
  DOW_SCGI_AGAIN,
  DOW_SCGI_NEED_WORKSPACE,
  DOW_SCGI_HEADERS,
  DOW_SCGI_BODY,
  DOW_SCGI_BODY_END,
  DOW_SCGI_DONE,
  DOW_SCGI_ERROR
} dow_scgi_status;

/* ScgiLimits' protocol half. The config allows any integer >= 256 for headers; uint32 covers
   every value a sane config holds, and the reference's digit rule is computed from it. */
typedef struct dow_scgi_limits {
  uint32_t max_header_bytes;
  uint64_t max_body_bytes;
} dow_scgi_limits;

/* Integers only (see the ownership note). Fields are public to read, never to write. */
typedef struct dow_scgi_parser {
  dow_scgi_limits limits;
  uint64_t header_length;  /* H, as read so far from the length prefix */
  uint64_t block_filled;   /* header block bytes copied into the workspace */
  uint64_t content_length; /* valid from DOW_SCGI_HEADERS on */
  uint64_t body_remaining;
  uint64_t offset;         /* stream bytes consumed, for log messages */
  uint32_t pair_count;     /* valid from DOW_SCGI_HEADERS on */
  dow_scgi_error error;    /* valid after DOW_SCGI_ERROR */
  uint8_t state;
  uint8_t length_digits;
  uint8_t max_length_digits;
} dow_scgi_parser;

/* A header pair as offsets into the header block (the first H bytes of the workspace). `first`
   is the index of the first pair with the same name, `i` itself if none: repeated HTTP_* names
   are allowed and the consumer joins them as header-block.ts's mergeRepeated does (HTTP_HOST:
   the later value wins; HTTP_COOKIE: "; "; others ", "). */
typedef struct dow_scgi_pair {
  uint32_t name_off, name_len, value_off, value_len, first;
} dow_scgi_pair;

/* Returns 0, or -1 if the worst-case workspace for these limits is not addressable here (a
   32-bit host with a multi-GiB header limit); the caller then keeps the JavaScript path. */
int dow_scgi_init(dow_scgi_parser *parser, const dow_scgi_limits *limits);

dow_scgi_status dow_scgi_execute(dow_scgi_parser *parser, const uint8_t *chunk, size_t length,
                                 uint32_t *workspace, size_t workspace_words, size_t *consumed);

/* Words of workspace a header block of `header_length` bytes needs. */
size_t dow_scgi_workspace_words_for(uint32_t header_length);
/* Words the current request needs: 0 before the length prefix is complete. */
size_t dow_scgi_workspace_words(const dow_scgi_parser *parser);

/* Fills `out` with pair `index` and returns 0; -1 if the headers are not complete, the index is
   out of range or the workspace is shorter than the request needs. */
int dow_scgi_pair_at(const dow_scgi_parser *parser, const uint32_t *workspace, size_t workspace_words,
                     uint32_t index, dow_scgi_pair *out);

/* The header block's bytes (the workspace's first header_length bytes). */
static inline const unsigned char *dow_scgi_block(const uint32_t *workspace) {
  return (const unsigned char *)workspace;
}

/* True once the header block is complete (a 400 is no longer the parser's to give). */
int dow_scgi_headers_done(const dow_scgi_parser *parser);
/* True once the whole body has been seen. */
int dow_scgi_done(const dow_scgi_parser *parser);

#endif
