/**
 * How to reach a machine's Docker engine through an SSH connection. The direct way is a channel to the
 * engine's socket (direct-streamlocal). When that fails, one command on the host tells why, and moor picks
 * what works: a rootless engine's socket (/run/user/UID/docker.sock), `docker system dial-stdio` when sshd
 * refuses socket forwarding, `sudo -n docker system dial-stdio` for a sudo user outside the docker group;
 * otherwise an error that says what to change on the host.
 */
import type { Duplex } from 'node:stream';
import { MoorError, messageOf } from '../errors.js';
import { shellQuote, SUDO } from '../ssh/quote.js';
import { httpOverStream } from './http.js';
import type { SSHSession } from '../ssh/types.js';

export const DEFAULT_ENGINE_SOCKET = '/var/run/docker.sock';

export interface EngineAccess {
  /** What is used, for messages: "/var/run/docker.sock", "sudo -n docker system dial-stdio", ... */
  readonly description: string;
  /** A new stream to the engine's API on the connection. */
  open(session: SSHSession): Promise<Duplex>;
}

/** What the host says about its engine (the diagnosis script's key=value lines). */
export interface EngineFacts {
  user: string;
  uid: string;
  socketExists: boolean;
  /** The user may open the socket (read and write). */
  socketAccess: boolean;
  /** A rootless engine's socket in the user's runtime folder, if there is one. */
  rootlessSocket?: string;
  dockerCli: boolean;
  sudo: boolean;
}

export type EngineRoute = { kind: 'socket'; path: string } | { kind: 'exec'; command: string };

/**
 * The engine access for a connection: the socket (`socket`, default /var/run/docker.sock) if a channel to
 * it opens, else the route the host's answers allow (checked with a /_ping through it).
 */
export async function resolveEngineAccess(
  session: SSHSession,
  options: { socket?: string; user: string; where: string },
): Promise<EngineAccess> {
  const socket = options.socket || DEFAULT_ENGINE_SOCKET;
  let forwardError: unknown;
  try {
    (await session.forwardToUnixSocket(socket)).destroy();
    return socketAccess(socket);
  } catch (error) {
    if (error instanceof MoorError && error.code !== 'SSH_FORWARD_FAILED') throw error; // the connection
    forwardError = error;
  }
  const facts = parseFacts((await session.exec(diagnosisScript(socket))).stdout, options.user);
  const route = chooseEngineRoute(facts, {
    socket,
    configured: options.socket !== undefined && options.socket !== '',
    where: options.where,
    forwardError: messageOf(forwardError),
  });
  if (route.kind === 'socket') {
    try {
      (await session.forwardToUnixSocket(route.path)).destroy();
      return socketAccess(route.path);
    } catch (error) {
      if (!facts.dockerCli) throw error;
      return checked(session, execAccess(`DOCKER_HOST=${shellQuote(`unix://${route.path}`)} docker system dial-stdio`));
    }
  }
  return checked(session, execAccess(route.command));
}

function socketAccess(path: string): EngineAccess {
  return { description: path, open: (session) => session.forwardToUnixSocket(path) };
}

function execAccess(command: string): EngineAccess {
  return { description: command, open: (session) => session.execStream(command) };
}

/** Pings the engine through the access once, so that a route that does not work fails now, in words. */
async function checked(session: SSHSession, access: EngineAccess): Promise<EngineAccess> {
  try {
    await httpOverStream(await access.open(session), '/_ping');
    return access;
  } catch (error) {
    throw new MoorError(`The Docker engine did not answer through "${access.description}": ${messageOf(error)}.`, {
      code: 'ENGINE_UNREACHABLE',
      cause: error,
      suggestions: ['Check that the engine runs on the host: moor ssh NAME -- docker version'],
    });
  }
}

/** One command that answers every question the choice needs (POSIX sh, any distribution). */
export function diagnosisScript(socket: string): string {
  const s = shellQuote(socket);
  return [
    'uid=$(id -u); echo "uid=$uid"; echo "user=$(id -un)"',
    `if [ -S ${s} ]; then echo socket=yes; if [ -r ${s} ] && [ -w ${s} ]; then echo access=yes; fi; fi`,
    'r="${XDG_RUNTIME_DIR:-/run/user/$uid}/docker.sock"; if [ -S "$r" ]; then echo "rootless=$r"; fi',
    'if command -v docker >/dev/null 2>&1; then echo cli=yes; fi',
    `if [ "$uid" != 0 ] && ${SUDO} true >/dev/null 2>&1; then echo sudo=yes; fi`,
    'true',
  ].join('\n');
}

export function parseFacts(output: string, user: string): EngineFacts {
  const values = new Map<string, string>();
  for (const line of output.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) values.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  const rootless = values.get('rootless');
  return {
    user: values.get('user') || user,
    uid: values.get('uid') ?? '',
    socketExists: values.get('socket') === 'yes',
    socketAccess: values.get('access') === 'yes',
    ...(rootless ? { rootlessSocket: rootless } : {}),
    dockerCli: values.get('cli') === 'yes',
    sudo: values.get('sudo') === 'yes',
  };
}

/** The way to the engine once a channel to `socket` failed; an error that says what to change otherwise. */
export function chooseEngineRoute(
  facts: EngineFacts,
  context: { socket: string; configured: boolean; where: string; forwardError: string },
): EngineRoute {
  const { socket, where } = context;
  const dialStdio = (sudo: boolean) =>
    `${sudo ? `${SUDO} ` : ''}docker${socket === DEFAULT_ENGINE_SOCKET ? '' : ` -H ${shellQuote(`unix://${socket}`)}`} system dial-stdio`;
  if (facts.socketExists && facts.socketAccess) {
    // The user may open it, so sshd refused the forward (AllowStreamLocalForwarding no, say).
    if (facts.dockerCli) return { kind: 'exec', command: dialStdio(false) };
    throw new MoorError(
      `Cannot reach ${socket} on ${where}: sshd refused to forward it (${context.forwardError}) and there is no docker CLI on the host to relay it.`,
      {
        code: 'ENGINE_SOCKET_FORWARD_REFUSED',
        suggestions: ["Allow socket forwarding in the host's sshd_config: AllowStreamLocalForwarding yes."],
      },
    );
  }
  if (facts.socketExists) {
    if (facts.sudo && facts.dockerCli) return { kind: 'exec', command: dialStdio(true) };
    throw new MoorError(
      `"${facts.user}" may not open ${socket} on ${where}: it is not in the docker group${facts.uid === '0' ? '' : ' and cannot use sudo without a password'}.`,
      {
        code: 'ENGINE_SOCKET_DENIED',
        suggestions: [
          `On the host: sudo usermod -aG docker ${facts.user} (then moor connects again with the new group).`,
          'Or give the user passwordless sudo, or use root as the SSH user.',
        ],
      },
    );
  }
  if (!context.configured && facts.rootlessSocket) return { kind: 'socket', path: facts.rootlessSocket };
  throw new MoorError(
    `No Docker engine socket at ${socket} on ${where}${context.configured ? '' : ` (nor a rootless engine's for "${facts.user}")`}.`,
    {
      code: 'ENGINE_SOCKET_MISSING',
      suggestions: [
        'Check that the engine runs: moor ssh NAME -- systemctl status docker',
        'If it listens on another socket, give its path: --engine-socket PATH (moor create, moor tunnel).',
      ],
    },
  );
}
