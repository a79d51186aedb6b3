/**
 * A small client of QEMU's machine protocol (QMP) on the machine's unix socket: JSON objects, one per line;
 * the server greets with {"QMP": ...}, the client sends qmp_capabilities, then commands, one at a time.
 * Asynchronous events ({"event": ...}) are skipped. Every step is bounded: a QEMU that accepts the
 * connection but never answers fails the call with a clear error instead of hanging moor.
 */
import { connect, type Socket } from 'node:net';
import { MoorError } from '../api.js';

export class QmpError extends MoorError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'QEMU_QMP', ...(cause !== undefined ? { cause } : {}) });
  }
}

type Message = Record<string, unknown>;

export class QmpClient {
  private buffer = '';
  private readonly queue: Message[] = [];
  private waiter: ((message: Message | Error) => void) | undefined;
  private closedError: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly path: string,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    const closed = (error?: Error) => {
      this.closedError ??= new QmpError(`QMP socket ${path} closed${error ? `: ${error.message}` : ''}.`, error);
      this.deliver(this.closedError);
    };
    socket.on('error', closed);
    socket.on('close', () => closed());
  }

  /** Connects, reads the greeting and negotiates capabilities (each within `timeoutMs`). */
  static async connect(path: string, timeoutMs = 5_000): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const candidate = connect(path);
      const timer = setTimeout(() => {
        candidate.destroy();
        reject(new QmpError(`QMP socket ${path} did not accept a connection within ${timeoutMs} ms.`));
      }, timeoutMs);
      candidate.once('connect', () => {
        clearTimeout(timer);
        resolve(candidate);
      });
      candidate.once('error', (error) => {
        clearTimeout(timer);
        reject(new QmpError(`Cannot connect to the QMP socket ${path}: ${error.message}.`, error));
      });
    });
    const client = new QmpClient(socket, path, timeoutMs);
    try {
      const greeting = await client.next('the greeting');
      if (!('QMP' in greeting)) throw new QmpError(`QMP socket ${path} greeted with ${JSON.stringify(greeting)}.`);
      await client.execute('qmp_capabilities');
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  /** Runs one command; its `return` value, or a QmpError with QEMU's error description. */
  async execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    for (;;) {
      const message = await this.next(`the answer to ${command}`);
      if ('event' in message) continue;
      if ('return' in message) return message['return'] as T;
      const error = message['error'] as { class?: string; desc?: string } | undefined;
      throw new QmpError(`QEMU refused ${command}: ${error?.desc ?? JSON.stringify(message)}.`);
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (!line) continue;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        this.deliver(new QmpError(`QMP socket ${this.path} sent a line that is not JSON: ${line.slice(0, 200)}`));
        continue;
      }
      if (message && typeof message === 'object' && !Array.isArray(message)) this.deliver(message as Message);
    }
  }

  private deliver(message: Message | Error): void {
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter(message);
    } else if (!(message instanceof Error)) {
      this.queue.push(message);
    }
  }

  private next(what: string): Promise<Message> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new QmpError(`QEMU did not send ${what} on ${this.path} within ${this.timeoutMs} ms.`));
      }, this.timeoutMs);
      this.waiter = (message) => {
        clearTimeout(timer);
        if (message instanceof Error) reject(message);
        else resolve(message);
      };
    });
  }
}

/** Connects, runs one command, disconnects. */
export async function qmp<T = unknown>(
  path: string,
  command: string,
  args?: Record<string, unknown>,
  timeoutMs?: number,
): Promise<T> {
  const client = await QmpClient.connect(path, timeoutMs);
  try {
    return await client.execute<T>(command, args);
  } finally {
    client.close();
  }
}
