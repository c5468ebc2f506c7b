/**
 * The official images the container provider runs, by their exact public tags: with internet
 * access they are Docker Hub's images; offline, docker/stand-ins/build.sh builds local stand-ins
 * under the same tags (same paths, users, entrypoints and variables), so nothing here changes.
 */
export const IMAGES = {
  redis: 'redis:7-bookworm',
  mariadb: 'mariadb:10.11',
  mosquitto: 'eclipse-mosquitto:2',
} as const;
