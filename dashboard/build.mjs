// Builds the dashboard into dist/: one script and one stylesheet named by their content's hash,
// MapLibre's worker beside them, and index.html naming them; and dist/docs/, the scripts and
// styles of the API's own docs pages, served from /docs/assets so they work offline. Run by
// `make install`.
import { build } from 'esbuild';
import { cpSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

// The API's docs pages (/docs, /redoc, the Data Docs at /quality/docs): files copied as npm ships
// them. Not part of the dashboard's page budget: only those pages load them.
const DOCS_FILES = {
  'swagger-ui-bundle.js': 'swagger-ui-dist/swagger-ui-bundle.js',
  'swagger-ui.css': 'swagger-ui-dist/swagger-ui.css',
  'favicon-32x32.png': 'swagger-ui-dist/favicon-32x32.png',
  'redoc.standalone.js': 'redoc/bundles/redoc.standalone.js',
  // What Great Expectations' Data Docs load from CDNs (quality/docs.py points them here).
  'gx/jquery.min.js': 'jquery/dist/jquery.min.js',
  'gx/popper.min.js': 'popper.js/dist/umd/popper.min.js',
  'gx/bootstrap.min.js': 'bootstrap/dist/js/bootstrap.min.js',
  'gx/bootstrap.min.css': 'bootstrap/dist/css/bootstrap.min.css',
  'gx/bootstrap-prefers-dark.css': '@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css',
  'gx/bootstrap-datepicker.min.js': 'bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js',
  'gx/bootstrap-datepicker.min.css': 'bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css',
  'gx/bootstrap-table.min.js': 'bootstrap-table/dist/bootstrap-table.min.js',
  'gx/bootstrap-table.min.css': 'bootstrap-table/dist/bootstrap-table.min.css',
  'gx/bootstrap-table-filter-control.min.js': 'bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js',
  'gx/bootstrap-table-filter-control.min.css': 'bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css',
  'gx/fontawesome/css/all.min.css': '@fortawesome/fontawesome-free/css/all.min.css',
  'gx/fontawesome/webfonts': '@fortawesome/fontawesome-free/webfonts', // all.min.css loads ../webfonts/
};
for (const [name, from] of Object.entries(DOCS_FILES)) {
  cpSync(join(here, 'node_modules', from), join(dist, 'docs', name), { recursive: true });
}

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
