/**
 * The NoCloud seed for a VM's first boot: an ISO 9660 image labelled "cidata" holding user-data, meta-data
 * and network-config, attached to the VM as a drive. Cloud-init in a cloud image finds it by its label and
 * sets the user, moor's SSH key, the hostname and the network (DHCP or static addresses per NIC). Used by
 * every local VM driver (virtualbox, qemu).
 * Values are written as JSON strings, which YAML reads as they are, so no value can break the document.
 * NICs are matched by MAC address: cloud-init 22.4 (Debian 12) ignores name patterns such as `en*`.
 * The engine's configuration script (the core's DriverContext.firstBootScript) is started once per instance
 * from `bootcmd`, in cloud-init's init stage: before network-online.target, so before the Docker engine's
 * first start (see engineConfigCommand).
 */
import { buildIso } from './iso9660.js';

export interface SeedNic {
  /** The key of the NIC in network-config (a name of moor's choosing, e.g. "nat"). */
  id: string;
  /** MAC in any notation with or without separators (080027AABBCC, 52:54:00:aa:bb:cc). */
  mac: string;
  /** Static address with its prefix length (e.g. 10.0.0.5/24); DHCP when undefined. */
  address?: string;
  gateway?: string;
  nameservers?: string[];
  /** Renames the interface (`set-name`), e.g. "eth0". */
  setName?: string;
}

/** One line of cloud-init's `mounts`: [source, target, type, options, dump, pass]. */
export interface SeedMount {
  source: string;
  target: string;
  type: string;
  options: string;
}

export interface SeedOptions {
  hostname: string;
  /** A new id per create: cloud-init runs its first-boot modules once per instance id. */
  instanceId: string;
  user: string;
  sshPublicKey: string;
  nics: SeedNic[];
  mounts?: SeedMount[];
  /** A shell script that configures the Docker engine at the first boot, as root (see engineConfigCommand). */
  engineConfigScript?: string;
}

/** The systemd unit (and cloud-init-per tag) the engine's configuration script runs as. */
export const ENGINE_CONFIG_UNIT = 'moor-engine-config';

/**
 * The command `bootcmd` runs for the engine's configuration script (through cloud-init-per, once per
 * instance: bootcmd itself runs at every boot). The script travels in base64 and is written to `dir`
 * (/run: a tmpfs, not cleaned at boot as /tmp may be while cloud-init runs). Where systemd runs, it runs as
 * a transient unit ordered before docker.service: the boot goes on meanwhile (cloud-init's init stage holds
 * up SSH, and the script's systemctl daemon-reload takes seconds in an emulated VM), and docker's first
 * start waits for it. The unit has no default dependencies, so it starts at once: those would hold it until
 * basic.target (after cloud-init's init stage), and docker's start with it. Its output is in
 * `journalctl -u moor-engine-config`. Elsewhere (OpenRC), or if systemd-run fails, the script runs at once,
 * its output in /var/log/cloud-init-output.log. The unit's command has no `$` or `%` in it: systemd would
 * expand those.
 */
export function engineConfigCommand(script: string, dir = '/run'): string[] {
  const file = `${dir}/${ENGINE_CONFIG_UNIT}.sh`;
  const encoded = Buffer.from(script).toString('base64');
  const run = `echo ${encoded} | base64 -d >${file} && exec sh ${file} </dev/null`;
  const unit = `--unit=${ENGINE_CONFIG_UNIT} --service-type=oneshot -p DefaultDependencies=no -p Before=docker.service`;
  return [
    'cloud-init-per',
    'instance',
    ENGINE_CONFIG_UNIT,
    'sh',
    '-c',
    `run='${run}'; systemd-run --no-block --quiet ${unit} sh -c "$run" 2>/dev/null || sh -c "$run"`,
  ];
}

const q = (value: string): string => JSON.stringify(value);

/** 080027AABBCC or 08-00-27-AA-BB-CC -> 08:00:27:aa:bb:cc (as netplan and cloud-init want it). */
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
  if (options.mounts?.length) {
    lines.push('mounts:');
    for (const mount of options.mounts) {
      lines.push(`  - [${[mount.source, mount.target, mount.type, mount.options, '0', '0'].map(q).join(', ')}]`);
    }
  }
  if (options.engineConfigScript !== undefined) {
    lines.push('bootcmd:', `  - [${engineConfigCommand(options.engineConfigScript).map(q).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

export function metaData(options: SeedOptions): string {
  return `instance-id: ${q(options.instanceId)}\nlocal-hostname: ${q(options.hostname)}\n`;
}

export function networkConfig(options: SeedOptions): string {
  const lines = ['version: 2', 'ethernets:'];
  for (const nic of options.nics) {
    lines.push(`  ${q(nic.id)}:`, '    match:', `      macaddress: ${q(colonMac(nic.mac))}`);
    if (nic.setName) lines.push(`    set-name: ${q(nic.setName)}`);
    if (nic.address === undefined) {
      lines.push('    dhcp4: true');
      continue;
    }
    lines.push('    dhcp4: false', `    addresses: [${q(nic.address)}]`);
    if (nic.gateway) lines.push(`    gateway4: ${q(nic.gateway)}`);
    if (nic.nameservers?.length) {
      lines.push('    nameservers:', `      addresses: [${nic.nameservers.map(q).join(', ')}]`);
    }
  }
  lines.push('');
  return lines.join('\n');
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
