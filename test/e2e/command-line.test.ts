/**
 * The command line's own errors in moor's format, through the built CLI: an unknown command (with "did you
 * mean"), unknown flags, missing and unexpected arguments, bad flag values (naming the environment
 * variable a value came from); --json anywhere before "--" gives one JSON error document; -h/--help and
 * -v/--version anywhere before "--"; what follows "--" belongs to docker and ssh.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertCleanError, assertExit, exists, moor, parseJson, ROOT, type RunResult, TempStore } from './helpers.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const VERSION_LINE = `moor version ${pkg.version} (node ${process.version}, ${process.platform}-${process.arch})\n`;
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
/** On Node 20 only, `moor version` says once (on stderr) that Node 20 support ends with the AWS SDK's. */
const NODE_NOTE =
  NODE_MAJOR < 22
    ? `Note: Node ${process.version} is past its end of life; moor supports Node 20 until the AWS SDK it uses stops (its releases after the first week of January 2027 need Node 22). Use Node 22 or 24.\n`
    : '';

/** Nothing of oclif's own wording: no tab, no "Parsing --x", no "See more help", no note about multiple values. */
function assertMoorWording(result: RunResult): void {
  const text = result.stdout + result.stderr;
  assert.doesNotMatch(text, /\t|Parsing --|See more help with --help|multiple values|›/, text);
}

function assertJsonError(result: RunResult, error: { code: string; message: string; suggestions?: string[] }): void {
  assertExit(result, 2);
  const body = parseJson<{ error: Record<string, unknown> }>(result);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error), ['code', 'message', 'exitCode', 'suggestions']);
  assert.equal(body.error['code'], error.code);
  assert.equal(body.error['message'], error.message);
  assert.equal(body.error['exitCode'], 2);
  if (error.suggestions) assert.deepEqual(body.error['suggestions'], error.suggestions);
  assert.equal(result.stderr, '');
  assertMoorWording(result);
}

describe('unknown commands', () => {
  it('moor lss: "Did you mean "ls"?", exit 2, no stack', async () => {
    const result = await moor(['lss']);
    assertCleanError(result, 2);
    assert.equal(result.stderr, 'Error: Unknown command "lss".\n  Did you mean "ls"?\n');
    assert.equal(result.stdout, '');
  });

  it('moor bogus: no close command, the hint to list them', async () => {
    const result = await moor(['bogus']);
    assertCleanError(result, 2);
    assert.equal(result.stderr, 'Error: Unknown command "bogus".\n  "moor --help" lists the commands.\n');
  });

  for (const args of [
    ['bogus', '--json'],
    ['--json', 'bogus'],
  ]) {
    it(`moor ${args.join(' ')}: one JSON error document (UNKNOWN_COMMAND)`, async () => {
      assertJsonError(await moor(args), {
        code: 'UNKNOWN_COMMAND',
        message: 'Unknown command "bogus".',
        suggestions: ['"moor --help" lists the commands.'],
      });
    });
  }

  it('moor --json lss: the suggestion in the document', async () => {
    assertJsonError(await moor(['--json', 'lss']), {
      code: 'UNKNOWN_COMMAND',
      message: 'Unknown command "lss".',
      suggestions: ['Did you mean "ls"?'],
    });
  });

  it('moor help lss: the same error; moor help --bogus: UNKNOWN_FLAG', async () => {
    const result = await moor(['help', 'lss']);
    assertCleanError(result, 2, 'Unknown command "lss".', 'Did you mean "ls"?');
    assertMoorWording(result);
    const flag = await moor(['help', '--bogus']);
    assertCleanError(flag, 2, 'Unknown flag --bogus');
    assertMoorWording(flag);
  });

  it('moor --bogus ls: a flag before the command that is not a global one (UNKNOWN_FLAG)', async () => {
    const text = await moor(['--bogus', 'ls']);
    assertCleanError(text, 2, 'Unknown flag --bogus');
    assertJsonError(await moor(['--json', '--bogus', 'ls']), {
      code: 'UNKNOWN_FLAG',
      message: 'Unknown flag --bogus: flags other than -s, -D, --json, --help and --version go after the command.',
    });
  });
});

describe('--json before or after the command', () => {
  let store: TempStore;
  before(async () => {
    store = await TempStore.create();
    await store.createNone('web', 'tcp://127.0.0.1:1');
  });
  after(() => store.cleanup());

  it('moor --json ls prints the rows as JSON, like moor ls --json', async () => {
    const [first, last] = await Promise.all([store.moor(['--json', 'ls', '-q']), store.moor(['ls', '-q', '--json'])]);
    assertExit(first, 0);
    assertExit(last, 0);
    const rows = (result: RunResult) =>
      parseJson<Record<string, unknown>[]>(result).map(({ ResponseTime: _, ...row }) => row);
    assert.deepEqual(rows(first), rows(last));
    assert.deepEqual(
      (parseJson(first) as { Name: string }[]).map((row) => row.Name),
      ['web'],
    );
  });

  it('moor --json ls --bogus: UNKNOWN_FLAG with "did you mean" for a near flag', async () => {
    assertJsonError(await store.moor(['--json', 'ls', '--bogus']), {
      code: 'UNKNOWN_FLAG',
      message: 'Unknown flag --bogus for "moor ls".',
      suggestions: ['See "moor ls --help".'],
    });
    assertJsonError(await store.moor(['--json', 'ls', '--fliter', 'x']), {
      code: 'UNKNOWN_FLAG',
      message: 'Unknown flag --fliter for "moor ls".',
      suggestions: ['Did you mean --filter?', 'See "moor ls --help".'],
    });
  });

  it('moor --json ls --timeout abc: INVALID_FLAG_VALUE', async () => {
    assertJsonError(await store.moor(['--json', 'ls', '--timeout', 'abc']), {
      code: 'INVALID_FLAG_VALUE',
      message: 'Invalid --timeout "abc": expected an integer.',
    });
  });

  it('moor --json inspect web extra: UNEXPECTED_ARGUMENT; moor --json create: MISSING_ARGUMENT', async () => {
    assertJsonError(await store.moor(['--json', 'inspect', 'web', 'extra']), {
      code: 'UNEXPECTED_ARGUMENT',
      message: 'Unexpected argument "extra": "moor inspect [NAME]".',
    });
    assertJsonError(await store.moor(['--json', 'create', '-d', 'none']), {
      code: 'MISSING_ARGUMENT',
      message: 'Missing the machine name: "moor create NAME".',
    });
  });

  for (const args of [
    ['ssh', 'web', '--json'],
    ['--json', 'ssh', 'web'],
    ['docker', '--json', 'web'],
    ['scp', 'web:/etc/hostname', '.', '--json'],
  ]) {
    it(`moor ${args.join(' ')}: a command without JSON output answers with one JSON error document`, async () => {
      const result = await store.moor(args);
      assertJsonError(result, {
        code: 'JSON_NOT_SUPPORTED',
        message: `"moor ${args.find((arg) => arg !== '--json')}" has no JSON output: what it prints is the output of the program it runs.`,
        suggestions: ['Leave out --json.', `See "moor ${args.find((arg) => arg !== '--json')} --help".`],
      });
      assert.equal(result.stderr, '');
    });
  }

  it('moor docker NAME -- --json -v -h passes them to docker untouched', async () => {
    const bin = store.path('bin');
    await mkdir(bin);
    await writeFile(join(bin, 'docker'), '#!/bin/sh\nprintf "%s\\n" "$@"\n');
    await chmod(join(bin, 'docker'), 0o755);
    const result = await store.moor(['docker', 'web', '--', '--json', '-v', '-h'], {
      env: { PATH: `${bin}:${process.env['PATH'] ?? ''}` },
    });
    assertExit(result, 0);
    assert.equal(result.stdout, '--json\n-v\n-h\n');
  });
});

describe('-h/--help and -v/--version anywhere before --', () => {
  for (const args of [['-h'], ['--help']]) {
    it(`moor ${args.join(' ')}: moor's help, exit 0`, async () => {
      const result = await moor(args);
      assertExit(result, 0);
      assert.match(result.stdout, /^COMMANDS$/m);
      assert.match(result.stdout, /^ {2}ls /m);
    });
  }

  for (const args of [
    ['ls', '-h'],
    ['-h', 'ls'],
    ['ls', '--help'],
    ['--json', 'ls', '-h'],
  ]) {
    it(`moor ${args.join(' ')}: the help of ls, exit 0`, async () => {
      const result = await moor(args);
      assertExit(result, 0);
      assert.ok(result.stdout.includes('$ moor ls'), result.stdout);
      assert.equal(result.stderr, '');
    });
  }

  for (const args of [['-v'], ['--version'], ['ls', '-v'], ['-s', '/nonexistent', '--version']]) {
    it(`moor ${args.join(' ')}: the version line of "moor version"`, async () => {
      const result = await moor(args);
      assertExit(result, 0);
      assert.equal(result.stdout, VERSION_LINE);
      assert.equal(
        result.stderr.replace(/^\S+Z /, ''),
        NODE_NOTE,
        'stderr: the Node 20 note only (after its timestamp)',
      );
    });
  }

  it('moor -v --json: the version as JSON', async () => {
    const result = await moor(['-v', '--json']);
    assertExit(result, 0);
    assert.deepEqual(parseJson(result), {
      version: pkg.version,
      node: process.version,
      ...(NODE_MAJOR < 22 ? { nodeSupport: NODE_NOTE.replace(/^Note: /, '').trim() } : {}),
    });
  });
});

describe('flag errors in moor words', () => {
  let store: TempStore;
  before(async () => {
    store = await TempStore.create();
  });
  after(() => store.cleanup());

  const cases: { title: string; args: string[]; env?: Record<string, string>; stderr: string }[] = [
    {
      title: 'a value that is not an integer',
      args: ['ls', '--timeout', 'abc'],
      stderr: 'Error: Invalid --timeout "abc": expected an integer.\n',
    },
    {
      title: 'an integer out of range (short flag)',
      args: ['ls', '-t', '0'],
      stderr: 'Error: Invalid --timeout "0": expected an integer greater than or equal to 1.\n',
    },
    {
      title: 'a missing value',
      args: ['ls', '--timeout'],
      stderr: 'Error: --timeout needs a value.\n  See "moor ls --help".\n',
    },
    {
      title: 'a value not among the options',
      args: ['create', 'x', '-d', 'none', '--url', 'tcp://127.0.0.1:1', '--engine-install-method', 'foo'],
      stderr: 'Error: Invalid --engine-install-method "foo": expected to be one of: packages, script, none.\n',
    },
    {
      title: 'MOOR_SSH_TIMEOUT=abc (the variable is named, not the flag)',
      args: ['create', 'x', '-d', 'none', '--url', 'tcp://127.0.0.1:1'],
      env: { MOOR_SSH_TIMEOUT: 'abc' },
      stderr:
        'Error: Invalid MOOR_SSH_TIMEOUT "abc" (the environment variable of --ssh-timeout): expected an integer.\n',
    },
    {
      title: 'MOOR_ENGINE_INSTALL_METHOD=foo',
      args: ['create', 'x', '-d', 'none', '--url', 'tcp://127.0.0.1:1'],
      env: { MOOR_ENGINE_INSTALL_METHOD: 'foo' },
      stderr:
        'Error: Invalid MOOR_ENGINE_INSTALL_METHOD "foo" (the environment variable of --engine-install-method): expected to be one of: packages, script, none.\n',
    },
    {
      title: 'a missing name with repeatable flags (no note about multiple values)',
      args: ['create', '-d', 'none', '--engine-opt', 'a=b', '--tls-san', 'x'],
      stderr: 'Error: Missing the machine name: "moor create NAME".\n  See "moor create --help".\n',
    },
    {
      title: 'flags that exclude each other',
      args: ['tunnel', 'x', '--socket', '/tmp/x.sock', '--port', '1'],
      stderr: 'Error: --port=1 cannot also be provided when using --socket.\n  See "moor tunnel --help".\n',
    },
  ];

  for (const c of cases) {
    it(`${c.title}: exit 2, one message`, async () => {
      const result = await store.moor(c.args, c.env ? { env: c.env } : {});
      assertCleanError(result, 2);
      assert.equal(result.stderr, c.stderr);
      assert.equal(result.stdout, '');
      assertMoorWording(result);
      assert.equal(await exists(store.machineDir('x')), false);
    });
  }
});
