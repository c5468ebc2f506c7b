export * from './messages.ts';
export * from './remote-config.ts';
export * from './stream.ts';
export * from './topics.ts';
