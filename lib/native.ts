/**
 * The only place that loads the addon. node-gyp-build picks build/Release
 * when it exists (a local compile), else the prebuild for this platform.
 * CommonJS and ESM entry points both come through here, so there is one
 * native instance per thread whichever way offheap was imported.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { markAsUntransferable } from 'node:worker_threads';
import { OffheapError, invalidArgType, offheapError } from './errors';

/** Functions every build of the addon has; allocators add their own. */
export interface NativeCore {
  setErrorClass(cls: Function): void;
  pageSize(): number;
  liveReservations(): number;
  reservedBytes(): number;
  regionCreate(maxBytes: number): NativeHandle;
  regionBuffer(h: NativeHandle): ArrayBuffer;
  regionCommit(h: NativeHandle, bytes: number): void;
  regionDestroy(h: NativeHandle): void;
  /** Tests: the external memory this thread's V8 counts and schedules GCs by. */
  v8ExternalMemory(): number;
  detachBuffer(ab: ArrayBuffer): void;
  /** Tests: the system page source refuses its next `reserves` reserves and `decommits` decommits. */
  injectFaults(reserves: number, decommits: number): void;
  /** Debug views: an ArrayBuffer of its own over region[offset, offset+length) (external backing only). */
  sliceBuffer(h: NativeHandle, offset: number, length: number): ArrayBuffer;
  /** Where regions' memory comes from: mmap'd pages in external ArrayBuffers, or memory V8 allocated. */
  backing(): Backing;
  /** v8 backing: this thread holds the SharedArrayBuffer under `view` (a shared region) from now on. */
  adoptMemory(view: Uint8Array): void;
  /** v8 backing: the function private regions' ArrayBuffers are marked with (transfers copy them). */
  setUntransferable(fn: (ab: ArrayBuffer) => void): void;
}

/**
 * 'external': regions are mmap'd pages wrapped in external ArrayBuffers.
 * 'v8': regions are memory V8 allocated (ArrayBuffer, or SharedArrayBuffer
 * for ObjectPool and SlabAllocator), for runtimes that refuse external
 * ArrayBuffers (Electron 21+, V8's sandbox) or when OFFHEAP_BACKING=v8.
 */
export type Backing = 'external' | 'v8';

/** An opaque, type-tagged native object. Never created in JS. */
export type NativeHandle = { readonly __nativeHandle: unique symbol };

/** The package root: the nearest folder above this file with offheap's package.json. */
export function packageRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`offheap: cannot find the package root above ${from}`);
    dir = up;
  }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeGypBuild: (dir: string) => unknown = require('node-gyp-build');

function load(): NativeCore {
  const addon = nodeGypBuild(packageRoot()) as NativeCore;
  addon.setErrorClass(OffheapError);
  addon.setUntransferable(markAsUntransferable);
  return addon;
}

/** The addon, loaded once per thread. */
export const native: NativeCore = load();

/** The backing in use, the same for every thread of the process. */
export const backing: Backing = native.backing();

/**
 * The memory of `regions()` for a share() descriptor: under the v8 backing the
 * SharedArrayBuffers attach() adopts (structured clone shares them), else
 * nothing (attach() finds the region by id, and no region's ArrayBuffer is
 * made for it: V8 would count it). Throws ERR_OFFHEAP_NOT_SHAREABLE when the
 * runtime gave plain ArrayBuffers (no SharedArrayBuffer).
 */
export function sharedMemory(name: string, regions: () => ArrayBufferLike[]): SharedArrayBuffer[] | undefined {
  if (backing !== 'v8') return undefined;
  const buffers = regions();
  for (const r of buffers) {
    if (!(r instanceof SharedArrayBuffer)) {
      throw new OffheapError('ERR_OFFHEAP_NOT_SHAREABLE',
        `${name}: this runtime has no SharedArrayBuffer, so V8-backed memory cannot be shared between threads`);
    }
  }
  return buffers as SharedArrayBuffer[];
}

/** attach()'s half of sharedMemory(): this thread takes the descriptor's memory. */
export function adoptSharedMemory(memory: unknown): void {
  // Without memory (a descriptor made by hand, or used in the thread that
  // shared it), attach() finds the region by id and this thread's own buffer.
  if (backing !== 'v8' || memory === undefined) return;
  if (!Array.isArray(memory) || !memory.every((m) => m instanceof SharedArrayBuffer)) {
    throw invalidArgType('descriptor.memory', 'the SharedArrayBuffers share() returned', memory);
  }
  for (const m of memory as SharedArrayBuffer[]) native.adoptMemory(new Uint8Array(m));
}

/** The addon seen through an allocator's own interface. */
export function nativeAs<T>(): T & NativeCore {
  return native as T & NativeCore;
}

/**
 * The answer of a native call that returns a number (a magazine's new top, a
 * handle), checked before use. While a thread is being terminated, Node-API
 * refuses calls without throwing (its environment is stopping), so the call
 * answers undefined, and JS runs on until V8 delivers the termination. Used
 * as a top or a handle, undefined would write the state byte of slot 0 (a
 * slot another thread may own): this throws instead.
 */
export function answered(answer: unknown, allocator: string): number {
  if (typeof answer === 'number') return answer;
  throw offheapError('ERR_OFFHEAP_DESTROYED', allocator, 'the thread is stopping: the native call did not run');
}
