/**
 * The core service: one object per store that the CLI commands (or any other program) call.
 * It holds no oclif and prints nothing; progress goes to the Logger, results are returned.
 */
import { readFile, rm } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { contextName, DockerContexts, dockerConfigDir } from './docker/context.js';
import { engineRequest, engineTLSFrom, engineVersion, type EngineVersion, readEngineTLS } from './docker/engine.js';
import { MoorError, messageOf } from './errors.js';
import {
  changeState,
  createMachine,
  type CreateOptions,
  forEachMachine,
  forEachMachineInWaves,
  type Machine,
  openMachine,
  regenerateMachineCerts,
  removeMachine,
  reprovisionMachine,
  upgradeMachine,
  type StateOperation,
} from './lifecycle.js';
import { naturalSort } from './filter.js';
import { listMachines, type ListItem, type ListOptions } from './ls.js';
import { type Logger, silentLogger } from './log.js';
import { assertValidName, MachineState, type MachineRecord, type MachineStateValue, transportOf } from './machine.js';
import { defaultStoragePath, Store } from './store.js';
import { ensureDir, writeFileAtomic } from './fsutil.js';
import { runningTunnel, type SelfCommand, type TunnelRecord } from './background-tunnel.js';
import { discoverDrivers, driverNames } from '../../drivers/registry.js';
import { type SwarmCreateRequest, type SwarmMember, Swarms } from './swarm.js';

/** Where `moor use` remembers the docker context that was current before it. */
const PREVIOUS_CONTEXT_FILE = 'previous-docker-context';

export interface DockerConnection {
  name: string;
  url: string;
  /** DOCKER_CERT_PATH: the machine's folder (ca.pem, cert.pem, key.pem). */
  certPath: string;
  tlsVerify: boolean;
  ip: string;
  /** For an ssh-transport machine: the background tunnel that DOCKER_HOST points at. */
  tunnel?: BackgroundTunnel;
}

export interface BackgroundTunnel {
  pid: number;
  dockerHost: string;
  /** Whether this call started it (false: it was running already). */
  started: boolean;
}

export interface TunnelListen {
  socketPath?: string;
  port?: number;
}

export interface ConnectionCheck {
  connection: DockerConnection;
  /** Set when the engine did not answer: the settings are still printed, with this warning. */
  warning?: string;
}

export interface DriverListing {
  name: string;
  kind: 'built-in' | 'npm' | 'plugin';
  /** The npm package's folder or the plugin binary ('' for a built-in driver). */
  path: string;
}

export interface InspectView extends MachineRecord {
  StorePath: string;
}

export class Moor {
  readonly store: Store;
  readonly log: Logger;
  private readonly env: NodeJS.ProcessEnv;
  /** How to start this program again, for background tunnels (default: this process's node and script). */
  private readonly self: SelfCommand | undefined;

  constructor(
    options: {
      storagePath?: string | undefined;
      log?: Logger;
      env?: NodeJS.ProcessEnv;
      self?: SelfCommand;
    } = {},
  ) {
    this.env = options.env ?? process.env;
    this.store = new Store(options.storagePath ?? defaultStoragePath(this.env), { env: this.env });
    this.log = options.log ?? silentLogger;
    this.self = options.self;
  }

  /**
   * `moor create`; with `swarm`, the new machine then starts a swarm or joins one (the manager is checked
   * before anything is created). When that step fails the machine stays, and the error says how to retry.
   */
  async create(
    options: CreateOptions & { swarm?: SwarmCreateRequest },
  ): Promise<MachineRecord & { swarm?: SwarmMember }> {
    const { swarm, ...create } = options;
    if (swarm?.kind === 'join') await this.store.load(swarm.manager);
    const record = await createMachine(this.store, create, this.log);
    if (!swarm) return record;
    try {
      const member =
        swarm.kind === 'init'
          ? await this.swarms.init(record.Name)
          : (await this.swarms.join(swarm.manager, [record.Name], { role: swarm.role }))[0]!.result;
      return { ...(await this.store.load(record.Name)), swarm: member };
    } catch (error) {
      const retry =
        swarm.kind === 'init'
          ? `moor swarm init ${record.Name}`
          : `moor swarm join --manager ${swarm.manager} --role ${swarm.role} ${record.Name}`;
      throw new MoorError(`Machine "${record.Name}" was created, but ${messageOf(error)}`, {
        code: error instanceof MoorError ? error.code : 'SWARM_FAILED',
        suggestions: [...(error instanceof MoorError ? error.suggestions : []), `Then retry: ${retry}`],
        cause: error,
      });
    }
  }

  /** Swarm mode clusters of this store's machines (moor swarm ...). */
  get swarms(): Swarms {
    return new Swarms(this.store, this.log);
  }

  /** `moor import`: Docker Machine's machines copied into this store (see core/import.ts). */
  async importMachines(options: import('./import.js').ImportOptions): Promise<import('./import.js').ImportReport> {
    const { importMachines } = await import('./import.js');
    return importMachines(this.store, options, this.log);
  }

  /** `moor drivers`: the built-in drivers and those installed beside moor (npm packages, plugin binaries), none started. */
  drivers(): DriverListing[] {
    const builtIn = driverNames().map((name): DriverListing => ({ name, kind: 'built-in', path: '' }));
    const installed = discoverDrivers({ storePath: this.store.root, env: this.env }).map(
      ({ name, kind, path }): DriverListing => ({ name, kind, path }),
    );
    return [...builtIn, ...installed];
  }

  /** The machines' names in ls's order (every folder of the store's machines, whatever its record says). */
  async names(): Promise<string[]> {
    return naturalSort(await this.store.names(), (name) => name);
  }

  /** The machines; ACTIVE also marks the machine whose docker context is current (when DOCKER_HOST is not set). */
  async list(options: ListOptions): Promise<ListItem[]> {
    let activeContext = options.activeContext;
    if (activeContext === undefined && !options.dockerHost) {
      activeContext =
        this.env['DOCKER_CONTEXT'] ||
        (await this.contexts()
          .current()
          .catch(() => 'default'));
    }
    return listMachines(this.store, { ...options, activeContext }, this.log);
  }

  /**
   * `moor use NAME`: creates or updates the docker context moor-NAME (TLS material included; for an
   * ssh-transport machine, its background tunnel's socket) and makes it the docker CLI's current context. The context that was current before is remembered for `--unset`.
   */
  async use(name: string): Promise<{ context: string; previous: string; tunnel?: BackgroundTunnel }> {
    const { connection } = await this.connection(name, false);
    const contexts = this.contexts();
    const context = contextName(name);
    await contexts.write(context, `moor machine ${name}`, {
      host: connection.url,
      ...(connection.tlsVerify ? { tls: await readEngineTLS(connection.certPath) } : {}),
    });
    const current = await contexts.current();
    if (!current.startsWith('moor-')) {
      await this.store.guard('write', () => writeFileAtomic(join(this.store.root, PREVIOUS_CONTEXT_FILE), current));
    }
    await contexts.setCurrent(context);
    return { context, previous: current, ...(connection.tunnel ? { tunnel: connection.tunnel } : {}) };
  }

  /** `moor use --unset`: back to the context that was current before the first `moor use`. */
  async unuse(): Promise<string> {
    const previous = await this.previousContext();
    await this.contexts().setCurrent(previous);
    await rm(join(this.store.root, PREVIOUS_CONTEXT_FILE), { force: true });
    return previous;
  }

  private contexts(): DockerContexts {
    return new DockerContexts(dockerConfigDir(this.env));
  }

  private async previousContext(): Promise<string> {
    try {
      return (await readFile(join(this.store.root, PREVIOUS_CONTEXT_FILE), 'utf8')).trim() || 'default';
    } catch {
      return 'default';
    }
  }

  /** After rm: the machine's context goes too, and if it was current, the previous one comes back. */
  private async forgetContext(name: string): Promise<void> {
    const contexts = this.contexts();
    const context = contextName(name);
    if (!(await contexts.exists(context))) return;
    if ((await contexts.current()) === context) await this.unuse();
    await contexts.remove(context);
  }

  /** The record as docker-machine's inspect shows it: paths resolved to absolute ones. */
  async inspect(name: string): Promise<InspectView> {
    const record = await this.store.load(name);
    const dir = this.store.machineDir(name);
    const auth = record.HostOptions.AuthOptions;
    return {
      ...record,
      HostOptions: {
        ...record.HostOptions,
        AuthOptions: {
          ...auth,
          CertDir: dir,
          CaCertPath: join(dir, 'ca.pem'),
          ClientCertPath: join(dir, 'cert.pem'),
          ClientKeyPath: join(dir, 'key.pem'),
          ServerCertPath: join(dir, 'server.pem'),
          ServerKeyPath: join(dir, 'server-key.pem'),
          StorePath: dir,
          ...(auth.CaCertPath ? { CaCertPath: auth.CaCertPath } : {}),
        } as InspectView['HostOptions']['AuthOptions'],
      },
      StorePath: this.store.root,
    };
  }

  async remove(names: string[], force: boolean) {
    // Swarm members in an order their swarms survive: workers first, then managers one at a time.
    return forEachMachineInWaves(await this.swarms.removalWaves(names), async (name) => {
      // Its background tunnel would outlive the folder it records itself in.
      const { stopBackgroundTunnel } = await import('./background-tunnel.js');
      if (await this.store.exists(name)) await stopBackgroundTunnel(this.store.machineDir(name), name);
      // A swarm member leaves first, so that the swarm keeps no Down node (the last manager: only with force).
      await this.swarms.leaveBeforeRemove(name, force);
      await removeMachine(this.store, name, { force }, this.log);
      await this.forgetContext(name);
    });
  }

  provision(names: string[], options: { sshTimeoutMs?: number; repinHostKey?: boolean } = {}) {
    return forEachMachine(names, (name) => reprovisionMachine(this.store, name, options, this.log));
  }

  /**
   * New server certificates for the machines (and with clientCerts, first a new CA and client certificate
   * for the store, given to these machines only).
   */
  async regenerateCerts(names: string[], options: { clientCerts: boolean; sshTimeoutMs?: number }) {
    let clientCerts: import('./certs.js').CertPaths | undefined;
    if (options.clientCerts) {
      this.log.step('Creating a new CA and client certificate');
      clientCerts = await (await import('./certs.js')).rotateStoreCerts(this.store);
    }
    return forEachMachine(names, (name) =>
      regenerateMachineCerts(
        this.store,
        name,
        {
          ...(clientCerts ? { clientCerts } : {}),
          ...(options.sshTimeoutMs ? { sshTimeoutMs: options.sshTimeoutMs } : {}),
        },
        this.log,
      ),
    );
  }

  upgrade(names: string[], options: { sshTimeoutMs?: number } = {}) {
    return forEachMachine(names, (name) => upgradeMachine(this.store, name, options, this.log));
  }

  /** SSH connection settings of a machine, with its pinned host key. */
  async sshTarget(name: string) {
    return this.sshTargetOf(await openMachine(this.store, name, this.log));
  }

  /**
   * Pins the host key seen on a machine's first SSH connection when it has none pinned yet (a machine
   * imported from Docker Machine, which never checked host keys); later connections must match it.
   */
  async pinHostKeyOnFirstUse(name: string, hostKey: string): Promise<void> {
    if (!hostKey) return;
    await this.store.withMachineLock(name, 'pin the SSH host key', async () => {
      const record = await this.store.load(name);
      if (record.SSHHostKey) return;
      record.SSHHostKey = hostKey;
      await this.store.save(record);
    });
  }

  private async sshTargetOf({ driver, record }: Machine) {
    const { sshTargetOf } = await import('./ssh/target.js');
    return sshTargetOf(await driver.getSSHConfig(), {
      machineName: record.Name,
      ...(record.SSHHostKey ? { hostKey: record.SSHHostKey } : {}),
    });
  }

  changeState(names: string[], operation: StateOperation) {
    return forEachMachine(names, (name) => changeState(this.store, name, operation, this.log));
  }

  status(names: string[]) {
    return forEachMachine(names, async (name): Promise<MachineStateValue> => {
      const { driver, record } = await openMachine(this.store, name, this.log);
      if (record.Phase === 'error') return MachineState.Error;
      return driver.getState();
    });
  }

  ip(names: string[]) {
    return forEachMachine(names, async (name) => {
      const { driver } = await openMachine(this.store, name, this.log);
      const ip = await driver.getIP();
      if (!ip) throw new MoorError(`Machine "${name}" has no IP address.`, { code: 'NO_IP' });
      return ip;
    });
  }

  async url(name: string): Promise<string> {
    const { driver } = await this.runningMachine(name);
    return driver.getURL();
  }

  /** How to reach the machine's engine; never fails just because the engine does not answer yet. */
  async connection(name: string, check: boolean, timeoutMs = 2_000): Promise<ConnectionCheck> {
    return this.connectionOf(await this.runningMachine(name), check, timeoutMs);
  }

  private async connectionOf(
    { driver, dir, record }: Machine,
    check: boolean,
    timeoutMs = 2_000,
  ): Promise<ConnectionCheck> {
    const name = record.Name;
    if (transportOf(record.HostOptions.EngineOptions) === 'ssh') {
      // No TCP port to point at: the machine's background tunnel (started now if it is not running).
      const [tunnel, ip] = await Promise.all([
        this.ensureBackgroundTunnel({ driver, dir, record }, {}),
        driver.getIP().catch(() => ''),
      ]);
      return { connection: { name, url: tunnel.dockerHost, certPath: dir, tlsVerify: false, ip, tunnel } };
    }
    const [url, ip] = await Promise.all([driver.getURL(), driver.getIP().catch(() => '')]);
    const tlsVerify = url.startsWith('tcp://') || url.startsWith('https://');
    const connection: DockerConnection = { name, url, certPath: dir, tlsVerify, ip };
    if (!check || !tlsVerify) return { connection };
    try {
      await engineRequest(url, '/_ping', engineTLSFrom(dir), timeoutMs);
      return { connection };
    } catch (error) {
      return {
        connection,
        warning: `The Docker engine of "${name}" is not answering yet (${messageOf(error)}). These settings will work once it does.`,
      };
    }
  }

  async engineVersion(name: string, timeoutMs = 10_000): Promise<EngineVersion> {
    const { driver, dir } = await this.runningMachine(name);
    const url = await driver.getURL();
    return engineVersion(url, engineTLSFrom(dir), timeoutMs);
  }

  /**
   * What the docker CLI needs to reach a machine: the TLS variables, or, for the ssh transport, a private
   * socket forwarded over one SSH connection (call close() when done; it removes the socket).
   */
  async dockerAccess(name: string): Promise<{ env: Record<string, string>; close(): Promise<void> }> {
    assertValidName(name);
    const background = runningTunnel(this.store.machineDir(name), name);
    if (background) {
      // One SSH connection made once, reused by every docker command: no handshake, no state query (the
      // live tunnel is the proof), not even the record to read.
      return { env: { DOCKER_HOST: background.DockerHost }, close: async () => undefined };
    }
    const machine = await this.runningMachine(name);
    if (transportOf(machine.record.HostOptions.EngineOptions) === 'tls') {
      const { connection } = await this.connectionOf(machine, false);
      const env: Record<string, string> = { DOCKER_HOST: connection.url };
      if (connection.tlsVerify) Object.assign(env, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: connection.certPath });
      return { env, close: async () => undefined };
    }
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'moor-docker-'));
    const { startTunnel } = await import('./tunnel.js');
    try {
      const tunnel = await startTunnel({
        target: await this.sshTargetOf(machine),
        ...engineSocketOf(machine),
        listen: { socketPath: join(dir, 'docker.sock') },
        log: { ...this.log, step: () => undefined },
      });
      return {
        env: { DOCKER_HOST: tunnel.dockerHost },
        close: async () => {
          await tunnel.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * `moor tunnel`: forwards a local socket (default: docker.sock in the machine's folder) or a loopback
   * port to the machine's engine socket over one SSH connection, until closed.
   */
  async tunnel(name: string, listen: TunnelListen, options: { detached?: boolean } = {}) {
    const machine = await this.runningMachine(name);
    const running = runningTunnel(machine.dir, name);
    if (options.detached && running) throw tunnelRunning(name, running);
    const { startTunnel } = await import('./tunnel.js');
    const tunnel = await startTunnel({
      target: await this.sshTargetOf(machine),
      ...engineSocketOf(machine),
      listen: await listenOf(machine, listen),
      log: this.log,
    });
    if (options.detached) {
      // The record appears once clients can connect, and goes when the tunnel stops.
      const { forgetTunnel, recordTunnel } = await import('./background-tunnel.js');
      await recordTunnel(machine.dir, tunnel.dockerHost);
      const forget = () => forgetTunnel(machine.dir).catch(() => undefined);
      void tunnel.closed.then(forget, forget);
    }
    return tunnel;
  }

  /**
   * `moor tunnel --background`: the machine's tunnel in a process of its own, recorded in its folder; a
   * tunnel that is running already is returned as it is (unless it listens elsewhere than asked).
   */
  async backgroundTunnel(name: string, listen: TunnelListen): Promise<BackgroundTunnel> {
    return this.ensureBackgroundTunnel(await this.runningMachine(name), listen);
  }

  private async ensureBackgroundTunnel(machine: Machine, listen: TunnelListen): Promise<BackgroundTunnel> {
    const name = machine.record.Name;
    return this.store.withLock(`tunnel-${name}`, 'tunnel', async () => {
      const running = runningTunnel(machine.dir, name);
      if (running) {
        const wanted =
          listen.port !== undefined
            ? listen.port === 0 || running.DockerHost === `tcp://127.0.0.1:${listen.port}`
            : listen.socketPath === undefined || running.DockerHost === `unix://${resolvePath(listen.socketPath)}`;
        if (!wanted) throw tunnelRunning(name, running);
        return { pid: running.Pid, dockerHost: running.DockerHost, started: false };
      }
      const where = await listenOf(machine, listen);
      const { spawnBackgroundTunnel } = await import('./background-tunnel.js');
      this.log.step(`Starting a background tunnel to "${name}"`);
      const record = await spawnBackgroundTunnel({
        machine: name,
        machineDir: machine.dir,
        storePath: this.store.root,
        listenArgs:
          'socketPath' in where ? ['--socket', resolvePath(where.socketPath)] : ['--port', String(where.port)],
        env: this.env,
        ...(this.self ? { self: this.self } : {}),
      });
      return { pid: record.Pid, dockerHost: record.DockerHost, started: true };
    });
  }

  /** `moor tunnel --stop`: stops the machine's background tunnel. */
  async stopTunnel(name: string): Promise<TunnelRecord> {
    await this.store.load(name); // a clear error for a machine that does not exist
    const { stopBackgroundTunnel } = await import('./background-tunnel.js');
    const stopped = await stopBackgroundTunnel(this.store.machineDir(name), name);
    if (!stopped) {
      throw new MoorError(`Machine "${name}" has no background tunnel running.`, {
        code: 'TUNNEL_NOT_RUNNING',
        suggestions: [`Start one with "moor tunnel --background ${name}".`],
      });
    }
    return stopped;
  }

  /** The running machine that the docker CLI talks to: $DOCKER_HOST's, else the current context's (moor use). */
  async active(timeoutMs: number): Promise<string> {
    const dockerHost = this.env['DOCKER_HOST'] || undefined;
    const items = await this.list({ timeoutMs, queryDockerVersion: false, dockerHost });
    const active = items.find((item) => item.ActiveHost);
    if (active) return active.Name;
    throw new MoorError(
      dockerHost
        ? `No active host found: no running machine has the URL ${dockerHost}.`
        : 'No active host found: DOCKER_HOST is not set and the current docker context is not a running moor machine.',
      {
        code: 'NO_ACTIVE_HOST',
        suggestions: ['Run "eval $(moor env NAME)" or "moor use NAME" to make a machine active.'],
      },
    );
  }

  private async runningMachine(name: string): Promise<Machine> {
    const machine = await openMachine(this.store, name, this.log);
    if (machine.record.Phase === 'error') {
      throw new MoorError(`Machine "${name}" is in state Error: ${machine.record.LastError ?? 'create failed'}`, {
        code: 'MACHINE_ERROR',
        suggestions: [`Remove it with "moor rm -y ${name}" and create it again.`],
      });
    }
    const state = await machine.driver.getState();
    if (state !== MachineState.Running) {
      throw new MoorError(`Machine "${name}" is not running (state: ${state || 'unknown'}).`, {
        code: 'NOT_RUNNING',
        suggestions: [`Start it with "moor start ${name}".`],
      });
    }
    return machine;
  }
}

/** Where a tunnel listens: the port or socket asked for, else the machine's default socket. */
async function listenOf(
  { dir, record }: Machine,
  listen: TunnelListen,
): Promise<{ socketPath: string } | { port: number }> {
  if (listen.port !== undefined) return { port: listen.port };
  return { socketPath: listen.socketPath ?? (await defaultTunnelSocket(dir, record.Name)) };
}

/**
 * Where a machine's tunnel listens unless told otherwise: docker.sock in the machine's own folder (private,
 * and gone with the machine); when that path is too long for a socket, a private folder of the user's in
 * the temp folder, named after the store too (two stores may both have a "web").
 */
async function defaultTunnelSocket(machineDir: string, name: string): Promise<string> {
  const inMachineDir = join(machineDir, 'docker.sock');
  if (Buffer.byteLength(inMachineDir) <= 100) return inMachineDir;
  const [{ tmpdir, userInfo }, { createHash }] = await Promise.all([import('node:os'), import('node:crypto')]);
  const dir = join(tmpdir(), `moor-${userInfo().uid}`);
  await ensureDir(dir);
  const store = createHash('sha256').update(machineDir).digest('hex').slice(0, 8);
  return join(dir, `${name}-${store}.sock`);
}

function tunnelRunning(name: string, running: TunnelRecord): MoorError {
  return new MoorError(
    `Machine "${name}" has a background tunnel running already (pid ${running.Pid}, ${running.DockerHost}).`,
    {
      code: 'TUNNEL_RUNNING',
      suggestions: [`Use it: export DOCKER_HOST=${running.DockerHost}`, `Or stop it first: moor tunnel --stop ${name}`],
    },
  );
}

/** The engine socket the machine was created with (--engine-socket); none means the default, or a rootless one. */
function engineSocketOf({ record }: Machine): { remoteSocket?: string } {
  const socket = record.HostOptions.EngineOptions.Socket;
  return socket ? { remoteSocket: socket } : {};
}
