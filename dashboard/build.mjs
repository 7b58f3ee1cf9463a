// Builds the dashboard into dist/: one script and one stylesheet named by their content's hash,
// MapLibre's worker beside them, and index.html naming them. Run by `make install`.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const assets = join(dist, 'assets');
const MAX_GZIPPED = 1.5 * 1024 * 1024; // the budget for everything the page loads

const maplibre = JSON.parse(readFileSync(join(here, 'node_modules/maplibre-gl/package.json'), 'utf8'));
const worker = `maplibre-gl-worker-${maplibre.version}.mjs`;

rmSync(dist, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });
const result = await build({
  entryPoints: [join(here, 'src/main.js')],
  bundle: true,
  minify: true,
  format: 'esm',
  splitting: true, // the chart library loads beside the map, not before it
  target: ['es2022'],
  outdir: assets,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  metafile: true,
  legalComments: 'linked',
  define: { MAPLIBRE_WORKER: JSON.stringify(`/assets/${worker}`) },
  logLevel: 'warning',
});
copyFileSync(join(here, 'node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs'), join(assets, worker));

const outputs = Object.entries(result.metafile.outputs);
const entry = ([, o]) => o.entryPoint;
const js = basename(outputs.find((o) => entry(o) && o[0].endsWith('.js'))[0]);
const css = basename(outputs.find((o) => o[0].endsWith('.css'))[0]);
const scripts = outputs.map(([p]) => basename(p)).filter((f) => f.endsWith('.js'));
const page = readFileSync(join(here, 'src/index.html'), 'utf8').replaceAll('{{js}}', js)
  .replaceAll('{{css}}', css);
writeFileSync(join(dist, 'index.html'), page);

let total = 0;
for (const name of [...scripts, css, worker]) {
  const bytes = readFileSync(join(assets, name));
  const gz = gzipSync(bytes, { level: 9 }).length;
  total += gz;
  console.log(`${name.padEnd(44)} ${(bytes.length / 1024).toFixed(0).padStart(6)} KB  gzipped ${(gz / 1024).toFixed(0).padStart(5)} KB`);
}
console.log(`dashboard built into dist/: ${(total / 1024).toFixed(0)} KB gzipped in all`);
if (total > MAX_GZIPPED) {
  console.error(`error: the dashboard is ${(total / 1024).toFixed(0)} KB gzipped, over the 1,536 KB budget`);
  process.exit(1);
}
