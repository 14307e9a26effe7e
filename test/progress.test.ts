import { describe, expect, it } from 'vitest';

import { createProgress, type ProgressStream } from '../lib/progress.js';

/** A stream that records what is written, posing as a terminal or not. */
function fakeStream(tty: boolean, columns = 120): ProgressStream & { output: string[] } {
  const output: string[] = [];
  return { isTTY: tty, columns, output, write: (chunk: string) => output.push(chunk) };
}

/** A manual clock in milliseconds. */
function fakeClock(start = 1_000_000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => (time += ms) };
}

describe('createProgress on a non-TTY stream', () => {
  it('writes plain lines at most once per interval, and a final line', () => {
    const stream = fakeStream(false);
    const clock = fakeClock();
    const progress = createProgress({ total: 40, label: 'train', stream, now: clock.now, intervalMs: 10_000 });

    clock.advance(1_000);
    progress.update(4);
    expect(stream.output).toEqual([]); // less than one interval since the start

    clock.advance(9_000);
    progress.update(10, { loss: 0.693147, lr: 2e-5 });
    expect(stream.output).toEqual(['train 10/40 25% 1.0it/s ETA 0:30 loss=0.6931 lr=2.0e-05\n']);

    clock.advance(5_000);
    progress.tick(5);
    expect(stream.output).toHaveLength(1); // throttled

    clock.advance(5_000);
    progress.tick();
    expect(stream.output[1]).toBe('train 16/40 40% 0.8it/s ETA 0:30 loss=0.6931 lr=2.0e-05\n');

    clock.advance(4_000);
    progress.finish({ loss: 0.5 });
    expect(stream.output[2]).toBe('train 16/40 40% 0.7it/s ETA 0:36 loss=0.5000\n');
    expect(stream.output.every((line) => !line.includes('\r') && !line.includes('\x1b'))).toBe(true);

    progress.update(40);
    progress.finish();
    expect(stream.output).toHaveLength(3); // ignored after finish
  });

  it('uses the default 10 s interval and shows byte counts in the unit of the total', () => {
    const stream = fakeStream(false);
    const clock = fakeClock();
    const progress = createProgress({
      total: 90_900_000,
      label: 'model.safetensors',
      unit: 'bytes',
      stream,
      now: clock.now,
    });
    clock.advance(9_999);
    progress.update(10_000_000);
    expect(stream.output).toEqual([]);
    clock.advance(1);
    progress.update(12_300_000);
    expect(stream.output).toEqual(['model.safetensors 12.3/90.9 MB 13% 1.2 MB/s ETA 1:04\n']);
  });

  it('excludes the initial count of a resumed download from the rate', () => {
    const stream = fakeStream(false);
    const clock = fakeClock();
    const progress = createProgress({ total: 2_000, initial: 1_000, unit: 'bytes', stream, now: clock.now });
    clock.advance(2_000);
    progress.finish();
    expect(stream.output).toEqual(['1.0/2.0 kB 50%\n']); // nothing new downloaded: no rate, no ETA
  });

  it('prints a count without bar or percentage when the total is unknown', () => {
    const stream = fakeStream(false);
    const clock = fakeClock();
    const progress = createProgress({ total: 0, unit: 'pairs', stream, now: clock.now });
    clock.advance(2_000);
    progress.update(500);
    progress.finish();
    expect(stream.output).toEqual(['500 pairs 250pairs/s\n']);
  });
});

describe('createProgress on a TTY', () => {
  it('redraws one line in place, throttled, and ends it on finish', () => {
    const stream = fakeStream(true);
    const clock = fakeClock();
    const progress = createProgress({ total: 40, label: 'epoch 1', stream, now: clock.now });

    clock.advance(4_000);
    progress.update(12, { loss: 0.6931 });
    expect(stream.output).toEqual(['\repoch 1 [######--------------] 12/40 30% 3.0it/s ETA 0:09 loss=0.6931\x1b[K']);

    clock.advance(50);
    progress.tick();
    expect(stream.output).toHaveLength(1); // redraws are limited to ~10 per second

    clock.advance(50);
    progress.tick();
    expect(stream.output[1]).toMatch(/^\repoch 1 \[#######-------------\] 14\/40 35% /);

    progress.finish();
    const last = stream.output.at(-1)!;
    expect(last.startsWith('\r')).toBe(true);
    expect(last.endsWith('\x1b[K\n')).toBe(true);
    expect(stream.output.slice(0, -1).every((chunk) => !chunk.includes('\n'))).toBe(true);
  });

  it('cuts the line to the terminal width so it never wraps', () => {
    const stream = fakeStream(true, 30);
    const progress = createProgress({ total: 10, label: 'a-rather-long-label', stream, now: fakeClock().now });
    progress.update(5, { loss: 1.25 });
    const line = stream.output[0]!.replace('\r', '').replace('\x1b[K', '');
    expect(line).toBe('a-rather-long-label [##########'.slice(0, 29));
  });

  it('shows 100% and a full bar when finished at the total', () => {
    const stream = fakeStream(true);
    const clock = fakeClock();
    const progress = createProgress({ total: 3, stream, now: clock.now });
    clock.advance(1_500);
    progress.update(3);
    progress.finish();
    expect(stream.output.at(-1)).toBe('\r[####################] 3/3 100% 2.0it/s\x1b[K\n');
  });
});

describe('createProgress disabled', () => {
  it('writes nothing at all', () => {
    const stream = fakeStream(true);
    const progress = createProgress({ total: 10, stream, enabled: false });
    progress.update(3);
    progress.tick();
    progress.finish();
    expect(stream.output).toEqual([]);
  });
});
