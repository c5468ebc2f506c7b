import { InitialSchema1767225600000 } from './1767225600000-initial-schema.ts';
import { WebAdminUsers1767312000000 } from './1767312000000-web-admin-users.ts';

/** Every migration, oldest first. A new one is appended here and never edits an older one. */
export const MIGRATIONS = [InitialSchema1767225600000, WebAdminUsers1767312000000];
