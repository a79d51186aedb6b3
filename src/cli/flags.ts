import { Flags } from '@oclif/core';

/** --ssh-timeout, shared by every command that connects over SSH (seconds; MOOR_SSH_TIMEOUT). */
export const sshTimeoutFlag = (description = 'Seconds to wait for SSH to answer') =>
  Flags.integer({ description, env: 'MOOR_SSH_TIMEOUT', default: 300, min: 1 });
