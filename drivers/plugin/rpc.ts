/**
 * A Go net/rpc client over the HTTP CONNECT transport, as Docker Machine talks to its driver plugins:
 * `CONNECT /_goRPC_ HTTP/1.0`, then gob both ways on one connection (one encoder and one decoder, so each
 * type is defined once per direction). Calls run concurrently and are matched by sequence number; every
 * call has a deadline, so a hung plugin cannot hang moor; when the connection drops, every pending call
 * is rejected. Loopback only: plugins listen on 127.0.0.1.
 */
import { connect as netConnect, type Socket } from 'node:net';
import * as gob from './gob/index.js';

/** Why an RPC failed: `remote` (the plugin returned an error), `timeout`, `connection`, `protocol`. */
export type RpcErrorCode = 'remote' | 'timeout' | 'connection' | 'protocol';

export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly code: RpcErrorCode,
    message: string,
    readonly serviceMethod?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RpcClientOptions {
  /** Only loopback addresses are accepted. Default 127.0.0.1. */
  readonly host?: string;
  readonly port: number;
  /** Deadline for the TCP connection and the CONNECT answer. Default 10 s (Docker Machine's wait). */
  readonly connectTimeoutMs?: number;
  /** Default deadline of each call. Default 2 minutes. */
  readonly callTimeoutMs?: number;
  /** Limits for the reply stream. */
  readonly decoder?: gob.DecoderOptions;
}

export interface CallOptions {
  readonly timeoutMs?: number;
}

/** Go's net/rpc headers (rpc.Request and rpc.Response; their unexported `next` field is not sent). */
export const RequestHeader = gob.struct('rpc.Request', [
  ['ServiceMethod', gob.string],
  ['Seq', gob.uint],
]);

/** Go's struct{}: the argument and reply of most plugin methods. */
export const Empty = gob.struct('struct {}', []);

const CONNECT_REQUEST = 'CONNECT /_goRPC_ HTTP/1.0\n\n';
const CONNECTED_STATUS = 'HTTP/1.0 200 Connected to Go RPC';
const MAX_HANDSHAKE_BYTES = 4096;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

interface PendingCall {
  readonly serviceMethod: string;
  readonly resolve: (value: gob.GobValue) => void;
  readonly reject: (error: RpcError) => void;
  readonly timer: NodeJS.Timeout;
}

/** Parses a plugin's first stdout line ("127.0.0.1:PORT"); anything but a loopback address is refused. */
export function parsePluginAddress(line: string): { host: string; port: number } {
  const match = /^(127\.0\.0\.1|\[::1\]|localhost):(\d{1,5})$/.exec(line.trim());
  const port = Number(match?.[2]);
  if (!match?.[1] || !(port > 0 && port < 65536)) {
    throw new RpcError('protocol', `expected a plugin address like 127.0.0.1:PORT, got ${JSON.stringify(line)}`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

export class GoRpcClient {
  private readonly encoder = new gob.GobEncoder();
  private readonly pending = new Map<number, PendingCall>();
  private nextSeq = 0;
  /** The header of a reply whose body has not been read yet. */
  private header: { serviceMethod: string; seq: number; error: string } | undefined;
  private failure: RpcError | undefined;
  private readonly callTimeoutMs: number;

  private constructor(
    private readonly socket: Socket,
    private readonly decoder: gob.GobDecoder,
    options: RpcClientOptions,
  ) {
    this.callTimeoutMs = options.callTimeoutMs ?? 120_000;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) =>
      this.fail(new RpcError('connection', `plugin connection failed: ${error.message}`, undefined, { cause: error })),
    );
    socket.on('close', () => this.fail(new RpcError('connection', 'the plugin closed the connection')));
  }

  /** Connects and performs the CONNECT handshake. */
  static async connect(options: RpcClientOptions): Promise<GoRpcClient> {
    const host = options.host ?? '127.0.0.1';
    if (!LOOPBACK.has(host)) throw new RpcError('connection', `plugins are reached on loopback only, not ${host}`);
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const socket = netConnect({ host, port: options.port });
    socket.setNoDelay(true);
    const decoder = new gob.GobDecoder(options.decoder);
    try {
      await handshake(socket, decoder, timeoutMs, `${host}:${options.port}`);
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return new GoRpcClient(socket, decoder, options);
  }

  /** Whether the connection is still usable. */
  get open(): boolean {
    return this.failure === undefined;
  }

  /**
   * Calls `serviceMethod` (e.g. "RPCServerDriver.GetVersion") with an argument of `argType` and resolves
   * with the decoded reply. Rejects with an RpcError: `remote` when the plugin returned an error,
   * `timeout` past the deadline (the connection stays usable; a late reply is dropped), `connection`.
   */
  call(
    serviceMethod: string,
    argType: gob.GobType = Empty,
    arg: unknown = {},
    options: CallOptions = {},
  ): Promise<gob.GobValue> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.nextSeq++;
    let bytes: Uint8Array;
    try {
      bytes = this.encoder.encodeMany([
        [RequestHeader, { ServiceMethod: serviceMethod, Seq: seq }],
        [argType, arg],
      ]);
    } catch (error) {
      return Promise.reject(
        new RpcError(
          'protocol',
          `${serviceMethod}: cannot encode the argument: ${(error as Error).message}`,
          serviceMethod,
          { cause: error },
        ),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    return new Promise<gob.GobValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(
          new RpcError('timeout', `${serviceMethod}: the plugin did not answer within ${timeoutMs} ms`, serviceMethod),
        );
      }, timeoutMs);
      this.pending.set(seq, { serviceMethod, resolve, reject, timer });
      this.socket.write(bytes);
    });
  }

  /** Closes the connection; pending calls are rejected. */
  close(): void {
    this.fail(new RpcError('connection', 'the RPC client was closed'));
  }

  private receive(chunk: Buffer): void {
    if (this.failure) return;
    try {
      this.decoder.push(chunk);
      for (let next = this.decoder.read(); next; next = this.decoder.read()) this.dispatch(next.value);
    } catch (error) {
      this.fail(
        new RpcError('protocol', `invalid reply from the plugin: ${(error as Error).message}`, undefined, {
          cause: error,
        }),
      );
    }
  }

  /** Replies come as header, body, header, body...; a body is read even when nobody waits for it. */
  private dispatch(value: gob.GobValue): void {
    if (!this.header) {
      const header = value as { ServiceMethod?: unknown; Seq?: unknown; Error?: unknown } | null;
      if (
        typeof header?.ServiceMethod !== 'string' ||
        typeof header.Error !== 'string' ||
        typeof header.Seq !== 'number'
      ) {
        throw new gob.GobError('the reply header is not an rpc.Response');
      }
      this.header = { serviceMethod: header.ServiceMethod, seq: header.Seq, error: header.Error };
      return;
    }
    const { seq, error } = this.header;
    this.header = undefined;
    const call = this.pending.get(seq);
    if (!call) return;
    this.pending.delete(seq);
    clearTimeout(call.timer);
    if (error !== '') call.reject(new RpcError('remote', error, call.serviceMethod));
    else call.resolve(value);
  }

  private fail(error: RpcError): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    for (const call of this.pending.values()) {
      clearTimeout(call.timer);
      call.reject(
        new RpcError(error.code, `${call.serviceMethod}: ${error.message}`, call.serviceMethod, { cause: error }),
      );
    }
    this.pending.clear();
  }
}

/** Sends CONNECT and waits for Go's answer; bytes after it (unlikely) go to the decoder. */
function handshake(socket: Socket, decoder: gob.GobDecoder, timeoutMs: number, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let received = Buffer.alloc(0);
    const done = (error?: RpcError): void => {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose).off('connect', onConnect);
      if (error) reject(error);
      else resolve();
    };
    const onConnect = (): void => void socket.write(CONNECT_REQUEST);
    const onError = (error: Error): void =>
      done(
        new RpcError('connection', `cannot connect to the plugin at ${address}: ${error.message}`, undefined, {
          cause: error,
        }),
      );
    const onClose = (): void =>
      done(new RpcError('connection', `the plugin at ${address} closed the connection during the handshake`));
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end =
        received.indexOf('\n\n') >= 0
          ? received.indexOf('\n\n') + 2
          : received.indexOf('\r\n\r\n') >= 0
            ? received.indexOf('\r\n\r\n') + 4
            : -1;
      if (end < 0) {
        if (received.length > MAX_HANDSHAKE_BYTES)
          done(new RpcError('protocol', `the plugin at ${address} did not answer CONNECT like a Go RPC server`));
        return;
      }
      const status = received.subarray(0, end).toString('latin1').split(/\r?\n/)[0] ?? '';
      if (status !== CONNECTED_STATUS) {
        done(new RpcError('protocol', `the plugin at ${address} answered CONNECT with ${JSON.stringify(status)}`));
        return;
      }
      const rest = received.subarray(end);
      if (rest.length > 0) decoder.push(rest);
      done();
    };
    const timer = setTimeout(
      () => done(new RpcError('timeout', `the plugin at ${address} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('data', onData).on('error', onError).on('close', onClose).on('connect', onConnect);
  });
}
