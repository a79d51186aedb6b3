/**
 * TCP connections with a time limit: the one place moor opens a plain TCP connection (the engine's TLS
 * endpoint) or asks whether a port answers (a driver watching a host reboot). node:net loads on first use.
 */
import type { Socket } from 'node:net';

/** A connected socket to host:port; rejects with the connect error, or "no answer within N ms". */
export async function connectTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
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

/** Whether host:port accepts a TCP connection within `timeoutMs` (closed again at once). */
export async function portAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  try {
    (await connectTcp(host, port, timeoutMs)).destroy();
    return true;
  } catch {
    return false;
  }
}
