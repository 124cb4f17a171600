# The admission benchmarks' fixture, shared by bench/admission/run.sh and
# bench/soak/admission.sh. Source it; it defines functions only.

# admission_fixture SIGIL NAME: in the current directory, with Debian's docker-registry at
# $REG_ADDR (start_distribution), makes a key pair, pushes and key-signs three images
# (`images`), and writes policies/policy.yaml (keys attestor, log ignored) and review.json (an
# AdmissionReview of a Pod named NAME running the three images).
admission_fixture() {
  local sigil=$1 label=$2 name ref
  export COSIGN_PASSWORD=bench
  "$sigil" generate-key-pair >/dev/null 2>&1
  images=()
  for name in api worker sidecar; do
    ref=$REG_ADDR/bench/$name:v1
    push_image "$PWD" "$ref" "$label image $name" >/dev/null
    "$sigil" sign --key cosign.key --tlog-upload=false -y "$ref" 2>/dev/null
    images+=("$ref")
  done
  mkdir policies
  {
    printf 'apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-signed\nspec:\n'
    printf '  validationFailureAction: Enforce\n  rules:\n  - name: verify\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n'
    printf '    verifyImages:\n    - imageReferences: ["%s/bench/*"]\n      attestors:\n      - entries:\n        - keys:\n' "$REG_ADDR"
    printf '            rekor: {ignoreTlog: true}\n            publicKeys: |-\n'
    sed 's/^/              /' cosign.pub
  } > policies/policy.yaml
  python3 - "$label" "${images[@]}" > review.json <<'PY'
import json, sys
name = sys.argv[1]
containers = [{"name": f"c{i}", "image": img} for i, img in enumerate(sys.argv[2:])]
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
       "spec": {"containers": containers}}
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": name, "kind": {"group": "", "version": "v1", "kind": "Pod"},
    "resource": {"group": "", "version": "v1", "resource": "pods"}, "name": name,
    "namespace": "default", "operation": "CREATE", "userInfo": {"username": name},
    "object": pod, "oldObject": None}}))
PY
}
