/**
 * @module error-reply
 * Every dashboard error as JSON `{ statusCode, code, error, message }`: our DragonErrors with
 * their own code and status, Fastify's (validation, bad JSON, wrong content type) mapped to
 * DOW_ERR_BAD_REQUEST when they are the client's fault, and anything else as a logged 500.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { errors, isDragonError } from '../shared/errors.js';

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

function sendError(reply: FastifyReply, body: ErrorBody): FastifyReply {
  return reply.code(body.statusCode).type('application/json; charset=utf-8').send(body);
}

export function registerErrorReplies(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isDragonError(err)) {
      if (err.statusCode >= 500) request.log.warn({ code: err.code }, err.message);
      return sendError(reply, errorBody(err.statusCode, err.code, err.message));
    }
    const status = err.statusCode ?? 500;
    if (err.validation !== undefined || (status >= 400 && status < 500)) {
      const bad = new errors.DOW_ERR_BAD_REQUEST(err.message);
      // Keep Fastify's status (413 body too large, 415 media type) but our code and shape.
      return sendError(reply, errorBody(status, bad.code, bad.message));
    }
    request.log.error({ err }, 'dashboard request failed');
    const internal = new errors.DOW_ERR_INTERNAL('see the server log');
    return sendError(reply, errorBody(500, internal.code, internal.message));
  });

  app.setNotFoundHandler((request, reply) => {
    const err = new errors.DOW_ERR_ROUTE_NOT_FOUND(request.method, request.url.split('?')[0]);
    return sendError(reply, errorBody(err.statusCode, err.code, err.message));
  });
}
