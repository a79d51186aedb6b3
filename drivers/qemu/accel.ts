/**
 * Choosing the accelerator: hvf on macOS, kvm where /dev/kvm is usable, else tcg (slow, with a warning).
 * A /dev/kvm that exists but does not work (nested virtualisation without support: KVM_CREATE_VM hangs)
 * must not hang create, so KVM is probed by a QEMU of its own with no guest (`-machine none`) that answers
 * `query-kvm` over QMP on stdin/stdout, within a bound; a probe that fails or takes too long means no KVM.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { MoorError, UsageError } from '../api.js';
import type { QemuAccel, QemuArch } from './args.js';

export type RequestedAccel = QemuAccel | 'auto';

export interface KvmProbeResult {
  ok: boolean;
  /** Why KVM cannot be used (when not ok). */
  reason?: string;
}

export const KVM_PROBE_TIMEOUT_MS = 15_000;

/** Runs `binary -machine none,accel=kvm` and asks it over QMP whether KVM is enabled, within `timeoutMs`. */
export function probeKvm(binary: string, timeoutMs = KVM_PROBE_TIMEOUT_MS): Promise<KvmProbeResult> {
  return new Promise((resolve) => {
    const child = spawn(
      binary,
      ['-machine', 'none,accel=kvm', '-nodefaults', '-no-user-config', '-display', 'none', '-qmp', 'stdio'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (result: KvmProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          reason: `a KVM probe did not answer within ${Math.round(timeoutMs / 1000)} s (KVM hangs, as under nested virtualisation without support)`,
        }),
      timeoutMs,
    );
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      for (const line of stdout.split('\n')) {
        const answer = parseLine(line);
        const value = answer?.['return'] as { enabled?: unknown; present?: unknown } | undefined;
        if (value && 'enabled' in value) {
          finish(value.enabled === true ? { ok: true } : { ok: false, reason: 'QEMU reports KVM as not enabled' });
          return;
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => finish({ ok: false, reason: `the KVM probe could not run: ${error.message}` }));
    child.on('close', (code) =>
      finish({
        ok: false,
        reason: `the KVM probe exited with ${code ?? 'a signal'}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`,
      }),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.end('{"execute":"qmp_capabilities"}\n{"execute":"query-kvm"}\n{"execute":"quit"}\n');
  });
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface AccelHost {
  platform: NodeJS.Platform;
  arch: QemuArch | undefined;
  /** Whether /dev/kvm can be opened for reading and writing (the kvm group on most distributions). */
  kvmDeviceUsable(): Promise<boolean>;
  probeKvm(): Promise<KvmProbeResult>;
}

export async function kvmDeviceUsable(): Promise<boolean> {
  return access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
}

/** The accelerator to boot with, and a warning to show when it falls back to tcg. */
export async function chooseAccel(
  requested: RequestedAccel,
  guest: QemuArch,
  host: AccelHost,
): Promise<{ accel: QemuAccel; warning?: string }> {
  const native = host.arch === guest;
  if (requested === 'tcg') return { accel: 'tcg' };
  if (requested === 'hvf') {
    if (host.platform !== 'darwin') throw new UsageError('--qemu-accel hvf needs macOS (Hypervisor.framework).');
    if (!native) throw new UsageError(`--qemu-accel hvf runs only ${host.arch ?? "the host's"} guests on this Mac.`);
    return { accel: 'hvf' };
  }
  if (requested === 'auto' && host.platform === 'darwin') {
    return native
      ? { accel: 'hvf' }
      : {
          accel: 'tcg',
          warning: `A ${guest} guest on a ${host.arch ?? 'different'} Mac runs under tcg, which is slow.`,
        };
  }
  const problem = await kvmProblem(guest, host, native);
  if (!problem) return { accel: 'kvm' };
  if (requested === 'kvm') {
    throw new MoorError(`--qemu-accel kvm: KVM cannot be used: ${problem}.`, {
      code: 'QEMU_KVM_UNUSABLE',
      suggestions: [
        'Check that virtualisation is enabled in the firmware and that you are in the kvm group (sudo usermod -aG kvm $USER, then log in again).',
        'Or use --qemu-accel tcg (slow, but works everywhere).',
      ],
    });
  }
  return { accel: 'tcg', warning: `No KVM (${problem}): the machine runs under tcg, which is slow.` };
}

async function kvmProblem(guest: QemuArch, host: AccelHost, native: boolean): Promise<string | undefined> {
  if (host.platform !== 'linux') return `KVM exists on Linux only`;
  if (!native) return `a ${guest} guest cannot use the ${host.arch ?? 'host'}'s KVM`;
  if (!(await host.kvmDeviceUsable())) return '/dev/kvm is missing or not readable and writable by you';
  const probe = await host.probeKvm();
  return probe.ok ? undefined : (probe.reason ?? 'the probe failed');
}
