/**
 * A Docker Machine plugin binary as a moor driver, end to end: the Go fixture plugin
 * (test/fixtures/go/sshplugin: libmachine's RPC service and gob names, standard library only) installed
 * as docker-machine-driver-fixture (on PATH for the failure modes, in <store>/plugins for the real host) drives
 * a real test host with Docker preinstalled like
 * `generic`: its flags in create's help, create (flags from GetCreateFlags, its key written to
 * StorePath/machines/NAME/id_rsa), provisioning, `moor docker`, status/stop/start through the plugin, ls,
 * rm; and its failure modes (crash, no address, hung calls, another API version, a returned error), each a
 * clear error naming the binary with no plugin process left behind.
 */
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { goPrograms, goSkip } from '../helpers/go.js';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { hostOut, hostsOrPlaceholder, lsRow, show } from './generic-helpers.js';
import { assertExit, assertNoStackTrace, TempStore, type RunResult } from './helpers.js';

const DRIVER = 'fixture';

/** Pids of running processes whose executable is `binary` (a copy of the fixture made for this file). */
async function pidsOf(binary: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const exe = await readlink(join('/proc', entry, 'exe')).catch(() => '');
    if (exe === binary) pids.push(Number(entry));
  }
  return pids;
}

describe('Docker Machine plugin driver (Go fixture) without a host', { skip: goSkip }, () => {
  let dir: string;
  let binary: string;
  let store: TempStore;
  let key: string;
  const env = (extra: Record<string, string> = {}) => ({
    PATH: `${join(dir, 'bin')}:${process.env['PATH']}`,
    ...extra,
  });
  const create = (name: string, extra: Record<string, string>, args: string[] = []) =>
    store.moor(
      ['create', '--json', '-d', DRIVER, '--fixture-ip-address', '127.0.0.1', '--fixture-ssh-key', key, ...args, name],
      { env: env(extra), timeoutMs: 120_000 },
    );

  before(async () => {
    const programs = await goPrograms();
    dir = await mkdtemp(join(tmpdir(), 'moor-plugin-'));
    await mkdir(join(dir, 'bin'));
    binary = join(dir, 'bin', `docker-machine-driver-${DRIVER}`);
    await copyFile(programs.sshplugin, binary);
    await chmod(binary, 0o755);
    key = join(dir, 'key');
    await copyFile(programs.sshplugin, key); // any readable file: these creates fail before using it
    store = await TempStore.create();
  });
  after(async () => {
    await store?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A failed create under --json: its exit code, error code and message (naming the binary), no process left. */
  async function assertFailed(result: RunResult, exitCode: number, code: string, message: RegExp): Promise<void> {
    assert.equal(result.code, exitCode, show(result));
    const { error } = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    assert.equal(error.code, code, show(result));
    assert.match(error.message, message);
    assert.ok(error.message.includes(binary), `the error names the binary:\n${show(result)}`);
    assertNoStackTrace(result.stderr);
    assert.deepEqual(await pidsOf(binary), [], 'no plugin process is left');
  }

  it('create -d fixture --help shows the flags the plugin declares, with env vars and defaults', async () => {
    const result = await store.moor(['create', '-d', DRIVER, '--help'], { env: env() });
    assertExit(result, 0, 'create -d fixture --help');
    assert.match(result.stdout, /FIXTURE DRIVER FLAGS/);
    assert.match(
      result.stdout,
      /--fixture-ip-address=<value>\s+IP address of the server \[env:\s+SSHPLUGIN_IP_ADDRESS\]/,
    );
    assert.match(result.stdout, /--fixture-ssh-user=root\s+SSH user/);
    assert.match(result.stdout, /--fixture-ssh-port=22\s+SSH port/);
    assert.match(result.stdout, /--fixture-tags=moor\.\.\.\s+Tags/);
    assert.match(result.stdout, /--\[no-\]fixture-verbose/);
    assert.doesNotMatch(result.stdout, /GENERIC DRIVER FLAGS/);
    assert.deepEqual(await pidsOf(binary), []);
  });

  it('create --help names the plugin found on PATH without starting it', async () => {
    const pidFile = join(dir, 'help.pid');
    const result = await store.moor(['create', '--help'], {
      env: env({ SSHPLUGIN_PID_FILE: pidFile, OCLIF_COLUMNS: '500' }),
    });
    assertExit(result, 0, 'create --help');
    assert.match(result.stdout, new RegExp(`installed: fixture \\(plugin ${binary}\\)`));
    await assert.rejects(stat(pidFile), /ENOENT/, 'the plugin was not started');
  });

  it('a plugin in <store>/plugins is found too', async () => {
    await mkdir(store.path('plugins'), { recursive: true });
    await copyFile(binary, store.path('plugins', 'docker-machine-driver-storefix'));
    await chmod(store.path('plugins', 'docker-machine-driver-storefix'), 0o755);
    const result = await store.moor(['create', '-d', 'storefix', '--help']);
    assertExit(result, 0);
    assert.match(result.stdout, /--storefix-ip-address=<value>/);
  });

  it('create -d NAME --help of an unknown driver, or of a plugin that fails, is moor’s error and exit code', async () => {
    const unknown = await store.moor(['create', '-d', 'nosuch', '--help'], { env: env() });
    assert.equal(unknown.code, 2, show(unknown));
    assert.match(unknown.stderr, /^Error: Driver "nosuch" not found/);
    assert.equal(unknown.stdout, '');
    const failing = await store.moor(['create', '-d', DRIVER, '--help'], { env: env({ SSHPLUGIN_FAIL: 'version' }) });
    assert.equal(failing.code, 1, show(failing));
    assert.match(failing.stderr, /^Error: The driver plugin .* speaks plugin API version 2/);
    assertNoStackTrace(failing.stderr);
    assert.deepEqual(await pidsOf(binary), []);
  });

  it('an unknown driver names where plugins are looked for', async () => {
    const result = await store.moor(['create', '-d', 'nosuch', 'x'], { env: env() });
    assert.equal(result.code, 2, show(result));
    assert.match(result.stderr, /Driver "nosuch" not found/);
    assert.match(result.stderr, /docker-machine-driver-nosuch on PATH/);
  });

  it('a returned error from PreCreateCheck is a pre-create failure (exit 3) and nothing is stored', async () => {
    const result = await store.moor(
      ['create', '-d', DRIVER, '--fixture-ip-address', '127.0.0.1', '--fixture-ssh-key', join(dir, 'missing'), 'pcc'],
      { env: env() },
    );
    assert.equal(result.code, 3, show(result));
    assert.match(
      result.stderr,
      /PreCreateCheck failed in the fixture driver plugin .*the SSH key .*missing cannot be read/,
    );
    assert.ok(result.stderr.includes(binary));
    await assert.rejects(stat(store.machineDir('pcc')), /ENOENT/);
    assert.deepEqual(await pidsOf(binary), []);
  });

  it('another API version is refused', async () => {
    const result = await create('v2', { SSHPLUGIN_FAIL: 'version' });
    await assertFailed(result, 1, 'PLUGIN_API_VERSION', /speaks plugin API version 2; moor speaks version 1/);
  });

  it('a plugin that never prints its address is stopped after MOOR_PLUGIN_START_TIMEOUT', async () => {
    const result = await create('noaddr', { SSHPLUGIN_FAIL: 'no-address', MOOR_PLUGIN_START_TIMEOUT: '2' });
    await assertFailed(result, 7, 'PLUGIN_NO_ADDRESS', /printed no address within 2 s/);
  });

  it('a plugin that exits at start is reported with its status', async () => {
    const result = await create('exits', { SSHPLUGIN_FAIL: 'exit-start' });
    await assertFailed(result, 1, 'PLUGIN_CRASHED', /driver plugin .* did not start: .*\(exit status 2\)/);
  });

  it('a crash during Create keeps the record as Error with the plugin’s last output', async () => {
    const result = await create('crash', { SSHPLUGIN_FAIL: 'crash-create' });
    await assertFailed(
      result,
      1,
      'PLUGIN_CRASHED',
      /exited during Create \(exit status 3\)\. Its last output: panic: the fixture crashes on Create/,
    );
    const record = JSON.parse(await readFile(join(store.machineDir('crash'), 'config.json'), 'utf8')) as {
      Phase: string;
      DriverName: string;
    };
    assert.equal(record.Phase, 'error');
    assert.equal(record.DriverName, DRIVER);
    const removed = await store.moor(['rm', '-y', 'crash'], { env: env() });
    assertExit(removed, 0, 'rm crash');
    assert.deepEqual(await pidsOf(binary), []);
  });

  it('a Create that hangs is kept alive by the heartbeat past the plugin’s own 10 s limit, then stopped (exit 7)', async () => {
    // Without moor's Heartbeat calls (every 5 s) the plugin would exit after 10 s: a crash, not a timeout.
    const result = await create('hang', { SSHPLUGIN_FAIL: 'hang-create', MOOR_PLUGIN_CALL_TIMEOUT: '14' });
    await assertFailed(result, 7, 'PLUGIN_TIMEOUT', /did not answer Create within 14 s; it was stopped/);
  });

  it('an error returned by Create is the create error', async () => {
    const result = await create('refused', { SSHPLUGIN_FAIL: 'error-create' });
    await assertFailed(
      result,
      1,
      'PLUGIN_ERROR',
      /Create failed in the fixture driver plugin .*the fixture refuses to create/,
    );
  });
});

if (hostsOrPlaceholder('Docker Machine plugin driver on a test host')) {
  describe('Docker Machine plugin driver on a test host', { skip: goSkip }, () => {
    let host: TestHost;
    let store: TempStore;
    let binary: string;
    let created: RunResult;
    const NAME = 'plug-1';
    // The plugin lives in <store>/plugins, not on PATH: every command of this section finds it there.
    const env = (extra: Record<string, string> = {}) => ({ ...extra });

    before(
      async () => {
        const programs = await goPrograms();
        store = await TempStore.create();
        await mkdir(store.path('plugins'), { recursive: true });
        binary = store.path('plugins', `docker-machine-driver-${DRIVER}`);
        await copyFile(programs.sshplugin, binary);
        await chmod(binary, 0o755);
        host = await upHost({ name: hostName('plugin'), ip: await allocateIp(), withDocker: true });
        created = await store.moor(
          ['create', '-d', DRIVER, '--fixture-ip-address', host.ip, '--fixture-tags', 'a', '--fixture-tags', 'b', NAME],
          // The key through the plugin's own env var (GetCreateFlags' EnvVar), the port by its default.
          { env: env({ SSHPLUGIN_SSH_KEY: host.keyPath }), timeoutMs: 240_000 },
        );
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    it('create succeeds with the plugin’s flags; its log lines are progress', async () => {
      assertExit(created, 0, 'create');
      assert.equal(created.stdout, `Machine "${NAME}" created (${DRIVER} driver).\n`);
      assert.match(created.stderr, new RegExp(`\\(${NAME}\\) Copying the SSH key ${host.keyPath}`));
      assert.doesNotMatch(created.stderr, /debug: store path/, 'stderr of the plugin is for --debug only');
      assert.deepEqual(await pidsOf(binary), []);
    });

    it('the record holds the plugin’s own config; its key is in the machine folder', async () => {
      const record = JSON.parse(await readFile(join(store.machineDir(NAME), 'config.json'), 'utf8')) as {
        DriverName: string;
        Phase: string;
        Driver: Record<string, unknown>;
      };
      assert.equal(record.DriverName, DRIVER);
      assert.equal(record.Phase, 'created');
      assert.equal(record.Driver['StorePath'], store.root);
      assert.equal(record.Driver['MachineName'], NAME);
      assert.equal(record.Driver['IPAddress'], host.ip);
      assert.equal(record.Driver['SSHUser'], 'root');
      assert.equal(record.Driver['SSHPort'], 22);
      assert.deepEqual(record.Driver['Tags'], ['a', 'b']);
      assert.equal(record.Driver['Verbose'], false);
      const keyPath = join(store.machineDir(NAME), 'id_rsa');
      assert.equal(record.Driver['SSHKeyPath'], keyPath);
      assert.equal(await readFile(keyPath, 'utf8'), await readFile(host.keyPath, 'utf8'));
      assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
    });

    it('provisioning configured the engine: moor docker NAME -- version answers', async () => {
      const result = await store.moor(['docker', NAME, '--', 'version', '--format', '{{.Server.Version}}'], {
        env: env(),
      });
      assertExit(result, 0, 'moor docker version');
      assert.equal(result.stdout.trim(), await hostOut(host, "docker version --format '{{.Server.Version}}'"));
      assert.deepEqual(await pidsOf(binary), []);
    });

    it('status, stop, start and ls go through the plugin', async () => {
      const status = async () => (await store.moor(['status', NAME], { env: env() })).stdout.trim();
      assert.equal(await status(), 'Running');
      assertExit(await store.moor(['stop', NAME], { env: env() }), 0, 'stop');
      assert.equal(await hostOut(host, 'systemctl is-active docker.service || true'), 'inactive');
      assert.equal(await status(), 'Stopped');
      const started = await store.moor(['start', NAME], { env: env() });
      assertExit(started, 0, 'start');
      assert.match(started.stderr, new RegExp(`\\(${NAME}\\) Starting the Docker engine`));
      assert.equal(await status(), 'Running');
      const starts = store.path('plugin-starts.log');
      const ls = await store.moor(['ls'], { env: env({ SSHPLUGIN_START_LOG: starts }) });
      assertExit(ls, 0, 'ls');
      // State and URL of a running machine from one plugin process, as Docker Machine does.
      assert.equal((await readFile(starts, 'utf8')).trim().split('\n').length, 1, 'plugin processes started by ls');
      const row = lsRow(ls.stdout, NAME);
      assert.equal(row['DRIVER'], DRIVER);
      assert.equal(row['STATE'], 'Running');
      assert.equal(row['URL'], `tcp://${host.ip}:2376`);
      assert.deepEqual(await pidsOf(binary), []);
    });

    it('a GetState that hangs is a timeout of status (exit 7), the plugin stopped', async () => {
      const result = await store.moor(['status', NAME], {
        env: env({ SSHPLUGIN_FAIL: 'hang-state', MOOR_PLUGIN_CALL_TIMEOUT: '3' }),
      });
      assert.equal(result.code, 7, show(result));
      assert.match(result.stderr, /did not answer GetState within 3 s; it was stopped/);
      assert.ok(result.stderr.includes(binary));
      assert.deepEqual(await pidsOf(binary), []);
    });

    it('rm asks the plugin to remove the machine and deletes its folder; the server keeps running', async () => {
      const result = await store.moor(['rm', '-y', NAME], { env: env() });
      assertExit(result, 0, 'rm');
      assert.match(result.stderr, new RegExp(`\\(${NAME}\\) Forgetting ${host.ip.replace(/\./g, '\\.')}`));
      await assert.rejects(stat(store.machineDir(NAME)), /ENOENT/);
      assert.equal(await hostOut(host, 'systemctl is-active docker.service'), 'active');
      assert.deepEqual(await pidsOf(binary), []);
    });
  });
}
