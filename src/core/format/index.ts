// Output formatting (Go-template subset and Go-tabwriter tables), loaded as one piece by the commands that
// print with --format.
export { compileTemplate, isTableFormat, splitTableFormat } from './template.js';
export { renderTable, tabularize } from './table.js';
