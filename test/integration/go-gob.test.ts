/**
 * moor's gob against Go's encoding/gob (test/fixtures/go/gobdump, one fresh Go process per case): moor's
 * bytes equal Go's for every deterministic case (the RPC headers, RPCFlags in an interface, []byte, the
 * flag slice, every value kind), Go decodes moor's stream of every case back to the case's Go values, and
 * moor decodes Go's stream of every case, whole and one byte at a time.
 * Needs Go (Debian's golang-go): skipped without it, except in CI where that is a failure.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as gob from '../../drivers/plugin/gob/index.js';
import { GOB_CASES } from '../helpers/gob-cases.js';
import { gobdump, goPrograms, goSkip, type GoPrograms } from '../helpers/go.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('gob against Go', { skip: goSkip }, () => {
  let programs: GoPrograms;
  before(async () => {
    programs = await goPrograms();
  });

  for (const testCase of GOB_CASES) {
    describe(testCase.name, () => {
      it('Go decodes moor’s stream to the same Go values', async () => {
        const ours = new gob.GobEncoder().encodeMany(testCase.items);
        const result = await gobdump(programs, 'check', testCase.name, ours);
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stdout.toString().trim(), 'ok');
      });

      if (testCase.byteExact) {
        it('moor’s bytes are Go’s bytes', async () => {
          const go = await gobdump(programs, 'encode', testCase.name);
          assert.equal(go.status, 0, go.stderr);
          assert.equal(hex(new gob.GobEncoder().encodeMany(testCase.items)), hex(go.stdout));
        });
      }

      it('moor decodes Go’s stream, whole and a byte at a time', async () => {
        const go = await gobdump(programs, 'encode', testCase.name);
        assert.equal(go.status, 0, go.stderr);
        assert.deepStrictEqual(gob.decodeAll(go.stdout), testCase.decoded);
        const decoder = new gob.GobDecoder();
        const values: gob.GobValue[] = [];
        for (const byte of go.stdout) {
          decoder.push(Uint8Array.of(byte));
          values.push(...decoder.readAll());
        }
        decoder.finish();
        assert.deepStrictEqual(values, testCase.decoded);
      });
    });
  }
});
