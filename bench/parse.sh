#!/usr/bin/env bash
# bench/parse.sh: parse + expand a generated 2,000-line Dockerfile with kiln's
# frontend (parser, ARG/ENV evaluation, stage graph, every step of every needed
# stage expanded). Goal: under 5 ms. There is no peer to run beside it (BuildKit's
# parser is not packaged for Debian), so it records kiln's figure alone.
# Standalone: `bench/parse.sh` prints the figure; under run-all it also records it.
set -euo pipefail
own_tmp=${BENCH_TMP:-yes}
. "$(dirname "$0")/lib.sh"
# standalone runs clean up the scratch directory lib.sh made for them
[ "$own_tmp" = yes ] && trap 'rm -rf "$BENCH_TMP"' EXIT

lines=${PARSE_LINES:-2000}
iters=$([ "$BENCH_QUICK" = 1 ] && echo 50 || echo 200)
df=$BENCH_TMP/parse-bench.Dockerfile
bin=$BENCH_TMP/parse_bench

make -C "$BENCH_ROOT" --no-print-directory build/libkiln.a >/dev/null
cc -std=c17 -D_GNU_SOURCE -O2 -I"$BENCH_ROOT/src" -o "$bin" "$BENCH_DIR/parse_bench.c" \
    "$BENCH_ROOT/build/libkiln.a" $(pkg-config --libs jansson libcrypto) -lpthread

# A Dockerfile of realistic shape: global ARGs, stages that build on each other,
# RUN with continuations and heredocs, ENV/ARG chains, COPY --from, LABELs.
python3 - "$df" "$lines" <<'PY'
import sys
path, want = sys.argv[1], int(sys.argv[2])
out = ["# syntax=docker/dockerfile:1", "ARG BASE=debian:bookworm-slim", "ARG VERSION=1.0",
       "ARG PREFIX=/opt/app"]
stage = 0
while len(out) + 90 < want:
    name = f"s{stage}"
    base = "${BASE}" if stage % 4 == 0 else f"s{stage - 1}"
    out += [f"FROM {base} AS {name}", "ARG VERSION", "ARG PREFIX",
            f"ENV APP_HOME=${{PREFIX}}/{name} PATH=${{PREFIX}}/{name}/bin:$PATH \\",
            f"    STAGE={name} VERSION_FULL=${{VERSION:-0}}-{stage}",
            "WORKDIR $APP_HOME"]
    for i in range(8):
        out += [f"RUN --mount=type=cache,target=/var/cache/{name}-{i} \\",
                f"    set -eux; echo building {name} step {i} in $APP_HOME \\",
                "    # a comment inside the continuation",
                f"    && make -C src/{i} PREFIX=$PREFIX VERSION=$VERSION \\",
                f"    && install -m 0755 build/{i}/tool $APP_HOME/bin/tool{i}",
                f"COPY --chown=1000:1000 --chmod=0644 src/{name}/{i}/ ${{APP_HOME}}/src/{i}/",
                f"ENV STEP_{i}=${{APP_HOME}}/step{i} FILE_{i}=archive-{i}.tar.gz",
                f"LABEL org.example.{name}.step{i}=\"${{FILE_{i}%%.*}}\" org.example.v=${{VERSION_FULL/./_}}"]
    out += ["RUN <<EOF", f"echo heredoc for {name}", "ls -la $APP_HOME", "EOF",
            f"COPY <<EOF ${{APP_HOME}}/version.txt", "version ${VERSION}", "EOF"]
    if stage > 0:
        out.append(f"COPY --from=s{stage - 1} ${{PREFIX}}/s{stage - 1}/bin/ ${{APP_HOME}}/prev/")
    out += ["EXPOSE 8080 9090/udp", "USER 1000:1000", ""]
    stage += 1
out += [f"FROM s{stage - 1} AS final", "HEALTHCHECK --interval=30s CMD [\"true\"]",
        'ENTRYPOINT ["/opt/app/bin/start"]', 'CMD ["--serve"]']
i = 0
while len(out) < want:
    out.append(f"LABEL org.example.final.l{i}=\"${{VERSION:-none}}-{i}\"")
    i += 1
open(path, "w").write("\n".join(out) + "\n")
PY

result=$("$bin" "$df" "$iters" "$BENCH_TMP/parse-times.txt")
echo "$result"
cpu=$(sed -E 's/.*cpu: min ([0-9.]+) ms, median ([0-9.]+) ms.*/\2/' <<<"$result")
if [ -n "${BENCH_OUT:-}" ]; then
    bench_record bench=parse case="dockerfile-${lines}-lines" scenario=parse+expand tool=kiln \
        unit=ms runs="$(cat "$BENCH_TMP/parse-times.txt")" \
        note="wall time of each run; median CPU time $cpu ms; goal < 5 ms"
fi
