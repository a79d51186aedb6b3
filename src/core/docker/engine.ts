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

/** The TLS material of a machine folder, read on first need. */
export function engineTLSFrom(certDir: string): () => Promise<EngineTLS> {
  return () => readEngineTLS(certDir);
}

/** GET `path` on a tcp:// engine URL over TLS (or a unix:// socket, plain); resolves with the parsed JSON body or the text. */
export async function engineRequest(
  url: string,
  path: string,
  tls: EngineTLSSource,
  timeoutMs: number,
): Promise<unknown> {
  const target = new URL(url);
  const deadline = Date.now() + timeoutMs;
  if (target.protocol === 'unix:') {
    // A tunnel's socket: plain HTTP, the socket's mode keeps others out.
    return get(url, { socketPath: decodeURIComponent(target.pathname) }, path, deadline, timeoutMs);
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
    // The TLS session runs on the socket connected above; host is what the certificate must name.
    const createConnection = () =>
      connect({ socket, host, secureContext, ...(isIpLiteral(host) ? {} : { servername: host }) });
    return await get(url, { host, port, createConnection }, path, deadline, timeoutMs);
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

/**
 * One GET through `connection` (host and port with a createConnection, or a socketPath) until `deadline`:
 * the JSON body (or its text) for a success, ENGINE_ERROR for an error status, ENGINE_UNREACHABLE otherwise.
 */
async function get(
  url: string,
  connection: import('node:http').RequestOptions,
  path: string,
  deadline: number,
  timeoutMs: number,
): Promise<unknown> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ ...connection, path, method: 'GET', headers: { Host: 'docker' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) {
          reject(
            new MoorError(`The engine at ${url} answered ${res.statusCode}: ${body.trim()}`, { code: 'ENGINE_ERROR' }),
          );
          return;
        }
        try {
          resolve(JSON.parse(body));
        } catch {
          resolve(body);
        }
      });
      res.on('error', reject);
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)),
      Math.max(1, deadline - Date.now()),
    );
    req.on('close', () => clearTimeout(timer));
    req.on('error', (error) => reject(unreachable(url, error)));
    req.end();
  });
}

async function connectTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function isIpLiteral(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}

const secureContexts = new Map<string, Promise<SecureContext>>();

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
