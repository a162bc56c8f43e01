import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FUNCTION_KEYS, type FunctionKey } from './config';

/** EMF namespace the Rust functions write their counters to (DESIGN.md §7). */
export const METRIC_NAMESPACE = 'Javumbo';
export const APP_METRICS = ['TakeoverTimeout', 'Takeover', 'CacheHit', 'CacheMiss', 'JournalBytes'] as const;

const PERIOD = Duration.minutes(5);

/**
 * The functions emit EMF with an empty dimension set, so each counter exists as one
 * account-wide series per name; alarms need exactly that series.
 */
export function appMetric(name: (typeof APP_METRICS)[number], statistic = cw.Stats.SUM): cw.Metric {
  return new cw.Metric({ namespace: METRIC_NAMESPACE, metricName: name, statistic, period: PERIOD });
}

export interface MonitoringProps {
  readonly api: apigw.HttpApi;
  readonly functions: Record<FunctionKey, lambda.Function>;
  readonly flushDlq: sqs.Queue;
  readonly alarmEmail?: string;
  /** False on the emulator, which rejects metric-math alarms: the 5xx alarm then counts instead. */
  readonly metricMathAlarms: boolean;
}

/** Alarms on what breaks the session protocol or the users, and one dashboard to look at. */
export class Monitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly alarms: cw.Alarm[] = [];
  readonly dashboard: cw.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { api, functions, flushDlq } = props;

    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: 'javumbo alarms', enforceSSL: true });
    if (props.alarmEmail) {
      this.alarmTopic.addSubscription(new subs.EmailSubscription(props.alarmEmail));
    }

    const requests = api.metricCount({ period: PERIOD, statistic: cw.Stats.SUM });
    const serverErrors = api.metricServerError({ period: PERIOD, statistic: cw.Stats.SUM });
    const clientErrors = api.metricClientError({ period: PERIOD, statistic: cw.Stats.SUM });
    // A rate, not a count: a handful of 503s during a takeover storm at peak traffic is normal,
    // the same handful at 3 a.m. is not.
    const serverErrorRate = new cw.MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { errors: serverErrors, requests },
      label: '5xx %',
      period: PERIOD,
    });

    if (props.metricMathAlarms) {
      this.alarm('Api5xxRate', serverErrorRate, {
        threshold: 1,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        description: 'More than 1% of API requests answered 5xx in 2 of the last 3 five-minute periods.',
      });
    } else {
      this.alarm('Api5xxCount', serverErrors, {
        threshold: 10,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        description: 'Ten or more 5xx answers in 2 of the last 3 five-minute periods (emulator build).',
      });
    }
    // A takeover timeout means a holder did not flush within the poll budget: the flush path
    // (topic, handler, DLQ) is broken or overloaded. Correctness holds, latency does not.
    this.alarm('TakeoverTimeouts', appMetric('TakeoverTimeout'), {
      threshold: 5,
      evaluationPeriods: 1,
      description: 'Five or more session takeovers timed out waiting for a flush in five minutes.',
    });
    this.alarm('FlushHandlerErrors', functions.flushHandler.metricErrors({ period: PERIOD, statistic: cw.Stats.SUM }), {
      threshold: 1,
      evaluationPeriods: 1,
      description: 'The flush handler failed; sessions stay in the journal until the next flush or takeover.',
    });
    this.alarm('FlushDlqDepth', flushDlq.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: cw.Stats.MAXIMUM }), {
      threshold: 1,
      evaluationPeriods: 1,
      description: 'Flush requests were dead-lettered: inspect and redrive the flush DLQ.',
    });
    for (const key of FUNCTION_KEYS) {
      this.alarm(`${cap(key)}Throttles`, functions[key].metricThrottles({ period: PERIOD, statistic: cw.Stats.SUM }), {
        threshold: 1,
        evaluationPeriods: 1,
        description: `The ${key} function was throttled (account concurrency or its reservation).`,
      });
    }

    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          graph('API requests', [requests]),
          graph('API errors', [serverErrors, clientErrors]),
          graph('API 5xx rate (%)', [serverErrorRate]),
          graph('API latency p50/p99', [
            api.metricLatency({ period: PERIOD, statistic: cw.Stats.p(50) }),
            api.metricLatency({ period: PERIOD, statistic: cw.Stats.p(99) }),
          ]),
        ],
        [
          graph('Collection cache', [appMetric('CacheHit'), appMetric('CacheMiss')]),
          graph('Takeovers', [appMetric('Takeover'), appMetric('TakeoverTimeout')]),
          graph('Journal bytes', [appMetric('JournalBytes')]),
          graph('Flush DLQ depth', [flushDlq.metricApproximateNumberOfMessagesVisible({ period: PERIOD })]),
        ],
        [
          graph('Function errors', FUNCTION_KEYS.map((k) => functions[k].metricErrors({ period: PERIOD, label: k }))),
          graph('Function duration p99', FUNCTION_KEYS.map((k) => functions[k].metricDuration({ period: PERIOD, statistic: cw.Stats.p(99), label: k }))),
          graph('Function throttles', FUNCTION_KEYS.map((k) => functions[k].metricThrottles({ period: PERIOD, label: k }))),
          graph('Concurrent executions', FUNCTION_KEYS.map((k) => functions[k].metric('ConcurrentExecutions', { period: PERIOD, statistic: cw.Stats.MAXIMUM, label: k }))),
        ],
        [new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
      ],
    });
  }

  private alarm(
    id: string,
    metric: cw.IMetric,
    opts: { threshold: number; evaluationPeriods: number; datapointsToAlarm?: number; description: string },
  ): cw.Alarm {
    const alarm = new cw.Alarm(this, id, {
      metric,
      ...opts,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No traffic is not an incident.
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cwActions.SnsAction(this.alarmTopic));
    alarm.addOkAction(new cwActions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
    return alarm;
  }
}

function graph(title: string, metrics: cw.IMetric[]): cw.GraphWidget {
  return new cw.GraphWidget({ title, left: metrics, width: 6, height: 6 });
}

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
