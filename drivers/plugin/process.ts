/**
 * One running Docker Machine plugin binary, started as Docker Machine starts it: no arguments,
 * MACHINE_PLUGIN_TOKEN=42 and MACHINE_PLUGIN_DRIVER_NAME in its environment, its first stdout line the
 * address it serves net/rpc on (waited for with a bound), later stdout lines its log (moor's progress),
 * stderr its debug output. A heartbeat every 5 s keeps it alive during long calls. Every failure (it does
 * not start, prints no address, crashes, hangs a call, speaks another API version, returns an error)
 * becomes a MoorError naming the binary, and the process is killed on every path: close() after use,
 * and a process-exit hook for anything still running when moor exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ExitCode, MoorError, type DriverLogger } from '../api.js';
import * as gob from './gob/index.js';
import { Empty, GoRpcClient, parsePluginAddress, RpcError } from './rpc.js';

/** The plugin API version Docker Machine (libmachine) speaks. */
export const PLUGIN_API_VERSION = 1;
const SERVICE = 'RPCServerDriver';
/** Plugins built before Docker Machine 0.5.1 serve this name. */
const OLD_SERVICE = 'RpcServerDriver';
const HEARTBEAT_MS = 5_000;
/** Docker Machine waits 10 s for the address line. MOOR_PLUGIN_START_TIMEOUT (seconds) sets another. */
const START_TIMEOUT_MS = 10_000;
/** Calls that create, start or remove something may take long (a cloud instance); getters answer at once. */
const LONG_CALL_TIMEOUT_MS = 30 * 60_000;
const SHORT_CALL_TIMEOUT_MS = 60_000;
const LONG_CALLS = new Set(['PreCreateCheck', 'Create', 'Remove', 'Start', 'Stop', 'Restart', 'Kill', 'Upgrade']);
/** The longest address line read; a plugin printing more without a newline is not a plugin. */
const MAX_ADDRESS_LINE = 256;
/** Stderr lines kept to quote in an error message. */
const STDERR_TAIL = 10;

export interface PluginStartOptions {
  /** Absolute path of the docker-machine-driver-NAME binary. */
  binary: string;
  /** The driver's name (MACHINE_PLUGIN_DRIVER_NAME). */
  driverName: string;
  env: NodeJS.ProcessEnv;
  log: DriverLogger;
  /** Prefix of the plugin's log lines, "(web)" as Docker Machine shows them. */
  machineName?: string;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** The last resort: no plugin outlives moor, whatever path moor exits by. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

function secondsFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!(value > 0)) {
    throw new MoorError(`${name} must be a positive number of seconds; got "${raw}".`, {
      code: 'USAGE',
      exitCode: ExitCode.usage,
    });
  }
  return Math.round(value * 1000);
}

export class PluginProcess {
  private readonly stderrTail: string[] = [];
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private client: GoRpcClient | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private service = SERVICE;
  private readonly callTimeoutMs: number | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly options: PluginStartOptions,
  ) {
    running.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
    this.callTimeoutMs = secondsFromEnv(options.env, 'MOOR_PLUGIN_CALL_TIMEOUT');
  }

  /** The plugin's pid (for tests and --debug). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts the binary, reads its address, connects and checks its API version. */
  static async start(options: PluginStartOptions): Promise<PluginProcess> {
    const startTimeoutMs = secondsFromEnv(options.env, 'MOOR_PLUGIN_START_TIMEOUT') ?? START_TIMEOUT_MS;
    installExitHook();
    const child = spawn(options.binary, [], {
      env: { ...options.env, MACHINE_PLUGIN_TOKEN: '42', MACHINE_PLUGIN_DRIVER_NAME: options.driverName },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const spawned = new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', (error) => resolve(error));
    });
    const spawnError = await spawned;
    if (spawnError) {
      throw new MoorError(`Could not start the driver plugin ${options.binary}: ${spawnError.message}`, {
        code: 'PLUGIN_START_FAILED',
        suggestions: ['Check that the file is an executable for this machine (chmod +x).'],
        cause: spawnError,
      });
    }
    const plugin = new PluginProcess(child, options);
    try {
      const address = await plugin.readAddress(startTimeoutMs);
      plugin.client = await GoRpcClient.connect({ ...parsePluginAddress(address), connectTimeoutMs: startTimeoutMs });
      await plugin.checkVersion();
      plugin.heartbeat = setInterval(() => {
        plugin.client?.call(`${plugin.service}.Heartbeat`, Empty, {}, { timeoutMs: HEARTBEAT_MS * 2 }).catch(() => {});
      }, HEARTBEAT_MS);
      plugin.heartbeat.unref();
      return plugin;
    } catch (error) {
      // A refused or dropped connection: most likely the process is exiting; let it say how.
      if (error instanceof RpcError && error.code === 'connection') await plugin.exitedWithin(2_000);
      await plugin.kill();
      throw plugin.startError(error, startTimeoutMs);
    }
  }

  /** Calls `method` (without the service name); plugin failures become MoorErrors naming the binary. */
  async call(method: string, argType: gob.GobType = Empty, arg: unknown = {}): Promise<gob.GobValue> {
    const client = this.client;
    if (!client) throw this.crashed(method);
    const timeoutMs = this.callTimeoutMs ?? (LONG_CALLS.has(method) ? LONG_CALL_TIMEOUT_MS : SHORT_CALL_TIMEOUT_MS);
    try {
      return await client.call(`${this.service}.${method}`, argType, arg, { timeoutMs });
    } catch (error) {
      throw await this.callError(method, error, timeoutMs);
    }
  }

  /**
   * Kills the process (SIGKILL) unless it has exited, and waits for its exit: how moor ends a plugin once it
   * has no more calls for it. libmachine's `Close` only makes the plugin's main loop exit (no driver code
   * runs on it), so the kill ends it the same way without a round trip that waits for the plugin to be
   * scheduled (tens of ms on a loaded machine).
   */
  async kill(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.client?.close();
    if (!this.exitStatus) this.child.kill('SIGKILL');
    await this.exited;
  }

  private async exitedWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  private get label(): string {
    return `the ${this.options.driverName} driver plugin (${this.options.binary})`;
  }

  /** The first stdout line; later lines are the plugin's log, stderr its debug output. */
  private readAddress(timeoutMs: number): Promise<string> {
    const { log, machineName } = this.options;
    const prefix = machineName ? `(${machineName}) ` : '';
    const stderr = createInterface({ input: this.child.stderr! });
    stderr.on('line', (line) => {
      if (line.trim() === '') return;
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
      log.debug(`${prefix}${line}`);
    });
    return new Promise<string>((resolve, reject) => {
      let buffered = '';
      let address: string | undefined;
      const stdout = this.child.stdout!;
      stdout.setEncoding('utf8');
      const timer = setTimeout(
        () => reject(new StartFailure('timeout', `printed no address within ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      stdout.on('data', (chunk: string) => {
        buffered += chunk;
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).replace(/\r$/, '');
          buffered = buffered.slice(newline + 1);
          if (address === undefined) {
            address = line;
            clearTimeout(timer);
            resolve(line);
          } else if (line.trim() !== '') {
            log.info(`${prefix}${line}`);
          }
          newline = buffered.indexOf('\n');
        }
        if (address === undefined && buffered.length > MAX_ADDRESS_LINE) {
          clearTimeout(timer);
          reject(
            new StartFailure('protocol', `printed ${JSON.stringify(buffered.slice(0, 80))}... instead of an address`),
          );
        }
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        if (address === undefined) reject(new StartFailure('exited', 'exited before printing its address'));
      });
    });
  }

  /** GetVersion must answer 1; plugins older than Docker Machine 0.5.1 serve "RpcServerDriver". */
  private async checkVersion(): Promise<void> {
    const client = this.client!;
    let version: gob.GobValue;
    try {
      version = await client.call(`${SERVICE}.GetVersion`, Empty, {}, { timeoutMs: SHORT_CALL_TIMEOUT_MS });
    } catch (error) {
      if (!(error instanceof RpcError && error.code === 'remote')) throw error;
      this.service = OLD_SERVICE;
      version = await client.call(`${OLD_SERVICE}.GetVersion`, Empty, {}, { timeoutMs: SHORT_CALL_TIMEOUT_MS });
    }
    if (version !== PLUGIN_API_VERSION) {
      throw new StartFailure(
        'version',
        `speaks plugin API version ${String(version)}; moor speaks version ${PLUGIN_API_VERSION}, as Docker Machine does`,
      );
    }
  }

  private stderrHint(): string {
    return this.stderrTail.length > 0 ? ` Its last output: ${this.stderrTail.join(' | ')}` : '';
  }

  private exitText(): string {
    const status = this.exitStatus;
    if (!status) return '';
    return status.signal ? ` (killed by ${status.signal})` : ` (exit status ${status.code})`;
  }

  private startError(error: unknown, timeoutMs: number): MoorError {
    if (error instanceof MoorError) return error;
    const suggestions = [
      `Run it with --debug to see its output, or try: MACHINE_PLUGIN_TOKEN=42 ${this.options.binary}`,
    ];
    if (error instanceof StartFailure) {
      const code = {
        timeout: 'PLUGIN_NO_ADDRESS',
        exited: 'PLUGIN_CRASHED',
        protocol: 'PLUGIN_PROTOCOL',
        version: 'PLUGIN_API_VERSION',
      }[error.kind];
      const exitText = error.kind === 'exited' ? this.exitText() : '';
      return new MoorError(
        `The driver plugin ${this.options.binary} ${error.message}${exitText}.${this.stderrHint()}`,
        {
          code,
          ...(error.kind === 'timeout' ? { exitCode: ExitCode.timeout } : {}),
          suggestions:
            error.kind === 'version'
              ? [
                  'The plugin was built for another version of Docker Machine; use a build for Docker Machine 0.5.1 or later.',
                ]
              : suggestions,
        },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof RpcError && error.code === 'timeout') {
      return new MoorError(
        `The driver plugin ${this.options.binary} did not answer within ${Math.round(timeoutMs / 1000)} s: ${message}`,
        {
          code: 'PLUGIN_TIMEOUT',
          exitCode: ExitCode.timeout,
          suggestions,
        },
      );
    }
    return new MoorError(
      `The driver plugin ${this.options.binary} did not start: ${message}${this.exitText()}.${this.stderrHint()}`,
      {
        code: this.exitStatus ? 'PLUGIN_CRASHED' : 'PLUGIN_PROTOCOL',
        suggestions,
        cause: error,
      },
    );
  }

  private crashed(method: string): MoorError {
    return new MoorError(
      `The driver plugin ${this.options.binary} exited during ${method}${this.exitText()}.${this.stderrHint()}`,
      {
        code: 'PLUGIN_CRASHED',
        suggestions: ['Run the command again with --debug to see the plugin’s output.'],
      },
    );
  }

  private async callError(method: string, error: unknown, timeoutMs: number): Promise<MoorError> {
    if (!(error instanceof RpcError))
      return new MoorError(`${this.label}: ${String(error)}`, { code: 'PLUGIN_ERROR', cause: error });
    switch (error.code) {
      case 'remote':
        return new MoorError(`${method} failed in ${this.label}: ${error.message}`, {
          code: 'PLUGIN_ERROR',
          cause: error,
        });
      case 'timeout':
        await this.kill();
        return new MoorError(
          `${this.label} did not answer ${method} within ${Math.round(timeoutMs / 1000)} s; it was stopped.`,
          {
            code: 'PLUGIN_TIMEOUT',
            exitCode: ExitCode.timeout,
            suggestions: ['MOOR_PLUGIN_CALL_TIMEOUT (seconds) sets another bound for every call.'],
            cause: error,
          },
        );
      default:
        // The connection dropped: most likely the process died; give it a moment to say how.
        await this.exitedWithin(2_000);
        if (this.exitStatus) return this.crashed(method);
        return new MoorError(`${method}: lost the connection to ${this.label}: ${error.message}`, {
          code: 'PLUGIN_PROTOCOL',
          cause: error,
        });
    }
  }
}

class StartFailure extends Error {
  constructor(
    readonly kind: 'timeout' | 'exited' | 'protocol' | 'version',
    message: string,
  ) {
    super(message);
  }
}
