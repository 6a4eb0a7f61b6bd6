// The server of the server suite, one per candidate, in its own process:
//   node bench/child/http-server.mjs <candidate>     (forked, talks over IPC)
// Each request builds its response from 80 scratch buffers of 16..512 B,
// written by 8 "render" helpers of 10 buffers each. Candidates:
//   allocUnsafe  Buffer.allocUnsafe per scratch buffer
//   arena        offheap ArenaScope: one arena per request, currentArena() in
//                each helper, everything freed when the request ends
// IPC: the parent sends 'start' / 'stop' around each load round; 'stop' is
// answered with the GC pauses in the round and the RSS.
import http from 'node:http';
import { gcRecorder, loadOffheap, memory } from '../measure.mjs';

const candidate = process.argv[2];
const HELPERS = 8;
const PER_HELPER = 10;
// A fixed table of sizes in 16..512 (a request starts at a different place in it).
const SIZES = new Uint16Array(256);
for (let i = 0, s = 12345; i < SIZES.length; i++) {
  s = (s * 1103515245 + 12345) >>> 0;
  SIZES[i] = 16 + ((s >>> 8) % 497);
}

/** One render helper: 10 scratch buffers filled and read back. */
function render(alloc, seed, part) {
  let sum = 0;
  for (let i = 0; i < PER_HELPER; i++) {
    const size = SIZES[(seed + part * PER_HELPER + i) & 255];
    const b = alloc(size);
    b.fill((seed + i) & 255);
    b[size >> 1] = part;
    sum += b[0] + b[size >> 1] + b[size - 1];
  }
  return sum;
}

let seq = 0;
const respond = (res, sum) => {
  res.setHeader('content-type', 'application/json');
  res.end(`{"sum":${sum}}`);
};

let handler;
if (candidate === 'allocUnsafe') {
  const alloc = (n) => Buffer.allocUnsafe(n);
  handler = (req, res) => {
    const seed = seq++;
    let sum = 0;
    for (let p = 0; p < HELPERS; p++) sum += render(alloc, seed, p);
    respond(res, sum);
  };
} else if (candidate === 'arena') {
  const { mod, missing } = await loadOffheap('ArenaScope');
  if (missing) {
    process.send({ missing });
    process.exit(0);
  }
  const { ArenaScope, currentArena } = mod;
  const scope = new ArenaScope({ maxBytes: 1 << 20, keep: 16 });
  const alloc = (n) => currentArena().alloc(n);
  handler = (req, res) =>
    scope.run(() => {
      const seed = seq++;
      let sum = 0;
      for (let p = 0; p < HELPERS; p++) sum += render(alloc, seed, p);
      respond(res, sum);
    });
} else {
  throw new Error(`unknown candidate ${candidate}`);
}

const gc = gcRecorder();
const server = http.createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', async (msg) => {
  if (msg === 'start') gc.start();
  else if (msg === 'stop') process.send({ gc: await gc.stop(), ...memory() });
  else if (msg === 'exit') {
    server.close();
    process.exit(0);
  }
});
