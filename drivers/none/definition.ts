import type { DriverDefinition } from '../api.js';

export const noneDriver: DriverDefinition = {
  name: 'none',
  description: 'An existing Docker engine at a URL; moor only records it (no SSH, no provisioning).',
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
