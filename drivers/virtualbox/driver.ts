/**
 * The `virtualbox` driver: a local VM made with VBoxManage from a cloud image. First boot is configured by
 * cloud-init from a NoCloud seed ISO (user, moor's SSH key, hostname, a static host-only address); moor
 * then provisions Docker over SSH through a NAT port-forward on 127.0.0.1, like any other host.
 */
import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import {
  BaseDriver,
  type DriverContext,
  type DriverFactory,
  type DriverFlagValues,
  formatDuration,
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
import { buildSeedIso } from '../shared/vm/cloud-init.js';
import { ensureImage, isUrl, normalizeChecksum } from '../shared/vm/image.js';
import { type HostOnlyState, parseHostOnlyCidr, setUpHostOnlyNetwork } from './network.js';
import {
  findVBoxManage,
  isSupportedVersion,
  MIN_VERSION,
  parseVersion,
  VBoxManage,
  VirtualBoxMissingError,
} from './vboxmanage.js';

export interface VirtualBoxState extends HostOnlyState {
  VMName: string;
  /** --virtualbox-vboxmanage as given; empty: found at each use (VBOX_INSTALL_PATH, PATH). */
  VBoxManagePath: string;
  Memory: number;
  CPU: number;
  DiskSize: number;
  ImageURL: string;
  ImageChecksum: string;
  HostOnlyCIDR: string;
  HostOnlyNicType: string;
  HostOnlyPromiscMode: string;
  NatNicType: string;
  NoDNSProxy: boolean;
  HostDNSResolver: boolean;
  ShareFolders: string[];
  UIType: string;
  NoVTXCheck: boolean;
  SSHUser: string;
  SSHKeyPath: string;
  /** The NAT port-forward to the guest's port 22, on 127.0.0.1 (chosen at create). */
  SSHPort: number;
  /** The static host-only address (chosen at create unless --virtualbox-hostonly-ip), kept across restarts. */
  IPAddress: string;
  HostOnlyInterface: string;
  NatMAC: string;
  HostOnlyMAC: string;
  EnginePort: number;
  /**
   * A boot2docker VM imported from Docker Machine (moor import): started, stopped, removed and reached like
   * moor's own, but never provisioned (its engine is boot2docker's, configured by its own profile).
   */
  Boot2Docker?: boolean;
}

const SSH_USER = 'docker';
const KEY_FILE = 'id_ed25519';
const DISK_FILE = 'disk.vdi';
const SEED_FILE = 'seed.iso';
const STORAGE_CONTROLLER = 'SATA';

/** VMState of `showvminfo --machinereadable` -> moor's state. */
export function stateFromVMState(vmState: string | undefined): MachineStateValue {
  switch (vmState) {
    case 'running':
      return MachineState.Running;
    case 'paused':
      return MachineState.Paused;
    case 'saved':
      return MachineState.Saved;
    case 'poweroff':
    case 'aborted':
    case 'aborted-saved':
      return MachineState.Stopped;
    case 'starting':
    case 'restoring':
      return MachineState.Starting;
    case 'stopping':
    case 'saving':
      return MachineState.Stopping;
    default:
      return MachineState.Error;
  }
}

/** Seconds `stop` waits for the guest to power off after the ACPI power button before it pulls the plug. */
function stopTimeoutMs(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env['MOOR_VIRTUALBOX_STOP_TIMEOUT'] ?? '');
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 90) * 1000;
}

export function parseShareFolder(value: string): { hostPath: string; guestPath: string; name: string } {
  const split = value.lastIndexOf(':');
  const hostPath = split > 0 ? value.slice(0, split) : '';
  const guestPath = split > 0 ? value.slice(split + 1) : '';
  if (!hostPath || !guestPath.startsWith('/') || !isAbsolute(hostPath)) {
    throw new UsageError(
      `--virtualbox-share-folder must be HOSTPATH:GUESTPATH with absolute paths, e.g. /home/me/src:/src; got "${value}".`,
    );
  }
  const name = guestPath.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'root';
  return { hostPath, guestPath, name };
}

function randomMac(): string {
  return `080027${randomBytes(3).toString('hex').toUpperCase()}`;
}

export class VirtualBoxDriver extends BaseDriver {
  readonly driverName = 'virtualbox';
  override readonly provisions: boolean;
  readonly provisionRefusal?: string;
  private vbox: VBoxManage | undefined;

  constructor(
    context: DriverContext,
    private readonly state: VirtualBoxState,
  ) {
    super(context);
    this.provisions = state.Boot2Docker !== true;
    if (state.Boot2Docker) {
      this.provisionRefusal = `"${context.machineName}" is a boot2docker VM imported from Docker Machine: moor drives it but does not provision boot2docker. Re-create it with "moor create -d virtualbox" to have it managed by moor.`;
    }
  }

  private manage(): VBoxManage {
    if (this.vbox) return this.vbox;
    const path = findVBoxManage(this.state.VBoxManagePath || undefined, this.context.env);
    if (!path) throw new VirtualBoxMissingError(this.state.VBoxManagePath || undefined);
    this.vbox = new VBoxManage(path, this.context.env);
    return this.vbox;
  }

  private run(args: string[]) {
    this.context.log.debug(`VBoxManage ${args.join(' ')}`);
    return this.manage().run(args);
  }

  private get dir(): string {
    return this.context.machineDir;
  }

  override async preCreateCheck(): Promise<void> {
    const vbox = this.manage();
    const versionText = await vbox.version();
    const version = parseVersion(versionText);
    if (!version)
      throw new MoorError(`VBoxManage --version printed "${versionText}", not a version.`, {
        code: 'VIRTUALBOX_VERSION',
      });
    if (!isSupportedVersion(version)) {
      throw new MoorError(`VirtualBox ${version.join('.')} is too old: moor needs ${MIN_VERSION.join('.')} or later.`, {
        code: 'VIRTUALBOX_TOO_OLD',
        suggestions: ['Upgrade VirtualBox (7.x recommended).'],
      });
    }
    if (!this.state.NoVTXCheck) {
      const info = await vbox.hostInfo();
      if (/^no$/i.test(info['Processor supports HW virtualization'] ?? '')) {
        throw new MoorError('This computer does not offer hardware virtualization (VT-x/AMD-V) to VirtualBox.', {
          code: 'VIRTUALBOX_NO_VTX',
          suggestions: [
            'Enable VT-x/AMD-V in the firmware settings, and make sure no other hypervisor holds it.',
            'Or skip this check with --virtualbox-no-vtx-check (the VM may then fail to boot).',
          ],
        });
      }
    }
    if ((await vbox.listVms()).some((vm) => vm.name === this.state.VMName)) {
      throw new MoorError(`VirtualBox already has a VM named "${this.state.VMName}".`, {
        code: 'VIRTUALBOX_VM_EXISTS',
        suggestions: [
          `Pick another machine name, or remove that VM with "VBoxManage unregistervm ${this.state.VMName} --delete".`,
        ],
      });
    }
    for (const share of this.state.ShareFolders) {
      const { hostPath } = parseShareFolder(share);
      if (!(await isKind(hostPath, 'directory'))) {
        throw new UsageError(`--virtualbox-share-folder: ${hostPath} is not a folder.`);
      }
    }
    if (!isUrl(this.state.ImageURL) && !(await isKind(this.state.ImageURL, 'file'))) {
      throw new UsageError(`--virtualbox-image-url: ${this.state.ImageURL} is neither an http(s) URL nor a file.`);
    }
  }

  async create(): Promise<void> {
    const { log } = this.context;
    const network = parseHostOnlyCidr(this.state.HostOnlyCIDR);
    const ssh = await loadSSH();
    const { publicKey } = await ssh.generateKeyPair(this.dir, KEY_FILE);

    log.step('Getting the machine image');
    const image = await ensureImage(
      { location: this.state.ImageURL, ...(this.state.ImageChecksum ? { checksum: this.state.ImageChecksum } : {}) },
      { cacheDir: this.context.cacheDir, log, progress: progressLines(log), flag: 'virtualbox-image' },
    );

    log.step('Setting up the host-only network');
    await setUpHostOnlyNetwork(
      this.context,
      { vbox: this.manage(), run: (args) => this.run(args) },
      this.state,
      network,
    );

    this.state.NatMAC = randomMac();
    this.state.HostOnlyMAC = randomMac();
    const seed = buildSeedIso({
      hostname: this.context.machineName,
      instanceId: `moor-${this.context.machineName}-${randomBytes(4).toString('hex')}`,
      user: this.state.SSHUser,
      sshPublicKey: publicKey,
      nics: [
        { id: 'nat', mac: this.state.NatMAC },
        { id: 'hostonly', mac: this.state.HostOnlyMAC, address: `${this.state.IPAddress}/${network.prefix}` },
      ],
      // Shared folders are mounted with vboxsf (the module must be in the guest's kernel).
      mounts: this.state.ShareFolders.map(parseShareFolder).map((share) => ({
        source: share.name,
        target: share.guestPath,
        type: 'vboxsf',
        options: 'defaults,nofail,uid=1000,gid=1000',
      })),
      ...(this.context.firstBootScript !== undefined ? { engineConfigScript: this.context.firstBootScript } : {}),
    });
    await writeFileAtomic(join(this.dir, SEED_FILE), seed, 0o600);

    const disk = join(this.dir, DISK_FILE);
    const made = { vm: false, looseDisk: false };
    try {
      log.step(`Creating the VirtualBox VM "${this.state.VMName}"`);
      await this.run([
        'createvm',
        '--name',
        this.state.VMName,
        '--ostype',
        'Ubuntu_64',
        '--basefolder',
        this.dir,
        '--register',
      ]);
      made.vm = true;
      log.step(`Cloning the image and resizing the disk to ${this.state.DiskSize} MB`);
      await this.run(['clonemedium', 'disk', image, disk, '--format', 'VDI']);
      made.looseDisk = true;
      await this.run(['modifymedium', 'disk', disk, '--resize', String(this.state.DiskSize)]);
      await this.run(this.modifyVmArgs());
      await this.run([
        'storagectl',
        this.state.VMName,
        '--name',
        STORAGE_CONTROLLER,
        '--add',
        'sata',
        '--controller',
        'IntelAhci',
        '--portcount',
        '2',
        '--hostiocache',
        'on',
      ]);
      await this.run(this.attachArgs(0, 'hdd', disk));
      made.looseDisk = false;
      await this.run(this.attachArgs(1, 'dvddrive', join(this.dir, SEED_FILE)));
      for (const share of this.state.ShareFolders.map(parseShareFolder)) {
        await this.run([
          'sharedfolder',
          'add',
          this.state.VMName,
          '--name',
          share.name,
          '--hostpath',
          share.hostPath,
          '--automount',
          '--auto-mount-point',
          share.guestPath,
        ]);
      }
      log.step(`Starting the VM (${this.state.UIType})`);
      await this.startVm();
    } catch (error) {
      log.warn(`Creating the VM failed (${messageOf(error)}); removing what was made.`);
      await this.cleanUp(made, disk);
      throw error;
    }
  }

  private modifyVmArgs(): string[] {
    const s = this.state;
    const onOff = (value: boolean) => (value ? 'on' : 'off');
    return [
      'modifyvm',
      s.VMName,
      '--firmware',
      'bios',
      '--memory',
      String(s.Memory),
      '--cpus',
      String(s.CPU),
      '--acpi',
      'on',
      '--ioapic',
      'on',
      '--rtcuseutc',
      'on',
      '--boot1',
      'disk',
      '--boot2',
      'none',
      '--boot3',
      'none',
      '--boot4',
      'none',
      '--uart1',
      '0x3F8',
      '4',
      '--uartmode1',
      'file',
      join(this.dir, 'console.log'),
      '--nic1',
      'nat',
      '--nictype1',
      s.NatNicType,
      '--macaddress1',
      s.NatMAC,
      '--cableconnected1',
      'on',
      '--natdnsproxy1',
      onOff(!s.NoDNSProxy),
      '--natdnshostresolver1',
      onOff(s.HostDNSResolver),
      '--natpf1',
      `ssh,tcp,127.0.0.1,${s.SSHPort},,22`,
      '--nic2',
      'hostonly',
      '--hostonlyadapter2',
      s.HostOnlyInterface,
      '--nictype2',
      s.HostOnlyNicType,
      '--nicpromisc2',
      s.HostOnlyPromiscMode,
      '--macaddress2',
      s.HostOnlyMAC,
      '--cableconnected2',
      'on',
    ];
  }

  private attachArgs(port: number, type: 'hdd' | 'dvddrive', medium: string): string[] {
    return [
      'storageattach',
      this.state.VMName,
      '--storagectl',
      STORAGE_CONTROLLER,
      '--port',
      String(port),
      '--device',
      '0',
      '--type',
      type,
      '--medium',
      medium,
    ];
  }

  /** Undoes a failed create: the VM (with its attached disk), a cloned disk not attached yet, the seed. */
  private async cleanUp(made: { vm: boolean; looseDisk: boolean }, disk: string): Promise<void> {
    const attempt = async (args: string[]) => {
      try {
        await this.run(args);
      } catch (error) {
        this.context.log.warn(`Cleanup: ${messageOf(error)}`);
      }
    };
    if (made.looseDisk) await attempt(['closemedium', 'disk', disk, '--delete']);
    if (made.vm) await attempt(['unregistervm', this.state.VMName, '--delete']);
    await this.removeDiskAndSeed();
  }

  override async remove(): Promise<void> {
    const info = await this.manage().vmInfo(this.state.VMName);
    if (info) {
      const state = stateFromVMState(info['VMState']);
      if (state !== MachineState.Stopped && state !== MachineState.Saved) {
        await this.powerOff().catch(() => undefined);
      }
      await this.run(['unregistervm', this.state.VMName, '--delete']);
    } else {
      this.context.log.info(`VirtualBox has no VM "${this.state.VMName}": removing moor's files only.`);
    }
    await this.removeDiskAndSeed();
  }

  private async removeDiskAndSeed(): Promise<void> {
    await rm(join(this.dir, DISK_FILE), { force: true });
    await rm(join(this.dir, SEED_FILE), { force: true });
  }

  async getState(): Promise<MachineStateValue> {
    const info = await this.manage().vmInfo(this.state.VMName);
    return info ? stateFromVMState(info['VMState']) : MachineState.Error;
  }

  override async start(): Promise<void> {
    if ((await this.getState()) === MachineState.Paused) {
      await this.run(['controlvm', this.state.VMName, 'resume']);
      return;
    }
    await this.startVm();
  }

  /** The ACPI power button (a clean shutdown); after MOOR_VIRTUALBOX_STOP_TIMEOUT seconds, power off. */
  override async stop(): Promise<void> {
    await this.run(['controlvm', this.state.VMName, 'acpipowerbutton']);
    const timeoutMs = stopTimeoutMs(this.context.env);
    const stopped = await waitFor(async () => (await this.getState()) === MachineState.Stopped || notYet(), {
      what: 'the ACPI shutdown',
      timeoutMs,
      maxDelayMs: 2_000,
      jitter: false,
      onTimeout: () => false,
    });
    if (stopped) return;
    this.context.log.warn(
      `"${this.context.machineName}" did not shut down within ${formatDuration(timeoutMs)} of the ACPI power button: powering it off.`,
    );
    await this.powerOff();
  }

  override async kill(): Promise<void> {
    await this.powerOff();
  }

  override async restart(): Promise<void> {
    const state = await this.getState();
    if (state === MachineState.Running || state === MachineState.Paused) await this.stop();
    await this.startVm();
  }

  private startVm() {
    return this.run(['startvm', this.state.VMName, '--type', this.state.UIType]);
  }

  private powerOff() {
    return this.run(['controlvm', this.state.VMName, 'poweroff']);
  }

  async getIP(): Promise<string> {
    return this.state.IPAddress;
  }

  async getURL(): Promise<string> {
    return `tcp://${this.state.IPAddress}:${this.state.EnginePort}`;
  }

  override async getSSHConfig(): Promise<SSHConfig> {
    return {
      host: '127.0.0.1',
      port: this.state.SSHPort,
      user: this.state.SSHUser,
      keyPath: join(this.dir, this.state.SSHKeyPath),
    };
  }

  toJSON(): Record<string, unknown> {
    return { MachineName: this.context.machineName, ...this.state };
  }
}

async function isKind(path: string, kind: 'file' | 'directory'): Promise<boolean> {
  return stat(path).then(
    (info) => (kind === 'file' ? info.isFile() : info.isDirectory()),
    () => false,
  );
}

function positiveInteger(flags: DriverFlagValues, name: string, min: number): number {
  const value = flags[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}; got ${String(value)}.`);
  }
  return value;
}

function text(flags: DriverFlagValues, name: string): string {
  const value = flags[name];
  return typeof value === 'string' ? value.trim() : '';
}

export const factory: DriverFactory = {
  fromFlags(context, flags) {
    const cidr = text(flags, 'virtualbox-hostonly-cidr');
    const network = parseHostOnlyCidr(cidr);
    const ip = text(flags, 'virtualbox-hostonly-ip');
    if (ip && !network.staticPool.includes(ip)) {
      throw new UsageError(
        `--virtualbox-hostonly-ip must be an address for machines in ${cidr}: ${network.staticPool[0]} to ${network.staticPool.at(-1)} (the rest is the host's and DHCP's); got "${ip}".`,
      );
    }
    const checksum = text(flags, 'virtualbox-image-checksum');
    const shares = (flags['virtualbox-share-folder'] as string[] | undefined) ?? [];
    shares.forEach(parseShareFolder);
    const image = text(flags, 'virtualbox-image-url');
    if (!image) throw new UsageError('--virtualbox-image-url must not be empty.');
    const vboxmanage = text(flags, 'virtualbox-vboxmanage');
    return new VirtualBoxDriver(context, {
      VMName: context.machineName,
      VBoxManagePath: vboxmanage,
      Memory: positiveInteger(flags, 'virtualbox-memory', 256),
      CPU: positiveInteger(flags, 'virtualbox-cpu-count', 1),
      DiskSize: positiveInteger(flags, 'virtualbox-disk-size', 1024),
      ImageURL: isUrl(image) ? image : resolvePath(image),
      ImageChecksum: checksum ? normalizeChecksum(checksum, 'virtualbox-image-checksum') : '',
      HostOnlyCIDR: cidr,
      HostOnlyNicType: text(flags, 'virtualbox-hostonly-nictype'),
      HostOnlyPromiscMode: text(flags, 'virtualbox-hostonly-nicpromisc'),
      NatNicType: text(flags, 'virtualbox-nat-nictype'),
      NoDNSProxy: flags['virtualbox-no-dns-proxy'] === true,
      HostDNSResolver: flags['virtualbox-host-dns-resolver'] === true,
      ShareFolders: shares,
      UIType: text(flags, 'virtualbox-ui-type') || 'headless',
      NoVTXCheck: flags['virtualbox-no-vtx-check'] === true,
      SSHUser: SSH_USER,
      SSHKeyPath: KEY_FILE,
      SSHPort: 0,
      IPAddress: ip,
      HostOnlyInterface: '',
      NatMAC: '',
      HostOnlyMAC: '',
      EnginePort: 2376,
    });
  },
  fromRecord(context, state) {
    const str = (key: string, fallback = '') => (typeof state[key] === 'string' ? (state[key] as string) : fallback);
    const num = (key: string, fallback: number) => (typeof state[key] === 'number' ? (state[key] as number) : fallback);
    return new VirtualBoxDriver(context, {
      VMName: str('VMName', context.machineName),
      VBoxManagePath: str('VBoxManagePath'),
      Memory: num('Memory', 2048),
      CPU: num('CPU', 2),
      DiskSize: num('DiskSize', 20000),
      ImageURL: str('ImageURL'),
      ImageChecksum: str('ImageChecksum'),
      HostOnlyCIDR: str('HostOnlyCIDR', '192.168.56.1/24'),
      HostOnlyNicType: str('HostOnlyNicType', '82540EM'),
      HostOnlyPromiscMode: str('HostOnlyPromiscMode', 'deny'),
      NatNicType: str('NatNicType', '82540EM'),
      NoDNSProxy: state['NoDNSProxy'] === true,
      HostDNSResolver: state['HostDNSResolver'] === true,
      ShareFolders: Array.isArray(state['ShareFolders']) ? (state['ShareFolders'] as string[]) : [],
      UIType: str('UIType', 'headless'),
      NoVTXCheck: state['NoVTXCheck'] === true,
      SSHUser: str('SSHUser', SSH_USER),
      SSHKeyPath: str('SSHKeyPath', KEY_FILE),
      SSHPort: num('SSHPort', 0),
      IPAddress: str('IPAddress'),
      HostOnlyInterface: str('HostOnlyInterface'),
      NatMAC: str('NatMAC'),
      HostOnlyMAC: str('HostOnlyMAC'),
      EnginePort: num('EnginePort', 2376),
      ...(state['Boot2Docker'] === true ? { Boot2Docker: true } : {}),
    });
  },
};
