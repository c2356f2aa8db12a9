// Packs the pieces each page of a split build needs into one file, so a page's first load is
// one download compressed as a whole instead of dozens of small files compressed one by one.
//
// Why: the splitter (cargo-leptos 0.3.4's wasm-split) puts code that two or more pages share in
// one piece per exact set of pages sharing it. A heavy page fetches 50 to 70 pieces, most under
// 2 KB, and Brotli compresses each alone; as one file the same bytes are 15 to 25 KB smaller.
//
// What it does, after fix-split-manifest.mjs:
// - for each entry of target/site/split-manifest.json (a page, or a lazy function) with more
//   than one piece, writes `pack_<N>.<hash>.bin`: the pieces' lengths, then the pieces one after
//   another (and `.br`, `.gz`, as the release build does for the rest), and lists it in
//   split-packs.json for the bundle benchmark;
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

// Which file each of the loader's pieces is, and each entry's dependencies in the loader's order.
let js = readFileSync(loaderPath, 'utf8');
const fileOf = new Map(); // `__chunk_N` → its file
for (const [, name, file] of js.matchAll(/const (__chunk_\d+) = makeLoad\(new URL\("\.\/([^"]+)"/g)) {
  fileOf.set(name, file);
}
const depsOf = new Map(); // an entry's own file → its pieces' files, in the loader's order
for (const [, file, deps] of js.matchAll(/wrapAsyncCb\(makeLoad\(new URL\("\.\/([^"]+)", import\.meta\.url\), \[([^\]]*)\]\)\)/g)) {
  depsOf.set(file, deps.split(',').map((d) => d.trim()).filter(Boolean).map((d) => fileOf.get(d)));
}

const packs = {}; // the entry's own piece file → its pack file
const listed = {}; // entry → pack file, for the benchmark
let n = 0;
for (const [entry, pieces] of Object.entries(manifest)) {
  if (pieces.length < 2) continue;
  // The manifest lists the entry's shared pieces first and its own piece last.
  const own = `${pieces[pieces.length - 1]}.wasm`;
  const deps = depsOf.get(own);
  const shared = pieces.slice(0, -1).map((p) => `${p}.wasm`);
  if (!deps || deps.length !== shared.length || !deps.every((d) => shared.includes(d))) {
    throw new Error(`${entry}: the loader and the manifest disagree on its pieces`);
  }
  // A pack: how many pieces, each one's length (little-endian u32s), then the pieces, in the
  // order the loader lists the dependencies and the entry's own piece last. No names: the
  // loader knows them.
  const parts = [...deps, own].map((file) => readFileSync(join(dir, file)));
  const head = Buffer.alloc(4 * (parts.length + 1));
  head.writeUInt32LE(parts.length, 0);
  parts.forEach((bytes, i) => head.writeUInt32LE(bytes.length, 4 * (i + 1)));
  const body = Buffer.concat([head, ...parts]);
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
  packs[own] = name;
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
        const pieces = fetch(new URL("./" + pack, url)).then(r => {
            if (!r.ok) throw new Error("Flare could not load " + pack + ": HTTP " + r.status);
            return r.arrayBuffer();
        }).then(b => {
            const head = new DataView(b);
            const count = head.getUint32(0, true);
            if (count !== deps.length + 1) throw new Error("Flare's " + pack + " does not match " + file);
            const found = [];
            let at = 4 * (count + 1);
            for (let i = 1; i <= count; i++) {
                const length = head.getUint32(4 * i, true);
                found.push(new Uint8Array(b, at, length));
                at += length;
            }
            return found;
        });
        const slice = (i) => pieces.then(found => found[i]);
        const ready = deps.map((d, i) => d.provide(slice(i)));
        return Promise.all(ready).then(() => slice(deps.length)).then(instantiate);
    };
    let loadingModule = undefined;
    const load = () => {
        if (loadingModule === undefined) loadingModule = fromPack() || loader();
        return loadingModule;
    };
    load.started = () => loadingModule !== undefined;
    load.provide = (bytes) => {
        if (loadingModule === undefined) loadingModule = bytes.then(instantiate);
        return loadingModule;
    };
    return load;
}
// Flare: end of makeLoad`;

// Packed by an earlier run on the same build: that run's block is replaced whole.
const packedBefore = /const __flarePacks = [\s\S]*?\/\/ Flare: end of makeLoad/;
if (js.includes(original)) {
  js = js.replace(original, patched);
} else if (packedBefore.test(js)) {
  js = js.replace(packedBefore, () => patched);
} else {
  throw new Error(`${loaderPath}: the split loader is not the one this script knows (wasm_split_cli_support 0.2)`);
}
// The splitter notes above each piece which pages share it: 60 KB of comments that every page
// downloaded (the loader is not minified).
js = js.replace(/^\/\* [^*]* \*\/\n/gm, '');
writeFileSync(loaderPath, js);
for (const ext of ['.br', '.gz']) rmSync(loaderPath + ext, { force: true });
writeFileSync(
  `${loaderPath}.br`,
  brotliCompressSync(Buffer.from(js), { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
);
writeFileSync(`${loaderPath}.gz`, gzipSync(Buffer.from(js), { level: 9 }));
writeFileSync(join(dir, '..', 'split-packs.json'), JSON.stringify(listed, null, 2));
console.log(`packed ${n} pages' pieces (${dir})`);
