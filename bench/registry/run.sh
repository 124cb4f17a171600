#!/usr/bin/env bash
# Registry benchmark: Debian's docker-registry (distribution 2.8) and `sigil registry serve`
# side by side in one run, each registry driven by the same clients:
#   - skopeo 1.9 (--preserve-digests) and the sigil client (`sigil load` / `sigil save`, cosign's
#     load/save), each against a fresh registry: push and pull of a 50 MiB single-layer image
#     and of a 200-layer image of small layers;
#   - curl: one 50 MiB blob pushed, blobs pulled (a thin client, to show the servers' own speed);
#   - the floor of a 50 MiB pull (loopback copy, sha256, file write, each alone: floor.py);
#   - manifest GET under 64 concurrent connections: wrk closed-loop at saturation, and the
#     constant-rate generator bench/soak/load (wrk2-style, latency from the scheduled send
#     time) at fixed offered rates.
# Prints per-run times, medians, throughputs and sigil/distribution ratios.
#
# usage: bench/registry/run.sh [REPS]        (default 5; REPS=1 for a quick check)
# env:   SIGIL_BIN (default target/release/sigil, built if missing; if the workspace does not
#        build, the registry-only example target/release/examples/serve is used and the sigil
#        client rows are skipped), WRK_SECONDS, WRK_THREADS (default "1 2": wrk runs once per
#        thread count; -t1 leaves more of the two cores to the server, which is where the
#        latency tail comes from), RATES (default "10000 20000" req/s), RATE_SECONDS (15),
#        LOAD_BIN (the constant-rate generator; built from bench/soak/load if unset)
set -euo pipefail
REPS=${1:-5}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_THREADS=${WRK_THREADS:-1 2}
RATES=${RATES:-10000 20000}
RATE_SECONDS=${RATE_SECONDS:-15}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SIGIL_BIN=${SIGIL_BIN:-$ROOT/target/release/sigil}
for tool in docker-registry skopeo wrk python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/install-peers.sh" >&2; exit 1; }
done
if [ ! -x "$SIGIL_BIN" ]; then
  if ! (cd "$ROOT" && cargo build --release -p sigil); then
    (cd "$ROOT" && cargo build --release -p sigil-registry --example serve)
    SIGIL_BIN=$ROOT/target/release/examples/serve
  fi
fi
SIGIL_CLIENT=$SIGIL_BIN
[ "$(basename "$SIGIL_BIN")" = serve ] && SIGIL_CLIENT=
if [ -z "${LOAD_BIN:-}" ]; then
  (cd "$ROOT" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target} cargo build --release -q \
    --manifest-path bench/soak/load/Cargo.toml)
  LOAD_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/sigil-soak-load
fi
sigil_args() { # ROOT -> the serve command line of $SIGIL_BIN
  if [ "$(basename "$SIGIL_BIN")" = serve ]; then echo "127.0.0.1:0 $1"
  else echo "registry serve --addr 127.0.0.1:0 --root $1"; fi
}
echo "sigil: $SIGIL_BIN" >&2
WORK=$(mktemp -d /tmp/sigil-registry-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$WORK/policy.json"
python3 "$HERE/mklayouts.py" "$WORK/img"
# A separate 50 MiB blob for the raw-HTTP push (not shared with the images, so no run can
# short-cut it by content deduplication).
head -c 52428800 /dev/urandom > "$WORK/raw.bin"
RAW_DIGEST=sha256:$(sha256sum "$WORK/raw.bin" | cut -d' ' -f1)
BIG_LAYER=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["layers"][0]["digest"])' \
  "$WORK/img/big/blobs/sha256/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"][7:])' "$WORK/img/big/index.json")")
MANY_LAYERS=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join(l["digest"] for l in m["layers"]))' \
  "$WORK/img/many/blobs/sha256/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"][7:])' "$WORK/img/many/index.json")")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

# start_registry KIND DIR -> sets ADDR and PID (a fresh, empty root each time, so no run can
# reuse blobs of an earlier one)
start_registry() {
  local kind=$1 dir=$2
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$kind" = distribution ]; then
    local port; port=$(free_port)
    cat > "$dir/config.yml" <<YML
version: 0.1
log: {level: error}
storage:
  cache: {blobdescriptor: inmemory}
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$port
YML
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    PID=$!; ADDR=127.0.0.1:$port
    wait_port "$port"
  else
    # shellcheck disable=SC2046 # word splitting of the argument list is intended
    env ${SIGIL_ENV:-} "$SIGIL_BIN" $(sigil_args "$dir/data") >"$dir/out" 2>"$dir/log" &
    PID=$!
    for _ in $(seq 200); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.05; done
    ADDR=$(head -1 "$dir/out" | awk '{print $3}')
  fi
  PIDS+=("$PID")
}
stop_registry() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

now() { date +%s.%N; }
skopeo_copy() { skopeo --policy "$WORK/policy.json" copy -q --preserve-digests \
  --src-tls-verify=false --dest-tls-verify=false "$@" >/dev/null; }

# manifest_gets KIND: wrk at saturation and bench/soak/load at fixed rates on $ADDR / $PID.
manifest_gets() {
  local kind=$1 img th r
  for img in big many; do
    for th in $WRK_THREADS; do
      wrk -t"$th" -c64 -d"${WRK_SECONDS}s" --latency \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://$ADDR/v2/bench/$img/manifests/v1" > "$WORK/wrk-$kind-$img-t$th.txt"
    done
    for r in $RATES; do
      "$LOAD_BIN" get "http://$ADDR/v2/bench/$img/manifests/v1" --pid "$PID" --rate "$r" \
        --duration "$RATE_SECONDS" --window "$RATE_SECONDS" --connections 64 \
        --header 'Accept: application/vnd.oci.image.manifest.v1+json' \
        | tail -1 > "$WORK/rate-$kind-$img-$r.txt"
    done
  done
}

RESULTS="$WORK/results.txt"; : > "$RESULTS"
for rep in $(seq "$REPS"); do
  for kind in distribution sigil; do
    if [ -n "$SIGIL_CLIENT" ]; then
      # The sigil client on a registry of its own (no blob left by the skopeo runs).
      start_registry "$kind" "$WORK/reg-$kind"
      for img in big many; do
        t0=$(now); "$SIGIL_CLIENT" load --dir "$WORK/img/$img" "$ADDR/bench/$img:v1" 2>/dev/null; t1=$(now)
        rm -rf "$WORK/pulled"
        t2=$(now); "$SIGIL_CLIENT" save --dir "$WORK/pulled" "$ADDR/bench/$img:v1" 2>/dev/null; t3=$(now)
        echo "$kind sigil-$img push $(echo "$t1 - $t0" | bc -l)" >> "$RESULTS"
        echo "$kind sigil-$img pull $(echo "$t3 - $t2" | bc -l)" >> "$RESULTS"
      done
      stop_registry
    fi
    start_registry "$kind" "$WORK/reg-$kind"
    for img in big many; do
      t0=$(now); skopeo_copy "oci:$WORK/img/$img:v1" "docker://$ADDR/bench/$img:v1"; t1=$(now)
      rm -rf "$WORK/pulled"
      t2=$(now); skopeo_copy "docker://$ADDR/bench/$img:v1" "oci:$WORK/pulled:v1"; t3=$(now)
      echo "$kind $img push $(echo "$t1 - $t0" | bc -l)" >> "$RESULTS"
      echo "$kind $img pull $(echo "$t3 - $t2" | bc -l)" >> "$RESULTS"
    done
    # The same transfers over plain HTTP with curl (a thin client), so the registry's own
    # speed shows where skopeo's client-side work (hashing, writing the layout) dominates.
    # POST then PUT with the whole blob (distribution 2.8 ignores a body on the POST).
    t0=$(now)
    loc=$(curl -s -D - -o /dev/null -X POST "http://$ADDR/v2/bench/raw/blobs/uploads/" \
      | tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
    case "$loc" in /*) loc="http://$ADDR$loc" ;; esac
    case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
      --data-binary @"$WORK/raw.bin" "$loc${sep}digest=$RAW_DIGEST")
    t1=$(now)
    [ "$code" = 201 ] || { echo "$kind: raw monolithic push answered $code" >&2; exit 1; }
    echo "$kind raw-big push $(echo "$t1 - $t0" | bc -l)" >> "$RESULTS"
    t0=$(now); curl -sf -o /dev/null "http://$ADDR/v2/bench/big/blobs/$BIG_LAYER"; t1=$(now)
    echo "$kind raw-big pull $(echo "$t1 - $t0" | bc -l)" >> "$RESULTS"
    urls=(); for d in $MANY_LAYERS; do urls+=(-o /dev/null "http://$ADDR/v2/bench/many/blobs/$d"); done
    t0=$(now); curl -sf "${urls[@]}"; t1=$(now)
    echo "$kind raw-many pull $(echo "$t1 - $t0" | bc -l)" >> "$RESULTS"
    [ "$rep" = 1 ] && manifest_gets "$kind"
    stop_registry
  done
  if [ "$rep" = 1 ]; then
    # The same manifest GETs against sigil on one runtime worker thread (tokio reads
    # TOKIO_WORKER_THREADS; the default is one per core). On two cores shared with the load
    # generator, two workers and wrk make three busy threads, and the tail is time slices.
    SIGIL_ENV=TOKIO_WORKER_THREADS=1 start_registry sigil "$WORK/reg-sigil1w"
    for img in big many; do skopeo_copy "oci:$WORK/img/$img:v1" "docker://$ADDR/bench/$img:v1"; done
    manifest_gets sigil1w
    stop_registry
  fi
  echo "run $rep/$REPS done" >&2
done

# What any client must do to pull the 50 MiB layer, without a registry: the loopback copy,
# the sha256 and the write of a new file, each alone (bench/registry/floor.py).
python3 "$HERE/floor.py" "$WORK/img/big/blobs/sha256/${BIG_LAYER#sha256:}" "$WORK" 5 > "$WORK/floor.txt"

python3 - "$RESULTS" "$WORK" "$REPS" "$WRK_THREADS" "$RATES" <<'PY'
import statistics, sys, os, re
res, work, reps, wrk_threads, rates = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(), sys.argv[5].split()
sizes = {}
for img in ("big", "many"):
    total = 0
    for dp, _, fs in os.walk(os.path.join(work, "img", img, "blobs")):
        total += sum(os.path.getsize(os.path.join(dp, f)) for f in fs)
    sizes[img] = total
t = {}
for line in open(res):
    kind, img, op, secs = line.split()
    t.setdefault((img, op, kind), []).append(float(secs))
print(f"registry benchmark: {reps} runs each, fresh root per run and per client")
print("rows big/many: skopeo 1.9 copy --preserve-digests oci: <-> docker://;")
print("     sigil-big/sigil-many: sigil load --dir (push) / sigil save --dir (pull), cosign's load/save;")
print("     raw-*: curl, one blob POST / GETs on one connection")
print(f"{'image':<11}{'op':<6}{'distribution s':>16}{'sigil s':>10}{'dist MiB/s':>12}{'sigil MiB/s':>13}{'speedup':>9}")
sizes["raw-big"] = sizes["big"]
sizes["raw-many"] = sizes["many"]
sizes["sigil-big"] = sizes["big"]
sizes["sigil-many"] = sizes["many"]
for img, op in (("big", "push"), ("big", "pull"), ("many", "push"), ("many", "pull"),
                ("sigil-big", "push"), ("sigil-big", "pull"), ("sigil-many", "push"),
                ("sigil-many", "pull"), ("raw-big", "push"), ("raw-big", "pull"),
                ("raw-many", "pull")):
        if (img, op, "sigil") not in t:
            continue
        d = statistics.median(t[(img, op, "distribution")])
        s = statistics.median(t[(img, op, "sigil")])
        mib = sizes[img] / (1 << 20)
        print(f"{img:<11}{op:<6}{d:>16.3f}{s:>10.3f}{mib/d:>12.1f}{mib/s:>13.1f}{d/s:>8.2f}x")
floor = dict(l.split()[1:] for l in open(os.path.join(work, "floor.txt")))
print("floor of a 50 MiB pull on this machine, no registry (bench/registry/floor.py, median of 5):")
print(f"  loopback TCP copy {float(floor['tcp']):.1f} ms, sha256 {float(floor['sha256']):.1f} ms, "
      f"write to a new file {float(floor['write']):.1f} ms, page-cache read {float(floor['read']):.1f} ms")
def wrk(kind, img, th):
    txt = open(os.path.join(work, f"wrk-{kind}-{img}-t{th}.txt")).read()
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", txt, re.M))
    rps = re.search(r"Requests/sec:\s+(\S+)", txt).group(1)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", txt)
    if bad:
        sys.exit(f"{kind}: {bad.group(1)} manifest GETs failed during wrk; results are not comparable")
    return lat, float(rps)
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
for img in ("big", "many"):
    size = os.path.getsize(os.path.join(work, "img", img, "blobs", "sha256",
        __import__("json").load(open(os.path.join(work, "img", img, "index.json")))["manifests"][0]["digest"][7:]))
    for th in wrk_threads:
        (dl, dr), (sl, sr) = wrk("distribution", img, th), wrk("sigil", img, th)
        print(f"manifest GET ({img}, {size} bytes), wrk -t{th} -c64, load generator on the same 2 cores:")
        print(f"  distribution: p50 {ms(dl['50']):.3f} ms  p99 {ms(dl['99']):.3f} ms  {dr:.0f} req/s")
        print(f"  sigil:        p50 {ms(sl['50']):.3f} ms  p99 {ms(sl['99']):.3f} ms  {sr:.0f} req/s")
        print(f"  sigil/distribution: p99 {ms(sl['99'])/ms(dl['99']):.3f}, throughput {sr/dr:.1f}x")
        ol, orr = wrk("sigil1w", img, th)
        print(f"  sigil, 1 worker thread (TOKIO_WORKER_THREADS=1): p50 {ms(ol['50']):.3f} ms  "
              f"p99 {ms(ol['99']):.3f} ms  {orr:.0f} req/s")
def rate(kind, img, r):
    txt = open(os.path.join(work, f"rate-{kind}-{img}-{r}.txt")).read()
    f = lambda pat: float(re.search(pat, txt).group(1))
    return dict(answered=f(r"answered: (\d+)"), behind=f(r"not sent \(behind schedule at the end\): (\d+)"),
                other=f(r"not \d+: (\d+)"), p50=f(r"service p50 ([\d.]+)"), p99=f(r"p99 ([\d.]+) ms, p99.9"),
                sched=f(r"scheduled p99 ([\d.]+)"))
for img in ("big", "many"):
    for r in rates:
        print(f"manifest GET ({img}) at a fixed {r} req/s offered, 64 connections, bench/soak/load (wrk2-style):")
        for kind in ("distribution", "sigil", "sigil1w"):
            x = rate(kind, img, r)
            label = "sigil 1 worker:" if kind == "sigil1w" else kind + ":"
            print(f"  {label:<16}p50 {x['p50']:.3f} ms  p99 {x['p99']:.3f} ms  p99 from schedule {x['sched']:.3f} ms"
                  f"  answered {x['answered']:.0f}, not 200 {x['other']:.0f}, behind {x['behind']:.0f}")
        d, s_ = rate("distribution", img, r), rate("sigil", img, r)
        print(f"  sigil/distribution: p99 from schedule {s_['sched']/d['sched']:.3f}")
PY
