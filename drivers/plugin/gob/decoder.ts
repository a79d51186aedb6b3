/**
 * Streaming gob decoder: bytes go in as they arrive (`push`), self-described values come out (`read`) as
 * plain JS values. One per stream, as in Go: the type definitions a stream sends stay known for its
 * later values. Malformed input fails with a GobError that says what and where, and sticks: the stream
 * cannot be resynchronised. Hostile lengths are bounded: a message may not exceed `maxMessageBytes`,
 * strings never extend past their message, and collections grow only as their elements are read.
 */
import { ByteReader, NEED_MORE } from './wire.js';
import {
  bootstrap,
  BuiltinId,
  GobError,
  MAX_NAME_LENGTH,
  type DecodedInterface,
  type GobValue,
  type Marshaled,
  type StructType,
  type WireType,
} from './types.js';

export interface DecoderOptions {
  /** The largest message (and the largest value with the messages it spans), in bytes. Default 16 MiB. */
  readonly maxMessageBytes?: number;
  /** The most type definitions one stream may send. Default 10000. */
  readonly maxTypes?: number;
  /** The deepest nesting of values. Default 100. */
  readonly maxDepth?: number;
}

/** Go refuses type definitions for ids below its first user id (64). */
const LOWEST_DEFINABLE_ID = 64;

const utf8 = new TextDecoder();

/** The wire form of gob's own description types, which every stream knows under fixed ids. */
function bootstrapWireTypes(): Map<number, WireType> {
  const { wireType, commonType, fieldType, gobEncoderType } = bootstrap;
  const structOf = (type: StructType, ids: readonly number[]): WireType => ({
    kind: 'struct',
    name: type.goName,
    fields: type.fields.map((field, index) => ({ name: field.name, id: ids[index] ?? 0 })),
  });
  /** The struct behind wireType's pointer field `index` (ArrayT, SliceT, StructT, MapT). */
  const variant = (index: number): StructType => {
    const field = wireType.fields[index]?.type;
    if (field?.kind !== 'pointer' || field.elem.kind !== 'struct') throw new GobError('gob: bootstrap types changed');
    return field.elem;
  };
  const id = BuiltinId;
  const marshaler = id.gobEncoderType;
  return new Map<number, WireType>([
    [
      id.wireType,
      structOf(wireType, [id.arrayType, id.sliceType, id.structType, id.mapType, marshaler, marshaler, marshaler]),
    ],
    [id.arrayType, structOf(variant(0), [id.commonType, id.int, id.int])],
    [id.commonType, structOf(commonType, [id.string, id.int])],
    [id.sliceType, structOf(variant(1), [id.commonType, id.int])],
    [id.structType, structOf(variant(2), [id.commonType, id.fieldTypeSlice])],
    [id.fieldType, structOf(fieldType, [id.string, id.int])],
    [id.fieldTypeSlice, { kind: 'slice', name: '', elem: id.fieldType }],
    [id.mapType, structOf(variant(3), [id.commonType, id.int, id.int])],
    [id.gobEncoderType, structOf(gobEncoderType, [id.commonType])],
  ]);
}

const BOOTSTRAP = bootstrapWireTypes();

/** A pending stream: a growable buffer of bytes received but not yet consumed by a whole value. */
class ByteQueue {
  bytes = new Uint8Array(4096);
  start = 0;
  end = 0;
  /** Where bytes[0] sits in the whole stream, for positions in errors. */
  offset = 0;

  push(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.bytes.length) {
      const size = this.end - this.start + chunk.length;
      if (size <= this.bytes.length) {
        this.bytes.copyWithin(0, this.start, this.end);
      } else {
        const grown = new Uint8Array(Math.max(this.bytes.length * 2, size));
        grown.set(this.bytes.subarray(this.start, this.end));
        this.bytes = grown;
      }
      this.offset += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    this.bytes.set(chunk, this.end);
    this.end += chunk.length;
  }

  advance(to: number): void {
    this.start = to;
    if (this.start === this.end) {
      this.offset += this.start;
      this.start = this.end = 0;
    }
  }
}

/**
 * One attempt at reading a value from the queue. Type definitions it receives are staged and kept only if
 * the value completes; when the input runs out it throws NEED_MORE and the attempt restarts later.
 */
class Attempt extends ByteReader {
  readonly staged = new Map<number, WireType>();

  constructor(
    private readonly queue: ByteQueue,
    private readonly decoder: { types: Map<number, WireType>; limits: Required<DecoderOptions> },
  ) {
    super(queue.bytes, queue.start, queue.start, queue.offset);
  }

  /** Moves to the next length-prefixed message (skipping empty ones, as Go does). */
  nextMessage(): void {
    const { maxMessageBytes } = this.decoder.limits;
    do {
      if (this.pos !== this.end) this.fail('internal: next message before the end of the current one');
      if (this.pos === this.queue.end) throw NEED_MORE;
      const first = this.bytes[this.pos] ?? 0;
      const width = first <= 0x7f ? 1 : 1 + 256 - first;
      if (first > 0x7f && width > 9) this.fail(`invalid message length byte 0x${first.toString(16)}`);
      if (this.pos + width > this.queue.end) throw NEED_MORE;
      this.end = this.queue.end;
      const length = this.uint();
      if (typeof length === 'bigint' || length > maxMessageBytes) {
        this.fail(`message of ${length} bytes exceeds the limit of ${maxMessageBytes}`);
      }
      if (this.pos + length - this.queue.start > maxMessageBytes) {
        this.fail(`value spans more than the limit of ${maxMessageBytes} bytes`);
      }
      if (this.pos + length > this.queue.end) throw NEED_MORE;
      this.end = this.pos + length;
    } while (this.pos === this.end);
  }

  private lookup(id: number): WireType {
    const wire = this.staged.get(id) ?? this.decoder.types.get(id) ?? BOOTSTRAP.get(id);
    if (!wire) this.fail(`undefined type id ${id}`);
    return wire;
  }

  /** A type definition: -id was read, the wireType value follows. */
  receiveType(id: number): void {
    if (id < LOWEST_DEFINABLE_ID) this.fail(`type definition for reserved id ${id}`);
    if (this.staged.has(id) || this.decoder.types.has(id)) this.fail(`duplicate definition of type id ${id}`);
    if (this.staged.size + this.decoder.types.size >= this.decoder.limits.maxTypes) {
      this.fail(`more than ${this.decoder.limits.maxTypes} type definitions`);
    }
    const wire = this.structValue(this.lookup(BuiltinId.wireType), 0) as Record<
      string,
      Record<string, GobValue> | null
    >;
    this.staged.set(id, this.toWireType(wire, id));
  }

  private toWireType(wire: Record<string, Record<string, GobValue> | null>, id: number): WireType {
    const variants = Object.entries(wire).filter(([, variant]) => variant !== null);
    const [variant, body] = variants.length === 1 ? (variants[0] ?? []) : [];
    if (!variant || !body) this.fail(`type definition ${id} must have exactly one kind, has ${variants.length}`);
    const name = String((body['CommonType'] as Record<string, GobValue> | null)?.['Name'] ?? '');
    const idOf = (what: string): number => {
      const value = body[what];
      if (typeof value !== 'number') this.fail(`type definition ${id}: invalid ${what}`);
      return value;
    };
    switch (variant) {
      case 'ArrayT': {
        const length = idOf('Len');
        if (length < 0) this.fail(`type definition ${id}: negative array length`);
        return { kind: 'array', name, elem: idOf('Elem'), length };
      }
      case 'SliceT':
        return { kind: 'slice', name, elem: idOf('Elem') };
      case 'MapT':
        return { kind: 'map', name, key: idOf('Key'), elem: idOf('Elem') };
      case 'StructT': {
        const fields = (body['Field'] as (Record<string, GobValue> | null)[]).map((field) => {
          const fieldName = field?.['Name'];
          const fieldId = field?.['Id'];
          if (typeof fieldName !== 'string' || fieldName === '' || typeof fieldId !== 'number') {
            this.fail(`type definition ${id} (${name}): a field without a name or a type`);
          }
          return { name: fieldName, id: fieldId };
        });
        return { kind: 'struct', name, fields };
      }
      default:
        return { kind: 'marshaler', name, marshaler: variant.replace(/T$/, '') as Marshaled['marshaler'] };
    }
  }

  /**
   * Go's decodeTypeSequence inside an interface: definitions may precede the concrete type's id; after
   * each, either the message ended (the value continues in the next one) or a length precedes the rest.
   */
  interfaceTypeId(): number {
    for (;;) {
      if (this.remaining === 0) this.nextMessage();
      const id = this.typeId();
      if (id >= 0) return id;
      this.receiveType(-id);
      if (this.remaining > 0) this.uint();
    }
  }

  /** A top-level value or an interface's content: a struct as is, anything else after a zero delta. */
  body(id: number, depth: number): GobValue {
    const wire = id > BuiltinId.interface ? this.lookup(id) : undefined;
    if (wire?.kind === 'struct') return this.structValue(wire, depth);
    const delta = this.uint();
    if (delta !== 0) this.fail(`non-zero field delta ${delta} before a single value`);
    return this.value(id, depth);
  }

  value(id: number, depth: number): GobValue {
    if (depth > this.decoder.limits.maxDepth) this.fail(`values nested deeper than ${this.decoder.limits.maxDepth}`);
    switch (id) {
      case BuiltinId.bool:
        return this.uint() !== 0;
      case BuiltinId.int:
        return this.int();
      case BuiltinId.uint:
        return this.uint();
      case BuiltinId.float:
        return this.float();
      case BuiltinId.bytes:
        return this.counted('[]byte');
      case BuiltinId.string:
        return this.string();
      case BuiltinId.complex:
        return { real: this.float(), imag: this.float() };
      case BuiltinId.interface:
        return this.interfaceValue(depth);
    }
    const wire = this.lookup(id);
    const limit = this.decoder.limits.maxMessageBytes;
    switch (wire.kind) {
      case 'struct':
        return this.structValue(wire, depth + 1);
      case 'array':
      case 'slice': {
        const length = this.count(`${wire.kind} length`, limit);
        if (wire.kind === 'array' && length !== wire.length) {
          this.fail(`array of ${wire.length} elements sent with ${length}`);
        }
        const items: GobValue[] = [];
        for (let index = 0; index < length; index++) items.push(this.value(wire.elem, depth + 1));
        return items;
      }
      case 'map': {
        const length = this.count('map length', limit);
        const entries = new Map<GobValue, GobValue>();
        for (let index = 0; index < length; index++) {
          const key = this.value(wire.key, depth + 1);
          entries.set(key, this.value(wire.elem, depth + 1));
        }
        return entries;
      }
      case 'marshaler':
        return { marshaler: wire.marshaler, typeName: wire.name, data: this.counted(wire.name) };
    }
  }

  private interfaceValue(depth: number): DecodedInterface | null {
    const length = this.count('interface type name length', MAX_NAME_LENGTH);
    if (length > this.remaining) this.fail(`interface type name of ${length} bytes exceeds its message`);
    if (length === 0) return null;
    const name = utf8.decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    const id = this.interfaceTypeId();
    this.uint(); // the value's byte count: Go ignores it, and it only counts the first message of a split value
    return { type: name, value: this.body(id, depth + 1) };
  }

  private structValue(wire: WireType, depth: number): { [field: string]: GobValue } {
    if (wire.kind !== 'struct') this.fail(`expected a struct type, got ${wire.kind} ${wire.name}`);
    const result: { [field: string]: GobValue } = {};
    for (const field of wire.fields) define(result, field.name, this.zero(field.id));
    let fieldNumber = -1;
    // As in Go, a struct also ends where its message ends.
    while (this.remaining > 0) {
      const delta = this.uint();
      if (delta === 0) break;
      const next = fieldNumber + Number(delta);
      const field = wire.fields[next];
      if (typeof delta === 'bigint' || !field) this.fail(`field number ${next} out of range for struct ${wire.name}`);
      define(result, field.name, this.value(field.id, depth + 1));
      fieldNumber = next;
    }
    return result;
  }

  /** What an omitted field holds: Go's zero value (null for a nil pointer to a struct or an array). */
  private zero(id: number): GobValue {
    switch (id) {
      case BuiltinId.bool:
        return false;
      case BuiltinId.int:
      case BuiltinId.uint:
      case BuiltinId.float:
        return 0;
      case BuiltinId.bytes:
        return new Uint8Array(0);
      case BuiltinId.string:
        return '';
      case BuiltinId.complex:
        return { real: 0, imag: 0 };
      case BuiltinId.interface:
        return null;
    }
    const wire = this.lookup(id);
    if (wire.kind === 'slice') return [];
    if (wire.kind === 'map') return new Map();
    return null;
  }
}

/** Sets a field without ever touching the prototype (a field named __proto__ stays a field). */
function define(target: object, name: string, value: GobValue): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

export class GobDecoder {
  readonly types = new Map<number, WireType>();
  readonly limits: Required<DecoderOptions>;
  private readonly queue = new ByteQueue();
  private failure: GobError | undefined;

  constructor(options: DecoderOptions = {}) {
    this.limits = {
      maxMessageBytes: options.maxMessageBytes ?? 16 * 1024 * 1024,
      maxTypes: options.maxTypes ?? 10_000,
      maxDepth: options.maxDepth ?? 100,
    };
  }

  /** Bytes received and not yet part of a complete value. */
  get buffered(): number {
    return this.queue.end - this.queue.start;
  }

  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    this.queue.push(chunk);
  }

  /** The next complete value, or undefined until more bytes arrive. Throws GobError on malformed input. */
  read(): { value: GobValue } | undefined {
    if (this.failure) throw this.failure;
    try {
      for (;;) {
        const attempt = new Attempt(this.queue, this);
        attempt.nextMessage();
        const id = attempt.typeId();
        if (id < 0) {
          attempt.receiveType(-id);
          if (attempt.remaining > 0) attempt.fail(`${attempt.remaining} bytes left after a type definition`);
          this.commit(attempt);
          continue;
        }
        if (id === 0) attempt.fail('invalid type id 0');
        const value = attempt.body(id, 0);
        if (attempt.remaining > 0) attempt.fail(`${attempt.remaining} bytes left after a value`);
        this.commit(attempt);
        return { value };
      }
    } catch (error) {
      if (error === NEED_MORE) return undefined;
      this.failure = error instanceof GobError ? error : new GobError(`gob: ${String(error)}`);
      throw this.failure;
    }
  }

  /** Every complete value available now. */
  readAll(): GobValue[] {
    const values: GobValue[] = [];
    for (let next = this.read(); next; next = this.read()) values.push(next.value);
    return values;
  }

  /** Call at the end of the stream: leftover bytes mean it was cut in the middle of a value. */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.buffered > 0) {
      this.failure = new GobError(`gob: stream ended inside a value (${this.buffered} bytes unread)`);
      throw this.failure;
    }
  }

  private commit(attempt: Attempt): void {
    for (const [id, wire] of attempt.staged) this.types.set(id, wire);
    this.queue.advance(attempt.pos);
  }
}

/** Decodes a complete stream. */
export function decodeAll(bytes: Uint8Array, options: DecoderOptions = {}): GobValue[] {
  const decoder = new GobDecoder(options);
  decoder.push(bytes);
  const values = decoder.readAll();
  decoder.finish();
  return values;
}
