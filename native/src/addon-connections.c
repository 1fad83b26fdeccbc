/*
 * The functions JavaScript calls on a connection, by id (write, writev, shutdown, close, read,
 * setNoDelay), and the counts tests read for leaks; the machine (conn-machine.h) does the work.
 */
#define _GNU_SOURCE
#include "addon.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* write(id, buffer): 1 all sent, 0 queued (a DRAIN follows), or -errno. */
napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  instance *inst = begin(env, info, 2, argv);
  if (inst == NULL) return NULL;
  struct iovec iov;
  CHECKED(napi_get_buffer_info(env, argv[1], &iov.iov_base, &iov.iov_len), goto not_a_buffer);
  write_source source = {env, &argv[1]};
  return result_int(env, dow_conn_write(&inst->machine, id_arg(env, argv[0]), &iov, 1, &source));
not_a_buffer:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: write: not a Buffer");
  return NULL;
}

/* writev(id, buffers): as few system calls as the kernel allows for a corked response (one per
   64 Buffers); nothing is joined or copied. */
napi_value js_writev(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  instance *inst = begin(env, info, 2, argv);
  if (inst == NULL) return NULL;
  uint32_t count = 0;
  CHECKED(napi_get_array_length(env, argv[1], &count), goto bad_argument);
  napi_value stack_values[DOW_IOV_BATCH];
  struct iovec stack_iov[DOW_IOV_BATCH];
  napi_value *values = stack_values;
  struct iovec *iov = stack_iov;
  if (count > DOW_IOV_BATCH) {
    values = malloc(count * sizeof(napi_value));
    iov = malloc(count * sizeof(struct iovec));
    if (values == NULL || iov == NULL) {
      free(values);
      free(iov);
      return result_int(env, -ENOMEM);
    }
  }
  napi_value result = NULL;
  for (uint32_t i = 0; i < count; i++) {
    CHECKED(napi_get_element(env, argv[1], i, &values[i]), goto not_buffers);
    CHECKED(napi_get_buffer_info(env, values[i], &iov[i].iov_base, &iov[i].iov_len), goto not_buffers);
  }
  write_source source = {env, values};
  result = result_int(env, dow_conn_write(&inst->machine, id_arg(env, argv[0]), iov, count, &source));
  goto done;
not_buffers:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: writev: not an array of Buffers");
done:
  if (values != stack_values) free(values);
  if (iov != stack_iov) free(iov);
  return result;
bad_argument:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: writev: not an array of Buffers");
  return NULL;
}

/* shutdown(id): our side ends once the queue is empty. */
napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  instance *inst = begin(env, info, 1, argv);
  if (inst == NULL) return NULL;
  return result_int(env, dow_conn_shutdown(&inst->machine, id_arg(env, argv[0])));
}

/* The arguments (id, flag) of the functions below; NULL with an exception thrown. */
static instance *id_and_flag(napi_env env, napi_callback_info info, int64_t *id, bool *flag) {
  napi_value argv[2];
  *flag = false;
  instance *inst = begin(env, info, 2, argv);
  if (inst == NULL) return NULL;
  CHECKED(napi_get_value_bool(env, argv[1], flag), goto not_a_boolean);
  *id = id_arg(env, argv[0]);
  return inst;
not_a_boolean:
  napi_throw_type_error(env, "DOW_ERR_NATIVE_ARGS", "native I/O core: the second argument must be a boolean");
  return NULL;
}

/* close(id, reset): unsent bytes are dropped, as net.Socket's destroy() drops them. */
napi_value js_close(napi_env env, napi_callback_info info) {
  bool reset;
  int64_t id;
  instance *inst = id_and_flag(env, info, &id, &reset);
  if (inst != NULL) dow_conn_close(&inst->machine, id, reset);
  return NULL;
}

/* read(id, on): JavaScript's stream paused (false) or wants more (true); 0 or -errno. */
napi_value js_read(napi_env env, napi_callback_info info) {
  bool on;
  int64_t id;
  instance *inst = id_and_flag(env, info, &id, &on);
  if (inst == NULL) return NULL;
  return result_int(env, dow_conn_set_reading(&inst->machine, id, on));
}

napi_value js_set_no_delay(napi_env env, napi_callback_info info) {
  bool on;
  int64_t id;
  instance *inst = id_and_flag(env, info, &id, &on);
  if (inst == NULL) return NULL;
  dow_conn *c = dow_conn_get(&inst->machine, id);
  if (c != NULL && c->tcp) {
    int flag = on;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &flag, sizeof flag);
  }
  return NULL;
}

static void add_queued(void *value, void *data) {
  *(double *)data += (double)((dow_conn *)value)->queue.bytes;
}

/* Open connections and listeners, and bytes waiting in write queues: for tests that look for
   leaks and unbounded buffering. */
napi_value js_counts(napi_env env, napi_callback_info info) {
  (void)info;
  instance *inst = instance_of(env);
  if (inst == NULL) return throw_failed(env, "napi_get_instance_data");
  double queued = 0;
  dow_id_each(&inst->machine.conns, add_queued, &queued);
  napi_value out, connections, listeners, bytes;
  CHECKED(napi_create_object(env, &out), goto failed);
  CHECKED(number(env, inst->machine.conns.live, &connections), goto failed);
  CHECKED(number(env, inst->listeners.live, &listeners), goto failed);
  CHECKED(number(env, queued, &bytes), goto failed);
  CHECKED(napi_set_named_property(env, out, "connections", connections), goto failed);
  CHECKED(napi_set_named_property(env, out, "listeners", listeners), goto failed);
  CHECKED(napi_set_named_property(env, out, "queuedBytes", bytes), goto failed);
  return out;
failed:
  return throw_failed(env, "counts");
}
