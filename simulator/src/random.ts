/** A small seeded PRNG (mulberry32), so simulated noise and bounce are reproducible per seed. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Approximately standard normal (sum of uniforms), for sensor noise. */
  gaussian(): number;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    gaussian: () => {
      let sum = 0;
      for (let i = 0; i < 6; i++) sum += next();
      // Six uniforms sum to mean 3, variance 0.5; scale to unit variance.
      return (sum - 3) / Math.SQRT1_2;
    },
  };
}
