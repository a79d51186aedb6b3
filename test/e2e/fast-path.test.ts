/**
 * The fast path (src/fast.ts, dist/fast.cjs): env, url, inspect, ls and active answered without oclif must
 * print exactly what the full CLI prints. Every case runs three ways: the package as built (fast path
 * first), the same with MOOR_NO_FAST_PATH=1 (oclif only), and a copy of the package WITHOUT the full CLI
 * (the CLI's packs removed), which proves that the fast path answered alone: stdout, stderr (timestamps aside)
 * and the exit code must be the same bytes. Command lines the fast path leaves to oclif (help, --json,
 * errors) must still give the same answer through the package as built.
 * `create -d none`, the one command that writes, runs the three ways in three fresh stores, and the machines
 * they make must be the same too (record, files, certificates); its errors are the fast path's own.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertExit, ROOT, run, TempStore, type RunResult } from './helpers.js';

const SHELLS = ['bash', 'zsh', 'sh', 'fish', 'powershell', 'cmd', 'tcsh', 'emacs'];

/**
 * stderr lines of a non-TTY carry an ISO timestamp, and ls --json each machine's response time: the same
 * answer at another time or speed is the same output.
 */
function normalized(result: RunResult) {
  return {
    code: result.code,
    stdout: result.stdout.replace(/"ResponseTime": "\d+ms"/g, '"ResponseTime": "<ms>"'),
    stderr: result.stderr.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z /gm, '<time> '),
  };
}

describe('the fast path prints what the full CLI prints', () => {
  let store: TempStore;
  let fastOnly: string;

  before(async () => {
    store = await TempStore.create();
    // Port 1 of loopback refuses: the engine "does not answer" (env warns, ls shows the error column).
    await store.createNone('web', 'tcp://127.0.0.1:1', ['--engine-label', 'tier=front']);
    await store.createNone('db', 'tcp://127.0.0.1:2');
    await store.createNone('default', 'tcp://127.0.0.1:3');
    // A copy of the package with only the fast path: bin, dist without the CLI's packs (dist/cli*.cjs).
    fastOnly = await mkdtemp(join(tmpdir(), 'moor-fast-only-'));
    for (const item of ['bin', 'package.json', 'templates'])
      await cp(join(ROOT, item), join(fastOnly, item), { recursive: true });
    for (const file of await readdir(join(ROOT, 'dist'))) {
      // The fast path's loader and packs with their code caches, and the packs' loader.
      if (file.startsWith('fast') || file === 'pack-loader.cjs')
        await cp(join(ROOT, 'dist', file), join(fastOnly, 'dist', file));
    }
    await symlink(join(ROOT, 'node_modules'), join(fastOnly, 'node_modules'));
  });
  after(async () => {
    await store.cleanup();
    await rm(fastOnly, { recursive: true, force: true });
  });

  function runAt(root: string, args: string[], env: Record<string, string> = {}) {
    return run(process.execPath, [join(root, 'bin', 'run.cjs'), ...args], {
      env: { MOOR_STORAGE_PATH: store.root, ...env },
    });
  }

  const answered: { args: string[]; env?: Record<string, string> }[] = [
    ...SHELLS.map((shell) => ({ args: ['env', '--shell', shell, 'web'] })),
    ...SHELLS.map((shell) => ({ args: ['env', `--shell=${shell}`, '-u'] })),
    { args: ['env', 'web'], env: { SHELL: '/usr/bin/fish' } },
    { args: ['env'] },
    { args: ['env', '--no-proxy', 'web'], env: { NO_PROXY: 'example.com' } },
    { args: ['env', '-u', '--no-proxy', 'web'], env: { NO_PROXY: 'example.com,127.0.0.1' } },
    { args: ['env', '--storage-path', '.', 'web'] }, // a store given on the line (here: the wrong one) ...
    { args: ['url', 'db'] },
    { args: ['url'] },
    { args: ['inspect', 'web'] },
    { args: ['inspect', '-f', '{{.DriverName}} {{json .HostOptions.EngineOptions.Labels}}', 'web'] },
    { args: ['inspect', '--format={{.Name}}'] },
    { args: ['ls'] },
    { args: ['ls', '-q'] },
    { args: ['ls', '--filter', 'name=w.*', '--filter', 'label=tier=front'] },
    { args: ['ls', '--format', 'table {{.Name}}\t{{.URL}}'] },
    { args: ['ls', '-f', '{{.Name}}: {{.State}}', '-t', '30'] },
    { args: ['ls'], env: { MOOR_LS_FORMAT: '{{.Name}}' } },
    { args: ['active'], env: { DOCKER_HOST: 'tcp://127.0.0.1:2' } },
    { args: ['-s', '.', 'url', 'web'] }, // docker-machine's order: global flag first (moved behind by argv.ts)
  ];

  for (const { args, env } of answered) {
    it(`moor ${args.join(' ')}${env ? ` (${Object.keys(env).join(', ')})` : ''}`, async () => {
      const [fast, full, alone] = await Promise.all([
        runAt(ROOT, args, env),
        runAt(ROOT, args, { ...env, MOOR_NO_FAST_PATH: '1' }),
        runAt(fastOnly, args, env),
      ]);
      assert.deepEqual(normalized(fast), normalized(full));
      if (args.includes('.')) {
        // The wrong store: an error, which only the full CLI reports (the copy without it cannot).
        assert.notEqual(full.code, 0);
        assert.notEqual(alone.code, 0);
      } else {
        assertExit(full, 0, args.join(' '));
        assert.deepEqual(normalized(alone), normalized(full), 'answered by the fast path alone');
      }
    });
  }

  const leftToOclif: string[][] = [
    ['env', '--help'],
    ['ls', '-h'],
    ['inspect', 'web', '--json'],
    ['ls', '--json', '-q'],
    ['url', 'nosuch'],
    ['env', 'web', 'db'],
    ['ls', '--timeout', '0'],
    ['ls', '--bogus'],
    ['inspect', 'web', '--', 'x'],
    ['env', '--shell', 'klingon', 'web'],
    ['active'],
  ];
  for (const args of leftToOclif) {
    it(`moor ${args.join(' ')} (left to the full CLI: the same answer)`, async () => {
      const [fast, full] = await Promise.all([runAt(ROOT, args), runAt(ROOT, args, { MOOR_NO_FAST_PATH: '1' })]);
      assert.deepEqual(normalized(fast), normalized(full));
    });
  }

  describe('create -d none', () => {
    const stores: TempStore[] = [];
    after(async () => Promise.all(stores.map((one) => one.cleanup())));

    /** Runs `args` at `root` in a new store (with a machine "taken" in it already). */
    async function createIn(root: string, args: string[], env: Record<string, string> = {}) {
      const fresh = await TempStore.create();
      stores.push(fresh);
      await fresh.createNone('taken', 'tcp://127.0.0.1:1');
      const result = await run(process.execPath, [join(root, 'bin', 'run.cjs'), ...args], {
        env: { MOOR_STORAGE_PATH: fresh.root, ...env },
      });
      return { store: fresh, result: { ...result, stderr: result.stderr.replaceAll(fresh.root, '<store>') } };
    }

    /** What a machine folder holds, the parts that differ between two creates (time, keys) left out. */
    async function machine(store: TempStore, name: string) {
      const files = (await readdir(store.machineDir(name)).catch(() => [])).sort();
      if (!files.includes('config.json')) return { files };
      const record = JSON.parse(await readFile(store.path('machines', name, 'config.json'), 'utf8'));
      delete record.CreatedAt;
      const server = files.includes('server.pem')
        ? new X509Certificate(await readFile(store.path('machines', name, 'server.pem')))
        : undefined;
      return { files, record, server: server && { subject: server.subject, san: server.subjectAltName } };
    }

    const answered: { args: string[]; env?: Record<string, string> }[] = [
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:2376', 'n1'] },
      {
        args: ['create', 'n1', '--driver=none', '--url=tcp://10.0.0.5:2376', '--tls-san', 'docker.example.com'],
      },
      {
        args: ['create', '--tls-san', '10.9.9.9', '--tls-san=db.example.com', '-d', 'none', '--url', 'tcp://h:1', 'n1'],
      },
      { args: ['create', 'n1'], env: { MOOR_DRIVER: 'none', MOOR_NONE_URL: 'tcp://[::1]:2376' } },
      { args: ['create', '-d', 'none', '--url', 'unix:///var/run/docker.sock', '--ssh-timeout', '60', 'n1'] },
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', 'n1'], env: { MOOR_SSH_TIMEOUT: '20' } },
      // Errors, reported by the fast path itself:
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', 'taken'] },
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', 'bad_name'] },
      { args: ['create', '-d', 'none', '--url', 'ftp://example.com', 'n1'] },
      { args: ['create', '-d', 'none', 'n1'] },
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', '--tls-san', 'not a host', 'n1'] },
    ];
    for (const { args, env } of answered) {
      it(`moor ${args.join(' ')}${env ? ` (${Object.keys(env).join(', ')})` : ''}`, async () => {
        const [fast, full, alone] = await Promise.all([
          createIn(ROOT, args, env),
          createIn(ROOT, args, { ...env, MOOR_NO_FAST_PATH: '1' }),
          createIn(fastOnly, args, env),
        ]);
        assert.deepEqual(normalized(fast.result), normalized(full.result));
        assert.deepEqual(normalized(alone.result), normalized(full.result), 'answered by the fast path alone');
        const name = args.includes('taken') ? 'taken' : 'n1';
        const made = await machine(full.store, name);
        assert.deepEqual(await machine(fast.store, name), made);
        assert.deepEqual(await machine(alone.store, name), made);
      });
    }

    const leftToOclif: { args: string[]; env?: Record<string, string> }[] = [
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', '--engine-label', 'a=b', 'n1'] },
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', 'n1', '--json'] },
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1'] },
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', 'n1'], env: { MOOR_ENGINE_VERSION: '27' } },
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', '--ssh-timeout', '0', 'n1'] },
      { args: ['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', '--swarm-manager', 'n1'] },
      { args: ['create', '-d', 'generic', 'n1'] },
      { args: ['create', '-d', 'none', '--help'] },
    ];
    for (const { args, env } of leftToOclif) {
      it(`moor ${args.join(' ')}${env ? ` (${Object.keys(env).join(', ')})` : ''} (left to the full CLI)`, async () => {
        const [fast, full, alone] = await Promise.all([
          createIn(ROOT, args, env),
          createIn(ROOT, args, { ...env, MOOR_NO_FAST_PATH: '1' }),
          createIn(fastOnly, args, env),
        ]);
        const stable = (result: RunResult) =>
          normalized({ ...result, stdout: result.stdout.replace(/"CreatedAt": "[^"]+"/, '"CreatedAt": "<time>"') });
        assert.deepEqual(stable(fast.result), stable(full.result));
        assert.deepEqual(await machine(fast.store, 'n1'), await machine(full.store, 'n1'));
        assert.notEqual(alone.result.code, 0, 'the copy without the full CLI cannot answer it');
      });
    }
  });

  it("a Node without a code cache of the build's saves one at its first command, and answers alike from it", async () => {
    // Every pack's cache for this Node goes: the packs are compiled from their sources.
    const suffix = `.${process.version}-${process.arch}.cache`;
    for (const file of await readdir(join(fastOnly, 'dist'))) {
      if (file.startsWith('fast') && file.endsWith(suffix)) await rm(join(fastOnly, 'dist', file));
    }
    const cache = join(fastOnly, 'dist', `fast.cjs${suffix}`);
    const full = await runAt(ROOT, ['url', 'web'], { MOOR_NO_FAST_PATH: '1' });
    const machines = await readdir(join(store.root, 'machines'));
    const temp = await mkdtemp(join(tmpdir(), 'moor-warm-tmp-'));
    try {
      assert.deepEqual(normalized(await runAt(fastOnly, ['url', 'web'], { TMPDIR: temp })), normalized(full));
      assert.ok((await stat(cache)).size > 0, 'the cache was saved');
      // The caches were made after the everyday commands and a create ran too (the first run's warm-up): the
      // create's pack, which url never reads, has its cache; the warm-up's store is gone from the temporary
      // folder, and the user's store did not change.
      const saved = (await readdir(join(fastOnly, 'dist'))).filter((file) => file.endsWith(suffix));
      assert.ok(
        saved.some((file) => file.startsWith('fast-create-')),
        `the create's pack has a cache: ${saved.join(', ')}`,
      );
      // (Node 22 and later keep their own compile cache there: node-compile-cache.)
      assert.deepEqual(
        (await readdir(temp)).filter((entry) => entry.startsWith('moor')),
        [],
        'the warm-up left nothing in the temporary folder',
      );
      assert.deepEqual(await readdir(join(store.root, 'machines')), machines, "the user's store is as it was");
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    assert.deepEqual(normalized(await runAt(fastOnly, ['url', 'web'])), normalized(full));
    assert.deepEqual(
      (await readdir(join(fastOnly, 'dist'))).filter((file) => file.endsWith('.partial')),
      [],
      'no partial file is left',
    );
  });

  it('a debug run is left to the full CLI (its debug lines come from there)', async () => {
    const alone = await runAt(fastOnly, ['url', 'web'], { MOOR_DEBUG: '1' });
    assert.notEqual(alone.code, 0, 'the copy without the full CLI cannot answer a --debug run');
  });
});
