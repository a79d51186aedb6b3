/**
 * The definition of a Docker Machine plugin driver found on disk: cheap (nothing is started or imported
 * until used). Its flags are the binary's GetCreateFlags, fetched by loadFlags() for create and
 * `create -d NAME --help` only.
 */
import type { DriverDefinition } from '../api.js';
import type { PluginBinary } from './driver.js';

/** The file name of driver NAME's plugin binary. */
export const PLUGIN_BINARY_PREFIX = 'docker-machine-driver-';

export function pluginDefinition(plugin: PluginBinary): DriverDefinition {
  const definition: DriverDefinition = {
    name: plugin.name,
    description: `Docker Machine plugin driver (${plugin.binary})`,
    flags: [],
    source: { kind: 'plugin', path: plugin.binary },
    loadFlags: async (env) => {
      definition.flags = await (await import('./driver.js')).pluginCreateFlags(plugin, env);
      return definition.flags;
    },
    load: async () => (await import('./driver.js')).pluginFactory(plugin, () => definition.flags),
  };
  return definition;
}
