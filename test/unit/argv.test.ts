import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeArgv, planArgv } from '../../src/cli/argv.js';
import { closest } from '../../src/cli/usage.js';

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

describe('planArgv: the command line before oclif', () => {
  const IDS = ['ls', 'env', 'docker', 'ssh', 'version', 'help', 'rm'];

  it('knows topics: a command of the topic runs, the topic alone shows its help, an unknown one is named', () => {
    const ids = [...IDS, 'swarm:init', 'swarm:ls'];
    assert.deepEqual(planArgv(['swarm', 'init', 'm1'], ids), { argv: ['swarm', 'init', 'm1'] });
    assert.deepEqual(planArgv(['--json', 'swarm', 'ls'], ids), { argv: ['swarm', 'ls', '--json'] });
    assert.deepEqual(planArgv(['swarm'], ids), { argv: ['swarm', '--help'] });
    assert.deepEqual(planArgv(['swarm', '--help'], ids), { argv: ['swarm', '--help'] });
    assert.deepEqual(planArgv(['swarm', 'bogus'], ids), { unknownCommand: 'swarm bogus', json: false });
  });

  it('moves --json given before the command behind it', () => {
    assert.deepEqual(planArgv(['--json', 'ls'], IDS), { argv: ['ls', '--json'] });
    assert.deepEqual(planArgv(['-s', '/x', '--json', 'ls', '-q'], IDS), { argv: ['ls', '-s', '/x', '--json', '-q'] });
  });

  it('-h and --help anywhere before --, not after', () => {
    assert.deepEqual(planArgv(['-h'], IDS), { argv: ['--help'] });
    assert.deepEqual(planArgv(['ls', '-h'], IDS), { argv: ['ls', '--help'] });
    assert.deepEqual(planArgv(['-h', 'ls'], IDS), { argv: ['ls', '--help'] });
    assert.deepEqual(planArgv(['docker', 'web', '--', '-h'], IDS), { argv: ['docker', 'web', '--', '-h'] });
    assert.deepEqual(planArgv([], IDS), { argv: ['--help'] });
    assert.deepEqual(planArgv(['-s', '/x'], IDS), { argv: ['--help'] });
  });

  it('-v and --version anywhere before -- run "version"; after -- they belong to the program', () => {
    assert.deepEqual(planArgv(['-v'], IDS), { argv: ['version'] });
    assert.deepEqual(planArgv(['ls', '--version', '--json'], IDS), { argv: ['version', '--json'] });
    assert.deepEqual(planArgv(['ssh', 'web', '--', 'docker', '-v'], IDS), {
      argv: ['ssh', 'web', '--', 'docker', '-v'],
    });
  });

  it('--json after -- is left to docker and ssh', () => {
    assert.deepEqual(planArgv(['docker', 'web', '--', 'info', '--json'], IDS), {
      argv: ['docker', 'web', '--', 'info', '--json'],
    });
  });

  it('reports an unknown command (also under help) and a flag before any command', () => {
    assert.deepEqual(planArgv(['lss'], IDS), { unknownCommand: 'lss', json: false });
    assert.deepEqual(planArgv(['--json', 'bogus'], IDS), { unknownCommand: 'bogus', json: true });
    assert.deepEqual(planArgv(['bogus', '--', '--json'], IDS), { unknownCommand: 'bogus', json: false });
    assert.deepEqual(planArgv(['help', 'lss'], IDS), { unknownCommand: 'lss', json: false });
    assert.deepEqual(planArgv(['help', '--bogus'], IDS), { unknownFlag: '--bogus', json: false });
    assert.deepEqual(planArgv(['help'], IDS), { argv: ['--help'] });
    assert.deepEqual(planArgv(['help', 'ls', '-q'], IDS), { argv: ['ls', '-q', '--help'] });
    assert.deepEqual(planArgv(['--bogus', 'ls'], IDS), { unknownFlag: '--bogus', json: false });
    assert.deepEqual(planArgv(['--json', '-s', '/x', '--bogus', 'ls'], IDS), { unknownFlag: '--bogus', json: true });
  });
});

describe('closest: "did you mean"', () => {
  const IDS = ['active', 'config', 'create', 'env', 'inspect', 'ip', 'ls', 'rm', 'start', 'status', 'stop'];
  it('finds a typo, a swap or a prefix, and nothing for a word far from all', () => {
    assert.equal(closest('lss', IDS), 'ls');
    assert.equal(closest('sl', IDS), 'ls');
    assert.equal(closest('craete', IDS), 'create');
    assert.equal(closest('insp', IDS), 'inspect');
    assert.equal(closest('STATUS', IDS), 'status');
    assert.equal(closest('bogus', IDS), undefined);
    assert.equal(closest('--fliter', ['--filter', '--format', '--quiet']), '--filter');
  });
});
