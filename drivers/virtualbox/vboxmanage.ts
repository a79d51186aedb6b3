/**
 * The narrow interface moor uses to drive VirtualBox: one VBoxManage executable, run with execFile (never a
 * shell), its `--machinereadable` and list outputs parsed into plain objects.
 */
import { execFile } from 'node:child_process';
import { delimiter, isAbsolute, join } from 'node:path';
import { isExecutableFile, MoorError } from '../api.js';

/** The oldest VirtualBox moor supports: 6.1 (the `dhcpserver --server-ip` syntax and the 192.168.56.0/21 rule). */
export const MIN_VERSION: readonly [number, number] = [6, 1];

export class VBoxManageError extends MoorError {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    exitCode: number | string | null,
  ) {
    super(`VBoxManage ${args.join(' ')} failed (exit ${String(exitCode)}): ${firstLine(stderr) || 'no message'}`, {
      code: 'VBOXMANAGE_FAILED',
    });
  }
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.replace(/^VBoxManage: error: /, '').trim())
      .find(Boolean) ?? ''
  );
}

const NAMES = process.platform === 'win32' ? ['VBoxManage.exe'] : ['VBoxManage', 'vboxmanage'];

/**
 * Where VBoxManage is: the --virtualbox-vboxmanage flag, else $VBOX_INSTALL_PATH (a folder, or the
 * program itself), else PATH. Undefined when none has it.
 */
export function findVBoxManage(explicit: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (explicit) return explicit;
  const candidates: string[] = [];
  const install = env['VBOX_INSTALL_PATH'] || env['VBOX_MSI_INSTALL_PATH'];
  if (install) {
    for (const dir of install.split(delimiter).filter(Boolean)) {
      candidates.push(dir, ...NAMES.map((name) => join(dir, name)));
    }
  }
  for (const dir of (env['PATH'] ?? '').split(delimiter).filter(Boolean)) {
    candidates.push(...NAMES.map((name) => join(dir, name)));
  }
  return candidates.find((path) => isAbsolute(path) && isExecutableFile(path));
}

export class VirtualBoxMissingError extends MoorError {
  constructor(explicit: string | undefined) {
    super(
      explicit
        ? `VBoxManage was not found at ${explicit}.`
        : 'VirtualBox is not installed: VBoxManage is not on PATH and VBOX_INSTALL_PATH does not name it.',
      {
        code: 'VIRTUALBOX_MISSING',
        suggestions: [
          'Install VirtualBox 6.1 or later (7.x recommended) from virtualbox.org or your package manager.',
          'Or point moor at VBoxManage with --virtualbox-vboxmanage PATH (env MOOR_VIRTUALBOX_VBOXMANAGE).',
        ],
      },
    );
  }
}

export interface VBoxResult {
  stdout: string;
  stderr: string;
}

export class VBoxManage {
  constructor(
    readonly path: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Runs VBoxManage with these arguments; rejects with a VBoxManageError when it exits non-zero. */
  run(args: string[], timeoutMs = 600_000): Promise<VBoxResult> {
    return new Promise((resolve, reject) => {
      execFile(
        this.path,
        args,
        { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, windowsHide: true, env: { ...this.env, LC_ALL: 'C' } },
        (error, stdout, stderr) => {
          if (!error) return resolve({ stdout, stderr });
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'EACCES') return reject(new VirtualBoxMissingError(this.path));
          reject(new VBoxManageError(args, stderr || error.message, code ?? null));
        },
      );
    });
  }

  async version(): Promise<string> {
    return (await this.run(['--version'])).stdout.trim();
  }

  async vmInfo(name: string): Promise<Record<string, string> | undefined> {
    try {
      return parseMachineReadable((await this.run(['showvminfo', name, '--machinereadable'])).stdout);
    } catch (error) {
      if (
        error instanceof VBoxManageError &&
        /VBOX_E_OBJECT_NOT_FOUND|Could not find a registered machine/.test(error.stderr)
      )
        return undefined;
      throw error;
    }
  }

  async listVms(): Promise<{ name: string; uuid: string }[]> {
    const { stdout } = await this.run(['list', 'vms']);
    return [...stdout.matchAll(/^"(.*)" \{([0-9a-fA-F-]+)\}$/gm)].map((match) => ({
      name: match[1]!,
      uuid: match[2]!,
    }));
  }

  async hostOnlyInterfaces(): Promise<Record<string, string>[]> {
    return parseBlocks((await this.run(['list', 'hostonlyifs'])).stdout);
  }

  async dhcpServers(): Promise<Record<string, string>[]> {
    return parseBlocks((await this.run(['list', 'dhcpservers'])).stdout);
  }

  async hostInfo(): Promise<Record<string, string>> {
    return Object.assign({}, ...parseBlocks((await this.run(['list', 'hostinfo'])).stdout)) as Record<string, string>;
  }
}

/** Parses `showvminfo --machinereadable`: key="value" or key=value lines; quotes and \" \\ escapes removed. */
export function parseMachineReadable(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^("(?:[^"\\]|\\.)*"|[^=]+)=(.*)$/.exec(line);
    if (!match) continue;
    result[unquote(match[1]!)] = unquote(match[2]!);
  }
  return result;
}

function unquote(value: string): string {
  const trimmed = value.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) {
    return trimmed.slice(1, -1).replace(/\\(["\\])/g, '$1');
  }
  return trimmed;
}

/** Parses the `Key:   value` blocks separated by blank lines that `VBoxManage list ...` prints. */
export function parseBlocks(text: string): Record<string, string>[] {
  const blocks: Record<string, string>[] = [];
  let current: Record<string, string> | undefined;
  for (const line of text.split(/\r?\n/)) {
    const match = /^([A-Za-z][A-Za-z0-9 ]*?):\s*(.*)$/.exec(line);
    if (!match) {
      if (line.trim() === '' && current) {
        blocks.push(current);
        current = undefined;
      }
      continue;
    }
    current ??= {};
    // Only the first occurrence of a key per block (VirtualBox 7 prints nested per-VM configuration later).
    if (!(match[1]! in current)) current[match[1]!] = match[2]!.trim();
  }
  if (current) blocks.push(current);
  return blocks;
}

/** `7.0.20r163906` -> [7, 0, 20]; undefined when the text is no version. */
export function parseVersion(text: string): [number, number, number] | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

export function isSupportedVersion(version: [number, number, number]): boolean {
  return version[0] > MIN_VERSION[0] || (version[0] === MIN_VERSION[0] && version[1] >= MIN_VERSION[1]);
}
