/**
 * Provisioning a machine over SSH: one connection for the whole operation, reused by every step.
 * Detect the OS, check sudo before changing anything, upload the engine's certificates, run the install
 * and configure scripts (see plan.ts), then check that the engine answers: first through the SSH
 * connection on its local socket, then over TLS from here, as the user's docker CLI will reach it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Driver } from '../driver.js';
import { engineTLSFrom, engineVersion } from '../docker/engine.js';
import { httpOverStream } from '../docker/http.js';
import { DEFAULT_ENGINE_SOCKET } from '../docker/remote.js';
import { shellQuote, SUDO } from '../ssh/quote.js';
import { MoorError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { notYet, waitFor } from '../wait.js';
import { installMethodOf, type MachineRecord, transportOf } from '../machine.js';
import type { SSHSession } from '../ssh/types.js';
import { REMOTE_CERT_PATHS } from './daemon-config.js';
import { type Family, familyOf, type OsRelease, parseOsRelease, UnsupportedOsError } from './os.js';
import { buildProvisionPlan, type InstallMethod } from './plan.js';
import { buildUpgradeScript } from './upgrade.js';

export interface ProvisionOptions {
  /** Budget for SSH to answer (a cloud host may still be booting). */
  sshTimeoutMs?: number;
  /** Accept whatever host key the server presents now and pin it (after a legitimate reinstall). */
  repinHostKey?: boolean;
  /** Budget for the engine to answer after its restart. */
  readyTimeoutMs?: number;
  /** Called as soon as the connection is up, so the host key is pinned even if a later step fails. */
  onHostKey?(hostKey: string): Promise<void>;
  /**
   * An interrupt (Ctrl-C): waits (SSH coming up, the engine answering) end at once; a script that runs on
   * the host is never cut, provisioning stops before the next one. Its reason is the error thrown.
   */
  signal?: AbortSignal;
}

export interface ProvisionResult {
  /** The host key seen on this connection, to pin in the record. */
  hostKey: string;
  /** Whether anything on the host changed (files, packages, certificates). */
  changed: boolean;
  os: string;
  engineVersion: string;
}

const OUTPUT_TAIL_LINES = 25;

export async function provisionMachine(
  record: MachineRecord,
  driver: Driver,
  machineDir: string,
  options: ProvisionOptions,
  log: Logger,
): Promise<ProvisionResult> {
  const host = await openHost(record, driver, options, log);
  const { session, sudo, os, family, installMethod, sshUser } = host;
  const engine = record.HostOptions.EngineOptions;
  try {
    const plan = buildProvisionPlan({
      machineName: record.Name,
      family,
      os,
      sshUser,
      engine,
      enginePort: enginePortOf(await driver.getURL()),
      installMethod,
      ...(engine.Version ? { engineVersion: engine.Version } : {}),
      driverName: record.DriverName,
    });

    const tls = transportOf(engine) === 'tls';
    // The ssh transport has no TCP listener: the engine needs no certificates.
    const certsChanged = tls ? await uploadCertificates(session, machineDir, sudo !== '', log) : false;
    let changed = certsChanged;
    let engineRestarted = false;
    for (const step of plan.steps) {
      options.signal?.throwIfAborted();
      log.step(
        step.name === 'install-docker' ? 'Installing Docker (skipped if present)' : 'Configuring the Docker engine',
      );
      const outcome = await runStep(session, step.name, step.script, record.Name, log);
      engineRestarted = engineRestarted || outcome.restarted;
      changed = outcome.changed || changed;
    }
    options.signal?.throwIfAborted();
    if (certsChanged && !engineRestarted) {
      // New certificates with otherwise unchanged configuration: the engine must reload them.
      log.step('Restarting the Docker engine for its new certificates');
      await runStep(session, 'restart-docker', restartScript(sudo), record.Name, log);
    }

    const version = await waitForEngine(session, sudo, record, driver, machineDir, options, log);
    log.info(`${record.Name}: Docker ${version} is up and running.`);
    return { hostKey: session.hostKey, changed, os: os.prettyName || os.id, engineVersion: version };
  } finally {
    await session.close();
  }
}

/** The record's pin; else the key the driver saw when it set the host up; none with --repin-host-key. */
function pinnedHostKey(record: MachineRecord, driverSeen: string | undefined, repin: boolean | undefined) {
  if (repin) return undefined;
  const hostKey = record.SSHHostKey ?? driverSeen;
  return hostKey ? { hostKey } : undefined;
}

interface OpenHost {
  session: SSHSession;
  sudo: string;
  sshUser: string;
  os: OsRelease;
  family: Family | null;
  installMethod: InstallMethod;
}

/**
 * Connects (pinning or checking the host key), checks sudo before anything changes, and detects the OS
 * and the install method. The caller closes the session.
 */
async function openHost(
  record: MachineRecord,
  driver: Driver,
  options: ProvisionOptions,
  log: Logger,
): Promise<OpenHost> {
  const ssh = await import('../ssh/index.js');
  const sshConfig = await driver.getSSHConfig();
  if (!sshConfig.keyPath) {
    throw new MoorError(`Machine "${record.Name}" has no SSH key to provision it with.`, { code: 'NO_SSH_KEY' });
  }
  const session = await ssh.connect(
    ssh.sshTargetOf(sshConfig, {
      machineName: record.Name,
      ...(pinnedHostKey(record, sshConfig.hostKey, options.repinHostKey) ?? {}),
    }),
    { timeoutMs: options.sshTimeoutMs ?? 300_000, log, ...(options.signal ? { signal: options.signal } : {}) },
  );
  try {
    await options.onHostKey?.(session.hostKey);
    const sudo = ssh.sudoPrefix(sshConfig.user);
    if (sudo) await checkSudo(session, sshConfig.user, record.Name);

    log.step('Detecting the operating system');
    const osRelease = await session.exec('cat /etc/os-release || cat /usr/lib/os-release');
    if (osRelease.code !== 0) {
      throw new MoorError(`Cannot read /etc/os-release on "${record.Name}": ${osRelease.stderr.trim()}`, {
        code: 'OS_DETECTION_FAILED',
      });
    }
    options.signal?.throwIfAborted();
    const os = parseOsRelease(osRelease.stdout);
    const engine = record.HostOptions.EngineOptions;
    const installMethod: InstallMethod = installMethodOf(engine);
    const family = familyOf(os) ?? null;
    if (family === null && installMethod === 'packages') throw new UnsupportedOsError(os);
    log.info(
      `${record.Name}: ${os.prettyName || os.id} (${family ?? 'unknown family'}), Docker install method: ${installMethod}`,
    );
    return { session, sudo, sshUser: sshConfig.user, os, family, installMethod };
  } catch (error) {
    await session.close();
    throw error;
  }
}

export interface UpgradeResult {
  changed: boolean;
  engineVersion: string;
}

/** `moor upgrade`: upgrades the engine with the method it was installed with, then waits until it answers. */
export async function upgradeEngine(
  record: MachineRecord,
  driver: Driver,
  machineDir: string,
  options: ProvisionOptions,
  log: Logger,
): Promise<UpgradeResult> {
  const { session, sudo, os, family, installMethod, sshUser } = await openHost(record, driver, options, log);
  try {
    const engine = record.HostOptions.EngineOptions;
    const script = buildUpgradeScript({
      family,
      os,
      sshUser,
      installMethod,
      installUrl: installMethod === 'script' ? engine.InstallURL : '',
      ...(engine.Version ? { engineVersion: engine.Version } : {}),
    });
    log.step(`Upgrading Docker (${installMethod})`);
    const outcome = await runStep(session, 'upgrade-docker', script, record.Name, log);
    const version = await waitForEngine(session, sudo, record, driver, machineDir, options, log);
    return { changed: outcome.changed, engineVersion: version };
  } finally {
    await session.close();
  }
}

async function checkSudo(session: SSHSession, user: string, machine: string): Promise<void> {
  const result = await session.exec(`${SUDO} true`);
  if (result.code !== 0) {
    throw new MoorError(
      `User "${user}" cannot run sudo without a password on "${machine}": moor needs root or passwordless sudo to install and configure Docker. Nothing was changed.`,
      {
        code: 'NO_PASSWORDLESS_SUDO',
        suggestions: [
          `On the host, allow it: echo '${user} ALL=(ALL) NOPASSWD:ALL' | sudo tee /etc/sudoers.d/${user}`,
          'Or connect as root.',
        ],
      },
    );
  }
}

/**
 * Uploads ca.pem, server.pem and server-key.pem to /etc/docker when the host's copies differ (compared by
 * a hash computed on the host, so no key material travels back). Returns whether anything was uploaded.
 */
async function uploadCertificates(
  session: SSHSession,
  machineDir: string,
  sudo: boolean,
  log: Logger,
): Promise<boolean> {
  const files = [
    { local: 'ca.pem', remote: REMOTE_CERT_PATHS.ca, mode: 0o644 },
    { local: 'server.pem', remote: REMOTE_CERT_PATHS.cert, mode: 0o644 },
    { local: 'server-key.pem', remote: REMOTE_CERT_PATHS.key, mode: 0o600 },
  ];
  const contents = await Promise.all(files.map((file) => readFile(join(machineDir, file.local))));
  const localHash = createHash('sha256').update(Buffer.concat(contents)).digest('hex');
  const paths = files.map((file) => file.remote).join(' ');
  const remote = await session.exec(`${sudo ? `${SUDO} ` : ''}cat ${paths} 2>/dev/null | sha256sum`);
  if (remote.code === 0 && remote.stdout.trim().split(/\s+/)[0] === localHash) return false;
  log.step('Copying the engine certificates to /etc/docker');
  await Promise.all(files.map((file, index) => session.upload(file.remote, contents[index]!, file.mode, { sudo })));
  return true;
}

/**
 * Runs one script with sh over the session. Returns whether it changed something (its last line,
 * `moor: changed=0|1`) and whether it (re)started the engine (its `moor: restarting ...` or
 * `moor: starting ...` line, or `moor: docker: restart|start` on OpenRC; not a start the boot had begun).
 */
async function runStep(
  session: SSHSession,
  name: string,
  script: string,
  machine: string,
  log: Logger,
): Promise<{ changed: boolean; restarted: boolean }> {
  const tail: string[] = [];
  const addLine = (line: string) => {
    if (line.trim() === '') return;
    tail.push(line);
    if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
    log.debug(`${machine} ${name}: ${line}`);
  };
  // Chunks end anywhere: keep each stream's unfinished line until its end arrives.
  const lineReader = () => {
    let pending = '';
    return {
      push(chunk: Buffer) {
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        lines.forEach(addLine);
      },
      flush() {
        addLine(pending);
        pending = '';
      },
    };
  };
  const stdout = lineReader();
  const stderr = lineReader();
  const result = await session.exec('sh -s', {
    stdin: script,
    onStdout: (chunk) => stdout.push(chunk),
    onStderr: (chunk) => stderr.push(chunk),
  });
  stdout.flush();
  stderr.flush();
  if (result.code !== 0) {
    throw new MoorError(
      `Provisioning step "${name}" failed on "${machine}" (exit ${result.code}). Last lines of its output:\n${tail.map((line) => `  | ${line}`).join('\n')}`,
      {
        code: 'PROVISION_FAILED',
        suggestions: [`Fix the cause above, then run "moor provision ${machine}" again (it is safe to repeat).`],
      },
    );
  }
  return {
    changed: /moor: changed=1\s*$/.test(result.stdout),
    restarted: /^moor: ((re)?starting |docker: (re)?start$)/m.test(result.stdout),
  };
}

function restartScript(sudo: string): string {
  return [
    'set -eu',
    `if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then`,
    `  ${sudo}systemctl restart docker`,
    'else',
    `  ${sudo}rc-service docker restart`,
    'fi',
    "echo 'moor: changed=1'",
  ].join('\n');
}

/**
 * After installing, configuring or upgrading: the engine answers on its socket through the SSH connection,
 * then (tls transport) on its TLS endpoint from here. Resolves with its version.
 */
/**
 * Restarts the engine (systemd or OpenRC) over SSH and waits until it answers again: what an engine stuck
 * in a call needs (a swarm leave that never returns: docker/for-linux#499). Returns its version.
 */
export async function restartEngine(
  record: MachineRecord,
  driver: Driver,
  machineDir: string,
  options: ProvisionOptions,
  log: Logger,
): Promise<string> {
  const { session, sudo } = await openHost(record, driver, options, log);
  try {
    log.step(`Restarting the Docker engine of "${record.Name}"`);
    await runStep(session, 'restart-docker', restartScript(sudo), record.Name, log);
    return await waitForEngine(session, sudo, record, driver, machineDir, options, log);
  } finally {
    await session.close();
  }
}

async function waitForEngine(
  session: SSHSession,
  sudo: string,
  record: MachineRecord,
  driver: Driver,
  machineDir: string,
  options: Pick<ProvisionOptions, 'readyTimeoutMs' | 'signal'>,
  log: Logger,
): Promise<string> {
  log.step('Waiting for the Docker engine');
  const engine = record.HostOptions.EngineOptions;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  const version = await waitForLocalEngine(session, sudo, deadline, record.Name, engine.Socket, options.signal);
  if (transportOf(engine) === 'tls') {
    await waitForTlsEngine(await driver.getURL(), machineDir, deadline, record.Name, options.signal);
  }
  return version;
}

/** Pauses between readiness checks: 200 ms doubling up to 2 s. */
const READY_BACKOFF = { initialDelayMs: 200, maxDelayMs: 2_000, jitter: false } as const;

/** The engine's API on its own socket, through the SSH connection: /_ping, then /version. */
async function waitForLocalEngine(
  session: SSHSession,
  sudo: string,
  deadline: number,
  machine: string,
  socket = DEFAULT_ENGINE_SOCKET,
  signal?: AbortSignal,
): Promise<string> {
  const host = socket === DEFAULT_ENGINE_SOCKET ? '' : `-H ${shellQuote(`unix://${socket}`)} `;
  return waitFor(
    async () => {
      // Through the connection to the socket, when the SSH user may open it (root, or in the docker group):
      // no program started on the host, which takes seconds in an emulated VM.
      try {
        await httpOverStream(await session.forwardToUnixSocket(socket), '/_ping');
        const body = await httpOverStream(await session.forwardToUnixSocket(socket), '/version');
        return (JSON.parse(body) as { Version: string }).Version;
      } catch (error) {
        if (!sudo) throw error;
      }
      // A user outside the docker group cannot open the socket itself: ask through sudo.
      const result = await session.exec(`${sudo}docker ${host}version --format '{{.Server.Version}}'`);
      if (result.code === 0 && result.stdout.trim() !== '') return result.stdout.trim();
      return notYet(new Error(result.stderr.trim() || `docker version exited ${result.code}`));
    },
    {
      what: `the Docker engine on "${machine}"`,
      timeoutMs: deadline - Date.now(),
      ...READY_BACKOFF,
      ...(signal ? { signal } : {}),
      retryIf: () => true,
      onTimeout: ({ reason }) => {
        throw new MoorError(`The Docker engine on "${machine}" did not answer on ${socket}: ${messageOf(reason)}`, {
          code: 'ENGINE_NOT_READY',
          suggestions: [
            `Look at the engine's log on the host: moor ssh ${machine} -- journalctl -u docker --no-pager -n 50`,
          ],
        });
      },
    },
  );
}

/** The TLS endpoint from this machine, with the client certificate: what `docker` will use. */
async function waitForTlsEngine(
  url: string,
  machineDir: string,
  deadline: number,
  machine: string,
  signal?: AbortSignal,
): Promise<void> {
  await waitFor(
    () => engineVersion(url, engineTLSFrom(machineDir), Math.max(1_000, Math.min(10_000, deadline - Date.now()))),
    {
      what: `the Docker engine at ${url}`,
      timeoutMs: deadline - Date.now(),
      ...READY_BACKOFF,
      ...(signal ? { signal } : {}),
      retryIf: () => true,
      onTimeout: ({ reason }) => {
        throw new MoorError(
          `The Docker engine of "${machine}" runs, but ${url} does not answer over TLS: ${messageOf(reason)}`,
          {
            code: 'TLS_CHECK_FAILED',
            suggestions: [
              `Check that the port is open in the host's firewall or security group.`,
              `If the certificates are the problem, run "moor regenerate-certs ${machine}".`,
            ],
          },
        );
      },
    },
  );
}

function enginePortOf(url: string): number {
  const port = Number(new URL(url).port || 2376);
  return Number.isInteger(port) && port > 0 ? port : 2376;
}
