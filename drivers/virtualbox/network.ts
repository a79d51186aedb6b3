/**
 * The host-only network of VirtualBox machines. Its arithmetic: VirtualBox 6.1.28+ only lets host-only
 * interfaces use 192.168.56.0/21 (unless /etc/vbox/networks.conf says otherwise), so
 * --virtualbox-hostonly-cidr must lie inside it. The network's usable addresses are split in two: the
 * lower half (less the host's own address) holds the machines' static addresses, the upper half the DHCP
 * server and its range. Its set-up at create: the interface and its DHCP server, and a claim of a static
 * address and an SSH port, under a store-wide lock so that parallel creates never share them.
 */
import { readFile } from 'node:fs/promises';
import { freeLoopbackPort } from '../shared/vm/ports.js';
import { join } from 'node:path';
import { type DriverContext, MoorError, UsageError, writeFileAtomic } from '../api.js';
import type { VBoxManage, VBoxResult } from './vboxmanage.js';

/** Written under the host-only lock, so that parallel creates never hand out the same address or port. */
const CLAIM_FILE = 'virtualbox-claim.json';
const HOSTONLY_LOCK = 'virtualbox-hostonly';

export const ALLOWED_RANGE = '192.168.56.0/21';
const ALLOWED_START = ipToNumber('192.168.56.0');
const ALLOWED_END = ipToNumber('192.168.63.255');

export interface HostOnlyNetwork {
  /** The host's address on the interface (the cidr's address part), e.g. 192.168.56.1. */
  hostIp: string;
  prefix: number;
  netmask: string;
  network: string;
  broadcast: string;
  /** Addresses moor hands out to machines, in order. */
  staticPool: string[];
  dhcp: { serverIp: string; lowerIp: string; upperIp: string };
}

export function ipToNumber(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) return NaN;
  return parts.reduce((sum, part) => sum * 256 + Number(part), 0);
}

export function numberToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** Parses and checks --virtualbox-hostonly-cidr ("192.168.56.1/24"); a UsageError says what is wrong. */
export function parseHostOnlyCidr(cidr: string): HostOnlyNetwork {
  const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr.trim());
  const hostIp = match?.[1] ?? '';
  const prefix = Number(match?.[2]);
  const host = ipToNumber(hostIp);
  const flag = '--virtualbox-hostonly-cidr';
  if (!match || Number.isNaN(host) || prefix > 32) {
    throw new UsageError(`${flag} must look like 192.168.56.1/24; got "${cidr}".`);
  }
  if (prefix < 21 || prefix > 29) {
    throw new UsageError(`${flag} ${cidr}: the prefix must be /21 to /29 (a network inside ${ALLOWED_RANGE}).`);
  }
  const size = 2 ** (32 - prefix);
  const network = Math.floor(host / size) * size;
  const broadcast = network + size - 1;
  if (network < ALLOWED_START || broadcast > ALLOWED_END) {
    throw new UsageError(`${flag} ${cidr} is outside ${ALLOWED_RANGE}, the only range VirtualBox 6.1.28+ allows.`, [
      'Use an address in 192.168.56.0-192.168.63.255, e.g. 192.168.57.1/24.',
      'Or allow more ranges in /etc/vbox/networks.conf (see the VirtualBox manual, "Host-Only Networking").',
    ]);
  }
  if (host === network || host === broadcast) {
    throw new UsageError(
      `${flag} ${cidr}: the address part is the host's own address, e.g. ${numberToIp(network + 1)}/${prefix}.`,
    );
  }
  const usable = size - 2;
  const lowerHalf = Math.floor(usable / 2);
  const staticPool: string[] = [];
  for (let value = network + 1; value <= network + lowerHalf; value++)
    if (value !== host) staticPool.push(numberToIp(value));
  const serverIp = network + lowerHalf + 1;
  return {
    hostIp,
    prefix,
    netmask: numberToIp(2 ** 32 - size),
    network: numberToIp(network),
    broadcast: numberToIp(broadcast),
    staticPool,
    dhcp: { serverIp: numberToIp(serverIp), lowerIp: numberToIp(serverIp + 1), upperIp: numberToIp(broadcast - 1) },
  };
}

/** Whether an address lies inside a network. */
export function inNetwork(ip: string, network: HostOnlyNetwork): boolean {
  const value = ipToNumber(ip);
  return value >= ipToNumber(network.network) && value <= ipToNumber(network.broadcast);
}

/** The first address of the pool that no other machine holds. */
export function pickFreeAddress(network: HostOnlyNetwork, used: Set<string>): string | undefined {
  return network.staticPool.find((ip) => !used.has(ip));
}

/** The part of a VirtualBox machine's state that the host-only set-up fills in. */
export interface HostOnlyState {
  HostOnlyCIDR: string;
  /** Set here: the host-only interface the machine's second NIC uses. */
  HostOnlyInterface: string;
  /** Given (--virtualbox-hostonly-ip, checked here) or picked here. */
  IPAddress: string;
  /** Set here: a free port on 127.0.0.1 for the NAT port-forward to the guest's SSH. */
  SSHPort: number;
}

export interface HostOnlyTools {
  vbox: Pick<VBoxManage, 'hostOnlyInterfaces' | 'dhcpServers'>;
  /** Runs a VBoxManage command that changes something (logged by the driver). */
  run: (args: string[]) => Promise<VBoxResult>;
}

/**
 * Under the store-wide host-only lock: the interface and its DHCP server (made when missing), then this
 * machine's static address and SSH port, recorded in its folder. Fills in `state` as it goes.
 */
export async function setUpHostOnlyNetwork(
  context: DriverContext,
  tools: HostOnlyTools,
  state: HostOnlyState,
  network: HostOnlyNetwork,
): Promise<void> {
  await context.withLock(
    HOSTONLY_LOCK,
    {
      operation: `create ${context.machineName}`,
      subject: 'The VirtualBox host-only network',
      timeoutMs: 300_000,
    },
    async () => {
      state.HostOnlyInterface = await ensureHostOnlyNetwork(tools, state.HostOnlyCIDR, network);
      await claimAddressAndPort(context, state, network);
    },
  );
}

/**
 * The host-only interface whose address is the CIDR's host address (reused), else a new one configured
 * with it; and its DHCP server (the upper half of the network), created when missing. Run under the lock.
 */
async function ensureHostOnlyNetwork(
  { vbox, run }: HostOnlyTools,
  cidr: string,
  network: HostOnlyNetwork,
): Promise<string> {
  const interfaces = await vbox.hostOnlyInterfaces();
  let name = interfaces.find((i) => i['IPAddress'] === network.hostIp && i['NetworkMask'] === network.netmask)?.[
    'Name'
  ];
  if (!name) {
    const clash = interfaces.find((i) => i['IPAddress'] && inNetwork(i['IPAddress'], network));
    if (clash) {
      throw new MoorError(
        `Host-only interface ${clash['Name']} already uses ${clash['IPAddress']}/${clash['NetworkMask']}, which overlaps ${cidr}.`,
        {
          code: 'VIRTUALBOX_HOSTONLY_CLASH',
          suggestions: [
            `Use --virtualbox-hostonly-cidr ${clash['IPAddress']}/${network.prefix} to share it, or a network that does not overlap.`,
          ],
        },
      );
    }
    const created = await run(['hostonlyif', 'create']);
    name = /Interface '([^']+)' was successfully created/.exec(created.stdout + created.stderr)?.[1];
    if (!name) {
      throw new MoorError(`VBoxManage hostonlyif create did not name the interface it made: ${created.stdout.trim()}`, {
        code: 'VIRTUALBOX_HOSTONLY_FAILED',
      });
    }
    await run(['hostonlyif', 'ipconfig', name, '--ip', network.hostIp, '--netmask', network.netmask]);
  }
  const servers = await vbox.dhcpServers();
  if (!servers.some((server) => server['NetworkName'] === `HostInterfaceNetworking-${name}`)) {
    await run([
      'dhcpserver',
      'add',
      `--interface=${name}`,
      `--server-ip=${network.dhcp.serverIp}`,
      `--netmask=${network.netmask}`,
      `--lower-ip=${network.dhcp.lowerIp}`,
      `--upper-ip=${network.dhcp.upperIp}`,
      '--enable',
    ]);
  }
  return name;
}

/** Picks (or checks) the static address and a free SSH port; records both in the machine folder. */
async function claimAddressAndPort(
  context: DriverContext,
  state: HostOnlyState,
  network: HostOnlyNetwork,
): Promise<void> {
  const claims = await otherClaims(context);
  const usedIps = new Set(claims.map((claim) => claim.ip));
  if (state.IPAddress) {
    if (!inNetwork(state.IPAddress, network) || state.IPAddress === network.hostIp) {
      throw new UsageError(
        `--virtualbox-hostonly-ip ${state.IPAddress} is not a free address of ${state.HostOnlyCIDR}.`,
      );
    }
    if (usedIps.has(state.IPAddress)) {
      throw new UsageError(`--virtualbox-hostonly-ip ${state.IPAddress} is used by another moor machine.`);
    }
  } else {
    const ip = pickFreeAddress(network, usedIps);
    if (!ip) {
      throw new MoorError(`No free address left in ${state.HostOnlyCIDR} for another VirtualBox machine.`, {
        code: 'VIRTUALBOX_NO_ADDRESS',
        suggestions: ['Remove a machine, or use a larger network with --virtualbox-hostonly-cidr.'],
      });
    }
    state.IPAddress = ip;
  }
  const usedPorts = new Set(claims.map((claim) => claim.sshPort));
  for (let tries = 0; ; tries++) {
    const port = await freeLoopbackPort();
    if (!usedPorts.has(port) || tries > 20) {
      state.SSHPort = port;
      break;
    }
  }
  await writeFileAtomic(
    join(context.machineDir, CLAIM_FILE),
    JSON.stringify({ ip: state.IPAddress, sshPort: state.SSHPort }),
  );
}

/** Addresses and ports held by the store's other VirtualBox machines (their records or create-time claims). */
async function otherClaims(context: DriverContext): Promise<{ ip: string; sshPort: number }[]> {
  const claims: { ip: string; sshPort: number }[] = [];
  for (const machine of await context.otherMachines()) {
    const states: (Record<string, unknown> | undefined)[] = [];
    try {
      states.push(JSON.parse(await readFile(join(machine.dir, CLAIM_FILE), 'utf8')) as Record<string, unknown>);
    } catch {
      // no claim: created before claims existed, or not a VirtualBox machine
    }
    if (machine.driverName === 'virtualbox') states.push(machine.driverState);
    for (const state of states) {
      const ip = String(state?.['IPAddress'] ?? state?.['ip'] ?? '');
      const sshPort = Number(state?.['SSHPort'] ?? state?.['sshPort'] ?? 0);
      if (ip || sshPort) claims.push({ ip, sshPort });
    }
  }
  return claims;
}
