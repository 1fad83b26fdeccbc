/*
 * id-table: connections as JavaScript sees them, by number, never by pointer. An id is a slot
 * index plus that slot's generation; a slot's generation changes when its connection is removed,
 * so an id JavaScript kept after a close finds nothing (NULL) instead of the slot's next tenant.
 * Pure: no I/O.
 *
 *   id = generation * 2^24 + index      (< 2^53: exact as a JavaScript number)
 */
#ifndef DOW_ID_TABLE_H
#define DOW_ID_TABLE_H

#include <stdint.h>

#define DOW_ID_INDEX_BITS 24
#define DOW_ID_MAX_SLOTS (1u << DOW_ID_INDEX_BITS)
#define DOW_ID_MAX_GENERATION ((1u << 29) - 1)

typedef struct dow_id_slot {
  void *value;      /* NULL when free */
  uint32_t generation;
  uint32_t next_free;
} dow_id_slot;

typedef struct dow_id_table {
  dow_id_slot *slots;
  uint32_t capacity;
  uint32_t free_head; /* capacity when none is free */
  uint32_t live;
} dow_id_table;

/* Stores `value` (not NULL) and returns its id, or -1 when out of memory or slots. */
int64_t dow_id_add(dow_id_table *table, void *value);
/* The value under `id`, or NULL if the id was never given or was removed. */
void *dow_id_get(const dow_id_table *table, int64_t id);
/* Removes `id` (a no-op for an unknown id); returns the value it held, or NULL. */
void *dow_id_remove(dow_id_table *table, int64_t id);
/* Calls `visit` on every live value (for teardown; `visit` may remove the value it is given,
   never add one). */
void dow_id_each(const dow_id_table *table, void (*visit)(void *value, void *data), void *data);
void dow_id_free(dow_id_table *table);

#endif
