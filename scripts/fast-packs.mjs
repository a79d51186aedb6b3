// The fast path's packs (loaded by scripts/fast-loader.cjs): src/fast.ts bundled by esbuild with code
// splitting (one chunk per module imported on demand, and one per set of modules such chunks share), each
// chunk turned into a CommonJS function, and the functions written into pack files in dist/:
//   dist/fast.cjs           the entry and every chunk the everyday commands run (`pack(core)` after a run
//                           that lists them, --list-chunks), read by every fast-path command;
//   dist/fast-<chunk>.cjs   each other chunk (a driver, create, certificates, provisioning...), read on use.
// A pack is one object literal, `({ "<chunk>": (function (exports, require, module, __moorImportMetaUrl)
// {...}), ... })`: one script for V8's code cache, and each chunk function is compiled with the pack (the
// parentheses), so that its cache holds them.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build, transform } from 'esbuild';

export const ENTRY = 'fast';

/**
 * Bundles src/fast.ts with `options` (esbuild's, without format and output) and returns
 * `pack(core)`, which writes the packs (core: the chunk ids that go into dist/fast.cjs with the entry).
 */
export async function buildFastPacks(root, options) {
  const dist = join(root, 'dist');
  const result = await build({
    ...options,
    absWorkingDir: root,
    entryPoints: { [ENTRY]: 'src/fast.ts' },
    format: 'esm',
    splitting: true,
    outdir: dist,
    chunkNames: `${ENTRY}-[name]-[hash]`,
    write: false,
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
    chunks.set(id, code);
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
      throw new Error(`build: the fast path's chunks require each other: ${[...path, id].join(' -> ')}`);
    if (done.has(id)) return;
    for (const sibling of requires.get(id)) visit(sibling, [...path, id]);
    done.add(id);
  };
  for (const id of chunks.keys()) visit(id, []);
  if (!chunks.has(ENTRY)) throw new Error('build: the fast path bundle has no entry chunk');

  const text = (ids) =>
    `({\n${ids
      .map(
        (id) =>
          `${JSON.stringify(id)}: (function (exports, require, module, __moorImportMetaUrl) {${chunks.get(id)}\n}),\n`,
      )
      .join('')}})\n`;
  return {
    chunks: [...chunks.keys()],
    pack(core = []) {
      for (const file of readdirSync(dist)) {
        // The packs and their code caches (a run may have saved some), the loader aside.
        if (/^fast(-[\w-]+)?\.cjs(\..*\.cache)?$/.test(file) && !file.startsWith('fast-loader.'))
          rmSync(join(dist, file));
      }
      const inEntry = new Set([ENTRY, ...core]);
      for (const id of inEntry) if (!chunks.has(id)) throw new Error(`build: no chunk ${id} to pack`);
      writeFileSync(join(dist, `${ENTRY}.cjs`), text([...inEntry]));
      for (const id of chunks.keys()) if (!inEntry.has(id)) writeFileSync(join(dist, `${id}.cjs`), text([id]));
    },
  };
}
