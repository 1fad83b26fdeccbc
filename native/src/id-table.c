#include "id-table.h"

#include <stdlib.h>

static int grow(dow_id_table *table) {
  uint32_t old = table->capacity;
  if (old >= DOW_ID_MAX_SLOTS) return -1;
  uint32_t capacity = old == 0 ? 64 : old * 2;
  if (capacity > DOW_ID_MAX_SLOTS) capacity = DOW_ID_MAX_SLOTS;
  dow_id_slot *slots = realloc(table->slots, (size_t)capacity * sizeof(dow_id_slot));
  if (slots == NULL) return -1;
  for (uint32_t i = old; i < capacity; i++) {
    slots[i].value = NULL;
    slots[i].generation = 0;
    slots[i].next_free = i + 1;
  }
  /* The new slots go in front of the (empty) free list: old == free_head here. */
  slots[capacity - 1].next_free = table->free_head == old ? capacity : table->free_head;
  table->slots = slots;
  table->free_head = old;
  table->capacity = capacity;
  return 0;
}

int64_t dow_id_add(dow_id_table *table, void *value) {
  if (value == NULL) return -1;
  if (table->free_head >= table->capacity && grow(table) != 0) return -1;
  uint32_t index = table->free_head;
  dow_id_slot *slot = &table->slots[index];
  table->free_head = slot->next_free;
  slot->value = value;
  table->live++;
  return (int64_t)slot->generation * DOW_ID_MAX_SLOTS + index;
}

static dow_id_slot *find(const dow_id_table *table, int64_t id) {
  if (id < 0) return NULL;
  uint64_t index = (uint64_t)id % DOW_ID_MAX_SLOTS;
  uint64_t generation = (uint64_t)id / DOW_ID_MAX_SLOTS;
  if (index >= table->capacity) return NULL;
  dow_id_slot *slot = &table->slots[index];
  if (slot->value == NULL || slot->generation != generation) return NULL;
  return slot;
}

void *dow_id_get(const dow_id_table *table, int64_t id) {
  dow_id_slot *slot = find(table, id);
  return slot == NULL ? NULL : slot->value;
}

void *dow_id_remove(dow_id_table *table, int64_t id) {
  dow_id_slot *slot = find(table, id);
  if (slot == NULL) return NULL;
  void *value = slot->value;
  slot->value = NULL;
  slot->generation = slot->generation >= DOW_ID_MAX_GENERATION ? 0 : slot->generation + 1;
  slot->next_free = table->free_head;
  table->free_head = (uint32_t)(slot - table->slots);
  table->live--;
  return value;
}

void dow_id_each(const dow_id_table *table, void (*visit)(void *value, void *data), void *data) {
  for (uint32_t i = 0; i < table->capacity; i++) {
    if (table->slots[i].value != NULL) visit(table->slots[i].value, data);
  }
}

void dow_id_free(dow_id_table *table) {
  free(table->slots);
  table->slots = NULL;
  table->capacity = table->free_head = table->live = 0;
}
