import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { ConfigError } from './config';

export interface StaticWebProps {
  /** Directory with the app's static files (index.html at its root). */
  readonly webDir: string;
}

/**
 * The static study app: a private bucket served only through CloudFront (origin access control).
 * The API URL is injected by {@link StaticWeb.deploy} once the API exists, because the API's CORS
 * allowlist in turn needs this distribution's domain: creating the distribution first breaks the cycle.
 */
export class StaticWeb extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  private readonly webDir: string;

  constructor(scope: Construct, id: string, props: StaticWebProps) {
    super(scope, id);
    if (!fs.existsSync(path.join(props.webDir, 'index.html'))) {
      throw new ConfigError(
        `web=true but ${props.webDir}/index.html does not exist; pass -c webDir=<dir> or -c web=false`,
      );
    }
    this.webDir = props.webDir;

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Only rebuildable files live here, but autoDeleteObjects would need another custom
      // resource; a retained, emptied-by-hand bucket is the cheaper trade.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const headers = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: 'javumbo study app: security headers and a content security policy',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: webCsp(Stack.of(this).region), override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: {
          referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
        xssProtection: { protection: true, modeBlock: true, override: true },
      },
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'javumbo study app',
      defaultRootObject: 'index.html',
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        compress: true,
      },
      // Client-side routes (e.g. /app/decks) have no object behind them; S3 answers 403 to OAC
      // for a missing key, so both codes fall back to the app shell.
      errorResponses: [403, 404].map((httpStatus) => ({
        httpStatus,
        responseHttpStatus: 200,
        responsePagePath: '/index.html',
        ttl: Duration.seconds(0),
      })),
    });
  }

  /**
   * Uploads the app plus a generated `config.js` pointing it at the API and naming the sync
   * address its Sync page shows. The files carry no content hash in their names (the app has
   * no build step), so browsers must revalidate on every load; CloudFront keeps them and is
   * invalidated by each deployment.
   */
  deploy(apiBase: string, syncUrl: string): s3deploy.BucketDeployment {
    return new s3deploy.BucketDeployment(this, 'Deployment', {
      sources: [
        s3deploy.Source.asset(this.webDir, { exclude: ['config.js'] }),
        s3deploy.Source.data(
          'config.js',
          `window.JAVUMBO_API_BASE = "${apiBase}";\nwindow.JAVUMBO_SYNC_URL = "${syncUrl}";\n`,
        ),
      ],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      prune: true,
      cacheControl: [
        s3deploy.CacheControl.setPublic(),
        s3deploy.CacheControl.maxAge(Duration.seconds(0)),
        s3deploy.CacheControl.mustRevalidate(),
        s3deploy.CacheControl.sMaxAge(Duration.days(1)),
      ],
    });
  }

  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }
}

/**
 * The policy javumbo-local sends with the app (`shared/web/src/lib.rs`), except that the API is
 * another origin here: API Gateway's hosts in the stack's region. Naming the one API would need
 * its id, and the API's CORS list already needs this distribution's domain (a cycle).
 */
export function webCsp(region: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self' https://*.execute-api.${region}.amazonaws.com`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
