/**
 * Background tunnels without SSH: the process that `spawnBackgroundTunnel` starts is a stand-in script
 * (test/fixtures/fake-tunnel.mjs) that behaves like `moor tunnel NAME --detached`: it records itself once
 * "listening", removes its record on SIGTERM, or fails the way a tunnel that cannot connect does.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  runningTunnel,
  spawnBackgroundTunnel,
  stopBackgroundTunnel,
  TUNNEL_STATE_FILE,
} from '../../src/core/background-tunnel.js';
import { MoorError } from '../../src/core/errors.js';

const FAKE = fileURLToPath(new URL('../fixtures/fake-tunnel.mjs', import.meta.url));
const self = [process.execPath, FAKE];

describe('background tunnels', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'moor-bg-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const machineDir = (name: string) => join(root, name);

  it('starts a detached process, waits for its record, and stops it with SIGTERM', async () => {
    const dir = machineDir('web');
    await import('node:fs/promises').then(({ mkdir }) => mkdir(dir, { recursive: true }));
    const record = await spawnBackgroundTunnel({
      machine: 'web',
      machineDir: dir,
      storePath: root,
      listenArgs: ['--socket', join(dir, 'docker.sock')],
      self,
      env: { ...process.env, FAKE_TUNNEL_DELAY_MS: '150' },
    });
    assert.equal(record.DockerHost, `unix://${join(dir, 'docker.sock')}`);
    assert.notEqual(record.Pid, process.pid);
    assert.deepEqual(runningTunnel(dir, 'web'), record);
    assert.equal((await stat(join(dir, 'tunnel.log'))).mode & 0o777, 0o600, 'the log is private');
    // The argv it was given: the store, the machine, where to listen, and the detached marker.
    const argv = JSON.parse(await readFile(join(dir, 'argv.json'), 'utf8')) as string[];
    assert.deepEqual(argv, [
      '--storage-path',
      root,
      'tunnel',
      'web',
      '--socket',
      join(dir, 'docker.sock'),
      '--detached',
    ]);

    const stopped = await stopBackgroundTunnel(dir, 'web');
    assert.equal(stopped?.Pid, record.Pid);
    assert.throws(() => process.kill(record.Pid, 0), /ESRCH/);
    assert.equal(runningTunnel(dir, 'web'), undefined);
    assert.equal(await stopBackgroundTunnel(dir, 'web'), undefined, 'nothing left to stop');
  });

  it('a tunnel that cannot start fails with the error from its log', async () => {
    const dir = machineDir('down');
    await import('node:fs/promises').then(({ mkdir }) => mkdir(dir, { recursive: true }));
    const failure = await spawnBackgroundTunnel({
      machine: 'down',
      machineDir: dir,
      storePath: root,
      listenArgs: ['--port', '0'],
      self,
      env: { ...process.env, FAKE_TUNNEL_FAIL: 'Timed out after 30 s waiting for SSH on 10.123.0.99:22.' },
    }).then(
      () => assert.fail('should have failed'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof MoorError);
    assert.equal(failure.code, 'TUNNEL_START_FAILED');
    assert.equal(
      failure.message,
      'The background tunnel to "down" could not start: Error: Timed out after 30 s waiting for SSH on 10.123.0.99:22. Check that the host runs.',
    );
    assert.ok(failure.suggestions.some((line) => line.includes(join(dir, 'tunnel.log'))));
    assert.equal(runningTunnel(dir, 'down'), undefined);
  });

  it('ignores a record whose process is gone, or whose pid now belongs to another program', async () => {
    const dir = machineDir('stale');
    await import('node:fs/promises').then(({ mkdir }) => mkdir(dir, { recursive: true }));
    const write = (pid: number) =>
      writeFile(
        join(dir, TUNNEL_STATE_FILE),
        JSON.stringify({ Pid: pid, DockerHost: 'tcp://127.0.0.1:1', StartedAt: new Date().toISOString() }),
      );
    await write(2 ** 22 + 1); // above Linux's pid_max: never a live process
    assert.equal(runningTunnel(dir, 'stale'), undefined);
    await write(process.pid); // alive, but this test runner is not "tunnel stale"
    assert.equal(runningTunnel(dir, 'stale'), undefined);
    await writeFile(join(dir, TUNNEL_STATE_FILE), '{not json');
    assert.equal(runningTunnel(dir, 'stale'), undefined);
    // Stopping clears such a record without signalling anyone.
    await write(process.pid);
    assert.equal(await stopBackgroundTunnel(dir, 'stale'), undefined);
    await assert.rejects(stat(join(dir, TUNNEL_STATE_FILE)), /ENOENT/);
  });
});
