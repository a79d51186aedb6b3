import type { SSHConfig } from '../driver.js';
import type { SSHTarget } from './types.js';

/** The SSH target for what a driver reports: the one mapping of SSHConfig to a connection's target. */
export function sshTargetOf(config: SSHConfig, extra: { machineName?: string; hostKey?: string } = {}): SSHTarget {
  return {
    host: config.host,
    port: config.port,
    user: config.user,
    privateKeyPath: config.keyPath ?? '',
    ...(config.keySource ? { keySource: config.keySource } : {}),
    ...(config.refusedGraceMs !== undefined ? { refusedGraceMs: config.refusedGraceMs } : {}),
    ...(extra.machineName ? { machineName: extra.machineName } : {}),
    ...(extra.hostKey ? { hostKey: extra.hostKey } : {}),
  };
}
