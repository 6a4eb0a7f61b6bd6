/**
 * offheap/fastify: an arena per request for fastify.
 *
 *   app.register(offheapFastify, { maxBytes: 16 << 20 });
 *   app.get('/', async (request) => request.arena.alloc(4096).fill(1));
 *
 * onRequest acquires a lease of the instance's ArenaScope; currentArena()
 * and `request.arena` see it in every later hook, the handler, preHandler,
 * onSend and the error handler. fastify reads the body outside the request's
 * async context, so the context is restored (an AsyncResource made in
 * onRequest, as @fastify/request-context does) before preValidation. The
 * lease has two holds: the reply (dropped when reply.raw has finished,
 * closed or failed, aborts included: afterStream()) and the route handler
 * (wrapped at onRoute, dropped once it has returned, thrown, or its promise
 * settled), so an arena view sent as the reply is not reused before the
 * socket has flushed it, and a handler abandoned by its client still owns
 * its memory until it is done. Error handlers set after the plugin run under
 * the lease too (fastify calls the handlerTimeout one from a timer made
 * before onRequest). Register the plugin before the hooks, error handlers and
 * routes that use it: a route declared before it is not wrapped (its arena
 * is given back when the reply ends), a hook added before it runs before its
 * onRequest (request.arena throws ERR_OFFHEAP_NO_SCOPE there).
 */
import { AsyncResource } from 'node:async_hooks';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Arena } from './arena';
import { settle } from './arena';
import { afterStream, ArenaScope, type ArenaScopeOptions, type Lease } from './arena-scope';
import { OffheapError } from './errors';
import { validateKnownKeys, validateOptions } from './validate';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's arena, from onRequest until the reply has been flushed and the handler is done. */
    readonly arena: Arena;
  }
  interface FastifyInstance {
    /** The ArenaScope lending this instance's request arenas (`app.arenaScope.stats()`). */
    readonly arenaScope: ArenaScope;
  }
}

/** Options of the plugin: the ArenaScope's. */
export type OffheapFastifyOptions = ArenaScopeOptions;

/** fastify's own register() options, which it passes to the plugin with ours. */
const REGISTER_KEYS = ['prefix', 'logLevel', 'logSerializers'];
const SCOPE_KEYS = ['maxBytes', 'keep', 'maxRetainedBytes', 'align', 'debug', 'name'] as const;

const kLease = Symbol('offheap.lease');
const kContext = Symbol('offheap.context');
const kWrapped = Symbol('offheap.wrapped');

interface ArenaRequest {
  [kLease]: Lease | null;
  [kContext]: AsyncResource | null;
}

type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;

function leaseOf(request: FastifyRequest): Lease {
  const lease = (request as unknown as ArenaRequest)[kLease];
  if (lease === null || lease === undefined) {
    throw new OffheapError('ERR_OFFHEAP_NO_SCOPE', 'request.arena was read before the offheap/fastify onRequest hook ran ' +
      '(register the plugin before the hooks and routes that use it)');
  }
  return lease;
}

/** Wraps a route handler so the lease also waits for it to settle. */
function holdDuring(handler: Handler): Handler {
  const wrapped: Handler = function (this: FastifyInstance, request, reply) {
    const lease = (request as unknown as ArenaRequest)[kLease];
    if (lease === null || lease === undefined) return handler.call(this, request, reply);
    return settle(() => handler.call(this, request, reply), lease.hold_());
  };
  (wrapped as unknown as { [kWrapped]: true })[kWrapped] = true;
  return wrapped;
}

type ErrorHandler = (this: FastifyInstance, error: unknown, request: FastifyRequest, reply: FastifyReply) => unknown;

/**
 * Runs an error handler under the request's lease: fastify calls some error
 * handlers from contexts made before onRequest (the handlerTimeout timer).
 */
function underLease(handler: ErrorHandler): ErrorHandler {
  if ((handler as { [kWrapped]?: true })[kWrapped] === true) return handler;
  const wrapped: ErrorHandler = function (this: FastifyInstance, error, request, reply) {
    const lease = (request as unknown as ArenaRequest)[kLease];
    if (lease === null || lease === undefined || lease.released) return handler.call(this, error, request, reply);
    return lease.run(() => handler.call(this, error, request, reply));
  };
  (wrapped as unknown as { [kWrapped]: true })[kWrapped] = true;
  return wrapped;
}

/** The scope for the plugin's options (fastify's own register() options left out); throws for bad ones. */
function makeScope(options: unknown): ArenaScope {
  const o = validateOptions<OffheapFastifyOptions>(options);
  validateKnownKeys(o, [...SCOPE_KEYS, ...REGISTER_KEYS]);
  const scopeOptions: Record<string, unknown> = {};
  for (const k of SCOPE_KEYS) if (o[k] !== undefined) scopeOptions[k] = o[k];
  return new ArenaScope(scopeOptions as unknown as ArenaScopeOptions);
}

const plugin: FastifyPluginCallback<OffheapFastifyOptions> = (app, options, done) => {
  let scope: ArenaScope;
  try {
    scope = makeScope(options);
  } catch (err) {
    done(err as Error); // register() rejects with it
    return;
  }

  app.decorate('arenaScope', scope);
  app.decorateRequest(kLease as unknown as string, null);
  app.decorateRequest(kContext as unknown as string, null);
  app.decorateRequest('arena', {
    getter(this: FastifyRequest) {
      return leaseOf(this).arena;
    },
  });

  app.addHook('onRoute', (route: RouteOptions) => {
    const handler = route.handler as Handler & { [kWrapped]?: true };
    if (handler[kWrapped] !== true) route.handler = holdDuring(handler) as RouteOptions['handler'];
    if (typeof route.errorHandler === 'function') {
      route.errorHandler = underLease(route.errorHandler as ErrorHandler) as RouteOptions['errorHandler'];
    }
  });
  // Error handlers set on this instance (or its children) after the plugin run under the lease.
  const setErrorHandler = app.setErrorHandler;
  app.setErrorHandler = function (this: FastifyInstance, handler: ErrorHandler) {
    return setErrorHandler.call(this, typeof handler === 'function' ? underLease(handler) : handler);
  } as FastifyInstance['setErrorHandler'];

  app.addHook('onRequest', (request, reply, next) => {
    const lease = scope.lease_();
    const r = request as unknown as ArenaRequest;
    r[kLease] = lease;
    lease.warn_ = true;
    // The reply's hold is the lease's own: it ends when reply.raw has finished, closed or failed.
    afterStream(reply.raw, lease.release);
    lease.run(() => {
      r[kContext] = new AsyncResource('offheap.arena');
      next();
    });
  });

  // Body parsing runs in the socket's context: bring the request's back.
  app.addHook('preValidation', (request, _reply, next) => {
    const context = (request as unknown as ArenaRequest)[kContext];
    if (context === null) next();
    else context.runInAsyncScope(next);
  });

  app.addHook('onClose', (_instance, next) => {
    scope.destroy();
    next();
  });
  done();
};

/**
 * The plugin: `app.register(offheapFastify, { maxBytes, keep, maxRetainedBytes })`.
 * Gives every request `request.arena` and currentArena(), and decorates the
 * instance with `arenaScope`. Throws TypeError / RangeError for bad options
 * when registered.
 */
export const offheapFastify = fp(plugin, { fastify: '5.x', name: 'offheap-fastify' });
export default offheapFastify;
// require('offheap/fastify') is the plugin itself, as fastify plugins are
// (fastify-plugin also sets .default and .offheapFastify on it).
module.exports = offheapFastify;
