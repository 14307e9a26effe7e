/**
 * The fuzzer's seeded pseudo-random numbers: xoshiro128** seeded by splitmix32, so a campaign
 * seed and a case index give the same case on every machine (`caseRandom(seed, index)`).
 */

/** 32-bit splitmix step, to spread a seed over the generator's state. */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Random {
  private s: Uint32Array;

  constructor(seed: number, stream = 0) {
    const state = { x: (seed ^ Math.imul(stream + 1, 0x632be5ab)) | 0 };
    this.s = new Uint32Array([splitmix32(state), splitmix32(state), splitmix32(state), splitmix32(state)]);
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 2 ** 32;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T {
    const total = items.reduce((sum, [w]) => sum + w, 0);
    let x = this.float() * total;
    for (const [w, value] of items) {
      if ((x -= w) < 0) return value;
    }
    return items[items.length - 1][1];
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The generator of case `index` of the campaign `seed`: independent of every other case. */
export function caseRandom(seed: number, index: number): Random {
  return new Random(seed, index);
}

/** A fresh campaign seed (printed, so the campaign can be repeated with `--seed`). */
export function randomSeed(): number {
  return (Math.random() * 2 ** 32) >>> 0;
}
