/**
 * The Driver interface: one small async contract that every way of getting a host (an existing URL, an
 * SSH server, a cloud instance, a local VM) implements. The core owns it (it says what the core needs of a
 * driver); drivers see it through drivers/api.ts. A driver never writes the store: it returns its state
 * through toJSON() and the core persists it, and it never computes store paths: its context hands it its
 * own folder, a cache folder, store-wide locks and a view of the other machines.
 */
import { NotSupportedError } from './errors.js';
import type { LockOptions } from './lock.js';
import type { Logger } from './log.js';
import type { MachineStateValue } from './machine.js';

export type DriverFlagType = 'string' | 'boolean' | 'integer' | 'strings';
export type DriverFlagValue = string | number | boolean | string[];
export type DriverFlagValues = Record<string, DriverFlagValue | undefined>;

/** A create-time flag of a driver, declared without any CLI framework (the CLI maps these to its flags). */
export interface DriverFlag {
  /** Full flag name without dashes, namespaced: `<driver>-<name>` (the none driver's `url` is the exception). */
  name: string;
  type: DriverFlagType;
  description: string;
  /** Environment variables read when the flag is not given, first match wins. */
  env?: string[];
  default?: DriverFlagValue;
  required?: boolean;
  options?: string[];
}

export type LifecycleOperation = 'start' | 'stop' | 'restart' | 'kill';

/** How the docker CLI reaches a machine's engine (--engine-transport): TLS on TCP, or the API carried over SSH. */
export type EngineTransport = 'tls' | 'ssh';
export const ENGINE_TRANSPORTS: readonly EngineTransport[] = ['tls', 'ssh'];

export interface SSHConfig {
  host: string;
  port: number;
  user: string;
  /** Absolute path of the private key, when key authentication is used. */
  keyPath?: string;
  /** The key file the user gave, when keyPath is a copy of it in the machine folder (for messages). */
  keySource?: string;
  /** The server's host key, when the driver has already seen it (moor pins it then). */
  hostKey?: string;
  /**
   * For a host that exists independently of moor (generic): how long a refused SSH port is retried before
   * it counts as the answer. Undefined for hosts a driver has just made, which refuse while they boot.
   */
  refusedGraceMs?: number;
}

export type DriverLogger = Logger;

/** Another machine of the store, as a driver may see it (to avoid handing out an address twice). */
export interface OtherMachine {
  name: string;
  /** Absolute path of its folder (a driver may read its own driver's files there, never write them). */
  dir: string;
  /** Its driver and driver state; undefined when its config.json is missing or broken. */
  driverName?: string;
  driverState?: Record<string, unknown>;
}

export interface DriverContext {
  machineName: string;
  /** Absolute path of the machine's folder in the store (read-only for drivers except their own files). */
  machineDir: string;
  /** Absolute path of the store's cache folder, shared by machines and drivers (images, downloads). */
  cacheDir: string;
  log: DriverLogger;
  /** The environment moor runs with (read this, never process.env: a library user may pass another). */
  env: NodeJS.ProcessEnv;
  /** How the Docker engine will be reached (set for create): a cloud driver opens 2376 for 'tls' only. */
  engineTransport?: EngineTransport;
  /** Create's budget for SSH to answer once the host exists (--ssh-timeout); a VM driver waits that long for its boot. */
  sshTimeoutMs?: number;
  /**
   * Set for a create whose engine the core can configure before it first starts (the ssh transport: no
   * certificate that needs the host's address): a shell script that a driver booting a new host from a
   * cloud-init seed has it run once, as root, at its first boot, before the Docker engine starts
   * (drivers/shared/vm/cloud-init.ts puts it in a seed's bootcmd). It writes the engine's configuration as
   * provisioning would, so that the engine starts with it and provisioning restarts nothing; it starts
   * nothing itself. A driver may ignore it: provisioning writes the same files then.
   */
  firstBootScript?: string;
  /**
   * Set during create: aborted when the user interrupts (its reason is the error to throw). A driver
   * checks it between its steps (`signal?.throwIfAborted()`) and passes it to its waits; it rolls back what
   * it made, as for any failure of create.
   */
  signal?: AbortSignal;
  /**
   * Set during create: stores the driver's toJSON() in the machine's record now. A driver calls it as soon
   * as it knows of a resource that costs money (before and after the call that makes it), so that a moor
   * killed at any point leaves a record that `moor rm -f` can remove the resource with.
   */
  checkpoint?(): Promise<void>;
  /**
   * Runs `fn` holding a store-wide lock named `key` (for example "virtualbox-hostonly"), waited for by every
   * other moor process that takes the same key; the options name the holder in a busy lock's message.
   */
  withLock<T>(key: string, options: LockOptions, fn: () => Promise<T>): Promise<T>;
  /** The store's other machines (not this one), every driver's: filter on driverName. */
  otherMachines(): Promise<OtherMachine[]>;
}

export interface Driver {
  readonly driverName: string;
  /** Checks that create can succeed (credentials, tools, quotas) before anything is written or created. */
  preCreateCheck(): Promise<void>;
  create(): Promise<void>;
  remove(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  kill(): Promise<void>;
  getState(): Promise<MachineStateValue>;
  getIP(): Promise<string>;
  /** The Docker endpoint, e.g. tcp://1.2.3.4:2376. */
  getURL(): Promise<string>;
  getSSHConfig(): Promise<SSHConfig>;
  /** Whether the driver implements a lifecycle operation (checked before the machine's state is). */
  supports(operation: LifecycleOperation): boolean;
  /** Whether moor provisions the host over SSH after create (false for `none`). */
  readonly provisions: boolean;
  /**
   * Whether create() makes nothing, the machine being only its record (the none driver): moor then writes
   * the machine's folder once, whole and final, instead of recording it before create() and again after.
   */
  readonly recordsOnly?: boolean;
  /** Why this machine is not provisioned when its driver's others are (an imported boot2docker VM): the message. */
  readonly provisionRefusal?: string;
  /**
   * Whether a create that fails after the driver made the host (provisioning, certificates) removes it
   * again, record included: for hosts that cost money while they exist (cloud instances). Drivers that
   * never create the host (generic, none) keep the record in state Error instead.
   */
  readonly removeOnFailedCreate?: boolean;
  /** The driver's persistent state, stored as config.json's `Driver` field. */
  toJSON(): Record<string, unknown>;
  /**
   * Opens what Swarm mode needs between this machine and the others of its kind (2377/tcp, 7946/tcp and
   * udp, 4789/udp), never to the world; idempotent. Called when the machine inits or joins a swarm. Drivers
   * without a firewall of their own leave it out; where the rules cannot be added, the error names them.
   */
  openSwarmPorts?(): Promise<void>;
  /**
   * The address the other machines of a swarm reach this one on, when it is not getIP()'s: a cloud
   * instance's private address (what its firewall rules between the machines apply to, and what stays
   * the same across stop and start). Without it, getIP().
   */
  getSwarmAddress?(): Promise<string>;
}

export interface DriverFactory {
  /** A driver for a new machine, from validated flag values. */
  fromFlags(context: DriverContext, flags: DriverFlagValues): Driver;
  /** A driver for an existing machine, from its stored state. */
  fromRecord(context: DriverContext, state: Record<string, unknown>): Driver;
}

export interface DriverDefinition {
  name: string;
  description: string;
  flags: DriverFlag[];
  /**
   * The engine transports this driver's machines can use (default: all). create refuses another one
   * before anything exists: the ssh transport needs a driver that reaches the host over SSH.
   */
  transports?: readonly EngineTransport[];
  /**
   * The engine transport of a create that names none (--engine-transport), from the driver's flag values
   * (validated, defaults applied); 'tls' when the driver has no such function. The qemu driver on its user
   * network answers 'ssh': the VM has no address that other programs could reach a TCP port on.
   */
  defaultTransport?(flags: DriverFlagValues): EngineTransport;
  /** Loads the implementation lazily, so that listing flags or drivers never imports a cloud SDK. */
  load(): Promise<DriverFactory>;
  /** Where a driver that is not built in was found (`moor drivers`): an npm package or a plugin binary. */
  source?: DriverSource;
  /**
   * For a driver whose flags only its own program can tell (a Docker Machine plugin binary answers
   * GetCreateFlags): fetches them into `flags` and returns them. It starts that program, so only create and
   * `create -d NAME --help` call it (through the registry's findDriver with `withFlags`).
   */
  loadFlags?(env: NodeJS.ProcessEnv): Promise<DriverFlag[]>;
  /**
   * For `moor import`: this driver's state for a machine Docker Machine made with its driver of the same
   * name (config.json's Driver object, which holds libmachine's base fields). The machine folder then holds
   * Docker Machine's files (id_rsa, certificates). `notes` say what was left out and why; throwing means
   * the machine cannot be imported (the message says why).
   */
  fromDockerMachine?(driver: Record<string, unknown>): { state: Record<string, unknown>; notes?: string[] };
}

export interface DriverSource {
  kind: 'npm' | 'plugin';
  /** The package folder or the binary. */
  path: string;
}

/** Defaults for drivers: every lifecycle operation the driver does not override is "not supported". */
export abstract class BaseDriver implements Driver {
  abstract readonly driverName: string;
  readonly provisions: boolean = true;

  constructor(protected readonly context: DriverContext) {}

  async preCreateCheck(): Promise<void> {}

  /** An operation is supported when the driver overrides the default that throws NotSupportedError. */
  supports(operation: LifecycleOperation): boolean {
    return this[operation] !== BaseDriver.prototype[operation];
  }

  abstract create(): Promise<void>;
  async remove(): Promise<void> {}
  async start(): Promise<void> {
    throw new NotSupportedError('start', this.driverName);
  }
  async stop(): Promise<void> {
    throw new NotSupportedError('stop', this.driverName);
  }
  async restart(): Promise<void> {
    throw new NotSupportedError('restart', this.driverName);
  }
  async kill(): Promise<void> {
    throw new NotSupportedError('kill', this.driverName);
  }
  abstract getState(): Promise<MachineStateValue>;
  abstract getIP(): Promise<string>;
  abstract getURL(): Promise<string>;
  async getSSHConfig(): Promise<SSHConfig> {
    throw new NotSupportedError('ssh', this.driverName);
  }
  abstract toJSON(): Record<string, unknown>;
}
