/**
 * The core service: one object per store that the CLI commands (or any other program) call.
 * It holds no oclif and prints nothing; progress goes to the Logger, results are returned.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { contextName, DockerContexts, dockerConfigDir } from './docker/context.js';
import { engineRequest, engineTLSFrom, engineVersion, type EngineVersion, readEngineTLS } from './docker/engine.js';
import { MoorError, messageOf } from './errors.js';
import {
  changeState,
  createMachine,
  type CreateOptions,
  forEachMachine,
  type Machine,
  openMachine,
  regenerateMachineCerts,
  removeMachine,
  reprovisionMachine,
  upgradeMachine,
  type StateOperation,
} from './lifecycle.js';
import { listMachines, type ListItem, type ListOptions } from './ls.js';
import { type Logger, silentLogger } from './log.js';
import { MachineState, type MachineRecord, type MachineStateValue, transportOf } from './machine.js';
import { Store } from './store.js';
import { ensureDir, writeFileAtomic } from './fsutil.js';

/** The engine's socket on a machine (the ssh transport forwards to it). */
const DOCKER_SOCKET = '/var/run/docker.sock';

/** Where `moor use` remembers the docker context that was current before it. */
const PREVIOUS_CONTEXT_FILE = 'previous-docker-context';

export interface DockerConnection {
  name: string;
  url: string;
  /** DOCKER_CERT_PATH: the machine's folder (ca.pem, cert.pem, key.pem). */
  certPath: string;
  tlsVerify: boolean;
  ip: string;
}

export interface ConnectionCheck {
  connection: DockerConnection;
  /** Set when the engine did not answer: the settings are still printed, with this warning. */
  warning?: string;
}

export interface InspectView extends MachineRecord {
  StorePath: string;
}

export class Moor {
  readonly store: Store;
  readonly log: Logger;
  private readonly env: NodeJS.ProcessEnv;

  constructor(options: { storagePath?: string | undefined; log?: Logger; env?: NodeJS.ProcessEnv } = {}) {
    this.store = new Store(options.storagePath);
    this.log = options.log ?? silentLogger;
    this.env = options.env ?? process.env;
  }

  create(options: Omit<CreateOptions, 'env'>): Promise<MachineRecord> {
    return createMachine(this.store, { ...options, env: this.env }, this.log);
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
   * `moor use NAME`: creates or updates the docker context moor-NAME (TLS material included) and makes it
   * the docker CLI's current context. The context that was current before is remembered for `--unset`.
   */
  async use(name: string): Promise<{ context: string; previous: string }> {
    const { connection } = await this.connection(name, false);
    const contexts = this.contexts();
    const context = contextName(name);
    await contexts.write(context, `moor machine ${name}`, {
      host: connection.url,
      ...(connection.tlsVerify ? { tls: await readEngineTLS(connection.certPath) } : {}),
    });
    const current = await contexts.current();
    if (!current.startsWith('moor-')) {
      await writeFileAtomic(join(this.store.root, PREVIOUS_CONTEXT_FILE), current);
    }
    await contexts.setCurrent(context);
    return { context, previous: current };
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

  remove(names: string[], force: boolean) {
    return forEachMachine(names, async (name) => {
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

  private async sshTargetOf({ driver, record }: Machine) {
    const name = record.Name;
    const config = await driver.getSSHConfig();
    return {
      host: config.host,
      port: config.port,
      user: config.user,
      privateKeyPath: config.keyPath ?? '',
      machineName: name,
      ...(record.SSHHostKey ? { hostKey: record.SSHHostKey } : {}),
    };
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
      throw new MoorError(`Machine "${name}" uses the ssh transport: its engine listens on no TCP port.`, {
        code: 'SSH_TRANSPORT',
        suggestions: [
          `Run docker through moor: moor docker ${name} -- ps`,
          `Or forward its socket: moor tunnel ${name}, then use the DOCKER_HOST it prints.`,
        ],
      });
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
        remoteSocket: DOCKER_SOCKET,
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
   * `moor tunnel`: forwards a local socket (default: a private one under the temp folder) or a loopback
   * port to the machine's engine socket over one SSH connection, until closed.
   */
  async tunnel(name: string, listen: { socketPath?: string; port?: number }) {
    const machine = await this.runningMachine(name);
    let socketPath = listen.socketPath;
    if (listen.port === undefined && socketPath === undefined) {
      const { tmpdir, userInfo } = await import('node:os');
      const dir = join(tmpdir(), `moor-${userInfo().uid}`);
      await ensureDir(dir);
      socketPath = join(dir, `${name}.sock`);
    }
    const { startTunnel } = await import('./tunnel.js');
    return startTunnel({
      target: await this.sshTargetOf(machine),
      remoteSocket: DOCKER_SOCKET,
      listen: listen.port !== undefined ? { port: listen.port } : { socketPath: socketPath! },
      log: this.log,
    });
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

  private async runningMachine(name: string) {
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
