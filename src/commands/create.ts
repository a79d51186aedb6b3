import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { sshTimeoutFlag } from '../cli/flags.js';
import type { Interfaces } from '@oclif/core';
import { allDriverFlags } from '../cli/driver-flags.js';
import { CLASSIC_SWARM_LISTS, CLASSIC_SWARM_STRINGS } from '../cli/create.js';
import { DEFAULT_DRIVER, DRIVERS, driverNames, type DriverDefinition } from '../../drivers/registry.js';

const engineFlag = (description: string) =>
  Flags.string({ description, multiple: true, multipleNonGreedy: true, helpGroup: 'ENGINE' });

export default class Create extends BaseCommand<typeof Create> {
  static override summary = 'Create a machine.';
  static override description =
    'Creates a Docker host with the chosen driver and records it in the store. Each driver has its own flags: see "moor create --driver NAME --help".';
  static override examples = [
    '<%= config.bin %> create dev',
    '<%= config.bin %> create --driver none --url tcp://192.168.1.10:2376 lab',
    'MOOR_DRIVER=none MOOR_NONE_URL=tcp://10.0.0.5:2376 <%= config.bin %> create ci-1',
  ];
  static override args = { name: Args.string({ description: 'Machine name', required: true }) };
  static override flags = {
    driver: Flags.string({
      char: 'd',
      description: `Driver that creates the host: ${driverNames().join(', ')} (default: ${DEFAULT_DRIVER}, a local QEMU VM)`,
      env: 'MOOR_DRIVER',
    }),
    'engine-install-url': Flags.string({
      description: 'Script that installs Docker',
      env: 'MOOR_ENGINE_INSTALL_URL',
      helpGroup: 'ENGINE',
    }),
    'engine-opt': engineFlag('Engine daemon option key=value (repeatable)'),
    'engine-env': engineFlag('Environment variable KEY=VALUE for the engine (repeatable)'),
    'engine-insecure-registry': engineFlag('Insecure registry to allow (repeatable)'),
    'engine-registry-mirror': engineFlag('Registry mirror (repeatable)'),
    'engine-label': engineFlag('Engine label key=value (repeatable)'),
    'engine-storage-driver': Flags.string({ description: 'Storage driver of the engine', helpGroup: 'ENGINE' }),
    'engine-install-method': Flags.string({
      description:
        "How to install Docker: packages (the distribution's), script (--engine-install-url), none (preinstalled)",
      options: ['packages', 'script', 'none'],
      env: 'MOOR_ENGINE_INSTALL_METHOD',
      helpGroup: 'ENGINE',
    }),
    'engine-transport': Flags.string({
      description:
        "How the docker CLI reaches the engine: tls (TCP port with client certificates) or ssh (no TCP port; through SSH). Default: the driver's: ssh for qemu on its user network, tls everywhere else",
      options: ['tls', 'ssh'],
      env: 'MOOR_ENGINE_TRANSPORT',
      helpGroup: 'ENGINE',
    }),
    'engine-socket': Flags.string({
      description:
        "The engine's Unix socket on the host, for an engine already there that listens elsewhere than /var/run/docker.sock (the ssh transport, moor docker and moor tunnel use it)",
      env: 'MOOR_ENGINE_SOCKET',
      helpGroup: 'ENGINE',
    }),
    'engine-version': Flags.string({
      description: "Docker version to install (package version prefix, or the install script's VERSION)",
      env: 'MOOR_ENGINE_VERSION',
      helpGroup: 'ENGINE',
    }),
    'ssh-timeout': sshTimeoutFlag('Seconds to wait for SSH to answer after the host is created'),
    'tls-san': Flags.string({
      description: 'Extra subject alternative name for the server certificate (repeatable)',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'TLS',
    }),
    'tls-ca-cert': Flags.string({
      description: "CA certificate to use instead of moor's own",
      env: 'MOOR_TLS_CA_CERT',
      helpGroup: 'TLS',
    }),
    'tls-ca-key': Flags.string({
      description: 'Private key of --tls-ca-cert',
      env: 'MOOR_TLS_CA_KEY',
      helpGroup: 'TLS',
    }),
    'tls-client-cert': Flags.string({
      description: 'Client certificate signed by that CA',
      env: 'MOOR_TLS_CLIENT_CERT',
      helpGroup: 'TLS',
    }),
    'tls-client-key': Flags.string({
      description: 'Private key of --tls-client-cert',
      env: 'MOOR_TLS_CLIENT_KEY',
      helpGroup: 'TLS',
    }),
    'swarm-manager': Flags.boolean({
      description: 'Start a Swarm mode cluster on the new machine (its first manager)',
      env: 'MOOR_SWARM_MANAGER',
      helpGroup: 'SWARM',
    }),
    'swarm-join': Flags.string({
      description: "Join the new machine to this manager's swarm",
      env: 'MOOR_SWARM_JOIN',
      helpGroup: 'SWARM',
    }),
    'swarm-role': Flags.string({
      description: 'Role with --swarm-join: worker (default) or manager',
      options: ['worker', 'manager'],
      env: 'MOOR_SWARM_ROLE',
      helpGroup: 'SWARM',
    }),
    'swarm-master': Flags.boolean({
      description: "Docker Machine's flag: the same as --swarm-manager",
      helpGroup: 'SWARM',
    }),
    swarm: Flags.boolean({ hidden: true }),
    'swarm-experimental': Flags.boolean({ hidden: true }),
    ...Object.fromEntries(CLASSIC_SWARM_STRINGS.map((name) => [name, Flags.string({ hidden: true })])),
    ...Object.fromEntries(
      CLASSIC_SWARM_LISTS.map((name) => [
        name,
        Flags.string({ hidden: true, multiple: true, multipleNonGreedy: true }),
      ]),
    ),
    ...allDriverFlags(),
  };

  /** A driver installed beside moor (npm package, plugin binary), when --driver names one. */
  private installed: DriverDefinition | undefined;

  protected override async moreFlags(): Promise<Interfaces.FlagInput> {
    const { requestedDriver, driverLookup, installedDriverFlags } = await import('../cli/driver-flags.js');
    const name = requestedDriver(this.argv);
    if (!name || DRIVERS.has(name)) return {};
    const { findDriver } = await import('../../drivers/registry.js');
    this.installed = await findDriver(name, await driverLookup(this.argv), { withFlags: true });
    return installedDriverFlags(this.installed, { ...Create.flags, ...Create.baseFlags });
  }

  async run() {
    const { createCommand } = await import('../cli/create.js');
    return createCommand(
      {
        ...this.everyday(),
        printErr: (text) => this.logToStderr(text.replace(/\n$/, '')),
        report: await this.reporter(),
      },
      this.flags,
      this.args.name,
      this.installed,
    );
  }
}
