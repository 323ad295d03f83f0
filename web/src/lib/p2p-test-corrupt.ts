// TEST-ONLY hook, compiled in only by `npm run build:test-hooks` (`__FLOTILLA_TEST_HOOKS__`) and
// loaded only when `corruptUploadsRequested()`: a segment storage for
// p2p-media-loader that hands damaged copies of segments to the upload path, so the browser tests
// can check that the other viewers detect bad peer data (their SHA-256 check) and still play.
// It only changes what this viewer *sends*: its own player reads the real bytes.
//
// p2p-media-loader has no upload hook. Both readers of the storage call `getSegmentData`, but the
// player's path (HybridLoader.loadSegment) always calls `hasSegment` for the same segment
// synchronously just before, while the upload path (P2PLoader.onSegmentRequested) does not: a
// read right after `hasSegment` of the same key gets the true bytes, any other read a damaged copy.

import type { SegmentStorage } from 'p2p-media-loader-core';

interface Stored {
  data: ArrayBuffer;
  startTime: number;
}

function damaged(data: ArrayBuffer): ArrayBuffer {
  const copy = new Uint8Array(data.slice(0));
  for (let i = 0; i < copy.length; i += 997) copy[i] = (copy[i] ?? 0) ^ 0xff;
  return copy.buffer;
}

export class CorruptingUploadStorage implements SegmentStorage {
  private segments = new Map<string, Map<number, Stored>>();
  private playbackRead: string | null = null;
  private onChange: ((streamId: string) => void) | null = null;

  async initialize(): Promise<void> {}

  onPlaybackUpdated(): void {}

  onSegmentRequested(): void {}

  async storeSegment(_swarmId: string, streamId: string, segmentId: number, data: ArrayBuffer, startTime: number): Promise<void> {
    let stream = this.segments.get(streamId);
    if (!stream) {
      stream = new Map();
      this.segments.set(streamId, stream);
    }
    stream.set(segmentId, { data, startTime });
    this.onChange?.(streamId);
  }

  async getSegmentData(_swarmId: string, streamId: string, segmentId: number): Promise<ArrayBuffer | undefined> {
    const key = `${streamId}|${segmentId}`;
    const forPlayer = this.playbackRead === key;
    this.playbackRead = null;
    const stored = this.segments.get(streamId)?.get(segmentId);
    if (!stored) return undefined;
    return forPlayer ? stored.data : damaged(stored.data);
  }

  getUsage() {
    let used = 0;
    for (const stream of this.segments.values()) for (const s of stream.values()) used += s.data.byteLength;
    return { totalCapacity: 1024 * 1024 * 1024, usedCapacity: used };
  }

  hasSegment(_swarmId: string, streamId: string, segmentId: number): boolean {
    this.playbackRead = `${streamId}|${segmentId}`;
    return this.segments.get(streamId)?.has(segmentId) ?? false;
  }

  getStoredSegmentIds(_swarmId: string, streamId: string): number[] {
    return [...(this.segments.get(streamId)?.keys() ?? [])];
  }

  setSegmentChangeCallback(callback: (streamId: string) => void): void {
    this.onChange = callback;
  }

  destroy(): void {
    this.segments.clear();
    this.onChange = null;
  }
}
