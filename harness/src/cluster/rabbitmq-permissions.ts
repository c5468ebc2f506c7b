import { deviceTopics } from '@iot/backend/broker';
import type { TopicScheme } from '@iot/common/protocol';

/**
 * A device's rights (docs/security.md §3) as RabbitMQ topic permissions on `amq.topic`: RabbitMQ
 * checks an MQTT publish against `write` and a SUBSCRIBE's filter against `read`, both as routing
 * keys, where MQTT's `/` is `.`. Each regex names the device's exact topics, anchored, so a filter
 * with `+` (`*` as a routing key) or `#` never matches one of them, as with our broker.
 */
export function rabbitMqTopicPermissions(topics: TopicScheme, deviceId: string): { write: string; read: string } {
  const { publish, subscribe } = deviceTopics(topics, deviceId);
  return { write: exactly(publish), read: exactly(subscribe) };
}

function exactly(mqttTopics: readonly string[]): string {
  return `^(${mqttTopics.map((topic) => escapeRegex(routingKey(topic))).join('|')})$`;
}

/** RabbitMQ's MQTT plugin swaps `/` and `.` between topics and routing keys. */
function routingKey(topic: string): string {
  return topic.replace(/[./]/g, (c) => (c === '/' ? '.' : '/'));
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
