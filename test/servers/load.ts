// Real clients for test/servers.test.ts, on 127.0.0.1, bounded in count and
// time: keep-alive requests, pipelined slow readers, clients that abort
// mid-request and mid-response. Every body is checked against its request.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
// @ts-expect-error plain .cjs helper without types
import { expected } from './body.cjs';

const expectedBody = expected as (id: number, size: number) => Buffer;

export interface Tally {
  ok: number;
  /** Responses whose status or body is not the one of their request. */
  wrong: number;
  /** Requests that should have been answered and got an error instead. */
  failed: number;
  aborted: number;
  examples: string[];
}

export const newTally = (): Tally => ({ ok: 0, wrong: 0, failed: 0, aborted: 0, examples: [] });

export type Mode = 'sync' | 'await' | 'throw' | 'timeout';
const STATUS: Record<Mode, number> = { sync: 200, await: 200, throw: 500, timeout: 503 };
const SIZES = [100, 4096, 20_000, 65_536, 300_000];

let nextId = 1;

function path(id: number, size: number, mode: Mode): string {
  return `/${mode === 'timeout' ? 'timeout' : 'r'}?id=${id}&size=${size}&mode=${mode}`;
}

function check(t: Tally, id: number, size: number, mode: Mode, status: number, body: Buffer): void {
  const want = mode === 'throw' || mode === 'timeout' ? expectedBody(id, 64) : expectedBody(id, size);
  if (status === STATUS[mode] && body.equals(want)) {
    t.ok++;
    return;
  }
  t.wrong++;
  if (t.examples.length < 5) t.examples.push(`id ${id} ${mode} ${size}: status ${status}, ${body.length} bytes, starts ${body.subarray(0, 8).toString('hex')}`);
}

/** One GET over the agent; checks status and body. */
function get(port: number, agent: http.Agent, id: number, size: number, mode: Mode, t: Tally): Promise<void> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: path(id, size, mode), agent, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        check(t, id, size, mode, res.statusCode ?? 0, Buffer.concat(chunks));
        resolve();
      });
      res.on('error', (err) => fail(err));
    });
    const fail = (err: Error) => {
      t.failed++;
      if (t.examples.length < 5) t.examples.push(`id ${id} ${mode}: ${err.message}`);
      resolve();
    };
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', fail);
  });
}

/** A POST with a body of `size` bytes; answered with the 64-byte body of the id. */
function post(port: number, agent: http.Agent, id: number, size: number, t: Tally): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path: `/r?id=${id}`, agent, timeout: 30_000,
      headers: { 'content-type': 'application/octet-stream', 'content-length': size },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        check(t, id, 64, 'sync', res.statusCode ?? 0, Buffer.concat(chunks));
        resolve();
      });
    });
    req.on('error', (err) => {
      t.failed++;
      if (t.examples.length < 5) t.examples.push(`post ${id}: ${err.message}`);
      resolve();
    });
    req.end(Buffer.alloc(size, 0x5a));
  });
}

/** Parses as many complete responses (content-length framed) from `buf` as it holds. */
function parseResponses(buf: Buffer, out: { status: number; body: Buffer }[]): Buffer {
  for (;;) {
    const head = buf.indexOf('\r\n\r\n');
    if (head < 0) return buf;
    const text = buf.subarray(0, head).toString('latin1');
    const status = Number(text.slice(9, 12));
    const m = /\r\ncontent-length: *(\d+)/i.exec(text);
    const len = m ? Number(m[1]) : 0;
    if (buf.length < head + 4 + len) return buf;
    out.push({ status, body: buf.subarray(head + 4, head + 4 + len) });
    buf = buf.subarray(head + 4 + len);
  }
}

/**
 * A slow reader: writes `count` pipelined GETs at once, reads nothing for
 * `pauseMs` (the server's writes back up), then reads and checks them all.
 */
export function slowPipelined(port: number, count: number, size: number, pauseMs: number, t: Tally): Promise<void> {
  const reqs = Array.from({ length: count }, (_, i) => ({ id: nextId++, mode: (i % 2 ? 'await' : 'sync') as Mode }));
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.pause();
    let buf = Buffer.alloc(0);
    const got: { status: number; body: Buffer }[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('slow reader timed out')), 60_000);
    socket.on('connect', () => {
      socket.write(reqs.map((r) => `GET ${path(r.id, size, r.mode)} HTTP/1.1\r\nhost: x\r\n\r\n`).join(''));
      setTimeout(() => socket.resume(), pauseMs);
    });
    socket.on('data', (c: Buffer) => {
      buf = parseResponses(Buffer.concat([buf, c]), got);
      if (got.length === count) socket.end();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reqs.forEach((r, i) => {
        if (i < got.length) check(t, r.id, size, r.mode, got[i].status, Buffer.from(got[i].body));
        else t.failed++;
      });
      resolve();
    });
    socket.on('error', (err) => {
      if (t.examples.length < 5) t.examples.push(`slow reader: ${err.message}`);
    });
  });
}

/** Sends the headers and part of a POST body, then aborts. */
export function abortMidRequest(port: number, t: Tally, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST /r?id=${nextId++} HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 65536\r\n\r\n`);
      socket.write(Buffer.alloc(1000, 1));
      setTimeout(() => socket.destroy(), afterMs);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      t.aborted++;
      resolve();
    });
  });
}

/** Asks for a large body from an awaiting handler, reads its first bytes, then aborts. */
export function abortMidResponse(port: number, t: Tally, size: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path(nextId++, size, 'await')} HTTP/1.1\r\nhost: x\r\n\r\n`);
    });
    socket.once('data', () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => {
      t.aborted++;
      resolve();
    });
  });
}

/** Keep-alive load: `total` requests over `concurrency` sockets, modes and sizes mixed, a few POSTs. */
export async function keepAliveLoad(port: number, total: number, concurrency: number, t: Tally): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const modes: Mode[] = ['sync', 'await', 'await', 'sync', 'throw', 'await', 'timeout', 'sync'];
  let i = 0;
  const worker = async () => {
    while (i < total) {
      const k = i++;
      const id = nextId++;
      if (k % 25 === 0) await post(port, agent, id, 32_768, t);
      else await get(port, agent, id, SIZES[k % SIZES.length], modes[k % modes.length], t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
}

/** One round: everything at once. */
export async function round(port: number, t: Tally): Promise<void> {
  await Promise.all([
    keepAliveLoad(port, 200, 16, t),
    ...Array.from({ length: 3 }, () => slowPipelined(port, 4, 1 << 20, 150, t)),
    ...Array.from({ length: 12 }, (_, k) => abortMidRequest(port, t, k % 4 * 5)),
    ...Array.from({ length: 12 }, () => abortMidResponse(port, t, 2 << 20)),
  ]);
}

export interface Report {
  counts: { requests: number; serverErrors: number; lateRefused: number; lateServed: number; maxReservedOverKeep: number };
  errors: string[];
  /** GCs since the server listened (the load's), and the major ones among them. */
  gcs: number;
  majorGcs: number;
  gcMs: number;
  rss: number;
  external: number;
  stats: null | { lent: number; kept: number; reserved: number; keptBytes: number; lentBytes: number; created: number; decommitted: number; dropped: number };
}

/** A server of test/servers/server.cjs in a child process. */
export class ServerProcess {
  private constructor(readonly child: ChildProcess, readonly port: number) {}

  static async start(framework: 'http' | 'fastify', alloc: 'arena' | 'unsafe'): Promise<ServerProcess> {
    const child = fork(join(__dirname, 'server.cjs'), [framework, alloc], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [msg] = (await once(child, 'message')) as [{ port: number }];
    return new ServerProcess(child, msg.port);
  }

  async report(): Promise<Report> {
    this.child.send('report');
    const [msg] = (await once(this.child, 'message')) as [Report];
    return msg;
  }

  /** The report once no arena is lent any more (late handlers finish), or after `ms`. */
  async settled(ms = 10_000): Promise<Report> {
    const until = Date.now() + ms;
    for (;;) {
      const r = await this.report();
      if (r.stats === null || r.stats.lent === 0 || Date.now() > until) return r;
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.send('exit');
    const [code] = (await once(this.child, 'exit')) as [number | null];
    return code;
  }
}
