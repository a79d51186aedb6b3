/**
 * The driver API: everything a driver may use of moor, and the only module under drivers/ that imports
 * from src/ (lint enforces it). Drivers import from here, from their own folder and from drivers/shared/;
 * the core reaches drivers only through drivers/registry.ts. A driver gets its folders, locks and
 * environment from its DriverContext and never computes a store path.
 *
 * Importing this module is cheap: heavy parts (ssh2) load on first use through loadSSH().
 */
export {
  BaseDriver,
  type Driver,
  type DriverContext,
  type DriverDefinition,
  type DriverFactory,
  type DriverFlag,
  type DriverFlagType,
  type DriverFlagValue,
  type DriverFlagValues,
  type DriverSource,
  type DriverLogger,
  type EngineTransport,
  type LifecycleOperation,
  type OtherMachine,
  type SSHConfig,
} from '../src/core/driver.js';
export {
  ExitCode,
  MoorError,
  NotSupportedError,
  TimeoutError,
  UsageError,
  messageOf,
  type ExitCodeValue,
} from '../src/core/errors.js';
export {
  ensureDir,
  isErrno,
  isExecutableFile,
  pathExists,
  processIsGone,
  writeFileAtomic,
  PRIVATE_FILE_MODE,
} from '../src/core/fsutil.js';
export { withFileLock, type LockOptions } from '../src/core/lock.js';
export { megabytes, progressLines, silentLogger, type Logger } from '../src/core/log.js';
export { MachineState, type MachineStateValue } from '../src/core/machine.js';
export { portAnswers } from '../src/core/tcp.js';
export { backoffDelay, formatDuration, notYet, NotYet, sleep, waitFor, type WaitOptions } from '../src/core/wait.js';
export type { SSHSession, SSHTarget } from '../src/core/ssh/index.js';
/** Quoting of a value as one POSIX shell word (free of ssh2: cheap to import). */
export { shellQuote } from '../src/core/ssh/quote.js';

/** This module: what moor hands an npm driver package's load() (see NpmDriverDefinition). */
export type DriverApi = typeof import('./api.js');

/**
 * The default export of an npm driver package `moor-driver-NAME`: a DriverDefinition whose load() receives
 * moor's driver API, so that the package needs no runtime import of moor (which may not be resolvable
 * from where the package is installed) and uses the very classes of the moor that runs it.
 */
export interface NpmDriverDefinition extends Omit<import('../src/core/driver.js').DriverDefinition, 'load'> {
  load(api: DriverApi): Promise<import('../src/core/driver.js').DriverFactory>;
}

/** moor's SSH layer (connect, keys, quoting), loaded on first use so that a driver's import stays cheap. */
export function loadSSH(): Promise<typeof import('../src/core/ssh/index.js')> {
  return import('../src/core/ssh/index.js');
}
