// esbuild plugin: inside @oclif/core (CommonJS), turn top-level `const x = require("…")` into lazy
// proxies, so that a command that never shows help or a spinner does not evaluate help, ejs, semver,
// minimatch, nor Node's own child_process, readline, perf_hooks, crypto... at startup.
import { readFile } from 'node:fs/promises';

const LINE = /^(const|var) (\w+) = (__importDefault\(|__importStar\()?require\("([^"]+)"\)\)?;$/gm;
const EXPORT_LINE = /^exports\.(\w+) = (__importStar\()?require\("([^"]+)"\)\)?;$/gm;

const HELPER = `
function __moorLazy(load) {
  let loaded;
  const target = () => (loaded ??= load());
  return new Proxy({}, {
    get: (_, key) => target()[key],
    has: (_, key) => key in target(),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    set: (_, key, value) => { target()[key] = value; return true; },
  });
}
`;

/**
 * `patches`: exact text replacements in matching files ({ file: RegExp, find, replace }); the build fails
 * when `find` is not there (an oclif update changed it), rather than silently losing the patch.
 */
export function lazyRequirePlugin({
  filter = /node_modules[\\/]@oclif[\\/]core[\\/]lib[\\/].*\.js$/,
  patches = [],
} = {}) {
  return {
    name: 'moor-lazy-require',
    setup(build) {
      build.onLoad({ filter }, async (args) => {
        let source = await readFile(args.path, 'utf8');
        let changed = false;
        for (const patch of patches.filter(({ file }) => file.test(args.path))) {
          if (!source.includes(patch.find))
            throw new Error(`patch not applicable: "${patch.find}" not in ${args.path}`);
          source = source.replace(patch.find, patch.replace);
          changed = true;
        }
        source = source.replace(LINE, (line, kind, name, wrapper, request) => {
          changed = true;
          const call = wrapper ? `${wrapper}require("${request}"))` : `require("${request}")`;
          return `${kind} ${name} = __moorLazy(() => ${call});`;
        });
        source = source.replace(EXPORT_LINE, (line, name, wrapper, request) => {
          changed = true;
          const call = wrapper ? `${wrapper}require("${request}"))` : `require("${request}")`;
          return `exports.${name} = __moorLazy(() => ${call});`;
        });
        if (!changed) return undefined;
        return { contents: `${HELPER}\n${source}`, loader: 'js' };
      });
    },
  };
}
