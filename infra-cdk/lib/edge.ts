import { Fn, Stack, Token } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { ConfigError } from './config';
import { credentialPathPrefixes } from './routes';

export interface ApiEdgeProps {
  readonly api: apigwv2.HttpApi;
  /** Requests per 5 minutes per client IP on the credential routes. */
  readonly credentialLimit: number;
  /** Requests per 5 minutes per client IP on every path. */
  readonly blanketLimit: number;
}

/** WAF's rate window: the limits are "per 5 minutes", as the context values say. */
const WINDOW_SECONDS = 300;
const TOO_MANY = 'too-many-requests';

/**
 * The per-source limit (finding j). API Gateway's throttles are token buckets shared by every
 * caller of a route, and WAF cannot be associated with an HTTP API (only REST APIs, CloudFront,
 * ALB, ...), so a CloudFront distribution fronts the API and carries a CLOUDFRONT-scope web ACL:
 * a tight per-IP rule on the credential routes and a loose one on everything, both answering 429.
 * The distribution only forwards: no caching, every method, every header but Host.
 */
export class ApiEdge extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: ApiEdgeProps) {
    super(scope, id);
    // CLOUDFRONT-scope web ACLs exist only in us-east-1. An environment-agnostic synth cannot
    // tell; CloudFormation then refuses the web ACL in any other region (see README).
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region) && region !== 'us-east-1') {
      throw new ConfigError(
        `wafRateLimit needs the stack in us-east-1 (a CloudFront web ACL can only be created there), but its region is ${region}; ` +
          'deploy to us-east-1 or leave wafRateLimit unset',
      );
    }

    const block = {
      block: {
        customResponse: {
          responseCode: 429,
          customResponseBodyKey: TOO_MANY,
          responseHeaders: [{ name: 'retry-after', value: '60' }],
        },
      },
    };
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    // Decoded, normalized and lower-cased first, so `/api//login` or `/API/%6Cogin` count too;
    // matching more than the gateway routes is harmless, matching less would be a bypass.
    const pathStartsWith = (prefix: string): wafv2.CfnWebACL.StatementProperty => ({
      byteMatchStatement: {
        fieldToMatch: { uriPath: {} },
        positionalConstraint: 'STARTS_WITH',
        searchString: prefix.toLowerCase(),
        textTransformations: [
          { priority: 0, type: 'URL_DECODE' },
          { priority: 1, type: 'NORMALIZE_PATH' },
          { priority: 2, type: 'LOWERCASE' },
        ],
      },
    });
    const prefixes = credentialPathPrefixes();
    const credentialPaths: wafv2.CfnWebACL.StatementProperty =
      prefixes.length === 1 ? pathStartsWith(prefixes[0]!) : { orStatement: { statements: prefixes.map(pathStartsWith) } };

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      description: 'javumbo API: per-client-IP rate limits on the credential routes, then on everything',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('javumbo-api'),
      customResponseBodies: {
        [TOO_MANY]: { contentType: 'APPLICATION_JSON', content: '{"error":"Too many requests"}' },
      },
      rules: [
        {
          name: 'credential-routes-per-ip',
          priority: 0,
          action: block,
          statement: {
            rateBasedStatement: {
              limit: props.credentialLimit,
              aggregateKeyType: 'IP',
              evaluationWindowSec: WINDOW_SECONDS,
              scopeDownStatement: credentialPaths,
            },
          },
          visibilityConfig: visibility('javumbo-api-credential-routes-per-ip'),
        },
        {
          name: 'all-routes-per-ip',
          priority: 1,
          action: block,
          statement: {
            rateBasedStatement: {
              limit: props.blanketLimit,
              aggregateKeyType: 'IP',
              evaluationWindowSec: WINDOW_SECONDS,
            },
          },
          visibilityConfig: visibility('javumbo-api-all-routes-per-ip'),
        },
      ],
    });

    // https://<id>.execute-api.<region>.amazonaws.com -> the host alone.
    const apiHost = Fn.select(2, Fn.split('/', props.api.apiEndpoint));
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'javumbo API behind WAF rate limits',
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      webAclId: this.webAcl.attrArn,
      defaultBehavior: {
        origin: new origins.HttpOrigin(apiHost, {
          protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
          originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
        }),
        // A redirect would turn a POST into a GET: plain HTTP is refused instead.
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        // API Gateway routes on its own Host; with caching disabled this policy also forwards
        // the Authorization header.
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        compress: false,
      },
    });
  }

  get url(): string {
    return `https://${this.distribution.distributionDomainName}`;
  }
}
