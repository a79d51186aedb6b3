/**
 * `moor import`: Docker Machine's machines (its store, default ~/.docker/machine or $MACHINE_STORAGE_PATH)
 * copied into moor's store, so that `moor env`, `ssh`, `ls` work on them as they did in Docker Machine:
 * the machine folder's certificates (Docker Machine's CA copy, client and server certificates, which the
 * engines keep serving), its SSH key, the engine options and the driver state, mapped by the driver's own
 * fromDockerMachine (built-in drivers) or kept as it is for a plugin driver of that name (paths into the
 * old store rewritten). Docker Machine's CA goes to a folder of its own under moor's certs (the machines'
 * CaCertPath, as with --tls-ca-cert): moor's CA is never replaced. The Docker Machine store is only read.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DRIVERS, discoverDrivers } from '../../drivers/registry.js';
import { MoorError, messageOf } from './errors.js';
import { CERT_FILE_MODE, ensureDir, PRIVATE_FILE_MODE, writeFileAtomic } from './fsutil.js';
import type { Logger } from './log.js';
import {
  CONFIG_VERSION,
  defaultEngineOptions,
  type EngineOptions,
  type MachineRecord,
  nameProblem,
} from './machine.js';
import type { Store, StoredFile } from './store.js';
import { isObject } from './values.js';

export interface ImportOptions {
  /** The Docker Machine store (default $MACHINE_STORAGE_PATH, else ~/.docker/machine). */
  from?: string;
  /** Machines to import; all of the store's when empty. */
  names?: string[];
  /** Report what would be imported; write nothing. */
  dryRun?: boolean;
}

export type ImportOutcome = 'imported' | 'planned' | 'skipped' | 'failed';

export interface ImportedMachine {
  name: string;
  /** Docker Machine's driver name (also moor's: built-in drivers map by name, others are plugin drivers). */
  driver: string;
  outcome: ImportOutcome;
  /** Why it was skipped or failed. */
  reason?: string;
  /** What was left out or needs doing (credentials not imported, a plugin to install). */
  notes: string[];
}

export interface ImportReport {
  from: string;
  machines: ImportedMachine[];
}

/** Docker Machine's own default store. */
export function dockerMachineStorePath(env: NodeJS.ProcessEnv): string {
  return env['MACHINE_STORAGE_PATH'] || join(homedir(), '.docker', 'machine');
}

/** The files of a Docker Machine machine folder a built-in driver's machine needs. */
const KNOWN_FILES = ['id_rsa', 'id_rsa.pub', 'ca.pem', 'cert.pem', 'key.pem', 'server.pem', 'server-key.pem'];
const CLIENT_FILES = ['ca.pem', 'cert.pem', 'key.pem'];

interface Plan {
  record: MachineRecord;
  files: StoredFile[];
  notes: string[];
}

export async function importMachines(store: Store, options: ImportOptions, log: Logger): Promise<ImportReport> {
  const from = resolve(options.from ?? dockerMachineStorePath(store.env));
  const machinesDir = join(from, 'machines');
  if (!(await isDirectory(machinesDir))) {
    throw new MoorError(`No Docker Machine store at ${from} (it has no machines folder).`, {
      code: 'IMPORT_SOURCE_NOT_FOUND',
      suggestions: [
        'Give the store with --from PATH (Docker Machine used $MACHINE_STORAGE_PATH, else ~/.docker/machine).',
      ],
    });
  }
  const names = options.names?.length ? options.names : await machineFolders(machinesDir);
  const ca = await dockerMachineCa(from);
  const machines: ImportedMachine[] = [];
  for (const name of names) {
    const dir = join(machinesDir, name);
    let plan: Plan;
    try {
      plan = await planImport(store, name, dir, from, ca);
    } catch (error) {
      const skipped = error instanceof Skip;
      machines.push({
        name,
        driver: error instanceof Skip ? error.driver : '',
        outcome: skipped ? 'skipped' : 'failed',
        reason: messageOf(error),
        notes: [],
      });
      continue;
    }
    const driver = plan.record.DriverName;
    if (options.dryRun) {
      machines.push({ name, driver, outcome: 'planned', notes: plan.notes });
      continue;
    }
    try {
      if (ca && plan.record.HostOptions.AuthOptions.CaCertPath) await writeCa(ca);
      await store.add(plan.record, plan.files);
      log.step(`Imported "${name}" (${driver} driver)`);
      machines.push({ name, driver, outcome: 'imported', notes: plan.notes });
    } catch (error) {
      machines.push({ name, driver, outcome: 'failed', reason: messageOf(error), notes: [] });
    }
  }
  return { from, machines };

  async function writeCa(source: DockerMachineCa): Promise<void> {
    await ensureDir(source.dir);
    await writeFileAtomic(join(source.dir, 'ca.pem'), source.cert, CERT_FILE_MODE);
    await writeFileAtomic(join(source.dir, 'ca-key.pem'), source.key, PRIVATE_FILE_MODE);
  }

  interface DockerMachineCa {
    cert: string;
    key: string;
    /** Its folder in moor's store. */
    dir: string;
  }

  async function dockerMachineCa(root: string): Promise<DockerMachineCa | undefined> {
    try {
      const cert = await readFile(join(root, 'certs', 'ca.pem'), 'utf8');
      const key = await readFile(join(root, 'certs', 'ca-key.pem'), 'utf8');
      const hash = createHash('sha256').update(cert).digest('hex').slice(0, 12);
      return { cert, key, dir: join(store.certsDir, `docker-machine-${hash}`) };
    } catch {
      return undefined;
    }
  }
}

class Skip extends Error {
  constructor(
    readonly driver: string,
    message: string,
  ) {
    super(message);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function machineFolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

async function planImport(
  store: Store,
  name: string,
  dir: string,
  from: string,
  ca: { dir: string } | undefined,
): Promise<Plan> {
  if (!(await isDirectory(dir))) throw new Error(`there is no machine "${name}" in ${from}`);
  let config: unknown;
  try {
    config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  } catch (error) {
    throw new Skip('', `unknown format: its config.json cannot be read (${messageOf(error)})`);
  }
  if (
    !isObject(config) ||
    typeof config['DriverName'] !== 'string' ||
    !isObject(config['Driver']) ||
    !isObject(config['HostOptions']) ||
    typeof config['ConfigVersion'] !== 'number' ||
    config['ConfigVersion'] > 3
  ) {
    throw new Skip('', 'unknown format: not a Docker Machine config.json (version 3 or older)');
  }
  const driverName = config['DriverName'];
  const problem = nameProblem(name);
  if (problem) throw new Skip(driverName, `its name is not a valid moor machine name: ${problem}`);
  if (await store.exists(name)) throw new Skip(driverName, `moor already has a machine named "${name}"`);

  const present = new Set(await readdir(dir));
  for (const file of CLIENT_FILES) {
    if (!present.has(file)) throw new Skip(driverName, `unknown format: its folder has no ${file}`);
  }
  const notes: string[] = [];
  const blob = config['Driver'];
  const definition = DRIVERS.get(driverName);
  let state: Record<string, unknown>;
  let fileNames: string[];
  if (definition) {
    if (!definition.fromDockerMachine) throw new Skip(driverName, `the ${driverName} driver cannot import machines`);
    try {
      const mapped = definition.fromDockerMachine(blob);
      state = mapped.state;
      notes.push(...(mapped.notes ?? []));
    } catch (error) {
      throw new Skip(driverName, `unknown format: ${messageOf(error)}`);
    }
    fileNames = KNOWN_FILES.filter((file) => present.has(file));
  } else {
    // A plugin driver: its own state, with paths into the old store pointing into moor's.
    state = rewritePaths(blob, [
      [dir, store.machineDir(name)],
      [from, store.root],
    ]) as Record<string, unknown>;
    fileNames = [...present].filter((file) => file !== 'config.json').sort();
    const installed = discoverDrivers({ storePath: store.root, env: store.env }).some(
      (found) => found.name === driverName,
    );
    if (!installed) {
      notes.push(
        `Install the plugin docker-machine-driver-${driverName} (on PATH or in ${join(store.root, 'plugins')}) to drive it.`,
      );
    }
  }
  const files: StoredFile[] = [];
  for (const file of fileNames) {
    const path = join(dir, file);
    if (!(await stat(path)).isFile()) continue;
    files.push({
      name: file,
      data: await readFile(path),
      mode: /key|id_rsa$|\.key$/.test(file) ? PRIVATE_FILE_MODE : CERT_FILE_MODE,
    });
  }
  const hostOptions = config['HostOptions'];
  const auth = isObject(hostOptions['AuthOptions']) ? hostOptions['AuthOptions'] : {};
  const record: MachineRecord = {
    ConfigVersion: CONFIG_VERSION,
    Name: name,
    DriverName: driverName,
    CreatedAt: new Date().toISOString(),
    Phase: 'created',
    Driver: state,
    HostOptions: {
      EngineOptions: engineOptionsOf(hostOptions['EngineOptions']),
      AuthOptions: {
        ServerCertSANs: strings(auth['ServerCertSANs']),
        ...(ca ? { CaCertPath: join(ca.dir, 'ca.pem'), CaPrivateKeyPath: join(ca.dir, 'ca-key.pem') } : {}),
      },
    },
  };
  return { record, files, notes };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** Docker Machine's EngineOptions in moor's shape; the engine is installed already, so provisioning installs nothing. */
function engineOptionsOf(value: unknown): EngineOptions {
  const options = isObject(value) ? value : {};
  return {
    ...defaultEngineOptions(),
    InstallURL: typeof options['InstallURL'] === 'string' ? options['InstallURL'] : '',
    ArbitraryFlags: strings(options['ArbitraryFlags']),
    Env: strings(options['Env']),
    InsecureRegistry: strings(options['InsecureRegistry']),
    RegistryMirror: strings(options['RegistryMirror']),
    Labels: strings(options['Labels']),
    StorageDriver: typeof options['StorageDriver'] === 'string' ? options['StorageDriver'] : '',
    TlsVerify: options['TlsVerify'] !== false,
    InstallMethod: 'none',
  };
}

/** Every string in `value` that starts with one of the old prefixes, with the new prefix instead. */
function rewritePaths(value: unknown, prefixes: [string, string][]): unknown {
  if (typeof value === 'string') {
    for (const [old, replacement] of prefixes) {
      if (value === old || value.startsWith(`${old}/`)) return replacement + value.slice(old.length);
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => rewritePaths(item, prefixes));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, rewritePaths(item, prefixes)]));
  }
  return value;
}
