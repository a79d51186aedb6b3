/**
 * The explicit list of drivers moor knows, and the core's only way to reach a driver. Adding a driver means
 * adding one line here. The contract's types come along, so that code outside drivers/ needs no other import.
 */
import { type DriverDefinition, UsageError } from './api.js';
import { amazonec2Driver } from './amazonec2/definition.js';
import { genericDriver } from './generic/definition.js';
import { noneDriver } from './none/definition.js';
import { qemuDriver } from './qemu/definition.js';
import { virtualboxDriver } from './virtualbox/definition.js';

export const DRIVERS: ReadonlyMap<string, DriverDefinition> = new Map([
  [noneDriver.name, noneDriver],
  [genericDriver.name, genericDriver],
  [amazonec2Driver.name, amazonec2Driver],
  [virtualboxDriver.name, virtualboxDriver],
  [qemuDriver.name, qemuDriver],
]);

/** The driver of a create that names none (no --driver, no MOOR_DRIVER): a local QEMU VM. */
export const DEFAULT_DRIVER = qemuDriver.name;

export function driverNames(): string[] {
  return [...DRIVERS.keys()];
}

export function getDriverDefinition(name: string): DriverDefinition {
  const definition = DRIVERS.get(name);
  if (!definition) {
    throw new UsageError(
      `Driver "${name}" not found. Available drivers: ${driverNames().join(', ')}.`,
      ['Run "moor create --help" to see every driver and its flags.'],
      'UNKNOWN_DRIVER',
    );
  }
  return definition;
}

/**
 * Adds a driver at run time: for programs that embed moor's core, and for tests that need a driver with
 * controlled behaviour. The CLI's own drivers are the list above.
 */
export function registerDriver(definition: DriverDefinition): void {
  (DRIVERS as Map<string, DriverDefinition>).set(definition.name, definition);
}

export type { Driver, DriverContext, DriverDefinition, DriverFlag, DriverFlagValues } from './api.js';
