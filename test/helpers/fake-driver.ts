/**
 * A configurable driver for tests of the core (as libmachine's drivers/fakedriver): registered through
 * registerDriver under a name of its own per call, with its hosts kept in memory so that the test can
 * read and move them (state, address), a log of every call the core made, a failure to inject per
 * operation, a hook to hold an operation (a barrier), and the `provisions` / `removeOnFailedCreate`
 * switches. A new driver instance is made for every command, as in the CLI; the hosts outlive them.
 */
import {
  BaseDriver,
  type DriverContext,
  type DriverFlag,
  type DriverFlagValues,
  type EngineTransport,
  type LifecycleOperation,
  MachineState,
  type MachineStateValue,
  NotSupportedError,
  type SSHConfig,
} from '../../drivers/api.js';
import { registerDriver } from '../../drivers/registry.js';
import {
  CONFIG_VERSION,
  defaultEngineOptions,
  type EngineOptions,
  type MachineRecord,
} from '../../src/core/machine.js';

export type FakeOperation =
  'preCreateCheck' | 'create' | 'remove' | LifecycleOperation | 'getState' | 'getIP' | 'getURL' | 'getSSHConfig';

/** A host the fake driver made (or that a test put there for a record it wrote itself). */
export interface FakeHost {
  state: MachineStateValue;
  ip: string;
  /** Default: tcp://IP:2376. */
  url?: string;
  ssh?: SSHConfig;
}

export interface FakeDriverOptions {
  /** Prefix of the registered name (a counter makes it unique): shows in failure messages. */
  label?: string;
  /** Whether create goes on to provision over SSH (default false: no SSH needed). */
  provisions?: boolean;
  removeOnFailedCreate?: boolean;
  /** Whether create() makes nothing, the machine being its record (as the none driver's). */
  recordsOnly?: boolean;
  /** The address a new host gets (default 192.0.2.10, TEST-NET-1). */
  ip?: string;
  url?: string;
  ssh?: SSHConfig;
  /** Lifecycle operations the driver does not implement (NotSupportedError, supports() false). */
  unsupported?: LifecycleOperation[];
  /** Create-time flags the driver declares. */
  flags?: DriverFlag[];
  /** The engine transports it declares (default: not declared, so all). */
  transports?: EngineTransport[];
  /** The definition's defaultTransport (the transport of a create that names none). */
  defaultTransport?: (flags: DriverFlagValues) => EngineTransport;
}

export interface FakeCall {
  machine: string;
  operation: FakeOperation;
}

export interface FakeDriver {
  /** The name it is registered under: pass it as `driver` to create. */
  readonly name: string;
  readonly hosts: Map<string, FakeHost>;
  /** Every operation the core called, in order. */
  readonly calls: FakeCall[];
  /** The operations called for one machine, in order. */
  callsFor(machine: string): FakeOperation[];
  /** The context each new machine's driver got from create (fromFlags), by machine name. */
  readonly createContexts: Map<string, DriverContext>;
  /** The host of `machine`; throws when there is none. */
  host(machine: string): FakeHost;
  /** Makes `operation` throw `error` (for every machine, until cleared with undefined). */
  fail(operation: FakeOperation, error: Error | undefined): void;
  /**
   * Runs `hook` before `operation` (after the call is logged): an async hook holds the operation, e.g.
   * until a barrier opens. undefined removes it.
   */
  before(operation: FakeOperation, hook: ((machine: string) => Promise<void> | void) | undefined): void;
}

let registered = 0;

export function fakeDriver(options: FakeDriverOptions = {}): FakeDriver {
  registered += 1;
  const name = `${options.label ?? 'fake'}-${registered}`;
  const hosts = new Map<string, FakeHost>();
  const calls: FakeCall[] = [];
  const failures = new Map<FakeOperation, Error>();
  const hooks = new Map<FakeOperation, (machine: string) => Promise<void> | void>();
  const unsupported = new Set(options.unsupported ?? []);
  const createContexts = new Map<string, DriverContext>();

  class Fake extends BaseDriver {
    readonly driverName = name;
    override readonly provisions = options.provisions ?? false;
    readonly removeOnFailedCreate = options.removeOnFailedCreate ?? false;
    readonly recordsOnly = options.recordsOnly ?? false;

    constructor(context: DriverContext) {
      super(context);
    }

    /** Logs the call, runs its hook, throws its injected failure. */
    private async enter(operation: FakeOperation): Promise<void> {
      const machine = this.context.machineName;
      calls.push({ machine, operation });
      await hooks.get(operation)?.(machine);
      const failure = failures.get(operation);
      if (failure) throw failure;
    }

    private host(): FakeHost {
      const host = hosts.get(this.context.machineName);
      if (!host) throw new Error(`fake driver ${name}: no host for "${this.context.machineName}"`);
      return host;
    }

    private async lifecycle(operation: LifecycleOperation, state: MachineStateValue): Promise<void> {
      await this.enter(operation);
      if (unsupported.has(operation)) throw new NotSupportedError(operation, name);
      this.host().state = state;
    }

    override supports(operation: LifecycleOperation): boolean {
      return !unsupported.has(operation);
    }

    override async preCreateCheck(): Promise<void> {
      await this.enter('preCreateCheck');
    }
    async create(): Promise<void> {
      await this.enter('create');
      hosts.set(this.context.machineName, {
        state: MachineState.Running,
        ip: options.ip ?? '192.0.2.10',
        ...(options.url ? { url: options.url } : {}),
        ...(options.ssh ? { ssh: options.ssh } : {}),
      });
    }
    override async remove(): Promise<void> {
      await this.enter('remove');
      hosts.delete(this.context.machineName);
    }
    override start(): Promise<void> {
      return this.lifecycle('start', MachineState.Running);
    }
    override stop(): Promise<void> {
      return this.lifecycle('stop', MachineState.Stopped);
    }
    override restart(): Promise<void> {
      return this.lifecycle('restart', MachineState.Running);
    }
    override kill(): Promise<void> {
      return this.lifecycle('kill', MachineState.Stopped);
    }
    async getState(): Promise<MachineStateValue> {
      await this.enter('getState');
      return this.host().state;
    }
    async getIP(): Promise<string> {
      await this.enter('getIP');
      return this.host().ip;
    }
    async getURL(): Promise<string> {
      await this.enter('getURL');
      const host = this.host();
      return host.url ?? `tcp://${host.ip}:2376`;
    }
    override async getSSHConfig(): Promise<SSHConfig> {
      await this.enter('getSSHConfig');
      const host = this.host();
      return host.ssh ?? { host: host.ip, port: 22, user: 'root' };
    }
    toJSON(): Record<string, unknown> {
      const host = hosts.get(this.context.machineName);
      return host ? { IPAddress: host.ip } : {};
    }
  }

  registerDriver({
    name,
    description: `fake driver for tests (${name})`,
    flags: options.flags ?? [],
    ...(options.transports ? { transports: options.transports } : {}),
    ...(options.defaultTransport ? { defaultTransport: options.defaultTransport } : {}),
    load: async () => ({
      fromFlags: (context) => {
        createContexts.set(context.machineName, context);
        return new Fake(context);
      },
      fromRecord: (context) => new Fake(context),
    }),
  });

  return {
    name,
    hosts,
    calls,
    createContexts,
    callsFor: (machine) => calls.filter((call) => call.machine === machine).map((call) => call.operation),
    host(machine) {
      const host = hosts.get(machine);
      if (!host) throw new Error(`fake driver ${name}: no host for "${machine}"`);
      return host;
    },
    fail(operation, error) {
      if (error) failures.set(operation, error);
      else failures.delete(operation);
    },
    before(operation, hook) {
      if (hook) hooks.set(operation, hook);
      else hooks.delete(operation);
    },
  };
}

/**
 * A finished record of a fake-driver machine, as create would store it: for tests that put machines in a
 * store directly (what an older moor wrote, many machines at once).
 */
export function fakeRecord(
  driver: FakeDriver,
  name: string,
  options: { driverState?: Record<string, unknown>; engine?: Partial<EngineOptions> } = {},
): MachineRecord {
  return {
    ConfigVersion: CONFIG_VERSION,
    Name: name,
    DriverName: driver.name,
    CreatedAt: new Date().toISOString(),
    Phase: 'created',
    Driver: options.driverState ?? {},
    HostOptions: {
      EngineOptions: { ...defaultEngineOptions(), ...options.engine },
      AuthOptions: { ServerCertSANs: [] },
    },
  };
}
