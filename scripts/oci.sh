#!/usr/bin/env bash
# Builds the OCI image that Istio's WasmPlugin pulls (`url: oci://...`), without a Docker engine.
#
# Format: Istio's Wasm image spec, *compat* variant: a FROM-scratch image whose single layer
# (media type application/vnd.oci.image.layer.v1.tar+gzip) holds /plugin.wasm. It is what
# `FROM scratch` + `COPY plugin.wasm /plugin.wasm` builds, and every registry stores it.
#
# Tools: umoci (Debian) writes the OCI image layout; skopeo (Debian) inspects and pushes it.
# The build is reproducible: fixed timestamps, so the same plugin.wasm gives the same digest.
#
# Usage: scripts/oci.sh [WASM] [OUT_DIR] [TAG]
#   defaults: $CORS_WASM or dist/cors.wasm, dist/oci, the version from Cargo.toml.
# Labels (OCI annotations keys, in the image config): title, version, licenses, and
#   org.opencontainers.image.source    $OCI_SOURCE, else the git remote `origin` URL;
#   org.opencontainers.image.revision  $OCI_REVISION, else `git rev-parse HEAD` (+ "-dirty"
#                                      when the work tree has uncommitted changes).
# Without a source (no OCI_SOURCE, no remote) the script refuses: an image whose provenance
# cannot be traced is not released.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM=${1:-${CORS_WASM:-dist/cors.wasm}}
OUT=${2:-dist/oci}
TAG=${3:-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)}
EPOCH=1970-01-01T00:00:00Z
SOURCE=${OCI_SOURCE:-$(git config --get remote.origin.url 2>/dev/null || true)}
REVISION=${OCI_REVISION:-$(git rev-parse HEAD 2>/dev/null || true)}
if [ -z "${OCI_REVISION:-}" ] && [ -n "$REVISION" ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  REVISION="$REVISION-dirty"
fi
[ -n "$SOURCE" ] || { echo "oci.sh: set OCI_SOURCE (the repository URL): no git remote 'origin' to take it from" >&2; exit 1; }
[ -n "$REVISION" ] || { echo "oci.sh: set OCI_REVISION (the commit): not a git work tree" >&2; exit 1; }
LICENSE=$(sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

[ -f "$WASM" ] || { echo "oci.sh: $WASM not found (run make build)" >&2; exit 1; }
scripts/apt-ensure.sh umoci:umoci skopeo:skopeo

ROOTLESS=()
[ "$(id -u)" -eq 0 ] || ROOTLESS=(--rootless)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
umoci init --layout "$OUT"
umoci new --image "$OUT:$TAG"
umoci config --image "$OUT:$TAG" --created "$EPOCH" --no-history \
  --config.label "org.opencontainers.image.title=envoy-cors" \
  --config.label "org.opencontainers.image.version=$TAG" \
  --config.label "org.opencontainers.image.source=$SOURCE" \
  --config.label "org.opencontainers.image.revision=$REVISION" \
  --config.label "org.opencontainers.image.licenses=$LICENSE"
umoci unpack "${ROOTLESS[@]}" --image "$OUT:$TAG" "$work/bundle" >/dev/null
install -m 0644 "$WASM" "$work/bundle/rootfs/plugin.wasm"
touch -h -d "@0" "$work/bundle/rootfs/plugin.wasm" "$work/bundle/rootfs"
umoci repack "${ROOTLESS[@]}" --image "$OUT:$TAG" \
  --history.created "$EPOCH" --history.created_by "COPY plugin.wasm /plugin.wasm" "$work/bundle"
# repack stamps the config with the current time: pin it again so digests are reproducible.
umoci config --image "$OUT:$TAG" --created "$EPOCH" --no-history
umoci gc --layout "$OUT"

# Check the result the way Istio reads it: one tar+gzip layer holding plugin.wasm, same bytes.
python3 - "$OUT" "$TAG" "$WASM" "$SOURCE" "$REVISION" <<'EOF'
import gzip, hashlib, io, json, sys, tarfile
out, tag, wasm, source, revision = sys.argv[1:]
blob = lambda d: open(f"{out}/blobs/sha256/{d.split(':', 1)[1]}", "rb").read()
index = json.load(open(f"{out}/index.json"))
desc = [m for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
assert len(desc) == 1, index
manifest = json.loads(blob(desc[0]["digest"]))
layers = manifest["layers"]
assert len(layers) == 1, f"expected one layer, got {len(layers)}"
assert layers[0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip", layers[0]
tar = tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob(layers[0]["digest"]))))
files = [m for m in tar.getmembers() if m.isfile()]
assert [m.name.lstrip("./") for m in files] == ["plugin.wasm"], [m.name for m in files]
inside = tar.extractfile(files[0]).read()
assert inside == open(wasm, "rb").read(), "plugin.wasm in the layer differs from the input"
labels = json.loads(blob(manifest["config"]["digest"]))["config"]["Labels"]
assert labels["org.opencontainers.image.source"] == source, labels
assert labels["org.opencontainers.image.revision"] == revision, labels
assert labels["org.opencontainers.image.version"] == tag, labels
print(f"labels:                 source {source}, revision {revision}")
print(f"plugin.wasm sha256:     {hashlib.sha256(inside).hexdigest()}")
print(f"image manifest digest:  {desc[0]['digest']}")
print(f"layer digest:           {layers[0]['digest']}")
EOF
skopeo inspect --raw "oci:$OUT:$TAG" >/dev/null
manifest_hex=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1]+"/index.json")); print([m["digest"] for m in i["manifests"] if m.get("annotations",{}).get("org.opencontainers.image.ref.name")==sys.argv[2]][0].split(":")[1])' "$OUT" "$TAG")
cat <<EOF
OCI image layout: $OUT (tag $TAG)
Push it (log in first with: skopeo login REGISTRY); --preserve-digests fails rather than change the digest:
  skopeo copy --preserve-digests oci:$OUT:$TAG docker://REGISTRY/envoy-cors:$TAG
WasmPlugin (Istio checks an oci:// image against its manifest digest):
  url: oci://REGISTRY/envoy-cors:$TAG
  sha256: $manifest_hex
(For an http(s):// url, sha256 is the plugin.wasm sha256 above; for file:// Istio ignores it: docs/istio.md.)
EOF
