/**
 * Faults during `moor create -d generic` against one real test host (systemd, sshd, Docker preinstalled),
 * through the built CLI:
 * - network faults while provisioning: SSH packets dropped (iptables DROP in the host's network namespace),
 *   sshd stopped, the SSH connection cut in the middle of a script. Each ends in a bounded time with a
 *   clear error and a record in state Error that says what happened; once the fault is gone, `moor
 *   provision NAME` finishes the job;
 * - Ctrl-C while create waits for SSH: exit 130, the record kept with state Error, provision finishes;
 * - moor killed (SIGKILL) when its record appears in the store, when the server certificate appears, and in
 *   the middle of a provisioning script: `moor ls` works, a bystander machine is intact, `moor rm -f -y`
 *   removes the record.
 * The step of a fault is seen from outside: a file in the store, a script on the host reaching a
 * `systemctl` call (held there by a wrapper until the test has cut the connection or killed moor).
 * The cases are counted in README "Reliability".
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { hostsOrPlaceholder } from './generic-helpers.js';
import {
  assertCleanError,
  assertExit,
  exists,
  parseJson,
  type RunningMoor,
  type RunResult,
  TempStore,
} from './helpers.js';

/** Holds the first systemctl call after /run/moor-fault-arm appears, until /run/moor-fault-release does. */
const HOLDING_SYSTEMCTL = `#!/bin/sh
if [ -e /run/moor-fault-arm ]; then
  rm -f /run/moor-fault-arm
  touch /run/moor-fault-held
  while [ ! -e /run/moor-fault-release ]; do sleep 0.1; done
fi
exec /usr/bin/systemctl "$@"
`;

if (hostsOrPlaceholder('faults during create -d generic on a test host')) {
  describe('faults during create -d generic on a test host', () => {
    let host: TestHost;
    let store: TempStore;
    let bystander: string;

    before(
      async () => {
        store = await TempStore.create();
        host = await upHost({ name: hostName('faults'), ip: await allocateIp(), withDocker: true });
        await store.createNone('other', 'tcp://127.0.0.1:9');
        bystander = await readFile(join(store.machineDir('other'), 'config.json'), 'utf8');
        const wrapper = Buffer.from(HOLDING_SYSTEMCTL).toString('base64');
        const installed = await host.exec(
          `echo ${wrapper} | base64 -d > /usr/local/sbin/systemctl && chmod 755 /usr/local/sbin/systemctl`,
        );
        assert.equal(installed.code, 0, installed.stderr);
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    const createArgs = (name: string, extra: string[] = []) => [
      'create',
      '-d',
      'generic',
      '--generic-ip-address',
      host.ip,
      '--generic-ssh-key',
      host.keyPath,
      '--engine-install-method',
      'none',
      ...extra,
      name,
    ];

    const dropSsh = (add: boolean) =>
      execFileSync('ip', [
        'netns',
        'exec',
        `th-${host.name}`,
        'iptables',
        add ? '-I' : '-D',
        'INPUT',
        '-p',
        'tcp',
        '--dport',
        String(host.sshPort),
        '-j',
        'DROP',
      ]);

    async function record(name: string): Promise<Record<string, unknown>> {
      return JSON.parse(await readFile(join(store.machineDir(name), 'config.json'), 'utf8')) as Record<string, unknown>;
    }

    /** The record says Error and why; ls works and shows it; the bystander is intact. */
    async function assertErrorRecord(name: string, why: RegExp): Promise<void> {
      const kept = await record(name);
      assert.equal(kept['Phase'], 'error');
      assert.match(String(kept['LastError']), why);
      const ls = await store.moor(['ls', '--json']);
      assertExit(ls, 0, 'ls');
      const row = parseJson<{ Name: string; State: string; Error?: string }[]>(ls).find((item) => item.Name === name);
      assert.equal(row?.State, 'Error');
      assert.equal(await readFile(join(store.machineDir('other'), 'config.json'), 'utf8'), bystander);
    }

    /** `moor provision NAME` finishes the job (Phase created), then rm removes the machine. */
    async function provisionFinishes(name: string): Promise<void> {
      const provision = await store.moor(['provision', name], { timeoutMs: 180_000 });
      assertExit(provision, 0, `provision ${name} after the fault`);
      const done = await record(name);
      assert.equal(done['Phase'], 'created');
      assert.equal(done['LastError'], undefined);
      assertExit(await store.moor(['rm', '-y', name], { timeoutMs: 120_000 }), 0, `rm ${name}`);
    }

    /** Arms the systemctl wrapper; resolves once a script on the host is held in it (bounded). */
    async function arm(): Promise<void> {
      const armed = await host.exec('touch /run/moor-fault-arm');
      assert.equal(armed.code, 0, armed.stderr);
    }

    async function scriptHeld(running: RunningMoor): Promise<void> {
      for (let polls = 0; polls < 600; polls += 1) {
        if ((await host.exec('test -e /run/moor-fault-held')).code === 0) return;
        if (running.child.exitCode !== null) break;
        await sleep(200);
      }
      assert.fail(`no provisioning script reached systemctl:\n${running.stderr()}`);
    }

    async function releaseScript(): Promise<void> {
      const released = await host.exec(
        'touch /run/moor-fault-release; for i in $(seq 100); do pgrep -f "^/bin/sh /usr/local/sbin/systemctl" >/dev/null || break; sleep 0.1; done; rm -f /run/moor-fault-held /run/moor-fault-release /run/moor-fault-arm',
      );
      assert.equal(released.code, 0, released.stderr);
    }

    async function fileAppears(path: string, running: RunningMoor): Promise<void> {
      for (let polls = 0; polls < 2_400 && !(await exists(path)); polls += 1) {
        if (running.child.exitCode !== null) break;
        await sleep(50);
      }
      assert.ok(await exists(path), `create reached ${path}:\n${running.stderr()}`);
    }

    it('SSH packets dropped: create fails within --ssh-timeout (exit 7), the record says so, provision finishes', async () => {
      dropSsh(true);
      let result: RunResult;
      try {
        result = await store.moor(createArgs('dropped', ['--ssh-timeout', '5']), { timeoutMs: 180_000 });
      } finally {
        dropSsh(false);
      }
      assertCleanError(result, 7, 'Creating machine "dropped" failed', 'moor rm -y dropped');
      await assertErrorRecord('dropped', /SSH|timed out/i);
      await provisionFinishes('dropped');
    });

    it('sshd stopped: create reports the refused port after the grace period, the record says so, provision finishes', async () => {
      const stopped = await host.exec('/usr/bin/systemctl stop ssh.socket ssh.service');
      assert.equal(stopped.code, 0, stopped.stderr);
      let result: RunResult;
      try {
        result = await store.moor(createArgs('nosshd'), { env: { MOOR_SSH_REFUSED_GRACE: '2' }, timeoutMs: 180_000 });
      } finally {
        const started = await host.exec('/usr/bin/systemctl start ssh.service');
        assert.equal(started.code, 0, started.stderr);
      }
      assertCleanError(result, 1, 'Creating machine "nosshd" failed', `${host.sshPort}`);
      await assertErrorRecord('nosshd', /refused/i);
      await provisionFinishes('nosshd');
    });

    it('the SSH connection cut in the middle of a script: a clear error, the record says so, provision finishes', async () => {
      await arm();
      const running = store.spawn(createArgs('cut'), { timeoutMs: 180_000 });
      await scriptHeld(running);
      // Every sshd process of a session (not the listener): the connection ends under the running script.
      const cut = await host.exec("pkill -KILL -f '^sshd: root'");
      assert.equal(cut.code, 0, `no session to cut: ${cut.stderr}`);
      const result = await running.result;
      await releaseScript();
      assert.notEqual(result.code, 0);
      assertCleanError(result, result.code ?? -1, 'Creating machine "cut" failed', 'moor rm -y cut');
      await assertErrorRecord('cut', /.+/);
      await provisionFinishes('cut');
    });

    it('Ctrl-C while create waits for SSH: exit 130, the record kept with state Error and said so; provision finishes', async () => {
      dropSsh(true); // create waits for SSH and cannot change the host
      let result: RunResult;
      try {
        const running = store.spawn(createArgs('ctrlc'), { timeoutMs: 180_000 });
        // The step seen from outside: the server certificate appears in the machine folder, just before SSH.
        await fileAppears(join(store.machineDir('ctrlc'), 'server.pem'), running);
        running.child.kill('SIGINT');
        result = await running.result;
      } finally {
        dropSsh(false);
      }
      assertCleanError(
        result,
        130,
        'Creating machine "ctrlc" was interrupted (SIGINT)',
        'Kept: the record (state Error) and the host',
        'moor provision ctrlc',
      );
      await assertErrorRecord('ctrlc', /interrupted \(SIGINT\)/);
      await provisionFinishes('ctrlc');
    });

    const kills: { name: string; when: string; trigger: (running: RunningMoor, name: string) => Promise<void> }[] = [
      {
        name: 'kill-record',
        when: 'its record appears in the store',
        trigger: (running, name) => fileAppears(join(store.machineDir(name), 'config.json'), running),
      },
      {
        name: 'kill-cert',
        when: 'the server certificate appears in the store',
        trigger: (running, name) => fileAppears(join(store.machineDir(name), 'server.pem'), running),
      },
      {
        name: 'kill-script',
        when: 'a provisioning script runs on the host',
        trigger: async (running) => {
          await arm();
          await scriptHeld(running);
        },
      },
    ];
    for (const kill of kills) {
      it(`moor killed (SIGKILL) when ${kill.when}: ls works, nothing lost, rm -f -y removes the record`, async () => {
        const running = store.spawn(createArgs(kill.name), { timeoutMs: 180_000 });
        try {
          await kill.trigger(running, kill.name);
          running.child.kill('SIGKILL');
          assert.equal((await running.result).signal, 'SIGKILL');
        } finally {
          await releaseScript();
        }
        const ls = await store.moor(['ls', '--json']);
        assertExit(ls, 0, 'ls after the kill');
        assert.ok(parseJson<{ Name: string }[]>(ls).some((item) => item.Name === kill.name));
        JSON.parse(await readFile(join(store.machineDir(kill.name), 'config.json'), 'utf8'));
        assert.equal(await readFile(join(store.machineDir('other'), 'config.json'), 'utf8'), bystander);
        const rm = await store.moor(['rm', '-f', '-y', kill.name], { timeoutMs: 120_000 });
        assertExit(rm, 0, 'rm -f -y after the kill');
        assert.equal(await exists(store.machineDir(kill.name)), false);
        assert.equal(await exists(join(store.root, 'locks', `machine-${kill.name}.lock`)), false, 'no lock left');
      });
    }
  });
}
