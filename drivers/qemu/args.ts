/**
 * The qemu-system command line of a machine, as a pure function of its plan (unit-tested exactly for every
 * architecture, accelerator and network), plus the values it is made from: architectures, the UEFI
 * firmware aarch64 needs (where distributions and Homebrew put it), disk sizes.
 */
import { join } from 'node:path';

export type QemuArch = 'x86_64' | 'aarch64';
export type QemuAccel = 'kvm' | 'hvf' | 'tcg';
export const ARCHES: readonly QemuArch[] = ['x86_64', 'aarch64'];

export type QemuNetwork =
  /** User-mode networking: SSH (and for tls the engine port) forwarded from 127.0.0.1. */
  | { kind: 'user'; sshPort: number; enginePort?: number }
  /** A tap on an existing bridge, made by qemu-bridge-helper (QEMU's default helper when none is given). */
  | { kind: 'bridge'; bridge: string; helper?: string }
  /** A tap QEMU opens by name (root); moor puts it on the bridge. */
  | { kind: 'tap'; tap: string };

export interface Firmware {
  /** Read-only UEFI code. */
  code: string;
  /** The machine's own writable copy of the variable store. */
  vars: string;
}

export interface VmPlan {
  name: string;
  arch: QemuArch;
  accel: QemuAccel;
  memoryMb: number;
  cpus: number;
  /** The machine's qcow2 overlay. */
  disk: string;
  /** The NoCloud seed ISO. */
  seed: string;
  mac: string;
  network: QemuNetwork;
  /** Required for aarch64 (UEFI); x86_64 boots with QEMU's SeaBIOS. */
  firmware?: Firmware;
  qmpSocket: string;
  pidFile: string;
  serialLog: string;
}

/** The host's architecture in QEMU's words, from Node's (`process.arch`). */
export function hostArch(nodeArch: string): QemuArch | undefined {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'aarch64';
  return undefined;
}

/** A value inside a QEMU option list: commas are doubled (QEMU's escape). */
function opt(value: string): string {
  return value.replace(/,/g, ',,');
}

export function qemuArgs(plan: VmPlan): string[] {
  const args = ['-name', opt(plan.name), '-nodefaults', '-no-user-config', '-display', 'none'];
  if (plan.arch === 'x86_64') {
    args.push('-machine', `q35,accel=${plan.accel}`, '-cpu', plan.accel === 'tcg' ? 'max' : 'host');
  } else {
    if (!plan.firmware) throw new Error('aarch64 needs UEFI firmware');
    // The interrupt controller: the host's under KVM, the newest TCG emulates; HVF takes QEMU's default.
    const gic = { kvm: ',gic-version=host', tcg: ',gic-version=max', hvf: '' }[plan.accel];
    args.push('-machine', `virt,accel=${plan.accel}${gic}`, '-cpu', plan.accel === 'tcg' ? 'max' : 'host');
  }
  if (plan.firmware) {
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${opt(plan.firmware.code)}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${opt(plan.firmware.vars)}`,
    );
  }
  args.push(
    '-m',
    String(plan.memoryMb),
    '-smp',
    String(plan.cpus),
    '-drive',
    `if=virtio,format=qcow2,discard=unmap,file=${opt(plan.disk)}`,
    '-drive',
    `if=virtio,format=raw,readonly=on,file=${opt(plan.seed)}`,
  );
  if (plan.network.kind === 'user') {
    const forwards = [`hostfwd=tcp:127.0.0.1:${plan.network.sshPort}-:22`];
    if (plan.network.enginePort) forwards.push(`hostfwd=tcp:127.0.0.1:${plan.network.enginePort}-:2376`);
    args.push('-netdev', `user,id=net0,${forwards.join(',')}`);
  } else if (plan.network.kind === 'bridge') {
    const helper = plan.network.helper ? `,helper=${opt(plan.network.helper)}` : '';
    args.push('-netdev', `bridge,id=net0,br=${opt(plan.network.bridge)}${helper}`);
  } else {
    args.push('-netdev', `tap,id=net0,ifname=${opt(plan.network.tap)},script=no,downscript=no`);
  }
  args.push(
    '-device',
    `virtio-net-pci,netdev=net0,mac=${plan.mac}`,
    '-device',
    'virtio-rng-pci',
    // The guest's serial console, appended to a log file (shown when the boot or SSH fails).
    '-chardev',
    `file,id=serial0,path=${opt(plan.serialLog)},append=on`,
    '-serial',
    'chardev:serial0',
    '-qmp',
    `unix:${opt(plan.qmpSocket)},server=on,wait=off`,
    '-pidfile',
    plan.pidFile,
    '-daemonize',
  );
  return args;
}

/**
 * Where distributions and Homebrew put the aarch64 UEFI firmware: [code, variable store template]. Paths
 * relative to the QEMU binary's prefix come first (Homebrew, a QEMU built from source).
 */
export function aarch64FirmwareCandidates(binary: string | undefined): [string, string][] {
  const prefixes = binary ? [join(binary, '..', '..', 'share', 'qemu')] : [];
  prefixes.push('/opt/homebrew/share/qemu', '/usr/local/share/qemu', '/usr/share/qemu');
  return [
    ...prefixes.map((dir): [string, string] => [join(dir, 'edk2-aarch64-code.fd'), join(dir, 'edk2-arm-vars.fd')]),
    ['/usr/share/AAVMF/AAVMF_CODE.fd', '/usr/share/AAVMF/AAVMF_VARS.fd'], // Debian, Ubuntu (qemu-efi-aarch64)
    ['/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw', '/usr/share/edk2/aarch64/vars-template-pflash.raw'], // Fedora
    ['/usr/share/edk2/aarch64/QEMU_CODE.fd', '/usr/share/edk2/aarch64/QEMU_VARS.fd'], // Arch (edk2-aarch64)
  ];
}

/** `--qemu-disk-size`: 20G, 20000M, 1T (binary units), a bare number meaning MB; returns MB. */
export function parseDiskSize(value: string): number | undefined {
  const match = /^(\d+)\s*([MGT]?)i?B?$/i.exec(value.trim());
  if (!match) return undefined;
  const factor = { '': 1, M: 1, G: 1024, T: 1024 * 1024 }[match[2]!.toUpperCase() as '' | 'M' | 'G' | 'T'];
  const mb = Number(match[1]) * factor;
  return Number.isSafeInteger(mb) && mb > 0 ? mb : undefined;
}

/** `--qemu-network`: user, or bridge=NAME. */
export function parseNetwork(value: string): { kind: 'user' } | { kind: 'bridge'; bridge: string } | undefined {
  const text = value.trim();
  if (text === '' || text === 'user') return { kind: 'user' };
  const match = /^bridge=([A-Za-z0-9_.:-]{1,15})$/.exec(text);
  return match ? { kind: 'bridge', bridge: match[1]! } : undefined;
}

/** The default image: Debian 12's genericcloud qcow2 for the architecture (SHA512SUMS next to it). */
export function defaultImageUrl(arch: QemuArch): string {
  const debianArch = arch === 'x86_64' ? 'amd64' : 'arm64';
  return `https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-${debianArch}.qcow2`;
}
