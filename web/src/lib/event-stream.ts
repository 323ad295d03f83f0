// Server-sent events read from a fetch() body, for streams that need an Authorization header
// (EventSource cannot send one). The parser follows the HTML standard's "event stream
// interpretation": lines end in CRLF, LF or CR; a blank line dispatches the event; lines starting
// with ':' are comments (keep-alives); `data` lines join with '\n'; an event with no data is not
// dispatched. Kept free of imports so that a unit test can load it alone.

export interface ServerEvent {
  /** The `event:` field, `message` when there was none. */
  event: string;
  data: string;
  /** The `id:` field when the event had one. */
  id?: string;
}

/** Cuts text, fed in chunks as they arrive, into events; a line may span chunks. */
export class EventStreamParser {
  private buffer = '';
  private eventType = '';
  private data: string[] = [];
  private id: string | undefined;
  /** The previous chunk ended in CR: an LF at the start of the next one belongs to it. */
  private pendingCR = false;

  /** Reads `chunk` and returns the events it completed, in order. */
  feed(chunk: string): ServerEvent[] {
    let text = chunk;
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    const events: ServerEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i += 1) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      const line = this.buffer.slice(start, i);
      if (c === '\r') {
        if (i + 1 === this.buffer.length) this.pendingCR = true;
        else if (this.buffer[i + 1] === '\n') i += 1;
      }
      start = i + 1;
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): ServerEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.eventType = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    // `retry` and unknown fields are ignored: reconnecting is the caller's business.
    return null;
  }

  private dispatch(): ServerEvent | null {
    const event: ServerEvent | null =
      this.data.length === 0 ? null : { event: this.eventType || 'message', data: this.data.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}) };
    this.eventType = '';
    this.data = [];
    return event;
  }
}

/**
 * How long to wait before reconnection number `attempt` (0 for the first): 1 s, 2 s, 4 s … up to
 * 60 s, each between half and all of that (jitter, so that clients cut off together do not all
 * come back in the same second).
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(60_000, 1000 * 2 ** Math.max(0, Math.min(attempt, 16)));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
