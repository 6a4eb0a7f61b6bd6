/**
 * offheap: Arena, ObjectPool and SlabAllocator over mmap'd memory, off the
 * V8 heap. The guides are in docs/, the reference in docs/api/.
 */
export { backing, type Backing } from './native';
export { OffheapError, type OffheapErrorCode } from './errors';
export { stats, type AllocatorStats } from './registry';
export { type DebugOptions, type LeakLevel, type LeakRecord } from './guards';
export { toPrometheus, registerPrometheusCollector } from './metrics';
export { Arena, type ArenaOptions, type ArenaResetOptions, type ArenaLeak, type ArenaStats } from './arena';
export {
  ArenaScope,
  currentArena,
  type ArenaScopeOptions,
  type ArenaRunOptions,
  type ArenaLease,
  type ArenaScopeStats,
} from './arena-scope';
export {
  SlabAllocator,
  type SlabAllocatorOptions,
  type SlabStats,
  type SlabClassStats,
  type SlabDescriptor,
} from './slab';
export { ObjectPool, type ObjectPoolOptions, type ObjectPoolDescriptor, type ObjectPoolStats } from './object-pool';
export {
  layout,
  type Layout,
  type LayoutSpec,
  type LayoutField,
  type FieldSpec,
  type ScalarType,
  type FieldValue,
  type RecordCursor,
  type CursorMethods,
  type RecordFields,
  type RecordObject,
  type PlainSpec,
} from './layout';
