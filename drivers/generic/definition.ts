import type { DriverDefinition } from '../api.js';

export const genericDriver: DriverDefinition = {
  name: 'generic',
  description: 'Any existing Linux server reachable over SSH; moor installs and configures Docker on it.',
  flags: [
    {
      name: 'generic-ip-address',
      type: 'string',
      description: 'IP address or DNS name of the server',
      env: ['MOOR_GENERIC_IP_ADDRESS', 'GENERIC_IP_ADDRESS'],
      required: true,
    },
    {
      name: 'generic-ssh-user',
      type: 'string',
      description: 'SSH user (root, or a user with passwordless sudo)',
      env: ['MOOR_GENERIC_SSH_USER', 'GENERIC_SSH_USER'],
      default: 'root',
    },
    {
      name: 'generic-ssh-key',
      type: 'string',
      description:
        "Private key for SSH (copied into the machine folder; must not be readable by others). Without it, moor logs in with your SSH agent once and installs a key of the machine's own",
      env: ['MOOR_GENERIC_SSH_KEY', 'GENERIC_SSH_KEY'],
    },
    {
      name: 'generic-ssh-port',
      type: 'integer',
      description: 'SSH port',
      env: ['MOOR_GENERIC_SSH_PORT', 'GENERIC_SSH_PORT'],
      default: 22,
    },
    {
      name: 'generic-engine-port',
      type: 'integer',
      description: 'Port of the Docker engine TLS listener',
      env: ['MOOR_GENERIC_ENGINE_PORT', 'GENERIC_ENGINE_PORT'],
      default: 2376,
    },
  ],
  load: async () => (await import('./driver.js')).factory,
  // Docker Machine's generic driver keeps the key it copied as machines/NAME/id_rsa.
  fromDockerMachine: (driver) => ({
    state: {
      MachineName: driver['MachineName'],
      IPAddress: String(driver['IPAddress'] ?? ''),
      SSHUser: String(driver['SSHUser'] || 'root'),
      SSHPort: Number(driver['SSHPort'] || 22),
      SSHKeyPath: 'id_rsa',
      EnginePort: Number(driver['EnginePort'] || 2376),
    },
  }),
};
