/**
 * The one HTTP GET moor makes on a Docker Engine API, whatever carries it: a TLS socket (engine.ts), a
 * tunnel's Unix socket (engine.ts) or an SSH channel (httpOverStream, for the tunnel's route check and
 * provisioning's readiness checks). node:http is imported on first use.
 */
import type { RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';

export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * GET `path` through `connection` (a socketPath, or host and port with a createConnection). Resolves with
 * the status and the body whatever the status; rejects with the transport's error, or with "no answer
 * within N ms" once `limit.deadline` passes.
 */
export async function httpGet(
  connection: RequestOptions,
  path: string,
  limit?: { deadline: number; timeoutMs: number },
): Promise<HttpAnswer> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ ...connection, path, method: 'GET', headers: { Host: 'docker' } }, (res) => {
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
    req.end();
  });
}

/**
 * A GET on the engine's API over a stream (an SSH channel), which it closes; resolves with the body. Plain
 * errors (a status of 400 or more: "/_ping answered 500: ..."): its callers retry or wrap them in words.
 */
export async function httpOverStream(stream: Duplex, path: string): Promise<string> {
  // http calls these socket methods; an SSH channel does not have them.
  const socketLike = stream as Duplex & { setTimeout?: unknown; setNoDelay?: unknown; setKeepAlive?: unknown };
  socketLike.setTimeout ??= () => stream;
  socketLike.setNoDelay ??= () => stream;
  socketLike.setKeepAlive ??= () => stream;
  let answer: HttpAnswer;
  try {
    answer = await httpGet({ createConnection: () => stream as never }, path);
  } finally {
    stream.destroy();
  }
  if (answer.status >= 400) throw new Error(`${path} answered ${answer.status}: ${answer.body.trim()}`);
  return answer.body;
}
