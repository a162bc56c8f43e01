# AWS CDK app (infra-cdk/): included by the root Makefile. Paths are relative to the repo root.
#
#   make deps-cdk    npm ci, once per package-lock.json change
#   make test-cdk    compile the TypeScript and run the assertion tests (node --test)
#   make deploy      cdk deploy with the zips from `make package` (needs AWS credentials)
#
# Knobs (all optional): CDK_WEB=true|false, CDK_CORS_ORIGINS=https://a.example,https://b.example,
# CDK_ALARM_EMAIL=ops@example.org, CDK_ARGS='-c reservedConcurrency={"flushHandler":5}'.

CDK_DIR          := infra-cdk
CDK_STAMP        := $(CDK_DIR)/node_modules/.deps.stamp
CDK_LAMBDA_DIR   ?= $(abspath target/lambda)
CDK_WEB          ?= true
CDK_CORS_ORIGINS ?=
CDK_ALARM_EMAIL  ?=
CDK_ARGS         ?=

.PHONY: deps-cdk test-cdk synth-cdk deploy

# The stamp lives inside node_modules, so deleting node_modules re-runs npm ci.
$(CDK_STAMP): $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ (apt-get install -y nodejs npm)"; exit 1; }
	cd $(CDK_DIR) && npm ci --no-audit --no-fund
	@touch $@

deps-cdk: $(CDK_STAMP)

test-cdk: deps-cdk
	cd $(CDK_DIR) && npm test

# Synth without credentials, e.g. to inspect the template: cdk.out/Javumbo.template.json.
synth-cdk: deps-cdk
	cd $(CDK_DIR) && npx tsc -p tsconfig.json && npx cdk synth --quiet \
	  -c lambdaDir=$(CDK_LAMBDA_DIR) -c web=$(CDK_WEB) -c corsOrigins=$(CDK_CORS_ORIGINS) \
	  -c alarmEmail=$(CDK_ALARM_EMAIL) $(CDK_ARGS)

# `package` (root Makefile) builds target/lambda/<bin>/bootstrap.zip with cargo lambda.
deploy: package deps-cdk
	cd $(CDK_DIR) && npx tsc -p tsconfig.json && npx cdk deploy --all --require-approval broadening \
	  -c lambdaDir=$(CDK_LAMBDA_DIR) -c web=$(CDK_WEB) -c corsOrigins=$(CDK_CORS_ORIGINS) \
	  -c alarmEmail=$(CDK_ALARM_EMAIL) $(CDK_ARGS)
