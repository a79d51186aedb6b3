/** The fast path's reading of a command line: what it answers itself and what it leaves to oclif. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFast } from '../../src/fast.js';

describe('parseFast', () => {
  it('reads the everyday commands with their own flags, env fallbacks and defaults', () => {
    assert.deepEqual(parseFast(['env', '--shell', 'fish', 'web'], {}), {
      id: 'env',
      rest: ['--shell', 'fish', 'web'],
      flags: { shell: 'fish', unset: false, 'no-proxy': false },
      args: ['web'],
    });
    assert.deepEqual(parseFast(['ls', '--filter', 'a=1', '--filter=b=2', '-q'], { MOOR_LS_TIMEOUT: '90' })?.flags, {
      filter: ['a=1', 'b=2'],
      quiet: true,
      timeout: 90,
    });
    assert.deepEqual(parseFast(['active'], {})?.flags, { timeout: 10 });
    assert.deepEqual(parseFast(['ls', '-t', '5'], { MOOR_LS_TIMEOUT: '90' })?.flags['timeout'], 5, 'the flag wins');
    assert.deepEqual(parseFast(['-s', '/x', 'url', 'web'], {}), {
      id: 'url',
      rest: ['-s', '/x', 'web'],
      flags: { 'storage-path': '/x' },
      args: ['web'],
    });
    assert.equal(parseFast(['inspect', 'web'], { MOOR_STORAGE_PATH: '/s' })?.flags['storage-path'], '/s');
  });

  const refused: [string[], NodeJS.ProcessEnv][] = [
    [['create', 'web'], {}],
    [[], {}],
    [['env', '--help'], {}],
    [['env', '-h'], {}],
    [['ls', '--json'], {}],
    [['url', 'web', '--debug'], {}],
    [['url', 'web'], { MOOR_DEBUG: '1' }],
    [['url', 'web'], { DEBUG: '*' }],
    [['url', 'web', 'db'], {}],
    [['ls', 'web'], {}],
    [['ls', '--timeout', '0'], {}],
    [['ls', '--timeout', 'abc'], {}],
    [['ls'], { MOOR_LS_TIMEOUT: 'abc' }],
    [['ls'], { MOOR_LS_FORMAT: '' }],
    [['ls', '--format'], {}],
    [['ls', '--format', ''], {}],
    [['env', '--shell', '-u'], {}],
    [['env', '-u', '-u'], {}],
    [['env', '--unset=true'], {}],
    [['inspect', '-f', 'a', '-f', 'b'], {}],
    [['inspect', 'web', '--', 'x'], {}],
    [['env', ''], {}],
    [['ls', '-qt', '5'], {}],
    [['toString'], {}],
  ];
  for (const [argv, env] of refused) {
    it(`leaves "${argv.join(' ')}"${Object.keys(env).length ? ` with ${Object.keys(env).join(',')}` : ''} to oclif`, () => {
      assert.equal(parseFast(argv, env), undefined);
    });
  }
});
