// Makes wasm-bindgen's JS glue match a wasm whose import and export names
// wasm-opt shortened (--minify-imports-and-exports-and-modules) and whose
// unused exports it removed (--remove-exports): every reader downloads both
// files, and the long names (a hash in each import's) do not compress.
//   node scripts/wasm-names.mjs GLUE.js MAP.json WASM
// MAP.json is what wasm-opt printed: {"imports": [[module, name, new
// name]…], "exports": [[name, new name]…]}. The glue's imports the wasm no
// longer has are dropped, and so are the classes of removed exports. Fails,
// changing nothing, if the glue is not shaped as this script expects.
import { readFileSync, writeFileSync } from "node:fs";

const [gluePath, mapPath, wasmPath] = process.argv.slice(2);
const fail = (why) => {
  console.error(`wasm-names: ${why}`);
  process.exit(1);
};
let glue = readFileSync(gluePath, "utf8");
const map = JSON.parse(readFileSync(mapPath, "utf8"));
const wasm = new WebAssembly.Module(readFileSync(wasmPath));
const modules = new Set(WebAssembly.Module.imports(wasm).map((i) => i.module));
const oldModules = new Set(map.imports.map(([module]) => module));
if (modules.size !== 1 || oldModules.size !== 1) fail("expected one import module");
const [module] = modules;
const [oldModule] = oldModules;
const imports = new Map(map.imports.map(([, name, short]) => [name, short]));
const exports = new Map(map.exports.map(([name, short]) => [name, short]));
const kept = new Set(WebAssembly.Module.exports(wasm).map((e) => e.name));

// The import object: one `NAME: function(…) {` … `},` entry per import,
// each at the same indentation.
const lines = glue.split("\n");
const out = [];
let dropping = false;
let renamed = 0;
for (const line of lines) {
  const entry = /^( {8})([\w$]+)(: function\(.*)$/.exec(line);
  if (entry && line.endsWith("{")) {
    const short = imports.get(entry[2]);
    dropping = short === undefined;
    if (!dropping) {
      out.push(`${entry[1]}${JSON.stringify(short)}${entry[3]}`);
      renamed++;
    }
    continue;
  }
  if (dropping) {
    if (line === "        },") dropping = false;
    continue;
  }
  out.push(line);
}
if (renamed !== imports.size) fail(`renamed ${renamed} of ${imports.size} imports`);
glue = out.join("\n");

const moduleKey = `${JSON.stringify(oldModule)}: import0`;
if (!glue.includes(moduleKey)) fail(`no ${moduleKey} in the glue`);
glue = glue.replace(moduleKey, `${JSON.stringify(module)}: import0`);

// What only the removed exports used: their classes, and the registries
// that free them.
for (const [, name] of glue.matchAll(/^export class (\w+) \{$/gm)) {
  const own = [...glue.matchAll(new RegExp(`wasm\\.(\\w*${name.toLowerCase()}\\w*)`, "g"))];
  if (own.length === 0 || own.some(([, e]) => kept.has(exports.get(e)))) continue;
  glue = glue
    .replace(new RegExp(`^export class ${name} \\{$[\\s\\S]*?^if \\(Symbol\\.dispose\\) ${name}\\.prototype.*$\\n`, "m"), "")
    .replace(new RegExp(`^const ${name}Finalization = [\\s\\S]*?\\);$\\n`, "m"), "");
}

// The exports, by their new names; every one the glue still uses must be
// there.
glue = glue.replace(/\bwasm\.([\w$]+)/g, (all, name) => {
  const short = exports.get(name);
  if (short === undefined || !kept.has(short)) fail(`the glue uses wasm.${name}, which the wasm has no more`);
  return `wasm.${short}`;
});
writeFileSync(gluePath, glue);
