// Packs the pieces each page of a split build needs into one file, so a page's first load is
// one download compressed as a whole instead of dozens of small files compressed one by one.
//
// Why: the splitter (cargo-leptos 0.3.4's wasm-split) puts code that two or more pages share in
// one piece per exact set of pages sharing it. A heavy page fetches 50 to 70 pieces, most under
// 2 KB, and Brotli compresses each alone; as one file the same bytes are 15 to 25 KB smaller.
//
// What it does, after fix-split-manifest.mjs:
// - for each entry of target/site/split-manifest.json (a page, or a lazy function) with more
//   than one piece, writes `pack_<N>.<hash>.bin`: the pieces one after another (and `.br`,
//   `.gz`, as the release build does for the rest), and lists it in split-packs.json for the
//   bundle benchmark;
// - teaches the split loader (`__wasm_split.<hash>.js`) to fetch a page's pack when none of its
//   pieces is loaded yet (a full page load), and each missing piece alone otherwise (moving to
//   another page, where most shared pieces are already there). Each piece is instantiated just
//   as the loader did before, dependencies first.
//
// Usage: node scripts/lib/pack-split.mjs target/site/pkg
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const dir = process.argv[2] || 'target/site/pkg';
const manifestPath = join(dir, '..', 'split-manifest.json');
if (!existsSync(manifestPath)) process.exit(0); // not a split build
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const files = readdirSync(dir);
for (const old of files.filter((f) => /^pack_\d+\./.test(f))) rmSync(join(dir, old));

const loaders = files.filter((f) => /^__wasm_split\..*\.js$/.test(f));
if (loaders.length !== 1) throw new Error(`expected one split loader in ${dir}, found ${loaders}`);
const loaderPath = join(dir, loaders[0]);

// The split loader's own `makeLoad`, exactly as wasm_split_cli_support 0.2 writes it. Anything
// else (another splitter version) stops the build here rather than shipping a loader that
// half works.
const original = `function makeLoad(url, deps) {
    const loader = async () => {
        const parallelStuff = deps.map(d => d());
        const fetchSelf = fetch(url);
        parallelStuff.push(fetchSelf);
        await Promise.all(parallelStuff);
        const response = await fetchSelf;
        const imports = getSharedImports();
        return await WebAssembly.instantiateStreaming(response, imports);
    };
    let loadingModule = undefined;
    return () => {
        if (loadingModule === undefined) loadingModule = loader();
        return loadingModule;
    }
}`;

// The original's way of loading a piece (its dependencies, then itself, each file alone), kept
// as it is for moving between pages.
const fetchEachPiece = original.slice(
  original.indexOf('    const loader = '),
  original.indexOf('    let loadingModule'),
);

const packs = {}; // the entry's own piece file → [pack file, [[piece file, bytes], …]]
const listed = {}; // entry → pack file, for the benchmark
let n = 0;
for (const [entry, pieces] of Object.entries(manifest)) {
  if (pieces.length < 2) continue;
  const parts = pieces.map((p) => [`${p}.wasm`, readFileSync(join(dir, `${p}.wasm`))]);
  const body = Buffer.concat(parts.map(([, bytes]) => bytes));
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 22);
  const name = `pack_${n++}.${hash}.bin`;
  writeFileSync(join(dir, name), body);
  writeFileSync(
    join(dir, `${name}.br`),
    brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_LGWIN]: 22,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    }),
  );
  writeFileSync(join(dir, `${name}.gz`), gzipSync(body, { level: 9 }));
  // The manifest lists the entry's shared pieces first and its own piece last.
  packs[parts[parts.length - 1][0]] = [name, parts.map(([file, bytes]) => [file, bytes.length])];
  listed[entry] = name;
}

const patched = `const __flarePacks = ${JSON.stringify(packs)};
// Flare (scripts/lib/pack-split.mjs): a page's pieces come in one pack on a full load.
function makeLoad(url, deps) {
    const file = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
    const instantiate = (bytes) => WebAssembly.instantiate(bytes, getSharedImports());
${fetchEachPiece}    const fromPack = () => {
        const pack = __flarePacks[file];
        if (pack === undefined || deps.some(d => d.started())) return undefined;
        const bytes = fetch(new URL("./" + pack[0], url)).then(r => {
            if (!r.ok) throw new Error("Flare could not load " + pack[0] + ": HTTP " + r.status);
            return r.arrayBuffer();
        });
        const slices = new Map();
        let at = 0;
        for (const [piece, length] of pack[1]) {
            slices.set(piece, [at, length]);
            at += length;
        }
        const slice = (piece) => bytes.then(b => new Uint8Array(b, ...slices.get(piece)));
        const ready = deps.map(d => d.provide(slice(d.file)));
        return Promise.all(ready).then(() => slice(file)).then(instantiate);
    };
    let loadingModule = undefined;
    const load = () => {
        if (loadingModule === undefined) loadingModule = fromPack() || loader();
        return loadingModule;
    };
    load.file = file;
    load.started = () => loadingModule !== undefined;
    load.provide = (bytes) => {
        if (loadingModule === undefined) loadingModule = bytes.then(instantiate);
        return loadingModule;
    };
    return load;
}`;

let js = readFileSync(loaderPath, 'utf8');
const packedBefore = /^const __flarePacks = .*;$/m;
if (js.includes(original)) {
  js = js.replace(original, patched);
} else if (packedBefore.test(js)) {
  // Packed by an earlier run on the same build: only the list of packs is new.
  js = js.replace(packedBefore, () => patched.split('\n')[0]);
} else {
  throw new Error(`${loaderPath}: the split loader is not the one this script knows (wasm_split_cli_support 0.2)`);
}
writeFileSync(loaderPath, js);
for (const ext of ['.br', '.gz']) rmSync(loaderPath + ext, { force: true });
writeFileSync(
  `${loaderPath}.br`,
  brotliCompressSync(Buffer.from(js), { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
);
writeFileSync(`${loaderPath}.gz`, gzipSync(Buffer.from(js), { level: 9 }));
writeFileSync(join(dir, '..', 'split-packs.json'), JSON.stringify(listed, null, 2));
console.log(`packed ${n} pages' pieces (${dir})`);
