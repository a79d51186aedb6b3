/**
 * Bad input to `create`: the documented exit code, one clear message on stderr, no stack trace (unless
 * --debug), and nothing written for the machine. Also `--json` errors.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import {
  assertCleanError,
  assertExit,
  assertNoStackTrace,
  exists,
  parseJson,
  type RunResult,
  TempStore,
} from './helpers.js';

const URL = 'tcp://127.0.0.1:1';

interface BadCase {
  title: string;
  args: string[];
  env?: Record<string, string>;
  exitCode: number;
  /** Parts the message on stderr must contain. */
  message: string[];
  /** Folders under machines/ that must not exist afterwards. */
  absent: string[];
}

const CASES: BadCase[] = [
  {
    title: 'a name with "_"',
    args: ['create', '-d', 'none', '--url', URL, 'bad_name'],
    exitCode: 2,
    message: ['Invalid machine name "bad_name"'],
    absent: ['bad_name'],
  },
  {
    title: 'a name starting with "-" (after --)',
    args: ['create', '-d', 'none', '--url', URL, '--', '-x'],
    exitCode: 2,
    message: ['Invalid machine name "-x"'],
    absent: ['-x'],
  },
  {
    title: 'a name that looks like a flag',
    args: ['create', '-d', 'none', '--url', URL, '-x'],
    exitCode: 2,
    message: ['-x'],
    absent: ['-x'],
  },
  {
    title: 'a name with "/"',
    args: ['create', '-d', 'none', '--url', URL, 'a/b'],
    exitCode: 2,
    message: ['Invalid machine name "a/b"'],
    absent: ['a', 'a/b'],
  },
  {
    title: 'an unknown driver',
    args: ['create', 'unknowndrv', '-d', 'nope', '--url', URL],
    exitCode: 2,
    message: ['Driver "nope" not found', 'Available drivers: none'],
    absent: ['unknowndrv'],
  },
  {
    title: 'a missing --url',
    args: ['create', 'nourl', '-d', 'none'],
    exitCode: 2,
    message: ['--url', 'MOOR_NONE_URL'],
    absent: ['nourl'],
  },
  {
    title: 'no --driver where QEMU is missing (the default driver, qemu: its pre-create check names the packages)',
    args: ['create', 'nodriver'],
    env: { PATH: '/nonexistent' },
    exitCode: 3,
    message: [
      'using qemu',
      'QEMU is not installed: qemu-system-',
      'apt-get install qemu-system-',
      'dnf install qemu-kvm qemu-img',
      'pacman -S qemu-base',
      'brew install qemu',
      '--driver generic',
    ],
    absent: ['nodriver'],
  },
  {
    title: 'an invalid --url',
    args: ['create', 'badurl', '-d', 'none', '--url', 'notaurl'],
    exitCode: 2,
    message: ['Invalid --url "notaurl"'],
    absent: ['badurl'],
  },
  {
    title: 'a --url with an unsupported scheme',
    args: ['create', 'ftpurl', '-d', 'none', '--url', 'ftp://127.0.0.1:1'],
    exitCode: 2,
    message: ['ftp://127.0.0.1:1', 'scheme'],
    absent: ['ftpurl'],
  },
  {
    title: 'an invalid MOOR_NONE_URL',
    args: ['create', 'badenvurl', '-d', 'none'],
    env: { MOOR_NONE_URL: 'notaurl' },
    exitCode: 2,
    message: ['notaurl'],
    absent: ['badenvurl'],
  },
  {
    title: 'an --engine-label without "="',
    args: ['create', 'badlabel', '-d', 'none', '--url', URL, '--engine-label', 'novalue'],
    exitCode: 2,
    message: ['--engine-label "novalue" must be key=value'],
    absent: ['badlabel'],
  },
  {
    title: 'an --engine-env without "="',
    args: ['create', 'badenv', '-d', 'none', '--url', URL, '--engine-env', 'NOVALUE'],
    exitCode: 2,
    message: ['--engine-env "NOVALUE"'],
    absent: ['badenv'],
  },
  {
    title: 'a name of 64 characters (the limit is 63: the name is the hostname)',
    args: ['create', '-d', 'none', '--url', URL, 'n'.repeat(64)],
    exitCode: 2,
    message: ['Invalid machine name', 'it is 64 characters long; the limit is 63', 'hostname'],
    absent: ['n'.repeat(64)],
  },
  {
    title: 'a name of 300 letters (too long, not "use letters")',
    args: ['create', '-d', 'none', '--url', URL, 'l'.repeat(300)],
    exitCode: 2,
    message: ['it is 300 characters long; the limit is 63'],
    absent: [],
  },
  {
    title: 'a name with "_" says which character',
    args: ['create', '-d', 'none', '--url', URL, 'web_1'],
    exitCode: 2,
    message: ['Invalid machine name "web_1": "_" is not allowed'],
    absent: ['web_1'],
  },
  {
    title: 'an --engine-opt boolean that is not one (as daemon.json would get it)',
    args: ['create', 'badopt', '-d', 'none', '--url', URL, '--engine-opt', 'debug=maybe'],
    exitCode: 2,
    message: ['--engine-opt debug=maybe: debug takes true or false.'],
    absent: ['badopt'],
  },
  {
    title: 'an --engine-opt moor sets itself',
    args: ['create', 'reserved', '-d', 'none', '--url', URL, '--engine-opt', 'tlsverify=false'],
    exitCode: 2,
    message: ['--engine-opt tlsverify cannot be set'],
    absent: ['reserved'],
  },
  {
    title: '--engine-transport ssh with the none driver (it supports tls only)',
    args: ['create', 'nossh', '-d', 'none', '--url', URL, '--engine-transport', 'ssh'],
    exitCode: 2,
    message: ['--engine-transport ssh is not supported by the none driver: it supports tls only.'],
    absent: ['nossh'],
  },
  {
    title: "a flag of another driver (virtualbox's, given with -d none)",
    args: ['create', 'otherflag', '-d', 'none', '--url', URL, '--virtualbox-memory', '2048'],
    exitCode: 2,
    message: ['Flag --virtualbox-memory does not belong to the none driver', 'moor create --driver none --help'],
    absent: ['otherflag'],
  },
  {
    title: 'an invalid --tls-san (rejected before anything is written)',
    args: ['create', 'badsan', '-d', 'none', '--url', URL, '--tls-san', 'not a host!'],
    exitCode: 2,
    message: ['not a host!'],
    absent: ['badsan'],
  },
];

describe('create with bad input', () => {
  let store: TempStore;
  const results = new Map<string, RunResult>();

  before(async () => {
    store = await TempStore.create();
    // Independent calls: run them together.
    const outcomes = await Promise.all(CASES.map((c) => store.moor(c.args, c.env ? { env: c.env } : {})));
    CASES.forEach((c, index) => results.set(c.title, outcomes[index]!));
  });
  after(() => store.cleanup());

  for (const c of CASES) {
    it(`rejects ${c.title}: exit ${c.exitCode}, clear message, nothing written`, async () => {
      const result = results.get(c.title)!;
      assertCleanError(result, c.exitCode, ...c.message);
      assert.equal(result.stdout, '', 'nothing on stdout');
      for (const name of c.absent) {
        assert.equal(await exists(store.machineDir(name)), false, `machines/${name} must not exist`);
      }
      const machines = (await exists(store.path('machines'))) ? await readdir(store.path('machines')) : [];
      assert.deepEqual(
        machines.filter((entry) =>
          c.absent.some((name) => entry === name.split('/')[0] || entry.startsWith(`.new-${name.split('/')[0]}-`)),
        ),
        [],
        `no staging or record left for ${c.absent.join(', ')}: ${machines.join(', ')}`,
      );
    });
  }

  it('refuses a duplicate name with exit 5 and leaves the original record byte-identical', async () => {
    await store.createNone('dup', 'tcp://127.0.0.1:2');
    const files = ['config.json', 'server.pem', 'server-key.pem', 'ca.pem', 'cert.pem', 'key.pem'];
    const before = await Promise.all(files.map((file) => readFile(store.path('machines/dup', file))));
    const result = await store.moor(['create', 'dup', '-d', 'none', '--url', 'tcp://127.0.0.1:3']);
    assertCleanError(result, 5, 'Machine "dup" already exists.');
    const afterwards = await Promise.all(files.map((file) => readFile(store.path('machines/dup', file))));
    files.forEach((file, index) => assert.ok(before[index]!.equals(afterwards[index]!), `${file} changed`));
    assert.deepEqual((await readdir(store.machineDir('dup'))).sort(), [...files].sort());
  });

  it('shows the stack trace with --debug (and MOOR_DEBUG=1), and not without', async () => {
    const [plain, debug, debugEnv] = await Promise.all([
      store.moor(['create', 'dbg', '-d', 'none', '--url', 'notaurl']),
      store.moor(['create', 'dbg', '-d', 'none', '--url', 'notaurl', '--debug']),
      store.moor(['create', 'dbg', '-d', 'none', '--url', 'notaurl'], { env: { MOOR_DEBUG: '1' } }),
    ]);
    assertCleanError(plain, 2, 'Invalid --url "notaurl"');
    for (const result of [debug, debugEnv]) {
      assertExit(result, 2);
      assert.ok(result.stderr.includes('Invalid --url "notaurl"'), result.stderr);
      assert.match(result.stderr, /^ {4}at /m, `a stack trace is expected with --debug:\n${result.stderr}`);
    }
    assert.equal(await exists(store.machineDir('dbg')), false);
  });
});

describe('--json errors', () => {
  let store: TempStore;

  before(async () => {
    store = await TempStore.create();
    await store.createNone('web', 'tcp://127.0.0.1:1');
  });
  after(() => store.cleanup());

  const cases: { title: string; args: string[]; exitCode: number; code: string; message: string }[] = [
    {
      title: 'an existing name',
      args: ['create', 'web', '-d', 'none', '--url', 'tcp://127.0.0.1:2', '--json'],
      exitCode: 5,
      code: 'MACHINE_EXISTS',
      message: 'Machine "web" already exists.',
    },
    {
      title: 'an unknown driver',
      args: ['create', 'x', '-d', 'nope', '--url', 'tcp://127.0.0.1:2', '--json'],
      exitCode: 2,
      code: 'UNKNOWN_DRIVER',
      message: 'Driver "nope" not found. Available drivers: none, generic, amazonec2, virtualbox, qemu.',
    },
    {
      title: 'a missing machine',
      args: ['inspect', 'nope', '--json'],
      exitCode: 1,
      code: 'MACHINE_NOT_FOUND',
      message: 'Machine "nope" does not exist. Run "moor ls" to list machines.',
    },
    {
      title: 'an unsupported operation',
      args: ['stop', 'web', '--json'],
      exitCode: 6,
      code: 'NOT_SUPPORTED',
      message: '"stop" is not supported by the none driver.',
    },
    {
      title: 'a bad filter',
      args: ['ls', '--filter', 'foo=bar', '--json'],
      exitCode: 2,
      code: 'INVALID_FILTER',
      message: 'Unsupported filter key "foo": use driver, state, name, label or swarm.',
    },
    {
      title: 'an invalid name',
      args: ['inspect', 'bad_name', '--json'],
      exitCode: 2,
      code: 'INVALID_NAME',
      message: 'Invalid machine name "bad_name": "_" is not allowed: use letters, digits, "." and "-".',
    },
  ];

  for (const c of cases) {
    it(`prints exactly one JSON error document for ${c.title} (exit ${c.exitCode})`, async () => {
      const result = await store.moor(c.args);
      assertExit(result, c.exitCode);
      const body = parseJson<{ error: { code: string; message: string; exitCode: number } }>(result);
      assert.deepEqual(Object.keys(body), ['error']);
      assert.equal(body.error.code, c.code);
      assert.equal(body.error.message, c.message);
      assert.equal(body.error.exitCode, c.exitCode);
      assert.equal(body.error.exitCode, result.code, 'exitCode in the document matches the process exit code');
      assertNoStackTrace(result.stdout + result.stderr);
    });
  }

  it('prints a JSON error for a parse error too (unknown flag, exit 2)', async () => {
    const result = await store.moor(['create', 'x', '--bogus', '--json']);
    assertExit(result, 2);
    const body = parseJson<{ error: { code: string; message: string; exitCode: number } }>(result);
    assert.equal(body.error.exitCode, 2);
    assert.ok(body.error.message.includes('--bogus'), body.error.message);
  });

  it('reports partial success of a multi-machine command in one JSON document (exit 1)', async () => {
    const result = await store.moor(['ip', 'web', 'nope', '--json']);
    assertExit(result, 1);
    const body = parseJson<{ error: { exitCode: number; message: string } }>(result);
    assert.equal(body.error.exitCode, 1);
    assert.ok(body.error.message.includes('Machine "nope" does not exist.'), body.error.message);
  });
});

describe('swarm commands with bad input (exit 2, before any machine is looked up)', () => {
  let store: TempStore;
  before(async () => {
    store = await TempStore.create();
  });
  after(() => store.cleanup());

  const cases: { args: string[]; message: string }[] = [
    {
      args: ['swarm', 'init', 'm1', '--role', 'manager'],
      message: '--role is the role of the machines that join the new swarm: name them after the first.',
    },
    {
      args: ['swarm', 'init', 'm1', 'w1', 'm1'],
      message: '"m1" starts the swarm: it cannot also be one of the machines that join it.',
    },
    { args: ['swarm', 'init', 'm1', 'w1', '--role', 'boss'], message: 'boss' },
    { args: ['swarm', 'join', '--manager', 'm1'], message: 'Name the machines that join.' },
  ];
  for (const { args, message } of cases) {
    it(`moor ${args.join(' ')}`, async () => {
      const result = await store.moor(args);
      assertCleanError(result, 2, message);
    });
  }
});
