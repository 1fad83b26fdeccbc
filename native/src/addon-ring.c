/*
 * The timing-row rings (row-ring.h) as JavaScript sees them: a tagged external per ring, and the
 * functions the supervisor and its workers call on one.
 */
#define _GNU_SOURCE
#include "addon.h"

#include <errno.h>
#include <stdlib.h>

#include "row-ring.h"

/* A ring reaches JavaScript as an external tagged as ours, so no other value is taken for one. */
static const napi_type_tag RING_TAG = {0x646f772d726f7721ULL, 0x72696e672d746167ULL};

static void ring_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  dow_ring_close(data);
  free(data);
}

/* The ring as a JavaScript value (which then owns it), or NULL with an exception thrown. */
static napi_value ring_value(napi_env env, dow_ring *ring) {
  napi_value out;
  CHECKED(napi_create_external(env, ring, ring_finalize, NULL, &out), goto not_created);
  CHECKED(napi_type_tag_object(env, out, &RING_TAG), return throw_failed(env, "napi_type_tag_object"));
  return out;
not_created:
  dow_ring_close(ring);
  free(ring);
  return throw_failed(env, "napi_create_external");
}

/* The ring `value` holds, or NULL with an exception thrown. */
static dow_ring *ring_arg(napi_env env, napi_value value) {
  bool tagged = false;
  void *data = NULL;
  CHECKED(napi_check_object_type_tag(env, value, &RING_TAG, &tagged), tagged = false);
  if (!tagged) {
    napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: not a row ring");
    return NULL;
  }
  CHECKED(napi_get_value_external(env, value, &data), return (throw_failed(env, "napi_get_value_external"), NULL));
  return data;
}

/* ringCreate(capacityBytes): a new ring (memfd) for the supervisor's side, or -errno. */
napi_value js_ring_create(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  double capacity = 0;
  CHECKED(napi_get_value_double(env, argv[0], &capacity), return throw_failed(env, "ringCreate: napi_get_value_double"));
  if (!(capacity >= DOW_RING_MIN_CAPACITY && capacity <= (double)DOW_RING_MAX_CAPACITY)) return result_int(env, -EINVAL);
  dow_ring *ring = malloc(sizeof *ring);
  if (ring == NULL) return result_int(env, -ENOMEM);
  int error = dow_ring_create(ring, (uint64_t)capacity);
  if (error != 0) {
    free(ring);
    return result_int(env, -error);
  }
  return ring_value(env, ring);
}

/* ringAttach(fd): the worker's side of the ring behind an inherited descriptor, or -errno. */
napi_value js_ring_attach(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  int32_t fd = -1;
  CHECKED(napi_get_value_int32(env, argv[0], &fd), return throw_failed(env, "ringAttach: napi_get_value_int32"));
  dow_ring *ring = malloc(sizeof *ring);
  if (ring == NULL) return result_int(env, -ENOMEM);
  int error = dow_ring_attach(ring, fd);
  if (error != 0) {
    free(ring);
    return result_int(env, -error);
  }
  return ring_value(env, ring);
}

/* ringFd(ring): its descriptor, to hand to a worker; -1 once closed or on the worker's side. */
napi_value js_ring_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  return result_int(env, ring->fd);
}

/* ringWrite(ring, frame): true, or false when it does not fit (the caller sends it another way). */
napi_value js_ring_write(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  if (get_args(env, info, 2, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  void *data = NULL;
  size_t length = 0;
  CHECKED(napi_get_buffer_info(env, argv[1], &data, &length), goto not_a_buffer);
  CHECKED(napi_get_boolean(env, dow_ring_write(ring, data, length) == 1, &out), return throw_failed(env, "ringWrite: napi_get_boolean"));
  return out;
not_a_buffer:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: ringWrite: not a Buffer");
  return NULL;
}

/* ringRead(ring): every byte written since the last read, as one Buffer, or null when none.
   Throws DOW_ERR_ROW_RING when the shared header cannot be right (nothing is read then). */
napi_value js_ring_read(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (get_args(env, info, 1, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  int64_t readable = dow_ring_readable(ring);
  if (readable < 0) {
    napi_throw_error(env, "DOW_ERR_ROW_RING", "timing rows from a worker: its ring's head is not within the ring (its memory was overwritten)");
    return NULL;
  }
  if (readable == 0) {
    CHECKED(napi_get_null(env, &out), return throw_failed(env, "ringRead: napi_get_null"));
    return out;
  }
  void *data = NULL;
  CHECKED(napi_create_buffer(env, (size_t)readable, &data, &out), return throw_failed(env, "ringRead: napi_create_buffer"));
  dow_ring_take(ring, data, (uint64_t)readable);
  return out;
}

/* ringSetLoad(ring, running, queued): the worker's requests running and queued, for the
   supervisor to read while the worker cannot answer. Called on every admission and finish. */
napi_value js_ring_set_load(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  uint32_t running = 0, queued = 0;
  CHECKED(napi_get_value_uint32(env, argv[1], &running), return throw_failed(env, "ringSetLoad: napi_get_value_uint32"));
  CHECKED(napi_get_value_uint32(env, argv[2], &queued), return throw_failed(env, "ringSetLoad: napi_get_value_uint32"));
  dow_ring_set_load(ring, running, queued);
  return NULL;
}

/* ringLoad(ring): [running, queued] as the worker last published them, or null once closed. */
napi_value js_ring_load(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, value;
  if (get_args(env, info, 1, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring == NULL) return NULL;
  uint32_t figures[2];
  if (dow_ring_load(ring, &figures[0], &figures[1]) != 0) {
    CHECKED(napi_get_null(env, &out), return throw_failed(env, "ringLoad: napi_get_null"));
    return out;
  }
  CHECKED(napi_create_array_with_length(env, 2, &out), return throw_failed(env, "ringLoad: napi_create_array_with_length"));
  for (uint32_t i = 0; i < 2; i++) {
    CHECKED(napi_create_uint32(env, figures[i], &value), return throw_failed(env, "ringLoad: napi_create_uint32"));
    CHECKED(napi_set_element(env, out, i, value), return throw_failed(env, "ringLoad: napi_set_element"));
  }
  return out;
}

/* ringClose(ring): unmaps it and closes its descriptor now rather than at garbage collection. */
napi_value js_ring_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv) != 0) return NULL;
  dow_ring *ring = ring_arg(env, argv[0]);
  if (ring != NULL) dow_ring_close(ring);
  return NULL;
}
