import { Flags } from '@oclif/core';

/** --ssh-timeout, shared by every command that connects over SSH (seconds; MOOR_SSH_TIMEOUT). */
export const sshTimeoutFlag = (description = 'Seconds to wait for SSH to answer') =>
  Flags.integer({ description, env: 'MOOR_SSH_TIMEOUT', default: 300, min: 1 });

/**
 * --ssh-timeout of the commands that connect to an existing machine: without it, the machine's own (the one
 * it was created with, kept in its record; 300 s for older records).
 */
export const machineSshTimeoutFlag = () =>
  Flags.integer({
    description: "Seconds to wait for SSH to answer (default: the machine's own, given at create)",
    env: 'MOOR_SSH_TIMEOUT',
    min: 1,
  });

/** The core's sshTimeoutMs for a --ssh-timeout that may be left out (then the machine's own applies). */
export function sshTimeoutOption(seconds: number | undefined): { sshTimeoutMs?: number } {
  return seconds === undefined ? {} : { sshTimeoutMs: seconds * 1000 };
}
