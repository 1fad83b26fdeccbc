/*
 * parse-cli: runs one input from stdin through scgi-parse and prints the result as one JSON line,
 * for the differential test against the TypeScript parser (test/unit/native-parser.test.ts).
 *
 *   parse-cli [--max-header-bytes N] [--max-body-bytes N] [--split A,B,...] [--workspace lazy|full]
 *
 *   {"error":"DOW_ERR_…"}                                    refused
 *   {"headers":false}                                        incomplete before the header block
 *   {"env":{…},"contentLength":N,"bodyOffset":N,"body":"<hex>","done":true|false}
 *
 * The env joins repeated HTTP_* pairs as header-block.ts's mergeRepeated does: this file is also
 * the model for the addon's JavaScript side, which will do the joining.
 */
#include "../src/scgi-parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *why) {
  fprintf(stderr, "parse-cli: %s\n", why);
  exit(2);
}

static void *checked(void *pointer) {
  if (pointer == NULL) die("out of memory");
  return pointer;
}

static unsigned char *read_all(FILE *in, size_t *length) {
  size_t capacity = 4096, used = 0;
  unsigned char *data = checked(malloc(capacity));
  for (;;) {
    if (used == capacity) data = checked(realloc(data, capacity *= 2));
    size_t got = fread(data + used, 1, capacity - used, in);
    if (got == 0) break;
    used += got;
  }
  *length = used;
  return data;
}

static void put_json_string(const unsigned char *bytes, size_t length) {
  putchar('"');
  for (size_t i = 0; i < length; i++) {
    unsigned char c = bytes[i];
    // Latin-1 bytes as \u00XX: JSON.parse then gives the string Buffer#toString('latin1') gives.
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

typedef struct entry {
  uint32_t first; /* index of the pair that named it */
  unsigned char *value;
  size_t length;
} entry;

static void append(entry *e, const char *separator, const unsigned char *bytes, size_t length) {
  size_t extra = strlen(separator);
  e->value = checked(realloc(e->value, e->length + extra + length + 1));
  memcpy(e->value + e->length, separator, extra);
  memcpy(e->value + e->length + extra, bytes, length);
  e->length += extra + length;
}

static void print_env(const dow_scgi_parser *p, const uint32_t *ws, size_t ws_words) {
  const unsigned char *block = dow_scgi_block(ws);
  entry *entries = checked(calloc(p->pair_count + 1, sizeof *entries));
  uint32_t *slot_of = checked(calloc(p->pair_count + 1, sizeof *slot_of));
  size_t count = 0;
  for (uint32_t i = 0; i < p->pair_count; i++) {
    dow_scgi_pair pair;
    if (dow_scgi_pair_at(p, ws, ws_words, i, &pair) != 0) die("pair_at refused a valid index");
    const unsigned char *name = block + pair.name_off;
    const unsigned char *value = block + pair.value_off;
    if (pair.first == i) {
      slot_of[i] = (uint32_t)count;
      entries[count].first = i;
      append(&entries[count++], "", value, pair.value_len);
      continue;
    }
    entry *e = &entries[slot_of[pair.first]];
    if (pair.name_len == 9 && memcmp(name, "HTTP_HOST", 9) == 0) {
      e->length = 0;  // the later Host wins
      append(e, "", value, pair.value_len);
    } else {
      append(e, pair.name_len == 11 && memcmp(name, "HTTP_COOKIE", 11) == 0 ? "; " : ", ", value, pair.value_len);
    }
  }
  putchar('{');
  for (size_t k = 0; k < count; k++) {
    dow_scgi_pair pair;
    dow_scgi_pair_at(p, ws, ws_words, entries[k].first, &pair);
    if (k > 0) putchar(',');
    put_json_string(block + pair.name_off, pair.name_len);
    putchar(':');
    put_json_string(entries[k].value, entries[k].length);
    free(entries[k].value);
  }
  putchar('}');
  free(entries);
  free(slot_of);
}

int main(int argc, char **argv) {
  dow_scgi_limits limits = { 64 * 1024, 16 * 1024 * 1024 };
  const char *splits = "";
  int full_workspace = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) die("every option takes a value");
    if (strcmp(argv[i], "--max-header-bytes") == 0) limits.max_header_bytes = (uint32_t)strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--max-body-bytes") == 0) limits.max_body_bytes = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--split") == 0) splits = argv[++i];
    else if (strcmp(argv[i], "--workspace") == 0) full_workspace = strcmp(argv[++i], "full") == 0;
    else die("unknown option");
  }

  size_t length;
  unsigned char *input = read_all(stdin, &length);
  dow_scgi_parser p;
  if (dow_scgi_init(&p, &limits) != 0) die("limits too large for this host");
  size_t ws_words = full_workspace ? dow_scgi_workspace_words_for(limits.max_header_bytes) : 0;
  uint32_t *ws = ws_words ? checked(malloc(ws_words * sizeof *ws)) : NULL;

  unsigned char *body = checked(malloc(length + 1));
  size_t body_length = 0, body_offset = 0, stream = 0;
  int headers = 0;
  const char *cursor = splits;
  size_t chunk_start = 0;
  while (chunk_start <= length) {
    // The next cut from --split, clamped and ordered; the last chunk runs to the end.
    size_t chunk_end = length;
    if (*cursor != '\0') {
      char *after;
      unsigned long long cut = strtoull(cursor, &after, 10);
      cursor = *after == ',' ? after + 1 : after;
      chunk_end = cut < chunk_start ? chunk_start : cut > length ? length : (size_t)cut;
    }
    const unsigned char *chunk = input + chunk_start;
    size_t chunk_length = chunk_end - chunk_start;
    size_t used = 0;
    int stop = 0;
    do {
      size_t step;
      dow_scgi_status status = dow_scgi_execute(&p, chunk + used, chunk_length - used, ws, ws_words, &step);
      if (step > chunk_length - used) die("consumed more than given");
      switch (status) {
        case DOW_SCGI_NEED_WORKSPACE:
          // A block longer than the whole input cannot complete: the reference would still be
          // waiting for it, so say so rather than allocate for a length a test made up.
          if (p.header_length > length) goto out;
          free(ws);
          ws_words = dow_scgi_workspace_words(&p);
          ws = checked(malloc(ws_words * sizeof *ws));
          break;
        case DOW_SCGI_HEADERS:
          headers = 1;
          body_offset = stream + used + step;
          break;
        case DOW_SCGI_BODY:
        case DOW_SCGI_BODY_END:
          memcpy(body + body_length, chunk + used, step);
          body_length += step;
          break;
        case DOW_SCGI_ERROR:
          printf("{\"error\":\"%s\"}\n", dow_scgi_error_code(p.error));
          goto release;
        default:
          break;
      }
      used += step;
      if (status == DOW_SCGI_AGAIN) stop = 1;
    } while (!stop && used < chunk_length);
    stream += chunk_length;
    if (chunk_end == length) break;
    chunk_start = chunk_end;
  }

out:
  if (!headers) {
    printf("{\"headers\":false}\n");
    goto release;
  }
  printf("{\"env\":");
  print_env(&p, ws, ws_words);
  printf(",\"contentLength\":%llu,\"bodyOffset\":%zu,\"body\":\"", (unsigned long long)p.content_length, body_offset);
  for (size_t i = 0; i < body_length; i++) printf("%02x", body[i]);
  printf("\",\"done\":%s}\n", dow_scgi_done(&p) ? "true" : "false");
release:
  free(input);
  free(body);
  free(ws);
  return 0;
}
