export { connectPacket } from './connect-packet.ts';
export { holdsFor } from './holds-for.ts';
export { captureLogs, eventually } from './log-capture.ts';
export { ManualClock } from './manual-clock.ts';
