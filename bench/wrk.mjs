// Load from wrk (https://github.com/wg/wrk, Debian package `wrk`): loopback
// only, bounded in time, latency percentiles at microsecond resolution from a
// Lua `done` callback (bench/wrk/report.lua) printed as one JSON line.
//   const w = ensureWrk();           // { bin } or { missing: 'how to install' }
//   const r = await runWrk({ port, seconds, connections, script, env })
//     -> { requests, seconds, rps, errors, non2xx, us: { p50, p99, p99_9, max, mean } }
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The percentiles every server group reports (100 = the maximum). */
export const PERCENTILES = [50, 90, 99, 99.9, 100];
/** wrk's latency histogram counts whole microseconds. */
export const RESOLUTION_US = 1;

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * Finds wrk; when it is missing and this process is root with apt-get, installs
 * the Debian package (unless OFFHEAP_BENCH_NO_INSTALL=1). Returns { bin } or
 * { missing } with what to run.
 */
export function ensureWrk() {
  let bin = which('wrk');
  if (bin) return { bin };
  const how = 'wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu), `brew install wrk` (macOS), or build it from https://github.com/wg/wrk';
  if (process.env.OFFHEAP_BENCH_NO_INSTALL === '1' || process.getuid?.() !== 0 || !which('apt-get')) return { missing: how };
  console.error('wrk not found: apt-get install -y wrk');
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'wrk'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
  } catch {
    try {
      execFileSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'wrk'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
    } catch (e) {
      return { missing: `${how} (apt-get install failed: ${e.message.split('\n')[0]})` };
    }
  }
  bin = which('wrk');
  return bin ? { bin } : { missing: how };
}

/**
 * One bounded wrk run against 127.0.0.1:port. `script` is a Lua file under
 * bench/wrk (its request setup), always followed by report.lua's `done`;
 * `env` reaches the script through os.getenv. Rejects on a wrk error, a
 * non-2xx reply or a socket error, so a broken server never passes as fast.
 */
export function runWrk(bin, { port, seconds, connections = 16, threads = 1, script = null, env = {}, path = '/' }) {
  const lua = join(here, 'wrk', script ?? 'get.lua');
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '5s', '-s', lua, `http://127.0.0.1:${port}${path}`];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, ...env, OFFHEAP_WRK_REPORT: join(here, 'wrk/report.lua') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(kill);
      const line = out.split('\n').find((l) => l.startsWith('OFFHEAP_WRK '));
      if (code !== 0 || !line) return reject(new Error(`wrk exited with ${code}: ${(err || out).trim().split('\n').slice(-3).join(' / ')}`));
      const r = JSON.parse(line.slice('OFFHEAP_WRK '.length));
      const errors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
      if (errors || r.errors.status) return reject(new Error(`wrk: ${errors} socket errors, ${r.errors.status} non-2xx replies (${JSON.stringify(r.errors)})`));
      const secs = r.duration_us / 1e6;
      resolve({ requests: r.requests, seconds: secs, rps: r.requests / secs, us: r.latency });
    });
  });
}
