/**
 * Talking to a Docker Engine API over TCP+TLS with the machine's client certificate.
 * Only what moor needs here: ping and version, with a hard deadline.
 */
import { readFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import type { SecureContext } from 'node:tls';
import { join } from 'node:path';
import { MoorError, messageOf } from '../errors.js';

export interface EngineTLS {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

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

/** GET `path` on a tcp:// engine URL over TLS; resolves with the parsed JSON body or the text. */
export async function engineRequest(url: string, path: string, tls: EngineTLS, timeoutMs: number): Promise<unknown> {
  const target = new URL(url);
  if (target.protocol !== 'tcp:' && target.protocol !== 'https:') {
    throw new MoorError(`Cannot reach ${url} over TLS: only tcp:// endpoints are supported here.`, {
      code: 'ENGINE_UNREACHABLE',
    });
  }
  const [{ request }, secureContext] = await Promise.all([import('node:https'), secureContextFor(tls)]);
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  // https passes secureContext on to tls.connect; its RequestOptions type does not list it.
  const options: RequestOptions & { secureContext: SecureContext } = {
    host,
    port: Number(target.port || 2376),
    path,
    method: 'GET',
    secureContext,
    agent: false,
    timeout: timeoutMs,
    headers: { Host: 'docker' },
  };
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) {
          reject(
            new MoorError(`The engine at ${url} answered ${res.statusCode}: ${body.trim()}`, {
              code: 'ENGINE_ERROR',
            }),
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
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) =>
      reject(
        new MoorError(`Cannot reach the Docker engine at ${url}: ${messageOf(error)}`, {
          code: 'ENGINE_UNREACHABLE',
          cause: error,
        }),
      ),
    );
    req.end();
  });
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

export async function engineVersion(url: string, tls: EngineTLS, timeoutMs: number): Promise<EngineVersion> {
  const body = await engineRequest(url, '/version', tls, timeoutMs);
  if (typeof body !== 'object' || body === null || typeof (body as EngineVersion).Version !== 'string') {
    throw new MoorError(`The endpoint ${url} did not answer like a Docker engine.`, { code: 'ENGINE_ERROR' });
  }
  return body as EngineVersion;
}
