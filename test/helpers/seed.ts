/** Reading a VM's cloud-init seed back in tests: a file of the ISO (isoinfo), its YAML (PyYAML). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export function isoFile(iso: string, file: string): string {
  const result = spawnSync('isoinfo', ['-J', '-i', iso, '-x', `/${file}`], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

export function parseYaml(text: string): unknown {
  const result = spawnSync('python3', ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], {
    input: text,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `PyYAML could not parse:\n${text}\n${result.stderr}`);
  return JSON.parse(result.stdout);
}
