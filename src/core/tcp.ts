/**
 * TCP connections with a time limit: the one place moor opens a plain TCP connection (the engine's TLS
 * endpoint) or asks whether a port answers (a driver watching a host, `ls` asking whether a server is up).
 *
 * An IP address is connected to through Node's TCP handle itself (the tcp_wrap binding node:net is built on),
 * and only a handle that connected becomes a net.Socket. A connection that fails (an engine that is down, a
 * server that is off) then costs no node:net, no node:stream and no process.stderr (which node:net's
 * destroy builds): some 4-5 ms of the 30 ms of a `moor env` or `ls` on Node 22, and portAnswers never needs
 * a socket. Where the binding is missing or is not what this code knows (another Node), and for a host name
 * (a DNS lookup), node:net does it all, with the same results and the same error messages.
 */
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { isIP } from './values.js';

/** A connected socket to host:port; rejects with the connect error, or "no answer within N ms". */
export async function connectTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  const connecting = viaHandle(host, port, timeoutMs);
  if (!connecting) return connectWithNet(host, port, timeoutMs);
  const handle = await connecting;
  const { Socket } = await import('node:net');
  // node:net's own way to take over a connected handle (child_process passes sockets so).
  return new Socket({ handle } as ConstructorParameters<typeof Socket>[0]);
}

/** Whether host:port accepts a TCP connection within `timeoutMs` (closed again at once). */
export async function portAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  try {
    const connecting = viaHandle(host, port, timeoutMs);
    if (connecting) (await connecting).close();
    else (await connectWithNet(host, port, timeoutMs)).destroy();
    return true;
  } catch {
    return false;
  }
}

/** The connection through Node's TCP handle, or undefined where node:net must make it (a host name, no binding). */
function viaHandle(host: string, port: number, timeoutMs: number): Promise<TcpHandle> | undefined {
  const family = isIP(host);
  const tcp = family === 0 ? undefined : tcpBinding();
  return tcp && family !== 0 ? connectHandle(tcp, host, family, port, timeoutMs) : undefined;
}

async function connectWithNet(host: string, port: number, timeoutMs: number): Promise<Socket> {
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

interface TcpHandle {
  connect(request: ConnectRequest, address: string, port: number): number;
  connect6(request: ConnectRequest, address: string, port: number): number;
  close(): void;
}
interface ConnectRequest {
  oncomplete?: (status: number) => void;
}
interface TcpBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectRequest;
  constants: { SOCKET: number };
}

let binding: TcpBinding | null | undefined;

/** Node's tcp_wrap binding, or undefined where it is not there as expected (node:net is used then). */
export function tcpBinding(): TcpBinding | undefined {
  if (binding !== undefined) return binding ?? undefined;
  binding = null;
  const legacy = (process as { binding?: (name: string) => unknown }).binding;
  if (typeof legacy !== 'function') return undefined;
  // process.binding() is deprecated in the documentation only; --pending-deprecation would print a warning
  // for it, which is moor's business and not the user's.
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    const candidate = legacy.call(process, 'tcp_wrap') as Partial<TcpBinding> | undefined;
    if (
      typeof candidate?.TCP === 'function' &&
      typeof candidate.TCPConnectWrap === 'function' &&
      typeof candidate.constants?.SOCKET === 'number'
    ) {
      binding = candidate as TcpBinding;
    }
  } catch {
    // not there: node:net
  } finally {
    if (quiet === undefined) delete process.noDeprecation;
    else process.noDeprecation = quiet;
  }
  return binding ?? undefined;
}

/**
 * A TCP handle connected to an IP address; rejects with node:net's error for the same failure ("connect
 * ECONNREFUSED 127.0.0.1:1", with code, errno, syscall, address and port), or "no answer within N ms".
 */
function connectHandle(tcp: TcpBinding, host: string, family: 4 | 6, port: number, timeoutMs: number) {
  return new Promise<TcpHandle>((resolve, reject) => {
    const handle = new tcp.TCP(tcp.constants.SOCKET);
    const request = new tcp.TCPConnectWrap();
    let done = false;
    const fail = (error: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      handle.close();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    request.oncomplete = (status) => {
      if (status < 0) return fail(connectError(status, host, port));
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(handle);
    };
    const status = family === 4 ? handle.connect(request, host, port) : handle.connect6(request, host, port);
    if (status < 0) fail(connectError(status, host, port));
  });
}

function connectError(status: number, address: string, port: number): Error {
  const code = errnoName(status);
  return Object.assign(new Error(`connect ${code} ${address}:${port}`), {
    errno: status,
    code,
    syscall: 'connect',
    address,
    port,
  });
}

/** What a connect fails with, by name: found by their errno on Unix, where a libuv status is a negative errno. */
const CONNECT_ERRORS = [
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'ECONNABORTED',
  'EADDRNOTAVAIL',
  'EACCES',
  'EPERM',
] as const;

/**
 * The name of a libuv error status as node:net gives it ("ECONNREFUSED", or "UNKNOWN" for a status libuv has
 * no name for). A connect's usual failures are looked up in os.constants.errno: util.getSystemErrorName's first
 * call builds libuv's whole error map (0.3-0.5 ms of a refused `env`).
 */
export function errnoName(status: number): string {
  if (process.platform !== 'win32') {
    const found = CONNECT_ERRORS.find((name) => osConstants.errno[name] === -status);
    if (found) return found;
  }
  const name = getSystemErrorName(status);
  return name.startsWith('Unknown system error') ? 'UNKNOWN' : name;
}
