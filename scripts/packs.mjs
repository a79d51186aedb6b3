// moor's code as CommonJS packs (loaded by scripts/pack-loader.cjs, each through V8's code cache): an entry
// (src/fast.ts, src/main.ts...) bundled by esbuild with code splitting (one chunk per module imported on
// demand, and one per set of modules such chunks share), each chunk turned into a CommonJS function, and the
// functions written into pack files in dist/:
//   dist/<name>.cjs           the entry and the chunks that go with it (`pack(core)`: for the fast path, the
//                             chunks the everyday commands ran at build time; for the CLI, the chunks the entry
//                             imports statically), read by every command that starts there;
//   dist/<name>-<chunk>.cjs   each other chunk (a driver, create, certificates, provisioning...), read on use.
// A pack is one object literal, `({ "<chunk>": (function (exports, require, module, __moorImportMetaUrl)
// {...}), ... })`: one script for V8's code cache, and each chunk function is compiled with the pack (the
// parentheses), so that its cache holds them.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build, transform } from 'esbuild';

/**
 * Bundles `entryPoints` ({ packName: source }, the first one named `name`) with `options` (esbuild's,
 * without format and output) and returns the chunks and `pack(core)`, which writes the packs (core: the
 * chunk ids that go into dist/<name>.cjs with the entry).
 */
export async function buildPacks(root, { name, entryPoints, options }) {
  const dist = join(root, 'dist');
  const result = await build({
    ...options,
    absWorkingDir: root,
    entryPoints,
    format: 'esm',
    splitting: true,
    outdir: dist,
    chunkNames: `${name}-[name]-[hash]`,
    write: false,
    metafile: true,
  });
  const chunks = new Map();
  for (const output of result.outputFiles) {
    const id = basename(output.path, '.js');
    // import and export become require() and module.exports; import() becomes a require() (run on use).
    const { code } = await transform(output.text, {
      format: 'cjs',
      platform: 'node',
      target: options.target,
      supported: { 'dynamic-import': false },
      minifySyntax: true,
      minifyWhitespace: true,
    });
    chunks.set(id, plainInterop(id, code));
  }
  // Each chunk's static imports of other chunks (from esbuild's metafile; import() calls are not among them).
  const staticImports = new Map();
  for (const [path, output] of Object.entries(result.metafile.outputs)) {
    if (!path.endsWith('.js')) continue;
    const imported = output.imports.filter((entry) => entry.kind === 'import-statement' && !entry.external);
    staticImports.set(
      basename(path, '.js'),
      imported.map((entry) => basename(entry.path, '.js')),
    );
  }
  const requires = new Map();
  for (const [id, code] of chunks) {
    requires.set(
      id,
      [...code.matchAll(/\brequire\("\.\/([^"]+)\.js"\)/g)].map((match) => match[1]),
    );
    for (const sibling of requires.get(id)) {
      if (!chunks.has(sibling)) throw new Error(`build: chunk ${id} requires ${sibling}, which the bundle lacks`);
    }
    if (/\bimport\.meta\b|\bimport\(/.test(code))
      throw new Error(`build: chunk ${id} still has import.meta or import()`);
  }
  // The loader hands out a chunk's exports once it ran to its end: no chunk may require itself back.
  const done = new Set();
  const visit = (id, path) => {
    if (path.includes(id))
      throw new Error(`build: the ${name} chunks require each other: ${[...path, id].join(' -> ')}`);
    if (done.has(id)) return;
    for (const sibling of requires.get(id)) visit(sibling, [...path, id]);
    done.add(id);
  };
  for (const id of chunks.keys()) visit(id, []);
  if (!chunks.has(name)) throw new Error(`build: the ${name} bundle has no entry chunk`);

  const text = (ids) =>
    `({\n${ids
      .map(
        (id) =>
          `${JSON.stringify(id)}: (function (exports, require, module, __moorImportMetaUrl) {${chunks.get(id)}\n}),\n`,
      )
      .join('')}})\n`;
  return {
    chunks: [...chunks.keys()],
    /** The chunks `id` imports statically, directly or through others. */
    staticClosure(id) {
      const found = new Set();
      const walk = (chunk) => {
        for (const next of staticImports.get(chunk) ?? []) {
          if (found.has(next)) continue;
          found.add(next);
          walk(next);
        }
      };
      walk(id);
      return [...found];
    },
    pack(core = []) {
      for (const file of readdirSync(dist)) {
        // This bundle's packs and their code caches (a run may have saved some).
        const pack = file.replace(/\.cjs(\..*\.cache)?$/, '');
        if (pack !== file && chunks.has(pack)) rmSync(join(dist, file));
      }
      const inEntry = new Set([name, ...core]);
      for (const id of inEntry) if (!chunks.has(id)) throw new Error(`build: no chunk ${id} to pack`);
      writeFileSync(join(dist, `${name}.cjs`), ascii(`${name}.cjs`, text([...inEntry])));
      for (const id of chunks.keys()) {
        if (!inEntry.has(id)) writeFileSync(join(dist, `${id}.cjs`), ascii(`${id}.cjs`, text([id])));
      }
    },
  };
}

/**
 * A pack's text, checked to be ASCII (esbuild escapes everything else by default): scripts/pack-loader.cjs
 * reads packs as latin1, which for ASCII is the same string without UTF-8 decoding.
 */
function ascii(file, text) {
  const at = text.search(/[^\p{ASCII}]/u);
  if (at !== -1) throw new Error(`build: dist/${file} is not ASCII at ${at}: pack-loader.cjs reads packs as latin1`);
  return text;
}

/**
 * esbuild's CommonJS form of a chunk exports getters twice over: __export defines one per export on the chunk's
 * own object, and __toCommonJS copies them onto a second object as getters that call the first ones; each
 * import() of a chunk (__toESM) copies them onto a third. scripts/pack-loader.cjs makes a chunk's exports plain
 * values once it ran (settled()), so the copies are only allocations: some 50 KB of an everyday command's young
 * heap, which decides whether it needs a garbage collection. Here the chunk's own object is its exports, marked
 * as an ES module, and __toESM gives such an object as it is (a CommonJS module of node_modules, imported in
 * node mode, is still wrapped, unless it is its own default export: scripts/fs-promises-lazy.cjs). Checked: a
 * form of esbuild's helpers this does not know fails the build.
 */
function plainInterop(id, code) {
  let out = code.replace(
    'module.exports=__toCommonJS(stdin_exports)',
    'module.exports=__defProp(stdin_exports,"__esModule",{value:!0})',
  );
  // The helper is defined in each chunk that calls it (`var __toESM=...`), or, when chunks share it, once in a
  // chunk of helpers (`,__toESM=...`) that the others import it from.
  if (/(\bvar |,)__toESM=/.test(out)) {
    const helper = /(\bvar |,)__toESM=\(mod,isNodeMode,target\)=>\(/;
    if (!helper.test(out)) throw new Error(`build: ${id}: esbuild's __toESM is not the one packs.mjs knows`);
    out = out.replace(
      helper,
      '$1__toESM=(mod,isNodeMode,target)=>mod?.__esModule&&(!isNodeMode||mod.default===mod)?mod:(',
    );
  }
  if (out.includes('__toCommonJS('))
    throw new Error(`build: ${id}: esbuild's __toCommonJS is not the one packs.mjs knows`);
  return out;
}
