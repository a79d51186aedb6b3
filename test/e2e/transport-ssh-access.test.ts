/**
 * The ssh transport for an SSH user who may not open the engine's socket: a sudo user outside the docker
 * group is carried through `sudo -n docker system dial-stdio`; without sudo the error names the fix; once
 * the user is in the docker group, the socket is forwarded directly. On a real test host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { createGeneric, docker, hostEngineVersion, hostOut, hostsOrPlaceholder } from './generic-helpers.js';
import { assertCleanError, assertExit, TempStore } from './helpers.js';

if (hostsOrPlaceholder('ssh transport access')) {
  describe('ssh transport: a user outside the docker group', () => {
    let host: TestHost;
    let store: TempStore;
    let version: string;

    before(
      async () => {
        store = await TempStore.create();
        host = await upHost({ name: hostName('gen-access'), ip: await allocateIp(), withDocker: true });
        // The hosts' "docker" user has the docker group as its primary group: make a plain sudo user.
        await hostOut(
          host,
          [
            'useradd -m -s /bin/bash deploy',
            "echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy && chmod 440 /etc/sudoers.d/deploy",
            'install -d -m 700 -o deploy -g deploy ~deploy/.ssh',
            'install -m 600 -o deploy -g deploy ~docker/.ssh/authorized_keys ~deploy/.ssh/authorized_keys',
          ].join(' && '),
        );
        const created = await createGeneric(store, 'sudoer', host, {
          user: 'deploy',
          extra: ['--engine-transport', 'ssh'],
        });
        assertExit(created, 0, 'create as a sudo user with the ssh transport');
        version = await hostEngineVersion(host);
        assert.doesNotMatch(await hostOut(host, 'id -nG deploy'), /\bdocker\b/);
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    /** With --debug, the tunnel says which way it reaches the engine. */
    const engineVersion = (debug = true) =>
      store.moor([...(debug ? ['-D'] : []), 'docker', 'sudoer', '--', 'version', '--format', '{{.Server.Version}}']);

    it('moor docker goes through sudo -n docker system dial-stdio', async () => {
      const result = await engineVersion();
      assertExit(result, 0, 'moor docker as a sudo user');
      assert.equal(result.stdout.trim(), version);
      assert.match(result.stderr, /-> sudo -n docker system dial-stdio on /);
    });

    it('a tunnel over dial-stdio serves 12 concurrent clients (more than sshd sessions allow at once)', async () => {
      const started = await store.moor(['tunnel', '--background', 'sudoer']);
      assertExit(started, 0, 'tunnel --background');
      try {
        const env = { DOCKER_HOST: started.stdout.trim() };
        const results = await Promise.all(
          Array.from({ length: 12 }, () => docker(['version', '--format', '{{.Server.Version}}'], env)),
        );
        for (const result of results) {
          assertExit(result, 0, 'docker version through a dial-stdio tunnel');
          assert.equal(result.stdout.trim(), version);
        }
      } finally {
        assertExit(await store.moor(['tunnel', '--stop', 'sudoer']), 0, 'tunnel --stop');
      }
    });

    it('without sudo: a clear error that names the fix; in the docker group: the socket directly', async () => {
      await hostOut(host, 'mv /etc/sudoers.d/deploy /root/sudoers-deploy');
      try {
        const denied = await engineVersion(false);
        assertCleanError(
          denied,
          1,
          '"deploy" may not open /var/run/docker.sock',
          'not in the docker group',
          'sudo usermod -aG docker deploy',
        );
      } finally {
        await hostOut(host, 'mv /root/sudoers-deploy /etc/sudoers.d/deploy');
      }
      await hostOut(host, 'usermod -aG docker deploy');
      const direct = await engineVersion();
      assertExit(direct, 0, 'moor docker in the docker group');
      assert.equal(direct.stdout.trim(), version);
      assert.match(direct.stderr, /-> \/var\/run\/docker\.sock on /);
    });
  });
}
