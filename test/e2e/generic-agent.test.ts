/**
 * No --generic-ssh-key: moor logs in once with the user's SSH agent, installs a key of the machine's own,
 * and uses only that key afterwards (the agent can be gone).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { docker, hostOut, hostsOrPlaceholder, machineEnv } from './generic-helpers.js';
import { assertCleanError, assertExit, TempStore } from './helpers.js';

const execFileP = promisify(execFile);

if (hostsOrPlaceholder('generic driver with an SSH agent')) {
  describe('generic driver with an SSH agent', () => {
    let host: TestHost;
    let store: TempStore;
    let agentSocket: string;
    let agentPid: number | undefined;

    before(
      async () => {
        store = await TempStore.create();
        host = await upHost({ name: hostName('gen-agent'), ip: await allocateIp(), withDocker: true });
        agentSocket = store.path('agent.sock');
        const agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
        agentPid = agent.pid;
        // ssh-agent -D says nothing when it listens: wait for its socket (bounded by the hook's timeout only).
        while (!(await stat(agentSocket).catch(() => undefined))) {
          if (agent.exitCode !== null) assert.fail(`ssh-agent exited (${agent.exitCode}) before listening`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await execFileP('ssh-add', [host.keyPath], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket } });
      },
      { timeout: 600_000 },
    );
    after(async () => {
      if (agentPid) process.kill(agentPid);
      await cleanupHosts();
      await store?.cleanup();
    });

    it('without a key or an agent, create stops before anything is written (exit 2, a usage error)', async () => {
      const result = await store.moor(['create', '-d', 'generic', '--generic-ip-address', host.ip, 'nokey'], {
        env: { SSH_AUTH_SOCK: '' },
      });
      assertCleanError(result, 2, 'No SSH key', '--generic-ssh-key');
      assert.equal(await stat(store.path('machines', 'nokey')).catch(() => undefined), undefined);
    });

    it('installs a key of its own through the agent, then works without the agent', async () => {
      const created = await store.moor(['create', '-d', 'generic', '--generic-ip-address', host.ip, 'agent'], {
        env: { SSH_AUTH_SOCK: agentSocket },
        timeoutMs: 300_000,
      });
      assertExit(created, 0, 'create with the agent');
      const keyPath = store.path('machines', 'agent', 'id_ed25519');
      assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
      const publicKey = (await readFile(`${keyPath}.pub`, 'utf8')).trim();
      const authorized = await hostOut(host, 'cat /root/.ssh/authorized_keys');
      assert.ok(authorized.split('\n').includes(publicKey), 'the machine key is authorized on the host');

      // The pinned host key is the one seen through the agent login.
      const pinned = await store.moor(['inspect', '-f', '{{.SSHHostKey}}', 'agent']);
      assert.match(pinned.stdout, /^ssh-ed25519 /);

      const env = await machineEnv(store, 'agent');
      assertExit(await docker(['version'], env), 0, 'docker over TLS');

      const again = await store.moor(['provision', 'agent'], { env: { SSH_AUTH_SOCK: '' }, timeoutMs: 300_000 });
      assertExit(again, 0, 'provision without the agent');
      const ssh = await store.moor(['ssh', 'agent', '--', 'echo', 'own-key'], { env: { SSH_AUTH_SOCK: '' } });
      assertExit(ssh, 0, 'ssh without the agent');
      assert.equal(ssh.stdout.trim(), 'own-key');
    });
  });
}
