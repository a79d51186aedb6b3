/**
 * `moor scp`: copies files to, from and between machines with OpenSSH's scp, using each machine's key and
 * its pinned host key (a private ssh_config and known_hosts for the one run; host keys are checked,
 * never blindly accepted as Docker Machine did).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MoorError, UsageError } from './errors.js';
import { isValidName } from './machine.js';
import type { Moor } from './moor.js';

export interface ScpOptions {
  recursive: boolean;
  quiet: boolean;
}

interface Location {
  machine?: string;
  path: string;
}

/** `web:/etc/hosts` names a machine; `./x`, `/x` and a plain `x` are local paths. */
export function parseLocation(argument: string): Location {
  const colon = argument.indexOf(':');
  if (colon <= 0 || argument.startsWith('/') || argument.startsWith('.')) return { path: argument };
  const machine = argument.slice(0, colon);
  if (!isValidName(machine)) return { path: argument };
  return { machine, path: argument.slice(colon + 1) || '.' };
}

export async function scp(moor: Moor, sources: string[], destination: string, options: ScpOptions): Promise<number> {
  if (sources.length === 0) throw new UsageError('Give at least one source and a destination: moor scp SRC... DST.');
  const locations = [...sources, destination].map(parseLocation);
  const machines = [...new Set(locations.flatMap((location) => (location.machine ? [location.machine] : [])))];
  if (machines.length === 0) {
    throw new UsageError('Neither the sources nor the destination name a machine: write them as MACHINE:PATH.');
  }
  const dir = await mkdtemp(join(tmpdir(), 'moor-scp-'));
  try {
    const config: string[] = [];
    const knownHosts: string[] = [];
    for (const name of machines) {
      const target = await moor.sshTarget(name);
      if (!target.hostKey) {
        throw new MoorError(`Machine "${name}" has no pinned SSH host key yet.`, {
          code: 'NO_HOST_KEY',
          suggestions: [`Run "moor provision ${name}" once to connect and pin it.`],
        });
      }
      const alias = `moor-${name}`;
      config.push(
        `Host ${alias}`,
        `  HostName ${target.host}`,
        `  Port ${target.port}`,
        `  User ${target.user}`,
        `  IdentityFile "${target.privateKeyPath}"`,
        `  HostKeyAlias ${alias}`,
      );
      knownHosts.push(`${alias} ${target.hostKey.split(/\s+/).slice(0, 2).join(' ')}`);
    }
    config.push(
      'Host *',
      '  IdentitiesOnly yes',
      '  BatchMode yes',
      '  StrictHostKeyChecking yes',
      `  UserKnownHostsFile "${join(dir, 'known_hosts')}"`,
      '  ConnectTimeout 10',
      '  LogLevel ERROR',
    );
    await writeFile(join(dir, 'config'), `${config.join('\n')}\n`, { mode: 0o600 });
    await writeFile(join(dir, 'known_hosts'), `${knownHosts.join('\n')}\n`, { mode: 0o600 });
    const args = ['-F', join(dir, 'config')];
    if (options.recursive) args.push('-r');
    if (options.quiet) args.push('-q');
    if (locations.filter((location) => location.machine).length > 1) args.push('-3');
    args.push(
      '--',
      ...locations.map((location) => (location.machine ? `moor-${location.machine}:${location.path}` : location.path)),
    );
    return await run('scp', args);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new MoorError("scp was not found: moor scp uses OpenSSH's scp.", {
              code: 'SCP_NOT_FOUND',
              suggestions: ['Install the OpenSSH client (Debian/Ubuntu: apt-get install openssh-client).'],
            })
          : error,
      );
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
