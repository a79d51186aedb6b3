/**
 * The `qemu` driver (moor's default): each machine is a daemonised qemu-system-<arch> process booting a
 * qcow2 overlay of a cached cloud image, configured at first boot by cloud-init from a NoCloud seed (user,
 * moor's SSH key, hostname, network). Everything of a machine is in its folder, as Lima keeps an instance:
 * the overlay, the seed, the QMP socket, the pid file, the serial console log and QEMU's own stderr log,
 * whose tails the errors quote. moor then provisions Docker over SSH like any other host.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, copyFile, readFile, rm, stat, symlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, dirname, join, resolve as resolvePath } from 'node:path';
import {
  BaseDriver,
  type DriverContext,
  type DriverFactory,
  type DriverFlagValues,
  ExitCode,
  formatDuration,
  isErrno,
  loadSSH,
  MachineState,
  type MachineStateValue,
  messageOf,
  MoorError,
  notYet,
  progressLines,
  type SSHConfig,
  UsageError,
  waitFor,
  writeFileAtomic,
} from '../api.js';
import { buildSeedIso, type SeedNic } from '../shared/vm/cloud-init.js';
import { ensureImage, isUrl, normalizeChecksum } from '../shared/vm/image.js';
import { freeLoopbackPort, loopbackPortFree } from '../shared/vm/ports.js';
import { parseShareFolders } from '../shared/vm/share-folders.js';
import { chooseAccel, kvmDeviceUsable, probeKvm, type RequestedAccel } from './accel.js';
import { attachTap, type BridgeMethod, planBridge, realBridgeHost, tapGone, tapName } from './bridge.js';
import {
  aarch64FirmwareCandidates,
  ARCHES,
  defaultImageUrl,
  type Firmware,
  hostArch,
  parseDiskSize,
  parseNetwork,
  type QemuAccel,
  qemuArgs,
  type QemuArch,
  type QemuNetwork,
} from './args.js';
import { qmp } from './qmp.js';
import {
  findSftpServer,
  mountShares,
  removeAgentFiles,
  SftpServerMissingError,
  SHARE_FLAG,
  type ShareFolder,
  stopAgent,
} from './share.js';
import { ensureSocketDir, shortSocketPath, socketPlaces } from './socket-path.js';

export interface QemuState {
  /** --qemu-binary as given; empty: qemu-system-<arch> from PATH at each use. */
  Binary: string;
  Accel: RequestedAccel;
  Arch: QemuArch;
  ImageURL: string;
  ImageChecksum: string;
  DiskSizeMB: number;
  Memory: number;
  CPU: number;
  /** `user` or `bridge=NAME`. */
  Network: string;
  /** The static address on the bridge network (no prefix), empty on the user network. */
  IPAddress: string;
  IPPrefix: number;
  Gateway: string;
  StopTimeout: number;
  SSHUser: string;
  SSHKeyPath: string;
  /** User network: the 127.0.0.1 port forwarded to the guest's 22 (chosen at create, moved when taken). */
  SSHPort: number;
  /** User network with the tls transport: the 127.0.0.1 port forwarded to the guest's 2376; 0 otherwise. */
  EnginePort: number;
  MAC: string;
  /** The accelerator of the last boot. */
  LastAccel: string;
  /** Seconds a boot waits for SSH: create's --ssh-timeout, kept for start and restart. */
  BootTimeout: number;
  /** --qemu-share-folder: host folders mounted in the VM by reverse SSHFS (share.ts). */
  Shares: ShareFolder[];
}

const SSH_USER = 'docker';
const KEY_FILE = 'id_ed25519';
const FILES = {
  disk: 'disk.qcow2',
  seed: 'seed.iso',
  qmp: 'qmp.sock',
  pid: 'qemu.pid',
  serial: 'console.log',
  stderr: 'qemu.stderr.log',
  vars: 'efi-vars.fd',
};
const DEFAULT_SSH_TIMEOUT_MS = 300_000;

/** The package to install, per system, when QEMU is missing. */
export function installHints(arch: QemuArch): string[] {
  const debian = arch === 'x86_64' ? 'qemu-system-x86 qemu-utils' : 'qemu-system-arm qemu-utils qemu-efi-aarch64';
  return [
    `Debian/Ubuntu: sudo apt-get install ${debian}`,
    'Fedora: sudo dnf install qemu-kvm qemu-img',
    'Arch Linux: sudo pacman -S qemu-base (or qemu-full)',
    'macOS: brew install qemu',
    'Or give its path with --qemu-binary (MOOR_QEMU_BINARY), or use another driver: --driver generic (any SSH server), virtualbox, amazonec2 or none.',
  ];
}

export class QemuMissingError extends MoorError {
  constructor(what: string, arch: QemuArch) {
    super(`QEMU is not installed: ${what}.`, {
      code: 'QEMU_MISSING',
      exitCode: ExitCode.preCreateCheck,
      suggestions: installHints(arch),
    });
  }
}

/** `name` on the PATH of `env` (an executable file), or undefined. */
export async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile() && (info.mode & 0o111) !== 0) return candidate;
  }
  return undefined;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (bounded), never through a shell. */
function run(binary: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(binary, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({
        code,
        stdout,
        stderr: stderr || (error && code === null ? `${binary}: ${error.message}` : ''),
      });
    });
  });
}

/** The last `lines` lines of a log file (empty when it does not exist). */
export async function tailOf(path: string, lines = 20): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g, '').replace(/\r/g, '');
  return clean
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-lines)
    .join('\n');
}

/** How often the boot is checked (the SSH banner): a fixed half second, as one would by hand. */
const BOOT_POLL = { initialDelayMs: 500, maxDelayMs: 500, jitter: false } as const;

/** Whether an SSH server answers at host:port: its banner ("SSH-2.0-..."), not only an accepted connection. */
export function sshBanner(host: string, port: number, timeoutMs = 5_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let data = '';
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('\n') || data.length >= 4) done(data.startsWith('SSH-'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

function randomMac(): string {
  return `52:54:00:${[...randomBytes(3)].map((byte) => byte.toString(16).padStart(2, '0')).join(':')}`;
}

export class QemuDriver extends BaseDriver {
  readonly driverName = 'qemu';
  /** The accelerator chosen by the pre-create check, used by create's first boot. */
  private chosenAccel: QemuAccel | undefined;

  constructor(
    context: DriverContext,
    private readonly state: QemuState,
  ) {
    super(context);
  }

  private file(name: keyof typeof FILES): string {
    const path = join(this.context.machineDir, FILES[name]);
    return (name === 'qmp' && shortSocketPath(path, socketPlaces(this.context.env))?.path) || path;
  }

  /** A QMP socket path too long for a unix socket: its short folder made, a link to it in the machine's folder. */
  private async prepareQmpPath(): Promise<void> {
    const places = socketPlaces(this.context.env);
    const link = join(this.context.machineDir, FILES.qmp);
    const short = shortSocketPath(link, places);
    if (!short) return;
    await ensureSocketDir(short.dir, places.uid);
    await rm(link, { force: true });
    await symlink(short.path, link);
  }

  /** The bridge network's set-up on this host (checked: nothing is created), undefined on the user network. */
  private async bridgeMethod(): Promise<BridgeMethod | undefined> {
    const network = parseNetwork(this.state.Network);
    if (network?.kind !== 'bridge') return undefined;
    const host = realBridgeHost(await this.binary(), (name) => findOnPath(name, this.context.env));
    return planBridge(network.bridge, host);
  }

  /** The bridge address of another qemu machine of this store would clash (moor checks no other hosts). */
  private async assertAddressUnused(): Promise<void> {
    if (!this.state.IPAddress) return;
    for (const other of await this.context.otherMachines()) {
      if (other.driverName === 'qemu' && other.driverState?.['IPAddress'] === this.state.IPAddress) {
        throw new UsageError(`--qemu-ip ${this.state.IPAddress} is the address of machine "${other.name}" already.`);
      }
    }
  }

  private get network(): QemuNetwork {
    const parsed = parseNetwork(this.state.Network) ?? { kind: 'user' };
    return parsed.kind === 'user'
      ? {
          kind: 'user',
          sshPort: this.state.SSHPort,
          ...(this.state.EnginePort ? { enginePort: this.state.EnginePort } : {}),
        }
      : parsed;
  }

  private async binary(): Promise<string> {
    if (this.state.Binary) {
      const info = await stat(this.state.Binary).catch(() => undefined);
      if (!info?.isFile())
        throw new QemuMissingError(`--qemu-binary ${this.state.Binary} is not a file`, this.state.Arch);
      return this.state.Binary;
    }
    const name = `qemu-system-${this.state.Arch}`;
    const found = await findOnPath(name, this.context.env);
    if (!found) throw new QemuMissingError(`${name} is not on PATH`, this.state.Arch);
    return found;
  }

  /** qemu-img next to the QEMU binary, else from PATH. */
  private async qemuImg(): Promise<string> {
    const beside = join(dirname(await this.binary()), 'qemu-img');
    if (
      await stat(beside).then(
        (info) => info.isFile(),
        () => false,
      )
    )
      return beside;
    const found = await findOnPath('qemu-img', this.context.env);
    if (!found) throw new QemuMissingError('qemu-img is not on PATH', this.state.Arch);
    return found;
  }

  private async firmware(binary: string): Promise<Firmware> {
    for (const [code, vars] of aarch64FirmwareCandidates(binary)) {
      const found = await Promise.all(
        [code, vars].map((path) =>
          stat(path).then(
            (i) => i.isFile(),
            () => false,
          ),
        ),
      );
      if (found.every(Boolean)) {
        const own = this.file('vars');
        if (
          !(await stat(own).then(
            () => true,
            () => false,
          ))
        )
          await copyFile(vars, own);
        return { code, vars: own };
      }
    }
    throw new MoorError('No UEFI firmware for aarch64 guests was found (QEMU needs it to boot them).', {
      code: 'QEMU_NO_FIRMWARE',
      exitCode: ExitCode.preCreateCheck,
      suggestions: [
        'Debian/Ubuntu: sudo apt-get install qemu-efi-aarch64',
        'Fedora: sudo dnf install edk2-aarch64',
        'Arch Linux: sudo pacman -S edk2-aarch64',
        "macOS: Homebrew's qemu ships it (brew install qemu)",
      ],
    });
  }

  private accelHost() {
    return {
      platform: process.platform,
      arch: hostArch(process.arch),
      kvmDeviceUsable,
      probeKvm: async () => probeKvm(await this.binary()),
    };
  }

  private async resolveAccel(): Promise<QemuAccel> {
    const { accel, warning } = await chooseAccel(this.state.Accel, this.state.Arch, this.accelHost());
    if (warning) this.context.log.warn(warning);
    return accel;
  }

  override async preCreateCheck(): Promise<void> {
    await this.assertAddressUnused();
    const binary = await this.binary();
    const version = await run(binary, ['--version'], this.context.env, 30_000);
    if (version.code !== 0) {
      throw new QemuMissingError(
        `${binary} --version failed${version.stderr.trim() ? `: ${version.stderr.trim().split('\n')[0]}` : ''}`,
        this.state.Arch,
      );
    }
    await this.qemuImg();
    await this.bridgeMethod();
    if (this.state.Arch === 'aarch64') await this.firmwareCandidatesExist(binary);
    if (
      !isUrl(this.state.ImageURL) &&
      !(await stat(this.state.ImageURL).then(
        (i) => i.isFile(),
        () => false,
      ))
    ) {
      throw new UsageError(`--qemu-image-url: ${this.state.ImageURL} is neither an http(s) URL nor a file.`);
    }
    if (this.state.Shares.length > 0 && !findSftpServer(this.context.env)) throw new SftpServerMissingError();
    this.chosenAccel = await this.resolveAccel();
  }

  private async firmwareCandidatesExist(binary: string): Promise<void> {
    for (const [code] of aarch64FirmwareCandidates(binary)) {
      if (
        await stat(code).then(
          (i) => i.isFile(),
          () => false,
        )
      )
        return;
    }
    await this.firmware(binary);
  }

  async create(): Promise<void> {
    const { log } = this.context;
    if (this.context.sshTimeoutMs) this.state.BootTimeout = Math.ceil(this.context.sshTimeoutMs / 1000);
    const ssh = await loadSSH();
    const { publicKey } = await ssh.generateKeyPair(this.context.machineDir, KEY_FILE);

    log.step('Getting the machine image');
    const image = await ensureImage(
      {
        location: this.state.ImageURL,
        ...(this.state.ImageChecksum ? { checksum: this.state.ImageChecksum } : {}),
        sumsFiles: ['SHA512SUMS', 'SHA256SUMS'],
      },
      { cacheDir: this.context.cacheDir, log, progress: progressLines(log), flag: 'qemu-image' },
    );

    log.step(`Creating the machine's disk (a ${this.state.DiskSizeMB} MB qcow2 overlay on the image)`);
    await this.createOverlay(image);

    this.state.MAC = randomMac();
    const network = parseNetwork(this.state.Network);
    const nic: SeedNic = { id: 'eth0', mac: this.state.MAC, setName: 'eth0' };
    if (network?.kind === 'bridge') {
      nic.address = `${this.state.IPAddress}/${this.state.IPPrefix}`;
      if (this.state.Gateway) nic.gateway = this.state.Gateway;
      nic.nameservers = [this.state.Gateway || '1.1.1.1'];
    }
    const seed = buildSeedIso({
      hostname: this.context.machineName,
      instanceId: `moor-${this.context.machineName}-${randomBytes(4).toString('hex')}`,
      user: this.state.SSHUser,
      sshPublicKey: publicKey,
      nics: [nic],
      ...(this.context.firstBootScript !== undefined ? { engineConfigScript: this.context.firstBootScript } : {}),
    });
    await writeFileAtomic(this.file('seed'), seed, 0o600);

    await this.boot(this.chosenAccel);
    try {
      await this.mountShares(true);
    } catch (error) {
      // As for a boot that fails: nothing of the machine is left running.
      await stopAgent(this.context.machineDir);
      await this.killProcess();
      throw error;
    }
  }

  /** The shared folders mounted by their agent (share.ts), after a boot; at create, sshfs installed first. */
  private async mountShares(install: boolean): Promise<void> {
    if (this.state.Shares.length === 0) return;
    await mountShares({
      machineDir: this.context.machineDir,
      machineName: this.context.machineName,
      env: this.context.env,
      ssh: await this.getSSHConfig(),
      shares: this.state.Shares,
      log: this.context.log,
      install,
      sshTimeoutMs: this.context.sshTimeoutMs ?? this.state.BootTimeout * 1000,
      ...(this.context.signal ? { signal: this.context.signal } : {}),
    });
  }

  private async createOverlay(image: string): Promise<void> {
    const qemuImg = await this.qemuImg();
    const info = await run(qemuImg, ['info', '--output=json', image], this.context.env, 120_000);
    let format = 'qcow2';
    let virtualSize = 0;
    try {
      const parsed = JSON.parse(info.stdout) as { format?: string; 'virtual-size'?: number };
      format = parsed.format ?? format;
      virtualSize = parsed['virtual-size'] ?? 0;
    } catch {
      throw new MoorError(`qemu-img cannot read the image ${image}: ${info.stderr.trim() || 'no output'}.`, {
        code: 'QEMU_IMAGE_UNREADABLE',
        suggestions: ['Check --qemu-image-url: it must be a qcow2 or raw disk image.'],
      });
    }
    const sizeBytes = this.state.DiskSizeMB * 1024 * 1024;
    if (virtualSize > sizeBytes) {
      throw new UsageError(
        `--qemu-disk-size ${this.state.DiskSizeMB} MB is smaller than the image (${Math.ceil(virtualSize / 1048576)} MB).`,
      );
    }
    const made = await run(
      qemuImg,
      ['create', '-q', '-f', 'qcow2', '-F', format, '-b', image, this.file('disk'), `${this.state.DiskSizeMB}M`],
      this.context.env,
      120_000,
    );
    if (made.code !== 0) {
      throw new MoorError(`qemu-img could not create the machine's disk: ${made.stderr.trim()}.`, {
        code: 'QEMU_DISK_FAILED',
      });
    }
  }

  /** The ports of the user network: kept when still free, else new ones (another program took them). */
  private async choosePorts(): Promise<void> {
    if (this.network.kind !== 'user') return;
    const used = new Set<number>();
    for (const machine of await this.context.otherMachines()) {
      if (machine.driverName !== 'qemu') continue;
      for (const key of ['SSHPort', 'EnginePort']) {
        const port = Number(machine.driverState?.[key] ?? 0);
        if (port) used.add(port);
      }
    }
    const pick = async (current: number, what: string): Promise<number> => {
      if (current && !used.has(current) && (await loopbackPortFree(current))) return current;
      for (let tries = 0; ; tries++) {
        const port = await freeLoopbackPort();
        if (!used.has(port) || tries > 20) {
          if (current) this.context.log.warn(`Port ${current} (${what}) is taken now: using 127.0.0.1:${port}.`);
          used.add(port);
          return port;
        }
      }
    };
    this.state.SSHPort = await pick(this.state.SSHPort, 'SSH');
    if (this.context.engineTransport === 'tls' || this.state.EnginePort) {
      this.state.EnginePort = await pick(this.state.EnginePort, 'the Docker engine');
    }
  }

  /**
   * Starts QEMU (daemonised) and waits until the guest's SSH server answers. KVM chosen by `auto` that
   * passed the probe can still fail once a real vCPU starts (seen under nested virtualisation: "failed to
   * set MSR ... kvm_buf_set_msrs: Assertion failed"): then the machine boots again under tcg, with a warning.
   */
  private async boot(accel?: QemuAccel): Promise<void> {
    const chosen = accel ?? (await this.resolveAccel());
    try {
      await this.bootWith(chosen);
    } catch (error) {
      const failedAtStart =
        error instanceof MoorError && (error.code === 'QEMU_START_FAILED' || error.code === 'QEMU_EXITED');
      if (!failedAtStart || chosen !== 'kvm' || this.state.Accel !== 'auto') throw error;
      this.context.signal?.throwIfAborted();
      const why = error.message.split('\n')[0]!;
      this.context.log.warn(`QEMU failed under KVM (${why}): starting the machine under tcg, which is slow.`);
      await this.bootWith('tcg');
    }
  }

  private async bootWith(chosen: QemuAccel): Promise<void> {
    const { log } = this.context;
    await this.clearStale();
    await this.choosePorts();
    const binary = await this.binary();
    const bridge = await this.bridgeMethod();
    await this.prepareQmpPath();
    this.state.LastAccel = chosen;
    const args = qemuArgs({
      name: this.context.machineName,
      arch: this.state.Arch,
      accel: chosen,
      memoryMb: this.state.Memory,
      cpus: this.state.CPU,
      disk: this.file('disk'),
      seed: this.file('seed'),
      mac: this.state.MAC,
      network:
        bridge?.kind === 'tap'
          ? { kind: 'tap', tap: tapName(this.state.MAC) }
          : bridge
            ? { kind: 'bridge', bridge: bridge.bridge, helper: bridge.helper }
            : this.network,
      ...(this.state.Arch === 'aarch64' ? { firmware: await this.firmware(binary) } : {}),
      qmpSocket: this.file('qmp'),
      pidFile: this.file('pid'),
      serialLog: this.file('serial'),
    });
    log.step(`Starting QEMU (${this.state.Arch}, ${chosen})`);
    log.debug(`${binary} ${args.join(' ')}`);
    const started = await run(binary, args, this.context.env, 120_000);
    await appendFile(
      this.file('stderr'),
      `${new Date().toISOString()} ${binary} ${args.join(' ')}\n${started.stderr}`,
      {
        mode: 0o600,
      },
    );
    if (started.code !== 0) {
      await this.killProcess();
      throw new MoorError(
        `QEMU did not start (exit ${started.code ?? 'timeout'}): ${started.stderr.trim() || 'no message'}.`,
        {
          code: 'QEMU_START_FAILED',
          suggestions: [`Its log: ${this.file('stderr')}`],
        },
      );
    }
    if (bridge?.kind === 'tap') {
      log.step(`Putting the tap ${tapName(this.state.MAC)} on bridge ${bridge.bridge}`);
      await attachTap(bridge, tapName(this.state.MAC)).catch(async (error: unknown) => {
        await this.killProcess();
        throw error;
      });
    }
    await this.waitForSSH();
  }

  private async waitForSSH(): Promise<void> {
    const { host, port } = await this.getSSHConfig();
    const timeoutMs = this.context.sshTimeoutMs ?? (this.state.BootTimeout * 1000 || DEFAULT_SSH_TIMEOUT_MS);
    this.context.log.step(`Waiting for the machine to boot and SSH to answer on ${host}:${port}`);
    const answered = await waitFor(
      async () => {
        if ((await this.pid()) === undefined) {
          throw new MoorError(`QEMU exited while the machine was booting.${await this.logs()}`, {
            code: 'QEMU_EXITED',
            suggestions: [`QEMU's messages: ${this.file('stderr')}; the console: ${this.file('serial')}`],
          });
        }
        return (await sshBanner(host, port)) || notYet('no SSH banner yet');
      },
      // Every half second: a check is one connection on loopback, and the boot is what the user waits for.
      { what: `SSH on ${host}:${port}`, timeoutMs, ...BOOT_POLL, onTimeout: () => false },
    );
    if (answered) return;
    const logs = await this.logs();
    await this.killProcess();
    throw new MoorError(
      `The machine's SSH server did not answer within ${formatDuration(timeoutMs)} of QEMU starting; QEMU was stopped.${logs}`,
      {
        code: 'QEMU_BOOT_TIMEOUT',
        exitCode: ExitCode.timeout,
        suggestions: [
          `The whole console: ${this.file('serial')}`,
          'A slow machine (tcg) may need more time: --ssh-timeout SECONDS.',
          'Check that the image is a cloud image with cloud-init (NoCloud) and an SSH server.',
        ],
      },
    );
  }

  /** The console's tail (and QEMU's messages, if any), for error messages. */
  private async logs(): Promise<string> {
    const console = await tailOf(this.file('serial'));
    return console ? `\nThe console's last lines:\n${console}` : '\nThe console printed nothing.';
  }

  /** The QEMU process of this machine: the pid file's, when that process is alive and is this machine's QEMU. */
  private async pid(): Promise<number | undefined> {
    const text = await readFile(this.file('pid'), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if (isErrno(error, 'ESRCH')) return undefined;
    }
    if (process.platform === 'linux') {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!cmdline.includes(this.file('pid'))) return undefined; // a pid reused by another program
    }
    return pid;
  }

  /** A pid file or QMP socket left by a QEMU that is gone (a crash, a reboot of the host). */
  private async clearStale(): Promise<void> {
    if ((await this.pid()) !== undefined) {
      throw new MoorError(`Machine "${this.context.machineName}" is already running.`, { code: 'ALREADY_IN_STATE' });
    }
    await rm(this.file('pid'), { force: true });
    await rm(this.file('qmp'), { force: true });
  }

  /** SIGKILL to this machine's QEMU, then waits until it is gone. */
  private async killProcess(): Promise<void> {
    const pid = await this.pid();
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if (!isErrno(error, 'ESRCH')) throw error;
    }
    await waitFor(async () => ((await this.pid()) === undefined ? true : notYet('QEMU is still running')), {
      what: 'QEMU to exit',
      timeoutMs: 60_000,
      jitter: false,
    });
    await rm(this.file('pid'), { force: true });
    await this.waitTapGone();
  }

  /** On the bridge network as root: the tap QEMU had goes away with it (a moment after the process). */
  private async waitTapGone(): Promise<void> {
    if (process.platform !== 'linux' || parseNetwork(this.state.Network)?.kind !== 'bridge' || !this.state.MAC) return;
    const tap = tapName(this.state.MAC);
    if (!(await tapGone(tap))) this.context.log.warn(`The tap ${tap} is still there after QEMU exited.`);
  }

  override async remove(): Promise<void> {
    await removeAgentFiles(this.context.machineDir);
    await this.killProcess();
    for (const name of Object.keys(FILES) as (keyof typeof FILES)[]) {
      if (name !== 'serial' && name !== 'stderr') await rm(this.file(name), { force: true });
    }
    await rm(join(this.context.machineDir, FILES.qmp), { force: true }); // the link to a short QMP path
  }

  async getState(): Promise<MachineStateValue> {
    if ((await this.pid()) === undefined) return MachineState.Stopped;
    try {
      const status = await qmp<{ status?: string }>(this.file('qmp'), 'query-status');
      switch (status.status) {
        case 'running':
          return MachineState.Running;
        case 'paused':
        case 'suspended':
          return MachineState.Paused;
        case 'shutdown':
          return MachineState.Stopping;
        case 'prelaunch':
        case 'inmigrate':
        case 'restore-vm':
          return MachineState.Starting;
        default:
          return MachineState.Error;
      }
    } catch (error) {
      this.context.log.debug(`QMP query-status: ${messageOf(error)}`);
      return MachineState.Error;
    }
  }

  override async start(): Promise<void> {
    if ((await this.getState()) === MachineState.Paused) {
      await qmp(this.file('qmp'), 'cont');
      return;
    }
    await this.boot();
    await this.mountShares(false);
  }

  /** ACPI power button over QMP; after --qemu-stop-timeout seconds, QMP quit (then SIGKILL). */
  override async stop(): Promise<void> {
    await stopAgent(this.context.machineDir);
    if ((await this.pid()) === undefined) return;
    const timeoutMs = this.state.StopTimeout * 1000;
    try {
      await qmp(this.file('qmp'), 'system_powerdown');
    } catch (error) {
      this.context.log.warn(`The ACPI power button could not be pressed (${messageOf(error)}): stopping QEMU.`);
    }
    const stopped = await waitFor(async () => ((await this.pid()) === undefined ? true : notYet()), {
      what: 'the ACPI shutdown',
      timeoutMs,
      maxDelayMs: 2_000,
      jitter: false,
      onTimeout: () => false,
    });
    if (!stopped) {
      this.context.log.warn(
        `"${this.context.machineName}" did not shut down within ${formatDuration(timeoutMs)} of the ACPI power button: quitting QEMU.`,
      );
      await qmp(this.file('qmp'), 'quit').catch(() => undefined);
      await this.killProcess();
    }
    await rm(this.file('pid'), { force: true });
    await this.waitTapGone();
  }

  override async kill(): Promise<void> {
    await stopAgent(this.context.machineDir);
    await this.killProcess();
  }

  override async restart(): Promise<void> {
    if ((await this.pid()) !== undefined) await this.stop();
    await this.boot();
    await this.mountShares(false);
  }

  async getIP(): Promise<string> {
    return this.network.kind === 'user' ? '127.0.0.1' : this.state.IPAddress;
  }

  async getURL(): Promise<string> {
    return this.network.kind === 'user'
      ? `tcp://127.0.0.1:${this.state.EnginePort || 2376}`
      : `tcp://${this.state.IPAddress}:2376`;
  }

  override async getSSHConfig(): Promise<SSHConfig> {
    const user = this.network.kind === 'user';
    return {
      host: user ? '127.0.0.1' : this.state.IPAddress,
      port: user ? this.state.SSHPort : 22,
      user: this.state.SSHUser,
      keyPath: join(this.context.machineDir, this.state.SSHKeyPath),
    };
  }

  toJSON(): Record<string, unknown> {
    return { MachineName: this.context.machineName, ...this.state };
  }
}

function text(flags: DriverFlagValues, name: string): string {
  const value = flags[name];
  return typeof value === 'string' ? value.trim() : '';
}

function positiveInteger(flags: DriverFlagValues, name: string, min: number): number {
  const value = flags[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}; got ${String(value)}.`);
  }
  return value;
}

/** --qemu-share-folder's values (repeatable; the env variable's are comma-separated). */
function shareValues(flags: DriverFlagValues): string[] {
  const value = flags[SHARE_FLAG];
  if (Array.isArray(value)) return value;
  return typeof value === 'string' ? [value] : [];
}

function storedShares(value: unknown): ShareFolder[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (share): share is ShareFolder =>
      typeof share === 'object' && share !== null && typeof share.Host === 'string' && typeof share.Guest === 'string',
  );
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export const factory: DriverFactory = {
  fromFlags(context, flags) {
    const archText = text(flags, 'qemu-arch');
    const arch = (archText || hostArch(process.arch)) as QemuArch | undefined;
    if (!arch || !ARCHES.includes(arch)) {
      throw new UsageError(
        `--qemu-arch must be one of ${ARCHES.join(', ')}${archText ? `; got "${archText}"` : ` (this host is ${process.arch})`}.`,
      );
    }
    const networkText = text(flags, 'qemu-network') || 'user';
    const network = parseNetwork(networkText);
    if (!network) throw new UsageError(`--qemu-network must be user or bridge=NAME; got "${networkText}".`);
    const ipText = text(flags, 'qemu-ip');
    const gateway = text(flags, 'qemu-gateway');
    let ip = '';
    let prefix = 0;
    if (network.kind === 'bridge') {
      const match = /^([\d.]+)\/(\d{1,2})$/.exec(ipText);
      if (!match || !IPV4.test(match[1]!) || Number(match[2]) < 1 || Number(match[2]) > 30) {
        throw new UsageError(
          `--qemu-network ${networkText} needs --qemu-ip ADDRESS/PREFIX (e.g. 10.0.0.5/24); got "${ipText}".`,
        );
      }
      ip = match[1]!;
      prefix = Number(match[2]);
      if (gateway && !IPV4.test(gateway))
        throw new UsageError(`--qemu-gateway must be an IPv4 address; got "${gateway}".`);
    } else if (ipText || gateway) {
      throw new UsageError('--qemu-ip and --qemu-gateway are for --qemu-network bridge=NAME only.');
    }
    const diskText = text(flags, 'qemu-disk-size') || '20G';
    const disk = parseDiskSize(diskText);
    if (!disk || disk < 1024) {
      throw new UsageError(`--qemu-disk-size must be a size of at least 1G, such as 20G or 20000M; got "${diskText}".`);
    }
    const checksum = text(flags, 'qemu-image-checksum');
    const image = text(flags, 'qemu-image-url') || defaultImageUrl(arch);
    const binary = text(flags, 'qemu-binary');
    return new QemuDriver(context, {
      Binary: binary ? resolvePath(binary) : '',
      Accel: (text(flags, 'qemu-accel') || 'auto') as RequestedAccel,
      Arch: arch,
      ImageURL: isUrl(image) ? image : resolvePath(image),
      ImageChecksum: checksum ? normalizeChecksum(checksum, 'qemu-image-checksum') : '',
      DiskSizeMB: disk,
      Memory: positiveInteger(flags, 'qemu-memory', 256),
      CPU: positiveInteger(flags, 'qemu-cpu-count', 1),
      Network: networkText,
      IPAddress: ip,
      IPPrefix: prefix,
      Gateway: gateway,
      StopTimeout: positiveInteger(flags, 'qemu-stop-timeout', 1),
      SSHUser: SSH_USER,
      SSHKeyPath: KEY_FILE,
      SSHPort: 0,
      EnginePort: 0,
      MAC: '',
      LastAccel: '',
      BootTimeout: DEFAULT_SSH_TIMEOUT_MS / 1000,
      Shares: parseShareFolders(SHARE_FLAG, shareValues(flags), process.cwd()),
    });
  },
  fromRecord(context, state) {
    const str = (key: string, fallback = '') => (typeof state[key] === 'string' ? (state[key] as string) : fallback);
    const num = (key: string, fallback: number) => (typeof state[key] === 'number' ? (state[key] as number) : fallback);
    const arch = str('Arch', 'x86_64') as QemuArch;
    return new QemuDriver(context, {
      Binary: str('Binary'),
      Accel: str('Accel', 'auto') as RequestedAccel,
      Arch: ARCHES.includes(arch) ? arch : 'x86_64',
      ImageURL: str('ImageURL'),
      ImageChecksum: str('ImageChecksum'),
      DiskSizeMB: num('DiskSizeMB', 20480),
      Memory: num('Memory', 2048),
      CPU: num('CPU', 2),
      Network: str('Network', 'user'),
      IPAddress: str('IPAddress'),
      IPPrefix: num('IPPrefix', 24),
      Gateway: str('Gateway'),
      StopTimeout: num('StopTimeout', 60),
      SSHUser: str('SSHUser', SSH_USER),
      SSHKeyPath: str('SSHKeyPath', KEY_FILE),
      SSHPort: num('SSHPort', 0),
      EnginePort: num('EnginePort', 0),
      MAC: str('MAC'),
      LastAccel: str('LastAccel'),
      BootTimeout: num('BootTimeout', DEFAULT_SSH_TIMEOUT_MS / 1000),
      Shares: storedShares(state['Shares']),
    });
  },
};
