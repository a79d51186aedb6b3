/**
 * The `generic` driver: an existing server reachable over SSH. moor does not create or destroy the
 * host; it records how to reach it, and provisioning installs and configures Docker on it.
 */
import { copyFile, chmod } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import {
  BaseDriver,
  type DriverContext,
  type DriverFactory,
  type DriverFlagValues,
  loadSSH,
  MachineState,
  type MachineStateValue,
  MoorError,
  notYet,
  portAnswers,
  type SSHConfig,
  UsageError,
  waitFor,
} from '../api.js';

interface GenericState {
  IPAddress: string;
  SSHUser: string;
  SSHPort: number;
  /** File name of the key inside the machine folder. */
  SSHKeyPath: string;
  EnginePort: number;
  /** The key file given with --generic-ssh-key (absolute), named in messages; moor uses its copy. */
  SSHKeySource?: string;
  /** Seen when moor installed its generated key through the agent; pinned by provisioning. */
  HostKey?: string;
}

/** The copy of the user's key in the machine folder (a fixed name: theirs could be "key.pem"). */
const KEY_FILE = 'id_ssh';
/** The machine's own key, generated when no key is given and installed through the user's SSH agent. */
const GENERATED_KEY_FILE = 'id_ed25519';

/** How long a state query waits for the SSH port before calling the host Stopped. */
const STATE_TIMEOUT_MS = 5_000;
/**
 * How long a refused SSH port is retried before that is the answer: the server exists already (moor did
 * not just boot it), so a refusal means sshd is not running or the port is wrong, not "still starting".
 * MOOR_SSH_REFUSED_GRACE (seconds) sets another.
 */
const REFUSED_GRACE_MS = 30_000;

export class GenericDriver extends BaseDriver {
  readonly driverName = 'generic';

  constructor(
    context: DriverContext,
    private readonly state: GenericState,
    private readonly sourceKeyPath?: string,
  ) {
    super(context);
  }

  override async preCreateCheck(): Promise<void> {
    this.refusedGraceMs();
    if (this.sourceKeyPath) {
      const { checkPrivateKey } = await loadSSH();
      await checkPrivateKey(this.sourceKeyPath);
    } else if (!this.agentSocket()) {
      throw new UsageError('No SSH key: give --generic-ssh-key, or run an SSH agent that holds a key for the server.', [
        "With an agent (SSH_AUTH_SOCK), moor logs in once and installs a key of the machine's own.",
      ]);
    }
  }

  /**
   * With --generic-ssh-key: copies it into the machine folder, so the machine keeps working if the original
   * moves. Without: generates the machine's own ed25519 key and installs it on the server, logging in once
   * with the user's SSH agent.
   */
  async create(): Promise<void> {
    if (this.sourceKeyPath) {
      const target = join(this.context.machineDir, this.state.SSHKeyPath);
      await copyFile(this.sourceKeyPath, target);
      await chmod(target, 0o600);
      return;
    }
    const ssh = await loadSSH();
    const { publicKey } = await ssh.generateKeyPair(this.context.machineDir, GENERATED_KEY_FILE);
    this.context.log.step(
      `Installing the machine's SSH key for ${this.state.SSHUser} (logging in with your SSH agent)`,
    );
    const session = await ssh.connect(
      {
        host: this.state.IPAddress,
        port: this.state.SSHPort,
        user: this.state.SSHUser,
        privateKeyPath: '',
        agent: this.agentSocket()!,
        machineName: this.context.machineName,
        refusedGraceMs: this.refusedGraceMs(),
      },
      { timeoutMs: 300_000, log: this.context.log },
    );
    try {
      const key = ssh.shellQuote(publicKey.trim());
      const install = `umask 077 && mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && { grep -qxF ${key} ~/.ssh/authorized_keys || printf '%s\\n' ${key} >> ~/.ssh/authorized_keys; }`;
      const result = await session.exec(install);
      if (result.code !== 0) {
        throw new MoorError(
          `Could not add the machine's key to ~/.ssh/authorized_keys of ${this.state.SSHUser}: ${result.stderr.trim()}`,
          {
            code: 'SSH_KEY_INSTALL_FAILED',
          },
        );
      }
      this.state.HostKey = session.hostKey;
    } finally {
      await session.close();
    }
  }

  private refusedGraceMs(): number {
    const value = this.context.env['MOOR_SSH_REFUSED_GRACE'];
    if (value === undefined || value === '') return REFUSED_GRACE_MS;
    if (!/^[0-9]+(\.[0-9]+)?$/.test(value.trim())) {
      throw new UsageError(`MOOR_SSH_REFUSED_GRACE must be a number of seconds; got "${value}".`);
    }
    return Math.round(Number(value) * 1000);
  }

  private agentSocket(): string | undefined {
    return this.context.env['SSH_AUTH_SOCK'] || undefined;
  }

  /** moor never created the server, so it does not destroy it: only the record goes. */
  override async remove(): Promise<void> {
    this.context.log.info(
      `"${this.context.machineName}": moor forgets this machine; the server at ${this.state.IPAddress} keeps running, Docker included.`,
    );
  }

  async getState(): Promise<MachineStateValue> {
    return (await portAnswers(this.state.IPAddress, this.state.SSHPort, STATE_TIMEOUT_MS))
      ? MachineState.Running
      : MachineState.Stopped;
  }

  override async restart(): Promise<void> {
    const { connect, sudoPrefix } = await loadSSH();
    const session = await connect(await this.sshTarget(), { timeoutMs: 60_000, log: this.context.log });
    try {
      // The connection drops as the host goes down: the command's result is not awaited beyond that.
      await session.exec(`${sudoPrefix(this.state.SSHUser)}shutdown -r now`).catch(() => undefined);
    } finally {
      await session.close().catch(() => undefined);
    }
    await waitForPortState(this.state.IPAddress, this.state.SSHPort, false, 120_000);
  }

  async getIP(): Promise<string> {
    return this.state.IPAddress;
  }

  async getURL(): Promise<string> {
    const host = this.state.IPAddress.includes(':') ? `[${this.state.IPAddress}]` : this.state.IPAddress;
    return `tcp://${host}:${this.state.EnginePort}`;
  }

  override async getSSHConfig(): Promise<SSHConfig> {
    return {
      host: this.state.IPAddress,
      port: this.state.SSHPort,
      user: this.state.SSHUser,
      keyPath: join(this.context.machineDir, this.state.SSHKeyPath),
      ...(this.state.SSHKeySource ? { keySource: this.state.SSHKeySource } : {}),
      ...(this.state.HostKey ? { hostKey: this.state.HostKey } : {}),
      refusedGraceMs: this.refusedGraceMs(),
    };
  }

  toJSON(): Record<string, unknown> {
    return { MachineName: this.context.machineName, ...this.state };
  }

  private async sshTarget() {
    return (await loadSSH()).sshTargetOf(await this.getSSHConfig());
  }
}

/** Waits until the port stops answering (down) or answers (up); used to see a reboot begin. */
async function waitForPortState(host: string, port: number, up: boolean, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await portAnswers(host, port, 1_000)) === up || notYet(), {
    what: `port ${port} on ${host} to go ${up ? 'up' : 'down'}`,
    timeoutMs,
    initialDelayMs: 250,
    maxDelayMs: 250,
    jitter: false,
    onTimeout: () => true,
  });
}

function integerFlag(flags: DriverFlagValues, name: string): number {
  const value = flags[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new UsageError(`--${name} must be a port number (1-65535); got ${String(value)}.`);
  }
  return value;
}

export const factory: DriverFactory = {
  fromFlags(context, flags) {
    const ip = flags['generic-ip-address'];
    const user = flags['generic-ssh-user'];
    const key = flags['generic-ssh-key'];
    if (typeof ip !== 'string' || ip.trim() === '' || /\s/.test(ip)) {
      throw new UsageError('--generic-ip-address must be an IP address or a host name.');
    }
    if (typeof user !== 'string' || !/^[a-z_][a-z0-9_.-]*\$?$/i.test(user)) {
      throw new UsageError(`--generic-ssh-user "${String(user)}" is not a valid user name.`);
    }
    const givenKey = typeof key === 'string' && key !== '' ? key : undefined;
    const state: GenericState = {
      IPAddress: ip.trim(),
      SSHUser: user,
      SSHPort: integerFlag(flags, 'generic-ssh-port'),
      SSHKeyPath: givenKey ? KEY_FILE : GENERATED_KEY_FILE,
      EnginePort: integerFlag(flags, 'generic-engine-port'),
      ...(givenKey ? { SSHKeySource: resolvePath(givenKey) } : {}),
    };
    return new GenericDriver(context, state, givenKey);
  },
  fromRecord(context, state) {
    return new GenericDriver(context, {
      IPAddress: String(state['IPAddress'] ?? ''),
      SSHUser: String(state['SSHUser'] ?? 'root'),
      SSHPort: Number(state['SSHPort'] ?? 22),
      SSHKeyPath: String(state['SSHKeyPath'] ?? ''),
      EnginePort: Number(state['EnginePort'] ?? 2376),
      ...(typeof state['SSHKeySource'] === 'string' ? { SSHKeySource: state['SSHKeySource'] } : {}),
      ...(typeof state['HostKey'] === 'string' ? { HostKey: state['HostKey'] } : {}),
    });
  },
};
