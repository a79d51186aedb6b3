/**
 * Renders the provisioning shell scripts from templates/*.hbs (shared functions in templates/partials/).
 *
 * Rules the templates follow, checked here when a template is loaded:
 * - every `{{…}}` that prints something is `{{q name}}`: the value is shell-quoted (one POSIX word), so no
 *   value can end a quote or start a command, whatever it contains;
 * - blocks are `{{#if name}}`/`{{#unless name}}` or `{{#if (eq name "literal")}}`, to pick code by enums
 *   that the caller has validated;
 * - partials are static (`{{> common}}`).
 * Templates are compiled in strict mode, and every name a template (or one of its partials) uses must be
 * in the context: a missing value is an error, never an empty string.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

import { MoorError, messageOf } from '../errors.js';
import { shellQuote } from '../ssh/quote.js';

export type ScriptContext = Record<string, string | number | boolean>;

interface LoadedTemplate {
  render: Handlebars.TemplateDelegate;
  /** Context names used by the template and the partials it includes. */
  names: Set<string>;
}

interface Loaded {
  hb: typeof Handlebars;
  dir: string;
  partialNames: Map<string, Set<string>>;
  templates: Map<string, LoadedTemplate>;
}

const COMPILE_OPTIONS = { strict: true, noEscape: true } as const;
const TEMPLATE_NAME = /^[a-z0-9][a-z0-9-]*\.sh$/;

let loaded: Loaded | undefined;

/** The package root: the nearest folder above this module with a package.json (works from src/ and dist/). */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export function templatesDir(): string {
  return join(packageRoot(), 'templates');
}

/**
 * Renders templates/<name>.hbs (name like "install-docker.sh") with `context`. Throws a MoorError
 * (code PROVISION_TEMPLATE) when the template is missing or broken, or the context lacks a value.
 */
export function renderScript(name: string, context: ScriptContext): string {
  try {
    const template = loadTemplate(name);
    for (const used of template.names) {
      if (!Object.hasOwn(context, used) || context[used] === undefined) {
        throw new Error(`the context has no value for "${used}"`);
      }
    }
    return template.render(context);
  } catch (error) {
    if (error instanceof MoorError) throw error;
    throw new MoorError(`Cannot render the provisioning script ${name}: ${messageOf(error)}`, {
      code: 'PROVISION_TEMPLATE',
      cause: error,
    });
  }
}

function load(): Loaded {
  if (loaded !== undefined) return loaded;
  const hb = Handlebars.create();
  hb.registerHelper('q', (...args: unknown[]) => {
    if (args.length !== 2) throw new Error('q takes exactly one value');
    return quoteValue(args[0]);
  });
  hb.registerHelper('eq', (...args: unknown[]) => {
    if (args.length !== 3 || args[0] === undefined || args[1] === undefined) throw new Error('eq takes two values');
    return args[0] === args[1];
  });
  const dir = templatesDir();
  const partialNames = new Map<string, Set<string>>();
  const partialsDir = join(dir, 'partials');
  const sources = new Map<string, string>();
  for (const file of existsSync(partialsDir) ? readdirSync(partialsDir).sort() : []) {
    if (!file.endsWith('.sh.hbs')) continue;
    sources.set(file.slice(0, -'.sh.hbs'.length), readFileSync(join(partialsDir, file), 'utf8'));
  }
  const state: Loaded = { hb, dir, partialNames, templates: new Map() };
  for (const [partial, source] of sources) {
    hb.registerPartial(partial, hb.compile(source, COMPILE_OPTIONS));
  }
  // Names used by each partial, including through the partials it includes.
  const direct = new Map<string, { names: Set<string>; partials: Set<string> }>();
  for (const [partial, source] of sources) direct.set(partial, checkAst(hb.parse(source), `partials/${partial}`));
  const resolve = (partial: string, seen: Set<string>): Set<string> => {
    const entry = direct.get(partial);
    if (entry === undefined) throw new Error(`unknown partial "${partial}"`);
    if (seen.has(partial)) throw new Error(`partial "${partial}" includes itself`);
    const names = new Set(entry.names);
    for (const inner of entry.partials) for (const name of resolve(inner, new Set([...seen, partial]))) names.add(name);
    return names;
  };
  for (const partial of sources.keys()) partialNames.set(partial, resolve(partial, new Set()));
  loaded = state;
  return state;
}

function loadTemplate(name: string): LoadedTemplate {
  if (!TEMPLATE_NAME.test(name)) throw new Error(`invalid template name "${name}"`);
  const state = load();
  const cached = state.templates.get(name);
  if (cached !== undefined) return cached;
  const file = join(state.dir, `${name}.hbs`);
  if (!existsSync(file)) throw new Error(`template ${file} not found`);
  const source = readFileSync(file, 'utf8');
  const used = checkAst(state.hb.parse(source), name);
  const names = new Set(used.names);
  for (const partial of used.partials) {
    const inner = state.partialNames.get(partial);
    if (inner === undefined) throw new Error(`${name} includes the unknown partial "${partial}"`);
    for (const innerName of inner) names.add(innerName);
  }
  const template = { render: state.hb.compile(source, COMPILE_OPTIONS), names };
  state.templates.set(name, template);
  return template;
}

/** Shell-quotes one template value: strings and finite numbers only (NUL cannot be passed to a shell). */
export function quoteValue(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return shellQuote(String(value));
  if (typeof value !== 'string')
    throw new Error(`q expects a string, got ${value === undefined ? 'nothing' : typeof value}`);
  if (value.includes('\0')) throw new Error('q: a value contains a NUL character');
  return shellQuote(value);
}

type Node = hbs.AST.Node;

/**
 * Enforces the template rules (see the module comment) and returns the context names and partials used.
 * Exported for the tests.
 */
export function checkAst(program: hbs.AST.Program, where: string): { names: Set<string>; partials: Set<string> } {
  const names = new Set<string>();
  const partials = new Set<string>();
  const fail = (node: Node, problem: string): never => {
    throw new Error(`${where}.hbs line ${node.loc.start.line}: ${problem}`);
  };
  const valueName = (node: hbs.AST.Expression): string => {
    if (node.type !== 'PathExpression') return fail(node, 'expected a context name');
    const path = node as hbs.AST.PathExpression;
    if (path.data || path.depth !== 0 || path.parts.length !== 1 || path.parts[0] === undefined) {
      return fail(node, `use a plain context name, not "${path.original}"`);
    }
    names.add(path.parts[0]);
    return path.parts[0];
  };
  const helperName = (node: hbs.AST.Expression): string =>
    node.type === 'PathExpression' ? (node as hbs.AST.PathExpression).original : '';
  const walk = (body: hbs.AST.Statement[]): void => {
    for (const node of body) {
      switch (node.type) {
        case 'ContentStatement':
        case 'CommentStatement':
          break;
        case 'MustacheStatement': {
          const mustache = node as hbs.AST.MustacheStatement;
          if (helperName(mustache.path) !== 'q' || mustache.params.length !== 1 || mustache.hash !== undefined) {
            fail(node, 'print values only as {{q name}}');
          }
          if (!mustache.escaped) fail(node, 'use {{q name}}, not triple braces');
          valueName(mustache.params[0] as hbs.AST.Expression);
          break;
        }
        case 'BlockStatement': {
          const block = node as hbs.AST.BlockStatement;
          const helper = helperName(block.path);
          if ((helper !== 'if' && helper !== 'unless') || block.params.length !== 1 || block.hash !== undefined) {
            fail(node, 'blocks are {{#if …}} or {{#unless …}} with one condition');
          }
          const condition = block.params[0] as hbs.AST.Expression;
          if (condition.type === 'SubExpression') {
            const sub = condition as hbs.AST.SubExpression;
            const [left, right] = sub.params;
            if (helperName(sub.path) !== 'eq' || sub.params.length !== 2 || right?.type !== 'StringLiteral') {
              fail(node, 'conditions are a name or (eq name "literal")');
            }
            valueName(left as hbs.AST.Expression);
          } else valueName(condition);
          walk(block.program.body);
          if (block.inverse) walk(block.inverse.body);
          break;
        }
        case 'PartialStatement': {
          const partial = node as hbs.AST.PartialStatement;
          if (partial.name.type !== 'PathExpression' || partial.params.length > 0 || partial.hash !== undefined) {
            fail(node, 'partials are included as {{> name}}');
          }
          partials.add((partial.name as hbs.AST.PathExpression).original);
          break;
        }
        default:
          fail(node, `${node.type} is not allowed in provisioning templates`);
      }
    }
  };
  walk(program.body);
  return { names, partials };
}
