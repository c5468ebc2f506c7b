import { z } from 'zod';
import { type Channel, DEFAULT_TOPICS, DEVICE_PLACEHOLDER, TopicScheme, type TopicTemplates, templateProblems } from '../protocol/topics.ts';
import { ConfigError } from './config-error.ts';

/**
 * Env var of each channel's topic template. The first four are the original system's names
 * (docs/original-system.md §10); the v1 channels follow the same pattern. Device and backend read the same names,
 * so one compose file configures both sides alike.
 */
export const TOPIC_ENV_NAMES = {
  broadcast: 'MQTT_TOPIC_BROADCAST',
  request: 'MQTT_TOPIC_REQUEST',
  response: 'MQTT_TOPIC_RESPONSE',
  values: 'MQTT_TOPIC_VALUES',
  readings: 'MQTT_TOPIC_READINGS',
  ack: 'MQTT_TOPIC_ACK',
  status: 'MQTT_TOPIC_STATUS',
  configDesired: 'MQTT_TOPIC_CONFIG_DESIRED',
  configReported: 'MQTT_TOPIC_CONFIG_REPORTED',
} as const satisfies Record<Channel, string>;

/** One template, checked on its own: the other channels keep their defaults, so every problem found is this one's. */
function templateField(channel: Channel) {
  return z
    .string()
    .prefault(DEFAULT_TOPICS[channel])
    .superRefine((template, ctx) => {
      for (const problem of templateProblems({ ...DEFAULT_TOPICS, [channel]: template })) ctx.addIssue({ code: 'custom', message: problem });
      // Topics end up in Mosquitto ACL lines, one per line and split on whitespace.
      if (/\s/.test(template)) ctx.addIssue({ code: 'custom', message: `${channel} topic "${template}" must not contain whitespace` });
    });
}

/** Zod fields (keyed by env var name) for every topic template; spread them into a service's env schema. */
export const topicEnv = {
  MQTT_TOPIC_BROADCAST: templateField('broadcast'),
  MQTT_TOPIC_REQUEST: templateField('request'),
  MQTT_TOPIC_RESPONSE: templateField('response'),
  MQTT_TOPIC_VALUES: templateField('values'),
  MQTT_TOPIC_READINGS: templateField('readings'),
  MQTT_TOPIC_ACK: templateField('ack'),
  MQTT_TOPIC_STATUS: templateField('status'),
  MQTT_TOPIC_CONFIG_DESIRED: templateField('configDesired'),
  MQTT_TOPIC_CONFIG_REPORTED: templateField('configReported'),
};

export type TopicEnvConfig = { [K in (typeof TOPIC_ENV_NAMES)[Channel]]: string };

/**
 * The topic scheme a parsed config describes. Two channels with the same template would make a
 * topic's meaning (and the broker's authorisation of it) ambiguous, so that is a ConfigError.
 */
export function topicSchemeFrom(config: TopicEnvConfig, service = 'topics'): TopicScheme {
  const templates = Object.fromEntries(
    (Object.entries(TOPIC_ENV_NAMES) as [Channel, keyof TopicEnvConfig][]).map(([channel, name]) => [channel, config[name]]),
  ) as TopicTemplates;
  const byTemplate = new Map<string, Channel[]>();
  for (const [channel, template] of Object.entries(templates) as [Channel, string][]) {
    const key = template.replace(DEVICE_PLACEHOLDER, '+');
    byTemplate.set(key, [...(byTemplate.get(key) ?? []), channel]);
  }
  const problems = [...byTemplate.values()]
    .filter((channels) => channels.length > 1)
    .map((channels) => `${channels.map((c) => TOPIC_ENV_NAMES[c]).join(' and ')} must differ (both are "${templates[channels[0]!]}")`);
  if (problems.length > 0) throw new ConfigError(service, problems);
  return new TopicScheme(templates);
}
