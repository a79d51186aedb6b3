import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ExitCode, UsageError } from '../../src/core/errors.js';
import { tabularize } from '../../src/core/format/table.js';
import { compileTemplate, isTableFormat, splitTableFormat } from '../../src/core/format/template.js';

function render(source: string, data: unknown): string {
  return compileTemplate(source).render(data);
}

/** Asserts that compiling (and, if it compiles, rendering) fails with a template UsageError matching `message`. */
function assertTemplateError(source: string, data: unknown, message: RegExp | string): void {
  assert.throws(
    () => render(source, data),
    (error: unknown) => {
      assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
      assert.equal(error.exitCode, ExitCode.usage);
      assert.equal(error.code, 'INVALID_TEMPLATE');
      if (typeof message === 'string') assert.equal(error.message, message);
      else assert.match(error.message, message);
      return true;
    },
  );
}

const machine = {
  Name: 'web',
  State: 'Running',
  Driver: { IPAddress: '192.168.99.100', SSHPort: 22, Nested: { Deep: 'bottom' }, Gone: null },
  Labels: ['env=prod', 'team=core'],
  Tags: { zone: 'b', arch: 'x86_64' },
  Nothing: null,
  Empty: '',
};

describe('compileTemplate: fields', () => {
  it('prints plain text untouched', () => {
    assert.equal(render('just text', machine), 'just text');
  });

  it('prints {{.}} and single fields', () => {
    assert.equal(render('{{.}}', 'hello'), 'hello');
    assert.equal(render('{{.Name}} is {{.State}}', machine), 'web is Running');
    assert.equal(render('{{ .Name }}', machine), 'web');
  });

  it('follows field chains', () => {
    assert.equal(render('{{.Driver.IPAddress}}:{{.Driver.SSHPort}}', machine), '192.168.99.100:22');
    assert.equal(render('{{.Driver.Nested.Deep}}', machine), 'bottom');
  });

  it('gives <no value> for null values and for fields of null', () => {
    assert.equal(render('{{.Nothing}}', machine), '<no value>');
    assert.equal(render('{{.Nothing.Foo}}', machine), '<no value>');
    assert.equal(render('{{.Driver.Gone.Foo.Bar}}', machine), '<no value>');
    assert.equal(render('{{.}}', null), '<no value>');
    assert.equal(render('{{.}}', undefined), '<no value>');
  });

  it('rejects fields that do not exist, naming the known ones', () => {
    assertTemplateError(
      '{{.Foo}}',
      { Name: 'a', State: 'b' },
      'Template error: field "Foo" does not exist (known fields: Name, State)',
    );
    assertTemplateError('{{.Driver.Port}}', machine, /field "Port" does not exist \(known fields: IPAddress, SSHPort,/);
    assertTemplateError('{{.X}}', {}, 'Template error: field "X" does not exist (the object has no fields)');
  });

  it('rejects fields of strings, numbers and lists', () => {
    assertTemplateError('{{.Name.Length}}', machine, /cannot read field "Length" of a string \("web"\)/);
    assertTemplateError('{{.Driver.SSHPort.X}}', machine, /cannot read field "X" of a number/);
    assertTemplateError('{{.Labels.First}}', machine, /cannot read field "First" of a list/);
  });

  it('calls methods named in a field chain', () => {
    class Host {
      constructor(readonly name: string) {}
      Greeting(): string {
        return `hi ${this.name}`;
      }
    }
    assert.equal(render('{{.Greeting}}', new Host('web')), 'hi web');
  });

  it('supports $ for the top-level data inside range and with', () => {
    assert.equal(render('{{range .Labels}}{{$.Name}}:{{.}} {{end}}', machine), 'web:env=prod web:team=core ');
    assert.equal(render('{{with .Driver}}{{$.Name}}@{{.IPAddress}}{{end}}', machine), 'web@192.168.99.100');
  });
});

describe('compileTemplate: printing values like Go', () => {
  it('prints numbers and booleans', () => {
    const data = { Int: 42, Negative: -7, Float: 1.5, Big: 1234567.5, Tiny: 0.00001, Million: 1000000, Yes: true };
    assert.equal(
      render('{{.Int}} {{.Negative}} {{.Float}} {{.Big}} {{.Tiny}} {{.Million}} {{.Yes}} {{false}}', data),
      '42 -7 1.5 1.2345675e+06 1e-05 1000000 true false',
    );
  });

  it('prints lists as [a b c] and objects as map[k:v] with sorted keys', () => {
    assert.equal(render('{{.Labels}}', machine), '[env=prod team=core]');
    assert.equal(render('{{.Tags}}', machine), 'map[arch:x86_64 zone:b]');
    assert.equal(render('{{.}}', [[1, 2], { b: null, a: 'x' }, []]), '[[1 2] map[a:x b:<nil>] []]');
    assert.equal(render('{{.}}', {}), 'map[]');
  });
});

describe('compileTemplate: escapes, literals, trim markers and comments', () => {
  it('turns \\t and \\n typed as two characters into a tab and a newline', () => {
    assert.equal(render('{{.Name}}\\t{{.State}}\\n', machine), 'web\tRunning\n');
    assert.equal(render('a\\tb', null), 'a\tb');
  });

  it('decodes Go escapes in string literals and keeps raw strings raw', () => {
    assert.equal(render('{{"a\\tb\\n\\"q\\"\\\\"}}', null), 'a\tb\n"q"\\');
    assert.equal(render('{{"\\x41\\u00e9"}}', null), 'Aé');
    assert.equal(render('{{`a\\tb`}}', null), 'a\\tb');
    assert.equal(render('{{"}} inside"}}', null), '}} inside');
  });

  it('parses number, bool and nil literals', () => {
    assert.equal(render('{{3}} {{-2}} {{0x1f}} {{2.5}} {{true}} {{nil}}', null), '3 -2 31 2.5 true <no value>');
  });

  it('trims whitespace next to {{- and -}}', () => {
    assert.equal(render('a \n\t {{- .Name -}} \n b', machine), 'awebb');
    assert.equal(render('a {{- .Name}} b', machine), 'aweb b');
    assert.equal(render('a {{.Name -}} b', machine), 'a webb');
    // Without a space, "-" belongs to a number.
    assert.equal(render('{{-3}}', null), '-3');
  });

  it('trims escaped tabs and newlines too, as they are expanded first', () => {
    assert.equal(render('{{.Name}}\\n {{- .State}}', machine), 'webRunning');
  });

  it('drops comments', () => {
    assert.equal(render('a{{/* a comment */}}b', null), 'ab');
    assert.equal(render('a {{- /* multi\nline */ -}} b', null), 'ab');
  });
});

describe('compileTemplate: functions', () => {
  it('json prints compact JSON like Go, escaping <, > and &', () => {
    assert.equal(render('{{json .Labels}}', machine), '["env=prod","team=core"]');
    assert.equal(render('{{json .Driver.Nested}}', machine), '{"Deep":"bottom"}');
    assert.equal(render('{{json .}}', { a: 1, b: [true, null] }), '{"a":1,"b":[true,null]}');
    assert.equal(render('{{json .Nothing}}', machine), 'null');
    assert.equal(render('{{json "<a&b>"}}', null), '"\\u003ca\\u0026b\\u003e"');
  });

  it('prettyjson indents with 4 spaces', () => {
    assert.equal(render('{{prettyjson .Driver.Nested}}', machine), '{\n    "Deep": "bottom"\n}');
    assert.equal(render('{{prettyjson .}}', { a: [1] }), '{\n    "a": [\n        1\n    ]\n}');
  });

  it('upper and lower change case', () => {
    assert.equal(render('{{upper .Name}} {{lower "MiXeD"}}', machine), 'WEB mixed');
    assert.equal(render('[{{upper .Nothing}}]', machine), '[]');
  });

  it('join joins a list with a separator', () => {
    assert.equal(render('{{join .Labels ","}}', machine), 'env=prod,team=core');
    assert.equal(render('{{join .Labels "\\n"}}', machine), 'env=prod\nteam=core');
    assert.equal(render('{{join .Nothing ","}}', machine), '');
    assertTemplateError('{{join .Name ","}}', machine, /join needs a list, not a string/);
    assertTemplateError('{{join .Labels 1}}', machine, /join needs a string separator/);
  });

  it('index looks up object keys and list positions', () => {
    assert.equal(render('{{index .Tags "zone"}}', machine), 'b');
    assert.equal(render('{{index .Labels 1}}', machine), 'team=core');
    assert.equal(render('{{index .Tags "missing"}}', machine), '<no value>');
    assert.equal(render('{{index . "Driver" "Nested" "Deep"}}', machine), 'bottom');
    assert.equal(render('{{index . "a-b"}}', { 'a-b': 'dash' }), 'dash');
    assertTemplateError('{{index .Labels 2}}', machine, 'Template error: index out of range: 2');
    assertTemplateError('{{index .Labels "x"}}', machine, /cannot index a list or string with "x"/);
    assertTemplateError('{{index .Tags 0}}', machine, /cannot index an object with 0/);
  });

  it('not, and, or, eq, ne and len behave like Go', () => {
    assert.equal(render('{{not .Empty}} {{not .Name}}', machine), 'true false');
    assert.equal(render('{{and .Name .State}}|{{and .Name .Empty .State}}|', machine), 'Running||');
    assert.equal(render('{{or .Empty .Nothing .Name}}|{{or .Empty 0}}', machine), 'web|0');
    assert.equal(
      render('{{eq .State "Stopped" "Running"}} {{eq .State "Stopped"}} {{ne .Name "x"}}', machine),
      'true false true',
    );
    assert.equal(render('{{len .Labels}} {{len .Tags}} {{len .Name}}', machine), '2 2 3');
    // and/or stop at the deciding argument, so the missing field after it is never read.
    assert.equal(render('{{or .Name .Missing}}', machine), 'web');
  });

  it('passes pipeline values as the last argument', () => {
    assert.equal(render('{{.Name | upper}}', machine), 'WEB');
    assert.equal(render('{{.Tags | json}}', machine), '{"zone":"b","arch":"x86_64"}');
    assert.equal(render('{{"," | join .Labels}}', machine), 'env=prod,team=core');
  });

  it('evaluates parenthesized pipelines, with field chains after them', () => {
    assert.equal(render('{{upper (index .Tags "zone")}}', machine), 'B');
    assert.equal(render('{{(index .Items 1).Name}}', { Items: [{ Name: 'a' }, { Name: 'b' }] }), 'b');
  });

  it('rejects unknown functions, listing the available ones', () => {
    assertTemplateError(
      '{{title .Name}}',
      machine,
      /^Template error: function "title" is not defined, in \{\{title \.Name\}\} \(available: and, eq, index, join, json, len, lower, ne, not, or, prettyjson, upper\)$/,
    );
  });

  it('checks the number of arguments', () => {
    assertTemplateError('{{upper}}', machine, 'Template error: wrong number of arguments for upper: want 1, got 0');
    assertTemplateError('{{json .Name .State}}', machine, /wrong number of arguments for json: want 1, got 2/);
    assertTemplateError('{{.Name | join}}', machine, /wrong number of arguments for join: want 2, got 1/);
  });
});

describe('compileTemplate: if, range and with', () => {
  it('if picks a branch by Go truthiness', () => {
    const cases: [unknown, boolean][] = [
      ['', false],
      ['x', true],
      [0, false],
      [2, true],
      [false, false],
      [true, true],
      [null, false],
      [[], false],
      [[0], true],
      [{}, false],
      [{ a: 1 }, true],
    ];
    for (const [value, expected] of cases) {
      assert.equal(
        render('{{if .V}}yes{{else}}no{{end}}', { V: value }),
        expected ? 'yes' : 'no',
        JSON.stringify(value),
      );
    }
    assert.equal(render('{{if .Nothing}}yes{{end}}', machine), '');
  });

  it('supports else if chains', () => {
    const source = '{{if eq .State "Running"}}up{{else if eq .State "Stopped"}}down{{else}}other{{end}}';
    assert.equal(render(source, { State: 'Running' }), 'up');
    assert.equal(render(source, { State: 'Stopped' }), 'down');
    assert.equal(render(source, { State: 'Error' }), 'other');
  });

  it('range sets dot to each element and runs else when empty', () => {
    assert.equal(render('{{range .Labels}}<{{.}}>{{end}}', machine), '<env=prod><team=core>');
    assert.equal(render('{{range .Items}}{{.Name}},{{end}}', { Items: [{ Name: 'a' }, { Name: 'b' }] }), 'a,b,');
    assert.equal(render('{{range .L}}x{{else}}none{{end}}', { L: [] }), 'none');
    assert.equal(render('{{range .Nothing}}x{{else}}none{{end}}', machine), 'none');
  });

  it('range over an object visits values in key order', () => {
    assert.equal(render('{{range .Tags}}{{.}};{{end}}', machine), 'x86_64;b;');
  });

  it('range refuses values it cannot iterate', () => {
    assertTemplateError('{{range .Name}}x{{end}}', machine, /range cannot iterate over a string \("web"\)/);
  });

  it('with sets dot when the value is true and runs else otherwise', () => {
    assert.equal(render('{{with .Driver.Nested}}{{.Deep}}{{end}}', machine), 'bottom');
    assert.equal(render('{{with .Empty}}set{{else}}unset:{{.Name}}{{end}}', machine), 'unset:web');
    assert.equal(render('{{with .Nothing}}set{{end}}', machine), '');
  });

  it('nests blocks', () => {
    const data = {
      Hosts: [
        { Name: 'a', Up: true },
        { Name: 'b', Up: false },
      ],
    };
    assert.equal(render('{{range .Hosts}}{{.Name}}={{if .Up}}up{{else}}down{{end}} {{end}}', data), 'a=up b=down ');
  });
});

describe('compileTemplate: parse errors', () => {
  const cases: [string, RegExp | string][] = [
    ['{{.Name', 'Template error: unclosed action "{{.Name" (missing "}}")'],
    ['{{"abc}}', /unterminated quoted string/],
    ['{{`abc}}', /unterminated raw quoted string/],
    ['{{"\\q"}}', /invalid escape sequence "\\q"/],
    ['{{end}}', 'Template error: unexpected {{end}} (there is no {{if}}, {{range}} or {{with}} to close)'],
    ['{{else}}', /unexpected \{\{else\}\}/],
    ['{{if .Name}}x', 'Template error: {{if .Name}} has no matching {{end}}'],
    ['{{range .L}}x{{else}}y', /\{\{range \.L\}\} has no matching \{\{end\}\}/],
    ['{{if .A}}a{{else}}b{{else}}c{{end}}', /unexpected \{\{else\}\} after \{\{else\}\}/],
    ['{{if}}x{{end}}', 'Template error: missing value for if in {{if}}'],
    ['{{if .A}}x{{end .A}}', /unexpected arguments in \{\{end \.A\}\}/],
    ['{{}}', 'Template error: empty action {{}}'],
    ['{{.A |}}', /missing value for command/],
    ['{{(.A}}', /unclosed "\(" in/],
    ['{{.A)}}', /unexpected "\)"/],
    ['{{.Name .State}}', 'Template error: ".Name" is not a function, so it cannot take arguments'],
    ['{{"x" | .Name}}', /"\.Name" is not a function/],
    ['{{$x := .Name}}', /variable declarations are not supported/],
    ['{{$x}}', /variables other than \$ are not supported \(\$x\)/],
    ['{{template "x"}}', /\{\{template\}\} is not supported/],
    ['{{.Name"x"}}', /unexpected ""x"".*separate arguments with spaces/],
    ['{{1x}}', /bad number syntax/],
    ['{{#}}', /unexpected character "#"/],
    ['{{/* open', /unclosed comment/],
    ['{{/* c */ }}', /comment ends before closing delimiter/],
  ];
  for (const [source, message] of cases) {
    it(`rejects ${source}`, () => assertTemplateError(source, { Name: 'n', State: 's', A: 1, L: [] }, message));
  }

  it('reports parse errors at compile time, before any data is seen', () => {
    assert.throws(() => compileTemplate('{{if .X}}'), UsageError);
    assert.throws(() => compileTemplate('{{nope}}'), UsageError);
  });
});

describe('table formats', () => {
  it('splitTableFormat recognises the table keyword', () => {
    assert.deepEqual(splitTableFormat('table {{.Name}}\\t{{.State}}'), { table: true, body: '{{.Name}}\\t{{.State}}' });
    assert.deepEqual(splitTableFormat('table\t  {{.Name}}'), { table: true, body: '{{.Name}}' });
    assert.deepEqual(splitTableFormat('table'), { table: true, body: '' });
    assert.deepEqual(splitTableFormat('table   '), { table: true, body: '' });
    assert.deepEqual(splitTableFormat('{{.Name}}'), { table: false, body: '{{.Name}}' });
    assert.deepEqual(splitTableFormat('tables {{.Name}}'), { table: false, body: 'tables {{.Name}}' });
    assert.deepEqual(splitTableFormat(' table {{.Name}}'), { table: false, body: ' table {{.Name}}' });
  });

  it('isTableFormat agrees', () => {
    assert.equal(isTableFormat('table {{.Name}}'), true);
    assert.equal(isTableFormat('table'), true);
    assert.equal(isTableFormat('tablet'), false);
    assert.equal(isTableFormat('{{.Name}} table'), false);
  });

  it('renders the default docker-machine ls table byte for byte', () => {
    const format =
      'table {{.Name}}\\t{{.Active}}\\t{{.DriverName}}\\t{{.State}}\\t{{.URL}}\\t{{.Swarm}}\\t{{.DockerVersion}}\\t{{.Error}}';
    const { table, body } = splitTableFormat(format);
    assert.equal(table, true);
    const template = compileTemplate(body);
    const header = {
      Name: 'NAME',
      Active: 'ACTIVE',
      DriverName: 'DRIVER',
      State: 'STATE',
      URL: 'URL',
      Swarm: 'SWARM',
      DockerVersion: 'DOCKER',
      Error: 'ERRORS',
    };
    const rows = [
      {
        Name: 'default',
        Active: '-',
        DriverName: 'virtualbox',
        State: 'Running',
        URL: 'tcp://192.168.99.100:2376',
        Swarm: '',
        DockerVersion: 'v1.9.1',
        Error: '',
      },
      {
        Name: 'dev',
        Active: '*',
        DriverName: 'virtualbox',
        State: 'Running',
        URL: 'tcp://192.168.99.101:2376',
        Swarm: '',
        DockerVersion: 'v1.9.1',
        Error: '',
      },
      {
        Name: 'web10',
        Active: '-',
        DriverName: 'generic',
        State: 'Error',
        URL: '',
        Swarm: '',
        DockerVersion: 'Unknown',
        Error: 'Unable to query docker version: connection refused',
      },
    ];
    const rendered = [header, ...rows].map((data) => `${template.render(data)}\n`).join('');
    assert.equal(rendered.split('\n')[1], 'default\t-\tvirtualbox\tRunning\ttcp://192.168.99.100:2376\t\tv1.9.1\t');
    assert.equal(
      tabularize(rendered),
      [
        'NAME      ACTIVE   DRIVER       STATE     URL                         SWARM   DOCKER    ERRORS',
        'default   -        virtualbox   Running   tcp://192.168.99.100:2376           v1.9.1    ',
        'dev       *        virtualbox   Running   tcp://192.168.99.101:2376           v1.9.1    ',
        'web10     -        generic      Error                                         Unknown   Unable to query docker version: connection refused',
        '',
      ].join('\n'),
    );
  });
});
