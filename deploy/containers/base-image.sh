#!/usr/bin/env bash
# Builds the scoring service's base image, localhost/daystosell/python-base:bookworm, from a Debian
# bookworm minbase rootfs made with debootstrap: this machine reaches Debian's mirror but no image registry.
# Idempotent: skips everything when the image exists and carries the digest of this script + its Containerfile.
#
# Env: DAYSTOSELL_BASE_IMAGE (tag), DEBIAN_MIRROR, and the image store shared with
# daystosell_assets.release (its ContainerTools.from_env applies the same rules):
#   DAYSTOSELL_STORAGE_DRIVER   overlay where the kernel has it, else vfs. vfs copies the whole rootfs
#                               for every Containerfile step (cached or not) with buildah 1.28: a
#                               service build takes minutes instead of seconds.
#   DAYSTOSELL_STORAGE_ROOT     default /var/lib/containers/daystosell-<driver>: our own store, as
#   DAYSTOSELL_STORAGE_RUNROOT  podman refuses a store first used with another driver; default
#                               /run/containers/daystosell-<driver>
#   DAYSTOSELL_BUILDAH_ISOLATION  default chroot
set -euo pipefail
SCRIPT=$(realpath "$0")
cd "$(dirname "$SCRIPT")/../.."
ROOT=$(pwd)

IMAGE=${DAYSTOSELL_BASE_IMAGE:-localhost/daystosell/python-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if grep -qw overlay /proc/filesystems 2>/dev/null; then default_driver=overlay; else default_driver=vfs; fi
STORAGE_DRIVER=${DAYSTOSELL_STORAGE_DRIVER:-$default_driver}
STORAGE_ROOT=${DAYSTOSELL_STORAGE_ROOT:-/var/lib/containers/daystosell-$STORAGE_DRIVER}
STORAGE_RUNROOT=${DAYSTOSELL_STORAGE_RUNROOT:-/run/containers/daystosell-$STORAGE_DRIVER}
ISOLATION=${DAYSTOSELL_BUILDAH_ISOLATION:-chroot}
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
CONTAINERFILE=deploy/containers/base.Containerfile
LABEL=io.daystosell.base.recipe-digest
WORK="$ROOT/.state/images/base"
ROOTFS="$WORK/rootfs"

log() { printf '[base-image %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
buildah_() { buildah --storage-driver "$STORAGE_DRIVER" --root "$STORAGE_ROOT" --runroot "$STORAGE_RUNROOT" "$@"; }

for tool in buildah debootstrap tar sha256sum flock; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh (it installs the Debian packages)"
done
[ "$(id -u)" -eq 0 ] || die "debootstrap and rootful buildah need root: run as root (or via sudo)"

RECIPE_DIGEST=$(cat "$SCRIPT" "$CONTAINERFILE" | sha256sum | cut -c1-16)

mkdir -p "$WORK"
# Two callers at once (setup.sh and a test session) would debootstrap into the same folder.
exec 9>"$WORK/.lock"
flock 9

current_digest() {
  buildah_ inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true
}

have=$(current_digest)
if [ "$have" = "$RECIPE_DIGEST" ]; then
  log "$IMAGE is up to date (recipe $RECIPE_DIGEST): nothing to do"
  exit 0
fi
old_id=""
if [ -n "$have" ]; then
  old_id=$(buildah_ inspect --type image --format '{{.FromImageID}}' "$IMAGE" 2>/dev/null || true)
  log "$IMAGE was built from recipe $have, now $RECIPE_DIGEST: rebuilding"
else
  log "$IMAGE not found: building it (recipe $RECIPE_DIGEST)"
fi

# A debootstrap killed midway can leave proc/sys mounted inside the rootfs: unmount before deleting,
# and never let rm cross into another filesystem.
clean_work() {
  local m
  if [ -d "$ROOTFS" ]; then
    findmnt -rn -o TARGET | grep -F "$ROOTFS/" | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf --one-file-system "$ROOTFS"
  fi
  rm -f "$WORK/rootfs.tar"
}
trap clean_work EXIT
clean_work

started=$SECONDS
log "debootstrap $SUITE minbase + $PACKAGES from $MIRROR (~45 s; log: .state/images/base/debootstrap.log)"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1; then
  tail -n 30 "$WORK/debootstrap.log" >&2
  die "debootstrap failed (see above and .state/images/base/debootstrap.log); check DEBIAN_MIRROR=$MIRROR is reachable"
fi
log "debootstrap done in $((SECONDS - started)) s ($(du -sh --one-file-system "$ROOTFS" | cut -f1))"

# Docs, manuals, translations and apt's indexes are dead weight in a service image, and every byte
# is copied again per layer by the vfs storage driver. resolv.conf/hostname are the build host's.
rm -rf "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* \
  "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* \
  "$ROOTFS"/etc/resolv.conf "$ROOTFS"/etc/hostname
# The runtime provides /dev, /proc and /sys; device nodes in a layer only cause trouble.
tar --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
  -C "$ROOTFS" -cf "$WORK/rootfs.tar" .
rm -rf --one-file-system "$ROOTFS"
log "rootfs tarball: $(du -h "$WORK/rootfs.tar" | cut -f1)"

log "buildah bud -t $IMAGE ($STORAGE_DRIVER storage in $STORAGE_ROOT, $ISOLATION isolation)"
buildah_ bud --isolation "$ISOLATION" --build-arg "BASE_RECIPE_DIGEST=$RECIPE_DIGEST" \
  -f "$ROOT/$CONTAINERFILE" -t "$IMAGE" "$WORK" 2>&1 | sed -u 's/^/  | /' >&2
[ "$(current_digest)" = "$RECIPE_DIGEST" ] || die "buildah finished but $IMAGE has no $LABEL=$RECIPE_DIGEST label"

# The replaced image is just disk now (vfs keeps a full copy per layer); keep it if something still uses it.
new_id=$(buildah_ inspect --type image --format '{{.FromImageID}}' "$IMAGE")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  buildah_ rmi "$old_id" >/dev/null 2>&1 && log "removed the previous base image ${old_id:0:12}" || true
fi
log "built $IMAGE (${new_id:0:12}) in $((SECONDS - started)) s; list it with:" \
  "podman --storage-driver $STORAGE_DRIVER --root $STORAGE_ROOT --runroot $STORAGE_RUNROOT images"
