# Shell helpers shared by scripts/lab.sh and bench/*.sh. Source it; it defines functions only.

# free_port: an unused TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_distribution DIR: starts Debian's docker-registry on 127.0.0.1 with storage in DIR;
# sets REG_ADDR and REG_PID.
start_distribution() {
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir"
  printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s/data}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' "$dir" "$port" > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REG_PID=$!
  REG_ADDR=127.0.0.1:$port
  for _ in $(seq 200); do curl -sf "http://$REG_ADDR/v2/" >/dev/null && return 0; sleep 0.05; done
  echo "docker-registry did not start; see $dir/log" >&2; return 1
}

# start_tlog SIGIL DATA_DIR OUT_DIR: starts `SIGIL tlog serve` on a free 127.0.0.1 port with
# its data in DATA_DIR and its output in OUT_DIR/out and OUT_DIR/err; sets LOG_PID at once
# (for the caller's cleanup trap) and LOG_ADDR (host:port) once it listens, within 30 s.
start_tlog() {
  local sigil=$1 data=$2 out=$3
  "$sigil" tlog serve --addr 127.0.0.1:0 --data-dir "$data" > "$out/out" 2> "$out/err" &
  LOG_PID=$!
  LOG_ADDR=
  for _ in $(seq 600); do
    LOG_ADDR=$(sed -n 's|^listening on \([^ ]*\).*|\1|p' "$out/out")
    [ -n "$LOG_ADDR" ] && return 0
    kill -0 "$LOG_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "error: the log did not start (or did not listen within 30 s)" >&2
  cat "$out/out" "$out/err" >&2
  return 1
}

# push_image WORKDIR REF TEXT: builds a one-file OCI image with umoci and pushes it with
# skopeo (no Docker engine); prints its digest.
push_image() {
  local w=$1 ref=$2 text=$3 n
  n=$(echo "$ref" | tr -c 'a-zA-Z0-9\n' '_')
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$w/policy.json"
  umoci init --layout "$w/img-$n" >/dev/null
  umoci new --image "$w/img-$n:t"
  mkdir -p "$w/root-$n"; echo "$text" > "$w/root-$n/hello.txt"
  umoci insert --image "$w/img-$n:t" "$w/root-$n/hello.txt" /hello.txt >/dev/null
  skopeo --policy "$w/policy.json" copy -q --dest-tls-verify=false "oci:$w/img-$n:t" "docker://$ref"
  skopeo --policy "$w/policy.json" inspect --tls-verify=false --format '{{.Digest}}' "docker://$ref"
}

# time_runs N CMD...: runs CMD N times (output discarded) and prints each wall time in ms.
time_runs() {
  local n=$1; shift
  for _ in $(seq "$n"); do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "command failed: $*" >&2; return 1; }; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | awk '{printf "%.2f\n", $1/1000}'
}

# median: median of numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
