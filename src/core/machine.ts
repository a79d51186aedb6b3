/**
 * The Machine record: what moor keeps about one machine in machines/<name>/config.json.
 * Field names follow Docker Machine's config.json (PascalCase) so that `moor inspect --format` templates
 * written for docker-machine keep working. The machine's own files (its certificates, a driver's key copy)
 * are not named by path: they sit in the machine folder under fixed names, or a driver records a bare file
 * name (SSHKeyPath), so a store can be moved. Files the user brought from elsewhere are recorded with the
 * absolute path given (CaCertPath and CaPrivateKeyPath for --tls-ca-cert/--tls-ca-key, a driver's
 * SSHKeySource) and are used from there.
 */
import { InvalidNameError } from './errors.js';
import { isObject } from './values.js';

export const CONFIG_VERSION = 1;

export const MachineState = {
  None: '',
  Running: 'Running',
  Paused: 'Paused',
  Saved: 'Saved',
  Stopped: 'Stopped',
  Stopping: 'Stopping',
  Starting: 'Starting',
  Error: 'Error',
  Timeout: 'Timeout',
} as const;
export type MachineStateValue = (typeof MachineState)[keyof typeof MachineState];

/** Where the record is in moor's own pipeline, independent of the driver's view of the host. */
export type Phase = 'creating' | 'created' | 'error';

export interface EngineOptions {
  InstallURL: string;
  ArbitraryFlags: string[];
  Env: string[];
  InsecureRegistry: string[];
  RegistryMirror: string[];
  Labels: string[];
  StorageDriver: string;
  TlsVerify: boolean;
  /** How Docker is installed: distribution packages, the InstallURL script, or not at all (preinstalled). */
  InstallMethod?: 'packages' | 'script' | 'none';
  /** --engine-version: a package version prefix, or the install script's VERSION. */
  Version?: string;
  /**
   * How the docker CLI reaches the engine: tls (a TCP listener with client certificates, as Docker Machine)
   * or ssh (no TCP listener at all: moor carries the API over SSH to the engine's socket). Default tls.
   */
  Transport?: 'tls' | 'ssh';
  /** --engine-socket: the engine's Unix socket on the host when it is not /var/run/docker.sock. */
  Socket?: string;
}

export interface AuthOptions {
  /** Extra subject alternative names for the server certificate (--tls-san). */
  ServerCertSANs: string[];
  /** Set only when the machine uses a CA the user brought (--tls-ca-cert/--tls-ca-key): absolute paths. */
  CaCertPath?: string;
  CaPrivateKeyPath?: string;
}

/**
 * The machine's Swarm mode membership, recorded when it inits, joins or leaves a swarm. IsSwarm and Master
 * are Docker Machine's names (Master: a manager); the rest is Swarm mode's. Join tokens are never kept.
 */
export interface SwarmOptions {
  IsSwarm: boolean;
  Master: boolean;
  /** The swarm's cluster ID (docker info: Swarm.Cluster.ID). */
  ClusterID: string;
  /** The swarm's name: the machine it was initialised on (it stays its name after that machine is gone). */
  Name: string;
  Role: 'manager' | 'worker';
  /** This machine's node ID in the swarm. */
  NodeID: string;
}

export interface MachineRecord {
  ConfigVersion: number;
  Name: string;
  DriverName: string;
  CreatedAt: string;
  Phase: Phase;
  /** The last error of the create pipeline, when Phase is "error". */
  LastError?: string;
  /** --ssh-timeout given at create (seconds): what provision, upgrade and regenerate-certs wait by default. */
  SSHTimeout?: number;
  /** The SSH host key pinned at the first connection ('ssh-ed25519 AAAA...'); later connections must match. */
  SSHHostKey?: string;
  /** What the last successful provisioning found and did. */
  Provision?: { OS: string; EngineVersion: string; At: string };
  /** Driver-owned state; opaque to the core. */
  Driver: Record<string, unknown>;
  HostOptions: {
    EngineOptions: EngineOptions;
    AuthOptions: AuthOptions;
    /** Set while the machine is a member of a Swarm mode cluster. */
    SwarmOptions?: SwarmOptions;
  };
}

const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9.-]*$/;
/**
 * The longest name of a new machine: the name becomes the host's hostname, and a hostname label is at most
 * 63 characters (RFC 1035).
 */
export const MAX_NAME_LENGTH = 63;
/** The longest name an existing machine may have (older moor allowed up to a DNS name's 253). */
const MAX_STORED_NAME_LENGTH = 253;

/**
 * What is wrong with a machine name, or undefined. `maxLength` is 63 for a new machine (create) and 253 for
 * one that exists already (older moor created such names, and they must still load, list and be removed).
 */
export function nameProblem(name: string, maxLength: number = MAX_STORED_NAME_LENGTH): string | undefined {
  if (name === '') return 'the name is empty';
  const bad = [...name].find((char) => !/[a-zA-Z0-9.-]/.test(char));
  if (bad !== undefined) {
    return `${JSON.stringify(bad)} is not allowed: use letters, digits, "." and "-"`;
  }
  if (!NAME_PATTERN.test(name)) return `it must start with a letter or digit, not ${JSON.stringify(name[0])}`;
  if (name.length > maxLength) {
    return maxLength === MAX_NAME_LENGTH
      ? `it is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}, as the name becomes the host's hostname`
      : `it is ${name.length} characters long; the limit is ${maxLength}`;
  }
  return undefined;
}

/** Whether `name` may name a machine of the store (an existing one: up to 253 characters). */
export function isValidName(name: string): boolean {
  return nameProblem(name) === undefined;
}

/** Throws InvalidNameError unless `name` may name a machine of the store (existing ones included). */
export function assertValidName(name: string): void {
  const problem = nameProblem(name);
  if (problem !== undefined) throw new InvalidNameError(name, problem);
}

/** Throws InvalidNameError unless `name` may name a new machine (at most 63 characters: it is the hostname). */
export function assertValidNewName(name: string): void {
  const problem = nameProblem(name, MAX_NAME_LENGTH);
  if (problem !== undefined) throw new InvalidNameError(name, problem);
}

export function defaultEngineOptions(): EngineOptions {
  return {
    InstallURL: '',
    ArbitraryFlags: [],
    Env: [],
    InsecureRegistry: [],
    RegistryMirror: [],
    Labels: [],
    StorageDriver: '',
    TlsVerify: true,
  };
}

/** Returns a problem description, or undefined when `value` is a valid record of this version. */
export function validateRecord(value: unknown, expectedName: string): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  const version = value['ConfigVersion'];
  if (typeof version !== 'number') return 'missing ConfigVersion';
  if (version > CONFIG_VERSION)
    return `config version ${version} is from a newer moor (this one reads up to ${CONFIG_VERSION}); upgrade moor`;
  if (version < 1) return `unknown config version ${version}`;
  if (value['Name'] !== expectedName) return `Name is ${JSON.stringify(value['Name'])}, expected "${expectedName}"`;
  if (typeof value['DriverName'] !== 'string' || value['DriverName'] === '') return 'missing DriverName';
  if (typeof value['CreatedAt'] !== 'string') return 'missing CreatedAt';
  if (!['creating', 'created', 'error'].includes(value['Phase'] as string)) return 'invalid Phase';
  if ('LastError' in value && typeof value['LastError'] !== 'string') return 'invalid LastError';
  if (!isObject(value['Driver'])) return 'missing Driver';
  const host = value['HostOptions'];
  if (!isObject(host)) return 'missing HostOptions';
  const engine = host['EngineOptions'];
  if (!isObject(engine)) return 'missing HostOptions.EngineOptions';
  for (const key of ['ArbitraryFlags', 'Env', 'InsecureRegistry', 'RegistryMirror', 'Labels'] as const) {
    if (!isStringArray(engine[key])) return `HostOptions.EngineOptions.${key} must be a list of strings`;
  }
  for (const key of ['InstallURL', 'StorageDriver'] as const) {
    if (typeof engine[key] !== 'string') return `HostOptions.EngineOptions.${key} must be a string`;
  }
  if (typeof engine['TlsVerify'] !== 'boolean') return 'HostOptions.EngineOptions.TlsVerify must be a boolean';
  if ('InstallMethod' in engine && !['packages', 'script', 'none'].includes(engine['InstallMethod'] as string))
    return 'HostOptions.EngineOptions.InstallMethod must be packages, script or none';
  if ('Version' in engine && typeof engine['Version'] !== 'string')
    return 'HostOptions.EngineOptions.Version must be a string';
  if ('SSHHostKey' in value && typeof value['SSHHostKey'] !== 'string') return 'SSHHostKey must be a string';
  if ('SSHTimeout' in value && !(typeof value['SSHTimeout'] === 'number' && value['SSHTimeout'] > 0))
    return 'SSHTimeout must be a positive number of seconds';
  if ('Provision' in value && !isObject(value['Provision'])) return 'Provision must be an object';
  const auth = host['AuthOptions'];
  if (!isObject(auth)) return 'missing HostOptions.AuthOptions';
  if (!isStringArray(auth['ServerCertSANs'])) return 'HostOptions.AuthOptions.ServerCertSANs must be a list of strings';
  for (const key of ['CaCertPath', 'CaPrivateKeyPath'] as const) {
    if (key in auth && typeof auth[key] !== 'string') return `HostOptions.AuthOptions.${key} must be a string`;
  }
  if ('SwarmOptions' in host) return swarmOptionsProblem(host['SwarmOptions']);
  return undefined;
}

function swarmOptionsProblem(swarm: unknown): string | undefined {
  if (!isObject(swarm)) return 'HostOptions.SwarmOptions must be an object';
  for (const key of ['IsSwarm', 'Master'] as const) {
    if (key in swarm && typeof swarm[key] !== 'boolean') return `HostOptions.SwarmOptions.${key} must be a boolean`;
  }
  for (const key of ['ClusterID', 'Name', 'NodeID'] as const) {
    if (key in swarm && typeof swarm[key] !== 'string') return `HostOptions.SwarmOptions.${key} must be a string`;
  }
  if ('Role' in swarm && !['manager', 'worker'].includes(swarm['Role'] as string))
    return 'HostOptions.SwarmOptions.Role must be manager or worker';
  return undefined;
}

/** The machine's Swarm mode membership, or undefined (Docker Machine's classic-swarm records have no ClusterID). */
export function swarmOf(record: MachineRecord): SwarmOptions | undefined {
  const swarm = record.HostOptions.SwarmOptions;
  return swarm?.IsSwarm && swarm.ClusterID ? swarm : undefined;
}

/** The SWARM column of ls, in Docker Machine's form: the swarm's name, with " (manager)" on managers. */
export function swarmColumn(record: MachineRecord): string {
  const swarm = swarmOf(record);
  if (!swarm) return '';
  return swarm.Role === 'manager' ? `${swarm.Name} (manager)` : swarm.Name;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** How long to wait for the machine's SSH when a command is not given --ssh-timeout: its own, else 300 s. */
export function sshTimeoutMsOf(record: MachineRecord): number {
  return (record.SSHTimeout ?? 300) * 1000;
}

/** Labels are `key=value` strings; returns the value of `key`, or undefined. */
export function labelValue(record: MachineRecord, key: string): string | undefined {
  for (const label of record.HostOptions.EngineOptions.Labels) {
    const eq = label.indexOf('=');
    if (eq === -1 ? label === key : label.slice(0, eq) === key) return eq === -1 ? '' : label.slice(eq + 1);
  }
  return undefined;
}

/** Rejects engine options that could not be applied, before anything is created. */
export function validateEngineOptions(engine: Partial<EngineOptions>): string | undefined {
  for (const label of engine.Labels ?? []) {
    if (!/^[^=\s]+=.*$/.test(label)) return `--engine-label "${label}" must be key=value`;
  }
  for (const opt of engine.ArbitraryFlags ?? []) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9-.]*(=.*)?$/.test(opt)) return `--engine-opt "${opt}" must be name=value or name`;
  }
  for (const variable of engine.Env ?? []) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(variable)) return `--engine-env "${variable}" must be NAME=value`;
  }
  if (engine.Socket !== undefined && !/^\/[^\0\s]*$/.test(engine.Socket)) {
    return `--engine-socket "${engine.Socket}" must be an absolute path on the host, without spaces`;
  }
  for (const value of [...(engine.InsecureRegistry ?? []), ...(engine.RegistryMirror ?? [])]) {
    if (value.trim() === '' || /\s/.test(value)) return `registry "${value}" must not be empty or contain spaces`;
  }
  return undefined;
}

/** The engine's transport: ssh only when asked for, tls (Docker Machine's) otherwise. */
export function transportOf(engine: EngineOptions): 'tls' | 'ssh' {
  return engine.Transport ?? 'tls';
}

/** How Docker is installed: as asked, else the install script when a URL was given, else packages. */
export function installMethodOf(engine: Partial<EngineOptions>): 'packages' | 'script' | 'none' {
  return engine.InstallMethod ?? (engine.InstallURL ? 'script' : 'packages');
}
