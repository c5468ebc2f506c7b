export { ComposeProject, type ComposeProjectOptions, containerTierUnavailable, docker, type Leftovers, REPO_ROOT } from './compose-project.ts';
