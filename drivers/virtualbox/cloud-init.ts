/**
 * The NoCloud seed for a machine's first boot: an ISO 9660 image labelled "cidata" holding user-data,
 * meta-data and network-config, attached as the VM's DVD drive. Cloud-init in the Ubuntu cloud image
 * finds it by its label and sets the user, moor's SSH key, the hostname and the static host-only address.
 * Values are written as JSON strings, which YAML reads as they are, so no value can break the document.
 */
import { buildIso } from './iso9660.js';

export interface SeedOptions {
  hostname: string;
  /** A new id per create: cloud-init runs its first-boot modules once per instance id. */
  instanceId: string;
  user: string;
  sshPublicKey: string;
  /** MAC of NIC1 (NAT, DHCP from VirtualBox) and NIC2 (host-only, static address). */
  natMac: string;
  hostOnlyMac: string;
  /** Static address on the host-only NIC, with its prefix length. */
  address: string;
  prefix: number;
  /** Shared folders to mount (the vboxsf module must be in the guest's kernel). */
  shares?: { name: string; guestPath: string }[];
}

const q = (value: string): string => JSON.stringify(value);

/** VirtualBox prints MACs as 080027AABBCC; netplan wants 08:00:27:aa:bb:cc. */
export function colonMac(mac: string): string {
  return mac
    .toLowerCase()
    .match(/[0-9a-f]{2}/g)!
    .join(':');
}

export function userData(options: SeedOptions): string {
  const lines = [
    '#cloud-config',
    `hostname: ${q(options.hostname)}`,
    'preserve_hostname: false',
    'manage_etc_hosts: true',
    'ssh_pwauth: false',
    'users:',
    `  - name: ${q(options.user)}`,
    '    shell: "/bin/bash"',
    '    sudo: "ALL=(ALL) NOPASSWD:ALL"',
    '    lock_passwd: true',
    '    ssh_authorized_keys:',
    `      - ${q(options.sshPublicKey.trim())}`,
  ];
  if (options.shares?.length) {
    lines.push('mounts:');
    for (const share of options.shares) {
      lines.push(
        `  - [${q(share.name)}, ${q(share.guestPath)}, "vboxsf", "defaults,nofail,uid=1000,gid=1000", "0", "0"]`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export function metaData(options: SeedOptions): string {
  return `instance-id: ${q(options.instanceId)}\nlocal-hostname: ${q(options.hostname)}\n`;
}

export function networkConfig(options: SeedOptions): string {
  return [
    'version: 2',
    'ethernets:',
    '  nat:',
    '    match:',
    `      macaddress: ${q(colonMac(options.natMac))}`,
    '    dhcp4: true',
    '  hostonly:',
    '    match:',
    `      macaddress: ${q(colonMac(options.hostOnlyMac))}`,
    '    dhcp4: false',
    `    addresses: [${q(`${options.address}/${options.prefix}`)}]`,
    '',
  ].join('\n');
}

export function buildSeedIso(options: SeedOptions): Buffer {
  return buildIso({
    volumeId: 'cidata',
    files: [
      { name: 'user-data', data: userData(options) },
      { name: 'meta-data', data: metaData(options) },
      { name: 'network-config', data: networkConfig(options) },
    ],
  });
}
