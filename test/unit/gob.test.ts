/**
 * The gob codec on its own (its agreement with Go is in test/integration/go-gob.test.ts): Go's documented
 * examples, round trips of every kind, streaming over arbitrary chunk boundaries, and malformed, truncated
 * and hostile input failing with clear errors and bounded work.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as gob from '../../drivers/plugin/gob/index.js';
import { GOB_CASES } from '../helpers/gob-cases.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytesOf = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
/** A message: its length, then its bytes. */
const message = (...bytes: number[]): number[] => [bytes.length, ...bytes];
const Point = gob.struct('main.Point', [
  ['X', gob.int],
  ['Y', gob.int],
]);

function decodeError(bytes: Uint8Array | number[], pattern: RegExp, options: gob.DecoderOptions = {}): void {
  assert.throws(
    () => {
      const decoder = new gob.GobDecoder(options);
      decoder.push(Uint8Array.from(bytes));
      decoder.readAll();
      decoder.finish();
    },
    (error: unknown) => error instanceof gob.GobError && pattern.test(error.message),
  );
}

describe('gob: Go’s documented encodings', () => {
  it('encodes Point{22, 33} as encoding/gob’s documentation shows, and the second time without its type', () => {
    const encoder = new gob.GobEncoder();
    assert.equal(
      hex(encoder.encode(Point, { X: 22, Y: 33 })),
      hex(
        bytesOf(`1f ff 81 03 01 01 05 50 6f 69 6e 74 01 ff 82 00 01 02 01 01 58 01 04 00 01 01 59 01 04 00 00 00
                 07 ff 82 01 2c 01 42 00`),
      ),
    );
    assert.equal(hex(encoder.encode(Point, { X: 22, Y: 33 })), '07ff82012c014200');
  });

  it('encodes single values, ints, floats as documented', () => {
    const one = (type: gob.GobType, value: unknown): string => hex(new gob.GobEncoder().encode(type, value));
    assert.equal(one(gob.int, 3), '03040006');
    assert.equal(one(gob.int, -129), '050400fe0101');
    assert.equal(one(gob.uint, 256), '050600fe0100');
    assert.equal(one(gob.float, 17), '050800fe3140');
  });
});

describe('gob: round trips', () => {
  for (const testCase of GOB_CASES) {
    it(testCase.name, () => {
      const bytes = new gob.GobEncoder().encodeMany(testCase.items);
      assert.deepStrictEqual(gob.decodeAll(bytes), testCase.decoded);
    });
  }

  it('decodes every kind after several values on one stream, types sent once', () => {
    const encoder = new gob.GobEncoder();
    const decoder = new gob.GobDecoder();
    for (let round = 0; round < 3; round++) {
      for (const testCase of GOB_CASES) {
        decoder.push(encoder.encodeMany(testCase.items));
        assert.deepStrictEqual(decoder.readAll(), testCase.decoded, testCase.name);
      }
    }
    assert.equal(decoder.buffered, 0);
  });

  it('fills omitted fields with zero values; a struct behind a nil pointer is null', () => {
    const Node = gob.struct('main.Node', [
      ['Name', gob.string],
      ['Child', gob.pointer(Point)],
      ['Tags', gob.map(gob.string, gob.string)],
    ]);
    assert.deepStrictEqual(gob.decodeAll(new gob.GobEncoder().encode(Node, {})), [
      { Name: '', Child: null, Tags: new Map() },
    ]);
    assert.deepStrictEqual(gob.decodeAll(new gob.GobEncoder().encode(Node, { Child: {}, Tags: {} })), [
      { Name: '', Child: { X: 0, Y: 0 }, Tags: new Map() },
    ]);
  });

  it('keeps a field named like a prototype property a plain field', () => {
    // Go never sends such a name (fields are exported), but a hostile stream could.
    const stream = new gob.GobEncoder().encode(gob.struct('main.T', [['X', gob.int]]), { X: 1 });
    const patched = Buffer.from(stream);
    const at = patched.indexOf('0158', 0, 'hex'); // field name "X" (length 1)
    const renamed = Buffer.concat([patched.subarray(0, at), Buffer.from([9]), Buffer.from('__proto__')]);
    const rest = patched.subarray(at + 2);
    const bytes = Buffer.concat([renamed, rest]);
    bytes[0] = bytes[0]! + 8; // the type definition message grew by 8 bytes
    const [value] = gob.decodeAll(bytes) as [Record<string, unknown>];
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(value, '__proto__')?.value, 1);
  });
});

describe('gob: streaming', () => {
  const stream = new gob.GobEncoder().encodeMany(GOB_CASES.flatMap((testCase) => testCase.items));
  const expected = GOB_CASES.flatMap((testCase) => testCase.decoded);

  it('decodes the same values whatever the chunk boundaries', () => {
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      const decoder = new gob.GobDecoder();
      const values: gob.GobValue[] = [];
      for (let at = 0; at < stream.length; at += size) {
        decoder.push(stream.subarray(at, at + size));
        values.push(...decoder.readAll());
      }
      decoder.finish();
      assert.deepStrictEqual(values, expected, `chunks of ${size}`);
    }
  });

  it('waits for the rest of a value split after its interface type definitions', () => {
    const nested = GOB_CASES.find((testCase) => testCase.name === 'nested-interface')!;
    const bytes = new gob.GobEncoder().encodeMany(nested.items);
    for (let cut = 1; cut < bytes.length; cut++) {
      const decoder = new gob.GobDecoder();
      decoder.push(bytes.subarray(0, cut));
      assert.deepStrictEqual(decoder.readAll(), []);
      decoder.push(bytes.subarray(cut));
      assert.deepStrictEqual(decoder.readAll(), nested.decoded, `cut at ${cut}`);
    }
  });

  it('reports a stream that ends inside a value', () => {
    decodeError(stream.subarray(0, stream.length - 1), /stream ended inside a value/);
  });
});

describe('gob: malformed and hostile input', () => {
  it('rejects an unsigned int longer than 8 bytes', () => {
    decodeError(message(0xf7, 1, 2, 3, 4, 5, 6, 7, 8, 9), /invalid unsigned integer length byte 0xf7/);
  });

  it('rejects a message length over the limit before its bytes arrive', () => {
    decodeError([0xfc, 0x40, 0, 0, 0], /message of 1073741824 bytes exceeds the limit of 16777216/);
    decodeError(message(0x04, 0x00, 0x06), /exceeds the limit of 2/, { maxMessageBytes: 2 });
  });

  it('rejects a string longer than its message', () => {
    decodeError(
      message(0x0c, 0x00, 0xfc, 0x7f, 0xff, 0xff, 0xff, 0x61),
      /string length 2147483647 exceeds the 1 bytes left in the message/,
    );
  });

  it('rejects a slice claiming more elements than the limit, and one running out of elements', () => {
    const Strings = new gob.GobEncoder().encode(gob.slice(gob.string), ['a']);
    const typeDefinition = [...Strings.subarray(0, Strings[0]! + 1)];
    decodeError(
      [...typeDefinition, ...message(0xff, 0x82, 0x00, 0xfc, 0x7f, 0xff, 0xff, 0xff)],
      /slice length 2147483647 is larger than/,
    );
    decodeError(
      [...typeDefinition, ...message(0xff, 0x82, 0x00, 0x64, 0x01, 0x61)],
      /needs 1 bytes, the message has 0 left/,
    );
  });

  it('rejects undefined, reserved and duplicate type ids', () => {
    decodeError(message(0xff, 0x82, 0x00), /undefined type id 65/);
    decodeError(message(0x00), /invalid type id 0/);
    const definition = [...new gob.GobEncoder().encode(Point, {})].slice(0, 32);
    decodeError([...definition, ...definition], /duplicate definition of type id 65/);
    const reserved = [...definition];
    reserved[2] = 0x3f; // -(32)
    decodeError(reserved, /type definition for reserved id 32/);
  });

  it('rejects a field number past the struct’s fields and a singleton without its zero delta', () => {
    const bytes = [...new gob.GobEncoder().encode(Point, { X: 1 })];
    const definitionLength = bytes[0]! + 1;
    decodeError(
      [...bytes.slice(0, definitionLength), ...message(0xff, 0x82, 0x03, 0x02, 0x00)],
      /field number 2 out of range for struct Point/,
    );
    decodeError(message(0x04, 0x01, 0x06), /non-zero field delta 1 before a single value/);
  });

  it('rejects leftover bytes after a value and after a type definition', () => {
    decodeError(message(0x04, 0x00, 0x06, 0x00), /1 bytes left after a value/);
    const definition = [...new gob.GobEncoder().encode(Point, {})].slice(0, 32);
    decodeError([definition[0]! + 1, ...definition.slice(1), 0x00], /1 bytes left after a type definition/);
  });

  it('rejects an interface type name over 1024 bytes', () => {
    decodeError(message(0x10, 0x00, 0xfe, 0x04, 0x01), /interface type name length 1025 is larger than 1024/);
  });

  it('bounds nesting depth and the number of type definitions', () => {
    let deep: gob.GobType = gob.int;
    for (let level = 0; level < 20; level++) deep = gob.slice(deep);
    let value: unknown = [1];
    for (let level = 1; level < 20; level++) value = [value];
    const bytes = new gob.GobEncoder().encode(deep, value);
    decodeError(bytes, /values nested deeper than 10/, { maxDepth: 10 });
    assert.equal(gob.decodeAll(bytes).length, 1);
    decodeError(bytes, /more than 5 type definitions/, { maxTypes: 5 });
  });

  it('stays failed after an error', () => {
    const decoder = new gob.GobDecoder();
    decoder.push(Uint8Array.from(message(0x00)));
    assert.throws(() => decoder.read(), /invalid type id 0/);
    assert.throws(() => decoder.push(new gob.GobEncoder().encode(gob.int, 1)), /invalid type id 0/);
  });
});

describe('gob: encoder errors', () => {
  it('says which value does not fit its type, and sends nothing for it', () => {
    const encoder = new gob.GobEncoder();
    const Holder = gob.struct('main.Holder', [['Points', gob.slice(Point)]]);
    assert.throws(
      () => encoder.encode(Holder, { Points: [{ X: 1 }, { X: 'two' }] }),
      /main\.Holder\.Points\[1\]\.X: expected an integer, got string two/,
    );
    // The failed value's types were not recorded as sent: the next value defines them.
    assert.deepStrictEqual(gob.decodeAll(encoder.encode(Holder, { Points: [{ X: 1 }] })), [
      { Points: [{ X: 1, Y: 0 }] },
    ]);
  });

  it('refuses out-of-range ints, nil pointers in slices and unnamed interface values', () => {
    const encoder = new gob.GobEncoder();
    assert.throws(() => encoder.encode(gob.int, 2n ** 63n), /out of range/);
    assert.throws(() => encoder.encode(gob.uint, -1), /out of range/);
    assert.throws(() => encoder.encode(gob.slice(gob.pointer(Point)), [null]), /cannot encode a nil pointer/);
    assert.throws(() => encoder.encode(gob.iface, { value: 1 }), /expected an interface value/);
    assert.throws(() => encoder.encode(gob.array(gob.int, 2), [1]), /needs 2 elements, got 1/);
  });
});
