/**
 * Gob encoder: one per stream, as in Go. Type ids are assigned from 65 in the order Go assigns them (a
 * struct before its fields, a slice, array or map after its elements), and each type is defined once per
 * stream, before the first value that needs it, so the bytes match a Go encoder's in a fresh process.
 */
import { ByteWriter } from './wire.js';
import {
  base,
  bootstrap,
  builtinIdOf,
  BuiltinId,
  FIRST_USER_ID,
  GobError,
  MAX_NAME_LENGTH,
  registeredNameOf,
  type GobType,
  type InterfaceValue,
  type StructType,
  type WireType,
} from './types.js';

interface Defined {
  id: number;
  wire: WireType | undefined;
}

/** Gob's own types, known to both sides under fixed ids (never sent). */
const BOOTSTRAP_IDS = new Map<string, number>([
  ['gob.wireType', BuiltinId.wireType],
  ['gob.arrayType', BuiltinId.arrayType],
  ['gob.CommonType', BuiltinId.commonType],
  ['gob.sliceType', BuiltinId.sliceType],
  ['gob.structType', BuiltinId.structType],
  ['gob.fieldType', BuiltinId.fieldType],
  ['[]*gob.fieldType', BuiltinId.fieldTypeSlice],
  ['gob.mapType', BuiltinId.mapType],
  ['gob.gobEncoderType', BuiltinId.gobEncoderType],
]);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'a Uint8Array';
  if (value instanceof Map) return 'a Map';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function mismatch(path: string, expected: string, value: unknown): never {
  throw new GobError(`gob: ${path}: expected ${expected}, got ${describe(value)}`);
}

/** Whether a struct field holding `value` is left out, as Go leaves out zero values. */
function omitted(type: GobType, value: unknown): boolean {
  if (value === undefined || value === null) {
    const resolved = base(type);
    // A struct or array that is not behind a pointer is always sent, even when zero.
    return type.kind === 'pointer' || (resolved.kind !== 'struct' && resolved.kind !== 'array');
  }
  const resolved = base(type);
  switch (resolved.kind) {
    case 'bool':
      return value === false;
    case 'int':
    case 'uint':
    case 'float':
      return value === 0 || value === 0n;
    case 'complex': {
      const { real, imag } = value as { real?: unknown; imag?: unknown };
      return real === 0 && imag === 0;
    }
    case 'string':
      return value === '';
    case 'bytes':
    case 'slice':
      return (value as { length?: unknown }).length === 0;
    default:
      // Maps are sent when non-nil, even when empty; structs and arrays always; interfaces when non-nil.
      return false;
  }
}

export class GobEncoder {
  private readonly defined = new Map<string, Defined>();
  private sent = new Set<string>();
  private nextId = FIRST_USER_ID;

  /** Encodes one value (and the definitions of the types it needs) as bytes to send on the stream. */
  encode(type: GobType, value: unknown): Uint8Array {
    return this.encodeMany([[type, value]]);
  }

  /** Encodes several values in order; on any error nothing is recorded as sent, so the stream stays usable. */
  encodeMany(items: readonly (readonly [GobType, unknown])[]): Uint8Array {
    const sentBefore = new Set(this.sent);
    const stream = new ByteWriter();
    try {
      for (const [type, value] of items) {
        const message = new ByteWriter();
        this.sendType(stream, message, type);
        message.int(this.typeId(base(type).goName, type));
        this.encodeBody(stream, message, type, value, base(type).goString);
        this.writeMessage(stream, message);
      }
    } catch (error) {
      this.sent = sentBefore;
      throw error;
    }
    return stream.view().slice();
  }

  /** Go's writeMessage: the buffer so far, prefixed by its length, goes to the writer; the buffer restarts. */
  private writeMessage(writer: ByteWriter, message: ByteWriter): void {
    writer.uint(message.length);
    writer.raw(message.view());
    message.reset();
  }

  /** The id of a type, assigning ids to it and to the types inside it as Go does (getType/newTypeObject). */
  private typeId(name: string, type: GobType): number {
    const resolved = base(type);
    const builtin = builtinIdOf(resolved) ?? BOOTSTRAP_IDS.get(resolved.goString);
    if (builtin !== undefined) return builtin;
    const known = this.defined.get(resolved.goString);
    if (known) return known.id;
    const entry: Defined = { id: 0, wire: undefined };
    this.defined.set(resolved.goString, entry);
    switch (resolved.kind) {
      case 'array': {
        const elem = this.typeId('', resolved.elem);
        entry.id = this.nextId++;
        entry.wire = { kind: 'array', name, elem, length: resolved.length };
        break;
      }
      case 'map': {
        const key = this.typeId('', resolved.key);
        const elem = this.typeId('', resolved.elem);
        entry.id = this.nextId++;
        entry.wire = { kind: 'map', name, key, elem };
        break;
      }
      case 'slice': {
        const elem = this.typeId(resolved.elem.goName, resolved.elem);
        entry.id = this.nextId++;
        entry.wire = { kind: 'slice', name, elem };
        break;
      }
      case 'struct': {
        // A struct gets its id before its fields do.
        entry.id = this.nextId++;
        const fields = resolved.fields.map((field) => {
          const fieldBase = base(field.type);
          return { name: field.name, id: this.typeId(fieldBase.goName || fieldBase.goString, field.type) };
        });
        entry.wire = { kind: 'struct', name, fields };
        break;
      }
    }
    return entry.id;
  }

  /** Go's sendType: defines the type, then the types inside it, each as its own message, once per stream. */
  private sendType(writer: ByteWriter, message: ByteWriter, type: GobType): void {
    const resolved = base(type);
    if (builtinIdOf(resolved) !== undefined || this.sent.has(resolved.goString)) return;
    const id = this.typeId(resolved.goName, resolved);
    const wire = this.defined.get(resolved.goString)?.wire;
    if (!wire) throw new GobError(`gob: no definition for type ${resolved.goString}`);
    message.int(-id);
    this.encodeStruct(writer, message, bootstrap.wireType, wireTypeValue(wire, id), 'wireType');
    this.writeMessage(writer, message);
    this.sent.add(resolved.goString);
    switch (resolved.kind) {
      case 'struct':
        for (const field of resolved.fields) this.sendType(writer, message, field.type);
        break;
      case 'array':
      case 'slice':
        this.sendType(writer, message, resolved.elem);
        break;
      case 'map':
        this.sendType(writer, message, resolved.key);
        this.sendType(writer, message, resolved.elem);
        break;
    }
  }

  /** A top-level value (or an interface's content): a struct as is, anything else as a one-field struct. */
  private encodeBody(writer: ByteWriter, message: ByteWriter, type: GobType, value: unknown, path: string): void {
    const resolved = base(type);
    if (type.kind === 'pointer' && (value === null || value === undefined)) {
      throw new GobError(`gob: ${path}: cannot encode a nil pointer`);
    }
    if (resolved.kind === 'struct') {
      this.encodeStruct(writer, message, resolved, value, path);
    } else {
      message.uint(0);
      this.encodeValue(writer, message, resolved, value, path);
    }
  }

  private encodeStruct(writer: ByteWriter, message: ByteWriter, type: StructType, value: unknown, path: string): void {
    if (value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value))) {
      mismatch(path, `an object for struct ${type.goString}`, value);
    }
    const record = (value ?? {}) as Record<string, unknown>;
    let fieldNumber = -1;
    type.fields.forEach((field, index) => {
      const fieldValue = Object.hasOwn(record, field.name) ? record[field.name] : undefined;
      if (omitted(field.type, fieldValue)) return;
      message.uint(index - fieldNumber);
      fieldNumber = index;
      this.encodeValue(writer, message, field.type, fieldValue, `${path}.${field.name}`);
    });
    message.uint(0);
  }

  /** One value, sent even when zero. A missing value (undefined or null) is Go's zero value of the type. */
  private encodeValue(writer: ByteWriter, message: ByteWriter, type: GobType, value: unknown, path: string): void {
    const missing = value === undefined || value === null;
    switch (type.kind) {
      case 'pointer':
        if (missing) throw new GobError(`gob: ${path}: cannot encode a nil pointer`);
        return this.encodeValue(writer, message, type.elem, value, path);
      case 'bool':
        if (!missing && typeof value !== 'boolean') mismatch(path, 'a boolean', value);
        return message.uint(value === true ? 1 : 0);
      case 'int':
      case 'uint': {
        const number = missing ? 0 : value;
        if (!(typeof number === 'bigint' || Number.isInteger(number))) mismatch(path, 'an integer', value);
        try {
          if (type.kind === 'int') message.int(number as number | bigint);
          else message.uint(number as number | bigint);
        } catch (error) {
          throw new GobError(`gob: ${path}: ${(error as Error).message}`);
        }
        return;
      }
      case 'float':
        if (!missing && typeof value !== 'number') mismatch(path, 'a number', value);
        return message.float(missing ? 0 : (value as number));
      case 'complex': {
        const { real = 0, imag = 0 } = (value ?? {}) as { real?: unknown; imag?: unknown };
        if (typeof real !== 'number' || typeof imag !== 'number') mismatch(path, 'a { real, imag } pair', value);
        message.float(real);
        return message.float(imag);
      }
      case 'string':
        if (!missing && typeof value !== 'string') mismatch(path, 'a string', value);
        return message.string(missing ? '' : (value as string));
      case 'bytes':
        if (!missing && !(value instanceof Uint8Array)) mismatch(path, 'a Uint8Array', value);
        return message.counted(missing ? new Uint8Array(0) : (value as Uint8Array));
      case 'slice':
      case 'array': {
        if (!missing && !Array.isArray(value)) mismatch(path, `an array for ${type.goString}`, value);
        const length = type.kind === 'array' ? type.length : missing ? 0 : (value as unknown[]).length;
        const items = missing ? [] : (value as unknown[]);
        if (type.kind === 'array' && !missing && items.length !== length) {
          throw new GobError(`gob: ${path}: ${type.goString} needs ${length} elements, got ${items.length}`);
        }
        message.uint(length);
        for (let index = 0; index < length; index++) {
          this.encodeValue(writer, message, type.elem, items[index], `${path}[${index}]`);
        }
        return;
      }
      case 'map': {
        let entries: [unknown, unknown][];
        if (missing) entries = [];
        else if (value instanceof Map) entries = [...value.entries()];
        else if (typeof value === 'object' && !Array.isArray(value)) entries = Object.entries(value);
        else mismatch(path, `a Map or an object for ${type.goString}`, value);
        message.uint(entries.length);
        for (const [key, elem] of entries) {
          this.encodeValue(writer, message, type.key, key, `${path} key`);
          this.encodeValue(writer, message, type.elem, elem, `${path}[${JSON.stringify(String(key))}]`);
        }
        return;
      }
      case 'struct':
        return this.encodeStruct(writer, message, type, value, path);
      case 'interface':
        return this.encodeInterface(writer, message, value, path);
    }
  }

  /**
   * The concrete type's registered name, its definitions (flushing the message so far, as Go does), its id,
   * then its value as a length-prefixed message of its own. Nil is the empty name.
   */
  private encodeInterface(writer: ByteWriter, message: ByteWriter, value: unknown, path: string): void {
    if (value === undefined || value === null) return message.uint(0);
    const item = value as Partial<InterfaceValue>;
    if (typeof item !== 'object' || item.type === undefined || typeof item.type.kind !== 'string') {
      mismatch(path, 'an interface value { type, value }', value);
    }
    const concrete = item.type;
    if (base(concrete).kind === 'interface') throw new GobError(`gob: ${path}: an interface cannot hold an interface`);
    const name = item.name ?? registeredNameOf(concrete);
    if (name === '' || name.length > MAX_NAME_LENGTH) throw new GobError(`gob: ${path}: invalid type name "${name}"`);
    message.string(name);
    this.sendType(writer, message, concrete);
    message.int(this.typeId(base(concrete).goName, concrete));
    const content = new ByteWriter();
    this.encodeBody(message, content, concrete, item.value, `${path}(${name})`);
    this.writeMessage(message, content);
  }
}

/** A type definition as a value of gob's wireType struct. */
function wireTypeValue(wire: WireType, id: number): Record<string, unknown> {
  const common = { Name: wire.name, Id: id };
  switch (wire.kind) {
    case 'array':
      return { ArrayT: { CommonType: common, Elem: wire.elem, Len: wire.length } };
    case 'slice':
      return { SliceT: { CommonType: common, Elem: wire.elem } };
    case 'struct':
      return { StructT: { CommonType: common, Field: wire.fields.map((f) => ({ Name: f.name, Id: f.id })) } };
    case 'map':
      return { MapT: { CommonType: common, Key: wire.key, Elem: wire.elem } };
    case 'marshaler':
      throw new GobError(`gob: encoding ${wire.marshaler} types is not supported`);
  }
}
