#!/usr/bin/env bash
# Installs everything daystosell needs on a fresh Debian machine, and nothing twice:
# Debian packages (the JDK and Maven, buildah/podman/skopeo, docker-registry, nginx, PostgreSQL, Chromium), the
# Python environment, the runtime's C kernels, MLeap's JVM runtime, Spark's S3A connector and the S3Proxy server
# from Maven Central, vegeta and kustomize from the Go module proxy, and the container base image. Each step
# records a stamp of its inputs and is skipped when they are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE="$ROOT/.state"
STAMPS="$STATE/stamps"
mkdir -p "$STAMPS"

log() { printf '\033[1m[setup %(%H:%M:%S)T]\033[0m %s\n' -1 "$*"; }
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { printf '%s' "$2" > "$STAMPS/$1"; }
digest() { cat "$@" | sha256sum | cut -c1-16; }

APT_PACKAGES=(
  openjdk-17-jdk-headless maven curl ca-certificates gcc libc6-dev
  buildah podman skopeo runc docker-registry debootstrap uidmap nginx-light apache2-utils postgresql
  chromium
)

install_debian_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages: all present"
    return
  fi
  log "Debian packages: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_python_env() {
  local key
  key=$(digest pyproject.toml)
  if [ -x .venv/bin/python ] && stamp_ok python "$key"; then
    log "Python environment: up to date (.venv)"
    return
  fi
  log "Python environment: creating .venv (pyspark builds a wheel on first install, ~2 min)"
  python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[pipeline,dev]"
  stamp_set python "$key"
}

build_kernels() {
  local key
  key=$(digest daystosell_service/mleap/kernels.c daystosell_service/mleap/build_kernels.py)
  if stamp_ok kernels "$key" && [ -f daystosell_service/mleap/_kernels.so ]; then
    log "Runtime kernels: up to date"
    return
  fi
  log "Runtime kernels: compiling daystosell_service/mleap/kernels.c"
  .venv/bin/python -m daystosell_service.mleap.build_kernels
  stamp_set kernels "$key"
}

install_mleap_jvm() {
  local pom=daystosell_assets/mleap/jvm/pom.xml key
  key=$(digest "$pom" daystosell_assets/mleap/jvm/*.java)
  if stamp_ok mleap-jvm "$key" && [ -f "$STATE/jvm/classes/MleapScore.class" ]; then
    log "MLeap JVM runtime: up to date (.state/jvm)"
    return
  fi
  log "MLeap JVM runtime: resolving jars from Maven Central"
  rm -rf "$STATE/jvm"
  mkdir -p "$STATE/jvm/lib" "$STATE/jvm/classes"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$STATE/jvm/lib" -DincludeScope=runtime
  log "MLeap JVM runtime: compiling the scoring harness"
  javac -d "$STATE/jvm/classes" -cp "$STATE/jvm/lib/*" daystosell_assets/mleap/jvm/*.java
  stamp_set mleap-jvm "$key"
}

install_s3a_jars() {
  # Spark's S3A connector for lakes on S3: hadoop-aws at the exact Hadoop version pyspark ships, with only
  # the AWS SDK modules it needs (not the 600 MB SDK bundle). daystosell_assets/lake/s3.py puts them on
  # spark.jars.
  local pom=daystosell_assets/lake/jvm/pom.xml key hadoop
  key=$(digest "$pom")
  if stamp_ok s3a-jars "$key" && compgen -G "$STATE/s3a/lib/hadoop-aws-*.jar" >/dev/null; then
    log "S3A connector: up to date (.state/s3a/lib)"
    return
  fi
  hadoop=$(find .venv/lib -path '*/pyspark/jars/hadoop-client-api-*.jar' -printf '%f\n' | sed -n 's/^hadoop-client-api-\(.*\)\.jar$/\1/p')
  if [ -n "$hadoop" ] && ! grep -q "<hadoop.version>$hadoop</hadoop.version>" "$pom"; then
    log "S3A connector: pyspark ships Hadoop $hadoop but $pom asks for another hadoop-aws: align them"
    return 1
  fi
  log "S3A connector: resolving hadoop-aws ${hadoop:-} and the AWS SDK modules from Maven Central"
  rm -rf "$STATE/s3a"
  mkdir -p "$STATE/s3a/lib"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$STATE/s3a/lib" -DincludeScope=runtime
  stamp_set s3a-jars "$key"
}

install_s3proxy() {
  # S3Proxy, the S3-compatible server on loopback that scripts/s3_server.py runs for tests and local
  # development (buckets as folders on disk).
  local pom=scripts/s3proxy/pom.xml key
  key=$(digest "$pom")
  if stamp_ok s3proxy "$key" && compgen -G "$STATE/s3proxy/lib/s3proxy-*.jar" >/dev/null; then
    log "S3Proxy: up to date (.state/s3proxy/lib)"
    return
  fi
  log "S3Proxy: resolving its jars from Maven Central"
  rm -rf "$STATE/s3proxy"
  mkdir -p "$STATE/s3proxy/lib"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$STATE/s3proxy/lib" -DincludeScope=runtime
  stamp_set s3proxy "$key"
}

go_install() {
  # go_install NAME MODULE@VERSION WHY: a Go tool from the Go module proxy into .state/bin, once per version.
  # Go comes from Debian only where the machine has none.
  local name=$1 module=$2 why=$3
  if stamp_ok "$name" "$module" && [ -x "$STATE/bin/$name" ]; then
    log "$name: up to date (.state/bin/$name)"
    return
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "$name: installing Debian's golang-go"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends golang-go
  fi
  log "$name: go install $module ($why)"
  mkdir -p "$STATE/bin"
  GOBIN="$STATE/bin" GOFLAGS=-mod=mod go install "$module"
  stamp_set "$name" "$module"
}

# The load generator of benchmarks/serving_load.py, benchmarks/soak.py and the soak test.
install_vegeta() { go_install vegeta "github.com/tsenart/vegeta/v12@v12.13.0" "the load generator"; }
# Renders deploy/k8s's overlays for a release (daystosell_assets/release/manifests.py). v5.8.2: the newest that
# Go 1.26 builds (v5.8.3 needs Go 1.27).
install_kustomize() { go_install kustomize "sigs.k8s.io/kustomize/kustomize/v5@v5.8.2" "~1 min"; }

install_base_image() {
  if [ "${DAYSTOSELL_SKIP_IMAGES:-0}" = "1" ]; then
    log "Container base image: skipped (DAYSTOSELL_SKIP_IMAGES=1)"
    return
  fi
  bash deploy/containers/base-image.sh
}

install_debian_packages
install_python_env
build_kernels
install_mleap_jvm
install_s3a_jars
install_s3proxy
install_vegeta
install_kustomize
install_base_image
log "ready"
