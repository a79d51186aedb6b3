import type { DriverDefinition } from '../api.js';

export const noneDriver: DriverDefinition = {
  name: 'none',
  description: 'An existing Docker engine at a URL; moor only records it (no SSH, no provisioning).',
  // No SSH: the docker CLI reaches the engine at its URL; moor has no way to carry the API over SSH.
  transports: ['tls'],
  flags: [
    {
      name: 'url',
      type: 'string',
      description: 'URL of the Docker engine, e.g. tcp://192.168.1.10:2376',
      env: ['MOOR_NONE_URL'],
      required: true,
    },
  ],
  load: async () => (await import('./driver.js')).factory,
  fromDockerMachine: (driver) => {
    const url = String(driver['URL'] ?? '');
    let host = '';
    try {
      host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
    } catch {
      throw new Error(`its URL ${JSON.stringify(url)} is not a URL`);
    }
    return { state: { MachineName: driver['MachineName'], URL: url, IPAddress: host } };
  },
};
