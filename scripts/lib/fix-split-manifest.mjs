// Takes the split manifest of a content-hashed split build (cargo-leptos 0.3.4) out of the
// served folder, repaired, for the bundle benchmark (target/site/split-manifest.json).
//
// Why out: Leptos reads the manifest to add preload links for a page's pieces, and the links
// it writes (0.8.23: `crossorigin` set to the nonce) are never used by the loader, so every
// piece would be downloaded twice and each page would log a warning per piece. Without the
// manifest the loader (`__wasm_split.<hash>.js`, which has its own lists) fetches the pieces
// when the page needs them.
// Why repaired: with `hash-files`, cargo-leptos renames each piece `chunk_N.wasm` to
// `chunk_N.<hash>.wasm` and rewrites the manifest by plain text replacement, so `chunk_14` also
// rewrites the start of `chunk_140`. Each name is put back together (every `.<22-character
// hash>` dropped) and replaced by the file that is really there.
//
// Usage: node scripts/lib/fix-split-manifest.mjs target/site/pkg
import { readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] || 'target/site/pkg';
const files = readdirSync(dir);
const manifests = files.filter((f) => /^__wasm_split_manifest\..*json$/.test(f));
if (manifests.length === 0) process.exit(0); // not a split build
const hash = /\.[A-Za-z0-9_-]{22}/g;
for (const name of manifests) {
  const path = join(dir, name);
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  for (const [entry, pieces] of Object.entries(manifest)) {
    manifest[entry] = pieces.map((piece) => {
      const original = piece.replace(hash, '');
      if (files.includes(`${original}.wasm`)) return original;
      const hashed = files.find(
        (f) => f.startsWith(`${original}.`) && /^\.[A-Za-z0-9_-]{22}\.wasm$/.test(f.slice(original.length)),
      );
      if (!hashed) throw new Error(`${name}: no file for ${piece} (${original})`);
      return hashed.slice(0, -'.wasm'.length);
    });
  }
  writeFileSync(join(dir, '..', 'split-manifest.json'), JSON.stringify(manifest, null, 2));
  for (const ext of ['', '.br', '.gz']) rmSync(path + ext, { force: true });
}
