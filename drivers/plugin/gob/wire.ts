/**
 * Gob's primitive encodings: unsigned ints (one byte below 128, else a negated byte count and the
 * big-endian bytes), signed ints (the low bit says "complement"), floats (the 64 bits byte-reversed, then
 * sent as an unsigned int), and length-prefixed bytes.
 */
import { GobError } from './types.js';

const MAX_UINT64 = (1n << 64n) - 1n;
const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;
const scratch = new DataView(new ArrayBuffer(8));
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A growable byte buffer that writes gob's primitives. */
export class ByteWriter {
  private data = new Uint8Array(64);
  private size = 0;

  get length(): number {
    return this.size;
  }

  /** The bytes written so far (a view: copy before writing more). */
  view(): Uint8Array {
    return this.data.subarray(0, this.size);
  }

  reset(): void {
    this.size = 0;
  }

  private reserve(extra: number): void {
    if (this.size + extra <= this.data.length) return;
    const grown = new Uint8Array(Math.max(this.data.length * 2, this.size + extra));
    grown.set(this.view());
    this.data = grown;
  }

  byte(value: number): void {
    this.reserve(1);
    this.data[this.size++] = value;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.data.set(bytes, this.size);
    this.size += bytes.length;
  }

  uint(value: number | bigint): void {
    let rest = BigInt(value);
    if (rest < 0n || rest > MAX_UINT64) throw new GobError(`unsigned integer ${value} is out of range`);
    if (rest <= 0x7fn) {
      this.byte(Number(rest));
      return;
    }
    const digits: number[] = [];
    while (rest > 0n) {
      digits.unshift(Number(rest & 0xffn));
      rest >>= 8n;
    }
    this.byte(256 - digits.length);
    for (const digit of digits) this.byte(digit);
  }

  int(value: number | bigint): void {
    const signed = BigInt(value);
    if (signed < MIN_INT64 || signed > MAX_INT64) throw new GobError(`integer ${value} is out of range`);
    this.uint(signed < 0n ? (~signed << 1n) | 1n : signed << 1n);
  }

  float(value: number): void {
    scratch.setFloat64(0, value, true);
    this.uint(scratch.getBigUint64(0, false));
  }

  /** A count followed by the bytes (strings and []byte). */
  counted(bytes: Uint8Array): void {
    this.uint(bytes.length);
    this.raw(bytes);
  }

  string(value: string): void {
    this.counted(utf8.encode(value));
  }
}

/** Signals that the input ended before a message was complete: not an error, wait for more. */
export const NEED_MORE: unique symbol = Symbol('gob: need more input');

/** A number when it is exactly representable, otherwise a bigint. */
export function narrow(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/**
 * Reads gob's primitives from `bytes`, between `pos` and `end` (the end of the current message). Running
 * past `end` is an error: a message arrives whole, so a value that does not fit in it is malformed.
 */
export class ByteReader {
  constructor(
    protected bytes: Uint8Array,
    public pos: number,
    public end: number,
    /** Added to positions in error messages: where `bytes[0]` sits in the whole stream. */
    protected streamOffset: number,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string): never {
    throw new GobError(`gob: ${message} (at byte ${this.streamOffset + this.pos} of the stream)`);
  }

  private need(count: number, what: string): void {
    if (count > this.end - this.pos) {
      this.fail(`${what}: needs ${count} bytes, the message has ${this.end - this.pos} left`);
    }
  }

  uint(): number | bigint {
    this.need(1, 'unsigned integer');
    const first = this.bytes[this.pos++] ?? 0;
    if (first <= 0x7f) return first;
    const count = 256 - first;
    if (count > 8) this.fail(`invalid unsigned integer length byte 0x${first.toString(16)}`);
    this.need(count, 'unsigned integer');
    let value = 0n;
    for (let i = 0; i < count; i++) value = (value << 8n) | BigInt(this.bytes[this.pos++] ?? 0);
    return narrow(value);
  }

  int(): number | bigint {
    const unsigned = BigInt(this.uint());
    const magnitude = unsigned >> 1n;
    return narrow((unsigned & 1n) === 1n ? ~magnitude : magnitude);
  }

  float(): number {
    scratch.setBigUint64(0, BigInt(this.uint()), false);
    return scratch.getFloat64(0, true);
  }

  /** An unsigned int that must be a small non-negative number no larger than `limit`. */
  count(what: string, limit: number): number {
    const value = this.uint();
    if (typeof value === 'bigint' || value > limit) this.fail(`${what} ${value} is larger than ${limit}`);
    return value;
  }

  /** A type id: a signed int that fits in Go's int32. */
  typeId(): number {
    const value = this.int();
    if (typeof value === 'bigint' || value > 0x7fffffff || value < -0x7fffffff) this.fail(`invalid type id ${value}`);
    return value;
  }

  /** A count and that many bytes, copied. */
  counted(what: string): Uint8Array {
    const length = this.uint();
    if (typeof length === 'bigint' || length > this.remaining) {
      this.fail(`${what} length ${length} exceeds the ${this.remaining} bytes left in the message`);
    }
    const bytes = this.bytes.slice(this.pos, this.pos + length);
    this.pos += length;
    return bytes;
  }

  string(): string {
    return fromUtf8.decode(this.counted('string'));
  }
}
