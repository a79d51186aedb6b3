/** Opening an SSH connection: waiting for the host to answer, host key checks, authentication. */
import type { Client, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import { MoorError, TimeoutError } from '../errors.js';
import { silentLogger } from '../log.js';
import { formatDuration, notYet, waitFor } from '../wait.js';
import {
  address,
  describeConnectError,
  HostKeyChangedError,
  isTransient,
  SSHAuthError,
  type Ssh2Error,
} from './errors.js';
import { fingerprint, type HostKeyPin, parseHostKeyPin, pinMatches, publicKeyLine, readPrivateKey } from './keys.js';
import { loadSsh2 } from './load.js';
import { Ssh2Session } from './session.js';
import type { ConnectOptions, SSHSession, SSHTarget } from './types.js';

const DEFAULT_TIMEOUT_MS = 300_000;
const DEFAULT_MAX_CHANNELS = 8;
const DEFAULT_KEEPALIVE_MS = 15_000;
/** Unanswered keepalives before the connection counts as dropped. */
const KEEPALIVE_COUNT_MAX = 4;
/** One attempt's limit for TCP connect + handshake + authentication (a silently dropped SYN waits this long). */
const ATTEMPT_TIMEOUT_MAX_MS = 30_000;
const ATTEMPT_TIMEOUT_MIN_MS = 1_000;

/** Host key algorithms in ssh2's order of preference, without the SHA-1 "ssh-dss". */
const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * Connects to `target`, waiting until SSH answers: refused, unreachable, reset and timed-out attempts
 * are retried (waitFor: backoff with jitter, 250 ms doubling up to 5 s) until `timeoutMs`, then a
 * TimeoutError carries the last error. Host key mismatches and authentication failures fail at once.
 */
export async function connect(target: SSHTarget, options: ConnectOptions = {}): Promise<SSHSession> {
  const log = options.log ?? silentLogger;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const where = address(target);
  if (!target.privateKeyPath && !target.agent) {
    throw new MoorError(`No SSH key for ${where}: give a private key, or run an SSH agent (SSH_AUTH_SOCK).`, {
      code: 'SSH_KEY_MISSING',
    });
  }
  const privateKey = target.privateKeyPath ? await readPrivateKey(target.privateKeyPath, target.keySource) : undefined;
  const pin = target.hostKey === undefined ? undefined : parseHostKeyPin(target.hostKey);
  const ssh2 = await loadSsh2();
  const deadline = Date.now() + timeoutMs;
  log.step(`Waiting for SSH on ${where} (${target.user})...`);
  /** Since when every attempt was refused (reset by any other outcome), for target.refusedGraceMs. */
  let refusedSince: number | undefined;
  let lastShown = '';
  const openSession = (client: Client, hostKey: string) =>
    new Ssh2Session(client, hostKey, target, { maxChannels: options.maxChannels ?? DEFAULT_MAX_CHANNELS, log });
  return waitFor(
    async (attempt) => {
      const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: target.user,
        ...(privateKey ? { privateKey } : { agent: target.agent! }),
        readyTimeout: Math.min(ATTEMPT_TIMEOUT_MAX_MS, Math.max(ATTEMPT_TIMEOUT_MIN_MS, deadline - Date.now())),
        keepaliveInterval: options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
        ...(pin?.kind === 'key' ? { algorithms: { serverHostKey: preferring(pin.type) } } : {}),
      };
      try {
        const session = await attemptOnce(new ssh2.Client(), config, target, pin, options.signal, openSession);
        if (attempt > 1) log.debug(`SSH on ${where} answered after ${attempt} attempts`);
        return session;
      } catch (error) {
        if (error instanceof MoorError) throw error;
        const cause = error as Ssh2Error;
        if (!isTransient(cause)) throw classify(cause, target);
        if (cause.code === 'ECONNREFUSED' && target.refusedGraceMs !== undefined) {
          refusedSince ??= Date.now();
          if (Date.now() - refusedSince >= target.refusedGraceMs) throw new PortRefusedError(target, cause);
        } else {
          refusedSince = undefined;
        }
        return notYet(cause);
      }
    },
    {
      what: `SSH on ${where}`,
      timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      abortError: (signal) => abortError(signal, target),
      onRetry: ({ attempt, delayMs, reason }) => {
        const description = describeConnectError(reason as Ssh2Error, target);
        // Progress shows the last error while waiting, once per change (not once per attempt).
        if (description !== lastShown) {
          lastShown = description;
          log.info(`Still waiting for SSH on ${where}: ${description}`);
        }
        log.debug(`SSH not ready (${description}); attempt ${attempt}, next in ${delayMs} ms`);
      },
      onTimeout: ({ reason }) => {
        const timeout = new TimeoutError(
          `Timed out after ${formatDuration(timeoutMs)} waiting for SSH on ${where} (user ${target.user}): ` +
            `${describeConnectError(reason as Ssh2Error, target)}.`,
          [
            'Check that the host is running and that sshd listens on that address and port.',
            `Check that port ${target.port} is open from this machine (firewall, security group).`,
          ],
        );
        timeout.cause = reason;
        throw timeout;
      },
    },
  );
}

/**
 * One connection attempt; once authenticated, resolves with the session that `open` makes of the client
 * and the host key the server showed. `open` runs at once in the 'ready' handler, so that the session's
 * own listeners are in place before the client can emit anything else.
 */
function attemptOnce(
  client: Client,
  config: ConnectConfig,
  target: SSHTarget,
  pin: HostKeyPin | undefined,
  signal: AbortSignal | undefined,
  open: (client: Client, hostKey: string) => SSHSession,
): Promise<SSHSession> {
  return new Promise((resolve, reject) => {
    let seen: Buffer | undefined;
    let mismatch = false;
    let settled = false;
    const settle = (error: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      client.removeListener('ready', onReady);
      client.removeListener('close', onClose);
      if (error === undefined) {
        const session = open(client, publicKeyLine(seen ?? Buffer.alloc(0)));
        client.removeListener('error', onError);
        resolve(session);
        return;
      }
      // Keep an error listener: the dying client may still emit, and an unheard 'error' would crash.
      client.destroy();
      reject(error);
    };
    const onReady = () => {
      // Small request/response exchanges (the Docker API through forwarded channels) must not wait for
      // Nagle's algorithm and the peer's delayed ACK: that costs ~40 ms per request.
      client.setNoDelay(true);
      settle(undefined);
    };
    const onError = (error: Ssh2Error) => {
      if (mismatch && pin && seen) {
        const expected = pin.kind === 'key' ? fingerprint(pin.blob) : pin.fingerprint;
        settle(new HostKeyChangedError(target, expected, fingerprint(seen)));
      } else {
        settle(error);
      }
    };
    const onClose = () => {
      const error: Ssh2Error = new Error('Connection lost before handshake');
      error.level = 'client-socket';
      settle(error);
    };
    const onAbort = () => settle(abortError(signal, target));
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    client.connect({
      ...config,
      hostVerifier: (key: Buffer) => {
        seen = Buffer.from(key);
        mismatch = pin !== undefined && !pinMatches(pin, key);
        return !mismatch;
      },
    });
  });
}

/** A host that exists kept refusing connections on its SSH port past its grace period: a final answer. */
class PortRefusedError extends MoorError {
  constructor(target: SSHTarget, cause: Ssh2Error) {
    const grace = target.refusedGraceMs ?? 0;
    super(
      `${address(target)} refused the SSH connection${grace > 0 ? ` for ${formatDuration(grace)}` : ''}: ` +
        `the host answers, but nothing accepts connections on port ${target.port}.`,
      {
        code: 'SSH_PORT_REFUSED',
        cause,
        suggestions: [
          `Check that sshd is running on ${target.host} (systemctl status ssh, or sshd).`,
          `Check that ${target.port} is the SSH port of the host (sshd's Port setting; for generic, --generic-ssh-port).`,
        ],
      },
    );
    this.name = 'PortRefusedError';
  }
}

/** A failure that another attempt would not fix, as the MoorError that says what to do. */
function classify(error: Ssh2Error, target: SSHTarget): MoorError {
  const where = address(target);
  if (error.level === 'client-authentication') {
    return new SSHAuthError(target, 'public key authentication failed', error);
  }
  if (error.code === 'ENOTFOUND') {
    return new MoorError(`Cannot connect to ${where}: ${describeConnectError(error, target)}.`, {
      code: 'SSH_UNREACHABLE',
      cause: error,
      suggestions: ['Check the host name or use the IP address.'],
    });
  }
  if (error.level === 'handshake' || error.level === 'protocol') {
    return new MoorError(`The SSH handshake with ${where} failed: ${error.message}.`, {
      code: 'SSH_HANDSHAKE_FAILED',
      cause: error,
      suggestions: [
        'Check that the port is an SSH server, and that it supports current algorithms (ed25519, ECDSA or RSA-SHA2).',
      ],
    });
  }
  return new MoorError(`Cannot connect to ${where} over SSH: ${describeConnectError(error, target)}.`, {
    code: 'SSH_CONNECT_FAILED',
    cause: error,
  });
}

/** The pinned key's algorithms first, so that a server with several host keys shows the pinned one. */
function preferring(type: string): ServerHostKeyAlgorithm[] {
  const first = type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
  const known = HOST_KEY_ALGORITHMS.filter((algorithm) => first.includes(algorithm));
  return [...known, ...HOST_KEY_ALGORITHMS.filter((algorithm) => !known.includes(algorithm))];
}

function abortError(signal: AbortSignal | undefined, target: SSHTarget): MoorError {
  // An interrupt stays an interrupt (exit 130), whatever it cut short.
  if (signal?.reason instanceof MoorError) return signal.reason;
  return new MoorError(`Cancelled while connecting over SSH to ${address(target)}.`, {
    code: 'ABORTED',
    cause: signal?.reason,
  });
}
