/**
 * What happens to one machine, each under the machine's lock: create (validate, prepare, act, commit:
 * the libmachine Create() pipeline), rm, start / stop / restart / kill (then wait for the state, and
 * re-issue the server certificate when a started host came back with a new address), provision,
 * upgrade and regenerate-certs. The store writes each record atomically; a create that fails after its
 * record exists either removes the host and the record again (drivers with removeOnFailedCreate) or
 * keeps the record with Phase error for "moor rm".
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { driverContext } from './driver-context.js';
import {
  type Driver,
  type DriverDefinition,
  type DriverFlagValues,
  ENGINE_TRANSPORTS,
  type EngineTransport,
} from './driver.js';
import { DEFAULT_DRIVER, findDriver } from '../../drivers/registry.js';
import type { CertPaths, ClientBundle, ExternalCertOptions } from './certs.js';
import type { ProvisionOptions, ProvisionResult, UpgradeResult } from './provision/provision.js';
import { resolveDriverFlags } from './driver-flags.js';
import {
  BadConfigError,
  ExitCode,
  InterruptedError,
  isInterrupt,
  MachineExistsError,
  MoorError,
  MultiError,
  NotSupportedError,
  PreCreateCheckError,
  TimeoutError,
  UsageError,
  exitCodeOf,
  messageOf,
} from './errors.js';
import { CERT_FILE_MODE, PRIVATE_FILE_MODE } from './fsutil.js';
import type { Logger } from './log.js';
import {
  assertValidName,
  assertValidNewName,
  CONFIG_VERSION,
  defaultEngineOptions,
  installMethodOf,
  type EngineOptions,
  MachineState,
  type MachineRecord,
  sshTimeoutMsOf,
  type MachineStateValue,
  transportOf,
} from './machine.js';
import { validateEngineConfig } from './provision/daemon-config.js';
import type { Store, StoredFile } from './store.js';
import { notYet, waitFor } from './wait.js';
import { isIP } from './values.js';

export interface Machine {
  record: MachineRecord;
  driver: Driver;
  dir: string;
}

export interface CreateOptions {
  name: string;
  /** Budget for SSH to answer after the driver created the host. */
  sshTimeoutMs?: number;
  /** The driver's name; undefined: moor's default driver (DEFAULT_DRIVER, qemu), said on the log. */
  driver?: string;
  driverFlags: DriverFlagValues;
  engine?: Partial<EngineOptions>;
  tlsSans?: string[];
  certs?: ExternalCertOptions;
  /**
   * Aborted when the user interrupts (Ctrl-C; its reason an InterruptedError). Create stops at the next
   * safe point: between its steps, in a wait, never in the middle of a script on the host or of a store
   * write. What it made is then rolled back as for a failed create, and the error says what was kept.
   */
  signal?: AbortSignal;
}

export async function openMachine(store: Store, name: string, log: Logger): Promise<Machine> {
  return machineFromRecord(store, await store.load(name), log);
}

/** A machine with its driver, from a record already loaded. */
export async function machineFromRecord(store: Store, record: MachineRecord, log: Logger): Promise<Machine> {
  const name = record.Name;
  let definition;
  try {
    definition = await findDriver(record.DriverName, { storePath: store.root, env: store.env });
  } catch (error) {
    if (error instanceof MoorError && error.code !== 'UNKNOWN_DRIVER') throw error;
    throw new BadConfigError(name, `unknown driver "${record.DriverName}"`, store.configPath(name));
  }
  const factory = await definition.load();
  const driver = factory.fromRecord(driverContext(store, name, log), record.Driver);
  return { record, driver, dir: store.machineDir(name) };
}

/**
 * `moor create`, as the pipeline it is: validate (everything that can be checked before anything exists),
 * prepare (the driver from its flags, the pre-create check, the CA and client certificates), act (the
 * record in the store, the host, its server certificate, provisioning), commit (Phase created). A failure
 * once the record exists goes through failedCreate: the host removed again, or the record kept as Error.
 */
export async function createMachine(store: Store, given: CreateOptions, log: Logger): Promise<MachineRecord> {
  const { signal } = given;
  if (!given.driver) log.info(`No driver given (--driver, MOOR_DRIVER): using ${DEFAULT_DRIVER}, moor's default.`);
  let stored: { record: MachineRecord; driver: Driver } | undefined;
  // The driver's state in the stored record, now (a cloud driver calls it as soon as it knows of an instance).
  const checkpoint = async () => {
    if (!stored) return;
    stored.record.Driver = stored.driver.toJSON();
    await store.save(stored.record);
  };
  let prepared;
  try {
    const { definition, flags, options } = await validateCreate(store, {
      ...given,
      driver: given.driver ?? DEFAULT_DRIVER,
    });
    signal?.throwIfAborted();
    prepared = { definition, options, ...(await prepareCreate(store, options, definition, flags, log, checkpoint)) };
    signal?.throwIfAborted();
  } catch (error) {
    if (isInterrupt(error)) throw interruptedBeforeRecord(given.name, error);
    throw error;
  }
  const { definition, options, driver, certPaths, bundle } = prepared;
  const record = newRecord(options, definition, driver, certPaths);
  return store.withMachineLock(options.name, 'create', async () => {
    if (driver.recordsOnly) return createRecord(store, record, driver, certPaths, bundle, log, signal);
    await store.add(record, clientCertFiles(bundle));
    stored = { record, driver };
    try {
      signal?.throwIfAborted();
      log.step(`Creating the machine with the ${definition.name} driver`);
      await driver.create();
    } catch (error) {
      throw await failedCreate(store, record, driver, error, { hostCreated: false }, log);
    }
    try {
      await setUpHost(store, record, driver, certPaths, options, log);
      record.Phase = 'created';
      await store.save(record);
      return record;
    } catch (error) {
      throw await failedCreate(store, record, driver, error, { hostCreated: true }, log);
    }
  });
}

/**
 * Create, for a driver whose create() makes nothing (the none driver): the machine is its record, so its
 * folder is written whole and final (Phase created, server certificate included), in one round of writes.
 * A failure or an interrupt leaves nothing behind.
 */
async function createRecord(
  store: Store,
  record: MachineRecord,
  driver: Driver,
  certPaths: CertPaths,
  bundle: ClientBundle,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<MachineRecord> {
  try {
    log.step(`Creating the machine with the ${record.DriverName} driver`);
    await driver.create();
    record.Driver = driver.toJSON();
    const serverFiles = await serverCertFiles(store, record, driver, certPaths, log);
    signal?.throwIfAborted();
    record.Phase = 'created';
    await store.add(record, [...clientCertFiles(bundle), ...serverFiles]);
    return record;
  } catch (error) {
    if (isInterrupt(error)) throw interruptedBeforeRecord(record.Name, error);
    if (error instanceof MoorError) throw error;
    throw new MoorError(`Creating machine "${record.Name}" failed: ${messageOf(error)} Nothing was created.`, {
      code: 'CREATE_FAILED',
      cause: error,
    });
  }
}

/** An interrupt before the record existed: nothing was made (the CA and client certificates are the store's). */
function interruptedBeforeRecord(name: string, error: MoorError): MoorError {
  return new MoorError(`Creating machine "${name}" was interrupted (${signalOf(error)}): nothing was created.`, {
    code: error.code,
    exitCode: error.exitCode,
    cause: error,
  });
}

/** The signal of the InterruptedError in the error or its causes (a driver wraps it in its rollback's error). */
function signalOf(error: unknown): string {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof InterruptedError) return cause.signal;
  }
  return 'interrupt';
}

/** What an interrupted step added to "Interrupted (SIGINT)." (a driver's rollback: what it removed). */
function interruptDetail(error: MoorError): string {
  const rest = error.message.replace(/^Interrupted \([A-Z]+\)\.\s*/, '');
  return rest ? ` ${rest}` : '';
}

/**
 * Create, step 1: what can be checked before anything exists: the name (a hostname: at most 63
 * characters), the driver and its flags, the engine options (through the code that renders daemon.json, so
 * that provisioning cannot reject them later), the transport against the driver's, the TLS names. The
 * checks that need the driver object (its SSH key, its cloud credentials) are the pre-create check's.
 * Returns the options with the engine transport filled in: the one given, else the driver's default.
 */
async function validateCreate(
  store: Store,
  given: CreateOptions,
): Promise<{ definition: DriverDefinition; flags: DriverFlagValues; options: CreateOptions }> {
  assertValidNewName(given.name);
  const definition = await findDriver(
    given.driver ?? DEFAULT_DRIVER,
    { storePath: store.root, env: store.env },
    { withFlags: true },
  );
  const flags = resolveDriverFlags(definition, given.driverFlags, store.env);
  const transport = given.engine?.Transport ?? definition.defaultTransport?.(flags);
  const options: CreateOptions = transport ? { ...given, engine: { ...given.engine, Transport: transport } } : given;
  const engine = { ...defaultEngineOptions(), ...options.engine };
  validateEngineConfig(engine, definition.name);
  assertTransportSupported(definition, transportOf(engine));
  const { splitHosts } = await import('./certs.js');
  splitHosts(options.tlsSans ?? []);
  if (await store.exists(options.name)) throw new MachineExistsError(options.name);
  return { definition, flags, options };
}

function assertTransportSupported(definition: DriverDefinition, transport: EngineTransport): void {
  const supported = definition.transports ?? ENGINE_TRANSPORTS;
  if (supported.includes(transport)) return;
  const others = supported.length === 1 ? `${supported[0]} only` : supported.join(' and ');
  throw new UsageError(
    `--engine-transport ${transport} is not supported by the ${definition.name} driver: it supports ${others}.`,
    [
      supported.length === 1
        ? `Leave out --engine-transport (or give --engine-transport ${supported[0]}).`
        : `Use --engine-transport ${supported.join(' or ')}.`,
    ],
    'TRANSPORT_NOT_SUPPORTED',
  );
}

/**
 * Create, step 2: the driver from its flags, the checks that need it (install options for a provisioned
 * host, the driver's pre-create check), then the store's CA and client certificates.
 */
async function prepareCreate(
  store: Store,
  options: CreateOptions,
  definition: DriverDefinition,
  flags: DriverFlagValues,
  log: Logger,
  checkpoint: () => Promise<void>,
): Promise<{ driver: Driver; certPaths: CertPaths; bundle: ClientBundle }> {
  const factory = await definition.load();
  const engine = { ...defaultEngineOptions(), ...options.engine };
  const engineTransport = transportOf(engine);
  const driver = factory.fromFlags(
    driverContext(store, options.name, log, {
      engineTransport,
      ...(options.signal ? { signal: options.signal } : {}),
      checkpoint,
      ...(options.sshTimeoutMs ? { sshTimeoutMs: options.sshTimeoutMs } : {}),
      ...(engineTransport === 'ssh'
        ? { firstBootScript: await firstBootScript(options.name, engine, definition) }
        : {}),
    }),
    flags,
  );
  if (driver.provisions) {
    // What can be checked before the host's OS is known: method, install URL and version agree.
    const { validateInstallOptions } = await import('./provision/plan.js');
    const engine = options.engine ?? {};
    validateInstallOptions({
      installMethod: installMethodOf(engine),
      installUrl: engine.InstallURL ?? '',
      ...(engine.Version ? { engineVersion: engine.Version } : {}),
    });
  }
  log.step('Running pre-create checks');
  try {
    await driver.preCreateCheck();
  } catch (error) {
    if (error instanceof MoorError)
      throw error.exitCode === 1 ? new PreCreateCheckError(error.message, error.suggestions, error) : error;
    throw new PreCreateCheckError(messageOf(error), [], error);
  }

  log.step('Checking the CA and client certificates');
  const certs = await import('./certs.js');
  const { paths: certPaths, bundle } = await certs.ensureClientBundle(store, options.certs);
  return { driver, certPaths, bundle };
}

/**
 * The engine's configuration as a script a new VM runs at its first boot (DriverContext.firstBootScript).
 * Only for the ssh transport: with TLS the engine needs its server certificate, which names the host's
 * address, known to some drivers only once the host has booted.
 */
async function firstBootScript(name: string, engine: EngineOptions, definition: DriverDefinition): Promise<string> {
  const { buildFirstBootScript } = await import('./provision/plan.js');
  // The port is not used: the ssh transport has no TCP listener.
  return buildFirstBootScript({ machineName: name, engine, enginePort: 2376, driverName: definition.name });
}

/** The client certificates as the machine folder's DOCKER_CERT_PATH files. */
function clientCertFiles(bundle: ClientBundle): StoredFile[] {
  return [
    { name: 'ca.pem', data: bundle.ca, mode: CERT_FILE_MODE },
    { name: 'cert.pem', data: bundle.cert, mode: CERT_FILE_MODE },
    { name: 'key.pem', data: bundle.key, mode: PRIVATE_FILE_MODE },
  ];
}

/** The record a create starts with (Phase creating). */
function newRecord(
  options: CreateOptions,
  definition: DriverDefinition,
  driver: Driver,
  certPaths: CertPaths,
): MachineRecord {
  return {
    ConfigVersion: CONFIG_VERSION,
    Name: options.name,
    DriverName: definition.name,
    CreatedAt: new Date().toISOString(),
    Phase: 'creating',
    ...(options.sshTimeoutMs ? { SSHTimeout: Math.ceil(options.sshTimeoutMs / 1000) } : {}),
    Driver: driver.toJSON(),
    HostOptions: {
      EngineOptions: { ...defaultEngineOptions(), ...options.engine },
      AuthOptions: {
        ServerCertSANs: options.tlsSans ?? [],
        ...(options.certs?.caCert ? { CaCertPath: certPaths.caCert, CaPrivateKeyPath: certPaths.caKey } : {}),
      },
    },
  };
}

/** Create, step 3 once the driver made the host: its state recorded, its server certificate, provisioning. */
async function setUpHost(
  store: Store,
  record: MachineRecord,
  driver: Driver,
  certPaths: CertPaths,
  options: CreateOptions,
  log: Logger,
): Promise<void> {
  record.Driver = driver.toJSON();
  options.signal?.throwIfAborted();
  await issueServerCert(store, record, driver, certPaths, log);
  if (driver.provisions) {
    await store.save(record);
    options.signal?.throwIfAborted();
    await provision(
      store,
      record,
      driver,
      {
        sshTimeoutMs: options.sshTimeoutMs ?? sshTimeoutMsOf(record),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      log,
    );
  }
}

/**
 * A create failed once its record existed: the error to throw. When the driver made the host and wants
 * failed creates undone (removeOnFailedCreate), the host and the record are removed; otherwise (or when
 * that removal fails) the record is kept with Phase error and the failure, for "moor rm".
 */
async function failedCreate(
  store: Store,
  record: MachineRecord,
  driver: Driver,
  error: unknown,
  { hostCreated }: { hostCreated: boolean },
  log: Logger,
): Promise<MoorError> {
  if (isInterrupt(error)) return interruptedCreate(store, record, driver, error, { hostCreated }, log);
  const name = record.Name;
  const code = error instanceof MoorError ? error.code : 'CREATE_FAILED';
  const exitCode = error instanceof MoorError ? error.exitCode : 1;
  const suggestions = error instanceof MoorError ? error.suggestions : [];
  if (hostCreated && driver.removeOnFailedCreate && (await removeFailedHost(store, name, driver, error, log))) {
    return new MoorError(`Creating machine "${name}" failed: ${messageOf(error)} The machine was removed again.`, {
      code,
      exitCode,
      suggestions,
      cause: error,
    });
  }
  record.Phase = 'error';
  record.LastError = messageOf(error);
  record.Driver = safeDriverState(driver, record.Driver);
  await store.save(record);
  return new MoorError(`Creating machine "${name}" failed: ${messageOf(error)}`, {
    code,
    exitCode,
    suggestions: [
      `The record is kept with state Error. Remove it with "moor rm -y ${name}" and create it again.`,
      ...suggestions,
    ],
    cause: error,
  });
}

/**
 * A create the user interrupted once its record existed. A driver that removes failed creates (a cloud
 * instance) removes what it made, record included, also when the interrupt came while it was making it
 * (it rolled back then; remove() finishes whatever the rollback left). Otherwise the record is kept with
 * Phase error, and the error says what was kept and what to run.
 */
async function interruptedCreate(
  store: Store,
  record: MachineRecord,
  driver: Driver,
  error: MoorError,
  { hostCreated }: { hostCreated: boolean },
  log: Logger,
): Promise<MoorError> {
  const name = record.Name;
  const interrupted = `Creating machine "${name}" was interrupted (${signalOf(error)})`;
  const detail = interruptDetail(error);
  if (driver.removeOnFailedCreate && (await removeFailedHost(store, name, driver, error, log, 'was interrupted'))) {
    return new MoorError(`${interrupted}.${detail} What it had made was removed: nothing is left.`, {
      code: error.code,
      exitCode: error.exitCode,
      cause: error,
    });
  }
  record.Phase = 'error';
  record.LastError = `${interrupted}.`;
  record.Driver = safeDriverState(driver, record.Driver);
  await store.save(record);
  const kept = driver.removeOnFailedCreate
    ? `the record (state Error) and what the driver could not remove`
    : hostCreated
      ? `the record (state Error) and the host, ${driver.provisions ? 'perhaps partly provisioned' : 'as it is'}`
      : 'the record (state Error)';
  return new MoorError(`${interrupted}.${detail} Kept: ${kept}.`, {
    code: error.code,
    exitCode: error.exitCode,
    suggestions: [
      ...(hostCreated && driver.provisions && !driver.removeOnFailedCreate
        ? [`Finish setting it up with "moor provision ${name}", or remove it with "moor rm -y ${name}".`]
        : [`Remove it with "moor rm -f -y ${name}" and create it again.`]),
      ...error.suggestions,
    ],
    cause: error,
  });
}

/**
 * A create failed after the driver made the host: removes the host (driver.remove) and the record. Returns
 * false, keeping the record for "moor rm", when the driver could not remove the host.
 */
async function removeFailedHost(
  store: Store,
  name: string,
  driver: Driver,
  cause: unknown,
  log: Logger,
  what = `failed (${messageOf(cause)})`,
) {
  log.warn(`Creating "${name}" ${what}: removing what was created`);
  try {
    await driver.remove();
  } catch (error) {
    log.warn(`Could not remove the host of "${name}": ${messageOf(error)}`);
    return false;
  }
  await store.remove(name);
  return true;
}

/** Writes server.pem and server-key.pem for the machine's address and its --tls-san names. */
async function issueServerCert(
  store: Store,
  record: MachineRecord,
  driver: Driver,
  caPaths: Pick<CertPaths, 'caCert' | 'caKey'>,
  log: Logger,
): Promise<void> {
  const files = await serverCertFiles(store, record, driver, caPaths, log);
  if (files.length > 0) await store.writeMachineFiles(record.Name, files);
}

/** server.pem and server-key.pem for the machine's address and its --tls-san names (none without either). */
async function serverCertFiles(
  store: Store,
  record: MachineRecord,
  driver: Driver,
  caPaths: Pick<CertPaths, 'caCert' | 'caKey'>,
  log: Logger,
): Promise<StoredFile[]> {
  const hosts = await serverCertHosts(driver, record.HostOptions.AuthOptions.ServerCertSANs);
  if (hosts.length === 0) return [];
  log.step('Issuing the server certificate');
  const { generateServerCert } = await import('./certs.js');
  const server = await generateServerCert(caPaths, hosts, record.Name, store.env);
  return [
    { name: 'server.pem', data: server.certPem, mode: CERT_FILE_MODE },
    { name: 'server-key.pem', data: server.keyPem, mode: PRIVATE_FILE_MODE },
  ];
}

/**
 * `moor regenerate-certs`: a new server certificate (for the machine's current address and its --tls-san
 * names), installed on the host by provisioning. With `clientCerts` (the store's new CA and client
 * certificate, see rotateStoreCerts), the machine's copies of those are replaced too, so the old client
 * certificate stops working on this machine.
 */
export async function regenerateMachineCerts(
  store: Store,
  name: string,
  options: { clientCerts?: CertPaths; sshTimeoutMs?: number },
  log: Logger,
): Promise<void> {
  await store.withMachineLock(name, 'regenerate-certs', async () => {
    const { record, driver } = await openMachine(store, name, log);
    const certs = await import('./certs.js');
    const external = externalCaOf(record);
    const caPaths = external
      ? await certs.ensureClientCerts(store, external)
      : (options.clientCerts ?? (await certs.ensureClientCerts(store)));
    if (options.clientCerts && !external) {
      const bundle = await certs.readClientBundle(options.clientCerts);
      await store.writeMachineFiles(name, clientCertFiles(bundle));
    }
    await issueServerCert(store, record, driver, caPaths, log);
    if (driver.provisions) {
      await provision(
        store,
        record,
        driver,
        { ...(options.sshTimeoutMs ? { sshTimeoutMs: options.sshTimeoutMs } : {}) },
        log,
      );
      await store.save(record);
    }
  });
}

/** The CA the machine was created with when it is not the store's own (--tls-ca-cert and --tls-ca-key). */
function externalCaOf(record: MachineRecord): ExternalCertOptions | undefined {
  const auth = record.HostOptions.AuthOptions;
  return auth.CaCertPath && auth.CaPrivateKeyPath
    ? { caCert: auth.CaCertPath, caKey: auth.CaPrivateKeyPath }
    : undefined;
}

/**
 * After a start: when the driver reports an address the server certificate does not name (a cloud
 * instance gets a new public IP after stop and start), a new server certificate is issued and installed
 * by provisioning, so that TLS keeps working. Nothing happens when the address is unchanged.
 */
async function refreshServerCertIfMoved(store: Store, machine: Machine, log: Logger): Promise<boolean> {
  const { record, driver } = machine;
  if (record.Phase !== 'created' || transportOf(record.HostOptions.EngineOptions) !== 'tls') return false;
  const ip = await driver.getIP().catch(() => '');
  if (!ip) return false;
  let pem: string;
  try {
    pem = await readFile(join(machine.dir, 'server.pem'), 'utf8');
  } catch {
    return false;
  }
  const certs = await import('./certs.js');
  const named = certs.describeCertificate(pem);
  if (named.ipAddresses.includes(ip) || named.dnsNames.includes(ip)) return false;
  log.step(`"${record.Name}" has a new address (${ip}): issuing and installing a new server certificate`);
  await issueServerCert(store, record, driver, await certs.ensureClientCerts(store, externalCaOf(record)), log);
  if (driver.provisions) await provision(store, record, driver, {}, log);
  return true;
}

/** The machine's IP or DNS name plus --tls-san values; empty when the endpoint has no host (unix socket). */
async function serverCertHosts(driver: Driver, sans: string[]): Promise<string[]> {
  const ip = await driver.getIP().catch(() => '');
  if (!ip && sans.length === 0) return [];
  return [...new Set([ip, ...sans].filter(Boolean))].sort((a, b) => Number(isIP(b) > 0) - Number(isIP(a) > 0));
}

function safeDriverState(driver: Driver, previous: Record<string, unknown>): Record<string, unknown> {
  try {
    return driver.toJSON();
  } catch {
    return previous;
  }
}

/** Provisions a machine and records the result (host key pinned as soon as it is seen). Call under its lock. */
async function provision(
  store: Store,
  record: MachineRecord,
  driver: Driver,
  options: Omit<ProvisionOptions, 'onHostKey'>,
  log: Logger,
): Promise<ProvisionResult> {
  const { provisionMachine } = await import('./provision/provision.js');
  const result = await provisionMachine(
    record,
    driver,
    store.machineDir(record.Name),
    {
      ...options,
      sshTimeoutMs: options.sshTimeoutMs ?? sshTimeoutMsOf(record),
      onHostKey: async (hostKey) => {
        if (record.SSHHostKey === hostKey) return;
        record.SSHHostKey = hostKey;
        await store.save(record);
      },
    },
    log,
  );
  record.Provision = { OS: result.os, EngineVersion: result.engineVersion, At: new Date().toISOString() };
  return result;
}

/** The error for provisioning (or upgrading) a machine moor does not provision. */
function notProvisioned(driver: Driver, operation: string, driverName: string): MoorError {
  if (!driver.provisionRefusal) return new NotSupportedError(operation, driverName);
  return new MoorError(`"${operation}": ${driver.provisionRefusal}`, {
    code: 'NOT_SUPPORTED',
    exitCode: ExitCode.notSupported,
  });
}

/** `moor provision`: installs and configures Docker again on an existing machine; safe to repeat. */
export async function reprovisionMachine(
  store: Store,
  name: string,
  options: Omit<ProvisionOptions, 'onHostKey'>,
  log: Logger,
): Promise<ProvisionResult> {
  return store.withMachineLock(name, 'provision', async () => {
    const { record, driver } = await openMachine(store, name, log);
    if (!driver.provisions) throw notProvisioned(driver, 'provision', record.DriverName);
    const result = await provision(store, record, driver, options, log);
    if (record.Phase === 'error') {
      record.Phase = 'created';
      delete record.LastError;
    }
    await store.save(record);
    return result;
  });
}

/** `moor upgrade`: upgrades the engine with the method it was installed with, and records its new version. */
export async function upgradeMachine(
  store: Store,
  name: string,
  options: { sshTimeoutMs?: number },
  log: Logger,
): Promise<UpgradeResult> {
  return store.withMachineLock(name, 'upgrade', async () => {
    const { record, driver } = await openMachine(store, name, log);
    if (!driver.provisions) throw notProvisioned(driver, 'upgrade', record.DriverName);
    const { upgradeEngine } = await import('./provision/provision.js');
    const result = await upgradeEngine(
      record,
      driver,
      store.machineDir(name),
      { ...options, sshTimeoutMs: options.sshTimeoutMs ?? sshTimeoutMsOf(record) },
      log,
    );
    record.Provision = {
      OS: record.Provision?.OS ?? '',
      EngineVersion: result.engineVersion,
      At: new Date().toISOString(),
    };
    await store.save(record);
    return result;
  });
}

export interface RemoveOptions {
  force: boolean;
}

/** Removes the machine (driver first, then the record). With force, a driver failure does not keep the record. */
export async function removeMachine(store: Store, name: string, options: RemoveOptions, log: Logger): Promise<void> {
  assertValidName(name);
  await store.withMachineLock(name, 'rm', async () => {
    let machine: Machine | undefined;
    try {
      machine = await openMachine(store, name, log);
    } catch (error) {
      if (!(error instanceof BadConfigError) || !options.force) throw error;
      log.warn(`Machine "${name}": ${error.message} Removing the local record only.`);
    }
    await store.assertRemovable(name); // the host is kept when its record could not be removed after it
    if (machine) {
      try {
        log.step(`Removing machine "${name}" (${machine.record.DriverName} driver)`);
        await machine.driver.remove();
      } catch (error) {
        // What the driver suggests (the resources it left, how to remove them) is kept in both cases.
        const suggestions = error instanceof MoorError ? error.suggestions : [];
        if (!options.force) {
          throw new MoorError(`Could not remove machine "${name}": ${messageOf(error)}`, {
            code: 'REMOVE_FAILED',
            exitCode: exitCodeOf(error),
            suggestions: [...suggestions, `Run "moor rm -f ${name}" to remove the local record anyway.`],
            cause: error,
          });
        }
        const text = messageOf(error);
        log.warn(
          `Machine "${name}": ${/[.!?]$/.test(text) ? text : `${text}.`} Removing the local record anyway (--force).`,
        );
        for (const suggestion of suggestions) log.warn(suggestion);
      }
    }
    await store.remove(name);
  });
}

export type StateOperation = 'start' | 'stop' | 'restart' | 'kill';

const TARGET_STATE: Record<StateOperation, MachineStateValue> = {
  start: MachineState.Running,
  stop: MachineState.Stopped,
  restart: MachineState.Running,
  kill: MachineState.Stopped,
};

const PROGRESS: Record<StateOperation, string> = {
  start: 'Starting',
  stop: 'Stopping',
  restart: 'Restarting',
  kill: 'Killing',
};

export async function changeState(
  store: Store,
  name: string,
  operation: StateOperation,
  log: Logger,
  timeoutMs = 300_000,
): Promise<MachineStateValue> {
  return store.withMachineLock(name, operation, async () => {
    const machine = await openMachine(store, name, log);
    const target = TARGET_STATE[operation];
    if (!machine.driver.supports(operation)) throw new NotSupportedError(operation, machine.record.DriverName);
    if (operation !== 'restart') {
      const current = await machine.driver.getState();
      if (current === target) {
        throw new MoorError(`Machine "${name}" is already ${target.toLowerCase()}.`, { code: 'ALREADY_IN_STATE' });
      }
    }
    log.step(`${PROGRESS[operation]} "${name}"`);
    await machine.driver[operation]();
    const state = await waitForState(machine.driver, target, timeoutMs, name);
    const updated = machine.driver.toJSON();
    const driverChanged = JSON.stringify(updated) !== JSON.stringify(machine.record.Driver);
    machine.record.Driver = updated;
    const recertified = target === MachineState.Running && (await refreshServerCertIfMoved(store, machine, log));
    if (driverChanged || recertified) await store.save(machine.record);
    return state;
  });
}

/** Polls the driver until the machine is in `target` (250 ms doubling up to 5 s between queries). */
export async function waitForState(
  driver: Driver,
  target: MachineStateValue,
  timeoutMs: number,
  name: string,
): Promise<MachineStateValue> {
  return waitFor(
    async () => {
      const state = await driver.getState();
      return state === target ? state : notYet(state);
    },
    {
      what: `machine "${name}" to be ${target}`,
      timeoutMs,
      jitter: false,
      onTimeout: ({ reason: state }) => {
        throw new TimeoutError(
          `Machine "${name}" did not reach state ${target} in ${Math.round(timeoutMs / 1000)} s (it is ${(state as string) || 'unknown'}).`,
        );
      },
    },
  );
}

/** Runs `fn` for every name in parallel; returns the results in order, or throws a MultiError naming each failure. */
export async function forEachMachine<T>(
  names: string[],
  fn: (name: string) => Promise<T>,
): Promise<{ name: string; result: T }[]> {
  return forEachMachineInWaves([names], fn);
}

/**
 * As forEachMachine, one wave after the other (the machines of a wave in parallel): for work whose order
 * matters between machines (the workers of a swarm removed before its managers). A failure does not stop
 * the later waves; results and failures come in the order of the waves.
 */
export async function forEachMachineInWaves<T>(
  waves: string[][],
  fn: (name: string) => Promise<T>,
): Promise<{ name: string; result: T }[]> {
  const outcomes = new Map<string, PromiseSettledResult<T>>();
  for (const wave of waves) {
    const settled = await Promise.allSettled(wave.map((name) => fn(name)));
    settled.forEach((outcome, index) => outcomes.set(wave[index]!, outcome));
  }
  const failures: { name: string; error: Error }[] = [];
  const results: { name: string; result: T }[] = [];
  for (const name of waves.flat()) {
    const outcome = outcomes.get(name)!;
    if (outcome.status === 'fulfilled') results.push({ name, result: outcome.value });
    else
      failures.push({
        name,
        error: outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason)),
      });
  }
  if (failures.length === 1 && outcomes.size === 1) throw failures[0]!.error;
  if (failures.length > 0) throw new MultiError(failures, results);
  return results;
}
