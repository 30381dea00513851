import { canaryWeight } from '../../../src/canary/weight.js';

describe('canaryWeight: the canary pods beside S stable ones that come nearest a step weight', () => {
  // [stable S, asked weight w, canary pods c, the weight the Service gives them]
  test.each([
    [2, 10, 1, 33.3], // 2 stable pods: 1 canary is a third of the traffic, the least there is
    [2, 50, 2, 50],
    [2, 60, 3, 60],
    [3, 10, 1, 25],
    [4, 20, 1, 20],
    [9, 10, 1, 10], // 10% needs 9 stable pods
    [10, 10, 1, 9.1],
    [10, 25, 3, 23.1],
    [10, 50, 10, 50],
    [10, 90, 90, 90],
    [1, 1, 1, 50],
    [99, 1, 1, 1],
    [0, 10, 1, 100], // nothing stable: the one canary pod takes it all
    [5, 99, 495, 99],
  ])('S=%i, w=%i%% -> %i canary pods, %f%% of the traffic', (stable, weight, replicas, actualWeight) => {
    expect(canaryWeight(stable, weight)).toEqual({ replicas, actualWeight });
  });

  test('maxReplicas caps stable + canary (the ECI quota, the HPA maximum), never below one canary pod', () => {
    expect(canaryWeight(10, 50, { maxReplicas: 14 })).toEqual({ replicas: 4, actualWeight: 28.6 });
    expect(canaryWeight(10, 50, { maxReplicas: 100 })).toEqual({ replicas: 10, actualWeight: 50 });
    expect(canaryWeight(10, 50, { maxReplicas: 10 })).toEqual({ replicas: 1, actualWeight: 9.1 });
  });

  test('the weight always reported is c/(S+c), rounded to one decimal', () => {
    for (let s = 0; s <= 30; s++) {
      for (let w = 1; w <= 99; w++) {
        const { replicas, actualWeight } = canaryWeight(s, w);
        expect(Number.isInteger(replicas) && replicas >= 1).toBe(true);
        expect(actualWeight).toBe(Math.round((1000 * replicas) / (s + replicas)) / 10);
      }
    }
  });

  test('a weight outside 1-99 or a stable count that is no whole number is a bug of the caller', () => {
    expect(() => canaryWeight(2, 0)).toThrow(/weight/);
    expect(() => canaryWeight(2, 100)).toThrow(/weight/);
    expect(() => canaryWeight(-1, 10)).toThrow(/stable/);
    expect(() => canaryWeight(1.5, 10)).toThrow(/stable/);
  });
});
