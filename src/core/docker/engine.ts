/**
 * Talking to a Docker Engine API over TCP+TLS with the machine's client certificate.
 * Only what moor needs here: ping and version, with a hard deadline.
 *
 * The TCP connection is opened first and TLS is set up on it only once the port answers: an engine that
 * is down (the common case for `env` right after a boot, or `ls` over stopped hosts) costs one refused
 * connect, not a certificate read and an OpenSSL context.
 */
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import { MoorError, messageOf } from '../errors.js';
import { connectTcp } from '../tcp.js';
import { engineMessageOf, httpGet, type HttpAnswer, type HttpCall } from './http.js';

export interface EngineTLS {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

/** The TLS material, or how to get it (read only when the engine's port answers). */
export type EngineTLSSource = EngineTLS | (() => Promise<EngineTLS>);

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
}

/** Reads ca.pem, cert.pem and key.pem from a folder (a machine's DOCKER_CERT_PATH). */
export async function readEngineTLS(certDir: string): Promise<EngineTLS> {
  const [ca, cert, key] = await Promise.all(
    ['ca.pem', 'cert.pem', 'key.pem'].map((file) => readFile(join(certDir, file))),
  );
  return { ca: ca!, cert: cert!, key: key! };
}

/** The TLS material of a machine folder, read on first need (once: a client's later requests reuse it). */
export function engineTLSFrom(certDir: string): () => Promise<EngineTLS> {
  let read: Promise<EngineTLS> | undefined;
  return () => (read ??= readEngineTLS(certDir));
}

/**
 * GET `path` (or `call`'s method and JSON body) on a tcp:// engine URL over TLS (or a unix:// socket,
 * plain); resolves with the parsed JSON body or the text. An error status throws EngineStatusError.
 */
export async function engineRequest(
  url: string,
  path: string,
  tls: EngineTLSSource,
  timeoutMs: number,
  call: HttpCall = {},
): Promise<unknown> {
  const target = new URL(url);
  const deadline = Date.now() + timeoutMs;
  if (target.protocol === 'unix:') {
    // A tunnel's socket: plain HTTP, the socket's mode keeps others out.
    return get(url, { socketPath: decodeURIComponent(target.pathname) }, path, deadline, timeoutMs, call);
  }
  if (target.protocol !== 'tcp:' && target.protocol !== 'https:') {
    throw new MoorError(`Cannot reach ${url} over TLS: only tcp:// endpoints are supported here.`, {
      code: 'ENGINE_UNREACHABLE',
    });
  }
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.port || 2376);

  let socket: Socket;
  try {
    socket = await connectTcp(host, port, timeoutMs);
  } catch (error) {
    throw unreachable(url, error);
  }
  try {
    const [{ connect }, secureContext] = await Promise.all([
      import('node:tls'),
      secureContextFor(typeof tls === 'function' ? await tls() : tls),
    ]);
    // The TLS session runs on the socket connected above; host is what the certificate must name. A later
    // request to the same engine resumes the session of an earlier one (no certificate to send, parse and
    // verify again: a swarm join makes three requests to each machine).
    const sessions = sessionsOf(secureContext);
    const endpoint = `${host}:${port}`;
    const createConnection = () => {
      const session = sessions.get(endpoint);
      const tlsSocket = connect({
        socket,
        host,
        secureContext,
        ...(session ? { session } : {}),
        ...(isIpLiteral(host) ? {} : { servername: host }),
      });
      tlsSocket.on('session', (ticket: Buffer) => sessions.set(endpoint, ticket));
      return tlsSocket;
    };
    return await get(url, { host, port, createConnection }, path, deadline, timeoutMs, call);
  } finally {
    socket.destroy();
  }
}

function unreachable(url: string, error: unknown): MoorError {
  return new MoorError(`Cannot reach the Docker engine at ${url}: ${messageOf(error)}`, {
    code: 'ENGINE_UNREACHABLE',
    cause: error,
  });
}

/** The engine answered with an error status (ENGINE_ERROR); `engineMessage` is its own message. */
export class EngineStatusError extends MoorError {
  readonly status: number;
  readonly engineMessage: string;

  constructor(url: string, answer: HttpAnswer) {
    super(`The engine at ${url} answered ${answer.status}: ${answer.body.trim()}`, { code: 'ENGINE_ERROR' });
    this.status = answer.status;
    this.engineMessage = engineMessageOf(answer.body);
  }
}

/**
 * One request through `connection` (host and port with a createConnection, or a socketPath) until
 * `deadline`: the JSON body (or its text) for a success, EngineStatusError for an error status,
 * ENGINE_UNREACHABLE otherwise.
 */
async function get(
  url: string,
  connection: import('node:http').RequestOptions,
  path: string,
  deadline: number,
  timeoutMs: number,
  call: HttpCall,
): Promise<unknown> {
  let answer: HttpAnswer;
  try {
    answer = await httpGet(connection, path, { deadline, timeoutMs }, call);
  } catch (error) {
    throw unreachable(url, error);
  }
  if (answer.status >= 400) throw new EngineStatusError(url, answer);
  try {
    return JSON.parse(answer.body);
  } catch {
    return answer.body;
  }
}

function isIpLiteral(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}

const secureContexts = new Map<string, Promise<SecureContext>>();
/** TLS sessions to resume, per client identity (secure context) and engine (host:port); this process only. */
const tlsSessions = new WeakMap<SecureContext, Map<string, Buffer>>();

function sessionsOf(context: SecureContext): Map<string, Buffer> {
  let sessions = tlsSessions.get(context);
  if (!sessions) {
    sessions = new Map();
    tlsSessions.set(context, sessions);
  }
  return sessions;
}

/**
 * Machines of one store share the CA and client certificate, so `ls` over many machines builds one TLS
 * context (parsing the keys once) instead of one per machine.
 */
function secureContextFor(tls: EngineTLS): Promise<SecureContext> {
  const key = `${tls.ca.toString()}\0${tls.cert.toString()}\0${tls.key.toString()}`;
  let context = secureContexts.get(key);
  if (!context) {
    context = import('node:tls').then(({ createSecureContext }) => createSecureContext(tls));
    secureContexts.set(key, context);
  }
  return context;
}

export async function engineVersion(url: string, tls: EngineTLSSource, timeoutMs: number): Promise<EngineVersion> {
  const body = await engineRequest(url, '/version', tls, timeoutMs);
  if (typeof body !== 'object' || body === null || typeof (body as EngineVersion).Version !== 'string') {
    throw new MoorError(`The endpoint ${url} did not answer like a Docker engine.`, { code: 'ENGINE_ERROR' });
  }
  return body as EngineVersion;
}
