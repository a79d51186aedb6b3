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
};
