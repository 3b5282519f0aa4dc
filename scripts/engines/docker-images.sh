#!/usr/bin/env bash
# Build the base images the docker tests use, locally, with no registry:
#
#   torchrun-core/busybox:latest  a static busybox (Debian busybox-static) in FROM scratch
#   torchrun-core/python:3.11     that busybox plus this host's Debian python3.11: the
#                                 interpreter, the libraries `ldd` lists for it and for its
#                                 extension modules, and its standard library
#
#   DOCKER_HOST=unix:///tmp/torchrun-core-dockerd/docker.sock bash scripts/engines/docker-images.sh
#
# An image that already exists is not rebuilt (delete it to force a rebuild).
# Needs: the docker CLI, /bin/busybox (busybox-static), /usr/bin/python3.11.
set -euo pipefail

BUSYBOX_IMAGE=${TORCHRUN_CORE_BUSYBOX_IMAGE:-torchrun-core/busybox:latest}
PYTHON_IMAGE=${TORCHRUN_CORE_PYTHON_IMAGE:-torchrun-core/python:3.11}
PY_BIN=/usr/bin/python3.11
PY_LIB=/usr/lib/python3.11
# The daemon may be older than the CLI; the classic builder works with both and
# needs no buildx plugin.
export DOCKER_BUILDKIT=0

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Copy the static busybox and one symlink per applet into the rootfs $1.
add_busybox() {
    local root=$1 applet
    mkdir -p "$root/bin" "$root/tmp" "$root/etc"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
    echo "root:x:0:" >"$root/etc/group"
}

# Copy each shared library that `ldd` lists for the given files, keeping its path.
add_libraries() {
    local root=$1 lib
    shift
    # ldd prints "name => /path (addr)", or "/path (addr)" for the loader, under
    # a "file:" header per file when given several.
    for lib in $(ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}' | sort -u); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

add_python() {
    local root=$1
    mkdir -p "$root/usr/bin" "$root/usr/lib"
    cp "$PY_BIN" "$root/usr/bin/python3.11"
    ln -sf python3.11 "$root/usr/bin/python3"
    ln -sf python3 "$root/usr/bin/python"
    # The standard library, less what no job needs (tests, GUI, installers).
    tar -C /usr/lib -cf - \
        --exclude='python3.11/test' --exclude='python3.11/idlelib' \
        --exclude='python3.11/tkinter' --exclude='python3.11/turtledemo' \
        --exclude='python3.11/ensurepip' --exclude='python3.11/lib2to3' \
        --exclude='python3.11/config-3.11-*' python3.11 | tar -C "$root/usr/lib" -xf -
    add_libraries "$root" "$PY_BIN" "$PY_LIB"/lib-dynload/*.so
}

# Build image $1 from the rootfs that function $2 fills.
build() {
    local tag=$1 fill=$2 ctx
    if have_image "$tag"; then
        echo "image $tag: present"
        return 0
    fi
    ctx=$(mktemp -d)
    trap 'rm -rf "$ctx"' RETURN
    mkdir "$ctx/rootfs"
    "$fill" "$ctx/rootfs"
    printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/bin:/bin\nCMD ["sh"]\n' >"$ctx/Dockerfile"
    # The output (and the classic builder's deprecation notice) only on failure.
    docker build --quiet --tag "$tag" "$ctx" >"$ctx/build.log" 2>&1 || {
        cat "$ctx/build.log" >&2
        return 1
    }
    echo "image $tag: built ($(du -sh "$ctx/rootfs" | cut -f1))"
}

fill_busybox() { add_busybox "$1"; }
fill_python() {
    add_busybox "$1"
    add_python "$1"
}

for tool in docker /bin/busybox "$PY_BIN"; do
    command -v "$tool" >/dev/null || {
        echo "error: $tool is missing (apt-get install docker.io busybox-static python3.11)" >&2
        exit 1
    }
done
build "$BUSYBOX_IMAGE" fill_busybox
build "$PYTHON_IMAGE" fill_python
