import { describe, expect, it } from 'vitest';
import { answerMatches, matchesResentReadings, originalOutcome, streamIdInRange } from '../../src/control/answer-matching.ts';

describe('answers without an id (docs/original-devices.md §3)', () => {
  it('matches get_config by key and set_config by key and value, compared as text', () => {
    expect(answerMatches('get_config', { key: 'measurement:interval' }, { key: 'measurement:interval', value: '5' })).toBe(true);
    expect(answerMatches('GET_CONFIG', { key: 'measurement:interval' }, { key: 'measurement:enabled', value: '1' })).toBe(false);
    expect(answerMatches('get_config', { key: 'measurement:interval' }, {})).toBe(false);
    expect(answerMatches('set_config', { key: 'measurement:interval', value: 5 }, { key: 'measurement:interval', value: '5' })).toBe(true);
    expect(answerMatches('set_config', { key: 'measurement:interval', value: '5' }, { key: 'measurement:interval', value: '7' })).toBe(false);
    // A v1 refusal echoes the key only.
    expect(answerMatches('set_config', { key: 'measurement:interval', value: '5' }, { key: 'measurement:interval' })).toBe(true);
    expect(answerMatches('set_config', { key: 'a', value: '5' }, { key: 'a', value: { toString: '5' } })).toBe(false);
    expect(answerMatches('reboot', {}, {})).toBe(true);
    expect(answerMatches('send_measurements', {}, {})).toBe(false);
  });

  it('never records an original answer as ok unless it carries the value read or written', () => {
    expect(originalOutcome('reboot', { command: 'reboot' })).toBeNull();
    expect(originalOutcome('get_config', { command: 'get_config', key: 'k', value: null })).toBe(true);
    expect(originalOutcome('get_config', { command: 'get_config', key: 'k' })).toBeNull();
    expect(originalOutcome('set_config', { command: 'set_config', key: 'k', value: '1' })).toBe(true);
    expect(originalOutcome('start_measurement', { command: 'start_measurement' })).toBeNull();
  });

  it('reads XRANGE bounds as Redis does', () => {
    expect(streamIdInRange('5-3', '-', '+')).toBe(true);
    expect(streamIdInRange('5-0', '5', '5')).toBe(true);
    expect(streamIdInRange('5-99', '5', '5')).toBe(true);
    expect(streamIdInRange('5-3', '(5-3', '+')).toBe(false);
    expect(streamIdInRange('5-4', '(5-3', '+')).toBe(true);
    expect(streamIdInRange('5-3', '-', '(5-3')).toBe(false);
    expect(streamIdInRange('4-9', '5-0', '+')).toBe(false);
    expect(streamIdInRange('6-0', '-', '5-9')).toBe(false);
    expect(streamIdInRange('18446744073709551615-18446744073709551615', '-', '+')).toBe(true);
    expect(streamIdInRange('5-3', 'garbage', '+')).toBe(false);
    expect(streamIdInRange('not-an-id', '-', '+')).toBe(false);
  });

  it('takes a message as a re-send only when all of it lies in the range and within count', () => {
    expect(matchesResentReadings({ min_id: '1', max_id: '2', count: 3 }, ['1-0', '2-5'])).toBe(true);
    expect(matchesResentReadings({ min_id: '1', max_id: '2', count: 1 }, ['1-0', '2-5'])).toBe(false);
    expect(matchesResentReadings({ min_id: '1', max_id: '2' }, ['0-9', '1-0'])).toBe(false);
    expect(matchesResentReadings({}, ['0-9'])).toBe(true);
    expect(matchesResentReadings({}, [])).toBe(false);
  });
});
