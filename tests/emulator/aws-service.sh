# Sourced (not run) by tests/emulator/test.sh and tests/load/aws-service.sh: `javumbo-local
# --stores aws` on the stores of the emulator stack whose state directory (.emulator) is given,
# with the same environment the CDK stack gives the functions, taken from the stack's outputs.

# stack_output STATE KEY: one output of the deployed stack.
stack_output() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Javumbo"][sys.argv[2]])' \
    "$1/outputs.json" "$2"
}

# start_aws_service BIN STATE DATA LOG [javumbo-local flags...]: starts BIN in the background
# (stdout in DATA/stdout, stderr in LOG) and waits until it listens; sets svc_pid and svc_url,
# or prints LOG and exits 1. Extra environment (e.g. JAVUMBO_COMPACT_AFTER) is inherited.
start_aws_service() {
  local bin="$1" state="$2" data="$3" log="$4"
  shift 4
  AWS_ENDPOINT_URL="$(cat "$state/endpoint")" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_REGION=us-east-1 JAVUMBO_S3_FORCE_PATH_STYLE=true \
    JAVUMBO_BUCKET="$(stack_output "$state" DataBucketName)" \
    JAVUMBO_USERS_TABLE="$(stack_output "$state" UsersTableName)" \
    JAVUMBO_SESSIONS_TABLE="$(stack_output "$state" SessionsTableName)" \
    JAVUMBO_JOURNAL_TABLE="$(stack_output "$state" JournalTableName)" \
    JAVUMBO_FLUSH_TOPIC_ARN="$(stack_output "$state" FlushTopicArn)" \
    JAVUMBO_JWT_SECRET_ARN="$(stack_output "$state" JwtSecretArn)" \
    "$bin" --stores aws --addr 127.0.0.1:0 --data "$data" "$@" >"$data/stdout" 2>"$log" &
  svc_pid=$!
  svc_url=""
  for _ in $(seq 1 300); do
    svc_url="$(grep -o 'http://[0-9.:]*' "$data/stdout" 2>/dev/null | head -1 || true)"
    [[ -n "$svc_url" ]] && return 0
    kill -0 "$svc_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "javumbo-local --stores aws did not start" >&2
  exit 1
}
