/**
 * Two real machines, one of each transport: `moor docker NAME -- run -it` on a real terminal (a pty from
 * util-linux `script`) with scripted input and the exit status passed through, and `moor use` switching the
 * real docker CLI between them, then `--unset` back to the context from before.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar } from '../helpers/image.js';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { createGeneric, docker, hostOut, hostsOrPlaceholder } from './generic-helpers.js';
import { assertExit, BIN, run, TempStore } from './helpers.js';

if (hostsOrPlaceholder('moor docker and use with two machines')) {
  describe('moor docker and use with two machines', () => {
    let store: TempStore;
    const hosts: Record<string, TestHost> = {};
    const machines = ['twotls', 'twossh'] as const;

    before(
      async () => {
        store = await TempStore.create();
        const image = await buildBusyboxImageTar(store.path());
        const [tlsHost, sshHost] = await Promise.all([
          allocateIp().then((ip) => upHost({ name: hostName('two-tls'), ip, withDocker: true })),
          allocateIp().then((ip) => upHost({ name: hostName('two-ssh'), ip, withDocker: true })),
        ]);
        hosts['twotls'] = tlsHost;
        hosts['twossh'] = sshHost;
        const created = await Promise.all([
          createGeneric(store, 'twotls', tlsHost),
          createGeneric(store, 'twossh', sshHost, { extra: ['--engine-transport', 'ssh'] }),
        ]);
        for (const result of created) assertExit(result, 0, 'create');
        for (const name of machines) {
          const imported = await store.moor(['docker', name, '--', 'import', image, 'moor-test/busybox'], {
            timeoutMs: 120_000,
          });
          assertExit(imported, 0, `docker import on ${name}`);
        }
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    for (const name of machines) {
      it(`${name}: run -it on a terminal, input typed in, exit status passed through`, async () => {
        const command = [
          process.execPath,
          BIN,
          'docker',
          name,
          '--',
          'run',
          '--rm',
          '-it',
          'moor-test/busybox',
          'sh',
          '-c',
          'test -t 0 && echo on-a-tty; read line; echo "got [$line]"; exit 3',
        ]
          .map((arg) => `'${arg.replace(/'/g, "'\\''")}'`)
          .join(' ');
        // script gives the command a pty; its stdin (the "typed" line) reaches the container through it.
        const result = await run('script', ['-qefc', command, '/dev/null'], {
          input: 'hello tty\n',
          env: { MOOR_STORAGE_PATH: store.root },
          timeoutMs: 60_000,
        });
        assert.equal(result.code, 3, `exit status of the container\n${result.stdout}\n${result.stderr}`);
        assert.match(result.stdout, /on-a-tty/);
        assert.match(result.stdout, /got \[hello tty\]/);
      });
    }

    it('moor docker NAME -- compose ...: a docker CLI plugin gets the machine too', async () => {
      // Compose v2 is not in Debian 12's packages: a stand-in CLI plugin, called by the real docker CLI as
      // compose would be, asks the engine it was given for its name.
      const dockerConfig = store.path('plugin-config');
      await mkdir(join(dockerConfig, 'cli-plugins'), { recursive: true });
      await writeFile(
        join(dockerConfig, 'cli-plugins', 'docker-compose'),
        [
          '#!/bin/sh',
          'if [ "$1" = docker-cli-plugin-metadata ]; then',
          `  echo '{"SchemaVersion":"0.1.0","Vendor":"moor tests","Version":"v2.99.0","ShortDescription":"stand-in"}'`,
          '  exit 0',
          'fi',
          'shift',
          'echo "compose args: $*"',
          "exec docker info --format '{{.Name}}'",
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      for (const name of machines) {
        const result = await store.moor(['docker', name, '--', 'compose', 'up', '-d'], {
          env: { DOCKER_CONFIG: dockerConfig },
        });
        assertExit(result, 0, `moor docker ${name} -- compose up -d`);
        assert.equal(result.stdout, `compose args: up -d\n${await hostOut(hosts[name]!, 'hostname')}\n`);
      }
    });

    it('use switches the real docker CLI between the two machines; --unset goes back', async () => {
      const dockerConfig = store.path('docker-config');
      await mkdir(dockerConfig, { recursive: true });
      const env = { DOCKER_CONFIG: dockerConfig };
      const hostnameOf = async (name: string) => hostOut(hosts[name]!, 'hostname');
      const engineName = async () => {
        const info = await docker(['info', '--format', '{{.Name}}'], env);
        assertExit(info, 0, 'docker info with the current context');
        return info.stdout.trim();
      };
      assert.equal((await docker(['context', 'show'], env)).stdout.trim(), 'default');
      for (const name of [...machines, ...machines]) {
        const used = await store.moor(['use', name], { env });
        assertExit(used, 0, `use ${name}`);
        assert.equal((await docker(['context', 'show'], env)).stdout.trim(), `moor-${name}`);
        assert.equal(await engineName(), await hostnameOf(name), `docker reaches ${name}`);
        const active = await store.moor(['active'], { env });
        assert.equal(active.stdout.trim(), name, 'moor active follows the context');
      }
      const unset = await store.moor(['use', '--unset'], { env });
      assertExit(unset, 0, 'use --unset');
      assert.equal((await docker(['context', 'show'], env)).stdout.trim(), 'default');
      // The ssh machine's context points at its background tunnel, which `use` started.
      assertExit(await store.moor(['tunnel', '--stop', 'twossh']), 0, 'tunnel --stop');
    });
  });
}
