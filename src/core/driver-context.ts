/**
 * What a driver gets from the store: its own folder, the cache folder, store-wide locks and a read-only
 * view of the other machines. The one place that turns store paths into a DriverContext.
 */
import type { DriverContext, OtherMachine } from './driver.js';
import type { Logger } from './log.js';
import type { Store } from './store.js';

export function driverContext(
  store: Store,
  name: string,
  log: Logger,
  extra: Pick<DriverContext, 'engineTransport' | 'signal' | 'checkpoint' | 'sshTimeoutMs' | 'firstBootScript'> = {},
): DriverContext {
  return {
    machineName: name,
    machineDir: store.machineDir(name),
    cacheDir: store.cacheDir,
    log,
    env: store.env,
    ...extra,
    withLock: (key, options, fn) =>
      store.withLock(key, options.operation, fn, options.subject ?? key, options.timeoutMs),
    otherMachines: async () => {
      const loaded = await store.loadAll();
      return loaded
        .filter((entry) => entry.name !== name)
        .map((entry): OtherMachine => ({
          name: entry.name,
          dir: store.machineDir(entry.name),
          ...(entry.record ? { driverName: entry.record.DriverName, driverState: entry.record.Driver } : {}),
        }));
    },
  };
}
