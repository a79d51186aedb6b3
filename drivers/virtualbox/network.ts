/**
 * Host-only network arithmetic: VirtualBox 6.1.28+ only lets host-only interfaces use 192.168.56.0/21
 * (unless /etc/vbox/networks.conf says otherwise), so --virtualbox-hostonly-cidr must lie inside it.
 * The network's usable addresses are split in two: the lower half (less the host's own address) holds
 * the machines' static addresses, the upper half the DHCP server and its range.
 */
import { UsageError } from '../api.js';

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
