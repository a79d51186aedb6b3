/**
 * A MoorError from another copy of src/core/errors.ts (an npm driver package importing `moor/driver-api`
 * at run time loads moor's driver API a second time) is still a MoorError: its code, exit code and
 * suggestions reach the user. Subclasses keep the ordinary instanceof.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExitCode, MoorError, PreCreateCheckError, UsageError } from '../../src/core/errors.js';

// The same file under another URL is another module instance: other classes, as a second copy would have.
const other = (await import(
  new URL('../../src/core/errors.ts?second-copy', import.meta.url).href
)) as typeof import('../../src/core/errors.js');

describe('MoorError across copies of the module', () => {
  it('the second copy has classes of its own', () => {
    assert.notEqual(other.MoorError, MoorError);
    assert.notEqual(other.UsageError, UsageError);
  });

  it('an error of the other copy is a MoorError here, and one of ours is one there', () => {
    const foreign = new other.UsageError('bad flag', ['do this']);
    assert.ok(foreign instanceof MoorError);
    assert.ok(new UsageError('x') instanceof other.MoorError);
    assert.ok(new other.MoorError('m', { code: 'X' }) instanceof MoorError);
    assert.equal(foreign.exitCode, ExitCode.usage);
    assert.deepEqual(foreign.suggestions, ['do this']);
  });

  it('subclasses keep the ordinary test; plain errors and non-objects are not MoorErrors', () => {
    const ours = new UsageError('x');
    assert.ok(ours instanceof UsageError);
    assert.ok(!(new MoorError('m', { code: 'X' }) instanceof UsageError));
    assert.ok(!(ours instanceof PreCreateCheckError));
    assert.ok(!(new other.UsageError('x') instanceof UsageError), 'a subclass test is per copy');
    for (const value of [new Error('plain'), null, undefined, 'MoorError', { code: 'X', exitCode: 2 }]) {
      assert.ok(!(value instanceof MoorError), String(value));
    }
  });
});
