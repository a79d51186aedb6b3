/**
 * An SSH server inside the test process (ssh2's Server) on 127.0.0.1, whose channels the test controls:
 * every exec waits at a gate until the test opens it, the server counts the commands running at once
 * and refuses session channels beyond `maxSessions` (as OpenSSH's MaxSessions does), and a forwarding
 * request records how many commands were running when it arrived. It shows what a client does with its
 * channels through the server's own state, where a real sshd could only show it through timing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import ssh2, { type Connection } from 'ssh2';
import { ed25519KeyPair } from '../../src/core/ssh/keys.js';

const LOOPBACK = '127.0.0.1';

export interface SshServerStats {
  /** Client connections accepted so far. */
  connections: number;
  /** Session channels accepted so far. */
  sessions: number;
  /** Session channels open now (accepted, not closed), over all connections. */
  open: number;
  /** Session channels refused because `maxSessions` were open. */
  refused: number;
  /** Commands running now: exec received, not yet answered. */
  running: number;
  /** The most commands that were running at once. */
  mostRunning: number;
}

export interface InProcessSshServer {
  host: string;
  port: number;
  user: string;
  /** A private key (OpenSSH format, 0600) that the server accepts. */
  clientKeyPath: string;
  readonly stats: Readonly<SshServerStats>;
  /** `open` at the moment each forwarding request (direct-tcpip) arrived, in order; each is refused. */
  readonly openAtForward: readonly number[];
  /** Resolves once `condition` holds for the server's counters (checked at every change). */
  until(condition: (stats: Readonly<SshServerStats>) => boolean): Promise<void>;
  /** Opens the gate: every held command, and every later one, answers at once. */
  release(): void;
  stop(): Promise<void>;
}

export interface InProcessSshServerOptions {
  /** Session channels one connection may have open at once (default: no limit). */
  maxSessions?: number;
}

/**
 * Starts the server. A command answers with `<command> via <client port>` on stdout and exit code 0
 * once the gate is open (release()), so that a test sees which connection ran it.
 */
export async function startSshServer(options: InProcessSshServerOptions = {}): Promise<InProcessSshServer> {
  const maxSessions = options.maxSessions ?? Number.POSITIVE_INFINITY;
  const dir = await mkdtemp(join(tmpdir(), 'moor-ssh-server-'));
  const clientKeyPath = join(dir, 'client_ed25519');
  await writeFile(clientKeyPath, ed25519KeyPair('moor-test-client').private, { mode: 0o600 });
  const hostKey = ed25519KeyPair('moor-test-host').private;

  const stats: SshServerStats = { connections: 0, sessions: 0, open: 0, refused: 0, running: 0, mostRunning: 0 };
  const openAtForward: number[] = [];
  const watchers: { condition: (stats: SshServerStats) => boolean; resolve: () => void }[] = [];
  const changed = () => {
    for (const watcher of [...watchers]) {
      if (!watcher.condition(stats)) continue;
      watchers.splice(watchers.indexOf(watcher), 1);
      watcher.resolve();
    }
  };
  let released = false;
  const held: (() => void)[] = [];
  const gate = () => (released ? Promise.resolve() : new Promise<void>((resolve) => held.push(resolve)));
  const clients = new Set<Connection>();

  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client, info) => {
    clients.add(client);
    stats.connections += 1;
    changed();
    let open = 0;
    client.on('error', () => undefined);
    client.on('close', () => clients.delete(client));
    client.on('authentication', (context) => (context.method === 'publickey' ? context.accept() : context.reject()));
    client.on('tcpip', (_accept, reject) => {
      openAtForward.push(stats.open);
      reject();
    });
    client.on('session', (accept, reject) => {
      if (open >= maxSessions) {
        stats.refused += 1;
        reject();
        changed();
        return;
      }
      open += 1;
      stats.open += 1;
      stats.sessions += 1;
      changed();
      const session = accept();
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        open -= 1;
        stats.open -= 1;
        changed();
      };
      session.on('close', close);
      session.on('exec', (acceptExec, _reject, { command }) => {
        const channel = acceptExec();
        stats.running += 1;
        stats.mostRunning = Math.max(stats.mostRunning, stats.running);
        changed();
        void gate().then(() => {
          // Counted as done before the answer leaves, so the client cannot start a command in its place
          // while this one still counts.
          stats.running -= 1;
          changed();
          channel.write(`${command} via ${info.port}\n`);
          channel.exit(0);
          channel.end();
        });
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });

  return {
    host: LOOPBACK,
    port: (server.address() as AddressInfo).port,
    user: userInfo().username,
    clientKeyPath,
    stats,
    openAtForward,
    until: (condition) =>
      new Promise<void>((resolve) => {
        if (condition(stats)) return resolve();
        watchers.push({ condition, resolve });
      }),
    release() {
      released = true;
      for (const resolve of held.splice(0)) resolve();
    },
    async stop() {
      for (const client of clients) client.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
