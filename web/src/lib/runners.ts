// What the runners page says about a job offered to remote runners (PeerTube's `RunnerJob`):
// its state, whether it may be cancelled, which video and rendition it makes; and the command
// that starts a runner.

import { RunnerJobState, type RunnerJob } from '$lib/api/types';
import { t, type MessageKey } from '$lib/i18n';

/** How often the page asks again while a job of the list is pending or processing. */
export const RUNNER_JOBS_POLL_MS = 3000;

/** Pending or processing: it may be cancelled, and the page keeps asking about it. */
export function jobRunning(job: RunnerJob): boolean {
  return job.state.id === RunnerJobState.Pending || job.state.id === RunnerJobState.Processing;
}

/** The state's name ("Pending", "Cancelled"…), the server's label for one this client does not know. */
export function jobStateLabel(job: RunnerJob): string {
  const known: number[] = Object.values(RunnerJobState);
  return known.includes(job.state.id) ? t(`runners.state.${job.state.id}` as MessageKey) : job.state.label;
}

/** Errored, or its parent did: shown in the danger colour. */
export function jobFailed(job: RunnerJob): boolean {
  return job.state.id === RunnerJobState.Errored || job.state.id === RunnerJobState.ParentErrored;
}

/** The rendition the job makes: "720p", "Audio only" (height 0), or null when its payload names none. */
export function jobResolution(job: RunnerJob): string | null {
  const r = job.payload.output?.resolution;
  if (typeof r !== 'number') return null;
  return r === 0 ? t('runners.audioOnly') : `${r}p`;
}

/** The uuid of the video the job works for, when the server says. */
export function jobVideoUuid(job: RunnerJob): string | null {
  const uuid = job.privatePayload.videoUUID;
  return typeof uuid === 'string' && uuid ? uuid : null;
}

/**
 * The command that starts a runner for this instance. Without a token yet, a placeholder says
 * where it goes; the name is the machine's own (`$(hostname)`), since each runner's must differ.
 */
export function runnerCommand(url: string, token: string | null): string {
  return `flotilla runner --url ${url} --registration-token ${token ?? '<token>'} --name "$(hostname)"`;
}
