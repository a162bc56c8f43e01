import * as fs from 'node:fs';
import * as path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Size, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secrets from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ConfigError, FUNCTION_BINS, FUNCTION_KEYS, type FunctionKey, type JavumboConfig } from './config';
import { ApiEdge } from './edge';
import { Monitoring } from './monitoring';
import { CREDENTIAL_ROUTES, ROUTES, routeKey } from './routes';
import { StaticWeb } from './web';

export interface JavumboStackProps extends StackProps {
  readonly config: JavumboConfig;
}

interface Sizing {
  readonly memoryMb: number;
  readonly ephemeralMb: number;
  readonly timeout: Duration;
  readonly description: string;
}

/**
 * Memory buys CPU on Lambda (1 vCPU at 1769 MB), and the collection functions spend it on SQLite,
 * zstd and changeset replay; /tmp holds their LRU cache of open collections, so its size is the
 * cache's byte bound plus one collection being loaded. HTTP API gives up after 30 s, so request
 * functions stop at 28 s and log their own timeout instead of a silent gateway 503.
 */
const SIZING: Record<FunctionKey, Sizing> = {
  auth: {
    memoryMb: 512,
    ephemeralMb: 512,
    timeout: Duration.seconds(10),
    description: 'javumbo auth: register, login, logout, password change, account deletion, health (argon2id needs ~19 MiB per hash)',
  },
  review: {
    memoryMb: 1024,
    ephemeralMb: 2048,
    timeout: Duration.seconds(28),
    description: 'javumbo review: next card and answers, on the per-container collection cache',
  },
  crud: {
    memoryMb: 1024,
    ephemeralMb: 2048,
    timeout: Duration.seconds(28),
    description: 'javumbo crud: decks, cards, notes, stats, study settings, presets, session',
  },
  export: {
    memoryMb: 2048,
    ephemeralMb: 2048,
    timeout: Duration.seconds(28),
    description: 'javumbo export/import: builds and reads .apkg packages in memory (bodies up to 10 MiB; larger ones through S3 transfers, up to 256 MiB)',
  },
  sync: {
    memoryMb: 2048,
    ephemeralMb: 2048,
    timeout: Duration.seconds(28),
    description: 'javumbo sync: Anki sync protocol for official clients (full upload/download up to ~4.4 MB compressed)',
  },
  // No gateway in front of a function URL: the timeout is the function's own. 20 MB streamed
  // at AWS's 2 MB/s past the first 6 MB is ~7 s, plus building the file.
  syncStream: {
    memoryMb: 2048,
    ephemeralMb: 2048,
    timeout: Duration.seconds(120),
    description: 'javumbo sync (function URL, streamed answers): full download up to 20 MB, upload up to ~4.4 MB compressed',
  },
  flushHandler: {
    memoryMb: 1024,
    ephemeralMb: 1024,
    timeout: Duration.seconds(60),
    description: 'javumbo flush handler: folds a session journal into the S3 snapshot',
  },
};

/** Blob key prefixes (DESIGN.md §3; media: `media/<user key>/<sha256>`, ARCHITECTURE.md#media). */
const USER_DBS = 'user_dbs/';
const JOURNAL_SPILL = 'journal/';
const MEDIA = 'media/';
/** Large exports and imports on their way through presigned URLs; expire after a day. */
const TRANSFERS = 'transfers/';

/**
 * DynamoDB actions by need, named one by one (the CDK grant helpers add actions nobody here uses).
 * TransactWriteItems has no action of its own: IAM checks each item's Put/Update/ConditionCheck.
 */
const USERS_READ = ['dynamodb:GetItem'];
const USERS_RW = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
/** auth: USERS_RW plus the removal of the user's item by account deletion. */
const USERS_RWD = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];
/** Sessions and journal: consistent reads, journal range reads, fenced commits, trims. */
const STATE_RW = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
/** Account deletion (auth): claims the user's session, then removes it. */
const SESSION_PURGE = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'];
/** Account deletion (auth): reads the keys of the user's journal entries and deletes them in batches. */
const JOURNAL_PURGE = ['dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
const BLOB_RW = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'];
/** Account deletion (auth): every version of every blob under the user's prefixes. */
const BLOB_PURGE = ['s3:DeleteObject', 's3:DeleteObjectVersion'];
/** Bucket-level listing, always limited by `s3:prefix` (see grantBlobs). */
const LIST = ['s3:ListBucket'];
/** Account deletion lists the object versions under the user's prefixes to delete each one. */
const LIST_WITH_VERSIONS = ['s3:ListBucket', 's3:ListBucketVersions'];

/** Object actions on key prefixes of the data bucket. */
interface BlobGrant {
  readonly prefixes: readonly string[];
  readonly actions: readonly string[];
}

export class JavumboStack extends Stack {
  readonly dataBucket: s3.Bucket;
  readonly usersTable: dynamodb.TableV2;
  readonly sessionsTable: dynamodb.TableV2;
  readonly journalTable: dynamodb.TableV2;
  readonly flushTopic: sns.Topic;
  readonly flushDlq: sqs.Queue;
  readonly jwtSecret: secrets.Secret;
  readonly functions: Record<FunctionKey, lambda.Function>;
  /** The address official Anki clients sync with (function URL of `syncStream`, trailing `/`). */
  readonly syncUrl: lambda.FunctionUrl;
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly web?: StaticWeb;
  /** CloudFront + WAF in front of the API, when `wafRateLimit` is set. */
  readonly edge?: ApiEdge;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: JavumboStackProps) {
    super(scope, id, props);
    const cfg = props.config;

    // ---- durable state --------------------------------------------------------------------
    this.dataBucket = new s3.Bucket(this, 'DataBucket', {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-old-versions',
          // Every flush writes a new snapshot version; keeping them as long as DynamoDB's PITR
          // window (35 days) lets snapshot + journal be restored to one common instant.
          noncurrentVersionExpiration: Duration.days(35),
          expiredObjectDeleteMarker: true,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        {
          // A large export or import lives here only while its presigned URL does (minutes);
          // whatever a client never fetched or processed goes after a day.
          id: 'expire-transfers',
          prefix: TRANSFERS,
          expiration: Duration.days(1),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
    });

    const table = (tid: string, partitionKey: string, extra: Partial<dynamodb.TablePropsV2> = {}) =>
      new dynamodb.TableV2(this, tid, {
        partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
        billing: dynamodb.Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        removalPolicy: RemovalPolicy.RETAIN,
        ...extra,
      });
    this.usersTable = table('UsersTable', 'username');
    this.sessionsTable = table('SessionsTable', 'username', { timeToLiveAttribute: 'expires_at' });
    this.journalTable = table('JournalTable', 'username', {
      sortKey: { name: 'seq', type: dynamodb.AttributeType.NUMBER },
    });

    // ---- flush bus --------------------------------------------------------------------------
    this.flushDlq = new sqs.Queue(this, 'FlushDlq', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.flushTopic = new sns.Topic(this, 'FlushTopic', { displayName: 'javumbo flush requests', enforceSSL: true });

    // Generated at deploy time and read by the functions at start-up: never in the template.
    this.jwtSecret = new secrets.Secret(this, 'JwtSecret', {
      description: 'javumbo JWT signing key (HS256)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });

    // ---- optional static web app (its domain joins the CORS allowlist) ------------------------
    if (cfg.web) {
      this.web = new StaticWeb(this, 'Web', { webDir: cfg.webDir });
    }
    const corsOrigins = this.web ? [...cfg.corsOrigins, this.web.url] : cfg.corsOrigins;
    if (corsOrigins.length > 0) {
      // Browsers fetch large exports from, and PUT large imports to, presigned URLs of this
      // bucket (docs/ARCHITECTURE.md#large-transfers): only from the app's origins.
      this.dataBucket.addCorsRule({
        allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.PUT],
        allowedOrigins: corsOrigins,
        allowedHeaders: ['*'],
        exposedHeaders: ['Content-Disposition', 'ETag'],
        maxAge: 3600,
      });
    }

    // ---- functions ----------------------------------------------------------------------------
    const environment: Record<string, string> = {
      JAVUMBO_BACKEND: 'aws',
      JAVUMBO_BUCKET: this.dataBucket.bucketName,
      JAVUMBO_USERS_TABLE: this.usersTable.tableName,
      JAVUMBO_SESSIONS_TABLE: this.sessionsTable.tableName,
      JAVUMBO_JOURNAL_TABLE: this.journalTable.tableName,
      JAVUMBO_FLUSH_TOPIC_ARN: this.flushTopic.topicArn,
      JAVUMBO_JWT_SECRET_ARN: this.jwtSecret.secretArn,
      JAVUMBO_CORS_ORIGINS: corsOrigins.join(','),
      JAVUMBO_COMPACT_AFTER: String(cfg.compactAfter),
      RUST_LOG: 'info',
    };
    const make = (key: FunctionKey, extra: Partial<lambda.FunctionProps> = {}): lambda.Function => {
      const sizing = SIZING[key];
      const name = key.charAt(0).toUpperCase() + key.slice(1);
      // An explicit group (rather than `logRetention`) avoids CDK's log-retention custom
      // resource, and the group is deleted with the stack instead of leaking.
      const logGroup = new logs.LogGroup(this, `${name}Logs`, {
        retention: cfg.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      return new lambda.Function(this, `${name}Function`, {
        runtime: lambda.Runtime.PROVIDED_AL2023,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(bootstrapZip(cfg.lambdaDir, FUNCTION_BINS[key])),
        architecture: cfg.arch === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
        memorySize: sizing.memoryMb,
        ephemeralStorageSize: Size.mebibytes(sizing.ephemeralMb),
        timeout: sizing.timeout,
        description: sizing.description,
        environment,
        logGroup,
        reservedConcurrentExecutions: cfg.reservedConcurrency[key],
        ...extra,
      });
    };
    this.functions = {
      auth: make('auth'),
      review: make('review'),
      crud: make('crud'),
      export: make('export'),
      sync: make('sync'),
      syncStream: make('syncStream', { environment: { ...environment, JAVUMBO_RESPONSE_STREAMING: 'true' } }),
      flushHandler: make('flushHandler', {
        // SNS invokes asynchronously: Lambda retries twice, then parks the event here.
        deadLetterQueue: this.flushDlq,
        retryAttempts: 2,
        // A flush request is moot once the requester's takeover poll (~5 s) has given up and
        // claimed the session; an hour covers a regional hiccup without replaying stale work.
        maxEventAge: Duration.hours(1),
      }),
    };

    // SNS → Lambda delivery failures (e.g. throttling past SNS's retries) land in the same DLQ.
    this.flushTopic.addSubscription(
      new subs.LambdaSubscription(this.functions.flushHandler, { deadLetterQueue: this.flushDlq }),
    );

    this.grantLeastPrivilege();

    // The streaming sync address (docs/ARCHITECTURE.md#sync-on-lambda): public like the API's
    // sync routes, since Anki's own host key authenticates every request. The buffered `sync`
    // names it when it refuses a download too large for API Gateway.
    this.syncUrl = this.functions.syncStream.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });
    this.functions.sync.addEnvironment('JAVUMBO_SYNC_STREAM_URL', this.syncUrl.url);

    // ---- HTTP API -------------------------------------------------------------------------------
    this.api = new apigwv2.HttpApi(this, 'Api', {
      apiName: 'javumbo',
      description: 'javumbo spaced-repetition API',
      createDefaultStage: false,
      corsPreflight:
        corsOrigins.length === 0 ? undefined : {
          allowOrigins: corsOrigins,
          allowMethods: [
            apigwv2.CorsHttpMethod.GET,
            apigwv2.CorsHttpMethod.POST,
            apigwv2.CorsHttpMethod.PUT,
            apigwv2.CorsHttpMethod.DELETE,
            apigwv2.CorsHttpMethod.OPTIONS,
          ],
          // The original React client sends its session id back on every request.
          allowHeaders: ['authorization', 'content-type', 'x-session-id', 'idempotency-key'],
          exposeHeaders: ['x-session-id', 'retry-after', 'content-disposition', 'idempotent-replayed'],
          maxAge: Duration.hours(1),
        },
    });
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: cfg.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: cfg.throttleRate, burstLimit: cfg.throttleBurst },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        // HTTP-API context variables only; never the Authorization header or the body.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            route: '$context.routeKey',
            status: '$context.status',
            ip: '$context.identity.sourceIp',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            bytes: '$context.responseLength',
          }),
        ),
      },
    });

    const integrations = Object.fromEntries(
      FUNCTION_KEYS.map((k) => [k, new HttpLambdaIntegration(`${k}Integration`, this.functions[k])]),
    ) as Record<FunctionKey, HttpLambdaIntegration>;
    const cfnStage = this.stage.node.defaultChild as apigwv2.CfnStage;
    // CfnStage.routeSettings is raw JSON: CDK does not PascalCase it, so we must.
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const spec of ROUTES) {
      const [route] = this.api.addRoutes({
        path: spec.path,
        methods: [apigwv2.HttpMethod[spec.method]],
        integration: integrations[spec.fn],
      });
      if (CREDENTIAL_ROUTES.includes(routeKey(spec))) {
        routeSettings[routeKey(spec)] = {
          ThrottlingRateLimit: cfg.authThrottleRate,
          ThrottlingBurstLimit: cfg.authThrottleBurst,
        };
        // Route settings may only name routes that already exist.
        cfnStage.node.addDependency(route);
      }
    }
    cfnStage.routeSettings = routeSettings;

    // ---- optional per-source limit at the edge (finding j) ----------------------------------
    if (cfg.wafRateLimit > 0) {
      this.edge = new ApiEdge(this, 'ApiEdge', {
        api: this.api,
        credentialLimit: cfg.wafRateLimit,
        blanketLimit: cfg.wafBlanketRateLimit,
      });
      new CfnOutput(this, 'ApiViaCloudFrontUrl', {
        value: this.edge.url,
        description: 'the API behind CloudFront and the WAF per-IP rate limits (point clients here)',
      });
      new CfnOutput(this, 'ApiWebAclArn', { value: this.edge.webAcl.attrArn });
    }

    if (this.web) {
      const deployment = this.web.deploy(this.api.apiEndpoint, this.syncUrl.url);
      new CfnOutput(this, 'WebUrl', { value: this.web.url, description: 'the study app (CloudFront)' });
      new CfnOutput(this, 'WebBucketName', { value: this.web.bucket.bucketName });
      deployment.node.addDependency(this.stage);
    }

    this.monitoring = new Monitoring(this, 'Monitoring', {
      api: this.api,
      functions: this.functions,
      flushDlq: this.flushDlq,
      alarmEmail: cfg.alarmEmail,
      metricMathAlarms: !cfg.emulator,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint, description: 'base URL of the API' });
    new CfnOutput(this, 'SyncUrl', {
      value: this.syncUrl.url,
      description: "Anki's and AnkiDroid's self-hosted sync server address (full downloads up to 20 MB)",
    });
    new CfnOutput(this, 'ApiId', { value: this.api.apiId });
    new CfnOutput(this, 'DataBucketName', { value: this.dataBucket.bucketName });
    new CfnOutput(this, 'UsersTableName', { value: this.usersTable.tableName });
    new CfnOutput(this, 'SessionsTableName', { value: this.sessionsTable.tableName });
    new CfnOutput(this, 'JournalTableName', { value: this.journalTable.tableName });
    new CfnOutput(this, 'FlushTopicArn', { value: this.flushTopic.topicArn });
    new CfnOutput(this, 'FlushDlqUrl', { value: this.flushDlq.queueUrl });
    new CfnOutput(this, 'JwtSecretArn', { value: this.jwtSecret.secretArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.alarmTopic.topicArn });
  }

  /**
   * Per function, exactly the tables, key prefixes and actions its code path touches.
   * No action is a wildcard and no resource is broader than one table, topic, secret or prefix;
   * bucket-level listing is limited to the same prefixes by an `s3:prefix` condition.
   */
  private grantLeastPrivilege(): void {
    const f = this.functions;

    // auth: users read/write; registration creates the empty collection blob. Account deletion
    // removes everything of one user: the user's item, session and journal entries, and every
    // version of the blobs under the user's prefixes (found by listing versions).
    this.usersTable.grant(f.auth, ...USERS_RWD);
    this.sessionsTable.grant(f.auth, ...SESSION_PURGE);
    this.journalTable.grant(f.auth, ...JOURNAL_PURGE);
    this.grantBlobs(
      f.auth,
      [
        { prefixes: [USER_DBS], actions: ['s3:GetObject', 's3:PutObject'] },
        { prefixes: [USER_DBS, JOURNAL_SPILL, MEDIA], actions: BLOB_PURGE },
      ],
      LIST_WITH_VERSIONS,
    );
    this.jwtSecret.grantRead(f.auth);

    // Collection functions: snapshot + journal spill; crud (/api/media), export (packages with
    // media) and sync (Anki's media sync, /msync) also read and write the media blobs; export
    // also the large packages it hands out or takes in through presigned URLs (transfers/).
    const collection: [lambda.Function, readonly string[]][] = [
      [f.review, [USER_DBS, JOURNAL_SPILL]],
      [f.crud, [USER_DBS, JOURNAL_SPILL, MEDIA]],
      [f.export, [USER_DBS, JOURNAL_SPILL, MEDIA, TRANSFERS]],
      [f.sync, [USER_DBS, JOURNAL_SPILL, MEDIA]],
      [f.syncStream, [USER_DBS, JOURNAL_SPILL, MEDIA]],
    ];
    for (const [fn, prefixes] of collection) {
      // sync also writes device keys (attributes of the user's item).
      const sync = fn === f.sync || fn === f.syncStream;
      this.usersTable.grant(fn, ...(sync ? USERS_RW : USERS_READ));
      this.sessionsTable.grant(fn, ...STATE_RW);
      this.journalTable.grant(fn, ...STATE_RW);
      this.grantBlobs(fn, [{ prefixes, actions: BLOB_RW }]);
      this.flushTopic.grantPublish(fn);
      this.jwtSecret.grantRead(fn);
    }

    // flush handler: folds the journal into the snapshot, then trims it; no users, no secret,
    // no media.
    this.sessionsTable.grant(f.flushHandler, ...STATE_RW);
    this.journalTable.grant(f.flushHandler, ...STATE_RW);
    this.grantBlobs(f.flushHandler, [{ prefixes: [USER_DBS, JOURNAL_SPILL], actions: BLOB_RW }]);
  }

  private grantBlobs(fn: lambda.Function, grants: readonly BlobGrant[], listActions: readonly string[] = LIST): void {
    for (const g of grants) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [...g.actions],
          resources: g.prefixes.map((p) => this.dataBucket.arnForObjects(`${p}*`)),
        }),
      );
    }
    // Without ListBucket, S3 answers 403 instead of 404 for a missing key, and the adapters
    // rely on "not found" to tell an absent snapshot or spill blob from a real failure.
    // For that check S3 evaluates `s3:prefix` as the requested key, so the condition keeps the
    // 404s for the function's own prefixes while listing anything else (or the whole bucket,
    // with no prefix at all) stays denied.
    const prefixes = [...new Set(grants.flatMap((g) => g.prefixes))];
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [...listActions],
        resources: [this.dataBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } },
      }),
    );
  }
}

/** `<lambdaDir>/<bin>/bootstrap.zip`, checked early so a missing build fails with a useful hint. */
function bootstrapZip(lambdaDir: string, bin: string): string {
  const zip = path.join(lambdaDir, bin, 'bootstrap.zip');
  if (!fs.existsSync(zip)) {
    throw new ConfigError(
      `${zip} not found: build the functions first (make package, i.e. cargo lambda build --profile lambda --output-format zip) or pass -c lambdaDir=<dir>`,
    );
  }
  return zip;
}
