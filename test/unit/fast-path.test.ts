/** The fast path's reading of a command line: what it answers itself and what it leaves to oclif. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Create from '../../src/commands/create.js';
import { BaseCommand } from '../../src/base-command.js';
import { FAST_COMMANDS, parseFast } from '../../src/fast.js';

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

  it('reads a plain create with the none driver', () => {
    assert.deepEqual(
      parseFast(['create', '-d', 'none', '--url', 'tcp://h:1', '--tls-san', 'a', '--tls-san=b', 'web'], {}),
      {
        id: 'create',
        rest: ['-d', 'none', '--url', 'tcp://h:1', '--tls-san', 'a', '--tls-san=b', 'web'],
        flags: { driver: 'none', url: 'tcp://h:1', 'tls-san': ['a', 'b'], 'ssh-timeout': 300 },
        args: ['web'],
      },
    );
    assert.deepEqual(parseFast(['create', 'web'], { MOOR_DRIVER: 'none', MOOR_SSH_TIMEOUT: '20' })?.flags, {
      driver: 'none',
      'ssh-timeout': 20,
    });
  });

  it("knows every environment variable of create's flags: its own, or one that leaves the line to oclif", () => {
    const spec = FAST_COMMANDS['create']!;
    const known = new Set([...spec.flags.map((flag) => flag.env), ...(spec.otherEnv ?? [])]);
    const flags = { ...BaseCommand.baseFlags, ...Create.flags } as Record<string, { env?: string }>;
    const withEnv = Object.entries(flags).filter(
      ([name, flag]) => flag.env && !['storage-path', 'debug'].includes(name),
    );
    for (const [name, flag] of withEnv) assert.ok(known.has(flag.env), `--${name} (${flag.env})`);
    assert.ok(withEnv.length >= 10);
  });

  const refused: [string[], NodeJS.ProcessEnv][] = [
    [['create', 'web'], {}],
    [['create', '-d', 'qemu', 'web'], {}],
    [['create', '-d', 'none', '--url', 'tcp://h:1'], {}],
    [['create', '-d', 'none', '--url', 'tcp://h:1', 'web', 'db'], {}],
    [['create', '-d', 'none', '--url', 'tcp://h:1', '--engine-opt', 'a=b', 'web'], {}],
    [['create', '-d', 'none', '--url', 'tcp://h:1', 'web'], { MOOR_ENGINE_VERSION: '27' }],
    [['create', '-d', 'none', '--url', 'tcp://h:1', 'web'], { MOOR_TLS_CA_CERT: '' }],
    [['create', '-d', 'none', '--url', 'tcp://h:1', '--ssh-timeout', '0', 'web'], {}],
    [['create', '-d', 'none', '--url', 'tcp://h:1', 'web', '--json'], {}],
    [['create', 'web'], { MOOR_DRIVER: '' }],
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
