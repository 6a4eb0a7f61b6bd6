// The peers alone: what a plain Buffer costs, so every other suite's ratios
// have a reference point in the same run.
import { compare, consume } from '../harness.mjs';

export default async function baseline() {
  const small = await compare('Buffer allocation, 64 B', [
    { name: 'Buffer.allocUnsafe(64)', peer: true, run: (n) => { for (let i = 0; i < n; i++) consume(Buffer.allocUnsafe(64).length); } },
    { name: 'Buffer.alloc(64)', peer: true, run: (n) => { for (let i = 0; i < n; i++) consume(Buffer.alloc(64).length); } },
    { name: 'new ArrayBuffer(64)', peer: true, run: (n) => { for (let i = 0; i < n; i++) consume(new ArrayBuffer(64).byteLength); } },
  ], { ops: 200_000, baseline: 'Buffer.allocUnsafe(64)' });
  return { groups: [small] };
}
