/**
 * A Docker Machine plugin binary as a moor driver. The driver's state is the plugin's own JSON config
 * (GetConfigRaw), stored as the record's `Driver` field as Docker Machine stores it. Each operation starts
 * the plugin, sends SetConfigRaw(state) and its calls, and closes it again (the process never outlives
 * the operation; calls that overlap share one process). Create runs Docker Machine's sequence:
 * SetConfigRaw(base fields) -> SetConfigFromFlags -> PreCreateCheck, then SetConfigFromFlags -> Create ->
 * GetConfigRaw. StorePath is moor's store, so a plugin's machines/NAME/id_rsa lands in the machine folder.
 */
import { dirname, isAbsolute, join, basename } from 'node:path';
import {
  BaseDriver,
  type DriverContext,
  type DriverFactory,
  type DriverFlag,
  type DriverFlagValues,
  MachineState,
  type MachineStateValue,
  MoorError,
  type SSHConfig,
} from '../api.js';
import * as gob from './gob/index.js';
import { rpcFlagValues, DriverOptions, toDriverFlags } from './mcnflag.js';
import { PluginProcess } from './process.js';

/** libmachine's state.State, by number. */
const STATES: MachineStateValue[] = [
  MachineState.None,
  MachineState.Running,
  MachineState.Paused,
  MachineState.Saved,
  MachineState.Stopped,
  MachineState.Stopping,
  MachineState.Starting,
  MachineState.Error,
  MachineState.Timeout,
];

export interface PluginBinary {
  /** The driver's name (the NAME of docker-machine-driver-NAME). */
  name: string;
  /** Absolute path of the binary. */
  binary: string;
}

/** The plugin's create flags (GetCreateFlags), for `create -d NAME` and its --help. */
export async function pluginCreateFlags(plugin: PluginBinary, env: NodeJS.ProcessEnv): Promise<DriverFlag[]> {
  const process = await PluginProcess.start({
    binary: plugin.binary,
    driverName: plugin.name,
    env,
    log: { step() {}, info() {}, warn() {}, debug() {} },
  });
  try {
    return toFlags(plugin, await process.call('GetCreateFlags'));
  } finally {
    await process.kill();
  }
}

function toFlags(plugin: PluginBinary, reply: gob.GobValue): DriverFlag[] {
  try {
    return toDriverFlags(reply);
  } catch (error) {
    throw new MoorError(`The driver plugin ${plugin.binary}: ${(error as Error).message}.`, {
      code: 'PLUGIN_PROTOCOL',
    });
  }
}

/** The JSON of libmachine's BaseDriver that Docker Machine sends with SetConfigRaw on create. */
function baseConfig(context: DriverContext): Record<string, unknown> {
  return {
    IPAddress: '',
    MachineName: context.machineName,
    SSHUser: '',
    SSHPort: 0,
    SSHKeyPath: '',
    StorePath: storePathOf(context),
    SwarmMaster: false,
    SwarmHost: '',
    SwarmDiscovery: '',
  };
}

/**
 * The store root, as Docker Machine's StorePath: the machine folder is StorePath/machines/NAME in both
 * layouts, which is what plugins rely on (ResolveStorePath).
 */
function storePathOf(context: DriverContext): string {
  const machines = dirname(context.machineDir);
  if (basename(machines) !== 'machines' || basename(context.machineDir) !== context.machineName) {
    throw new MoorError(`The machine folder ${context.machineDir} is not STORE/machines/NAME, as plugins need.`, {
      code: 'PLUGIN_STORE_LAYOUT',
    });
  }
  return dirname(machines);
}

export class PluginDriver extends BaseDriver {
  readonly driverName: string;
  private active: { process: Promise<PluginProcess>; users: number } | undefined;

  constructor(
    context: DriverContext,
    private readonly plugin: PluginBinary,
    private config: Record<string, unknown>,
    /** For create: the plugin's flags and the values resolved for them. */
    private readonly create_?: { flags: DriverFlag[]; values: DriverFlagValues },
  ) {
    super(context);
    this.driverName = plugin.name;
  }

  override async preCreateCheck(): Promise<void> {
    await this.session(async (process) => {
      await this.setFlags(process);
      await process.call('PreCreateCheck');
      this.config = await configOf(process, this.plugin);
    });
  }

  async create(): Promise<void> {
    await this.session(async (process) => {
      await this.setFlags(process);
      await process.call('Create');
      this.config = await configOf(process, this.plugin);
    });
  }

  override async remove(): Promise<void> {
    await this.session((process) => process.call('Remove'));
  }

  override async start(): Promise<void> {
    await this.mutate('Start');
  }
  override async stop(): Promise<void> {
    await this.mutate('Stop');
  }
  override async restart(): Promise<void> {
    await this.mutate('Restart');
  }
  override async kill(): Promise<void> {
    await this.mutate('Kill');
  }

  async getState(): Promise<MachineStateValue> {
    const state = await this.session((process) => process.call('GetState'));
    return (typeof state === 'number' ? STATES[state] : undefined) ?? MachineState.Error;
  }

  async getIP(): Promise<string> {
    return String(await this.session((process) => process.call('GetIP')));
  }

  async getURL(): Promise<string> {
    return String(await this.session((process) => process.call('GetURL')));
  }

  override async getSSHConfig(): Promise<SSHConfig> {
    return this.session(async (process) => {
      const [host, port, user, keyPath] = await Promise.all(
        ['GetSSHHostname', 'GetSSHPort', 'GetSSHUsername', 'GetSSHKeyPath'].map((method) => process.call(method)),
      );
      const key = typeof keyPath === 'string' && keyPath !== '' ? keyPath : undefined;
      return {
        host: String(host),
        port: Number(port),
        user: String(user),
        ...(key ? { keyPath: isAbsolute(key) ? key : join(this.context.machineDir, key) } : {}),
      };
    });
  }

  toJSON(): Record<string, unknown> {
    return this.config;
  }

  private async mutate(method: string): Promise<void> {
    await this.session(async (process) => {
      await process.call(method);
      this.config = await configOf(process, this.plugin);
    });
  }

  /** SetConfigFromFlags with the create flags' values (create only). */
  private async setFlags(process: PluginProcess): Promise<void> {
    if (!this.create_) throw new MoorError('Internal error: create without flags.', { code: 'INTERNAL' });
    await process.call('SetConfigFromFlags', DriverOptions, rpcFlagValues(this.create_.flags, this.create_.values));
  }

  /**
   * Runs `fn` with a started plugin that has this machine's config (SetConfigRaw); calls that overlap share
   * one process, and so does a call made as soon as the last one is done (ls asks a running machine's state,
   * then its URL). The process is closed when no call has come by the next turn of the event loop, whatever
   * happened; a moor that exits first kills it (the exit hook in process.ts).
   */
  private async session<T>(fn: (process: PluginProcess) => Promise<T>): Promise<T> {
    if (!this.active) {
      const config = JSON.stringify(this.config);
      const started = PluginProcess.start({
        binary: this.plugin.binary,
        driverName: this.plugin.name,
        env: this.context.env,
        log: this.context.log,
        machineName: this.context.machineName,
      }).then(async (process) => {
        try {
          await process.call('SetConfigRaw', gob.bytes, new Uint8Array(Buffer.from(config)));
          return process;
        } catch (error) {
          await process.kill();
          throw error;
        }
      });
      this.active = { process: started, users: 0 };
    }
    const active = this.active;
    active.users++;
    try {
      return await fn(await active.process);
    } finally {
      active.users--;
      if (active.users === 0) this.closeWhenIdle(active);
    }
  }

  private closeWhenIdle(active: { process: Promise<PluginProcess>; users: number }): void {
    setImmediate(() => {
      if (active.users > 0) return; // a next call took it over
      if (this.active === active) this.active = undefined;
      void active.process.then(
        (process) => process.kill(),
        () => undefined,
      );
    });
  }
}

async function configOf(process: PluginProcess, plugin: PluginBinary): Promise<Record<string, unknown>> {
  const raw = await process.call('GetConfigRaw');
  try {
    if (!(raw instanceof Uint8Array)) throw new Error('not bytes');
    const parsed: unknown = JSON.parse(Buffer.from(raw).toString('utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new MoorError(
      `The driver plugin ${plugin.binary} returned a config that is not JSON (${(error as Error).message}).`,
      { code: 'PLUGIN_PROTOCOL' },
    );
  }
}

/** The factory for one plugin binary; `flags` are its create flags (GetCreateFlags), known at create. */
export function pluginFactory(plugin: PluginBinary, flags: () => DriverFlag[]): DriverFactory {
  return {
    fromFlags(context, values) {
      return new PluginDriver(context, plugin, baseConfig(context), { flags: flags(), values });
    },
    fromRecord(context, state) {
      return new PluginDriver(context, plugin, state);
    },
  };
}
