/**
 * A Docker Machine store in Docker Machine's exact format (persist/filestore.go, host/host.go; config.json
 * version 3 with absolute paths, libmachine's field names, files 0600 in 0700 folders), for `moor import`
 * tests: certs/{ca,ca-key,cert,key}.pem and machines/NAME/{config.json,id_rsa,ca.pem,cert.pem,key.pem,
 * server.pem,server-key.pem}.
 */
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export interface DockerMachineCerts {
  ca: string;
  caKey: string;
  cert: string;
  key: string;
}

export interface DockerMachineMachine {
  name: string;
  driverName: string;
  /** The driver's own fields, merged over libmachine's BaseDriver fields. */
  driver: Record<string, unknown>;
  /** Files of the machine folder besides config.json (name -> content). */
  files: Record<string, string | Buffer>;
  serverCertSANs?: string[];
}

async function writePrivate(path: string, data: string | Buffer): Promise<void> {
  await writeFile(path, data, { mode: 0o600 });
  await chmod(path, 0o600);
}

export async function writeDockerMachineStore(
  root: string,
  certs: DockerMachineCerts,
  machines: DockerMachineMachine[],
): Promise<void> {
  const certDir = join(root, 'certs');
  await mkdir(certDir, { recursive: true, mode: 0o700 });
  await writePrivate(join(certDir, 'ca.pem'), certs.ca);
  await writePrivate(join(certDir, 'ca-key.pem'), certs.caKey);
  await writePrivate(join(certDir, 'cert.pem'), certs.cert);
  await writePrivate(join(certDir, 'key.pem'), certs.key);
  for (const machine of machines) {
    const dir = join(root, 'machines', machine.name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const [file, data] of Object.entries(machine.files)) await writePrivate(join(dir, file), data);
    await writePrivate(join(dir, 'config.json'), JSON.stringify(dockerMachineConfig(root, machine), null, '    '));
  }
}

/** config.json as Docker Machine 0.16 writes it. */
export function dockerMachineConfig(root: string, machine: DockerMachineMachine): Record<string, unknown> {
  const dir = join(root, 'machines', machine.name);
  const certDir = join(root, 'certs');
  return {
    ConfigVersion: 3,
    Driver: {
      IPAddress: '',
      MachineName: machine.name,
      SSHUser: '',
      SSHPort: 0,
      SSHKeyPath: '',
      StorePath: root,
      SwarmMaster: false,
      SwarmHost: '',
      SwarmDiscovery: '',
      ...machine.driver,
    },
    DriverName: machine.driverName,
    HostOptions: {
      Driver: '',
      Memory: 0,
      Disk: 0,
      EngineOptions: {
        ArbitraryFlags: [],
        Dns: null,
        GraphDir: '',
        Env: [],
        Ipv6: false,
        InsecureRegistry: [],
        Labels: [],
        LogLevel: '',
        StorageDriver: '',
        SelinuxEnabled: false,
        TlsVerify: true,
        RegistryMirror: [],
        InstallURL: 'https://get.docker.com',
      },
      SwarmOptions: {
        IsSwarm: false,
        Address: '',
        Discovery: '',
        Agent: false,
        Master: false,
        Host: 'tcp://0.0.0.0:3376',
        Image: 'swarm:latest',
        Strategy: 'spread',
        Heartbeat: 0,
        Overcommit: 0,
        ArbitraryFlags: [],
        ArbitraryJoinFlags: [],
        Env: null,
        IsExperimental: false,
      },
      AuthOptions: {
        CertDir: certDir,
        CaCertPath: join(certDir, 'ca.pem'),
        CaPrivateKeyPath: join(certDir, 'ca-key.pem'),
        CaCertRemotePath: '',
        ServerCertPath: join(dir, 'server.pem'),
        ServerKeyPath: join(dir, 'server-key.pem'),
        ClientKeyPath: join(certDir, 'key.pem'),
        ServerCertRemotePath: '',
        ServerKeyRemotePath: '',
        ClientCertPath: join(certDir, 'cert.pem'),
        ServerCertSANs: machine.serverCertSANs ?? [],
        StorePath: dir,
      },
    },
    Name: machine.name,
  };
}

/** Every file under `root` with its mode and content hash: to show that a store was not changed. */
export async function snapshot(root: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  async function walk(dir: string): Promise<void> {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      const info = await stat(path);
      if (entry.isDirectory()) {
        result[path] = `dir ${(info.mode & 0o777).toString(8)}`;
        await walk(path);
      } else {
        const hash = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
        result[path] = `${(info.mode & 0o777).toString(8)} ${hash} ${info.mtimeMs}`;
      }
    }
  }
  await walk(root);
  return result;
}
