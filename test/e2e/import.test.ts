/**
 * `moor import` from Docker Machine stores written by the test in Docker Machine's exact format
 * (test/helpers/docker-machine-store.ts): generic, none, amazonec2 (its AWS keys not imported), a plugin
 * driver (its state kept, paths into the old store rewritten), boot2docker VirtualBox and broken configs
 * (skipped with the reason), names moor has already (skipped); --dry-run writes nothing, and the Docker
 * Machine store is never changed. On a real test host: a generic machine whose engine serves certificates
 * of that store works through `moor env` and `moor ssh` after import, without re-provisioning.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { snapshot, writeDockerMachineStore, type DockerMachineCerts } from '../helpers/docker-machine-store.js';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import {
  createGeneric,
  docker,
  dockerdPid,
  hostEd25519Key,
  hostOut,
  hostsOrPlaceholder,
  lsRow,
  machineEnv,
  show,
} from './generic-helpers.js';
import { assertExit, TempStore, walk } from './helpers.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/** Real certificates, made by moor in a scratch store (a none machine): the CA, the client pair, a server pair. */
async function scratchCerts(): Promise<{ certs: DockerMachineCerts; server: { cert: string; key: string } }> {
  const scratch = await TempStore.create();
  try {
    await scratch.createNone('seed', 'tcp://127.0.0.1:9');
    const read = (...parts: string[]) => readFile(scratch.path(...parts), 'utf8');
    return {
      certs: {
        ca: await read('certs', 'ca.pem'),
        caKey: await read('certs', 'ca-key.pem'),
        cert: await read('certs', 'cert.pem'),
        key: await read('certs', 'key.pem'),
      },
      server: {
        cert: await read('machines', 'seed', 'server.pem'),
        key: await read('machines', 'seed', 'server-key.pem'),
      },
    };
  } finally {
    await scratch.cleanup();
  }
}

describe('moor import from a Docker Machine store', () => {
  let dm: string;
  let store: TempStore;
  let before_: Record<string, string>;
  let files: (name: string) => Record<string, string>;

  before(async () => {
    const { certs, server } = await scratchCerts();
    dm = await mkdtemp(join(tmpdir(), 'moor-dm-store-'));
    files = (name) => ({
      id_rsa: `private key of ${name}\n`,
      'id_rsa.pub': `ssh-rsa AAAA ${name}\n`,
      'ca.pem': certs.ca,
      'cert.pem': certs.cert,
      'key.pem': certs.key,
      'server.pem': server.cert,
      'server-key.pem': server.key,
    });
    await writeDockerMachineStore(dm, certs, [
      {
        name: 'gen',
        driverName: 'generic',
        driver: {
          IPAddress: '127.0.0.1',
          SSHUser: 'docker',
          SSHPort: 2222,
          SSHKeyPath: join(dm, 'machines', 'gen', 'id_rsa'),
          EnginePort: 2377,
          SSHKey: '/home/someone/.ssh/id_rsa',
        },
        files: files('gen'),
        serverCertSANs: ['gen.example'],
      },
      { name: 'nn', driverName: 'none', driver: { URL: 'tcp://127.0.0.1:9' }, files: files('nn') },
      {
        name: 'aws',
        driverName: 'amazonec2',
        driver: {
          AccessKey: 'AKIAIOSFODNN7EXAMPLE',
          SecretKey: SECRET,
          Region: 'eu-west-1',
          InstanceId: 'i-0123456789abcdef0',
          InstanceType: 't2.micro',
          IPAddress: '127.0.0.1',
          SSHUser: 'ubuntu',
          SSHPort: 22,
          KeyName: 'aws',
          SecurityGroupIds: ['sg-1'],
          RetryCount: 5,
        },
        files: files('aws'),
      },
      {
        name: 'hz',
        driverName: 'hetzner',
        driver: {
          IPAddress: '127.0.0.1',
          SSHUser: 'root',
          SSHPort: 22,
          SSHKeyPath: join(dm, 'machines', 'hz', 'id_rsa'),
          AccessToken: 'token-kept-by-the-plugin',
          ServerID: 42,
        },
        files: { ...files('hz'), 'extra.json': '{"plugin":"state"}' },
      },
      {
        name: 'vb',
        driverName: 'virtualbox',
        driver: {
          VBoxManager: {},
          IPAddress: '192.168.99.100',
          SSHUser: 'docker',
          SSHPort: 50022,
          SSHKeyPath: join(dm, 'machines', 'vb', 'id_rsa'),
          CPU: 1,
          Memory: 1024,
          DiskSize: 20000,
          Boot2DockerURL: '',
          HostOnlyCIDR: '192.168.99.1/24',
          UIType: 'headless',
        },
        files: files('vb'),
      },
      { name: 'taken', driverName: 'none', driver: { URL: 'tcp://127.0.0.1:9' }, files: files('taken') },
    ]);
    // A machine whose config.json is not Docker Machine's.
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(join(dm, 'machines', 'bad'), { mode: 0o700 });
    await writeFile(join(dm, 'machines', 'bad', 'config.json'), '{not json');
    store = await TempStore.create();
    await store.createNone('taken', 'tcp://127.0.0.1:9');
    before_ = await snapshot(dm);
  });
  after(async () => {
    await store?.cleanup();
    if (dm) await rm(dm, { recursive: true, force: true });
  });

  const EXPECTED_LINES = [
    /^aws \(amazonec2 driver\): (imported|would be imported)$/m,
    /^ {2}Its AWS credentials \(AccessKey, SecretKey\) were not imported: moor never stores them/m,
    /^bad: skipped: unknown format: its config.json cannot be read/m,
    /^gen \(generic driver\): (imported|would be imported)$/m,
    /^hz \(hetzner driver\): (imported|would be imported)$/m,
    /^ {2}Install the plugin docker-machine-driver-hetzner/m,
    /^nn \(none driver\): (imported|would be imported)$/m,
    /^taken \(none driver\): skipped: moor already has a machine named "taken"$/m,
    /^vb \(virtualbox driver\): (imported|would be imported)$/m,
    /^ {2}A boot2docker VM: moor starts, stops, removes it and reaches it over SSH and TLS, but does not provision it/m,
  ];

  it('--dry-run shows the plan and writes nothing', async () => {
    const storeBefore = await walk(store.root);
    const result = await store.moor(['import', '--dry-run', '--from', dm]);
    assertExit(result, 0, 'import --dry-run');
    for (const line of EXPECTED_LINES) assert.match(result.stdout, line);
    assert.match(result.stdout, /would be imported/);
    assert.deepEqual(await walk(store.root), storeBefore);
    assert.deepEqual(await snapshot(dm), before_);
  });

  it('imports every machine of the store (MACHINE_STORAGE_PATH), reports each, and leaves the store as it was', async () => {
    const result = await store.moor(['import'], { env: { MACHINE_STORAGE_PATH: dm } });
    assertExit(result, 0, 'import');
    for (const line of EXPECTED_LINES) assert.match(result.stdout, line);
    assert.doesNotMatch(result.stdout, /would be/);
    assert.deepEqual(await snapshot(dm), before_, 'the Docker Machine store is unchanged');
    const ls = await store.moor(['ls', '--format', '{{.Name}} {{.DriverName}}']);
    assert.equal(ls.stdout, 'aws amazonec2\ngen generic\nhz hetzner\nnn none\ntaken none\nvb virtualbox\n');
  });

  it('generic: its state, key and certificates; Docker Machine’s CA in a folder of its own, moor’s CA untouched', async () => {
    const record = JSON.parse(await readFile(join(store.machineDir('gen'), 'config.json'), 'utf8')) as {
      Phase: string;
      Driver: Record<string, unknown>;
      HostOptions: { EngineOptions: Record<string, unknown>; AuthOptions: Record<string, unknown> };
    };
    assert.equal(record.Phase, 'created');
    assert.deepEqual(record.Driver, {
      MachineName: 'gen',
      IPAddress: '127.0.0.1',
      SSHUser: 'docker',
      SSHPort: 2222,
      SSHKeyPath: 'id_rsa',
      EnginePort: 2377,
    });
    assert.equal(record.HostOptions.EngineOptions['InstallMethod'], 'none');
    assert.deepEqual(record.HostOptions.AuthOptions['ServerCertSANs'], ['gen.example']);
    const caPath = String(record.HostOptions.AuthOptions['CaCertPath']);
    assert.match(caPath, new RegExp(`^${store.path('certs')}/docker-machine-[0-9a-f]{12}/ca\\.pem$`));
    assert.equal(await readFile(caPath, 'utf8'), await readFile(join(dm, 'certs', 'ca.pem'), 'utf8'));
    assert.notEqual(
      await readFile(store.path('certs', 'ca.pem'), 'utf8'),
      await readFile(caPath, 'utf8'),
      "moor's own CA is still its own",
    );
    for (const file of ['id_rsa', 'ca.pem', 'cert.pem', 'key.pem', 'server.pem', 'server-key.pem']) {
      const path = join(store.machineDir('gen'), file);
      assert.equal(await readFile(path, 'utf8'), await readFile(join(dm, 'machines', 'gen', file), 'utf8'), file);
      assert.equal((await stat(path)).mode & 0o777, 0o600, file);
    }
    const env = await machineEnv(store, 'nn');
    assert.equal(env['DOCKER_CERT_PATH'], store.machineDir('nn'));
    assert.equal(env['DOCKER_HOST'], 'tcp://127.0.0.1:9');
  });

  it('amazonec2: the instance is kept, the AWS keys are nowhere in moor’s store', async () => {
    const record = JSON.parse(await readFile(join(store.machineDir('aws'), 'config.json'), 'utf8')) as {
      Driver: Record<string, unknown>;
    };
    assert.equal(record.Driver['InstanceId'], 'i-0123456789abcdef0');
    assert.equal(record.Driver['Region'], 'eu-west-1');
    assert.equal(record.Driver['SSHKeyPath'], 'id_rsa');
    for (const file of await walk(store.root)) {
      const path = join(store.root, file);
      if ((await stat(path)).isFile()) {
        const text = await readFile(path, 'utf8');
        assert.ok(!text.includes(SECRET) && !text.includes('AKIAIOSFODNN7EXAMPLE'), `${file} holds an AWS key`);
      }
    }
  });

  it('a plugin driver keeps its state, with paths into the old store now into moor’s', async () => {
    const record = JSON.parse(await readFile(join(store.machineDir('hz'), 'config.json'), 'utf8')) as {
      DriverName: string;
      Driver: Record<string, unknown>;
    };
    assert.equal(record.DriverName, 'hetzner');
    assert.equal(record.Driver['StorePath'], store.root);
    assert.equal(record.Driver['SSHKeyPath'], join(store.machineDir('hz'), 'id_rsa'));
    assert.equal(record.Driver['AccessToken'], 'token-kept-by-the-plugin');
    assert.equal(record.Driver['ServerID'], 42);
    assert.equal(await readFile(join(store.machineDir('hz'), 'extra.json'), 'utf8'), '{"plugin":"state"}');
    assert.deepEqual((await readdir(store.path('machines'))).sort(), ['aws', 'gen', 'hz', 'nn', 'taken', 'vb']);
  });

  it('a boot2docker VirtualBox machine: its VM, NAT-forwarded SSH and host-only address; provisioning refused (exit 6)', async () => {
    const record = JSON.parse(await readFile(join(store.machineDir('vb'), 'config.json'), 'utf8')) as {
      Driver: Record<string, unknown>;
    };
    assert.equal(record.Driver['VMName'], 'vb');
    assert.equal(record.Driver['SSHPort'], 50022);
    assert.equal(record.Driver['SSHUser'], 'docker');
    assert.equal(record.Driver['IPAddress'], '192.168.99.100');
    assert.equal(record.Driver['Boot2Docker'], true);
    for (const command of ['provision', 'upgrade']) {
      const result = await store.moor([command, 'vb']);
      assert.equal(result.code, 6, show(result));
      assert.match(
        result.stderr,
        /"vb" is a boot2docker VM imported from Docker Machine: moor drives it but does not provision/,
      );
    }
  });

  it('importing again skips what exists; a name not in the store fails (exit 1)', async () => {
    const again = await store.moor(['import', '--from', dm, 'gen']);
    assertExit(again, 0);
    assert.equal(again.stdout, 'gen (generic driver): skipped: moor already has a machine named "gen"\n');
    const missing = await store.moor(['import', '--from', dm, 'nosuch']);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stdout, /^nosuch: FAILED: there is no machine "nosuch" in /m);
    assert.match(missing.stderr, /1 of 1 machines could not be imported/);
  });

  it('a folder that is not a Docker Machine store is a clear error', async () => {
    const result = await store.moor(['import', '--from', join(dm, 'machines', 'gen')]);
    assert.equal(result.code, 1, show(result));
    assert.match(result.stderr, /No Docker Machine store at .* \(it has no machines folder\)/);
  });
});

if (hostsOrPlaceholder('moor import of a generic machine on a test host')) {
  describe('moor import of a generic machine on a test host', () => {
    let host: TestHost;
    let origin: TempStore;
    let store: TempStore;
    let dm: string;
    let pid: number;

    before(
      async () => {
        origin = await TempStore.create();
        store = await TempStore.create();
        host = await upHost({ name: hostName('import'), ip: await allocateIp(), withDocker: true });
        // The engine is set up with certificates of a CA (here made by moor in `origin`), which then becomes
        // the Docker Machine store: the engine serves that store's certificates, as Docker Machine's did.
        assertExit(await createGeneric(origin, 'old', host, { timeoutMs: 240_000 }), 0, 'create');
        dm = await mkdtemp(join(tmpdir(), 'moor-dm-host-'));
        const read = (...parts: string[]) => readFile(origin.path(...parts), 'utf8');
        const machineFiles: Record<string, string> = {};
        for (const file of ['ca.pem', 'cert.pem', 'key.pem', 'server.pem', 'server-key.pem']) {
          machineFiles[file] = await read('machines', 'old', file);
        }
        machineFiles['id_rsa'] = await readFile(host.keyPath, 'utf8');
        await writeDockerMachineStore(
          dm,
          {
            ca: await read('certs', 'ca.pem'),
            caKey: await read('certs', 'ca-key.pem'),
            cert: await read('certs', 'cert.pem'),
            key: await read('certs', 'key.pem'),
          },
          [
            {
              name: 'old',
              driverName: 'generic',
              driver: {
                IPAddress: host.ip,
                SSHUser: 'root',
                SSHPort: 22,
                SSHKeyPath: join(dm, 'machines', 'old', 'id_rsa'),
                EnginePort: 2376,
                SSHKey: host.keyPath,
              },
              files: machineFiles,
            },
          ],
        );
        await origin.cleanup();
        pid = await dockerdPid(host);
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
      await origin?.cleanup();
      if (dm) await rm(dm, { recursive: true, force: true });
    });

    it('after import, docker through moor env, moor ssh and ls work; the engine was not touched', async () => {
      const imported = await store.moor(['import', '--from', dm]);
      assertExit(imported, 0, 'import');
      assert.equal(imported.stdout, 'old (generic driver): imported\n');
      const env = await machineEnv(store, 'old');
      assert.equal(env['DOCKER_HOST'], `tcp://${host.ip}:2376`);
      const version = await docker(['version', '--format', '{{.Server.Version}}'], env);
      assertExit(version, 0, 'docker version');
      assert.equal(version.stdout.trim(), await hostOut(host, "docker version --format '{{.Server.Version}}'"));
      const ssh = await store.moor(['ssh', 'old', '--', 'hostname']);
      assertExit(ssh, 0, 'ssh');
      assert.equal(ssh.stdout.trim(), 'old');
      const record = JSON.parse(await readFile(join(store.machineDir('old'), 'config.json'), 'utf8')) as {
        SSHHostKey?: string;
      };
      assert.equal(record.SSHHostKey, await hostEd25519Key(host), 'the host key is pinned on first use');
      const ls = await store.moor(['ls']);
      const row = lsRow(ls.stdout, 'old');
      assert.equal(row['STATE'], 'Running');
      assert.match(row['DOCKER'] ?? '', /^v\d/);
      assert.equal(await dockerdPid(host), pid, 'the engine was not restarted (no provisioning)');
    });
  });
}
