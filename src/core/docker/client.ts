/**
 * One machine's Docker Engine API, whatever carries it: TLS to its tcp:// URL (engine.ts), or, for an
 * ssh-transport machine, one SSH connection whose channels reach the engine's socket (remote.ts), each
 * request on a channel of its own. Both go through the one HTTP request of http.ts; both throw an
 * EngineStatusError (ENGINE_ERROR, with the status and the engine's message) for an error status.
 */
import { MoorError, messageOf } from '../errors.js';
import type { SSHSession, SSHTarget } from '../ssh/types.js';
import { EngineStatusError, engineRequest, type EngineTLSSource } from './engine.js';
import { EngineHttpError, httpOverStream, type HttpCall } from './http.js';
import { resolveEngineAccess, type EngineAccess } from './remote.js';

export interface EngineClient {
  /** The machine's name, for messages. */
  readonly machine: string;
  /** What the engine is reached through, for messages ("tcp://10.0.0.5:2376", "ssh://root@10.0.0.5:22"). */
  readonly endpoint: string;
  /** `path` with `call`'s method and JSON body; resolves with the parsed JSON (or the text) of the answer. */
  request<T = unknown>(path: string, call?: HttpCall, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** A client for an engine reached over TLS (or a unix:// socket). */
export function tlsEngineClient(machine: string, url: string, tls: EngineTLSSource): EngineClient {
  return {
    machine,
    endpoint: url,
    request: async <T>(path: string, call: HttpCall = {}, timeoutMs = DEFAULT_TIMEOUT_MS) =>
      (await engineRequest(url, path, tls, timeoutMs, call)) as T,
    close: async () => undefined,
  };
}

/**
 * A client for an engine reached through SSH: connects now (the SSH layer's errors: TimeoutError,
 * HostKeyChangedError, SSHAuthError) and finds the way to the engine once (remote.ts).
 */
export async function sshEngineClient(
  machine: string,
  target: SSHTarget,
  options: { socket?: string; connectTimeoutMs?: number },
): Promise<EngineClient> {
  const { connect } = await import('../ssh/connect.js');
  const session = await connect(target, { timeoutMs: options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS });
  const endpoint = `ssh://${target.user}@${target.host}:${target.port}`;
  let access: EngineAccess;
  try {
    access = await resolveEngineAccess(session, {
      ...(options.socket ? { socket: options.socket } : {}),
      user: target.user,
      where: `${target.host}:${target.port}`,
    });
  } catch (error) {
    await session.close();
    throw error;
  }
  return new SshEngineClient(machine, endpoint, session, access);
}

class SshEngineClient implements EngineClient {
  constructor(
    readonly machine: string,
    readonly endpoint: string,
    private readonly session: SSHSession,
    private readonly access: EngineAccess,
  ) {}

  async request<T>(path: string, call: HttpCall = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let body: string;
    try {
      const stream = await this.access.open(this.session);
      body = await httpOverStream(stream, path, call, { deadline, timeoutMs });
    } catch (error) {
      if (error instanceof EngineHttpError) {
        const answer = { status: error.status, body: JSON.stringify({ message: error.engineMessage }) };
        throw new EngineStatusError(this.endpoint, answer);
      }
      if (error instanceof MoorError) throw error;
      throw new MoorError(`Cannot reach the Docker engine of "${this.machine}" through SSH: ${messageOf(error)}`, {
        code: 'ENGINE_UNREACHABLE',
        cause: error,
      });
    }
    try {
      return JSON.parse(body) as T;
    } catch {
      return body as T;
    }
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
