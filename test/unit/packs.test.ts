/**
 * What the packs' loader (scripts/pack-loader.cjs) relies on in the sources: a chunk's exports are read
 * once it ran to its end, as plain values, so no module may export a binding that it assigns again later
 * (`export let`/`export var`: an importer in another chunk would keep the first value).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) found.push(path);
  }
  return found;
}

describe('the packs’ chunks', () => {
  it('no module of src/ or drivers/ exports a binding it can assign again (export let, export var)', async () => {
    const files = [...(await sources(join(ROOT, 'src'))), ...(await sources(join(ROOT, 'drivers')))];
    assert.ok(files.length > 50, 'the sources were found');
    const offenders: string[] = [];
    for (const file of files) {
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, index) => {
        if (/^\s*export\s+(let|var)\b/.test(line))
          offenders.push(`${relative(ROOT, file)}:${index + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(offenders, [], 'export a const, or a function that returns the current value');
  });

  it("esbuild's __toESM in the built packs gives a chunk's own exports as they are (scripts/packs.mjs, plainInterop)", async () => {
    // Run after `npm run build` (the test command builds first).
    const dist = join(ROOT, 'dist');
    const packs = (await readdir(dist)).filter(
      (file) => /^(fast|cli)(-.*)?\.cjs$/.test(file) && file !== 'cli-loader.cjs',
    );
    assert.ok(packs.includes('fast.cjs'), 'dist/ holds the built packs: run npm run build first');
    const definitions: string[] = [];
    for (const file of packs) {
      const code = await readFile(join(dist, file), 'latin1');
      for (const match of code.matchAll(/__toESM=\(mod,isNodeMode,target\)=>.{0,60}/g))
        definitions.push(`${file}: ${match[0]}`);
    }
    assert.ok(definitions.length > 0, 'the packs define __toESM');
    const copying = definitions.filter(
      (definition) => !definition.includes('mod?.__esModule&&(!isNodeMode||mod.default===mod)?mod:'),
    );
    assert.deepEqual(copying, [], "every __toESM of the packs is packs.mjs's");
  });
});
