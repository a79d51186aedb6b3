import type { DriverDefinition, DriverFlag, DriverFlagValues } from '../api.js';

/** `--qemu-NAME`, read from MOOR_QEMU_NAME when not given. */
function flag(name: string, rest: Omit<DriverFlag, 'name' | 'env'>): DriverFlag {
  return { name: `qemu-${name}`, env: [`MOOR_QEMU_${name.toUpperCase().replace(/-/g, '_')}`], ...rest };
}

/** The network flag's value: `user`, or `bridge=NAME`. */
export function isUserNetwork(value: unknown): boolean {
  return typeof value !== 'string' || value.trim() === '' || value.trim() === 'user';
}

export const qemuDriver: DriverDefinition = {
  name: 'qemu',
  description:
    "A local QEMU VM (KVM on Linux, HVF on macOS, else TCG) booted from a cloud image with cloud-init: moor's default driver.",
  flags: [
    flag('binary', {
      type: 'string',
      description: 'Path of qemu-system-<arch> (default: qemu-system-<arch> from PATH)',
    }),
    flag('accel', {
      type: 'string',
      description:
        'Accelerator: auto (hvf on macOS, kvm where /dev/kvm works, else tcg, which is slow), kvm, hvf or tcg',
      default: 'auto',
      options: ['auto', 'kvm', 'hvf', 'tcg'],
    }),
    flag('arch', {
      type: 'string',
      description: "Guest architecture (default: the host's)",
      options: ['x86_64', 'aarch64'],
    }),
    flag('image-url', {
      type: 'string',
      description:
        'Cloud image (qcow2 or raw) to boot: http(s) URL, downloaded once into the cache, or a local path (default: Debian 12 genericcloud for the architecture)',
    }),
    flag('image-checksum', {
      type: 'string',
      description: 'SHA-256 or SHA-512 of the image (default: from SHA512SUMS or SHA256SUMS next to the URL)',
    }),
    flag('disk-size', {
      type: 'string',
      description: 'Disk size with a unit (20G, 20000M; a bare number is MB)',
      default: '20G',
    }),
    flag('memory', { type: 'integer', description: 'Memory of the VM in MB', default: 2048 }),
    flag('cpu-count', { type: 'integer', description: 'Number of CPUs', default: 2 }),
    flag('network', {
      type: 'string',
      description:
        'user (no root: SSH forwarded from a free 127.0.0.1 port; the engine transport defaults to ssh) or bridge=NAME (Linux: a tap on an existing bridge, made by moor as root, else by qemu-bridge-helper; with --qemu-ip)',
      default: 'user',
    }),
    flag('ip', {
      type: 'string',
      description: 'Static address ADDRESS/PREFIX of the VM on the bridge network (bridge only)',
    }),
    flag('gateway', {
      type: 'string',
      description: 'Default gateway of the VM on the bridge network (bridge only)',
    }),
    flag('share-folder', {
      type: 'strings',
      description:
        'Share a host folder with the VM, HOST:GUEST or HOST alone for the same path in the VM (repeatable; the env variable takes several separated by commas): mounted by reverse SSHFS, so that docker run -v GUEST:... sees the host files',
    }),
    flag('stop-timeout', {
      type: 'integer',
      description: 'Seconds stop waits for the ACPI shutdown before it quits QEMU',
      default: 60,
    }),
  ],
  defaultTransport: (flags: DriverFlagValues) => (isUserNetwork(flags['qemu-network']) ? 'ssh' : 'tls'),
  load: async () => (await import('./driver.js')).factory,
};
