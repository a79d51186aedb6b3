import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeArgv } from '../../src/cli/argv.js';

describe('global flags before the command (docker-machine style)', () => {
  it('moves them behind the command', () => {
    assert.deepEqual(normalizeArgv(['-s', '/tmp/s', 'ls', '-q']), ['ls', '-s', '/tmp/s', '-q']);
    assert.deepEqual(normalizeArgv(['--storage-path=/x', '-D', 'env', 'web']), [
      'env',
      '--storage-path=/x',
      '-D',
      'web',
    ]);
    assert.deepEqual(normalizeArgv(['--debug', '--storage-path', '/x', 'create', '-d', 'none', 'a']), [
      'create',
      '--debug',
      '--storage-path',
      '/x',
      '-d',
      'none',
      'a',
    ]);
  });
  it('leaves everything else alone', () => {
    assert.deepEqual(normalizeArgv(['ls', '-s', '/x']), ['ls', '-s', '/x']);
    assert.deepEqual(normalizeArgv(['--help']), ['--help']);
    assert.deepEqual(normalizeArgv(['-D']), ['-D']);
    assert.deepEqual(normalizeArgv(['-s', '/x', '--help']), ['-s', '/x', '--help']);
    assert.deepEqual(normalizeArgv([]), []);
  });
});
