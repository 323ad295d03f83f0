// Where a video's files stand while the server makes them (after its file was replaced, or an
// administrator asked for one kind of files again), and a follower that asks `GET /videos/:id`
// every 2 s until the callers' conditions hold. The edit page keeps one follower for its sections.

import { getVideo } from '$lib/api/endpoints';
import { VideoState, type VideoDetails, type VideoFile } from '$lib/api/types';

/** How often a video being processed is asked about. */
export const FOLLOW_MS = 2000;
/** A follower gives up after this long (a job that never ends would otherwise be asked about forever). */
const FOLLOW_LIMIT_MS = 30 * 60 * 1000;

/** The HLS renditions of a video. */
export const hlsFiles = (v: VideoDetails): VideoFile[] => v.streamingPlaylists[0]?.files ?? [];

/** Whether the video has any file to play, HLS or web video. */
export const hasFiles = (v: VideoDetails): boolean => hlsFiles(v).length > 0 || v.files.length > 0;

/** Its transcoding failed: nothing more will come by itself. */
export const processingFailed = (v: VideoDetails): boolean => v.state?.id === VideoState.TranscodingFailed;

/**
 * Being transcoded: waiting for it, or running (`transcodingProgress` under 100; the owner's and
 * moderators' field). A replaced file keeps the video published while it runs, with no files
 * until the first new rendition.
 */
export function transcoding(v: VideoDetails): boolean {
  if (processingFailed(v)) return false;
  if (v.state?.id === VideoState.ToTranscode) return true;
  return v.transcodingProgress != null && v.transcodingProgress < 100;
}

/** Transcoded through, with files again: what a replacement or a new HLS ladder waits for. */
export const transcoded = (v: VideoDetails): boolean => !transcoding(v) && hasFiles(v);

/** The percentage to show while it is transcoded, or null when the server has not said. */
export function transcodingPercent(v: VideoDetails): number | null {
  return v.transcodingProgress == null ? null : Math.max(0, Math.min(100, Math.round(v.transcodingProgress)));
}

/**
 * Asks for one video every FOLLOW_MS while something waits for it: each caller of `until` gives
 * a condition (transcoded again, web videos back…), and the asking stops once every condition
 * held for an answer, or the transcoding failed, or `stop()`. A new condition asks at once. A
 * failed request is tried again at the next tick.
 */
export class VideoFollower {
  private readonly id: string;
  private readonly onvideo: (v: VideoDetails) => void;
  private readonly waiting = new Set<(v: VideoDetails) => boolean>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private deadline = 0;
  private stopped = false;
  /** Counts the runs of tick(): an answer to an older run is dropped. */
  private run = 0;

  constructor(id: string, onvideo: (v: VideoDetails) => void) {
    this.id = id;
    this.onvideo = onvideo;
  }

  /** Follows the video until `condition` holds (with the conditions given before). */
  until(condition: (v: VideoDetails) => boolean): void {
    if (this.stopped) return;
    this.waiting.add(condition);
    this.deadline = Date.now() + FOLLOW_LIMIT_MS;
    clearTimeout(this.timer);
    void this.tick(++this.run);
  }

  stop(): void {
    this.stopped = true;
    this.waiting.clear();
    clearTimeout(this.timer);
  }

  private async tick(run: number): Promise<void> {
    try {
      const v = await getVideo(this.id);
      if (this.stopped || run !== this.run) return;
      this.onvideo(v);
      for (const c of this.waiting) if (c(v)) this.waiting.delete(c);
      if (processingFailed(v)) this.waiting.clear();
    } catch {
      if (this.stopped || run !== this.run) return;
    }
    if (this.waiting.size > 0 && Date.now() < this.deadline) this.timer = setTimeout(() => void this.tick(run), FOLLOW_MS);
  }
}
