/**
 * The one HTTP request moor makes on a Docker Engine API, whatever carries it: a TLS socket (engine.ts), a
 * tunnel's Unix socket (engine.ts) or an SSH channel (httpOverStream, for the tunnel's route check,
 * provisioning's readiness checks and the swarm calls of ssh-transport machines). A GET, or a POST/DELETE
 * with a JSON body (the swarm API). node:http is imported on first use.
 */
import type { RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';

export interface HttpAnswer {
  status: number;
  body: string;
}

/** What to send: GET by default; a `body` is sent as JSON. */
export interface HttpCall {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
}

/**
 * GET `path` through `connection` (a socketPath, or host and port with a createConnection), or the method
 * and JSON body of `call`. Resolves with the status and the body whatever the status; rejects with the
 * transport's error, or with "no answer within N ms" once `limit.deadline` passes.
 */
export async function httpGet(
  connection: RequestOptions,
  path: string,
  limit?: { deadline: number; timeoutMs: number },
  call: HttpCall = {},
): Promise<HttpAnswer> {
  const { request } = await import('node:http');
  const payload = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body), 'utf8');
  const headers: Record<string, string | number> = { Host: 'docker' };
  if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': payload.length });
  return new Promise((resolve, reject) => {
    const req = request({ ...connection, path, method: call.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 500, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    if (limit) {
      const timer = setTimeout(
        () => req.destroy(new Error(`no answer within ${limit.timeoutMs} ms`)),
        Math.max(1, limit.deadline - Date.now()),
      );
      req.on('close', () => clearTimeout(timer));
    }
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * A GET (or `call`) on the engine's API over a stream (an SSH channel), which it closes; resolves with the
 * body. Plain errors (a status of 400 or more: "/_ping answered 500: ..."): its callers retry or wrap them
 * in words, or read the status from `EngineHttpError`.
 */
export async function httpOverStream(
  stream: Duplex,
  path: string,
  call: HttpCall = {},
  limit?: { deadline: number; timeoutMs: number },
): Promise<string> {
  // http calls these socket methods; an SSH channel does not have them.
  const socketLike = stream as Duplex & { setTimeout?: unknown; setNoDelay?: unknown; setKeepAlive?: unknown };
  socketLike.setTimeout ??= () => stream;
  socketLike.setNoDelay ??= () => stream;
  socketLike.setKeepAlive ??= () => stream;
  let answer: HttpAnswer;
  try {
    answer = await httpGet({ createConnection: () => stream as never }, path, limit, call);
  } finally {
    stream.destroy();
  }
  if (answer.status >= 400) throw new EngineHttpError(path, answer);
  return answer.body;
}

/** An error status from the engine, with the engine's own message (`{"message": ...}`) when it sent one. */
export class EngineHttpError extends Error {
  readonly status: number;
  /** The engine's message, or the body as it came. */
  readonly engineMessage: string;

  constructor(path: string, answer: HttpAnswer) {
    const engineMessage = engineMessageOf(answer.body);
    super(`${path} answered ${answer.status}: ${engineMessage}`);
    this.name = 'EngineHttpError';
    this.status = answer.status;
    this.engineMessage = engineMessage;
  }
}

/** The engine's error bodies are `{"message":"..."}`; anything else is returned trimmed. */
export function engineMessageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  return body.trim();
}
