#!/usr/bin/env bash
# Deploy the CDK stack (emulator flavour: -c emulator=true -c web=false) into the ministack that
# start.sh recorded in .emulator/, then print the API base URL on the last line and write it to
# .emulator/url. Re-running redeploys (CloudFormation update) onto the same emulator.
#
# Function code: $JAVUMBO_LAMBDA_DIR (default target/lambda, i.e. `make package`). When any of
# the five bootstrap.zip files is missing there, or JAVUMBO_LAMBDA_DEBUG=1, a debug build is
# zipped into .emulator/lambda instead: ministack runs `bootstrap` as a local process, so a binary
# linked on this machine works and saves the ~15 min release build. The debug binaries are taken
# from ${CARGO_TARGET_DIR:-target}/debug after a `cargo build` of the five, which
# JAVUMBO_LAMBDA_NO_BUILD=1 skips (`make test-emulator` builds them itself, see aws.mk).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
state="$root/.emulator"
cdk_dir="$root/infra-cdk"
bins=(javumbo-auth javumbo-review javumbo-crud javumbo-export javumbo-sync-fn javumbo-flush-handler)
py="${JAVUMBO_MINISTACK_PYTHON:-$root/.cache/venv-ministack/bin/python}"

[[ -f "$state/endpoint" ]] || { echo "no emulator recorded in $state: run tests/emulator/start.sh" >&2; exit 1; }
endpoint="$(cat "$state/endpoint")"
curl -fsS -m 2 "$endpoint/_ministack/health" >/dev/null || { echo "ministack at $endpoint is not healthy" >&2; exit 1; }

# ---- function code --------------------------------------------------------------------------
lambda_dir="${JAVUMBO_LAMBDA_DIR:-$root/target/lambda}"
missing=0
for b in "${bins[@]}"; do [[ -f "$lambda_dir/$b/bootstrap.zip" ]] || missing=1; done
if (( missing )) || [[ "${JAVUMBO_LAMBDA_DEBUG:-0}" == 1 ]]; then
  if (( missing )); then echo "no release zips in $lambda_dir: zipping a debug build into $state/lambda" >&2; fi
  target="${CARGO_TARGET_DIR:-$root/target}"
  [[ "$target" = /* ]] || target="$root/$target"
  if [[ "${JAVUMBO_LAMBDA_NO_BUILD:-0}" != 1 ]]; then
    (cd "$root" && "${CARGO:-cargo}" build --locked $(printf -- ' -p %s' "${bins[@]}"))
  fi
  lambda_dir="$state/lambda"
  for b in "${bins[@]}"; do
    [[ -x "$target/debug/$b" ]] || { echo "$target/debug/$b is not built" >&2; exit 1; }
    mkdir -p "$lambda_dir/$b"
    # Without DWARF (symbols stay): ~40 MB instead of ~200, so zipping, hashing and uploading
    # the assets takes seconds, not tens of them.
    strip --strip-debug -o "$lambda_dir/$b/bootstrap" "$target/debug/$b" 2>/dev/null ||
      cp "$target/debug/$b" "$lambda_dir/$b/bootstrap"
    # zip(1) may be absent; Python's zipfile keeps the executable bit Lambda needs.
    "$py" - "$lambda_dir/$b" <<'EOF'
import os, sys, zipfile
d = sys.argv[1]
with zipfile.ZipFile(os.path.join(d, "bootstrap.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o100755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(os.path.join(d, "bootstrap"), "rb") as f:
        z.writestr(info, f.read())
EOF
  done
fi

# ---- fake CDK bootstrap: what `cdk deploy` checks for, without the bootstrap stack's ~1 min --
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
"$py" - "$endpoint" <<'EOF'
import sys
import botocore.session
ep = sys.argv[1]
s = botocore.session.get_session()
kw = dict(region_name="us-east-1", endpoint_url=ep)
s.create_client("ssm", **kw).put_parameter(
    Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String", Overwrite=True)
s3 = s.create_client("s3", **kw)
try:
    s3.create_bucket(Bucket="cdk-hnb659fds-assets-000000000000-us-east-1")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
EOF

# ---- synth once, deploy the cloud assembly --------------------------------------------------
[[ -d "$cdk_dir/node_modules" ]] || (cd "$root" && make deps-cdk)
out="$state/cdk.out"
rm -rf "$out"
(
  cd "$cdk_dir"
  npx tsc -p tsconfig.json
  npx cdk synth --quiet -o "$out" -c emulator=true -c web=false -c lambdaDir="$lambda_dir" \
    -c compactAfter="${JAVUMBO_COMPACT_AFTER:-4}"
  npx cdk deploy --app "$out" --all --require-approval never --progress events \
    --outputs-file "$state/outputs.json"
) >"$state/deploy.log" 2>&1 || { tail -40 "$state/deploy.log" >&2; echo "deploy failed; see $state/deploy.log" >&2; exit 1; }

# The stack's ApiUrl output names AWS's host; ministack serves every API under its own.
api_id="$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["Javumbo"]["ApiId"])' "$state/outputs.json")"
url="$endpoint/_aws/execute-api/$api_id/\$default"
echo "$url" >"$state/url"
echo "stack Javumbo deployed on $endpoint (outputs $state/outputs.json, log $state/deploy.log)"
echo "$url"
