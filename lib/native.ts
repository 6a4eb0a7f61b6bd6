/**
 * The only place that loads the addon. node-gyp-build picks build/Release
 * when it exists (a local compile), else the prebuild for this platform.
 * CommonJS and ESM entry points both come through here, so there is one
 * native instance per thread whichever way offheap was imported.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OffheapError } from './errors';

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
  detachBuffer(ab: ArrayBuffer): void;
  /** Tests: the system page source refuses its next `reserves` reserves and `decommits` decommits. */
  injectFaults(reserves: number, decommits: number): void;
  /** Debug views: an ArrayBuffer of its own over region[offset, offset+length). */
  sliceBuffer(h: NativeHandle, offset: number, length: number): ArrayBuffer;
}

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
  return addon;
}

/** The addon, loaded once per thread. */
export const native: NativeCore = load();

/** The addon seen through an allocator's own interface. */
export function nativeAs<T>(): T & NativeCore {
  return native as T & NativeCore;
}
