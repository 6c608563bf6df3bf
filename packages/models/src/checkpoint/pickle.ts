/**
 * A pickle virtual machine (protocols 0-5) for reading what `torch.save` writes: it rebuilds
 * plain Python values (None, bools, ints, floats, str, bytes, lists, tuples, dicts, sets) and
 * lets the caller resolve globals and persistent ids. It never executes code: a global that the
 * caller does not allow is refused with its module and name.
 */

/** A Python dict (or OrderedDict); `attributes` holds state set by BUILD (e.g. a state_dict's `_metadata`). */
export class PyDict extends Map<unknown, unknown> {
  attributes?: PyDict;
  constructor(readonly className = 'dict') {
    super();
  }
}

/** A Python tuple: a frozen array, so it can be told from a list. */
export type PyTuple = readonly unknown[];

export function isTuple(v: unknown): v is PyTuple {
  return Array.isArray(v) && Object.isFrozen(v);
}

function tuple(items: unknown[]): PyTuple {
  return Object.freeze(items);
}

/** A global (`module.name`) the caller allowed; `call` is what REDUCE/NEWOBJ do with it. */
export interface PyGlobal {
  readonly module: string;
  readonly name: string;
  call?(args: PyTuple, kwargs?: PyDict): unknown;
  /** Applies BUILD state to an object this global made; absent means BUILD with non-empty state is refused. */
  build?(obj: unknown, state: unknown): unknown;
}

export interface UnpickleOptions {
  /** Names the input in error messages (file and entry). */
  where: string;
  /** Resolves `module.name`; return undefined to refuse it. */
  findGlobal(module: string, name: string): PyGlobal | object | undefined;
  /** Resolves a persistent id (torch uses these for storages); absent means PERSID is refused. */
  persistentLoad?(pid: unknown): unknown;
}

export class PickleError extends Error {
  constructor(where: string, pos: number, message: string) {
    super(`${where}: pickle byte ${pos}: ${message}`);
    this.name = 'PickleError';
  }
}


function isPyGlobal(v: unknown): v is PyGlobal {
  return typeof v === 'object' && v !== null && 'module' in v && 'name' in v && typeof (v as PyGlobal).module === 'string';
}

/** Parses one pickle starting at `offset`; returns its value and the offset just after STOP. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions, offset = 0): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const where = opts.where;
  let pos = offset;
  let opPos = offset;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const fail = (msg: string): never => {
    throw new PickleError(where, opPos, msg);
  };
  const need = (n: number) => {
    if (pos + n > bytes.byteLength) fail(`truncated: needs ${n} more bytes, ${bytes.byteLength - pos} left`);
  };
  const u8 = () => {
    need(1);
    return bytes[pos++];
  };
  const u16 = () => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is too large`);
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = () => {
    let end = pos;
    while (end < bytes.byteLength && bytes[end] !== 0x0a) end++;
    if (end >= bytes.byteLength) fail('truncated: missing newline');
    const s = Buffer.from(bytes.buffer, bytes.byteOffset + pos, end - pos).toString('latin1');
    pos = end + 1;
    return s;
  };
  const utf8 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  const pop = () => {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail('MARK expected on the metastack');
    stack = prev!;
    return items;
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`memo key ${i} not defined`);
    return memo.get(i);
  };
  const intFromBig = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  const longLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return intFromBig(v);
  };
  const resolveGlobal = (module: string, name: string): unknown => {
    const g = opts.findGlobal(module, name);
    if (g === undefined) fail(`refusing to load global '${module}.${name}': not a type a PyTorch state dict or OpenCLIP checkpoint uses (nothing from the pickle is executed)`);
    return g;
  };
  const callGlobal = (fn: unknown, args: unknown, kwargs?: PyDict): unknown => {
    if (!isPyGlobal(fn) || !fn.call) {
      const label = isPyGlobal(fn) ? `${fn.module}.${fn.name}` : typeof fn;
      fail(`cannot call '${label}'`);
    }
    if (!Array.isArray(args)) fail(`arguments to ${(fn as PyGlobal).module}.${(fn as PyGlobal).name} are not a tuple`);
    try {
      return (fn as PyGlobal).call!(args as PyTuple, kwargs);
    } catch (e) {
      if (e instanceof PickleError) throw e;
      return fail(`${(fn as PyGlobal).module}.${(fn as PyGlobal).name}: ${(e as Error).message}`);
    }
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    if (Array.isArray(target) && !Object.isFrozen(target)) target.push(...items);
    else if (target instanceof Set) for (const i of items) target.add(i);
    else fail('APPEND(S) on something that is not a list');
  };
  const persistent = (pid: unknown) => {
    if (!opts.persistentLoad) fail('persistent id found but no persistent loader is set');
    try {
      return opts.persistentLoad!(pid);
    } catch (e) {
      if (e instanceof PickleError) throw e;
      return fail((e as Error).message);
    }
  };

  for (;;) {
    opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const p = u8();
        if (p > 5) fail(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: { // STOP
        const value = pop();
        return { value, end: pos };
      }
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      // --- constants and numbers
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x49: { // INT (text)
        const s = line().trim();
        if (s === '01') stack.push(true);
        else if (s === '00') stack.push(false);
        else {
          if (!/^[-+]?\d+$/.test(s)) fail(`bad INT '${s}'`);
          stack.push(intFromBig(BigInt(s)));
        }
        break;
      }
      case 0x4a: { // BININT
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      }
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4c: { // LONG (text)
        const s = line().trim().replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(s)) fail(`bad LONG '${s}'`);
        stack.push(intFromBig(BigInt(s)));
        break;
      }
      case 0x8a: stack.push(longLE(take(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) fail('negative LONG4 length');
        stack.push(longLE(take(n)));
        break;
      }
      case 0x46: { // FLOAT (text)
        const s = line().trim();
        const v = Number(s);
        if (Number.isNaN(v) && !/nan/i.test(s)) fail(`bad FLOAT '${s}'`);
        stack.push(v);
        break;
      }
      case 0x47: { // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      // --- strings and bytes
      case 0x53: { // STRING (quoted repr)
        const s = line().trim();
        const q = s[0];
        if ((q !== "'" && q !== '"') || s[s.length - 1] !== q) fail('bad STRING quoting');
        stack.push(unescapePy(s.slice(1, -1)));
        break;
      }
      case 0x54: { // BINSTRING
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) fail('negative BINSTRING length');
        stack.push(Buffer.from(take(n)).toString('latin1'));
        break;
      }
      case 0x55: stack.push(Buffer.from(take(u8())).toString('latin1')); break; // SHORT_BINSTRING
      case 0x56: stack.push(unescapeRawUnicode(line())); break; // UNICODE
      case 0x58: stack.push(utf8(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(utf8(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(utf8(take(u64()))); break; // BINUNICODE8
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x96: stack.push(take(u64()).slice()); break; // BYTEARRAY8
      case 0x97: case 0x98: // NEXT_BUFFER, READONLY_BUFFER
        fail('out-of-band buffers (pickle protocol 5 buffer_callback) are not supported');
        break;
      // --- containers
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x6c: { const items = popMark(); stack.push(items); break; } // LIST
      case 0x74: { const items = popMark(); stack.push(tuple(items)); break; } // TUPLE
      case 0x85: stack.push(tuple([pop()])); break; // TUPLE1
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x64: { // DICT
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS on something that is not a set');
        for (const i of items) (s as Set<unknown>).add(i);
        break;
      }
      case 0x91: { const items = popMark(); stack.push(new Set(items)); break; } // FROZENSET
      // --- memo
      case 0x70: memo.set(Number(line()), top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: stack.push(memoGet(Number(line()))); break; // GET
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      // --- globals and object construction
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(callGlobal(fn, args));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(callGlobal(cls, args));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        stack.push(callGlobal(cls, args, kwargs instanceof PyDict ? kwargs : undefined));
        break;
      }
      case 0x69: { // INST
        const module = line();
        const name = line();
        const cls = resolveGlobal(module, name);
        const items = popMark();
        stack.push(callGlobal(cls, tuple(items)));
        break;
      }
      case 0x6f: { // OBJ
        const items = popMark();
        const cls = items.shift();
        stack.push(callGlobal(cls, tuple(items)));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        stack[stack.length - 1] = build(obj, state, fail);
        break;
      }
      case 0x50: stack.push(persistent(line())); break; // PERSID
      case 0x51: stack.push(persistent(pop())); break; // BINPERSID
      case 0x82: case 0x83: case 0x84: // EXT1, EXT2, EXT4
        fail('extension registry opcodes (EXT1/2/4) are not supported');
        break;
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')} (not a pickle, or corrupted)`);
    }
  }
}

/** BUILD: dicts take their state as attributes; objects made by an allowed global may accept it. */
function build(obj: unknown, state: unknown, fail: (m: string) => never): unknown {
  const builder = (obj as { [BUILDER]?: PyGlobal } | null)?.[BUILDER];
  if (builder?.build) return builder.build(obj, state);
  const empty = state === null || (state instanceof Map && state.size === 0);
  if (obj instanceof PyDict) {
    if (empty) return obj;
    let attrs: unknown = state;
    // (dict_state, slot_state) pairs: the first holds __dict__.
    if (isTuple(state) && state.length === 2) attrs = state[0] ?? state[1];
    if (!(attrs instanceof Map)) return fail('BUILD state for a dict is not a dict');
    obj.attributes = obj.attributes ?? new PyDict();
    for (const [k, v] of attrs as Map<unknown, unknown>) obj.attributes.set(k, v);
    return obj;
  }
  if (empty) return obj;
  return fail('BUILD with state on an object that does not accept it');
}

/** Objects made by a global can carry the global under this key so BUILD can reach it. */
export const BUILDER = Symbol('pickle-builder');

function unescapePy(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' } as Record<string, string>)[e] ?? `\\${e}`;
  });
}

function unescapeRawUnicode(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string | undefined, b: string | undefined) => String.fromCodePoint(parseInt((a ?? b)!, 16)));
}

