# The data environment's images, built once per test run and shared by the test
# files that only need to run or read them (networks, sbom, scan, kube, ...).
#
#   load dataenv_images
#   dataenv_image prod      # dataenv:latest-prod is now in $KILN_ROOT
#   dataenv_image dev       # dataenv:latest
#   dataenv_image prometheus  # dataenv-prometheus:latest (the stack's monitoring)
#
# The images are built by the Makefile's targets (make ml-build / ml-build-prod,
# the way a user builds them, with the build script's own epoch, not the test's
# SOURCE_DATE_EPOCH) into one store, $KILN_TEST_IMAGES/store (default
# $KILN_TEST_BUILD/test-images), under flock: the first file that asks builds,
# later ones (and later runs) hit the cache and copy the image into their own
# store with `kiln save | kiln load`. dataenv_build.bats keeps its own store: it
# is the test of building them.

_dataenv_images_root() {
    local root
    root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    echo "$root"
}

# dataenv_image dev|prod [FLAGS...]: the image loaded into $KILN_ROOT; extra
# build script flags (e.g. --slim) give a variant, tagged as the script tags it.
dataenv_image() {
    local which=$1
    shift
    local root shared tag target
    root=$(_dataenv_images_root)
    shared="${KILN_TEST_IMAGES:-${KILN_TEST_BUILD:-$root/build}/test-images}"
    mkdir -p "$shared"
    case "$which" in
    dev) tag=dataenv:latest target=ml-build ;;
    prod) tag=dataenv:latest-prod target=ml-build-prod ;;
    prometheus) tag=dataenv-prometheus:latest target=ml-build-prometheus ;;
    *)
        echo "dataenv_image: dev, prod or prometheus, not $which" >&2
        return 2
        ;;
    esac
    # One builder at a time; an unchanged build is a cache hit in a second or two.
    (
        flock 9
        env -u SOURCE_DATE_EPOCH KILN_ROOT="$shared/store" make -s -C "$root" --no-print-directory \
            BUILD="${KILN_TEST_BUILD:-$root/build}" KILN_BIN="$KILN" \
            ML_FLAGS="$*" "$target" >"$shared/$which.log" 2>&1 || {
            echo "dataenv_image: make $target failed (log: $shared/$which.log)" >&2
            tail -n 30 "$shared/$which.log" >&2
            exit 1
        }
    ) 9>"$shared/lock" || return 1
    if [ "${KILN_ROOT:-}" != "$shared/store" ]; then
        KILN_ROOT="$shared/store" "$KILN" save -o - "$tag" | "$KILN" load -i - >/dev/null || {
            echo "dataenv_image: could not copy $tag into $KILN_ROOT" >&2
            return 1
        }
    fi
}
