import { InitialSchema1767225600000 } from './1767225600000-initial-schema.ts';
import { WebAdminUsers1767312000000 } from './1767312000000-web-admin-users.ts';
import { ReadingRollups1767398400000 } from './1767398400000-reading-rollups.ts';
import { RollupOwnership1767484800000 } from './1767484800000-rollup-ownership.ts';
import { IntegrityCounters1767571200000 } from './1767571200000-integrity-counters.ts';
import { WebAdminHardening1767744000000 } from './1767744000000-web-admin-hardening.ts';
import { ReceiverLimits1767830400000 } from './1767830400000-receiver-limits.ts';
import { ReadingClockSkew1767916800000 } from './1767916800000-reading-clock-skew.ts';
import { BroadcastCommands1768003200000 } from './1768003200000-broadcast-commands.ts';

/** Every migration, oldest first. A new one is appended here and never edits an older one. */
export const MIGRATIONS = [
  InitialSchema1767225600000,
  WebAdminUsers1767312000000,
  ReadingRollups1767398400000,
  RollupOwnership1767484800000,
  IntegrityCounters1767571200000,
  WebAdminHardening1767744000000,
  ReceiverLimits1767830400000,
  ReadingClockSkew1767916800000,
  BroadcastCommands1768003200000,
];
