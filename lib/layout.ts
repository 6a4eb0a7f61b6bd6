/**
 * Layouts: named, typed fields over the bytes of a handle (Java's
 * MemoryLayout.structLayout, a C struct), and cursors that read and write
 * them (FlatBuffers' one reusable accessor object over a byte buffer).
 *
 * `layout(spec)` places the fields in C order with natural alignment and
 * rounds the size up to the largest alignment, as a C compiler does. Each
 * layout gets one generated cursor class, built once: its getters and
 * setters are typed-array loads and stores at constant offsets from the
 * cursor's current record (`(this.$o + 8) >>> 3` into a Float64Array over
 * the allocator's buffer), so TurboFan inlines a field access to one bounds
 * check and one load. Multi-byte fields are little-endian: typed arrays on a
 * little-endian host, a DataView (little-endian reads) on a big-endian one.
 * Every field is naturally aligned inside the layout and `at(h)` refuses a
 * record that is not aligned to `layout.align`, so typed arrays never see an
 * unaligned index.
 *
 * A cursor is positioned with `at(h)`, which asks its allocator whether `h`
 * is live (liveOffset_, one state-table read in release mode) and throws
 * ERR_OFFHEAP_USE_AFTER_FREE / ERR_OFFHEAP_INVALID_HANDLE otherwise. Over
 * an ObjectPool, at() makes the same check inline first (a shift or a
 * multiply, the state byte, and the generation in a generational pool) and
 * asks liveOffset_ only for what does not pass: see slotCursorClass.
 */
import { inspect } from 'node:util';
import { endianness } from 'node:os';
import { invalidArgType, outOfRange } from './errors';
import { generationTableOf, type GenerationTable } from './generations';

// ---- types --------------------------------------------------------------

/** Scalar field types: numbers, bigints (i64 / u64) and booleans. */
export type ScalarType = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'f32' | 'f64' | 'bool' | 'i64' | 'u64';
/** One field of a spec: a scalar, `T[n]`, `utf8[n]` or a nested layout. */
export type FieldSpec = ScalarType | `${ScalarType}[${number}]` | `utf8[${number}]` | Layout<LayoutSpec>;
/** What layout() takes: field names to field types, in C order. */
export type LayoutSpec = { readonly [name: string]: FieldSpec };

type ArrayOf<T extends string> = T extends 'i8' ? Int8Array
  : T extends 'u8' | 'bool' ? Uint8Array
  : T extends 'i16' ? Int16Array
  : T extends 'u16' ? Uint16Array
  : T extends 'i32' ? Int32Array
  : T extends 'u32' ? Uint32Array
  : T extends 'f32' ? Float32Array
  : T extends 'f64' ? Float64Array
  : T extends 'i64' ? BigInt64Array
  : T extends 'u64' ? BigUint64Array
  : never;

/** The JavaScript type a field of type `F` reads as. */
export type FieldValue<F> = F extends Layout<infer S> ? RecordFields<S>
  : F extends 'i64' | 'u64' ? bigint
  : F extends 'bool' ? boolean
  : F extends ScalarType ? number
  : F extends `utf8[${number}]` ? string
  : F extends `${infer T}[${number}]` ? ArrayOf<T>
  : never;

/** The fields of a record of spec `S`, as properties. */
export type RecordFields<S> = { -readonly [K in keyof S]: FieldValue<S[K]> };

/** What toObject() returns: the field values, nested layouts as plain objects. */
export type RecordObject<S> = {
  -readonly [K in keyof S]: S[K] extends Layout<infer N> ? RecordObject<N> : FieldValue<S[K]>;
};

/** A cursor's own members; no field may take one of these names. */
export interface CursorMethods<S extends LayoutSpec> {
  /**
   * Points the cursor at the record of handle `h` and returns the cursor.
   * Throws ERR_OFFHEAP_USE_AFTER_FREE for a freed handle (with
   * `generational: true`, also one whose slot was reused since),
   * ERR_OFFHEAP_INVALID_HANDLE for any other number that is not a live
   * handle of the cursor's allocator, TypeError for a non-number,
   * ERR_OFFHEAP_DESTROYED after destroy(). On a throw the cursor stays where it was.
   */
  at(h: number): RecordCursor<S>;
  /** Byte offset of the current record in the allocator's `buffer`. */
  readonly offset: number;
  /** The layout of the records. */
  readonly layout: Layout<S>;
  /** A plain object with every field's value (arrays copied). */
  toObject(): RecordObject<S>;
}

/** A reusable cursor: the fields of the record it points at, plus at(). */
export type RecordCursor<S extends LayoutSpec> = RecordFields<S> & CursorMethods<S>;

/** One placed field (Layout.fields). */
export interface LayoutField {
  /** The field's name, as in the spec. */
  readonly name: string;
  /** The spec string ('f64', 'utf8[24]', 'u8[3]') or 'layout' for a nested layout. */
  readonly type: string;
  /** Byte offset inside the record. */
  readonly offset: number;
  /** Bytes the field spans. */
  readonly size: number;
  /** Alignment of the field in bytes. */
  readonly align: number;
  /** Elements of `T[n]`, bytes of `utf8[n]`; undefined for scalars and layouts. */
  readonly length: number | undefined;
  /** The nested layout, for a field of type 'layout'. */
  readonly layout: Layout<LayoutSpec> | undefined;
}

/** A record layout (see layout()). */
export interface Layout<S extends LayoutSpec = LayoutSpec> {
  /** Bytes per record: the end of the last field, rounded up to `align`. */
  readonly size: number;
  /** The largest field alignment (1, 2, 4 or 8). */
  readonly align: number;
  /** The fields in C order, with their offsets. */
  readonly fields: readonly LayoutField[];
  /** The spec as plain data (nested layouts as nested specs): what share() sends to other threads. */
  readonly spec: PlainSpec;
  /** Byte offset of a field; a dotted path ('pos.x') reaches into nested layouts. Throws TypeError for an unknown name. */
  offsetOf(name: keyof S & string | (string & {})): number;
  /** @internal phantom: carries S for inference. */
  readonly __spec?: S;
}

/** A spec with nested layouts written as nested objects. */
export type PlainSpec = { readonly [name: string]: string | PlainSpec };

/** What a cursor's allocator provides: its buffer and the liveness check. */
export interface RecordHost {
  readonly buffer: ArrayBuffer;
  /** The byte offset of live handle `h` holding `size` bytes aligned to `align`, or a typed throw. */
  liveOffset_(h: number, size: number, align: number): number;
}

// ---- spec parsing ---------------------------------------------------------

interface ScalarInfo {
  size: number;
  /** Typed-array / DataView name: Float64 -> Float64Array, getFloat64. */
  view: string;
}

const SCALARS: Record<ScalarType, ScalarInfo> = {
  i8: { size: 1, view: 'Int8' },
  u8: { size: 1, view: 'Uint8' },
  bool: { size: 1, view: 'Uint8' },
  i16: { size: 2, view: 'Int16' },
  u16: { size: 2, view: 'Uint16' },
  i32: { size: 4, view: 'Int32' },
  u32: { size: 4, view: 'Uint32' },
  f32: { size: 4, view: 'Float32' },
  f64: { size: 8, view: 'Float64' },
  i64: { size: 8, view: 'BigInt64' },
  u64: { size: 8, view: 'BigUint64' },
};

/** Largest record: an ObjectPool slot or a slab class can hold no more. */
export const MAX_LAYOUT_SIZE = 1 << 24;

/**
 * Names a field cannot take: the cursor's own members, Object.prototype's,
 * and `then` (a cursor with a `then` would be taken for a promise by await).
 */
const RESERVED = new Set(['at', 'offset', 'layout', 'toObject', 'then', ...Object.getOwnPropertyNames(Object.prototype)]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ARRAY = /^([a-z0-9]+)\[(\d+)\]$/;

const layouts = new WeakSet<object>();

interface ParsedField extends LayoutField {
  readonly kind: 'scalar' | 'array' | 'utf8' | 'layout';
  readonly scalar: ScalarInfo | undefined;
}

function invalidValue(name: string, why: string, value: unknown): TypeError & { code: string } {
  const err = new TypeError(`The argument '${name}' ${why}. Received ${inspect(value)}`) as TypeError & { code: string };
  Object.defineProperty(err, 'code', { value: 'ERR_INVALID_ARG_VALUE', enumerable: true, writable: true, configurable: true });
  return err;
}

function parseField(name: string, value: unknown, where: string): Omit<ParsedField, 'offset'> {
  if (typeof value === 'object' && value !== null && layouts.has(value)) {
    const l = value as Layout;
    return { name, type: 'layout', kind: 'layout', size: l.size, align: l.align, length: undefined, layout: l, scalar: undefined };
  }
  if (typeof value !== 'string') throw invalidArgType(where, "a field type string ('f64', 'utf8[16]', 'u8[4]', ...) or a layout", value);
  if (Object.hasOwn(SCALARS, value)) {
    const s = SCALARS[value as ScalarType];
    return { name, type: value, kind: 'scalar', size: s.size, align: s.size, length: undefined, layout: undefined, scalar: s };
  }
  const m = ARRAY.exec(value);
  if (m === null || (m[1] !== 'utf8' && !Object.hasOwn(SCALARS, m[1]))) {
    throw invalidValue(where, `must be one of ${Object.keys(SCALARS).join(', ')}, T[n], utf8[n] or a layout`, value);
  }
  const n = Number(m[2]);
  const elem = m[1] === 'utf8' ? 1 : SCALARS[m[1] as ScalarType].size;
  if (n < 1 || n * elem > MAX_LAYOUT_SIZE || !Number.isSafeInteger(n)) {
    throw outOfRange(`${where} length`, `>= 1 && <= ${Math.floor(MAX_LAYOUT_SIZE / elem)}`, n);
  }
  if (m[1] === 'utf8') return { name, type: value, kind: 'utf8', size: n, align: 1, length: n, layout: undefined, scalar: undefined };
  const s = SCALARS[m[1] as ScalarType];
  return { name, type: value, kind: 'array', size: n * s.size, align: s.size, length: n, layout: undefined, scalar: s };
}

/**
 * Makes a layout from `spec`: field names (identifiers, not a cursor member
 * such as `at`) to types `i8 u8 i16 u16 i32 u32 f32 f64 bool` (numbers;
 * bool reads as true/false), `i64 u64` (bigint), `utf8[n]` (a string of at
 * most n UTF-8 bytes), `T[n]` (a typed-array view of n elements) or another
 * layout (nested). Fields are placed in the spec's order with natural
 * alignment, as a C struct. Throws TypeError ERR_INVALID_ARG_TYPE for a spec
 * that is not an object or a field that is not a string or layout,
 * ERR_INVALID_ARG_VALUE for an unknown type, a bad or reserved name or an
 * empty spec, RangeError ERR_OUT_OF_RANGE for a length below 1 or a record
 * above 16 MiB.
 */
export function layout<const S extends LayoutSpec>(spec: S): Layout<S> {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec) || layouts.has(spec)) {
    throw invalidArgType('spec', 'a plain object of field names to types', spec);
  }
  const names = Object.keys(spec);
  if (names.length === 0) throw invalidValue('spec', 'must have at least one field', spec);
  const fields: ParsedField[] = [];
  let offset = 0;
  let align = 1;
  for (const name of names) {
    if (!NAME.test(name)) throw invalidValue(`spec.${name}`, 'must be named by an identifier (letters, digits, _; not starting with a digit)', name);
    if (RESERVED.has(name)) throw invalidValue(`spec.${name}`, `shadows a cursor member or Object.prototype (reserved: at, offset, layout, toObject, then, ${Object.getOwnPropertyNames(Object.prototype).join(', ')})`, name);
    const f = parseField(name, (spec as Record<string, unknown>)[name], `spec.${name}`);
    offset = Math.ceil(offset / f.align) * f.align;
    fields.push(Object.freeze({ ...f, offset }));
    offset += f.size;
    align = Math.max(align, f.align);
  }
  const size = Math.ceil(offset / align) * align;
  if (size > MAX_LAYOUT_SIZE) throw outOfRange('spec', `a record of at most ${MAX_LAYOUT_SIZE} bytes`, size);
  const plain: Record<string, string | PlainSpec> = {};
  for (const f of fields) plain[f.name] = f.layout ? f.layout.spec : f.type;
  const byName = new Map(fields.map((f) => [f.name, f]));
  const l: Layout<S> = {
    size,
    align,
    fields: Object.freeze(fields.map(publicField)),
    spec: Object.freeze(plain),
    offsetOf(path: string): number {
      return offsetOfPath(byName, path, path);
    },
  };
  Object.freeze(l);
  layouts.add(l);
  parsed.set(l, fields);
  return l;
}

/** Makes a layout from the plain spec of another thread's layout (share() / attach()). */
export function layoutFromPlain(spec: unknown): Layout {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw invalidArgType('descriptor.layout', 'a layout spec', spec);
  const out: Record<string, FieldSpec> = {};
  for (const [k, v] of Object.entries(spec)) out[k] = typeof v === 'object' && v !== null ? layoutFromPlain(v) : (v as FieldSpec);
  return layout(out);
}

/** Throws TypeError unless `value` is a layout from layout(). */
export function validateLayout(value: unknown, name: string): Layout {
  if (typeof value !== 'object' || value === null || !layouts.has(value)) throw invalidArgType(name, 'a layout made by layout()', value);
  return value as Layout;
}

const parsed = new WeakMap<Layout, ParsedField[]>();

function publicField(f: ParsedField): LayoutField {
  return Object.freeze({ name: f.name, type: f.type, offset: f.offset, size: f.size, align: f.align, length: f.length, layout: f.layout });
}

function offsetOfPath(byName: Map<string, ParsedField>, path: string, full: string): number {
  if (typeof path !== 'string') throw invalidArgType('name', 'of type string', path);
  const dot = path.indexOf('.');
  const head = dot < 0 ? path : path.slice(0, dot);
  const f = byName.get(head);
  if (f === undefined || (dot >= 0 && f.layout === undefined)) throw invalidValue('name', 'must name a field of the layout', full);
  if (dot < 0) return f.offset;
  const inner = new Map(parsed.get(f.layout!)!.map((g) => [g.name, g]));
  return f.offset + offsetOfPath(inner, path.slice(dot + 1), full);
}

// ---- cursors ------------------------------------------------------------

/** Where an unpositioned cursor points: every index it makes is past any buffer (reads undefined, writes dropped). */
const NOWHERE = -0x40000000;
const LITTLE_ENDIAN = endianness() === 'LE';

/** The typed arrays (or DataView) of one buffer, shared by every cursor over it. */
interface Views {
  ab: ArrayBuffer;
  buf: Buffer;
  dv: DataView;
  [view: string]: unknown;
}

const viewCache = new WeakMap<ArrayBuffer, Views>();

function viewsOf(ab: ArrayBuffer): Views {
  let v = viewCache.get(ab);
  if (v === undefined) {
    v = { ab, buf: Buffer.from(ab), dv: new DataView(ab) };
    for (const s of Object.values(SCALARS)) {
      const Ctor = (globalThis as unknown as Record<string, new (ab: ArrayBuffer, o: number, n: number) => unknown>)[`${s.view}Array`];
      v[s.view] ??= new Ctor(ab, 0, Math.floor(ab.byteLength / s.size));
    }
    viewCache.set(ab, v);
  }
  return v;
}

type CursorClass = new (host: RecordHost | null, states?: Uint8Array, generations?: Uint16Array) => RecordCursor<LayoutSpec>;

/**
 * Per buffer (its views) and layout: the cursor classes, by kind ('typed',
 * 'dataView', and one per slot geometry of pools). A class is made for the
 * views of one buffer, which its accessors hold as constants of their
 * closure: an optimized accessor then indexes a known typed array, as
 * hand-written code over module-level typed arrays does, rather than
 * loading the array, its length and its base from the cursor on every field.
 */
const classes = new WeakMap<Views, WeakMap<Layout, Map<string, CursorClass>>>();

/**
 * The cursor over `host` for layout `l`: a fresh instance of the layout's
 * generated class (built once per buffer, layout and kind). `dataView` picks the
 * DataView accessors (big-endian hosts; tests use it on any host). Over an
 * ObjectPool, at() checks the slot's state byte inline (slotCursorClass).
 */
export function makeCursor<S extends LayoutSpec>(l: Layout<S>, host: RecordHost, dataView = !LITTLE_ENDIAN): RecordCursor<S> {
  const views = viewsOf(host.buffer);
  const slots = slotsOf(host);
  if (slots === null) return new (cursorClass(l, views, dataView))(host) as unknown as RecordCursor<S>;
  const Ctor = slotCursorClass(l, views, dataView, slots);
  return new Ctor(host, slots.states, slots.generations?.gens) as unknown as RecordCursor<S>;
}

function cached(l: Layout, views: Views, key: string, make: () => CursorClass): CursorClass {
  let byLayout = classes.get(views);
  if (byLayout === undefined) classes.set(views, (byLayout = new WeakMap()));
  let byKey = byLayout.get(l);
  if (byKey === undefined) byLayout.set(l, (byKey = new Map()));
  let c = byKey.get(key);
  if (c === undefined) byKey.set(key, (c = make()));
  return c;
}

function cursorClass(l: Layout, views: Views, dataView: boolean): CursorClass {
  return cached(l, views, dataView ? 'dataView' : 'typed', () => generate(l, views, dataView));
}

/**
 * The reciprocal of a slot size that turns a handle into its slot index with
 * one multiply and a truncation, `(h * r) | 0`, exactly for every multiple
 * of `size` below 2^31: 1 / size rounded up by one unit in the last place,
 * so r >= 1 / size. For h = i * size the exact product lies in
 * [i, i * (1 + 2^-51)], and i is a double, so the rounded product is at
 * least i and below i + 1 (i < 2^31): it truncates to i. Any other h gives
 * an index whose product with size is not h, which the callers check.
 */
export function slotReciprocal(size: number): number {
  const bits = new Float64Array([1 / size]);
  new BigUint64Array(bits.buffer)[0] += 1n;
  return bits[0];
}

/** What an ObjectPool's at() reads inline: its state table, its slot size and, when generational, its generation table. */
interface PoolSlots {
  states: Uint8Array;
  slotSize: number;
  generations: GenerationTable | undefined;
}

/**
 * The slot geometry of an ObjectPool host, or null for any other host (or
 * a pool whose liveOffset_ was replaced by something else than
 * generations): those keep the generic at(), which asks liveOffset_ every
 * time. Reads the pool's internal state table (states_) and its `shared_` flag
 * (see slotCursorClass); a pool without them gets the generic at().
 */
function slotsOf(host: RecordHost): PoolSlots | null {
  const pool = host as unknown as { states_?: unknown; slotSize?: unknown; shared_?: unknown };
  const generations = generationTableOf(host);
  if (generations === undefined && Object.hasOwn(host, 'liveOffset_')) return null;
  if (!(pool.states_ instanceof Uint8Array) || typeof pool.slotSize !== 'number' || typeof pool.shared_ !== 'boolean') return null;
  return { states: pool.states_, slotSize: pool.slotSize, generations };
}

/**
 * The layout's cursor class for one pool geometry: the base class with an
 * at() that checks the handle inline (an integer multiple of the slot
 * size, or a generational handle carrying its slot's generation, whose
 * state byte is the live one) and asks the pool's liveOffset_ otherwise,
 * which stays the authority: it throws the typed errors, and the first
 * handle it accepts teaches the cursor the byte of a live slot ($live, -1
 * until then, so nothing passes inline before). It learns only while the
 * pool is unshared (no other thread can change the byte between the
 * pool's read and its own); a shared or attached pool's cursor asks
 * liveOffset_ every time.
 */
function slotCursorClass(l: Layout, views: Views, dataView: boolean, slots: PoolSlots): CursorClass {
  const size = slots.slotSize;
  const shift = Math.log2(size);
  const pow2 = Number.isInteger(shift);
  const offsetOf = (i: string): string => (pow2 ? `(${i} << ${shift})` : `(${i} * ${size})`);
  const g = slots.generations;
  const key = `${dataView ? 'dataView' : 'typed'}:${size}:${g === undefined ? 'plain' : `gen${g.indexBits}`}`;
  return cached(l, views, key, () => {
    // A power-of-two slot: an int32 (h | 0 is h, free for a Smi) whose sign and low bits are clear.
    const check = g === undefined
      ? pow2
        ? [`if ((h | 0) === h && (h & ${(0x80000000 | (size - 1)) | 0}) === 0 && this.$st[h >>> ${shift}] === this.$live) { this.$o = h | 0; return this; }`]
        : [
          `const i = (h * ${slotReciprocal(size)}) | 0;`,
          `if (i * ${size} === h && i >= 0 && this.$st[i] === this.$live) { this.$o = i * ${size}; return this; }`,
        ]
      : [
        `const i = h & ${(1 << g.indexBits) - 1};`,
        `if ((h | 0) === h && h > 0 && this.$gens[i] === h >>> ${g.indexBits} && this.$st[i] === this.$live) { this.$o = ${offsetOf('i')}; return this; }`,
      ];
    const source = [
      'return class extends Base {',
      '  constructor(host, states, generations) {',
      '    super(host);',
      '    this.$st = states;',
      g === undefined ? '' : '    this.$gens = generations;',
      '    this.$live = -1;',
      '  }',
      '  at(h) {',
      "    if (typeof h === 'number') {",
      ...check.map((line) => `      ${line}`),
      '    }',
      '    return this.$check(h);',
      '  }',
      '  $check(h) {',
      `    const o = this.$host.liveOffset_(h, ${l.size}, ${l.align});`,
      `    if (this.$live < 0 && this.$host.shared_ === false) this.$live = this.$st[${pow2 ? `o >>> ${shift}` : `o / ${size}`}];`,
      '    this.$o = o;',
      '    return this;',
      '  }',
      '};',
    ].join('\n');
    return new Function('Base', source)(cursorClass(l, views, dataView)) as CursorClass;
  });
}

/** The JS expression of field `f` read at byte `at` (an expression). */
function readExpr(f: ParsedField, s: ScalarInfo, at: string, dataView: boolean): string {
  const raw = dataView
    ? `$dv.get${s.view}(${at}${s.size > 1 ? ', true' : ''})`
    : `$${s.view}[${s.size === 1 ? at : `(${at}) >>> ${Math.log2(s.size)}`}]`;
  return f.type === 'bool' ? `(${raw} !== 0)` : raw;
}

function writeStmt(f: ParsedField, s: ScalarInfo, at: string, value: string, dataView: boolean): string {
  const v = f.type === 'bool' ? `(${value} ? 1 : 0)` : value;
  return dataView
    ? `$dv.set${s.view}(${at}, ${v}${s.size > 1 ? ', true' : ''});`
    : `$${s.view}[${s.size === 1 ? at : `(${at}) >>> ${Math.log2(s.size)}`}] = ${v};`;
}

/**
 * Builds the cursor class of a layout over one buffer's views: source text
 * with every offset a literal and the views constants of its closure,
 * compiled once per buffer with new Function. Field names are identifiers
 * (checked by layout()), so they are safe to splice; the closure's names
 * start with $, and an accessor reaches a field only as this.<name>.
 */
function generate(l: Layout, views: Views, dataView: boolean): CursorClass {
  const fields = parsed.get(l)!;
  const nested = fields.filter((f) => f.kind === 'layout');
  const viewNames = [...new Set(Object.values(SCALARS).map((s) => s.view))];
  const lines: string[] = [];
  lines.push(`const $ab = V.ab, $buf = V.buf, $dv = V.dv, ${viewNames.map((v) => `$${v} = V.${v}`).join(', ')};`);
  lines.push('return class Record {');
  lines.push('  constructor(host) {');
  lines.push('    this.$host = host;');
  lines.push(`    this.$o = ${NOWHERE};`);
  for (const f of nested) lines.push(`    this.$c_${f.name} = new N_${f.name}(null);`);
  lines.push('  }');
  lines.push(`  at(h) { this.$o = this.$host.liveOffset_(h, ${l.size}, ${l.align}); return this; }`);
  lines.push('  get offset() { return this.$o; }');
  lines.push('  get layout() { return L; }');
  lines.push('  toObject() { return toObject(this, L); }');
  lines.push('  [inspectSymbol](depth, options, inspect) { return "Record " + inspect(this.toObject(), options); }');
  for (const f of fields) {
    const at = `this.$o + ${f.offset}`;
    if (f.kind === 'scalar') {
      lines.push(`  get ${f.name}() { return ${readExpr(f, f.scalar!, at, dataView)}; }`);
      lines.push(`  set ${f.name}(v) { ${writeStmt(f, f.scalar!, at, 'v', dataView)} }`);
    } else if (f.kind === 'array') {
      lines.push(`  get ${f.name}() { return new ${f.scalar!.view}Array($ab, ${at}, ${f.length}); }`);
      lines.push(`  set ${f.name}(v) { setArray(this.${f.name}, v, ${JSON.stringify(f.name)}); }`);
    } else if (f.kind === 'utf8') {
      lines.push(`  get ${f.name}() { return readUtf8($Uint8, $buf, ${at}, ${f.length}); }`);
      lines.push(`  set ${f.name}(v) { writeUtf8($Uint8, $buf, ${at}, ${f.length}, v, ${JSON.stringify(f.name)}); }`);
    } else {
      lines.push(`  get ${f.name}() { const c = this.$c_${f.name}; c.$o = ${at}; return c; }`);
      lines.push(`  set ${f.name}(v) { assign(this.${f.name}, v, ${JSON.stringify(f.name)}); }`);
    }
  }
  lines.push('};');
  const nestedClasses = nested.map((f) => cursorClass(f.layout!, views, dataView));
  const factory = new Function('V', 'L', 'toObject', 'setArray', 'readUtf8', 'writeUtf8', 'assign', 'inspectSymbol',
    ...nested.map((f) => `N_${f.name}`), lines.join('\n'));
  return factory(views, l, toObject, setArray, readUtf8, writeUtf8, assign, inspect.custom, ...nestedClasses) as CursorClass;
}

// ---- helpers the generated code calls --------------------------------------

function toObject(c: Record<string, unknown>, l: Layout): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of l.fields) {
    const v = c[f.name];
    out[f.name] = f.layout ? (v as { toObject(): unknown }).toObject() : ArrayBuffer.isView(v) ? (v as Uint8Array).slice() : v;
  }
  return out;
}

/** `p.rgb = [1, 2, 3]`: copies an array-like of exactly the field's length. */
function setArray(view: Uint8Array, value: unknown, name: string): void {
  const len = (value as { length?: unknown } | null)?.length;
  if (typeof value !== 'object' || value === null || typeof len !== 'number') {
    throw invalidArgType(name, 'an array or typed array', value);
  }
  if (len !== view.length) throw outOfRange(`${name}.length`, `${view.length}`, len);
  view.set(value as ArrayLike<number>);
}

/** `p.pos = { x, y }`: sets the named fields of a nested record. */
function assign(c: Record<string, unknown>, value: unknown, name: string): void {
  if (typeof value !== 'object' || value === null) throw invalidArgType(name, 'an object of field values', value);
  const l = (c as unknown as { layout: Layout }).layout;
  for (const k of Object.keys(value)) {
    if (!l.fields.some((f) => f.name === k)) throw invalidValue(`${name}.${k}`, 'is not a field of the nested layout', k);
    c[k] = (value as Record<string, unknown>)[k];
  }
}

/** The string in a utf8[n] field: its bytes up to the first zero byte (or all n). */
function readUtf8(u8: Uint8Array, buf: Buffer, at: number, n: number): string {
  let end = at;
  const stop = at + n;
  let ascii = true;
  for (; end < stop; end++) {
    const b = u8[end];
    if (b === 0) break;
    if (b > 0x7f) ascii = false;
  }
  return buf.toString(ascii ? 'latin1' : 'utf8', at, end);
}

/**
 * Writes `value` into a utf8[n] field, padded with zero bytes. A string of
 * more than n UTF-8 bytes is a RangeError (never cut, so never a split code
 * point); one with a U+0000 is refused (it would end the string when read).
 */
function writeUtf8(u8: Uint8Array, buf: Buffer, at: number, n: number, value: unknown, name: string): void {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  // A UTF-16 unit is 1 to 3 UTF-8 bytes (a surrogate pair 4 for 2): short strings need no count.
  if (value.length * 3 > n && (value.length > n || Buffer.byteLength(value, 'utf8') > n)) {
    throw outOfRange(name, `a string of at most ${n} UTF-8 bytes`, `a string of ${Buffer.byteLength(value, 'utf8')} bytes`);
  }
  if (value.includes('\0')) throw invalidValue(name, 'must not contain U+0000 (a utf8[n] field ends at its first zero byte)', value);
  // ASCII, the common case, without a native call: a store per character.
  // The first other character hands the whole string to the UTF-8 encoder,
  // which writes it again from the start (the checks above make both fit).
  // So does a cursor that points nowhere (at < 0): the encoder refuses it
  // with a RangeError, and nothing below runs with a negative index.
  const len = value.length;
  let written = -1;
  if (at >= 0) {
    let i = 0;
    for (; i < len; i++) {
      const c = value.charCodeAt(i);
      if (c > 0x7f) break;
      u8[at + i] = c;
    }
    if (i === len) written = len;
  }
  if (written < 0) written = buf.write(value, at, n, 'utf8');
  u8.fill(0, at + written, at + n);
}
