/** SSH failures as MoorErrors, and which connection errors are worth another try. */
import { MoorError } from '../errors.js';
import type { SSHTarget } from './types.js';

export class HostKeyChangedError extends MoorError {
  constructor(target: SSHTarget, expected: string, seen: string) {
    const who = target.machineName ? `machine "${target.machineName}" (${address(target)})` : address(target);
    const repin = target.machineName
      ? `moor provision --repin-host-key ${target.machineName}`
      : 'moor provision --repin-host-key NAME';
    super(
      `The SSH host key of ${who} has changed: expected ${expected}, the server presented ${seen}. ` +
        'This happens when the host was reinstalled or replaced, and also when someone intercepts the connection.',
      {
        code: 'HOST_KEY_CHANGED',
        suggestions: [
          'If you know why the key changed (the host was rebuilt), accept the new key with ' + `"${repin}".`,
          'Otherwise, do not connect: check the host and the network first.',
        ],
      },
    );
    this.name = 'HostKeyChangedError';
  }
}

export class SSHAuthError extends MoorError {
  constructor(target: SSHTarget, detail: string, cause?: unknown) {
    // The user's own key file when moor uses a copy of it: that is the one they know and can fix.
    const given = target.keySource || target.privateKeyPath;
    const key = !target.privateKeyPath
      ? 'the keys of the SSH agent'
      : target.keySource
        ? `key ${target.keySource} (moor's copy: ${target.privateKeyPath})`
        : `key ${target.privateKeyPath}`;
    const publicKey = given ? `the public key of ${given}` : "one of the agent's keys (ssh-add -L)";
    const byHand = given ? `ssh -i ${given}` : 'ssh';
    super(`${address(target)} refused to log in user "${target.user}" with ${key} (${detail}).`, {
      code: 'SSH_AUTH_FAILED',
      cause,
      suggestions: [
        `Check that the user name "${target.user}" is right for this host.`,
        `Check that ${publicKey} is in ~${target.user}/.ssh/authorized_keys on the host.`,
        `Try it by hand: ${byHand} -p ${target.port} ${target.user}@${target.host}`,
      ],
    });
    this.name = 'SSHAuthError';
  }
}

/** 'host:port' (IPv6 in brackets), as messages name an SSH server. */
export function address(target: Pick<SSHTarget, 'host' | 'port'>): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${host}:${target.port}`;
}

/** Socket errors that a host still booting (or sshd still starting) produces; another try may succeed. */
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

export interface Ssh2Error extends Error {
  level?: string;
  code?: string | number;
}

/**
 * Whether a failed connection attempt is worth retrying: refused, unreachable, reset, timed out, or
 * dropped before or during the handshake (sshd starting up, MaxStartups). Not authentication failures,
 * host key mismatches or algorithm negotiation failures: those fail the same way every time.
 */
export function isTransient(error: Ssh2Error): boolean {
  if (error instanceof MoorError) return false;
  if (typeof error.code === 'string' && TRANSIENT_SOCKET_CODES.has(error.code)) return true;
  if (error.level === 'client-timeout') return true;
  if (error.level === 'client-authentication') return false;
  return /connection lost before handshake|connection reset|socket hang up|timed out while waiting for handshake|banner/i.test(
    error.message,
  );
}

/** A connection error in words that name host:port ("connection refused by 10.0.0.5:22"). */
export function describeConnectError(error: Ssh2Error, target: SSHTarget): string {
  const where = address(target);
  switch (error.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${where}`;
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return `${where} is unreachable (no route to host)`;
    case 'ENETUNREACH':
    case 'ENETDOWN':
      return `${where} is unreachable (network unreachable)`;
    case 'ETIMEDOUT':
      return `connecting to ${where} timed out`;
    case 'ECONNRESET':
      return `connection to ${where} was reset`;
    case 'ENOTFOUND':
      return `host name ${target.host} does not resolve`;
    case 'EAI_AGAIN':
      return `host name ${target.host} could not be resolved (temporary DNS failure)`;
  }
  if (error.level === 'client-timeout') return `no SSH handshake from ${where} in time`;
  if (/connection lost before handshake/i.test(error.message))
    return `${where} closed the connection before the SSH handshake`;
  return `${where}: ${error.message}`;
}
