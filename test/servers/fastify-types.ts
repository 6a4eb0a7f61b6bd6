// Type-checked by test/servers.test.ts (tsc --noEmit): the declaration
// merging of offheap/fastify gives request.arena and app.arenaScope their types.
import Fastify from 'fastify';
import offheapFastify, { type OffheapFastifyOptions } from '../../lib/fastify';
import type { Arena, ArenaScope } from '../../lib/index';

const options: OffheapFastifyOptions = { maxBytes: 1 << 20, keep: 4, maxRetainedBytes: 1 << 16 };
const app = Fastify();
app.register(offheapFastify, options);
app.get('/', async (request) => {
  const arena: Arena = request.arena;
  return arena.alloc(4);
});
const scope: ArenaScope = app.arenaScope;
export const lent: number = scope.stats().lent;
// @ts-expect-error request.arena is read-only
app.addHook('onRequest', async (request) => { request.arena = null; });
