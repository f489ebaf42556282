// `udevadm monitor --property` prints one block per event: a header line
// (`UDEV  [46.516600] add      /devices/…/usb2/2-1 (usb)`), then KEY=value lines, then a blank
// line. A device can make some of those values say anything (ID_SERIAL comes from its
// firmware), so lines and events are bounded, and a block whose header is not one we know is
// dropped whole rather than guessed at.

/** One event as udev (or the kernel) reported it. */
export interface UdevEvent {
  source: 'UDEV' | 'KERNEL';
  action: string;
  /** The device's path under /sys, as the header gives it. */
  devpath: string;
  subsystem: string;
  properties: ReadonlyMap<string, string>;
}

/** Longest line kept; longer ones are dropped (no property the guard reads comes close). */
export const MAX_MONITOR_LINE = 8192;
/** Most properties kept per event. */
export const MAX_EVENT_PROPERTIES = 256;

const HEADER = /^(UDEV|KERNEL) *\[\d+\.\d+\] +([a-z]+) +(\/\S+) \(([a-z0-9_-]+)\)$/;
const PROPERTY = /^([A-Za-z0-9_.]+)=(.*)$/;

/** Turns the monitor's output, in chunks as they come, into events. */
export class UdevMonitorParser {
  #partial = '';
  /** The current line grew past MAX_MONITOR_LINE: drop it up to its newline. */
  #skippingLine = false;
  #event: {
    header: Omit<UdevEvent, 'properties'>;
    properties: Map<string, string>;
  } | null = null;
  /** The current block's header was not one we know: ignore its lines. */
  #inUnknownBlock = false;
  #onEvent: (event: UdevEvent) => void;
  /** Blocks dropped because their header or a line was not understood. */
  dropped = 0;

  constructor(onEvent: (event: UdevEvent) => void) {
    this.#onEvent = onEvent;
  }

  /** Feeds output text. */
  push(text: string): void {
    let rest = text;
    for (;;) {
      const newline = rest.indexOf('\n');
      if (newline < 0) {
        break;
      }
      const piece = rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      if (this.#skippingLine) {
        this.#skippingLine = false;
        this.#partial = '';
        continue;
      }
      const line = this.#partial + piece;
      this.#partial = '';
      this.#line(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    if (!this.#skippingLine) {
      this.#partial += rest;
      if (this.#partial.length > MAX_MONITOR_LINE) {
        this.#partial = '';
        this.#skippingLine = true;
        this.#dropEvent();
      }
    }
  }

  /** The output ended: an event not yet closed by a blank line is complete now. */
  end(): void {
    if (!this.#skippingLine && this.#partial !== '') {
      this.#line(this.#partial);
    }
    this.#partial = '';
    this.#line('');
  }

  #dropEvent(): void {
    if (this.#event !== null) {
      this.dropped++;
    }
    this.#event = null;
    this.#inUnknownBlock = true;
  }

  #line(line: string): void {
    if (line.length > MAX_MONITOR_LINE) {
      this.#dropEvent();
      return;
    }
    if (line === '') {
      const event = this.#event;
      this.#event = null;
      this.#inUnknownBlock = false;
      if (event !== null) {
        this.#onEvent({ ...event.header, properties: event.properties });
      }
      return;
    }
    if (this.#inUnknownBlock) {
      return;
    }
    const header = HEADER.exec(line);
    if (header !== null) {
      // A header without the blank line before it: the previous block ended anyway.
      this.#line('');
      const [, source, action, devpath, subsystem] = header;
      if (
        (source === 'UDEV' || source === 'KERNEL') &&
        action !== undefined &&
        devpath !== undefined &&
        subsystem !== undefined
      ) {
        this.#event = { header: { source, action, devpath, subsystem }, properties: new Map() };
      }
      return;
    }
    const property = PROPERTY.exec(line);
    if (this.#event === null) {
      // The banner udevadm prints first, or a block whose header we do not know.
      if (property !== null) {
        this.dropped++;
        this.#inUnknownBlock = true;
      }
      return;
    }
    if (property === null || this.#event.properties.size >= MAX_EVENT_PROPERTIES) {
      this.#dropEvent();
      return;
    }
    const [, key, value] = property;
    if (key !== undefined && value !== undefined) {
      this.#event.properties.set(key, value);
    }
  }
}
