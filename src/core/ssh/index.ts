/**
 * SSH for moor: one client interface (SSHSession) and its ssh2 implementation. Importing this module
 * does not load ssh2; connect() and generateKeyPair() do, on first use.
 */
export type { ConnectOptions, ExecOptions, ExecResult, ShellOptions, SSHSession, SSHTarget } from './types.js';
export { connect } from './connect.js';
export { checkPrivateKey, fingerprint, generateKeyPair } from './keys.js';
export { shellQuote, sudoPrefix } from './quote.js';
export { HostKeyChangedError, SSHAuthError } from './errors.js';
export { sshTargetOf } from './target.js';
