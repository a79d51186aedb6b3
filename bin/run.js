#!/usr/bin/env node
// The entry point as an ES module, for scripts that name bin/run.js: it runs bin/run.cjs (package.json's
// "bin"), which starts faster because it never needs the ES module loader for everyday commands.
import './run.cjs';
