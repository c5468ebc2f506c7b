import { readFileSync } from 'node:fs';
import { ConfigError } from '@iot/common/config';
import { CsvRecordingError, csvEnvironment, parseCsvRecording } from './csv-replay.ts';
import { dailyCycle } from './curves.ts';
import { constantEnvironment, type Environment, ROOM } from './environment.ts';

const USAGE = 'room, daily, daily:<period seconds> or csv:<path to recording>';

/**
 * Turns SIM_ENVIRONMENT into an environment: `room` (constant), `daily` (a 24 h cycle around
 * room conditions, ±4 °C and ∓10 %RH; `daily:600` squeezes the day into 10 minutes) or
 * `csv:/path/file.csv` (a recording replayed in a loop from now). Mistakes are configuration
 * errors, reported like any other.
 */
export function environmentFromSpec(spec: string, nowMs: number = Date.now()): Environment {
  const [kind, argument] = splitOnce(spec.trim(), ':');
  switch (kind.toLowerCase()) {
    case 'room':
      return constantEnvironment(ROOM);
    case 'daily': {
      const periodSeconds = argument === undefined ? 86_400 : Number(argument);
      if (!(periodSeconds > 0)) throw problem(`"${spec}": the period must be a positive number of seconds`);
      return dailyCycle({
        meanC: ROOM.temperatureCelsius,
        amplitudeC: 4,
        periodMs: periodSeconds * 1000,
        meanHumidityPercent: ROOM.humidityPercent,
        humidityAmplitudePercent: 10,
      });
    }
    case 'csv': {
      if (argument === undefined || argument === '') throw problem(`"${spec}": give the recording's path, e.g. csv:/data/garden.csv`);
      let text: string;
      try {
        text = readFileSync(argument, 'utf8');
      } catch (error) {
        throw problem(`cannot read ${argument}: ${(error as Error).message}`);
      }
      try {
        return csvEnvironment(parseCsvRecording(text), { startMs: nowMs, loop: true });
      } catch (error) {
        if (error instanceof CsvRecordingError || error instanceof RangeError) throw problem(`${argument}: ${error.message}`);
        throw error;
      }
    }
    default:
      throw problem(`"${spec}" is not one of ${USAGE}`);
  }
}

function problem(message: string): ConfigError {
  return new ConfigError('simulated hardware', [`SIM_ENVIRONMENT: ${message}`]);
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}
