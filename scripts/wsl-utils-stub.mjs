// Build-time replacement for the `wsl-utils` package that oclif imports on every start only to tell
// "wsl" from "linux" (a label moor does not use). The real package loads child_process and probes
// /proc and container markers; this answers from the kernel release alone and defers the rest.
import { release } from 'node:os';

export const isWsl = process.platform === 'linux' && release().toLowerCase().includes('microsoft');

export async function powerShellPath() {
  return (await import('wsl-utils')).powerShellPath();
}
